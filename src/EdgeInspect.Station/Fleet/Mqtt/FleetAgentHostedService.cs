using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Hosting;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>Restores the slots before frames flow and starts the MQTT bridge; stops the bridge and disposes the agent on stop.</summary>
internal sealed class FleetAgentHostedService(FleetAgent agent, DeviceMqttConnection? connection,
    FleetAgentOptions options, CommandOptions commands, TimeProvider time) : IHostedService
{
    private FleetMqttBridge? _bridge;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        agent.Start();
        if (connection is not null) _bridge = new FleetMqttBridge(connection, agent, options, commands, time);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_bridge is not null) await _bridge.DisposeAsync();
        agent.Dispose();
    }
}
