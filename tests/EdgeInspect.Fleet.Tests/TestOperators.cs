using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Fleet.Commands;

namespace EdgeInspect.Fleet.Tests;

/// <summary>
/// Three operator keys, one per role, as a device lists them (<see cref="OperatorKeys"/>), and the signing the fleet
/// tool does (<see cref="CommandEnvelope.Sign"/>).
/// </summary>
internal sealed class TestOperators : IDisposable
{
    public ECDsa Observer { get; } = PackageKeys.Create();
    public ECDsa Operator { get; } = PackageKeys.Create();
    public ECDsa Override { get; } = PackageKeys.Create();

    /// <summary>The device's view: the three public keys with their roles ("observer", "operator", "overrider").</summary>
    public OperatorKeys Keys() => new(
    [
        Public(Observer, OperatorRole.Observe, "observer"),
        Public(Operator, OperatorRole.Operate, "operator"),
        Public(Override, OperatorRole.Override, "overrider"),
    ]);

    public CommandSecurity Security(string deviceId, bool allowRemoteOverride = false) => new(deviceId, Keys(), allowRemoteOverride);

    public static OperatorKey Public(ECDsa key, OperatorRole role, string? name = null)
    {
        var pub = ECDsa.Create();
        pub.ImportSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo(), out _);
        return new OperatorKey(PackageKeys.KeyId(key), role, name, pub);
    }

    public static string KeyId(ECDsa key) => PackageKeys.KeyId(key);

    /// <summary>A signed command issued a minute before <paramref name="expires"/>, or now if that is earlier, unless given.</summary>
    public static byte[] Sign(ECDsa key, string deviceId, string command, string id, DateTimeOffset expires, JsonObject? args = null, DateTimeOffset? issued = null)
    {
        var minuteBefore = expires.AddMinutes(-1);
        var now = DateTimeOffset.UtcNow;
        return CommandEnvelope.Sign(key, deviceId, command, id, issued ?? (minuteBefore < now ? minuteBefore : now), expires, args);
    }

    public void Dispose()
    {
        Observer.Dispose();
        Operator.Dispose();
        Override.Dispose();
    }
}
