using EdgeInspect.Cloud.Reports;
using Xunit;

namespace EdgeInspect.Cloud.Tests.Reports;

public sealed class RolloutTrackerTests
{
    [Theory]
    [InlineData("defects v12 (slot b)", "defects", "12")]
    [InlineData("defects v12", "defects", "12")]
    [InlineData("line v2 model v7 (slot a)", "line v2 model", "7")]
    public void Parse_DeviceDescription_NameAndVersion(string described, string name, string version) =>
        Assert.Equal((name, version), RolloutTracker.Parse(described));

    [Theory]
    [InlineData(null)]
    [InlineData("b")]
    [InlineData("")]
    public void Parse_SlotAloneOrNothing_Null(string? described) => Assert.Null(RolloutTracker.Parse(described));

    [Fact]
    public void Rollouts_RolledBackThenInstalledAgain_InstalledSinceTheNewInstall()
    {
        var t0 = new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
        var tracker = new RolloutTracker();
        tracker.Event("dev-1", "package-installed", t0, "p", "defects v4 (slot b)");
        tracker.Event("dev-1", "model-promoted", t0.AddHours(1), "defects v3 (slot a)", "defects v4 (slot b)");
        tracker.Event("dev-1", "model-rolled-back", t0.AddHours(2), "defects v4 (slot b)", "defects v3 (slot a)");
        tracker.Event("dev-1", "package-installed", t0.AddHours(3), "p2", "defects v4 (slot b)");

        var v4 = Assert.Single(tracker.Rollouts(), r => r.Model.Version == "4");

        Assert.Equal(new FleetView.RolloutDevice("dev-1", RolloutStates.Installed, t0.AddHours(3)), Assert.Single(v4.Devices));
    }

    [Fact]
    public void Status_ActiveModelTheEventsNeverNamed_ActiveWithNoTime()
    {
        var tracker = new RolloutTracker();
        tracker.Status("dev-1", new FleetView.ModelRef("defects", "3"), null);

        var rollout = Assert.Single(tracker.Rollouts());

        Assert.Equal(new FleetView.ModelRef("defects", "3"), rollout.Model);
        Assert.Equal(new FleetView.RolloutDevice("dev-1", RolloutStates.Active, null), Assert.Single(rollout.Devices));
    }

    [Fact]
    public void Status_CandidateTheEventsLeftAndTheStatusNoLongerNames_Installed()
    {
        var at = new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
        var tracker = new RolloutTracker();
        tracker.Event("dev-1", "package-installed", at, "p", "defects v4 (slot b)");
        tracker.Status("dev-1", new FleetView.ModelRef("defects", "4"), null);
        // a later status: v5 replaced v4 as active, and no event of it reached the database
        tracker.Status("dev-1", new FleetView.ModelRef("defects", "5"), null);

        Assert.Equal(RolloutStates.Installed, Assert.Single(tracker.Rollouts(), r => r.Model.Version == "4").Devices[0].State);
        Assert.Equal(RolloutStates.Active, Assert.Single(tracker.Rollouts(), r => r.Model.Version == "5").Devices[0].State);
    }
}
