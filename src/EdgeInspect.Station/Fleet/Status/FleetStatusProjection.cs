using System.Globalization;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Fleet.Shadow;
using EdgeInspect.Station.Fleet.Slots;

namespace EdgeInspect.Station.Fleet.Status;

/// <summary>
/// The JSON the fleet reads: the status message's <c>fleet</c> object, the shadow report and the event payloads.
/// Built from a snapshot under the agent's lock, so it must stay cheap (no inference, no IO but the state read before).
/// </summary>
public static class FleetStatusProjection
{
    /// <summary>Mode, model state, active / candidate / previous slot and version, swaps, shadow and watch, last events.</summary>
    public static JsonObject Status(AutomationMode mode, DeviceState state, ModelSlots slots, CandidateTrial? trial, ModelWatch? watch,
        IEnumerable<AuditEvent> recent)
    {
        var current = slots.Active;
        return new JsonObject
        {
            ["mode"] = mode.ToWire(),
            ["modelState"] = current is null ? "no-model" : trial is not null ? "candidate-shadow" : watch is not null ? "watching" : "serving",
            ["active"] = Slot(state.ActiveSlot, current),
            ["candidate"] = trial is null ? null : Slot(state.CandidateSlot, trial.Inspector),
            ["previous"] = slots.Previous is null && state.PreviousSlot is null ? null : Slot(state.PreviousSlot, slots.Previous),
            ["swaps"] = slots.Swaps,
            ["shadow"] = trial?.Shadow.ToJson(),
            ["watch"] = watch?.ToJson(),
            ["lastEvents"] = new JsonArray([.. recent.Select(e => (JsonNode)EventJson(e))]),
        };
    }

    /// <summary>The active model against the human (the mode gate's evidence) and the candidate's three-way statistics.</summary>
    /// <param name="gateProblem">Why the candidate may not be promoted yet; null when the gate is met.</param>
    /// <param name="lastCandidate">The statistics of the candidate before this one (promoted, rejected or replaced).</param>
    public static JsonObject ShadowReport(IInspector? active, long paired, long agreed, CandidateTrial? trial, string? gateProblem,
        JsonObject? lastCandidate) => new()
    {
        ["active"] = new JsonObject
        {
            ["model"] = active?.ModelName,
            ["version"] = active?.ModelVersion,
            ["paired"] = paired,
            ["agreements"] = agreed,
            ["agreement"] = paired == 0 ? null : Math.Round((double)agreed / paired, 4),
            ["lowerBound"] = paired == 0 ? null : Math.Round(Wilson.LowerBound(agreed, paired), 4),
            ["note"] = paired == 0 ? ShadowReportFormat.NoPairs : null,
        },
        ["candidate"] = trial is null ? null : new JsonObject
        {
            ["model"] = trial.Inspector.ModelName,
            ["version"] = trial.Inspector.ModelVersion,
            ["stats"] = trial.Shadow.ToJson(),
            ["gate"] = gateProblem ?? "met",
        },
        ["lastCandidate"] = lastCandidate?.DeepClone(),
    };

    /// <summary>An audit event as published on <c>events</c> and listed in the status message.</summary>
    public static JsonObject EventJson(AuditEvent e) => new()
    {
        ["at"] = e.At.ToString("O", CultureInfo.InvariantCulture),
        ["kind"] = e.Kind,
        ["actor"] = e.Actor,
        ["source"] = e.Source,
        ["from"] = e.From,
        ["to"] = e.To,
        ["reason"] = e.Reason,
    };

    /// <summary>"name vVersion (slot x)" for audit events; the slot alone when no model is loaded.</summary>
    public static string? Describe(IInspector? inspector, string? slot) =>
        inspector is null ? slot : $"{inspector.ModelName} v{inspector.ModelVersion}" + (slot is null ? "" : $" (slot {slot})");

    private static JsonObject Slot(string? slot, IInspector? inspector) => new()
    {
        ["slot"] = slot,
        ["model"] = inspector?.ModelName,
        ["version"] = inspector?.ModelVersion,
        ["loaded"] = inspector is not null,
    };
}
