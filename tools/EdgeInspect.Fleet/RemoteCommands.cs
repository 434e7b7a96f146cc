using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Connection;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Tls;
using EdgeInspect.Fleet.Protocol.Transfer;
using MQTTnet;

namespace EdgeInspect.Fleet;

/// <summary>
/// MQTT verbs: push, mode, status, promote, rollback, report, revoke. Each takes --broker (and the TLS options of
/// <see cref="BrokerConnectionOptions"/>), --prefix and one or more --device; the commands are signed with the operator
/// key given by --key.
/// </summary>
internal static class RemoteCommands
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = false };

    public static IEnumerable<Command> Create(TextWriter output, TextWriter error)
    {
        var broker = new BrokerConnectionOptions();
        var prefix = new Option<string>("--prefix") { Description = "Topic prefix", DefaultValueFactory = _ => "edgeinspect" };
        var devices = new Option<string[]>("--device") { Description = "Device id(s)", Required = true, AllowMultipleArgumentsPerToken = true };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for each reply (also the command's expiry)", DefaultValueFactory = _ => 30 };
        var key = new Option<string>("--key") { Description = "Operator private key PEM (keygen --operator); its role on the device decides what is allowed", Required = true };

        Command Simple(string verb, string description, Func<ParseResult, JsonObject?> args, params Option[] extra)
        {
            var c = new Command(verb, description) { prefix, devices, timeout, key };
            broker.AddTo(c);
            foreach (var o in extra) c.Options.Add(o);
            c.SetAction(async (r, ct) =>
            {
                // Checked before connecting, so a bad invocation fails at once and names what is wrong.
                JsonObject? a;
                ECDsa signer;
                try
                {
                    a = args(r);
                    if (a?["force"]?.GetValue<bool>() == true && string.IsNullOrWhiteSpace(a["reason"]?.GetValue<string>()))
                        throw new UsageException("--force needs --reason (audited on the device)");
                    var keyPath = r.GetValue(key)!;
                    if (!File.Exists(keyPath)) throw new UsageException($"{keyPath}: key file not found");
                    signer = ReadKey(keyPath);
                }
                catch (UsageException ex)
                {
                    error.WriteLine($"error: {ex.Message}");
                    return FleetExitCodes.BadInput;
                }
                using var _ = signer;
                return await RunAsync(r, error, async (client, requests) =>
                {
                    var rc = FleetExitCodes.Ok;
                    var rows = new List<(string Device, CommandReply Reply)>();
                    foreach (var d in r.GetValue(devices)!)
                    {
                        var reply = await requests.SendAsync(d, verb switch { "mode" => "set-mode", "report" => "shadow-report", "revoke" => "revoke-key", _ => verb }, a,
                            TimeSpan.FromSeconds(r.GetValue(timeout)), signer, ct);
                        rows.Add((d, reply));
                        if (!reply.Ok) rc = FleetExitCodes.Refused;
                    }
                    foreach (var (d, reply) in rows)
                        output.WriteLine(reply.Ok ? $"{d,-16} ok    {reply.Result?.ToJsonString(Pretty)}" : $"{d,-16} {reply.Error,-5} {reply.Reason}");
                    return rc;
                }, broker, prefix, ct);
            });
            return c;
        }

        var mode = new Argument<string>("mode") { Description = "human | shadow | assist | partial | full" };
        var reason = new Option<string?>("--reason") { Description = "Why (audited)" };
        var force = new Option<bool>("--force") { Description = "Past the gate (needs --reason, an override key and a device that allows remote override)" };
        var modeCmd = Simple("mode", "Set the automation mode", r => new JsonObject { ["mode"] = r.GetValue(mode), ["reason"] = r.GetValue(reason), ["force"] = r.GetValue(force) }, reason, force);
        modeCmd.Arguments.Add(mode);
        yield return modeCmd;
        yield return Simple("status", "Show each device's status reply", _ => null);
        yield return Simple("promote", "Promote the candidate model now", r => new JsonObject { ["reason"] = r.GetValue(reason), ["force"] = r.GetValue(force) }, reason, force);
        yield return Simple("rollback", "Roll back to the previous model slot", r => new JsonObject { ["reason"] = r.GetValue(reason) }, reason);
        yield return Simple("report", "Fetch shadow reports of several devices side by side", _ => null);

        var revokeId = new Argument<string>("key-id") { Description = "Id of the key to revoke (64 hex characters, as keygen prints it)" };
        var revokeReason = new Option<string>("--reason") { Description = "Why (audited on the device)", Required = true };
        var revokeCmd = Simple("revoke", "Revoke a package or operator key on the devices (needs an override key); persisted across restarts",
            r => KeyRevocations.IsKeyId(r.GetValue(revokeId))
                ? new JsonObject { ["keyId"] = r.GetValue(revokeId), ["reason"] = r.GetValue(revokeReason) }
                : throw new UsageException($"key id '{r.GetValue(revokeId)}' is not 64 lower-case hex characters"), revokeReason);
        revokeCmd.Arguments.Add(revokeId);
        yield return revokeCmd;

        var archive = new Argument<string>("archive") { Description = "Package archive from pack" };
        var chunk = new Option<int>("--chunk-size") { Description = "Chunk bytes", DefaultValueFactory = _ => 128 * 1024 };
        var packageKey = new Option<string>("--key") { Description = "Package private key PEM (the one pack signed with): signs the offer's statement", Required = true };
        var fleet = new Option<string?>("--fleet") { Description = "Sign the statement for this fleet instead of for each device" };
        var rollback = new Option<bool>("--rollback") { Description = "Explicit rollback to a lower version: each device first gets a permit-rollback signed by --operator-key" };
        var operatorKey = new Option<string?>("--operator-key") { Description = "Override operator key PEM for --rollback" };
        var pushReason = new Option<string?>("--reason") { Description = "Why (with --rollback, audited on the device)" };
        var push = new Command("push", "Send a package to one or more devices, with progress")
            { archive, prefix, devices, timeout, chunk, packageKey, fleet, rollback, operatorKey, pushReason };
        broker.AddTo(push);
        push.SetAction(async (r, ct) =>
        {
            ECDsa signer;
            ECDsa? overrider = null;
            try
            {
                if (r.GetValue(rollback) && (r.GetValue(operatorKey) is null || string.IsNullOrWhiteSpace(r.GetValue(pushReason))))
                    throw new UsageException("--rollback needs --operator-key (an override key) and --reason");
                var keyPath = r.GetValue(packageKey)!;
                if (!File.Exists(keyPath)) throw new UsageException($"{keyPath}: key file not found");
                signer = ReadKey(keyPath);
                if (r.GetValue(rollback)) overrider = ReadKey(r.GetValue(operatorKey)!);
            }
            catch (UsageException ex)
            {
                error.WriteLine($"error: {ex.Message}");
                return FleetExitCodes.BadInput;
            }
            using var _ = signer;
            using var __ = overrider;
            return await RunAsync(r, error, async (client, requests) =>
            {
                var path = r.GetValue(archive)!;
                if (!File.Exists(path)) throw new UsageException($"{path}: archive not found");
                var id = TransferIds.IsValid(Path.GetFileNameWithoutExtension(path)) ? Path.GetFileNameWithoutExtension(path) : "package";
                using var sender = new PackageSender(id, path, r.GetValue(chunk), r.GetValue(rollback));
                if (sender.Manifest is null) throw new UsageException($"{path}: no readable manifest.json inside; make the archive with pack");
                var pusher = new FleetPackagePusher(client, requests, r.GetValue(prefix)!, signer, r.GetValue(fleet));
                var wait = TimeSpan.FromSeconds(r.GetValue(timeout));
                var rc = FleetExitCodes.Ok;
                foreach (var d in r.GetValue(devices)!)
                {
                    if (overrider is not null)
                    {
                        var permit = await requests.SendAsync(d, "permit-rollback", new JsonObject
                        {
                            ["model"] = sender.Manifest.Name,
                            ["version"] = sender.Manifest.Version,
                            ["reason"] = r.GetValue(pushReason),
                        }, wait, overrider, ct);
                        if (!permit.Ok)
                        {
                            output.WriteLine($"{d,-16} refused ({permit.Error}) {permit.Reason}");
                            rc = FleetExitCodes.Refused;
                            continue;
                        }
                    }
                    var progress = new Progress<PushProgress>(p => error.Write($"\r{d}: {p.Sent}/{p.ToSend} chunks (of {p.Total})"));
                    var reply = await pusher.PushAsync(d, sender, wait, progress, ct);
                    error.WriteLine();
                    output.WriteLine(reply.Ok ? $"{d,-16} installed {reply.Result?.ToJsonString(Pretty)}" : $"{d,-16} refused ({reply.Error}) {reply.Reason}");
                    if (!reply.Ok) rc = FleetExitCodes.Refused;
                }
                return rc;
            }, broker, prefix, ct);
        });
        yield return push;
    }

    private static ECDsa ReadKey(string path)
    {
        try
        {
            return PackageKeys.ImportPrivatePem(File.ReadAllText(path), path);
        }
        catch (KeyFormatException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    private static async Task<int> RunAsync(ParseResult r, TextWriter error, Func<IMqttClient, FleetCommandClient, Task<int>> body,
        BrokerConnectionOptions brokerOptions, Option<string> prefixOption, CancellationToken ct)
    {
        MqttClientOptions options;
        BrokerTls? tls;
        string broker;
        try
        {
            (options, tls, broker) = brokerOptions.Build(r, "edgeinspect-fleet-" + Guid.NewGuid().ToString("N")[..8]);
        }
        catch (UsageException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            return FleetExitCodes.BadInput;
        }
        using var _ = tls;
        using var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            // A refused CONNECT throws (MqttConnectingFailedException, a communication exception), as a failed TLS handshake does.
            await client.ConnectAsync(options, ct);
            var requests = new FleetCommandClient(client, r.GetValue(prefixOption)!, Guid.NewGuid().ToString("N")[..12], TimeProvider.System);
            await requests.SubscribeAsync(ct);
            return await body(client, requests);
        }
        catch (UsageException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            return FleetExitCodes.BadInput;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or TimeoutException or IOException or System.Security.Authentication.AuthenticationException)
        {
            error.WriteLine($"error: broker {broker}: {ex.Message}");
            return FleetExitCodes.Unreachable;
        }
    }
}
