using EdgeInspect.Fleet.Protocol.Topics;

namespace EdgeInspect.Cloud.Ingest;

/// <summary>The ingest's settings, bound from the "Ingest" section and validated at start (the message names the key).</summary>
public sealed class IngestOptions
{
    public const string SectionName = "Ingest";

    /// <summary>Npgsql connection string ("Host=127.0.0.1;Port=5432;Username=...;Database=...").</summary>
    public string ConnectionString { get; set; } = "";

    public string BrokerHost { get; set; } = "127.0.0.1";
    public int BrokerPort { get; set; } = 1883;
    public string? Username { get; set; }
    public string? Password { get; set; }

    /// <summary>
    /// TLS to the broker (device-config/broker/edgeinspect.conf: port 8883, a client certificate required, its CN the
    /// MQTT username, so the ingest's certificate's CN must be "ingest" for the ACL's <c>user ingest</c> block).
    /// </summary>
    public bool UseTls { get; set; }

    /// <summary>PEM file with the CA(s) the broker's certificate must chain to; unset: the system's trust store.</summary>
    public string? CaFile { get; set; }

    /// <summary>PEM client certificate (with <see cref="ClientKeyFile"/>) presented to the broker.</summary>
    public string? ClientCertFile { get; set; }

    /// <summary>PEM private key of <see cref="ClientCertFile"/>.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>The devices' topic prefix (their <c>Uplink:TopicPrefix</c>).</summary>
    public string TopicPrefix { get; set; } = "edgeinspect";

    /// <summary>Shared-subscription group: instances with the same group split the messages ([MQTT-4.8.2]).</summary>
    public string ShareGroup { get; set; } = "ingest";

    /// <summary>MQTT client id; defaults to "edgeinspect-ingest-&lt;machine&gt;-&lt;pid&gt;" (unique per instance).</summary>
    public string? ClientId { get; set; }

    /// <summary>Messages per database transaction at most.</summary>
    public int BatchSize { get; set; } = 2000;

    /// <summary>
    /// Payload bytes per database transaction at most (a batch closes at this or <see cref="BatchSize"/> messages,
    /// whichever comes first): with devices that send records arrays, a message holds many records, and this keeps a
    /// transaction (and the wait for its ack) about as large as a batch of single records.
    /// </summary>
    public int BatchMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a batch waits to fill once its first message is in; the ack latency this adds is at most this.</summary>
    public int BatchDelayMilliseconds { get; set; } = 20;

    /// <summary>Messages received and not yet written, at most; when full the MQTT receive path waits (TCP back-pressure).</summary>
    public int QueueCapacity { get; set; } = 50_000;

    /// <summary>A payload over this size goes to the dead-letter table (its first <see cref="DeadLetterKeepBytes"/> bytes) unparsed.</summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>Bytes of a dead letter's payload kept.</summary>
    public int DeadLetterKeepBytes { get; set; } = 4096;

    /// <summary>Day partitions older than this are dropped (and dead letters deleted); 0 keeps everything.</summary>
    public int RetentionDays { get; set; } = 90;

    /// <summary>Day partitions created ahead of today.</summary>
    public int PartitionDaysAhead { get; set; } = 7;

    /// <summary>How often partitions are maintained (created ahead, dropped past retention).</summary>
    public double MaintenanceIntervalMinutes { get; set; } = 60;

    public string EffectiveClientId => string.IsNullOrWhiteSpace(ClientId)
        ? $"edgeinspect-ingest-{Environment.MachineName}-{Environment.ProcessId}"
        : ClientId!;

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first bad key ("Ingest:BatchSize: ...").</summary>
    public void Validate()
    {
        static void Fail(string key, string problem) => throw new InvalidOperationException($"{SectionName}:{key}: {problem}");
        if (string.IsNullOrWhiteSpace(ConnectionString)) Fail(nameof(ConnectionString), "required (an Npgsql connection string)");
        if (string.IsNullOrWhiteSpace(BrokerHost)) Fail(nameof(BrokerHost), "required");
        if (BrokerPort is < 1 or > 65535) Fail(nameof(BrokerPort), $"{BrokerPort} is not a TCP port");
        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.Split('/').Any(l => !MqttTopics.IsValidId(l)))
        {
            Fail(nameof(TopicPrefix), $"'{TopicPrefix}' must be non-empty levels without '+', '#'");
        }
        if (!MqttTopics.IsValidId(ShareGroup)) Fail(nameof(ShareGroup), $"'{ShareGroup}' must be one topic level without '+', '#', '/'");
        if (BatchSize is < 1 or > 100_000) Fail(nameof(BatchSize), "must be 1..100000");
        if (BatchMaxBytes < 1024) Fail(nameof(BatchMaxBytes), "must be >= 1024");
        if (BatchDelayMilliseconds is < 0 or > 10_000) Fail(nameof(BatchDelayMilliseconds), "must be 0..10000");
        if (QueueCapacity < BatchSize) Fail(nameof(QueueCapacity), "must be >= BatchSize");
        if (MaxPayloadBytes < 1024) Fail(nameof(MaxPayloadBytes), "must be >= 1024");
        if (DeadLetterKeepBytes < 0) Fail(nameof(DeadLetterKeepBytes), "must be >= 0");
        if (RetentionDays < 0) Fail(nameof(RetentionDays), "must be >= 0 (0 = keep everything)");
        if (PartitionDaysAhead is < 1 or > 366) Fail(nameof(PartitionDaysAhead), "must be 1..366");
        if (MaintenanceIntervalMinutes <= 0) Fail(nameof(MaintenanceIntervalMinutes), "must be > 0");
        if (!UseTls && (CaFile ?? ClientCertFile ?? ClientKeyFile) is not null)
        {
            Fail(CaFile is not null ? nameof(CaFile) : ClientCertFile is not null ? nameof(ClientCertFile) : nameof(ClientKeyFile), "set, but UseTls is false");
        }
        if (ClientCertFile is null != ClientKeyFile is null) Fail(ClientCertFile is null ? nameof(ClientCertFile) : nameof(ClientKeyFile), "a client certificate and its key go together");
        foreach (var (key, file) in new[] { (nameof(CaFile), CaFile), (nameof(ClientCertFile), ClientCertFile), (nameof(ClientKeyFile), ClientKeyFile) })
        {
            if (file is not null && !File.Exists(file)) Fail(key, $"{file}: file not found");
        }
        if (Username is null != Password is null) Fail(Username is null ? nameof(Username) : nameof(Password), "username and password go together");
    }
}
