using System.CommandLine;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Station.VirtualLine;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: run, mode, shadow-report, simulate, bench pipeline (issue 4).</summary>
internal static class StationCommands
{
    public static IEnumerable<Command> Create() => [Simulate()];

    private static Command Simulate()
    {
        var outDir = new Option<string>("--out") { Description = "output folder (images/, annotations/, train.txt, val.txt)", Required = true };
        var count = new Option<int>("--count") { Description = "number of parts to render", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "line seed: the same seed renders the same parts", DefaultValueFactory = _ => 1 };
        var defectRate = new Option<double>("--defect-rate") { Description = "fraction of parts with at least one defect (0..1)", DefaultValueFactory = _ => 0.5 };
        var width = new Option<int>("--width") { Description = "frame width in pixels", DefaultValueFactory = _ => 320 };
        var height = new Option<int>("--height") { Description = "frame height in pixels", DefaultValueFactory = _ => 240 };
        var cmd = new Command("simulate", "Render virtual-line parts with ground truth as a Pascal VOC data set (for training and tests)")
        {
            outDir, count, seed, defectRate, width, height,
        };
        cmd.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n <= 0) return Fail("--count: must be positive");
            PartRenderer renderer;
            try
            {
                renderer = new PartRenderer(new PartRendererOptions
                {
                    Seed = parse.GetValue(seed),
                    DefectRate = parse.GetValue(defectRate),
                    Width = parse.GetValue(width),
                    Height = parse.GetValue(height),
                });
            }
            catch (ArgumentOutOfRangeException e)
            {
                return Fail($"--{ToOptionName(e.ParamName)}: {e.Message.Split(" (Parameter")[0].Split(Environment.NewLine)[0]}");
            }

            string dir = parse.GetValue(outDir)!;
            try
            {
                var summary = VirtualLineDataset.Write(renderer, dir, n, ImageFiles.Write);
                Console.WriteLine($"wrote {summary.Count} parts to {dir} (train {summary.Train}, val {summary.Val})");
                Console.WriteLine("parts:   " + string.Join(", ", summary.PartsPerClass.Select(kv => $"{kv.Key} {kv.Value}")));
                Console.WriteLine("objects: " + string.Join(", ", summary.ObjectsPerClass.Select(kv => $"{kv.Key} {kv.Value}")));
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Fail($"{dir}: {e.Message}");
            }
        });
        return cmd;
    }

    private static string ToOptionName(string? param) => param switch
    {
        "DefectRate" => "defect-rate",
        null => "option",
        _ => param.ToLowerInvariant(),
    };

    private static int Fail(string message)
    {
        Console.Error.WriteLine("error: " + message);
        return 2;
    }
}
