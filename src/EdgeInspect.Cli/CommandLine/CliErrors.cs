namespace EdgeInspect.Cli.CommandLine;

/// <summary>The one error path of the CLI: one line on stderr, "error: " and the message, and an exit code.</summary>
public static class CliErrors
{
    /// <summary>Writes <c>error: message</c> to stderr and returns <paramref name="code"/>.</summary>
    public static int Fail(string message, int code = ExitCodes.BadInput)
    {
        Console.Error.WriteLine("error: " + message);
        return code;
    }
}
