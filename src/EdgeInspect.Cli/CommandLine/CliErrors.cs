using System.CommandLine;
using System.CommandLine.Invocation;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Cli.CommandLine;

/// <summary>
/// The one error path of the CLI: a failure is one line on stderr, "error: " and a message that names the option,
/// key or file, and an exit code from <see cref="ExitCodes"/>; never a stack trace.
/// </summary>
internal static class CliErrors
{
    /// <summary>Writes "error: <paramref name="message"/>" to stderr and returns <paramref name="code"/>.</summary>
    public static int Fail(string message, int code = ExitCodes.BadInput)
    {
        Console.Error.WriteLine("error: " + message);
        return code;
    }

    /// <summary>Runs a verb's body; known failures become <see cref="Fail"/> (exit 2, or the <see cref="CliException"/>'s code).</summary>
    public static int Guard(Func<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return body();
        }
        catch (Exception e) when (Known(e))
        {
            return Report(e);
        }
    }

    /// <summary>The asynchronous <see cref="Guard"/>.</summary>
    public static async Task<int> GuardAsync(Func<Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (Known(e))
        {
            return Report(e);
        }
    }

    /// <summary>
    /// Parse errors (unknown option, missing value, a validator's error) as "error:" lines and exit 2; null when
    /// the parse has none and the verb should run. Help and version requests are not errors.
    /// </summary>
    public static int? ParseErrors(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        if (parse.Errors.Count == 0 || parse.Action is not ParseErrorAction) return null;
        foreach (var error in parse.Errors) Console.Error.WriteLine("error: " + error.Message);
        return ExitCodes.BadInput;
    }

    private static bool Known(Exception e) => e is CliException or ModelPackageException or NetworkLoadException or ImageDecodeException
        or DatasetException or TuningException or ConfigValueException or ArgumentException or InvalidOperationException or FormatException
        or InvalidDataException or IOException or UnauthorizedAccessException;

    private static int Report(Exception e) => Fail(FirstLine(e.Message), e is CliException c ? c.ExitCode : ExitCodes.BadInput);

    private static string FirstLine(string message)
    {
        int i = message.IndexOf('\n', StringComparison.Ordinal);
        return i < 0 ? message : message[..i].TrimEnd();
    }
}
