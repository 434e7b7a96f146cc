using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Io;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>Restores the slots before frames flow and starts the MQTT bridge; stops the bridge and disposes the agent on stop.</summary>
internal sealed class FleetAgentHostedService(FleetAgent agent, DeviceMqttConnection? connection, FleetAgentOptions options,
    CommandOptions commands, OperatorKeys operators, IInspectionStore store, TimeProvider time, IModeKeyPosition? keySwitch,
    ILoggerFactory? logs) : IHostedService
{
    private FleetMqttBridge? _bridge;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        agent.Start();
        if (connection is not null) _bridge = new FleetMqttBridge(connection, agent, options, commands, operators, store, time, keySwitch, logs);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_bridge is not null) await _bridge.DisposeAsync();
        agent.Dispose();
    }
}
