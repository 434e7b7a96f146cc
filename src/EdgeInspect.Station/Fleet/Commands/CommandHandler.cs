using System.Text.Json.Nodes;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>Runs one verified, authorized command; its result is the reply's result, a <see cref="CommandException"/> its refusal.</summary>
public delegate ValueTask<JsonNode?> CommandHandler(CommandContext context, CancellationToken cancellationToken);
