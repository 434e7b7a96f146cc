using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeInspect.Web.Tests;

/// <summary>
/// A strict parser of the Prometheus text exposition format 0.0.4: HELP and TYPE before a family's samples and once
/// only, samples of a family together, valid names, only the three label escapes, values in Go float syntax, no
/// duplicate series, a final newline, and histogram rules (le on every bucket, cumulative counts, +Inf = _count).
/// Throws <see cref="FormatException"/> naming the line.
/// </summary>
public static partial class PrometheusTextParser
{
    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    /// <summary>The families in order of appearance.</summary>
    public static Dictionary<string, PromFamily> Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n')) throw new FormatException("the exposition must end with a newline");
        var families = new Dictionary<string, PromFamily>(StringComparer.Ordinal);
        var closed = new HashSet<string>(StringComparer.Ordinal);
        var series = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length - 1; i++)
        {
            string line = lines[i];
            string at = $"line {i + 1}: '{line}'";
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[1] is "HELP" or "TYPE")
                {
                    string name = parts[2];
                    if (!MetricName().IsMatch(name)) throw new FormatException($"{at}: bad metric name");
                    if (closed.Contains(name)) throw new FormatException($"{at}: family {name} appears twice");
                    if (current is not null && current != name) closed.Add(current);
                    current = name;
                    if (!families.TryGetValue(name, out var f)) families[name] = f = new PromFamily(name, "untyped", "", []);
                    if (f.Samples.Count > 0) throw new FormatException($"{at}: {parts[1]} after the family's samples");
                    if (parts[1] == "TYPE")
                    {
                        if (parts.Length != 4 || parts[3] is not ("counter" or "gauge" or "histogram" or "summary" or "untyped")) throw new FormatException($"{at}: bad type");
                        families[name] = f with { Type = parts[3] };
                    }
                    else families[name] = f with { Help = parts.Length == 4 ? parts[3] : "" };
                }
                continue;
            }
            var sample = ParseSample(line, at);
            string family = FamilyOf(sample.Name, families);
            if (!families.TryGetValue(family, out var fam)) throw new FormatException($"{at}: sample before its TYPE");
            if (family != current) throw new FormatException($"{at}: samples of {family} are not together");
            string key = sample.Name + "{" + string.Join(',', sample.Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)) + "}";
            if (!series.Add(key)) throw new FormatException($"{at}: duplicate series {key}");
            fam.Samples.Add(sample);
        }
        foreach (var f in families.Values) CheckFamily(f);
        return families;
    }

    private static string FamilyOf(string name, Dictionary<string, PromFamily> families)
    {
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && families.TryGetValue(name[..^suffix.Length], out var f) && f.Type is "histogram" or "summary")
                return f.Name;
        }
        return name;
    }

    private static PromSample ParseSample(string line, string at)
    {
        int i = 0;
        while (i < line.Length && line[i] is not ('{' or ' ')) i++;
        string name = line[..i];
        if (!MetricName().IsMatch(name)) throw new FormatException($"{at}: bad metric name");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int eq = line.IndexOf('=', i);
                if (eq < 0) throw new FormatException($"{at}: label without '='");
                string label = line[i..eq];
                if (!LabelName().IsMatch(label) || label.StartsWith("__", StringComparison.Ordinal)) throw new FormatException($"{at}: bad label name '{label}'");
                if (eq + 1 >= line.Length || line[eq + 1] != '"') throw new FormatException($"{at}: label value not quoted");
                var value = new StringBuilder();
                int j = eq + 2;
                for (; ; j++)
                {
                    if (j >= line.Length) throw new FormatException($"{at}: unterminated label value");
                    char c = line[j];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        char e = line[++j];
                        value.Append(e switch { '\\' => '\\', '"' => '"', 'n' => '\n', _ => throw new FormatException($"{at}: bad escape \\{e}") });
                    }
                    else value.Append(c);
                }
                if (!labels.TryAdd(label, value.ToString())) throw new FormatException($"{at}: label {label} twice");
                i = j + 1;
                if (line[i] == ',') i++;
                else if (line[i] != '}') throw new FormatException($"{at}: expected ',' or '}}'");
            }
            i++;
        }
        if (i >= line.Length || line[i] != ' ') throw new FormatException($"{at}: expected one space before the value");
        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2) throw new FormatException($"{at}: expected value [timestamp]");
        if (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)) throw new FormatException($"{at}: bad timestamp");
        return new PromSample(name, labels, ParseValue(rest[0], at));
    }

    private static double ParseValue(string text, string at) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) => v,
        _ => throw new FormatException($"{at}: bad value '{text}'"),
    };

    private static void CheckFamily(PromFamily f)
    {
        if (f.Type == "counter" && !f.Name.EndsWith("_total", StringComparison.Ordinal)) throw new FormatException($"counter {f.Name} does not end in _total");
        if (f.Type != "histogram") return;
        foreach (var group in f.Samples.GroupBy(s => string.Join(',', s.Labels.Where(kv => kv.Key != "le").OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value))))
        {
            var buckets = group.Where(s => s.Name == f.Name + "_bucket").ToList();
            if (buckets.Any(b => !b.Labels.ContainsKey("le"))) throw new FormatException($"{f.Name}: a bucket without le");
            var ordered = buckets.Select(b => (Le: ParseValue(b.Labels["le"], f.Name), b.Value)).OrderBy(b => b.Le).ToList();
            if (ordered.Count == 0 || !double.IsPositiveInfinity(ordered[^1].Le)) throw new FormatException($"{f.Name}{{{group.Key}}}: no +Inf bucket");
            for (int i = 1; i < ordered.Count; i++)
            {
                if (ordered[i].Value < ordered[i - 1].Value) throw new FormatException($"{f.Name}{{{group.Key}}}: buckets not cumulative");
            }
            var count = group.SingleOrDefault(s => s.Name == f.Name + "_count") ?? throw new FormatException($"{f.Name}{{{group.Key}}}: no _count");
            _ = group.SingleOrDefault(s => s.Name == f.Name + "_sum") ?? throw new FormatException($"{f.Name}{{{group.Key}}}: no _sum");
            if (count.Value != ordered[^1].Value) throw new FormatException($"{f.Name}{{{group.Key}}}: +Inf bucket differs from _count");
        }
    }
}
