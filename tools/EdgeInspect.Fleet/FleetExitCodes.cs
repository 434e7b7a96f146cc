namespace EdgeInspect.Fleet;

/// <summary>
/// The exit codes of edgeinspect-fleet, the same table as the device's edgeinspect: 0 ok; 1 the run worked and found
/// problems (a device refused the command or the package, verify refused the archive); 2 bad input (a parse error,
/// a bad option value, a missing or unreadable key, folder or archive, a package pack refuses); 3 the broker could
/// not be reached. Errors are one line on stderr naming the option or file.
/// </summary>
public static class FleetExitCodes
{
    /// <summary>Everything worked.</summary>
    public const int Ok = 0;

    /// <summary>A device or the verifier refused.</summary>
    public const int Refused = 1;

    /// <summary>Bad input.</summary>
    public const int BadInput = 2;

    /// <summary>The broker could not be reached.</summary>
    public const int Unreachable = 3;
}
