using EdgeInspect.Core.Domain;

namespace EdgeInspect.Core.Shadow;

/// <summary>Precision, recall and F1 of one class, the human taken as the reference.</summary>
public sealed record ClassStatistics(string ClassName, long Support, long Predicted, long TruePositives, double Precision, double Recall, double F1);

/// <summary>
/// Model-versus-human statistics over paired parts. The human is the reference ("truth") and the model the
/// prediction: rows of <see cref="Confusion"/> are human classes, columns model classes.
/// </summary>
public sealed record ShadowReport(
    long PairedParts,
    long VerdictAgreements,
    double Agreement,
    double AgreementLower,
    double AgreementUpper,
    double Kappa,
    IReadOnlyList<string> Classes,
    long[,] Confusion,
    IReadOnlyList<ClassStatistics> PerClass,
    long VerdictTruePositives,
    long VerdictFalsePositives,
    long VerdictFalseNegatives,
    long VerdictTrueNegatives);

/// <summary>Accumulates paired verdicts; pure arithmetic, no clock, no IO.</summary>
public sealed class ShadowStatistics
{
    private readonly List<string> _classes = [];
    private readonly Dictionary<(string Human, string Model), long> _pairs = [];
    private long _n, _agree, _tp, _fp, _fn, _tn;

    /// <summary>Adds one part that has both verdicts. Classes are "ok" or a defect class name.</summary>
    public void Add(Verdict human, string? humanClass, Verdict model, string? modelClass)
    {
        string h = humanClass ?? (human == Verdict.Ok ? "ok" : "ng");
        string m = modelClass ?? (model == Verdict.Ok ? "ok" : "ng");
        if (!_classes.Contains(h)) _classes.Add(h);
        if (!_classes.Contains(m)) _classes.Add(m);
        _pairs[(h, m)] = _pairs.GetValueOrDefault((h, m)) + 1;
        _n++;
        if (human == model) _agree++;
        // NG is the positive class: the model "detects" what the human rejected.
        if (human == Verdict.Ng && model == Verdict.Ng) _tp++;
        else if (human == Verdict.Ok && model == Verdict.Ng) _fp++;
        else if (human == Verdict.Ng && model == Verdict.Ok) _fn++;
        else _tn++;
    }

    /// <summary>Adds every stored record that carries both a human and a model verdict.</summary>
    public void AddRange(IEnumerable<InspectionRecord> records)
    {
        foreach (var r in records) Add(r);
    }

    /// <summary>Adds one stored part when it has both verdicts; a part without both is not a pair and is skipped.</summary>
    public void Add(InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.HumanVerdict is { } h && record.ModelVerdict is { } m) Add(h, record.HumanClass, m, record.ModelClass);
    }

    public long Paired => _n;
    public long Agreements => _agree;

    public ShadowReport Report()
    {
        // "ok" first, then the defect classes alphabetically, so tables read the same every time.
        var classes = _classes.OrderBy(c => c == "ok" ? 0 : 1).ThenBy(c => c, StringComparer.Ordinal).ToList();
        int k = classes.Count;
        var cm = new long[k, k];
        foreach (var ((h, m), count) in _pairs) cm[classes.IndexOf(h), classes.IndexOf(m)] = count;

        var per = new List<ClassStatistics>(k);
        long diag = 0;
        for (int i = 0; i < k; i++)
        {
            long tp = cm[i, i], support = 0, predicted = 0;
            for (int j = 0; j < k; j++) { support += cm[i, j]; predicted += cm[j, i]; }
            diag += tp;
            double p = predicted == 0 ? 0 : (double)tp / predicted;
            double r = support == 0 ? 0 : (double)tp / support;
            double f1 = p + r == 0 ? 0 : 2 * p * r / (p + r);
            per.Add(new ClassStatistics(classes[i], support, predicted, tp, p, r, f1));
        }

        // Cohen's kappa on the class matrix (J. Cohen, "A coefficient of agreement for nominal scales", 1960):
        // (p_o - p_e) / (1 - p_e), with p_e from the row and column marginals.
        double kappa = 0;
        if (_n > 0)
        {
            double po = (double)diag / _n, pe = 0;
            foreach (var c in per) pe += (double)c.Support / _n * ((double)c.Predicted / _n);
            kappa = pe >= 1 ? (po >= 1 ? 1 : 0) : (po - pe) / (1 - pe);
        }

        var (lo, hi) = Wilson.Interval(_agree, _n);
        return new ShadowReport(_n, _agree, _n == 0 ? 0 : (double)_agree / _n, lo, hi, kappa, classes, cm, per, _tp, _fp, _fn, _tn);
    }
}
