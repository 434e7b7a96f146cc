using System.Globalization;
using System.Text;

namespace EdgeInspect.Web.Metrics;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4: one <c># HELP</c> and <c># TYPE</c> per family, then its
/// samples; label values escape backslash, double quote and newline, as the format requires.
/// </summary>
public sealed class PrometheusText
{
    /// <summary>The Content-Type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _sb = new();

    /// <summary>Starts a metric family.</summary>
    public PrometheusText Family(string name, string type, string help)
    {
        _sb.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        _sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    /// <summary>One sample; <paramref name="labels"/> as name / value pairs.</summary>
    public PrometheusText Sample(string name, double value, params (string Name, string Value)[] labels)
    {
        _sb.Append(name);
        if (labels.Length > 0)
        {
            _sb.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                if (i > 0) _sb.Append(',');
                _sb.Append(labels[i].Name).Append("=\"").Append(Escape(labels[i].Value)).Append('"');
            }
            _sb.Append('}');
        }
        _sb.Append(' ').Append(Format(value)).Append('\n');
        return this;
    }

    /// <summary>A histogram's buckets (cumulative, ending with <c>+Inf</c>), sum and count.</summary>
    public PrometheusText Histogram(string name, LatencyHistogram histogram, params (string Name, string Value)[] labels)
    {
        var (buckets, count, sum) = histogram.Read();
        for (int i = 0; i < buckets.Length; i++) Sample(name + "_bucket", buckets[i], [.. labels, ("le", Format(LatencyHistogram.Bounds[i]))]);
        Sample(name + "_bucket", count, [.. labels, ("le", "+Inf")]);
        Sample(name + "_sum", sum, labels);
        Sample(name + "_count", count, labels);
        return this;
    }

    /// <inheritdoc/>
    public override string ToString() => _sb.ToString();

    /// <summary>A value as the format writes it: Go's float syntax, <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.</summary>
    public static string Format(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
