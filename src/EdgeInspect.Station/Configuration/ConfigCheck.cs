using EdgeInspect.Core.Automation;

namespace EdgeInspect.Station.Configuration;

/// <summary>The one assertion the profile sections validate with: a failed check names its key.</summary>
internal static class ConfigCheck
{
    /// <summary>Throws <see cref="ConfigValueException"/> for <paramref name="key"/> unless <paramref name="ok"/>.</summary>
    public static void Need(bool ok, string key, string reason)
    {
        if (!ok) throw new ConfigValueException(key, reason);
    }
}
