namespace EdgeInspect.Web;

/// <summary>/readyz: the store answers, a model is loaded, and parts are flowing.</summary>
public static class Readiness
{
    /// <summary>Null when ready, else what is not.</summary>
    public static string? Check(StationContext station)
    {
        try { _ = station.Store.LoadState(); }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { return "store not open: " + e.Message; }
        if (station.Engine.Inspectors.Current is null) return "no model loaded";
        if (station.Live.LastPartAt is not { } last) return "no part stored yet";
        var age = station.Time.GetUtcNow() - last;
        if (age.TotalSeconds > station.Options.ReadyMaxPartAgeSeconds)
            return $"no part stored for {age.TotalSeconds:0} s (limit {station.Options.ReadyMaxPartAgeSeconds:0} s)";
        return null;
    }
}
