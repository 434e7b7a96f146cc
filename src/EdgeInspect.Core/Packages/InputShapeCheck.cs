namespace EdgeInspect.Core.Packages;

/// <summary>
/// Compares a network's declared input (from its ONNX graph) with the manifest's <see cref="InputSpec"/>,
/// so a package whose network was exported at another size or layout is refused at load, not at the
/// first frame. Pure: the ONNX adapter passes the input names and dimensions it reads from the session.
/// </summary>
public static class InputShapeCheck
{
    /// <summary>
    /// Returns null when <paramref name="dims"/> (ONNX dims, -1 or less for a symbolic axis) fits the spec,
    /// else a one-line problem naming <paramref name="field"/> and both shapes.
    /// </summary>
    public static string? Check(InputSpec spec, IReadOnlyDictionary<string, int[]> inputs, string file, string field)
    {
        if (!inputs.TryGetValue(spec.Name, out int[]? dims))
        {
            return $"{file}: {field}.name: the network has no input '{spec.Name}' (it has {string.Join(", ", inputs.Keys)})";
        }
        int channels = spec.Channels == "GRAY" ? 1 : 3;
        // Expected dims in the network's axis order; 0 means "any" (batch, or a fully convolutional side).
        int[] expected = spec.Layout switch
        {
            "NWHC" => [0, spec.Width, spec.Height, channels],
            "NCHW" => [0, channels, spec.Height, spec.Width],
            _ => [0, spec.Height, spec.Width, channels],
        };
        bool ok = dims.Length == 4;
        for (int i = 0; ok && i < 4; i++)
        {
            if (expected[i] > 0 && dims[i] > 0 && dims[i] != expected[i]) ok = false;
            // A fully convolutional input (width 0) must not be pinned to one size by the graph.
            if (i > 0 && expected[i] == 0 && dims[i] > 0) ok = false;
        }
        if (ok) return null;
        static string Show(IEnumerable<int> d) => "[" + string.Join(", ", d.Select(v => v > 0 ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")) + "]";
        return $"{file}: input '{spec.Name}' has shape {Show(dims)} but {field} ({spec.Layout} {spec.Channels}, {spec.Width}x{spec.Height}) needs {Show(expected)}";
    }
}
