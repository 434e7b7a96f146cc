using System.Text.Json;
using EdgeInspect.Core.Domain;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Automation;

public sealed record ModeRequest(string Id, string Mode, string Reason, bool Force, string Actor);
public sealed record ModeReply(string Id, bool Changed, string From, string To, string Reason);

/// <summary>
/// How `edgeinspect mode set` reaches a running service. The service holds the LiteDB file exclusively (its
/// durability depends on one writer), so the CLI cannot write the store while the service runs. Instead it drops
/// a request file into a control folder beside the store (written to a temp name, then renamed: a reader never
/// sees half a file); the service polls the folder, applies the request through <see cref="ModeController"/>
/// (gate, persistence, audit: one code path for every source) and writes a reply file the CLI waits for.
/// Polling over FileSystemWatcher because inotify events are lost on some overlay/SD-card setups; a 500 ms poll
/// costs nothing. When no service runs, the CLI opens the store itself and calls the same controller.
/// </summary>
public sealed class ModeControlFolder(string folder, ModeController modes, TimeProvider time, ILogger<ModeControlFolder> log) : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    public static string RequestPath(string folder, string id) => Path.Combine(folder, id + ".request.json");
    public static string ReplyPath(string folder, string id) => Path.Combine(folder, id + ".reply.json");

    public static void WriteRequest(string folder, ModeRequest request)
    {
        Directory.CreateDirectory(folder);
        string tmp = Path.Combine(folder, request.Id + ".tmp");
        File.WriteAllText(tmp, JsonSerializer.Serialize(request));
        File.Move(tmp, RequestPath(folder, request.Id), overwrite: true);
    }

    /// <summary>Applies every pending request once; returns how many were handled.</summary>
    public int PollOnce()
    {
        if (!Directory.Exists(folder)) return 0;
        int handled = 0;
        foreach (var path in Directory.EnumerateFiles(folder, "*.request.json").Order(StringComparer.Ordinal))
        {
            ModeRequest? req;
            try { req = JsonSerializer.Deserialize<ModeRequest>(File.ReadAllText(path)); }
            catch (Exception e) when (e is JsonException or IOException) { log.LogWarning("bad mode request {Path}: {Error}", path, e.Message); File.Delete(path); continue; }
            if (req is null) { File.Delete(path); continue; }
            ModeReply reply;
            if (!AutomationModes.TryParse(req.Mode, out var to))
                reply = new ModeReply(req.Id, false, modes.Current.ToWire(), req.Mode, $"unknown mode '{req.Mode}'");
            else
            {
                var r = modes.TrySetMode(to, req.Actor, "cli", req.Reason, req.Force);
                reply = new ModeReply(req.Id, r.Changed, r.From.ToWire(), r.To.ToWire(), r.Reason);
            }
            string tmp = Path.Combine(folder, req.Id + ".reply.tmp");
            File.WriteAllText(tmp, JsonSerializer.Serialize(reply));
            File.Move(tmp, ReplyPath(folder, req.Id), overwrite: true);
            File.Delete(path);
            handled++;
        }
        return handled;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Directory.CreateDirectory(folder);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                PollOnce();
                await Task.Delay(PollInterval, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }
}
