using EdgeInspect.Fleet.Protocol.Connection;
using EdgeInspect.Fleet.Protocol.Tls;
using EdgeInspect.Fleet.Protocol.Topics;

namespace EdgeInspect.Sync.Mqtt;

/// <summary>
/// Device-side MQTT settings, bound from the "Uplink" section of the device config and validated at start
/// (<see cref="Validate"/> names the key that is wrong). An empty <see cref="Host"/> means "no broker": the
/// station runs and the store buffers everything in the outbox.
/// </summary>
public sealed class MqttUplinkOptions
{
    public const string SectionName = "Uplink";

    /// <summary>Broker host; empty = no broker configured (records are buffered only).</summary>
    public string? Host { get; set; }
    public int Port { get; set; } = 1883;
    public string TopicPrefix { get; set; } = "edgeinspect";
    /// <summary>Device id (one topic level). Also the dedupe key with the sequence number.</summary>
    public string DeviceId { get; set; } = "dev-0001";
    /// <summary>MQTT client id; defaults to "edgeinspect-&lt;deviceId&gt;".</summary>
    public string? ClientId { get; set; }

    public string? Username { get; set; }
    public string? Password { get; set; }

    /// <summary>Use TLS. With <see cref="CaFile"/> the broker certificate must chain to that CA (and only to it).</summary>
    public bool UseTls { get; set; }
    /// <summary>PEM file of the CA that signed the broker certificate; none: the system trust store decides.</summary>
    public string? CaFile { get; set; }
    /// <summary>
    /// PEM client certificate for mutual TLS. On the EdgeInspect broker (device-config/broker) its CN is the device's
    /// MQTT username and must equal <see cref="DeviceId"/>, or the ACL gives the device nothing. Read again at each
    /// connect, so a renewed certificate is used from the next reconnect on.
    /// </summary>
    public string? ClientCertFile { get; set; }
    /// <summary>PEM private key (PKCS#8 or SEC1) of <see cref="ClientCertFile"/>.</summary>
    public string? ClientKeyFile { get; set; }

    public int KeepAliveSeconds { get; set; } = 15;
    /// <summary>How often the connection loop pings (and so notices a dead link) while connected.</summary>
    public double PingIntervalSeconds { get; set; } = 5;
    public double ConnectTimeoutSeconds { get; set; } = 5;
    /// <summary>First reconnect delay; doubles per failed attempt up to <see cref="MaxBackoffSeconds"/>, with jitter.</summary>
    public double MinBackoffSeconds { get; set; } = 0.5;
    public double MaxBackoffSeconds { get; set; } = 30;

    /// <summary>
    /// SO_RCVBUF and SO_SNDBUF of the device's socket. MQTTnet sets both to 8 KiB unless told otherwise, which also
    /// turns off Linux's buffer autotuning for the socket. With those, a burst of 5,000 commands on loopback stalled
    /// the device's socket for 5 to 8 s with both processes idle and megabytes waiting in the broker's send queue;
    /// the ping timed out, the device reconnected, and the broker dropped the clean session's queue, legitimate
    /// commands with it (CommandBurstTests, about one run in ten). A small buffer also caps a drain at one buffer per
    /// round trip on a distant broker. The kernel doubles the value and caps it at net.core.rmem_max / wmem_max.
    /// </summary>
    public int SocketBufferBytes { get; set; } = SocketBuffers.DefaultBytes;

    /// <summary>
    /// QoS 1 messages the broker may send the device before it acknowledges them (MQTT 5 Receive Maximum, section
    /// 3.1.2.11.3). MQTTnet queues what arrives without bound, so without this a flood of commands would be buffered
    /// in the device's memory; bounded, the backlog waits at the broker and arrives as fast as the device answers.
    /// </summary>
    public int ReceiveMaximum { get; set; } = 32;

    /// <summary>Inbound payloads larger than this are dropped before any handler parses them.</summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>Records per outbox read; the drainer alternates a batch of backlog and a batch of the newest.</summary>
    public int BatchSize { get; set; } = 500;
    /// <summary>QoS 1 publishes in flight at once, a sliding window (each still deleted only after its own PUBACK).</summary>
    public int MaxInFlight { get; set; } = 128;

    /// <summary>
    /// Records per message on the records topic at most. 1 (default): one record's JSON object per message, the form
    /// every consumer reads. More: a JSON array of up to this many records (<c>RecordsMessage</c>), which saves the
    /// per-message MQTT costs of a drain but needs a consumer that reads arrays: the cloud ingest does; a subscriber
    /// of your own may not.
    /// </summary>
    public int RecordsPerMessage { get; set; } = 1;

    /// <summary>
    /// Bytes of one records array at most: under the broker's packet limit (device-config/broker: 1 MiB) and the
    /// ingest's <c>Ingest:MaxPayloadBytes</c> (256 KiB by default), or the whole array is refused or dead-lettered.
    /// A single record larger than this still goes, alone.
    /// </summary>
    public int MaxMessageBytes { get; set; } = 128 * 1024;

    /// <summary>
    /// After a lost link, records the broker acknowledged this many seconds before the drop are sent again (a broker
    /// that died may not have forwarded them; the cloud drops duplicates). 0 = no replay.
    /// </summary>
    public double ReplaySeconds { get; set; } = 2;

    /// <summary>
    /// Seconds to wait after reconnecting before the replay goes out: a broker restart drops the cloud's subscriber
    /// too, and a replay published before it has subscribed again reaches nobody (clean sessions). Measured: with
    /// no wait, a device that reconnected first lost the first replayed records about half the time.
    /// </summary>
    public double ReplaySettleSeconds { get; set; } = 1;

    /// <summary>
    /// What counts as delivered, so the outbox may delete a record: <c>broker-puback</c> (default, for setups with no
    /// cloud ingest: the broker's PUBACK with reason 0x00) or <c>ingest-ack</c> (the cloud ingest's acknowledgement on
    /// <c>&lt;prefix&gt;/&lt;device&gt;/ack</c> after its database committed the record). In both, PUBACK 0x10 (no
    /// matching subscribers) and refusals (&gt;= 0x80) are not delivery.
    /// </summary>
    public string Delivery { get; set; } = BrokerPuback;

    /// <summary><see cref="Delivery"/> value: the broker's PUBACK 0x00 is delivery.</summary>
    public const string BrokerPuback = "broker-puback";

    /// <summary><see cref="Delivery"/> value: the cloud ingest's acknowledgement is delivery.</summary>
    public const string IngestAck = "ingest-ack";

    /// <summary>True when <see cref="Delivery"/> is <see cref="IngestAck"/>.</summary>
    public bool WaitsForIngestAck => string.Equals(Delivery, IngestAck, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Seconds a record sent is given before it goes again when its delivery is not confirmed (no ingest ack, or PUBACK
    /// 0x10); doubles per try up to <see cref="MaxResendBackoffSeconds"/>, so a cloud that is away is not flooded.
    /// </summary>
    public double ResendAfterSeconds { get; set; } = 5;
    public double MaxResendBackoffSeconds { get; set; } = 60;

    /// <summary>Records sent and waiting for the ingest's ack at most (memory bound; new sends pause when reached).</summary>
    public int MaxAwaitingAck { get; set; } = 4096;

    /// <summary>
    /// A record the broker refuses this many times (reason &gt;= 0x80: quota, not authorized, payload invalid) is parked:
    /// kept in the store, counted, logged as an alarm, and skipped (across restarts too), so it cannot hold up the rest.
    /// </summary>
    public int ParkAfterRefusals { get; set; } = 5;

    /// <summary>
    /// Every this many seconds the parked records are tried again (and parked again after <see cref="ParkAfterRefusals"/>
    /// more refusals): a refusal's cause is usually mended on the broker (an ACL, a size limit), and a record parked
    /// for ever never reaches the cloud. 0: never (they stay parked until someone acts).
    /// </summary>
    public double RetryParkedAfterSeconds { get; set; } = 3600;

    /// <summary>Not read: the telemetry period is <c>Telemetry:IntervalSeconds</c> (AddEdgeInspectTelemetry). Kept so old configs still bind.</summary>
    public double TelemetryIntervalSeconds { get; set; } = 60;

    public bool Enabled => !string.IsNullOrWhiteSpace(Host);

    public string EffectiveClientId => string.IsNullOrWhiteSpace(ClientId) ? "edgeinspect-" + DeviceId : ClientId!;

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first bad key ("Uplink:Port: ...").</summary>
    public void Validate()
    {
        static void Fail(string key, string problem) => throw new InvalidOperationException($"{SectionName}:{key}: {problem}");
        if (!MqttTopics.IsValidId(DeviceId)) Fail(nameof(DeviceId), $"'{DeviceId}' is not a valid topic level (non-empty, no '+', '#', '/')");
        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.Split('/').Any(l => !MqttTopics.IsValidId(l)))
        {
            Fail(nameof(TopicPrefix), $"'{TopicPrefix}' must be non-empty levels without '+', '#'");
        }
        if (Port is < 1 or > 65535) Fail(nameof(Port), $"{Port} is not a TCP port");
        if (KeepAliveSeconds is < 1 or > 65535) Fail(nameof(KeepAliveSeconds), "must be 1..65535");
        if (SocketBufferBytes is < 16 * 1024 or > 16 * 1024 * 1024) Fail(nameof(SocketBufferBytes), "must be 16384..16777216");
        if (ReceiveMaximum is < 1 or > 65535) Fail(nameof(ReceiveMaximum), "must be 1..65535");
        if (PingIntervalSeconds <= 0) Fail(nameof(PingIntervalSeconds), "must be > 0");
        if (ConnectTimeoutSeconds <= 0) Fail(nameof(ConnectTimeoutSeconds), "must be > 0");
        if (MinBackoffSeconds <= 0) Fail(nameof(MinBackoffSeconds), "must be > 0");
        if (MaxBackoffSeconds < MinBackoffSeconds) Fail(nameof(MaxBackoffSeconds), "must be >= MinBackoffSeconds");
        if (MaxPayloadBytes < 1024) Fail(nameof(MaxPayloadBytes), "must be >= 1024");
        if (BatchSize is < 1 or > 10_000) Fail(nameof(BatchSize), "must be 1..10000");
        if (MaxInFlight is < 1 or > 65_535) Fail(nameof(MaxInFlight), "must be 1..65535");
        if (RecordsPerMessage is < 1 or > 10_000) Fail(nameof(RecordsPerMessage), "must be 1..10000 (1 = one record per message)");
        if (MaxMessageBytes is < 1024 or > 256 * 1024 * 1024) Fail(nameof(MaxMessageBytes), "must be 1024..268435456 (MQTT's largest packet)");
        if (ReplaySeconds < 0 || !double.IsFinite(ReplaySeconds)) Fail(nameof(ReplaySeconds), "must be >= 0 (0 = no replay)");
        if (ReplaySettleSeconds < 0 || !double.IsFinite(ReplaySettleSeconds)) Fail(nameof(ReplaySettleSeconds), "must be >= 0");
        if (!string.Equals(Delivery, BrokerPuback, StringComparison.OrdinalIgnoreCase) && !WaitsForIngestAck)
        {
            Fail(nameof(Delivery), $"'{Delivery}' must be '{BrokerPuback}' or '{IngestAck}'");
        }
        if (ResendAfterSeconds <= 0 || !double.IsFinite(ResendAfterSeconds)) Fail(nameof(ResendAfterSeconds), "must be > 0");
        if (MaxResendBackoffSeconds < ResendAfterSeconds || !double.IsFinite(MaxResendBackoffSeconds)) Fail(nameof(MaxResendBackoffSeconds), "must be >= ResendAfterSeconds");
        if (MaxAwaitingAck is < 1 or > 1_000_000) Fail(nameof(MaxAwaitingAck), "must be 1..1000000");
        if (ParkAfterRefusals < 1) Fail(nameof(ParkAfterRefusals), "must be >= 1");
        if (RetryParkedAfterSeconds < 0 || double.IsNaN(RetryParkedAfterSeconds)) Fail(nameof(RetryParkedAfterSeconds), "must be >= 0 (0 = never)");
        if (TelemetryIntervalSeconds < 0) Fail(nameof(TelemetryIntervalSeconds), "must be >= 0");
        if (Username is null != Password is null) Fail(Username is null ? nameof(Username) : nameof(Password), "username and password go together");
        if (CaFile is not null && !UseTls) Fail(nameof(UseTls), "CaFile is set but UseTls is false");
        if (ClientCertFile is not null && !UseTls) Fail(nameof(UseTls), "ClientCertFile is set but UseTls is false");
        if (ClientKeyFile is not null && !UseTls) Fail(nameof(UseTls), "ClientKeyFile is set but UseTls is false");
        if (UseTls)
        {
            // Read now, not at the first connect: a missing or mismatched file stops the service at boot naming its key.
            BrokerTls? tls = null;
            try { tls = BrokerTls.Load(CaFile, ClientCertFile, ClientKeyFile); }
            catch (BrokerTlsException e) { Fail(KeyOf(e.File), e.Message); }
            using (tls)
            {
                // The broker knows a device by its certificate's CN and its ACL allows only that subtree: a certificate
                // for another id would connect and then see every publish refused, records piling up in the outbox.
                if (tls!.ClientIdentity is { } cn && cn != DeviceId)
                    Fail(nameof(ClientCertFile), $"certificate CN '{cn}' is not the device id '{DeviceId}' (the broker's ACL allows a device only the topics of its certificate's CN)");
            }
        }
    }

    private static string KeyOf(BrokerTlsFile file) => file switch
    {
        BrokerTlsFile.CaCertificate => nameof(CaFile),
        BrokerTlsFile.ClientCertificate => nameof(ClientCertFile),
        _ => nameof(ClientKeyFile),
    };
}
