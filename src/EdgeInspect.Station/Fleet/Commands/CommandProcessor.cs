using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Transfer;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// Validates and dispatches device commands. Envelope (UTF-8 JSON object):
/// <c>{"id": "...", "expiresAt": "2026-11-23T10:00:00Z", "actor": "who", "args": {...}}</c>.
/// Checks, in order, each answered with a reason and never thrown at the caller: size (before parsing), JSON,
/// schema, command known, expiry (not past, not further than <see cref="CommandOptions.MaxLifetime"/>), replay.
/// Ids are remembered until their expiry, which is what bounds the replay cache: an id older than its
/// expiry would be refused as expired anyway. Thread-safe.
/// </summary>
public sealed class CommandProcessor
{
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 16, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };
    private static readonly JsonElement EmptyArgs = JsonDocument.Parse("{}").RootElement.Clone();

    private readonly CommandOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, CommandHandler> _handlers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, DateTimeOffset> _expiries = new();
    private readonly Lock _lock = new();
    private long _accepted, _refused;

    public CommandProcessor(CommandOptions options, TimeProvider time)
    {
        options.Validate();
        _options = options;
        _time = time;
    }

    public CommandOptions Options => _options;

    public IReadOnlyCollection<string> Commands => _handlers.Keys;

    public int RememberedIds { get { lock (_lock) return _seen.Count; } }

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Refused => Interlocked.Read(ref _refused);

    public CommandProcessor Register(string name, CommandHandler handler)
    {
        if (!TransferIdsLike(name)) throw new ArgumentException($"command name '{name}' is not valid in a topic", nameof(name));
        _handlers[name] = handler;
        return this;
    }

    public async ValueTask<CommandReply> ProcessAsync(string name, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var reply = await ProcessCoreAsync(name, payload, cancellationToken);
        Interlocked.Increment(ref reply.Ok ? ref _accepted : ref _refused);
        return reply;
    }

    private async ValueTask<CommandReply> ProcessCoreAsync(string name, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length > _options.MaxPayloadBytes)
            return CommandReply.Fail(null, CommandErrors.TooLarge, $"payload of {payload.Length} bytes is over the limit of {_options.MaxPayloadBytes}");

        // JsonDocument only transcodes strings lazily, so invalid UTF-8 inside a string would surface later as an
        // InvalidOperationException; checking up front keeps CommandErrors.Malformed one clear answer (RFC 8259 section 8.1).
        if (!System.Text.Unicode.Utf8.IsValid(payload.Span))
            return CommandReply.Fail(null, CommandErrors.Malformed, "payload is not valid UTF-8");

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(payload, DocOptions);
        }
        catch (JsonException ex)
        {
            return CommandReply.Fail(null, CommandErrors.Malformed, $"payload is not JSON ({FirstLine(ex.Message)})");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return CommandReply.Fail(null, CommandErrors.Schema, $"payload must be a JSON object, got {root.ValueKind}");
            string? id = null, actor = null;
            DateTimeOffset? expiresAt = null;
            JsonElement args = EmptyArgs;
            foreach (var p in root.EnumerateObject())
            {
                switch (p.Name)
                {
                    case CommandEnvelope.Id:
                        if (p.Value.ValueKind != JsonValueKind.String) return CommandReply.Fail(null, CommandErrors.Schema, "id must be a string");
                        id = p.Value.GetString();
                        break;
                    case CommandEnvelope.ExpiresAt:
                        if (p.Value.ValueKind != JsonValueKind.String || !p.Value.TryGetDateTimeOffset(out var e))
                            return CommandReply.Fail(SafeId(id), CommandErrors.Schema, "expiresAt must be an ISO 8601 date-time string");
                        expiresAt = e;
                        break;
                    case CommandEnvelope.Actor:
                        if (p.Value.ValueKind != JsonValueKind.String || p.Value.GetString() is not { Length: <= 128 })
                            return CommandReply.Fail(SafeId(id), CommandErrors.Schema, "actor must be a string of at most 128 characters");
                        actor = p.Value.GetString();
                        break;
                    case CommandEnvelope.Args:
                        if (p.Value.ValueKind != JsonValueKind.Object) return CommandReply.Fail(SafeId(id), CommandErrors.Schema, "args must be an object");
                        args = p.Value;
                        break;
                    default:
                        return CommandReply.Fail(SafeId(id), CommandErrors.Schema, $"unknown field '{Truncate(p.Name, 40)}'");
                }
            }
            if (id is null) return CommandReply.Fail(null, CommandErrors.Schema, "id is required");
            if (!TransferIdsLike(id)) return CommandReply.Fail(null, CommandErrors.Schema, "id must be 1-64 characters of [A-Za-z0-9._-]");
            if (expiresAt is not { } expiry) return CommandReply.Fail(id, CommandErrors.Schema, "expiresAt is required");
            if (!_handlers.TryGetValue(name, out var handler))
                return CommandReply.Fail(id, CommandErrors.UnknownCommand, $"unknown command '{Truncate(name, 40)}' (known: {string.Join(", ", _handlers.Keys.Order())})");

            var now = _time.GetUtcNow();
            if (expiry + _options.ClockSkew < now)
                return CommandReply.Fail(id, CommandErrors.Expired, $"command expired at {expiry:O}, device time is {now:O}");
            if (expiry - now > _options.MaxLifetime + _options.ClockSkew)
                return CommandReply.Fail(id, CommandErrors.Schema, $"expiresAt is more than {_options.MaxLifetime} ahead; replay protection needs a short expiry");

            lock (_lock)
            {
                while (_expiries.TryPeek(out var oldId, out var oldExpiry) && oldExpiry + _options.ClockSkew < now)
                {
                    _expiries.Dequeue();
                    _seen.Remove(oldId);
                }
                if (_seen.ContainsKey(id)) return CommandReply.Fail(id, CommandErrors.Replayed, $"command id '{id}' was already received");
                if (_seen.Count >= _options.MaxReplayEntries)
                    return CommandReply.Fail(id, CommandErrors.Busy, $"more than {_options.MaxReplayEntries} commands inside one lifetime; retry later");
                _seen[id] = expiry;
                _expiries.Enqueue(id, expiry);
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(_options.HandlerTimeout);
            try
            {
                var result = await handler(new CommandContext(name, id, args, actor ?? "mqtt"), cts.Token);
                return new CommandReply(id, true, null, null, result);
            }
            catch (CommandException ex)
            {
                return CommandReply.Fail(id, ex.Code, ex.Message);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return CommandReply.Fail(id, CommandErrors.Timeout, $"command '{name}' took longer than {_options.HandlerTimeout}");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A handler bug must not take the control plane down; the reply carries the message for the operator.
                return CommandReply.Fail(id, CommandErrors.Internal, $"{ex.GetType().Name}: {FirstLine(ex.Message)}");
            }
        }
    }

    private static string? SafeId(string? id) => id is not null && TransferIdsLike(id) ? id : null;

    internal static bool TransferIdsLike(string? s) => TransferIds.IsValid(s);

    private static string Truncate(string s, int n) => s.Length <= n ? s : s[..n] + "...";

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }
}
