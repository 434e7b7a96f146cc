using System.Globalization;
using System.Text.Json;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Transfer;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// Verifies, authorizes and dispatches device commands (envelope: <see cref="CommandEnvelope"/>). After
/// <see cref="CommandVerifier"/> (size, JSON, signature, device): command known, the key's role allows it, <c>force</c>
/// only with the override role where the profile allows remote override and with a reason, not expired, not issued in
/// the future, expiry no further than <see cref="CommandOptions.MaxLifetime"/>, not replayed. Every refusal is audited
/// (<c>command-refused</c>) with the verified or claimed key id, never the sender's text; every accepted command is
/// audited (<c>command-accepted</c>) before its handler runs, and that audit is the durable replay record: a processor
/// over the same store reloads the ids still inside their lifetime, so a replay is refused across restarts too.
/// Every exception becomes an <c>internal</c> reply and a log line. Thread-safe.
/// </summary>
public sealed class CommandProcessor
{
    /// <summary>Audit kind of an accepted command (its id in From, the command in To, the expiry in Reason).</summary>
    public const string AcceptedKind = "command-accepted";

    /// <summary>Audit kind of a refused command (the code and reason in Reason).</summary>
    public const string RefusedKind = "command-refused";

    private const string ExpiresPrefix = "expires ";
    // Refusals of commands no listed key signed are audited at most this often per second, so an unauthenticated
    // flood cannot turn into one disk write per message; the rest are counted in the next audited one.
    private const int AnonymousAuditsPerSecond = 20;

    private readonly CommandOptions _options;
    private readonly CommandSecurity _security;
    private readonly TimeProvider _time;
    private readonly IInspectionStore? _store;
    private readonly ILogger _log;
    private readonly CommandVerifier _verifier;
    private readonly ReplayCache _replay;
    private readonly Dictionary<string, (OperatorRole Role, CommandHandler Handler)> _handlers = new(StringComparer.Ordinal);
    private readonly Lock _auditLock = new();
    private long _accepted, _refused, _suppressed, _auditSecond;
    private int _auditsThisSecond;

    /// <summary>
    /// A processor for the device <paramref name="security"/> names. With a <paramref name="store"/>, refusals and
    /// accepted commands are audited there and the replay record is reloaded from it; without one (unit tests) the
    /// replay record lives in memory only.
    /// </summary>
    public CommandProcessor(CommandOptions options, CommandSecurity security, TimeProvider time, IInspectionStore? store = null, ILogger? log = null)
    {
        options.Validate();
        _options = options;
        _security = security;
        _time = time;
        _store = store;
        _log = log ?? NullLogger.Instance;
        _verifier = new CommandVerifier(security, options.MaxPayloadBytes);
        _replay = new ReplayCache(options.MaxReplayEntries, options.ClockSkew);
        if (store is not null) Reload(store);
    }

    /// <summary>The limits.</summary>
    public CommandOptions Options => _options;

    /// <summary>The device's trust settings.</summary>
    public CommandSecurity Security => _security;

    /// <summary>Registered command names.</summary>
    public IReadOnlyCollection<string> Commands => _handlers.Keys;

    /// <summary>Ids remembered against replay, all keys together.</summary>
    public int RememberedIds => _replay.Count;

    /// <summary>Commands answered ok.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Commands answered with an error.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Refusals of unauthenticated commands counted but not audited one by one (see the class summary).</summary>
    public long AuditsSuppressed => Interlocked.Read(ref _suppressed);

    /// <summary>Registers <paramref name="handler"/> for <paramref name="name"/>, run only for keys with at least <paramref name="role"/>.</summary>
    public CommandProcessor Register(string name, OperatorRole role, CommandHandler handler)
    {
        if (!TransferIds.IsValid(name)) throw new ArgumentException($"command name '{name}' is not valid in a topic", nameof(name));
        _handlers[name] = (role, handler);
        return this;
    }

    /// <summary>The checks that need no IO (see <see cref="CommandVerifier"/>); the receive path routes on the result.</summary>
    public VerifiedCommand Verify(string name, ReadOnlyMemory<byte> payload)
    {
        try
        {
            return _verifier.Verify(name, payload);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "command verification failed unexpectedly on cmd/{Name}", name);
            return VerifiedCommand.Refused(TransferIds.IsValid(name) ? name : CommandVerifier.InvalidName, null, CommandErrors.Internal, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>The listed key a payload claims, unverified, to choose its queue (<see cref="CommandVerifier.ClaimedKey"/>).</summary>
    public string? ClaimedKey(ReadOnlySpan<byte> payload) => _verifier.ClaimedKey(payload);

    /// <summary>Verifies and executes one command; never throws except for <paramref name="cancellationToken"/>.</summary>
    public ValueTask<CommandReply> ProcessAsync(string name, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        ExecuteAsync(Verify(name, payload), cancellationToken);

    /// <summary>Authorizes and runs a verified command, audits a refusal; never throws except for <paramref name="cancellationToken"/>.</summary>
    public async ValueTask<CommandReply> ExecuteAsync(VerifiedCommand command, CancellationToken cancellationToken)
    {
        CommandReply reply;
        try
        {
            reply = command.Refusal ?? await RunAsync(command, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "command {Name} {Id} failed", command.Name, command.Id);
            reply = CommandReply.Fail(command.Id, CommandErrors.Internal, $"{ex.GetType().Name}: {FirstLine(ex.Message)}");
        }
        Interlocked.Increment(ref reply.Ok ? ref _accepted : ref _refused);
        if (!reply.Ok) AuditRefusal(command, reply);
        return reply;
    }

    private async ValueTask<CommandReply> RunAsync(VerifiedCommand c, CancellationToken cancellationToken)
    {
        var op = c.Operator!;
        var id = c.Id!;
        if (!_handlers.TryGetValue(c.Name, out var entry))
            return CommandReply.Fail(id, CommandErrors.UnknownCommand, $"unknown command '{c.Name}' (known: {string.Join(", ", _handlers.Keys.Order())})");
        if (op.Role < entry.Role)
            return CommandReply.Fail(id, CommandErrors.Forbidden, $"{c.Name} needs the {Wire(entry.Role)} role; key {op.KeyId[..16]} has {Wire(op.Role)}");
        if (c.Args.TryGetProperty("force", out var force) && force.ValueKind == JsonValueKind.True)
        {
            if (op.Role < OperatorRole.Override)
                return CommandReply.Fail(id, CommandErrors.Forbidden, $"force needs the override role; key {op.KeyId[..16]} has {Wire(op.Role)}");
            if (!_security.AllowRemoteOverride)
                return CommandReply.Fail(id, CommandErrors.OverrideDisabled, "this device does not allow a remote force (Fleet:AllowRemoteOverride is off)");
            if (!c.Args.TryGetProperty("reason", out var why) || why.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(why.GetString()))
                return CommandReply.Fail(id, CommandErrors.BadArgs, "force needs a reason (args.reason)");
        }

        var now = _time.GetUtcNow();
        if (c.ExpiresAt + _options.ClockSkew < now)
            return CommandReply.Fail(id, CommandErrors.Expired, $"command expired at {c.ExpiresAt:O}, device time is {now:O}");
        if (c.ExpiresAt - now > _options.MaxLifetime + _options.ClockSkew)
            return CommandReply.Fail(id, CommandErrors.Schema, $"expiresAt is more than {_options.MaxLifetime} ahead; replay protection needs a short expiry");
        if (c.IssuedAt - now > _options.ClockSkew)
            return CommandReply.Fail(id, CommandErrors.Schema, $"issuedAt {c.IssuedAt:O} is in the future (device time {now:O})");
        switch (_replay.TryAdd(op.KeyId, id, c.ExpiresAt, now))
        {
            case ReplayCache.Outcome.Replayed:
                return CommandReply.Fail(id, CommandErrors.Replayed, $"command id '{id}' was already received");
            case ReplayCache.Outcome.Full:
                return CommandReply.Fail(id, CommandErrors.Busy, $"key {op.KeyId[..16]} sent more than {_options.MaxReplayEntries} commands inside one lifetime; retry later");
        }
        // Durable before the handler runs: once a command may have acted, its id survives a restart.
        _store?.AppendAudit(new AuditEvent(now, AcceptedKind, op.Actor, "mqtt", id, c.Name,
            ExpiresPrefix + c.ExpiresAt.ToString("O", CultureInfo.InvariantCulture)));

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_options.HandlerTimeout);
        try
        {
            var result = await entry.Handler(new CommandContext(c.Name, id, c.Args, op.Actor, op.Role), cts.Token);
            return new CommandReply(id, true, null, null, result);
        }
        catch (CommandException ex)
        {
            return CommandReply.Fail(id, ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CommandReply.Fail(id, CommandErrors.Timeout, $"command '{c.Name}' took longer than {_options.HandlerTimeout}");
        }
    }

    private void AuditRefusal(VerifiedCommand c, CommandReply reply)
    {
        if (_store is null) return;
        var suppressed = 0L;
        if (c.Operator is null)
        {
            lock (_auditLock)
            {
                var second = _time.GetUtcNow().ToUnixTimeSeconds();
                if (second != _auditSecond) (_auditSecond, _auditsThisSecond) = (second, 0);
                if (++_auditsThisSecond > AnonymousAuditsPerSecond)
                {
                    Interlocked.Increment(ref _suppressed);
                    return;
                }
                suppressed = Interlocked.Exchange(ref _suppressed, 0);
            }
        }
        try
        {
            var more = suppressed > 0 ? $" (+{suppressed} unauthenticated refusals not audited one by one)" : "";
            _store.AppendAudit(new AuditEvent(_time.GetUtcNow(), RefusedKind, c.Actor, "mqtt", c.Id, c.Name, $"{reply.Error}: {reply.Reason}{more}"));
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "command refusal could not be audited ({Error})", reply.Error);
        }
        _log.Log(c.Operator is null ? LogLevel.Debug : LogLevel.Information, "command {Name} refused ({Error}) for {Actor}: {Reason}",
            c.Name, reply.Error, c.Actor, reply.Reason);
    }

    private void Reload(IInspectionStore store)
    {
        var now = _time.GetUtcNow();
        foreach (var e in store.AuditEvents(now - _options.MaxLifetime - _options.ClockSkew - _options.ClockSkew))
        {
            if (e.Kind != AcceptedKind || e.From is null || OperatorKey.KeyIdOf(e.Actor) is not { } keyId) continue;
            var expiry = e.Reason is { } r && r.StartsWith(ExpiresPrefix, StringComparison.Ordinal)
                && DateTimeOffset.TryParse(r[ExpiresPrefix.Length..], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var x)
                ? x
                : e.At + _options.MaxLifetime + _options.ClockSkew;
            if (expiry + _options.ClockSkew >= now) _replay.TryAdd(keyId, e.From, expiry, now, force: true);
        }
    }

    private static string Wire(OperatorRole role) => role.ToString().ToLowerInvariant();

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }
}
