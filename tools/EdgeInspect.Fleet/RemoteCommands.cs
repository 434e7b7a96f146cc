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
/// MQTT verbs: push, mode, status, promote, rollback, report. Each takes --broker (and the TLS options of
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
                var a = args(r);
                ECDsa signer;
                try
                {
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
                        var reply = await requests.SendAsync(d, verb == "mode" ? "set-mode" : verb == "report" ? "shadow-report" : verb, a,
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

        var archive = new Argument<string>("archive") { Description = "Package archive from pack" };
        var chunk = new Option<int>("--chunk-size") { Description = "Chunk bytes", DefaultValueFactory = _ => 128 * 1024 };
        var rollback = new Option<bool>("--rollback") { Description = "Explicit rollback: allow a lower version" };
        var push = new Command("push", "Send a package to one or more devices, with progress") { archive, prefix, devices, timeout, chunk, rollback };
        broker.AddTo(push);
        push.SetAction((r, ct) => RunAsync(r, error, async (client, requests) =>
        {
            var path = r.GetValue(archive)!;
            if (!File.Exists(path)) throw new UsageException($"{path}: archive not found");
            var id = TransferIds.IsValid(Path.GetFileNameWithoutExtension(path)) ? Path.GetFileNameWithoutExtension(path) : "package";
            using var sender = new PackageSender(id, path, r.GetValue(chunk), r.GetValue(rollback));
            var pusher = new FleetPackagePusher(client, requests, r.GetValue(prefix)!);
            var rc = FleetExitCodes.Ok;
            foreach (var d in r.GetValue(devices)!)
            {
                var progress = new Progress<PushProgress>(p => error.Write($"\r{d}: {p.Sent}/{p.ToSend} chunks (of {p.Total})"));
                var reply = await pusher.PushAsync(d, sender, TimeSpan.FromSeconds(r.GetValue(timeout)), progress, ct);
                error.WriteLine();
                output.WriteLine(reply.Ok ? $"{d,-16} installed {reply.Result?.ToJsonString(Pretty)}" : $"{d,-16} refused ({reply.Error}) {reply.Reason}");
                if (!reply.Ok) rc = FleetExitCodes.Refused;
            }
            return rc;
        }, broker, prefix, ct));
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
