using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using Npgsql;
using NpgsqlTypes;

namespace EdgeInspect.Cloud.Datasets;

/// <summary>
/// <c>edgeinspect-cloud dataset export</c>: the part images the ingest stored, with their records, as a Pascal VOC
/// folder that <c>tools/train</c> reads (<c>images/</c>, <c>annotations/*.xml</c>, <c>train.txt</c>, <c>val.txt</c>).
/// <para>
/// The image's label is the human verdict (<c>&lt;label&gt;</c>, <c>&lt;humanClass&gt;</c>); the model's boxes are
/// pre-labels for review. On a part the human passed, the model's boxes are false alarms: they are kept under
/// <c>&lt;prelabels&gt;</c> (the trainer does not read them) and the image is a negative. On a part the human failed,
/// they become <c>&lt;object&gt;</c>s named with the human's class, each marked <c>&lt;prelabel&gt;model&lt;/prelabel&gt;</c>.
/// A failed part the model drew no box on, or a part no human judged, cannot be trained on until someone draws or
/// judges it: it is written but listed in <c>review.txt</c>, not in the splits.
/// </para>
/// </summary>
public static class DatasetExport
{
    /// <summary>The kinds of export: disagreements only, or every kept image.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["disagreement", "all"];

    /// <summary>What an export wrote.</summary>
    /// <param name="Images">Images written.</param>
    /// <param name="Train">Listed in train.txt.</param>
    /// <param name="Val">Listed in val.txt.</param>
    /// <param name="Review">Listed in review.txt (no usable label or box yet).</param>
    /// <param name="WithoutRecord">Images whose record is not in the database (yet): skipped.</param>
    /// <param name="Missing">Images recorded whose file is not under the image root: skipped.</param>
    public sealed record Summary(int Images, int Train, int Val, int Review, int WithoutRecord, int Missing);

    /// <summary>Every fifth trainable image goes to val (at least one once there are two).</summary>
    private const int ValEvery = 5;

    /// <summary>Exports images captured since <paramref name="since"/> of <paramref name="kind"/> into <paramref name="outDir"/>.</summary>
    public static async Task<Summary> RunAsync(NpgsqlDataSource db, string imageRoot, DateTimeOffset since, string kind, string outDir, CancellationToken ct = default)
    {
        if (!Kinds.Contains(kind)) throw new ArgumentException($"--kind must be one of {string.Join(", ", Kinds)}");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
        {
            throw new ArgumentException($"--out {outDir} is not empty: an export never mixes with an earlier one");
        }
        var images = Path.Combine(outDir, "images");
        var annotations = Path.Combine(outDir, "annotations");
        Directory.CreateDirectory(images);
        Directory.CreateDirectory(annotations);
        // captured_at narrows the join to the record's partitions (the image's time is the frame's, to the millisecond).
        await using var cmd = db.CreateCommand("""
            SELECT i.device_id, i.store_epoch, i.sequence, i.reason, i.captured_at, i.path, r.body::text
            FROM part_images i
            LEFT JOIN records r ON r.device_id = i.device_id AND r.store_epoch = i.store_epoch AND r.sequence = i.sequence
                AND r.captured_at BETWEEN i.captured_at - interval '1 second' AND i.captured_at + interval '1 second'
            WHERE i.captured_at >= @since AND (@kind = 'all' OR i.reason = @kind)
            ORDER BY i.captured_at, i.device_id, i.store_epoch, i.sequence
            """);
        cmd.Parameters.AddWithValue("since", NpgsqlDbType.TimestampTz, since.UtcDateTime);
        cmd.Parameters.AddWithValue("kind", kind);
        var trainable = new List<string>();
        var review = new List<string>();
        int written = 0, withoutRecord = 0, missing = 0;
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                if (r.IsDBNull(6)) { withoutRecord++; continue; }
                var device = r.GetString(0);
                var epoch = r.GetString(1);
                var sequence = r.GetInt64(2);
                var source = Path.Combine(imageRoot, r.GetString(5));
                if (!File.Exists(source)) { missing++; continue; }
                var record = JsonSerializer.Deserialize<InspectionRecord>(r.GetString(6), RecordJson.Options)!;
                var stem = string.Create(CultureInfo.InvariantCulture, $"{device}_{epoch}_{sequence}");
                var jpeg = await File.ReadAllBytesAsync(source, ct);
                await File.WriteAllBytesAsync(Path.Combine(images, stem + ".jpg"), jpeg, ct);
                var (xml, usable) = Annotation(stem, device, epoch, sequence, r.GetString(3), r.GetFieldValue<DateTimeOffset>(4), record, JpegSize.Read(jpeg));
                xml.Save(Path.Combine(annotations, stem + ".xml"));
                (usable ? trainable : review).Add(stem + ".jpg");
                written++;
            }
        }
        var val = trainable.Where((_, i) => i % ValEvery == ValEvery - 1).ToList();
        if (val.Count == 0 && trainable.Count >= 2) val.Add(trainable[^1]);
        var train = trainable.Except(val).ToList();
        await File.WriteAllLinesAsync(Path.Combine(outDir, "train.txt"), train, ct);
        await File.WriteAllLinesAsync(Path.Combine(outDir, "val.txt"), val, ct);
        await File.WriteAllLinesAsync(Path.Combine(outDir, "review.txt"), review, ct);
        return new Summary(written, train.Count, val.Count, review.Count, withoutRecord, missing);
    }

    /// <summary>The VOC annotation of one image, and whether it can be trained on as it is.</summary>
    internal static (XDocument Xml, bool Usable) Annotation(string stem, string device, string epoch, long sequence, string reason,
        DateTimeOffset capturedAt, InspectionRecord record, (int Width, int Height)? size)
    {
        static string Lower(Verdict? v) => v?.ToString().ToLowerInvariant() ?? "none";
        static string F(float v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        var boxes = record.Regions.Where(g => !g.WholeFrame).ToList();
        var humanNg = record.HumanVerdict == Verdict.Ng;
        XElement Box(Region g, string name) => new("object",
            new XElement("name", name),
            new XElement("pose", "Unspecified"),
            new XElement("truncated", 0),
            new XElement("difficult", 0),
            new XElement("prelabel", "model"),
            new XElement("score", F(g.Score)),
            new XElement("bndbox",
                new XElement("xmin", F(g.Box.X1)), new XElement("ymin", F(g.Box.Y1)),
                new XElement("xmax", F(g.Box.X2)), new XElement("ymax", F(g.Box.Y2))));
        var root = new XElement("annotation",
            new XElement("folder", "images"),
            new XElement("filename", stem + ".jpg"),
            new XElement("source",
                new XElement("database", "edgeinspect"),
                new XElement("device", device),
                new XElement("storeEpoch", epoch),
                new XElement("sequence", sequence),
                new XElement("capturedAt", capturedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
                new XElement("keptFor", reason),
                new XElement("model", $"{record.ModelName} {record.ModelVersion}".Trim())),
            new XElement("size",
                new XElement("width", size?.Width ?? 0), new XElement("height", size?.Height ?? 0), new XElement("depth", 3)),
            new XElement("segmented", 0),
            new XElement("label", Lower(record.HumanVerdict)),
            new XElement("humanClass", record.HumanClass ?? ""),
            new XElement("modelVerdict", Lower(record.ModelVerdict)),
            new XElement("modelClass", record.ModelClass ?? ""),
            new XElement("modelConfidence", record.ModelConfidence is { } c ? F(c) : ""));
        if (humanNg)
        {
            foreach (var g in boxes) root.Add(Box(g, record.HumanClass ?? g.ClassName ?? "defect"));
        }
        else if (boxes.Count > 0)
        {
            root.Add(new XElement("prelabels", boxes.Select(g => Box(g, g.ClassName ?? "defect"))));
        }
        var usable = record.HumanVerdict == Verdict.Ok || (humanNg && boxes.Count > 0);
        return (new XDocument(root), usable);
    }
}
