using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Pipeline;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// The A/B model slots and the inspectors loaded from them: the active one (in the host), the previous one (kept loaded
/// so a rollback is one swap) and the candidate. Slot names persist in <see cref="DeviceState"/>. Every model that goes
/// into the host is a <see cref="HostedInspector"/>, so one that leaves it is disposed only when no frame uses it.
/// Not thread-safe: the agent serialises every call.
/// </summary>
public sealed class ModelSlots(IInspectionStore store, IInspectorHost host, PackageInstaller installer, IInspectorLoader loader) : IDisposable
{
    private readonly List<HostedInspector> _retired = [];
    private long _swaps;

    /// <summary>Installs received archives into the spare slot.</summary>
    public PackageInstaller Installer => installer;

    /// <summary>The model serving now (the host's).</summary>
    public IInspector? Active => host.Current;

    /// <summary>The installed model on trial; never in the host.</summary>
    public IInspector? Candidate { get; private set; }

    /// <summary>The model a rollback swaps back in; null after a restart until a rollback loads it from its slot.</summary>
    public IInspector? Previous { get; private set; }

    /// <summary>Hot swaps done (promotions and rollbacks).</summary>
    public long Swaps => Interlocked.Read(ref _swaps);

    /// <summary>The persisted slot names (and the rest of the device state).</summary>
    public DeviceState State() => store.LoadState();

    /// <summary>Re-reads the state and changes only the slot fields, so a mode or sequence saved meanwhile is kept.</summary>
    public void Update(Action<DeviceState> change)
    {
        var s = store.LoadState();
        change(s);
        store.SaveState(s);
    }

    /// <summary>True when <paramref name="slot"/> holds a package whose manifest reads.</summary>
    public bool Holds(string? slot) => installer.VersionIn(slot) is not null;

    /// <summary>Opens the package in <paramref name="slot"/>; throws when it does not load.</summary>
    public IInspector Load(string slot) => loader.Load(installer.SlotPath(slot));

    /// <summary>Opens a package folder (a freshly installed slot); throws when it does not load.</summary>
    public IInspector LoadFolder(string folder) => loader.Load(folder);

    /// <summary>Wraps the model the host holds (the profile's) so it too is disposed safely; called before frames flow.</summary>
    public void AdoptHostModel()
    {
        if (host.Current is { } current and not HostedInspector) host.Swap(new HostedInspector(current, host));
    }

    /// <summary>
    /// Start: the active slot's model replaces the host's. The replaced model is the previous one only when no slot is
    /// recorded as previous; otherwise a rollback loads that slot, and the replaced model is retired.
    /// </summary>
    public void RestoreActive(IInspector inspector, bool previousSlotRecorded)
    {
        // A device upgraded from a build without the floor file learns its floor from the slot it serves.
        installer.Activated(store.LoadState().ActiveSlot);
        if (host.Swap(HostedInspector.Wrap(inspector, host)) is not { } old) return;
        if (previousSlotRecorded) Retire(old);
        else Previous = old;
    }

    /// <summary>Makes <paramref name="inspector"/> the candidate (the caller dropped any earlier one).</summary>
    public void SetCandidate(IInspector inspector) => Candidate = inspector;

    /// <summary>Disposes the candidate at once: the caller makes sure no shadow run uses it.</summary>
    public void DropCandidate()
    {
        Candidate?.Dispose();
        Candidate = null;
    }

    /// <summary>The previous model's slot was overwritten: that model is installed nowhere any more.</summary>
    public void ForgetPrevious()
    {
        if (Previous is null) return;
        Retire(Previous);
        Previous = null;
    }

    /// <summary>A previous model loaded from its slot outside the lock: kept unless one was loaded meanwhile.</summary>
    public void OfferPrevious(IInspector loaded)
    {
        if (Previous is null) Previous = loaded;
        else loaded.Dispose();
    }

    /// <summary>
    /// Why the candidate may not become active (its version is under the anti-rollback floor without a permit); null
    /// when it may. No force passes this: a gate is about evidence, the floor about trust.
    /// </summary>
    public string? PromotionRefusal() => installer.PromotionRefusal(State().CandidateSlot);

    /// <summary>Candidate into the host (between two frames); the replaced model becomes the previous one.</summary>
    public void Promote()
    {
        var candidate = Candidate ?? throw new InvalidOperationException("no candidate to promote");
        // The inspection stage reads the host once per frame, so this lands between two frames.
        var old = host.Swap(HostedInspector.Wrap(candidate, host));
        Interlocked.Increment(ref _swaps);
        if (Previous is not null) Retire(Previous);
        Previous = old;
        Candidate = null;
        Update(s =>
        {
            s.PreviousSlot = s.ActiveSlot;
            s.ActiveSlot = s.CandidateSlot;
            s.CandidateSlot = null;
        });
        installer.Activated(State().ActiveSlot);
    }

    /// <summary>The same swap as a promotion, back: the model rolled back from stays loaded as the previous one.</summary>
    public void Rollback()
    {
        var previous = Previous ?? throw new InvalidOperationException("no previous model to roll back to");
        Previous = host.Swap(HostedInspector.Wrap(previous, host));
        Interlocked.Increment(ref _swaps);
        Update(s => (s.ActiveSlot, s.PreviousSlot) = (s.PreviousSlot, s.ActiveSlot));
        // The device's own retained slot needs no permit; swapping forward again raises the floor back.
        installer.Activated(State().ActiveSlot);
    }

    /// <summary>Disposes retired models that no frame uses any more; the rest wait for the next call.</summary>
    public void DisposeRetired() => _retired.RemoveAll(r => r.TryDispose());

    /// <summary>Disposes the candidate, the previous and the retired models; the active one belongs to the host.</summary>
    public void Dispose()
    {
        foreach (var r in _retired) r.Dispose();
        _retired.Clear();
        DropCandidate();
        Previous?.Dispose();
        Previous = null;
    }

    private void Retire(IInspector inspector)
    {
        // A model that was never in the host has no frame using it.
        if (inspector is not HostedInspector hosted) inspector.Dispose();
        else if (!hosted.TryDispose() && !_retired.Contains(hosted)) _retired.Add(hosted);
    }
}
