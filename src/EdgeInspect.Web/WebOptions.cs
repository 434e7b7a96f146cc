using EdgeInspect.Core.Automation;

namespace EdgeInspect.Web;

/// <summary>The device config's "Web" section: the technician's page and /metrics.</summary>
public sealed class WebOptions
{
    /// <summary>The section name in the device config.</summary>
    public const string SectionName = "Web";

    /// <summary>Whether the station serves the page at all (off unless a profile turns it on).</summary>
    public bool Enabled { get; set; }

    /// <summary>Where Kestrel listens, separated by ';' (for example <c>http://127.0.0.1:8080</c>; port 0 picks a free one).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8080";

    /// <summary>Accounts allowed to change the mode; none = the page is read-only.</summary>
    public List<TechnicianAccount> Technicians { get; set; } = [];

    /// <summary>Whether a technician may force a mode change past the gate from the page (audited as forced).</summary>
    public bool AllowOverride { get; set; }

    /// <summary>Minutes a login lasts (not sliding: a forgotten phone logs out by itself).</summary>
    public int SessionMinutes { get; set; } = 30;

    /// <summary>At most this many live frames per second are drawn and encoded, off the inspection thread.</summary>
    public double LiveFps { get; set; } = 2;

    /// <summary>JPEG quality of the live frame (1..100).</summary>
    public int JpegQuality { get; set; } = 80;

    /// <summary>/readyz fails when no part was stored for this long (frames are not flowing).</summary>
    public double ReadyMaxPartAgeSeconds { get; set; } = 30;

    /// <summary>Hours of telemetry the health page charts.</summary>
    public double HealthHours { get; set; } = 6;

    /// <summary>Throws a <see cref="ConfigValueException"/> naming the first bad key.</summary>
    public void Validate()
    {
        if (!Enabled) return;
        if (string.IsNullOrWhiteSpace(Urls)) throw new ConfigValueException("Web:Urls", "required when Web:Enabled is true");
        foreach (var url in Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || uri.Scheme is not ("http" or "https"))
                throw new ConfigValueException("Web:Urls", $"'{url}' is not an http(s) URL");
        }
        if (SessionMinutes is < 1 or > 24 * 60) throw new ConfigValueException("Web:SessionMinutes", "must be 1..1440");
        if (LiveFps is <= 0 or > 30 || double.IsNaN(LiveFps)) throw new ConfigValueException("Web:LiveFps", "must be above 0 and at most 30");
        if (JpegQuality is < 1 or > 100) throw new ConfigValueException("Web:JpegQuality", "must be 1..100");
        if (ReadyMaxPartAgeSeconds <= 0) throw new ConfigValueException("Web:ReadyMaxPartAgeSeconds", "must be above 0");
        if (HealthHours is <= 0 or > 24 * 7) throw new ConfigValueException("Web:HealthHours", "must be above 0 and at most 168");
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < Technicians.Count; i++)
        {
            var t = Technicians[i];
            if (string.IsNullOrWhiteSpace(t.Name)) throw new ConfigValueException($"Web:Technicians:{i}:Name", "required");
            if (!names.Add(t.Name)) throw new ConfigValueException($"Web:Technicians:{i}:Name", $"'{t.Name}' is listed twice");
            if (!Security.PasswordHasher.IsWellFormed(t.PasswordHash))
                throw new ConfigValueException($"Web:Technicians:{i}:PasswordHash", $"not a hash in the format {Security.PasswordHasher.FormatDescription}");
        }
    }
}
