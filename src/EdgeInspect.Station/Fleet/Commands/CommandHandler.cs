using System.Text.Json.Nodes;

namespace EdgeInspect.Station.Fleet.Commands;

public delegate ValueTask<JsonNode?> CommandHandler(CommandContext context, CancellationToken cancellationToken);
