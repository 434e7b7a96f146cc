using Microsoft.Extensions.Hosting;

namespace EdgeInspect.Web;

/// <summary>A lifetime that listens to no signal: the embedding station's host decides when the page stops.</summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
