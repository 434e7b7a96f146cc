using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Hosting;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>Restores the slots and attaches the agent before frames flow; detaches and disposes on stop.</summary>
internal sealed class FleetAgentHostedService(FleetAgent agent, StationEngine engine, DeviceMqttConnection? connection,
    FleetAgentOptions options, CommandOptions commands, TimeProvider time) : IHostedService
{
    private FleetMqttBridge? _bridge;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        agent.Start();
        engine.Observer = agent;
        if (connection is not null) _bridge = new FleetMqttBridge(connection, agent, options, commands, time);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_bridge is not null) await _bridge.DisposeAsync();
        engine.Observer = null;
        agent.Dispose();
    }
}
