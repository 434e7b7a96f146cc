using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>A fact that drives Debian's chromium; reported as skipped, with the reason, where it is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>The browser the tests launch (never downloaded).</summary>
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>Skips when <see cref="ExecutablePath"/> is absent.</summary>
    public ChromiumFactAttribute()
    {
        if (!File.Exists(ExecutablePath)) Skip = $"needs chromium at {ExecutablePath} (apt-get install chromium); absent here";
    }
}
