using System.Globalization;
using EdgeInspect.Core.Storage;
using Microsoft.Extensions.DependencyInjection;
using OpenCvSharp;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>The live page in headless chromium.</summary>
[Collection(StationCollection.Name)]
public sealed class LivePageTests(WebStation station, Browser browser)
{
    [ChromiumFact]
    public async Task LivePage_PartWithDefects_DrawnBoxesMatchTheRecord()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        // A frame shown through the server-sent events (newer than the one in the first HTML), with at least one box.
        await page.WaitForFunctionAsync("() => { const l = document.getElementById('live'); return l.dataset.seq > 0 && document.querySelectorAll('#regions tr').length > 0 && document.getElementById('live-img').complete; }",
            null, new() { Timeout = 20000 });
        // Read in one evaluation: the next event may redraw the page between two reads.
        var json = await page.EvaluateAsync<string>("""
            () => JSON.stringify({
            seq: Number(document.getElementById('live').dataset.seq),
            boxes: [...document.querySelectorAll('#regions tr')].map(r => r.dataset.box),
            classes: [...document.querySelectorAll('#regions tr')].map(r => r.dataset.cls),
            verdict: document.getElementById('f-verdict').textContent,
            source: document.getElementById('f-source').textContent })
            """);
        var shown = System.Text.Json.JsonSerializer.Deserialize<Shown>(json, WebJson)!;
        long seq = shown.Seq;
        string[] shownBoxes = shown.Boxes, shownClasses = shown.Classes;
        string verdict = shown.Verdict, source = shown.Source;
        await Browser.ScreenshotAsync(page, "live");

        var record = station.Services.GetRequiredService<IInspectionStore>().Records().Single(r => r.Sequence == seq);
        var drawn = record.Regions.Where(g => !g.WholeFrame).ToList();
        Assert.Equal(drawn.Count, shownBoxes.Length);
        Assert.Equal(drawn.Select(g => g.ClassName), shownClasses);
        Assert.Equal(record.Verdict.ToString().ToLowerInvariant(), verdict);
        Assert.Equal(record.VerdictSource.ToString().ToLowerInvariant(), source);
        for (int i = 0; i < drawn.Count; i++)
        {
            var box = shownBoxes[i].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal([drawn[i].Box.X1, drawn[i].Box.Y1, drawn[i].Box.X2, drawn[i].Box.Y2], box);
        }

        // The JPEG the page shows for that part: the record's boxes are drawn in red along their edges.
        var jpeg = await (await context.APIRequest.GetAsync($"/live/frame/{seq}.jpg")).BodyAsync();
        using var image = Cv2.ImDecode(jpeg, ImreadModes.Color);
        foreach (var g in drawn)
        {
            int x1 = (int)MathF.Round(g.Box.X1), y1 = (int)MathF.Round(g.Box.Y1), x2 = (int)MathF.Round(g.Box.X2), y2 = (int)MathF.Round(g.Box.Y2);
            var edge = new List<(int X, int Y)>();
            for (int x = x1 + 2; x <= x2 - 2; x++) { edge.Add((x, y1)); edge.Add((x, y2)); }
            for (int y = y1 + 2; y <= y2 - 2; y++) { edge.Add((x1, y)); edge.Add((x2, y)); }
            int red = edge.Count(p => IsRed(image.At<Vec3b>(Math.Clamp(p.Y, 0, image.Rows - 1), Math.Clamp(p.X, 0, image.Cols - 1))));
            Assert.True(red >= 0.8 * edge.Count, $"box {g.Box}: {red} of {edge.Count} edge pixels red");
        }
    }

    private static readonly System.Text.Json.JsonSerializerOptions WebJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    /// <summary>What the page showed for one part.</summary>
    public sealed record Shown(long Seq, string[] Boxes, string[] Classes, string Verdict, string Source);

    private static bool IsRed(Vec3b bgr) => bgr.Item2 > bgr.Item1 + 60 && bgr.Item2 > bgr.Item0 + 60;
}
