using System.Globalization;
using System.Xml.Linq;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.VirtualLine;

/// <summary>Summary of a written data set.</summary>
public sealed record DatasetSummary(int Count, int Train, int Val, IReadOnlyDictionary<string, int> PartsPerClass, IReadOnlyDictionary<string, int> ObjectsPerClass);

/// <summary>
/// Writes rendered parts as a Pascal VOC style data set: images/NAME.png, annotations/NAME.xml,
/// train.txt and val.txt (names without extension). Boxes follow the VOC devkit convention:
/// integer pixel coordinates, 1-based, xmax/ymax inclusive (so xmin = X1 + 1, xmax = X2 for our
/// exclusive-corner boxes). OK parts have an annotation with no object.
/// </summary>
public static class VirtualLineDataset
{
    /// <summary>Fraction of each part class that goes to val.txt.</summary>
    public const double ValFraction = 0.2;

    /// <param name="saveImage">Writes one image file (the CLI passes OpenCV's imwrite; the station stays native-free).</param>
    public static DatasetSummary Write(PartRenderer renderer, string outDir, int count, Action<string, ImageBuffer> saveImage)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        string images = Path.Combine(outDir, "images"), annotations = Path.Combine(outDir, "annotations");
        Directory.CreateDirectory(images);
        Directory.CreateDirectory(annotations);

        var byClass = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        var objects = new SortedDictionary<string, int>(StringComparer.Ordinal);
        using var buffer = new ImageBuffer(renderer.Options.Width, renderer.Options.Height);
        for (int i = 0; i < count; i++)
        {
            var truth = renderer.Render(i, buffer);
            string name = $"part_{i:D6}";
            saveImage(Path.Combine(images, name + ".png"), buffer);
            SaveXml(ToVoc(name, buffer.Width, buffer.Height, truth), Path.Combine(annotations, name + ".xml"));
            if (!byClass.TryGetValue(truth.PartClass, out var list)) byClass[truth.PartClass] = list = [];
            list.Add(name);
            foreach (var d in truth.Defects) objects[d.ClassName] = objects.GetValueOrDefault(d.ClassName) + 1;
        }

        // Stratified by part class with a fixed shuffle seed, so every class is in both splits in proportion.
        var train = new List<string>(count);
        var val = new List<string>(count / 4 + 1);
        var rng = new SplitMix64(0x5EED_0000UL ^ (uint)renderer.Options.Seed);
        foreach (var (_, names) in byClass)
        {
            for (int i = names.Count - 1; i > 0; i--)
            {
                int j = rng.NextInt(0, i + 1);
                (names[i], names[j]) = (names[j], names[i]);
            }
            int nVal = names.Count < 2 ? 0 : Math.Max(1, (int)Math.Round(names.Count * ValFraction));
            val.AddRange(names.Take(nVal));
            train.AddRange(names.Skip(nVal));
        }
        train.Sort(StringComparer.Ordinal);
        val.Sort(StringComparer.Ordinal);
        File.WriteAllLines(Path.Combine(outDir, "train.txt"), train);
        File.WriteAllLines(Path.Combine(outDir, "val.txt"), val);

        return new DatasetSummary(count, train.Count, val.Count,
            byClass.ToDictionary(kv => kv.Key, kv => kv.Value.Count), new Dictionary<string, int>(objects));
    }

    private static void SaveXml(XDocument doc, string path)
    {
        // UTF-8 without a byte order mark: some VOC readers choke on a BOM.
        using var writer = System.Xml.XmlWriter.Create(path, new System.Xml.XmlWriterSettings { Indent = true, Encoding = new System.Text.UTF8Encoding(false) });
        doc.Save(writer);
    }

    public static XDocument ToVoc(string name, int width, int height, PartTruth truth)
    {
        static string I(float v) => ((int)v).ToString(CultureInfo.InvariantCulture);
        var root = new XElement("annotation",
            new XElement("folder", "images"),
            new XElement("filename", name + ".png"),
            new XElement("source", new XElement("database", "EdgeInspect virtual line"), new XElement("part_id", truth.PartId)),
            new XElement("size", new XElement("width", width), new XElement("height", height), new XElement("depth", 3)),
            new XElement("segmented", 0));
        foreach (var d in truth.Defects)
        {
            float x1 = Math.Max(0, d.Box.X1), y1 = Math.Max(0, d.Box.Y1);
            float x2 = Math.Min(width, d.Box.X2), y2 = Math.Min(height, d.Box.Y2);
            root.Add(new XElement("object",
                new XElement("name", d.ClassName),
                new XElement("pose", "Unspecified"),
                new XElement("truncated", 0),
                new XElement("difficult", 0),
                new XElement("bndbox",
                    new XElement("xmin", I(x1 + 1)), new XElement("ymin", I(y1 + 1)),
                    new XElement("xmax", I(x2)), new XElement("ymax", I(y2)))));
        }
        return new XDocument(root);
    }
}
