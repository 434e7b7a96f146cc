using Xunit;

namespace EdgeInspect.Fleet.Tests;

/// <summary>
/// Test classes that assert a bound on the process's working set run in this collection, alone: the working set is
/// the whole test process's, and a parallel class that starts its own broker connections and archives moved it by
/// 78 MiB in one CI run under a load average of 40.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurements
{
    public const string Name = "memory measurements";
}

/// <summary>
/// Test classes that assert a wall-clock bound (a reply within a deadline under a flood) run in this collection, alone:
/// a parallel class's broker and station take the same two cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimedMeasurements
{
    public const string Name = "timed measurements";
}
