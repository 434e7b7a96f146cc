namespace EdgeInspect.Fleet.Protocol.Connection;

/// <summary>
/// The socket buffer size every EdgeInspect MQTT connection asks for. MQTTnet sets SO_RCVBUF and SO_SNDBUF to 8 KiB
/// unless told otherwise, which turns off Linux's autotuning and caps a connection at one small buffer per round trip;
/// on loopback it stalled a device's socket for seconds under a command burst (see the device's
/// <c>Uplink:SocketBufferBytes</c>, which defaults to this).
/// </summary>
public static class SocketBuffers
{
    public const int DefaultBytes = 256 * 1024;
}
