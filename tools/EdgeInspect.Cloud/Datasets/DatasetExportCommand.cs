using System.Globalization;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Images;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace EdgeInspect.Cloud.Datasets;

/// <summary>The argument side of <c>edgeinspect-cloud dataset export</c>; every refusal names the argument and why.</summary>
public static class DatasetExportCommand
{
    /// <summary>Runs the export; 0 when written, <see cref="CloudCli.BadInput"/> (with one line on stderr) for bad arguments.</summary>
    public static async Task<int> RunAsync(IConfiguration configuration, List<string> args)
    {
        string? since = null, kind = null, outDir = null;
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--since": since = Value(); break;
                case "--kind": kind = Value(); break;
                case "--out": outDir = Value(); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (since is null) throw new ArgumentException("--since is required (a date, a time, or an age such as 7d or 12h)");
        if (outDir is null) throw new ArgumentException("--out DIR is required");
        kind ??= "disagreement";
        var from = ParseSince(since, DateTimeOffset.UtcNow);
        var cs = configuration[$"{IngestOptions.SectionName}:{nameof(IngestOptions.ConnectionString)}"];
        if (string.IsNullOrWhiteSpace(cs)) throw new ArgumentException("Ingest:ConnectionString: required (an Npgsql connection string)");
        var root = configuration[$"{ImageStorageOptions.SectionName}:{nameof(ImageStorageOptions.Root)}"] ?? new ImageStorageOptions().Root;
        await using var db = NpgsqlDataSource.Create(cs);
        var s = await DatasetExport.RunAsync(db, root, from, kind, outDir);
        Console.WriteLine($"dataset: {s.Images} images in {outDir} (train {s.Train}, val {s.Val}, to review {s.Review}); " +
            $"skipped {s.WithoutRecord} without a record yet, {s.Missing} missing under {root}");
        return 0;
    }

    /// <summary>An absolute date or time (UTC unless it says otherwise), or an age before <paramref name="now"/> ("7d", "12h").</summary>
    public static DateTimeOffset ParseSince(string value, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length > 1 && value[^1] is 'd' or 'h' && double.TryParse(value[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            return value[^1] == 'd' ? now.AddDays(-n) : now.AddHours(-n);
        }
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)) return at;
        throw new ArgumentException($"--since '{value}' is neither a date/time (2026-12-01, 2026-12-01T08:00Z) nor an age (7d, 12h)");
    }
}
