namespace EdgeInspect.Web.Tests;

/// <summary>One sample: metric name, labels, value.</summary>
public sealed record PromSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
