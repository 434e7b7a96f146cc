namespace EdgeInspect.Fleet;

/// <summary>Bad input to a verb: printed as one line naming the file or option, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
