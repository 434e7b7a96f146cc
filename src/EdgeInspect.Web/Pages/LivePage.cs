using System.Text;
using EdgeInspect.Web.Live;

namespace EdgeInspect.Web.Pages;

/// <summary>The live page: the newest frame with its boxes, its verdict, who decided it and the latency; updated by server-sent events.</summary>
public static class LivePage
{
    // Builds the regions table with textContent only, so nothing from an event is parsed as markup.
    private const string Script = """
        const img=document.getElementById('live-img');
        function show(p){
          const next=new Image();
          next.onload=()=>{img.src=next.src;img.dataset.seq=p.seq;
            for(const k of ['seq','partId','verdict','source','mode','latencyMs','model','confidence','failReason']){
              const el=document.getElementById('f-'+k);if(el)el.textContent=p[k]??'';}
            document.getElementById('f-verdict').className='big '+p.verdict;
            const body=document.getElementById('regions');body.replaceChildren();
            for(const g of p.regions){const tr=document.createElement('tr');tr.dataset.box=[g.x1,g.y1,g.x2,g.y2].join(',');tr.dataset.cls=g.cls;
              for(const v of [g.cls,g.score.toFixed(2),Math.round(g.x1)+','+Math.round(g.y1)+' - '+Math.round(g.x2)+','+Math.round(g.y2)]){
                const td=document.createElement('td');td.textContent=v;tr.appendChild(td);}
              body.appendChild(tr);}
            document.getElementById('live').dataset.seq=p.seq;};
          next.src='/live/frame/'+p.seq+'.jpg';}
        const es=new EventSource('/live/events');es.onmessage=e=>show(JSON.parse(e.data));
        """;

    /// <summary>The page with the newest encoded frame, if any, already in it.</summary>
    public static string Render(StationContext station, string? user)
    {
        var frame = station.Encoder.Latest;
        var r = frame?.Record;
        var sb = new StringBuilder();
        sb.Append("<section id=\"live\" data-seq=\"").Append(r?.Sequence ?? 0).Append("\">");
        sb.Append("<img id=\"live-img\" class=\"live\" alt=\"newest part\" data-seq=\"").Append(r?.Sequence ?? 0).Append("\" src=\"")
            .Append(r is null ? "data:," : $"/live/frame/{r.Sequence}.jpg").Append("\">");
        string verdict = r is null ? "" : Metrics.MetricsExporter.Wire(r.Verdict);
        sb.Append("<p><span id=\"f-verdict\" class=\"big ").Append(verdict).Append("\">").Append(Html.E(verdict)).Append("</span> decided by <strong id=\"f-source\">")
            .Append(r is null ? "" : Metrics.MetricsExporter.Wire(r.VerdictSource)).Append("</strong></p><table>");
        Row(sb, "part", "f-partId", r?.PartId);
        Row(sb, "sequence", "f-seq", r?.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Row(sb, "mode", "f-mode", r?.Mode.ToString().ToLowerInvariant());
        Row(sb, "latency (ms)", "f-latencyMs", r is null ? null : Html.N(r.LatencyMs.GetValueOrDefault("total"), "0.00"));
        Row(sb, "model", "f-model", r?.ModelName is null ? null : $"{r.ModelName} {r.ModelVersion}");
        Row(sb, "model confidence", "f-confidence", r?.ModelConfidence is { } c ? Html.N(c, "0.00") : null);
        Row(sb, "fail-safe reason", "f-failReason", r?.FailReason);
        sb.Append("</table></section><section><h3>Regions</h3><table><thead><tr><th>class</th><th>score</th><th>box</th></tr></thead><tbody id=\"regions\">");
        if (r is not null)
        {
            foreach (var g in LivePayload.Drawn(r))
            {
                var b = g.Box;
                sb.Append("<tr data-box=\"").Append(Html.N(b.X1, "R")).Append(',').Append(Html.N(b.Y1, "R")).Append(',').Append(Html.N(b.X2, "R")).Append(',').Append(Html.N(b.Y2, "R"))
                    .Append("\" data-cls=\"").Append(Html.E(g.ClassName ?? "region")).Append("\"><td>").Append(Html.E(g.ClassName ?? "region")).Append("</td><td>")
                    .Append(Html.N(g.ClassName is null ? g.Score : g.ClassConfidence, "0.00")).Append("</td><td>")
                    .Append(Html.N(b.X1, "0")).Append(',').Append(Html.N(b.Y1, "0")).Append(" - ").Append(Html.N(b.X2, "0")).Append(',').Append(Html.N(b.Y2, "0")).Append("</td></tr>");
            }
        }
        sb.Append("</tbody></table><p class=\"muted\">Updated live, at most ").Append(Html.N(station.Options.LiveFps)).Append(" frames a second.</p></section>");
        return Html.Page("Live", "/", sb.ToString(), user, Script);
    }

    private static void Row(StringBuilder sb, string label, string id, string? value) =>
        sb.Append("<tr><th>").Append(label).Append("</th><td id=\"").Append(id).Append("\">").Append(Html.E(value)).Append("</td></tr>");
}
