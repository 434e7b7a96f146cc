using System.CommandLine;
using EdgeInspect.Core.Inference;

namespace EdgeInspect.Cli.CommandLine;

/// <summary>
/// The options every verb that runs the cascade on images shares: --model, --providers, --threads, --image-workers
/// and --lanes, added to a command together and read back as one <see cref="InferenceOptions"/>.
/// </summary>
internal sealed class CascadeRunOptions
{
    /// <summary>--model: a package folder, or only pnet/rnet/onet.onnx for canonical MTCNN.</summary>
    public Option<string> Model { get; } =
        CliOptions.Model("model package folder (manifest.json, or only pnet.onnx/rnet.onnx/onet.onnx for canonical MTCNN)");

    /// <summary>--providers: execution providers in preference order.</summary>
    public Option<IReadOnlyList<string>> Providers { get; } = CliOptions.Providers();

    /// <summary>--threads: intra-op threads per network.</summary>
    public Option<int> Threads { get; } = new Option<int>("--threads")
    {
        Description = "intra-op threads per network, shared out between its lanes (0 = one per core)",
        DefaultValueFactory = _ => 0,
    }.InRange(0, 64);

    /// <summary>--image-workers: threads for the image work between network runs.</summary>
    public Option<int> ImageWorkers { get; } = new Option<int>("--image-workers")
    {
        Description = "threads for the cascade's image work between network runs: pyramid levels, crops (0 = one per core, at most 4)",
        DefaultValueFactory = _ => 0,
    }.InRange(0, 64);

    /// <summary>--lanes: copies of each network run side by side.</summary>
    public Option<int> Lanes { get; } = new Option<int>("--lanes")
    {
        Description = "copies of each network run side by side, the stage's work split between them (1 = one copy on ONNX Runtime's threads; 0 = one per core, at most 4, on the CPU provider, 1 on a GPU)",
        DefaultValueFactory = _ => 1,
    }.InRange(0, 16);

    /// <summary>Adds all five options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(Model);
        command.Options.Add(Providers);
        command.Options.Add(Threads);
        command.Options.Add(ImageWorkers);
        command.Options.Add(Lanes);
    }

    /// <summary>The inference settings the parsed options ask for.</summary>
    public InferenceOptions Inference(ParseResult parse) => new()
    {
        Providers = parse.GetValue(Providers)!,
        IntraOpThreads = parse.GetValue(Threads),
        Lanes = parse.GetValue(Lanes),
    };
}
