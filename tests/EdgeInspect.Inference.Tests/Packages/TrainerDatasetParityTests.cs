using System.Diagnostics;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>
/// `edgeinspect eval` (C# LabelledDataset) and tools/train (eitrain.data.read_dataset) must read a dataset to the same
/// parts, or a package is chosen on one set of labels and judged on another: the same images, part classes, box counts
/// and "every defect boxed" flags, for Pascal VOC (boxes, good parts without objects, an image-level label without a
/// box, a split file of stems) and folder-per-class (ok/ and good/ both good parts, a split file matched by name).
/// </summary>
[Trait(TestCategories.Name, TestCategories.Slow)]
public sealed class TrainerDatasetParityTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgeinspect-dataset-parity-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [TrainingToolchainFact]
    public void TrainerAndEval_VocWithGoodPartsAndImageLabels_ReadTheSameParts()
    {
        string voc = Path.Combine(_root, "voc");
        Directory.CreateDirectory(Path.Combine(voc, "images"));
        Directory.CreateDirectory(Path.Combine(voc, "annotations"));
        void Part(string stem, string objects, string ext = ".jpg")
        {
            File.WriteAllBytes(Path.Combine(voc, "images", stem + ext), [1]);
            File.WriteAllText(Path.Combine(voc, "annotations", stem + ".xml"), $"<annotation>{objects}</annotation>");
        }
        static string Box(string name, int x) =>
            $"<object><name>{name}</name><bndbox><xmin>{x}</xmin><ymin>5</ymin><xmax>{x + 20}</xmax><ymax>40</ymax></bndbox></object>";
        Part("scratch_1", Box("scratch", 1) + Box("pit", 30));
        Part("good_1", "", ".png");
        Part("crazing_1", "<object><name>crazing</name></object>");
        Part("mixed_1", Box("pit", 3) + "<object><name>scratch</name></object>");
        Part("named_good", "<object><name>good</name></object>");
        File.WriteAllLines(Path.Combine(voc, "val.txt"), ["scratch_1", "good_1", "crazing_1", "mixed_1", "named_good", "held_out_9"]);

        AssertSameParts(voc, Path.Combine(voc, "val.txt"));
        AssertSameParts(voc, null);
    }

    [TrainingToolchainFact]
    public void TrainerAndEval_FolderPerClass_ReadTheSameParts()
    {
        string folders = Path.Combine(_root, "folders");
        foreach (var (cls, file) in new[] { ("ok", "a.png"), ("good", "b.jpg"), ("dent", "c.bmp"), ("dent", "d.JPG"), ("dent", "notes.txt") })
        {
            Directory.CreateDirectory(Path.Combine(folders, cls));
            File.WriteAllBytes(Path.Combine(folders, cls, file), [1]);
        }
        File.WriteAllLines(Path.Combine(_root, "val.txt"), ["ok/a.png", "dent/c.bmp"]);

        AssertSameParts(folders, Path.Combine(_root, "val.txt"));
        AssertSameParts(folders, null);
    }

    private static void AssertSameParts(string root, string? split)
    {
        var csharp = LabelledDataset.Open(root, split).Images
            .Select(i => $"{Path.GetFileName(i.ImagePath)}|{i.PartClass}|{i.Boxes.Count}|{i.HasBoxes}")
            .Order(StringComparer.Ordinal).ToList();
        var python = Trainer(root, split).Order(StringComparer.Ordinal).ToList();

        Assert.NotEmpty(csharp);
        Assert.True(csharp.SequenceEqual(python, StringComparer.Ordinal),
            $"{root} (split {split ?? "none"}):\n  eval:    {string.Join("; ", csharp)}\n  trainer: {string.Join("; ", python)}");
    }

    private static List<string> Trainer(string root, string? split)
    {
        const string script = """
            import os, sys
            sys.path.insert(0, sys.argv[1])
            from eitrain import data
            for it in data.read_dataset(sys.argv[2], sys.argv[3] or None):
                print(f"{os.path.basename(it[0])}|{it.label}|{len(it[1])}|{it.has_boxes}")
            """;
        var psi = new ProcessStartInfo(TrainingPython.Path, ["-c", script, Path.Combine(RepoPaths.Root, "tools", "train"), root, split ?? ""])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the trainer's dataset reader did not finish in 120 s");
        Assert.True(p.ExitCode == 0, $"the trainer's dataset reader exited {p.ExitCode}: {stderr}");
        // Python prints True / False, .NET True / False: the same text. Other lines are the reader's notes (split
        // entries whose image is absent).
        return [.. stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Count(c => c == '|') == 3)];
    }
}
