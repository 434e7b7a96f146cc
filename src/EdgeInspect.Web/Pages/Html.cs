using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace EdgeInspect.Web.Pages;

/// <summary>The page frame (title, navigation, a small phone-first style sheet) and HTML escaping.</summary>
public static class Html
{
    private static readonly (string Path, string Label)[] Nav =
        [("/", "Live"), ("/mode", "Mode"), ("/shadow", "Shadow"), ("/health", "Health"), ("/audit", "Audit")];

    private const string Style = """
        body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
        header{background:#1b1f24;color:#fff;padding:.5rem .8rem;display:flex;flex-wrap:wrap;gap:.8rem;align-items:center}
        header a{color:#cfd6df;text-decoration:none;padding:.3rem .2rem}header a.on{color:#fff;border-bottom:2px solid #ffb300}
        header .who{margin-left:auto;font-size:.85rem}
        main{padding:.8rem;max-width:60rem;margin:auto}
        section{background:#fff;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0;box-shadow:0 1px 2px #0002}
        table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #ddd;padding:.25rem .4rem;text-align:left}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        img.live{width:100%;max-width:40rem;image-rendering:auto;border-radius:4px}
        .ok{color:#1b7a2b}.ng{color:#b00020}.refused{background:#fde7ea;border-left:4px solid #b00020}.done{background:#e6f4ea;border-left:4px solid #1b7a2b}
        .big{font-size:1.6rem;font-weight:600}
        input,select,button{font-size:1rem;padding:.45rem;margin:.2rem 0;max-width:100%}button{background:#1b1f24;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem}
        svg{width:100%;height:auto;background:#fafbfc}figure{margin:.4rem 0}.muted{color:#666;font-size:.85rem}
        """;

    /// <summary>HTML-escapes any text (names, reasons, class names: all may carry markup).</summary>
    public static string E(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    /// <summary>A number with invariant formatting.</summary>
    public static string N(double value, string format = "0.###") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A whole page: <paramref name="body"/> is already escaped HTML.</summary>
    public static string Page(string title, string path, string body, string? user, string? script = null)
    {
        var sb = new StringBuilder(4096);
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
        sb.Append("<title>").Append(E(title)).Append(" - EdgeInspect</title><style>").Append(Style).Append("</style></head><body><header><strong>EdgeInspect</strong>");
        foreach (var (href, label) in Nav)
            sb.Append("<a href=\"").Append(href).Append('"').Append(href == path ? " class=\"on\"" : "").Append('>').Append(label).Append("</a>");
        sb.Append("<span class=\"who\">").Append(user is null ? "<a href=\"/login\">Log in</a>" : "technician " + E(user)).Append("</span></header><main>");
        sb.Append(body).Append("</main>");
        if (script is not null) sb.Append("<script>").Append(script).Append("</script>");
        sb.Append("</body></html>");
        return sb.ToString();
    }
}
