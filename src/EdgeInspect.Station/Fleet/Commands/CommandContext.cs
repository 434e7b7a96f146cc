using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Commands;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// What a handler sees once the command is verified: the command name, its id, its arguments (an object, empty when
/// absent), the verified actor (<see cref="OperatorKey.Actor"/>, never text from the command) and the key's role.
/// </summary>
public sealed record CommandContext(string Name, string Id, JsonElement Args, string Actor, OperatorRole Role = OperatorRole.Observe);
