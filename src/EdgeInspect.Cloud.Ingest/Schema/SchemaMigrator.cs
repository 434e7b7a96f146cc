using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace EdgeInspect.Cloud.Ingest.Schema;

/// <summary>
/// Applies the SQL files embedded from <c>Schema/Migrations</c> (named <c>NNNN_name.sql</c>) in number order, each in
/// its own transaction with its row in <c>schema_version</c>. A transaction-level advisory lock makes instances that
/// start together wait for each other instead of applying a file twice.
/// </summary>
public static class SchemaMigrator
{
    /// <summary>Arbitrary, fixed: the advisory lock key of the ingest's migrations.</summary>
    private const long LockKey = 0x45_64_67_65_49_6E_67;

    /// <summary>The embedded migrations, as (version, name, sql), in order.</summary>
    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = Load();

    /// <summary>Applies what is missing; returns the versions applied now.</summary>
    public static async Task<IReadOnlyList<int>> MigrateAsync(NpgsqlDataSource db, ILogger? log = null, CancellationToken ct = default)
    {
        log ??= NullLogger.Instance;
        var applied = new List<int>();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using (var create = new NpgsqlCommand(
            "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())", conn))
        {
            await create.ExecuteNonQueryAsync(ct);
        }
        foreach (var (version, name, sql) in Migrations)
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await using (var lk = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({LockKey})", conn, tx)) await lk.ExecuteNonQueryAsync(ct);
            await using (var has = new NpgsqlCommand("SELECT count(*) FROM schema_version WHERE version = @v", conn, tx))
            {
                has.Parameters.AddWithValue("v", version);
                if ((long)(await has.ExecuteScalarAsync(ct))! > 0)
                {
                    await tx.RollbackAsync(ct);
                    continue;
                }
            }
            await using (var run = new NpgsqlCommand(sql, conn, tx)) await run.ExecuteNonQueryAsync(ct);
            await using (var mark = new NpgsqlCommand("INSERT INTO schema_version (version, name) VALUES (@v, @n)", conn, tx))
            {
                mark.Parameters.AddWithValue("v", version);
                mark.Parameters.AddWithValue("n", name);
                await mark.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
            applied.Add(version);
            log.LogInformation("Schema migration {Version} {Name} applied", version, name);
        }
        return applied;
    }

    private static List<(int, string, string)> Load()
    {
        var asm = typeof(SchemaMigrator).Assembly;
        const string marker = ".Schema.Migrations.";
        var list = new List<(int, string, string)>();
        foreach (var resource in asm.GetManifestResourceNames().Where(n => n.Contains(marker, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            var file = resource[(resource.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..^4];
            var cut = file.IndexOf('_', StringComparison.Ordinal);
            if (cut < 1 || !int.TryParse(file[..cut], out var version))
            {
                throw new InvalidOperationException($"migration resource '{resource}' is not named NNNN_name.sql");
            }
            using var stream = asm.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add((version, file[(cut + 1)..], reader.ReadToEnd()));
        }
        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        for (var i = 1; i < list.Count; i++)
        {
            if (list[i].Item1 == list[i - 1].Item1) throw new InvalidOperationException($"two migrations numbered {list[i].Item1}");
        }
        return list;
    }
}
