using System.Globalization;

namespace EdgeInspect.Core.Evaluation;

/// <summary>
/// Labels of the images a folder replays, by file name: a CSV of <c>file,label</c> lines (label "ok", "good" or a
/// class name; an optional <c>file,label</c> header), or a folder of Pascal VOC annotations (<c>&lt;stem&gt;.xml</c>
/// per image; a part's class is its first object's, as <see cref="LabelledDataset"/> reads it, and an annotation
/// without objects is an OK part).
/// </summary>
public static class ReplayLabels
{
    /// <summary>Reads <paramref name="labels"/> (a CSV file or a folder of VOC annotations) for <paramref name="imageFiles"/>.</summary>
    /// <returns>One label per image that has one, keyed by file name (ordinal); images without a label are absent.</returns>
    public static IReadOnlyDictionary<string, PartLabel> Load(string labels, IEnumerable<string> imageFiles)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(imageFiles);
        if (File.Exists(labels)) return ReadCsv(labels);
        if (Directory.Exists(labels)) return ReadVoc(labels, imageFiles);
        throw new DatasetException($"{labels}: neither a CSV file of file,label lines nor a folder of Pascal VOC annotations");
    }

    /// <summary>The images of <paramref name="imageFiles"/> that <paramref name="labels"/> has no label for.</summary>
    public static IReadOnlyList<string> Unlabelled(IReadOnlyDictionary<string, PartLabel> labels, IEnumerable<string> imageFiles) =>
        [.. imageFiles.Select(Path.GetFileName).OfType<string>().Where(f => !labels.ContainsKey(f))];

    private static Dictionary<string, PartLabel> ReadCsv(string path)
    {
        var result = new Dictionary<string, PartLabel>(StringComparer.Ordinal);
        int line = 0;
        foreach (string raw in File.ReadLines(path))
        {
            line++;
            string text = raw.Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            string[] cells = text.Split(',');
            if (cells.Length != 2) throw new DatasetException(string.Create(CultureInfo.InvariantCulture, $"{path}:{line}: expected file,label, got '{text}'"));
            string file = Path.GetFileName(cells[0].Trim()), label = cells[1].Trim();
            if (line == 1 && file.Equals("file", StringComparison.OrdinalIgnoreCase) && label.Equals("label", StringComparison.OrdinalIgnoreCase)) continue;
            if (file.Length == 0 || label.Length == 0) throw new DatasetException(string.Create(CultureInfo.InvariantCulture, $"{path}:{line}: empty file or label"));
            if (!result.TryAdd(file, new PartLabel(LabelledImage.IsOkClass(label) ? LabelledImage.OkClass : label)))
                throw new DatasetException(string.Create(CultureInfo.InvariantCulture, $"{path}:{line}: {file} is labelled twice"));
        }
        return result;
    }

    private static Dictionary<string, PartLabel> ReadVoc(string folder, IEnumerable<string> imageFiles)
    {
        var result = new Dictionary<string, PartLabel>(StringComparer.Ordinal);
        foreach (string image in imageFiles)
        {
            string xml = Path.Combine(folder, Path.GetFileNameWithoutExtension(image) + ".xml");
            if (!File.Exists(xml)) continue;
            result[Path.GetFileName(image)] = new PartLabel(LabelledDataset.ReadVocImage(xml).PartClass);
        }
        return result;
    }
}
