using Xunit;

namespace EdgeInspect.TestSupport;

/// <summary>
/// One throwaway PostgreSQL cluster per test class (each test makes its own database in it); no cluster where
/// PostgreSQL is not installed (the tests' attributes skip then and say why).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresCluster? Cluster { get; private set; }

    public async Task InitializeAsync()
    {
        if (PostgresCluster.IsInstalled) Cluster = await PostgresCluster.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
    }
}
