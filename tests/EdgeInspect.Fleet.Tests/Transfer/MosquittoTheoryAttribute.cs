using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

/// <summary>A theory that needs Debian's mosquitto; skipped with the reason where it is not installed (as <see cref="MosquittoFactAttribute"/>).</summary>
public sealed class MosquittoTheoryAttribute : TheoryAttribute
{
    public MosquittoTheoryAttribute()
    {
        if (!MosquittoBroker.IsInstalled) Skip = $"needs {MosquittoBroker.BinaryPath} (apt-get install mosquitto)";
    }
}
