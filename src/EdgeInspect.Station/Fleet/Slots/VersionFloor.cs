using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// Anti-rollback: per package name, the highest version ever active on this device, persisted beside the model slots
/// (<c>models/floor.json</c>, written by <see cref="AtomicFile"/>). A lower version may install or be promoted only under
/// a rollback permit (<see cref="RollbackPermits"/>); the device's own retained previous slot is not checked here.
/// A floor file that does not read is never taken as "no floor": the device then refuses every downgrade, permit or
/// not, and holds the floor at the versions still in its slots plus whatever is promoted meanwhile, without
/// overwriting the damaged file (an operator repairs or removes it). Thread-safe.
/// </summary>
public sealed class VersionFloor
{
    /// <summary>The floor file's name inside the models folder.</summary>
    public const string FileName = "floor.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly string _path;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _floors = new(StringComparer.Ordinal);

    /// <summary>Reads the floor file in <paramref name="modelsFolder"/>; a missing file is an empty floor, a damaged one <see cref="Corrupt"/>.</summary>
    public VersionFloor(string modelsFolder, ILogger? log = null)
    {
        _log = log ?? NullLogger.Instance;
        Directory.CreateDirectory(modelsFolder);
        _path = Path.Combine(modelsFolder, FileName);
        if (!File.Exists(_path)) return;
        try
        {
            var read = JsonSerializer.Deserialize<Dictionary<string, long>>(File.ReadAllBytes(_path), Json);
            if (read is null || read.Any(kv => string.IsNullOrEmpty(kv.Key) || kv.Value < 0))
                throw new JsonException("expected an object of package name to non-negative version");
            foreach (var (name, version) in read) _floors[name] = version;
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            CorruptReason = $"{_path}: version floor unreadable ({ex.Message}); every downgrade is refused until it is repaired";
            _log.LogError("{Reason}", CorruptReason);
        }
    }

    /// <summary>The floor file's path.</summary>
    public string FilePath => _path;

    /// <summary>Why the floor file did not read; null when it is sound.</summary>
    public string? CorruptReason { get; }

    /// <summary>True when the floor file did not read (see the class summary).</summary>
    public bool Corrupt => CorruptReason is not null;

    /// <summary>The floor of <paramref name="name"/>, or null when no version of it was ever active.</summary>
    public long? Of(string name)
    {
        lock (_lock) return _floors.TryGetValue(name, out var v) ? v : null;
    }

    /// <summary>
    /// Why <paramref name="version"/> of <paramref name="name"/> may not install or become active; null when it may.
    /// <paramref name="permitted"/>: a rollback permit covers it. <paramref name="slotFloor"/>: the highest version of
    /// that name in the device's slots, the floor when the file is damaged.
    /// </summary>
    public string? Refusal(string name, long version, bool permitted, long? slotFloor)
    {
        if (Corrupt)
        {
            var floor = Math.Max(Of(name) ?? 0, slotFloor ?? 0);
            return version < floor ? $"version {version} of '{name}' is below {floor}, and the version floor file is damaged, so no downgrade is allowed ({CorruptReason})" : null;
        }
        if (Of(name) is not { } f || version >= f || permitted) return null;
        return $"version {version} of '{name}' is below the floor {f} (the highest version ever active here); only a rollback permitted by an override key may go back";
    }

    /// <summary>Raises the floor of <paramref name="name"/> to <paramref name="version"/> (never lowers it) and persists it.</summary>
    public void Raise(string name, long version)
    {
        lock (_lock)
        {
            if (_floors.TryGetValue(name, out var f) && f >= version) return;
            _floors[name] = version;
            if (Corrupt)
            {
                _log.LogError("version floor of '{Name}' raised to {Version} in memory only: {Reason}", name, version, CorruptReason);
                return;
            }
            try
            {
                AtomicFile.Write(_path, JsonSerializer.SerializeToUtf8Bytes(_floors, Json));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The swap that raised the floor has happened; failing it now would leave the station half switched. The
                // floor holds in memory, and at the next start the active slot raises it again.
                _log.LogError(ex, "version floor of '{Name}' raised to {Version} but not persisted to {Path}", name, version, _path);
            }
        }
    }
}
