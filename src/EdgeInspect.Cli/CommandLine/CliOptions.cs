using System.CommandLine;
using EdgeInspect.Core.Inference;

namespace EdgeInspect.Cli.CommandLine;

/// <summary>
/// Option factories shared by the verbs, so the same option is spelled, described and validated the same way
/// everywhere. Validators run at parse time: a bad value exits 2 with one line naming the option.
/// </summary>
internal static class CliOptions
{
    /// <summary>--json: machine-readable output on stdout instead of text (one JSON document, or one object per line).</summary>
    public static Option<bool> Json() => new("--json") { Description = "print JSON instead of text" };

    /// <summary>--model / -m: a model package folder.</summary>
    public static Option<string> Model(string description = "model package folder (manifest.json and the files it names)") =>
        new("--model", "-m") { Description = description, Required = true };

    /// <summary>--providers: execution providers in preference order, parsed and checked by <see cref="ExecutionProviders.Parse"/>.</summary>
    public static Option<IReadOnlyList<string>> Providers()
    {
        var option = new Option<IReadOnlyList<string>>("--providers")
        {
            Description = $"execution providers in preference order, comma separated ({string.Join(",", ExecutionProviders.Known)})",
            Arity = ArgumentArity.ExactlyOne,
            DefaultValueFactory = _ => ["cpu"],
        };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ExecutionProviders.TryParse(text, out var providers, out var error)) return providers;
            result.AddError($"--providers: {error}");
            return [];
        };
        return option;
    }

    /// <summary>
    /// Adds a parse-time check: <paramref name="problem"/> returns null for a good value, else why not; the error
    /// reads "--option: why". A value that did not convert is already a parse error and is not checked again.
    /// </summary>
    public static Option<T> Check<T>(this Option<T> option, Func<T, string?> problem)
    {
        ArgumentNullException.ThrowIfNull(option);
        ArgumentNullException.ThrowIfNull(problem);
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>()!;
            }
            catch (InvalidOperationException)
            {
                return;
            }
            if (problem(value) is { } why) result.AddError($"{option.Name}: {why}");
        });
        return option;
    }

    /// <summary>Adds a parse-time check that <paramref name="option"/>'s value is in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<int> InRange(this Option<int> option, int min, int max = int.MaxValue, string? why = null) =>
        option.Check(value => value >= min && value <= max
            ? null
            : $"must be {(max == int.MaxValue ? $">= {min}" : $"{min}..{max}")}{(why is null ? "" : $" ({why})")}, got {value}");
}
