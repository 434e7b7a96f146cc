using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Automation;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// The station's commands: set-mode, status, shadow-report, promote, rollback and (with a transport that can
/// republish the status message) rebirth. Refusals are <see cref="CommandException"/>s, answered with their code.
/// </summary>
public static class FleetCommandHandlers
{
    /// <summary>Registers every fleet command on <paramref name="processor"/>.</summary>
    public static void Register(CommandProcessor processor, FleetAgent agent, ModeController modes, Func<CancellationToken, Task<bool>>? rebirth = null)
    {
        processor.Register("set-mode", (c, _) =>
        {
            var wanted = c.RequiredString("mode", 16);
            if (!AutomationModes.TryParse(wanted, out var mode))
                throw new CommandException(CommandErrors.BadArgs, $"set-mode: args.mode '{wanted}' is not a mode (human, shadow, assist, partial, full)");
            var r = modes.TrySetMode(mode, c.Actor, "mqtt", c.OptionalString("reason", 512), c.OptionalBool("force"));
            if (!r.Changed) throw new CommandException(CommandErrors.Refused, r.Reason);
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["from"] = r.From.ToWire(), ["to"] = r.To.ToWire(), ["reason"] = r.Reason });
        });
        processor.Register("status", (_, _) => ValueTask.FromResult<JsonNode?>(agent.Status()));
        processor.Register("shadow-report", (_, _) => ValueTask.FromResult<JsonNode?>(agent.ShadowReport()));
        processor.Register("promote", (c, _) =>
            Answer(agent, agent.Promote(c.Actor, "mqtt", c.OptionalString("reason", 512) ?? "promote command", c.OptionalBool("force"))));
        processor.Register("rollback", (c, _) =>
            Answer(agent, agent.Rollback(c.Actor, "mqtt", c.OptionalString("reason", 512) ?? "rollback command")));
        if (rebirth is not null)
        {
            processor.Register("rebirth", async (_, ct) =>
            {
                var ok = await rebirth(ct);
                if (!ok) throw new CommandException(CommandErrors.Unavailable, "the status message could not be published");
                return new JsonObject { ["republished"] = true };
            });
        }
    }

    private static ValueTask<JsonNode?> Answer(FleetAgent agent, FleetActionResult r)
    {
        if (!r.Done) throw new CommandException(r.Code ?? CommandErrors.Refused, r.Reason);
        return ValueTask.FromResult<JsonNode?>(new JsonObject { ["reason"] = r.Reason, ["status"] = agent.Status() });
    }
}
