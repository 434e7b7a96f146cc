namespace EdgeInspect.Web.Tests;

/// <summary>One family: name, type, help and its samples.</summary>
public sealed record PromFamily(string Name, string Type, string Help, List<PromSample> Samples);
