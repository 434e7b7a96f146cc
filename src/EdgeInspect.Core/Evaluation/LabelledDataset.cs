using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using EdgeInspect.Core.Geometry;

namespace EdgeInspect.Core.Evaluation;

/// <summary>One labelled box of a dataset image.</summary>
public readonly record struct LabelledBox(BoxF Box, string ClassName);

/// <summary>
/// One labelled image. <see cref="PartClass"/> is the class of the part as a whole: its first box's class
/// (the image's own class in NEU-DET, see PartClassOf), the folder name in a folder-per-class layout,
/// or <see cref="OkClass"/> for a part without defects.
/// </summary>
public sealed record LabelledImage(string ImagePath, IReadOnlyList<LabelledBox> Boxes, string PartClass, bool HasBoxes)
{
    public const string OkClass = "ok";

    public bool IsNg => !IsOkClass(PartClass);

    /// <summary>Folder names that mean "no defect" in a folder-per-class dataset.</summary>
    public static bool IsOkClass(string name) =>
        name.Equals(OkClass, StringComparison.OrdinalIgnoreCase) || name.Equals("good", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A dataset that could not be read; the message names the file and the problem.</summary>
public sealed class DatasetException(string message) : Exception(message);

/// <summary>A labelled dataset: Pascal VOC (images/, annotations/) or one folder per class.</summary>
public sealed class LabelledDataset
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp"];

    private LabelledDataset(string format, IReadOnlyList<LabelledImage> images, int skipped)
    {
        Format = format;
        Images = images;
        SkippedMissing = skipped;
    }

    /// <summary>"voc" or "folders".</summary>
    public string Format { get; }
    public IReadOnlyList<LabelledImage> Images { get; }
    /// <summary>Split entries whose image is absent (NEU-DET's split files also list held-out images).</summary>
    public int SkippedMissing { get; }

    /// <summary>Opens <paramref name="root"/>: Pascal VOC when it has images/ and annotations/, else folder-per-class.</summary>
    public static LabelledDataset Open(string root, string? splitFile = null)
    {
        if (!Directory.Exists(root)) throw new DatasetException($"{root}: dataset folder not found");
        if (splitFile is not null && !File.Exists(splitFile)) throw new DatasetException($"{splitFile}: split file not found");
        return Directory.Exists(Path.Combine(root, "images")) && Directory.Exists(Path.Combine(root, "annotations"))
            ? ReadVoc(root, splitFile)
            : ReadFolders(root, splitFile);
    }

    /// <summary>Pascal VOC: one XML per image with &lt;object&gt;&lt;name&gt; and &lt;bndbox&gt; xmin..ymax (pixels).</summary>
    private static readonly string[] StemExtensions = [".jpg", ".png", ".bmp", ".jpeg"];

    public static LabelledDataset ReadVoc(string root, string? splitFile)
    {
        string imageDir = Path.Combine(root, "images");
        string annotationDir = Path.Combine(root, "annotations");
        IEnumerable<string> names = splitFile is not null
            ? ReadSplit(splitFile)
            : Directory.EnumerateFiles(imageDir).Where(IsImage).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);
        var images = new List<LabelledImage>();
        int skipped = 0;
        foreach (string name in names)
        {
            string file = Path.GetFileName(name);
            string stem = Path.GetFileNameWithoutExtension(file);
            // VOC split files list stems; the image may be .jpg (NEU-DET), .png (the virtual line) or another format.
            string imagePath = Path.HasExtension(file)
                ? Path.Combine(imageDir, file)
                : StemExtensions.Select(e => Path.Combine(imageDir, stem + e)).FirstOrDefault(File.Exists) ?? Path.Combine(imageDir, stem + ".jpg");
            if (!File.Exists(imagePath))
            {
                skipped++;
                continue;
            }
            string xmlPath = Path.Combine(annotationDir, stem + ".xml");
            var (boxes, partClass, hasBoxes) = ReadVocImage(xmlPath);
            images.Add(new LabelledImage(imagePath, boxes, partClass, hasBoxes));
        }
        if (images.Count == 0) throw new DatasetException($"{root}: no labelled images found");
        return new LabelledDataset("voc", images, skipped);
    }

    /// <summary>The boxes of a VOC annotation (objects without a box left out).</summary>
    public static IReadOnlyList<LabelledBox> ReadVocAnnotation(string xmlPath) => ReadVocImage(xmlPath).Boxes;

    /// <summary>
    /// A VOC annotation as one labelled part: its boxes, the part's class (the first object's, boxed or not; "ok"
    /// without objects) and whether every object has a box. An &lt;object&gt; with a &lt;name&gt; and no
    /// &lt;bndbox&gt; is an image-level label: a defective part whose defect nobody boxed. It counts for the
    /// part figures, never for the box figures (its defect would show as a false box). tools/train reads the same.
    /// </summary>
    public static (IReadOnlyList<LabelledBox> Boxes, string PartClass, bool HasBoxes) ReadVocImage(string xmlPath)
    {
        if (!File.Exists(xmlPath)) throw new DatasetException($"{xmlPath}: annotation file not found");
        XDocument doc;
        try
        {
            doc = XDocument.Load(xmlPath);
        }
        catch (XmlException e)
        {
            throw new DatasetException($"{xmlPath}: not valid XML ({e.Message})");
        }
        var boxes = new List<LabelledBox>();
        string? firstClass = null;
        bool allBoxed = true;
        foreach (var obj in doc.Root?.Elements("object") ?? [])
        {
            string name = obj.Element("name")?.Value.Trim() ?? throw new DatasetException($"{xmlPath}: object without <name>");
            if (name.Length == 0) throw new DatasetException($"{xmlPath}: object with an empty <name>");
            firstClass ??= name;
            var bb = obj.Element("bndbox");
            if (bb is null)
            {
                allBoxed = false;
                continue;
            }
            float Coord(string key) =>
                float.TryParse(bb.Element(key)?.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out float v)
                    ? v
                    : throw new DatasetException($"{xmlPath}: object '{name}' has no numeric <{key}>");
            var box = new BoxF(Coord("xmin"), Coord("ymin"), Coord("xmax"), Coord("ymax"));
            if (box.Width <= 0 || box.Height <= 0) throw new DatasetException($"{xmlPath}: object '{name}' has an empty box");
            boxes.Add(new LabelledBox(box, name));
        }
        string partClass = firstClass is null || LabelledImage.IsOkClass(firstClass) ? LabelledImage.OkClass : firstClass;
        return (boxes, partClass, allBoxed);
    }

    /// <summary>Folder per class: root/&lt;class&gt;/*.jpg; a folder named "ok" or "good" holds parts without defects.</summary>
    public static LabelledDataset ReadFolders(string root, string? splitFile)
    {
        HashSet<string>? allowed = splitFile is null ? null : ReadSplit(splitFile).Select(Path.GetFileName).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var images = new List<LabelledImage>();
        foreach (string dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            string cls = Path.GetFileName(dir);
            foreach (string file in Directory.EnumerateFiles(dir).Where(IsImage).Order(StringComparer.Ordinal))
            {
                if (allowed is not null && !allowed.Contains(Path.GetFileName(file))) continue;
                images.Add(new LabelledImage(file, [], LabelledImage.IsOkClass(cls) ? LabelledImage.OkClass : cls, HasBoxes: false));
            }
        }
        if (images.Count == 0) throw new DatasetException($"{root}: neither images/ + annotations/ (Pascal VOC) nor class folders with images");
        return new LabelledDataset("folders", images, 0);
    }

    private static List<string> ReadSplit(string splitFile) =>
        File.ReadLines(splitFile).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

    private static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>
    /// The image's class: its first object's. NEU-DET files each image under one class (250 per class, named after
    /// it) but 105 of its 1,500 annotations also hold boxes of a second class; the first object is the image's own
    /// class in all of them, while a majority vote disagreed with it on 52 images. The trainer reads it the same way.
    /// </summary>
    public static string PartClassOf(IReadOnlyList<LabelledBox> boxes) => boxes[0].ClassName;
}
