namespace EdgeInspect.TestSupport;

/// <summary>
/// Trait values for <c>[Trait(TestCategories.Name, TestCategories.Slow)]</c>: tests over about 10 s each on the 2-core
/// machine (training, soaks, child processes, real-broker outages, whole data sets), which `tools/test.sh --fast`
/// leaves out of the inner loop. CI runs every test.
/// </summary>
public static class TestCategories
{
    /// <summary>The trait name the runner filters on (<c>--filter "Category!=Slow"</c>).</summary>
    public const string Name = "Category";

    /// <summary>The slow category.</summary>
    public const string Slow = "Slow";
}
