using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>One station and one browser shared by the page tests (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class StationCollection : ICollectionFixture<WebStation>, ICollectionFixture<Browser>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "web station";
}
