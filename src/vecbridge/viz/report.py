"""One self-contained HTML report: interactive plots and metric tables in a single file.

The plot data travel inside the page as JSON and a short inline script (written
here, no library) draws each panel into SVG when the page opens: points with
their keys as tooltips, links between paired points, a legend whose entries
hide and show a series, and a switch for the text labels. Nothing is fetched
from the network; the file can be mailed or archived as it is. The tables are
plain HTML, readable without JavaScript.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import check_writable, write_text_atomic
from ..errors import VecbridgeError
from .plots import Panel

Table = tuple[str, list[dict[str, Any]]]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .sub{color:#666;font-size:13px}
.panels{display:flex;flex-wrap:wrap;gap:18px} .panel{border:1px solid #ddd;border-radius:6px;padding:6px;background:#fff}
.panel > div > svg{display:block} .legend{padding:2px 4px} .legend span{cursor:pointer;margin-right:14px;font-size:12px;user-select:none;white-space:nowrap}
.legend svg{display:inline;vertical-align:middle}
.legend span.off{opacity:.35;text-decoration:line-through} .controls{margin:8px 0;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 14px} caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} th{background:#f4f4f4} td.t,th.t{text-align:left}
.hover{font-size:12px;color:#333;min-height:16px;padding:2px 4px} ul.notes{font-size:13px;color:#444}
"""

# Draws every panel of DATA into SVG; sets body[data-points-drawn] so a headless browser can check it ran.
_JS = r"""
(function(){
  var NS="http://www.w3.org/2000/svg";
  var DATA=JSON.parse(document.getElementById("vb-data").textContent);
  var W=560,H=500,M={l:58,r:16,t:36,b:48};
  function el(tag,attrs,parent){var e=document.createElementNS(NS,tag);
    for(var k in attrs){e.setAttribute(k,attrs[k]);} if(parent){parent.appendChild(e);} return e;}
  function marker(shape,x,y,r,color,g){
    if(shape==="^"){return el("path",{d:"M"+x+","+(y-r*1.2)+"L"+(x+r*1.1)+","+(y+r*0.8)+"L"+(x-r*1.1)+","+(y+r*0.8)+"Z",fill:color,"class":"pt"},g);}
    if(shape==="s"){return el("rect",{x:x-r,y:y-r,width:2*r,height:2*r,fill:color,"class":"pt"},g);}
    return el("circle",{cx:x,cy:y,r:r,fill:color,"class":"pt"},g);}
  var drawn=0, showLabels=DATA.labels;
  DATA.panels.forEach(function(p,pi){
    var box=document.getElementById("panel-"+pi);
    var svg=el("svg",{width:W,height:H,viewBox:"0 0 "+W+" "+H,role:"img","aria-label":p.title});
    box.appendChild(svg);
    var xs=[],ys=[]; p.series.forEach(function(s){s.xy.forEach(function(q){xs.push(q[0]);ys.push(q[1]);});});
    var x0=Math.min.apply(null,xs),x1=Math.max.apply(null,xs),y0=Math.min.apply(null,ys),y1=Math.max.apply(null,ys);
    if(x1-x0<1e-12){x0-=1;x1+=1;} if(y1-y0<1e-12){y0-=1;y1+=1;}
    var px=(x1-x0)*0.06,py=(y1-y0)*0.06; x0-=px;x1+=px;y0-=py;y1+=py;
    function sx(v){return M.l+(v-x0)/(x1-x0)*(W-M.l-M.r);} function sy(v){return H-M.b-(v-y0)/(y1-y0)*(H-M.t-M.b);}
    el("rect",{x:M.l,y:M.t,width:W-M.l-M.r,height:H-M.t-M.b,fill:"#fcfcfc",stroke:"#bbb"},svg);
    for(var i=0;i<=4;i++){var gx=x0+(x1-x0)*i/4,gy=y0+(y1-y0)*i/4;
      el("line",{x1:sx(gx),x2:sx(gx),y1:M.t,y2:H-M.b,stroke:"#eee"},svg); el("line",{x1:M.l,x2:W-M.r,y1:sy(gy),y2:sy(gy),stroke:"#eee"},svg);
      var tx=el("text",{x:sx(gx),y:H-M.b+14,"font-size":10,"text-anchor":"middle",fill:"#666"},svg); tx.textContent=gx.toPrecision(2);
      var ty=el("text",{x:M.l-4,y:sy(gy)+3,"font-size":10,"text-anchor":"end",fill:"#666"},svg); ty.textContent=gy.toPrecision(2);}
    var words=p.title.split(" "),lines=[""];
    words.forEach(function(w){var cur=lines[lines.length-1]; if(cur&&(cur+" "+w).length>64){lines.push(w);}else{lines[lines.length-1]=cur?cur+" "+w:w;}});
    lines.slice(0,2).forEach(function(line,li){var t=el("text",{x:W/2,y:(lines.length>1?14:20)+li*15,"font-size":13,"font-weight":600,"text-anchor":"middle"},svg); t.textContent=line;});
    var xl=el("text",{x:(M.l+W-M.r)/2,y:H-10,"font-size":12,"text-anchor":"middle"},svg); xl.textContent=p.xlabel;
    var yl=el("text",{x:14,y:(M.t+H-M.b)/2,"font-size":12,"text-anchor":"middle",transform:"rotate(-90 14 "+((M.t+H-M.b)/2)+")"},svg); yl.textContent=p.ylabel;
    var linkG=el("g",{"class":"links"},svg); var groups=[];
    p.links.forEach(function(lk){var a=p.series[lk[0]],b=p.series[lk[1]];
      a.xy.forEach(function(q,r){var w=b.xy[r]; el("line",{x1:sx(q[0]),y1:sy(q[1]),x2:sx(w[0]),y2:sy(w[1]),stroke:"#999","stroke-width":0.7,"stroke-opacity":0.6,"data-a":lk[0],"data-b":lk[1]},linkG);});});
    var hover=document.getElementById("hover-"+pi);
    p.series.forEach(function(s,si){
      var g=el("g",{"class":"series","data-series":si},svg); groups.push(g);
      s.xy.forEach(function(q,r){var m=marker(s.marker,sx(q[0]),sy(q[1]),4.2,s.color,g);
        m.setAttribute("stroke","#fff"); m.setAttribute("stroke-width","0.6"); drawn++;
        var tt=el("title",{},m); tt.textContent=s.name+": "+s.keys[r];
        m.addEventListener("mouseenter",function(){hover.textContent=s.name+": "+s.keys[r]+"  ("+q[0].toFixed(3)+", "+q[1].toFixed(3)+")";});
        var lab=el("text",{x:sx(q[0])+5,y:sy(q[1])-4,"font-size":10,fill:s.color,"class":"lab"},g); lab.textContent=s.keys[r];
        if(!showLabels){lab.setAttribute("display","none");}});});
    var leg=document.getElementById("legend-"+pi);
    p.series.forEach(function(s,si){var sp=document.createElement("span");
      sp.innerHTML='<svg width="12" height="12"><rect width="12" height="12" fill="'+s.color+'"/></svg> ';
      sp.appendChild(document.createTextNode(s.name+" ("+s.keys.length+")")); sp.title="click to hide or show";
      sp.addEventListener("click",function(){var off=sp.classList.toggle("off");
        groups[si].setAttribute("display",off?"none":"inline");
        linkG.querySelectorAll("line").forEach(function(l){var hid=[+l.getAttribute("data-a"),+l.getAttribute("data-b")].some(function(j){return groups[j].getAttribute("display")==="none";});
          l.setAttribute("display",hid?"none":"inline");});});
      leg.appendChild(sp);});
  });
  var cb=document.getElementById("labels-toggle");
  if(cb){cb.checked=showLabels; cb.addEventListener("change",function(){
    document.querySelectorAll("text.lab").forEach(function(e){e.setAttribute("display",cb.checked?"inline":"none");});});}
  document.body.setAttribute("data-points-drawn",String(drawn));
})();
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "–"
        return f"{float(v):.3f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def html_table(caption: str, rows: Sequence[dict[str, Any]]) -> str:
    """An HTML table of ``rows`` (dicts; the columns are the union of their keys, in first-seen order)."""
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    out = [f"<table><caption>{html.escape(caption)}</caption><thead><tr>"]
    out += [f'<th class="t">{html.escape(str(c))}</th>' if i == 0 else f"<th>{html.escape(str(c))}</th>"
            for i, c in enumerate(cols)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        cells = []
        for i, c in enumerate(cols):
            v = r.get(c)
            cls = ' class="t"' if i == 0 or isinstance(v, str) else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _panel_json(p: Panel) -> dict[str, Any]:
    return {
        "title": p.title, "xlabel": p.xlabel, "ylabel": p.ylabel, "links": [list(x) for x in p.links],
        "series": [{"name": s.name, "keys": list(s.keys), "color": s.color, "marker": s.marker,
                    "xy": np.round(s.xy, 5).tolist()} for s in p.series],
    }


def html_document(
    panels: Sequence[Panel],
    *,
    title: str = "vecbridge report",
    subtitle: str = "",
    tables: Sequence[Table] = (),
    notes: Sequence[str] = (),
) -> str:
    """The report as one HTML string (no external resources).

    ``tables``: ``(caption, rows)`` pairs; ``notes``: lines listed under the tables.
    """
    labels = all(p.labels for p in panels) if panels else False
    data = {"panels": [_panel_json(p) for p in panels], "labels": labels}
    # JSON inside a script element: keep "</" from closing it early
    payload = json.dumps(data, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<div class="sub">{html.escape(subtitle)}</div>' if subtitle else "",
    ]
    if panels:
        total = sum(p.n_points for p in panels)
        parts.append(f'<h2>Plots</h2><div class="controls"><label><input type="checkbox" id="labels-toggle"> '
                     f"show labels</label> &middot; {total} points; hover a point for its key, click a legend entry "
                     "to hide or show its series</div>")
        parts.append('<noscript><p>The plots are drawn by JavaScript; enable it to see them. '
                     "The tables below do not need it.</p></noscript>")
        parts.append('<div class="panels">')
        for i in range(len(panels)):
            parts.append(f'<div class="panel"><div id="panel-{i}"></div><div class="legend" id="legend-{i}"></div>'
                         f'<div class="hover" id="hover-{i}"></div></div>')
        parts.append("</div>")
    if tables:
        parts.append("<h2>Metrics</h2>")
        parts += [html_table(caption, rows) for caption, rows in tables]
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append(f'<script type="application/json" id="vb-data">{payload}</script>')
    parts.append(f"<script>{_JS}</script>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def render_html(
    panels: Sequence[Panel],
    path: str | os.PathLike,
    *,
    title: str = "vecbridge report",
    subtitle: str = "",
    tables: Sequence[Table] = (),
    notes: Sequence[str] = (),
    overwrite: bool = False,
) -> Path:
    """Write :func:`html_document` to ``path``; refuses to replace a file unless ``overwrite``."""
    path = Path(path)
    check_writable(path, overwrite)  # an existing file (without overwrite), a folder
    if not path.parent.is_dir():
        raise VecbridgeError(f"cannot write {path}: folder {path.parent} does not exist")
    text = html_document(panels, title=title, subtitle=subtitle, tables=tables, notes=notes)
    write_text_atomic(path, text, overwrite=overwrite)  # a temporary file beside it, renamed; removed on failure
    return path


def map_report(
    translator: Any,
    src: Any,
    tgt: Any,
    *,
    words: Sequence[str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    test_pairs: Sequence[tuple[str, str]] | None = None,
    sample: int = 300,
    projection: str = "pca",
    retrieval: str = "nn",
    structure: bool = False,
    labels: bool | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> tuple[list[Panel], list[Table], list[str]]:
    """Panels, tables and notes describing a fitted map on two spaces.

    Plots: :func:`~vecbridge.viz.plots.before_after_panels` of the chosen words
    (``words`` / ``pairs`` / a sample of ``sample`` shared keys). Tables: the
    map (method, dimensions, pairs, normalisation), its evaluation
    (dictionary P@k on ``test_pairs`` when given, else the hit rate over the
    shared keys, by :func:`vecbridge.evaluation.evaluate_translator`) and, with
    ``structure``, analogy / WordSim353 / SimLex-999 scores of the source, the
    target and the translated source. ``labels``: show the keys next to the points
    when the page opens (True / False; None: when at most 60 pairs are plotted);
    the page's switch turns them on and off either way.
    """
    from ..evaluation import evaluate_translator, fitted_without_pairs, method_label, normalisation_label
    from .plots import before_after_panels

    panels, info = before_after_panels(src, tgt, translator, words=words, pairs=pairs, sample=sample,
                                       projection=projection, labels=labels, seed=seed)
    fit = getattr(translator, "fit_info_", {}) or {}
    map_row = {
        "method": method_label(translator),  # an auto map: "procrustes (chosen by auto)"
        "source": f"{src.describe()} ({src.dim}-d, {len(src)} keys)",
        "target": f"{tgt.describe()} ({tgt.dim}-d, {len(tgt)} keys)",
        "fitted on pairs": fit.get("n_pairs"),
        "pairs from": fit.get("pairs_from"),
        "normalisation": normalisation_label(translator),  # an auto map: the chosen map's (auto's own is none)
    }
    tables: list[Table] = [("The map", [map_row])]
    ev = evaluate_translator(translator, src, tgt, pairs=test_pairs, retrieval=retrieval, progress=progress)
    keep = {k: v for k, v in ev.items() if isinstance(v, (int, float, str)) or v is None}
    keep.pop("chosen_method", None)
    keep["method"] = map_row["method"]  # the method that made the figures, as in the map's table
    tables.append((f"Evaluation ({ev.get('mode')}, retrieval {retrieval})", [keep]))
    notes = [f"{info['n_plotted']} pairs plotted by {projection.upper()}"
             + (f"; {info['n_skipped']} chosen words missing from a space (e.g. {', '.join(info['skipped_examples'][:5])})"
                if info["n_skipped"] else "")]
    if ev.get("mode") == "hit_rate" and not fitted_without_pairs(translator):  # a pairless map saw no key pair
        notes.append("Hit rate is measured over every key both spaces share, including the keys the map was fitted "
                     "on: an optimistic figure. Pass held-out pairs for an honest one.")
    if structure:
        from ..apps.structure import load_structure_data, structure_row, structure_scores

        data = load_structure_data()
        rows = []
        for name, emb in (("source", src), ("target", tgt), ("translated source", translator.transform(src))):
            rows.append({"space": name, "dim": emb.dim, **structure_row(structure_scores(emb, data))})
        tables.append(("Structure: analogies (3CosAdd, top 30k words) and word similarity (Spearman)", rows))
    return panels, tables, notes


def write_map_report(
    map_dir: str | os.PathLike,
    src: Any,
    tgt: Any,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    overwrite: bool = False,
    translator: Any = None,
    **kwargs: Any,
) -> Path:
    """Load the map saved in ``map_dir`` (or take ``translator``, the map already loaded from there) and write its
    report to ``path`` (see :func:`map_report` for the other options, ``labels`` among them)."""
    from ..evaluation import method_label
    from ..translators import load_translator

    if translator is None:
        translator = load_translator(map_dir)
    panels, tables, notes = map_report(translator, src, tgt, **kwargs)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    sub = f"map {map_dir} · {src.describe()} → {tgt.describe()} · written {stamp}"
    return render_html(panels, path, title=title or f"vecbridge map report: {method_label(translator)}", subtitle=sub,
                       tables=tables, notes=notes, overwrite=overwrite)


__all__ = ["html_table", "html_document", "render_html", "map_report", "write_map_report"]
