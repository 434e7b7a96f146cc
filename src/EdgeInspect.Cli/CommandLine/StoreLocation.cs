using System.CommandLine;
using EdgeInspect.Storage.LiteDb;

namespace EdgeInspect.Cli.CommandLine;

/// <summary>
/// Where a store verb finds the local store, the same for every verb that reads one: --db PATH when given, else
/// the Store:Path of the --profile (default dev). A verb adds <see cref="DbOption"/> and
/// <see cref="ProfileOption.Create"/>, then calls <see cref="Resolve"/>.
/// </summary>
internal static class StoreLocation
{
    /// <summary>The --db option's name.</summary>
    public const string DbName = "--db";

    /// <summary>A new --db option: an explicit store file that overrides the profile's Store:Path.</summary>
    public static Option<string?> DbOption() => new(DbName) { Description = "LiteDB store file (overrides the profile's Store:Path)" };

    /// <summary>
    /// The store file's full path. With <paramref name="mustExist"/>, a store that is not there yet is a
    /// <see cref="CliException"/> naming the option or key it came from (exit 2).
    /// </summary>
    public static string Resolve(ParseResult parse, bool mustExist = true)
    {
        ArgumentNullException.ThrowIfNull(parse);
        string path;
        string from;
        if (parse.GetValue<string?>(DbName) is { Length: > 0 } db)
        {
            path = db;
            from = DbName;
        }
        else
        {
            path = ProfileOption.Load(parse).Section<StoreOptions>(StoreOptions.SectionName).Path;
            from = $"{Path.GetFileName(ProfileOption.FilePath(parse))}: Store:Path";
        }
        path = Path.GetFullPath(path);
        if (mustExist && !File.Exists(path)) throw new CliException($"{from}: no store at {path} yet (run `edgeinspect run` first)");
        return path;
    }
}
