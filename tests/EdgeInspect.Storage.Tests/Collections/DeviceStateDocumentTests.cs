using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using Xunit;

namespace EdgeInspect.Storage.Tests.Collections;

public sealed class DeviceStateDocumentTests
{
    [Fact]
    public void Save_StaleHighWaterMark_KeepsTheHigherOne()
    {
        using var h = new StoreHarness();
        h.State.Advance(7);
        h.State.Save(new DeviceState { Mode = AutomationMode.Full, LastSequence = 2 });
        Assert.Equal(7, h.State.LastSequence);
        Assert.Equal(AutomationMode.Full, h.State.Load().Mode);
    }

    [Fact]
    public void ThrowIfNotAscending_RepeatOrNotAboveMark_Throws()
    {
        using var h = new StoreHarness();
        h.State.Advance(5);
        h.State.ThrowIfNotAscending([6, 7]);
        Assert.Throws<InvalidOperationException>(() => h.State.ThrowIfNotAscending([5]));
        Assert.Throws<InvalidOperationException>(() => h.State.ThrowIfNotAscending([6, 6]));
    }

    [Fact]
    public void Reload_AfterRollback_StoredStateBack()
    {
        using var h = new StoreHarness();
        h.State.Advance(3);
        h.File.BeginTrans();
        h.State.Advance(9);
        h.File.Rollback();
        h.State.Reload();
        Assert.Equal(3, h.State.LastSequence);
    }
}
