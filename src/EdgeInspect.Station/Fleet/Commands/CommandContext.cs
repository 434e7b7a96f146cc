using System.Text.Json;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>What a handler sees: the command name, its id, its arguments (an object, empty when absent) and who sent it.</summary>
public sealed record CommandContext(string Name, string Id, JsonElement Args, string Actor);
