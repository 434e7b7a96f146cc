using Xunit;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Core.Tests.Shadow;

public class ShadowStatisticsTests
{
    [Fact]
    public void Wilson_AllSuccesses_LowerBoundIsClosedForm()
    {
        // p = 1: the Wilson lower bound reduces to n / (n + z^2).
        var (lo, hi) = Wilson.Interval(10, 10);
        Assert.Equal(10 / (10 + Wilson.Z95 * Wilson.Z95), lo, 9);
        Assert.Equal(1.0, hi, 9);
    }

    [Fact]
    public void Wilson_NoSuccesses_UpperBoundIsClosedForm()
    {
        var (lo, hi) = Wilson.Interval(0, 20);
        double z2 = Wilson.Z95 * Wilson.Z95;
        Assert.Equal(0.0, lo, 9);
        Assert.Equal(z2 / 20 / (1 + z2 / 20), hi, 9);
    }

    [Fact]
    public void Wilson_HalfOfHundred_MatchesPublishedInterval()
    {
        // 50/100 at 95%: 0.4038 .. 0.5962 (Newcombe 1998, Table I style value).
        var (lo, hi) = Wilson.Interval(50, 100);
        Assert.Equal(0.4038, lo, 4);
        Assert.Equal(0.5962, hi, 4);
    }

    [Fact]
    public void Report_WikipediaKappaExample_KappaIsPointFour()
    {
        // Cohen's kappa worked example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4.
        var s = new ShadowStatistics();
        for (int i = 0; i < 20; i++) s.Add(Verdict.Ng, "ng", Verdict.Ng, "ng");
        for (int i = 0; i < 5; i++) s.Add(Verdict.Ng, "ng", Verdict.Ok, "ok");
        for (int i = 0; i < 10; i++) s.Add(Verdict.Ok, "ok", Verdict.Ng, "ng");
        for (int i = 0; i < 15; i++) s.Add(Verdict.Ok, "ok", Verdict.Ok, "ok");
        var r = s.Report();
        Assert.Equal(0.4, r.Kappa, 9);
        Assert.Equal(50, r.PairedParts);
        Assert.Equal(0.7, r.Agreement, 9);
        Assert.Equal((20L, 10L, 5L, 15L), (r.VerdictTruePositives, r.VerdictFalsePositives, r.VerdictFalseNegatives, r.VerdictTrueNegatives));
    }

    [Fact]
    public void Report_PerClass_PrecisionRecallF1FromConfusion()
    {
        var s = new ShadowStatistics();
        for (int i = 0; i < 8; i++) s.Add(Verdict.Ng, "scratch", Verdict.Ng, "scratch");
        for (int i = 0; i < 2; i++) s.Add(Verdict.Ng, "scratch", Verdict.Ng, "dent");
        for (int i = 0; i < 4; i++) s.Add(Verdict.Ng, "dent", Verdict.Ng, "dent");
        for (int i = 0; i < 6; i++) s.Add(Verdict.Ok, "ok", Verdict.Ok, "ok");
        var r = s.Report();
        Assert.Equal(["ok", "dent", "scratch"], r.Classes);
        var scratch = r.PerClass.Single(c => c.ClassName == "scratch");
        Assert.Equal(1.0, scratch.Precision, 9);
        Assert.Equal(0.8, scratch.Recall, 9);
        Assert.Equal(2 * 0.8 / 1.8, scratch.F1, 9);
        var dent = r.PerClass.Single(c => c.ClassName == "dent");
        Assert.Equal(4.0 / 6, dent.Precision, 9);
        Assert.Equal(1.0, dent.Recall, 9);
        Assert.Equal(2, r.Confusion[2, 1]); // human scratch, model dent
        Assert.Equal(20, r.VerdictAgreements);
    }

    [Fact]
    public void Table_NoPairs_SaysNoPairedPartsYetInsteadOfZeroAgreement()
    {
        var r = new ShadowStatistics().Report();

        string table = ShadowReportFormat.Table(r);
        using var json = System.Text.Json.JsonDocument.Parse(ShadowReportFormat.Json(r));

        Assert.Contains("no paired parts yet", table, StringComparison.Ordinal);
        Assert.DoesNotContain("%", table, StringComparison.Ordinal);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, json.RootElement.GetProperty("agreement").ValueKind);
        Assert.StartsWith("no paired parts yet", json.RootElement.GetProperty("note").GetString(), StringComparison.Ordinal);
    }
}
