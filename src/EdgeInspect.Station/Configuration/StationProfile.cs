using System.Text.Json;
using EdgeInspect.Core.Automation;
using Microsoft.Extensions.Configuration;

namespace EdgeInspect.Station.Configuration;

/// <summary>
/// A device-config profile (device-config/NAME.json), read once as configuration: the station host binds its typed
/// sections from <see cref="Configuration"/>, and verbs that only need a section (the store path) read it from here.
/// </summary>
public sealed class StationProfile
{
    private StationProfile(string path, IConfigurationRoot configuration)
    {
        FilePath = path;
        Configuration = configuration;
    }

    /// <summary>The profile file, absolute.</summary>
    public string FilePath { get; }

    /// <summary>The profile's contents as configuration (comments and trailing commas allowed).</summary>
    public IConfigurationRoot Configuration { get; }

    /// <summary>The "Device" section.</summary>
    public DeviceOptions Device => Section<DeviceOptions>(DeviceOptions.SectionName);

    /// <summary>Binds one section to a new <typeparamref name="T"/> (defaults where the profile is silent).</summary>
    public T Section<T>(string name) where T : new()
    {
        try { return Configuration.GetSection(name).Get<T>() ?? new T(); }
        catch (InvalidOperationException e) { throw new ConfigValueException($"{Path.GetFileName(FilePath)}: {name}", e.Message); }
    }

    /// <summary>The file a profile name or path refers to (device-config/NAME.json under <paramref name="configRoot"/>, or the path).</summary>
    public static string ResolvePath(string nameOrPath, string configRoot) =>
        File.Exists(nameOrPath) ? nameOrPath : Path.Combine(configRoot, nameOrPath + ".json");

    /// <summary>
    /// Reads a profile by name or path and validates the station's own sections (Device, Source, HumanInspector,
    /// Automation, Model, Gpio). Throws <see cref="ConfigValueException"/> naming the file and key.
    /// </summary>
    public static StationProfile Load(string nameOrPath, string configRoot)
    {
        string path = ResolvePath(nameOrPath, configRoot);
        if (!File.Exists(path)) throw new ConfigValueException("--profile", $"no profile '{nameOrPath}' (looked for {path})");
        path = Path.GetFullPath(path);
        IConfigurationRoot configuration;
        try { configuration = new ConfigurationBuilder().AddJsonFile(path, optional: false, reloadOnChange: false).Build(); }
        catch (InvalidDataException e) { throw new ConfigValueException(path, "invalid JSON: " + FirstLine(e.InnerException?.Message ?? e.Message)); }
        catch (FormatException e) { throw new ConfigValueException(path, "invalid JSON: " + FirstLine(e.InnerException?.Message ?? e.Message)); }
        catch (JsonException e) { throw new ConfigValueException(path, "invalid JSON: " + FirstLine(e.Message)); }
        var profile = new StationProfile(path, configuration);
        try { profile.Validate(); }
        catch (ConfigValueException e) { throw new ConfigValueException($"{Path.GetFileName(path)}: {e.Key}", e.Reason); }
        return profile;
    }

    /// <summary>Validates every station section; the first bad key throws.</summary>
    public void Validate()
    {
        Section<DeviceOptions>(DeviceOptions.SectionName).Validate();
        Section<SourceOptions>(SourceOptions.SectionName).Validate();
        Section<HumanVerdictOptions>(HumanVerdictOptions.SectionName).Validate(Section<SourceOptions>(SourceOptions.SectionName));
        Section<AutomationOptions>(AutomationOptions.SectionName).Validate();
        Section<ModelOptions>(ModelOptions.SectionName).Validate();
        Section<GpioOptions>(GpioOptions.SectionName).Validate();
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
