using System.CommandLine;
using EdgeInspect.Core.Automation;
using EdgeInspect.Station.Configuration;

namespace EdgeInspect.Cli.CommandLine;

/// <summary>
/// --profile: the station profile (device-config/NAME.json, or a path), the same for the station verbs and the
/// store verbs. <see cref="Load"/> turns a bad profile into one error line naming the key (exit 2).
/// </summary>
internal static class ProfileOption
{
    /// <summary>The option's name, for <see cref="ParseResult.GetValue{T}(string)"/>.</summary>
    public const string Name = "--profile";

    /// <summary>A new --profile option, default "dev".</summary>
    public static Option<string> Create() =>
        new(Name) { Description = "device-config profile name (device-config/NAME.json) or path", DefaultValueFactory = _ => "dev" };

    /// <summary>
    /// The folder of station profiles: from a clone, the nearest device-config/ walking up from the working folder;
    /// installed, the one beside the binary.
    /// </summary>
    public static string ConfigRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "device-config");
            if (Directory.Exists(candidate)) return candidate;
        }
        return Path.Combine(AppContext.BaseDirectory, "device-config");
    }

    /// <summary>The profile file the parsed --profile names (it may not exist).</summary>
    public static string FilePath(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return StationProfile.ResolvePath(parse.GetValue<string>(Name)!, ConfigRoot());
    }

    /// <summary>Loads and validates the parsed --profile; throws <see cref="CliException"/> naming the key (exit 2).</summary>
    public static StationProfile Load(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        try
        {
            return StationProfile.Load(parse.GetValue<string>(Name)!, ConfigRoot());
        }
        catch (ConfigValueException e)
        {
            throw new CliException($"{e.Key}: {e.Reason}");
        }
    }
}
