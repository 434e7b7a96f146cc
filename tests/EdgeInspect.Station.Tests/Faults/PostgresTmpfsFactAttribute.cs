using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Station.Tests.Faults;

/// <summary>A fact that needs PostgreSQL, Mosquitto and a tmpfs it may mount; skipped with the first reason that applies.</summary>
public sealed class PostgresTmpfsFactAttribute : FactAttribute
{
    public PostgresTmpfsFactAttribute()
    {
        Skip = new PostgresFactAttribute().Skip ?? TmpfsMount.MissingReason;
    }
}
