using EdgeInspect.Core.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Station.Tests.Configuration;

public class StationProfileTests
{
    [Theory]
    [InlineData("dev")]
    [InlineData("raspberry-pi-5")]
    [InlineData("jetson-orin-nano")]
    public void Load_ShippedProfiles_AreValid(string name)
    {
        var p = StationProfile.Load(name, Path.Combine(RepoPaths.Root, "device-config"));
        Assert.False(string.IsNullOrEmpty(p.Device.Id));
    }

    [Fact]
    public void Load_DuplicatePin_NamesKeyAndReason()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ei-profile-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "Gpio": { "ButtonOk": 5, "ModeKeyA": 5 } }""");
        try
        {
            var e = Assert.Throws<ConfigValueException>(() => StationProfile.Load(path, "/nonexistent"));
            Assert.EndsWith("Gpio:ModeKeyA", e.Key);
            Assert.Contains("already used by Gpio:ButtonOk", e.Reason);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("""{ "HumanInspector": { "Kind": "labels" } }""", "HumanInspector:Kind", "labels needs a replayed folder with labels")]
    [InlineData("""{ "Source": { "Kind": "folder", "Uri": "/tmp" }, "HumanInspector": { "Kind": "simulated" } }""", "HumanInspector:Kind", "simulated judges the virtual line")]
    [InlineData("""{ "Source": { "Kind": "folder", "Uri": "/tmp", "Labels": "/no/such/labels.csv" } }""", "Source:Labels", "no such CSV file or annotation folder")]
    [InlineData("""{ "HumanInspector": { "Kind": "camera" } }""", "HumanInspector:Kind", "must be one of auto, simulated, buttons, labels")]
    public void Load_HumanInspectorKindWithoutItsSource_NamesKeyAndReason(string json, string key, string reason)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ei-profile-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            var e = Assert.Throws<ConfigValueException>(() => StationProfile.Load(path, "/nonexistent"));
            Assert.EndsWith(key, e.Key);
            Assert.Contains(reason, e.Reason);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Load_AcceptedClassTheLineDoesNotRender_NamesKeyAndReason()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ei-profile-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "HumanInspector": { "AcceptedClasses": [ "discoloration", "rust" ] } }""");
        try
        {
            var e = Assert.Throws<ConfigValueException>(() => StationProfile.Load(path, "/nonexistent"));
            Assert.EndsWith("HumanInspector:AcceptedClasses:1", e.Key);
            Assert.Contains("'rust' is not a virtual-line defect class", e.Reason);
        }
        finally { File.Delete(path); }
    }
}
