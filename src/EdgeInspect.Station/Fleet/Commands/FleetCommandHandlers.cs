using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Io;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// The station's commands and the role each needs: status, shadow-report and rebirth (observe); set-mode, promote and
/// rollback (operate; <c>force</c> past a gate needs override, checked by <see cref="CommandProcessor"/>). Refusals are
/// <see cref="CommandException"/>s, answered with their code.
/// </summary>
public static class FleetCommandHandlers
{
    /// <summary>
    /// Registers every fleet command on <paramref name="processor"/>; rebirth only with a transport that can republish
    /// the status. With a <paramref name="keySwitch"/>, set-mode never goes above its position (key out: never above the
    /// current mode), forced or not.
    /// </summary>
    public static void Register(CommandProcessor processor, FleetAgent agent, ModeController modes,
        Func<CancellationToken, Task<bool>>? rebirth = null, IModeKeyPosition? keySwitch = null)
    {
        processor.Register("set-mode", OperatorRole.Operate, SetMode(modes, keySwitch));
        processor.Register("status", OperatorRole.Observe, (_, _) => ValueTask.FromResult<JsonNode?>(agent.Status()));
        processor.Register("shadow-report", OperatorRole.Observe, (_, _) => ValueTask.FromResult<JsonNode?>(agent.ShadowReport()));
        processor.Register("promote", OperatorRole.Operate, (c, _) =>
            Answer(agent, agent.Promote(c.Actor, "mqtt", c.OptionalString("reason", 512) ?? "promote command", c.OptionalBool("force"))));
        processor.Register("rollback", OperatorRole.Operate, (c, _) =>
            Answer(agent, agent.Rollback(c.Actor, "mqtt", c.OptionalString("reason", 512) ?? "rollback command")));
        if (rebirth is not null)
        {
            processor.Register("rebirth", OperatorRole.Observe, async (_, ct) =>
            {
                var ok = await rebirth(ct);
                if (!ok) throw new CommandException(CommandErrors.Unavailable, "the status message could not be published");
                return new JsonObject { ["republished"] = true };
            });
        }
    }

    /// <summary>
    /// The set-mode handler: <c>{mode, reason, force}</c> through <see cref="ModeController.TrySetMode"/> with the verified
    /// actor. With a <paramref name="keySwitch"/>, never above its position (key out: never above the current mode),
    /// forced or not: the key is local authority.
    /// </summary>
    public static CommandHandler SetMode(ModeController modes, IModeKeyPosition? keySwitch) => (c, _) =>
    {
        var wanted = c.RequiredString("mode", 16);
        if (!AutomationModes.TryParse(wanted, out var mode))
            throw new CommandException(CommandErrors.BadArgs, $"set-mode: args.mode '{wanted}' is not a mode (human, shadow, assist, partial, full)");
        if (keySwitch is not null)
        {
            var position = keySwitch.Position;
            var cap = position ?? modes.Current;
            if (mode > cap)
                throw new CommandException(CommandErrors.AboveKeySwitch, position is null
                    ? $"set-mode: the key switch is out or between positions; a remote command may not raise the mode above {cap.ToWire()}"
                    : $"set-mode: the key switch is at {cap.ToWire()}; a remote command may not set {mode.ToWire()}");
        }
        var r = modes.TrySetMode(mode, c.Actor, "mqtt", c.OptionalString("reason", 512), c.OptionalBool("force"));
        if (!r.Changed) throw new CommandException(CommandErrors.Refused, r.Reason);
        return ValueTask.FromResult<JsonNode?>(new JsonObject { ["from"] = r.From.ToWire(), ["to"] = r.To.ToWire(), ["reason"] = r.Reason });
    };

    private static ValueTask<JsonNode?> Answer(FleetAgent agent, FleetActionResult r)
    {
        if (!r.Done) throw new CommandException(r.Code ?? CommandErrors.Refused, r.Reason);
        return ValueTask.FromResult<JsonNode?>(new JsonObject { ["reason"] = r.Reason, ["status"] = agent.Status() });
    }
}
