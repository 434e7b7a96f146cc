namespace EdgeInspect.Station.Automation;

/// <summary>One model's gate evidence in memory: written by the record stage, read by the gate, pages and metrics.</summary>
internal sealed class EvidenceTally
{
    private long _paired, _agreed;

    public long Paired => Interlocked.Read(ref _paired);

    public long Agreed => Interlocked.Read(ref _agreed);

    public void Add(long paired, long agreed)
    {
        Interlocked.Add(ref _paired, paired);
        Interlocked.Add(ref _agreed, agreed);
    }
}
