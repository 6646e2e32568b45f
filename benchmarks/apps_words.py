"""Figures for docs/apps.md: merge, change of dimension, update with new text, plots (real data, CPU).

    .venv/bin/python benchmarks/apps_words.py --part all      # or merge | dimension | update | plots

Writes markdown tables and JSON under out/apps/ (and the PNG / HTML figures there);
docs/apps.md quotes the tables. Data: GloVe 6B 50d, gensim word2vec on BBC News, MiniLM-L6
single-word encodings of frequent GloVe words, the BBC News articles; all from vecbridge.datasets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine, markdown_table, today  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "out" / "apps"
STRUCT_COLS = ["analogy_acc", "analogy_n", "ws353_rho", "ws353_n", "simlex_rho", "simlex_n"]


def table(rows, cols):
    return markdown_table(cols, [[r.get(c) if r.get(c) is not None else "–" for c in cols] for r in rows])


def save(name: str, md: str, data) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.md").write_text(f"<!-- {today()} · {machine()} -->\n{md}\n", encoding="utf-8")
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    print(md, flush=True)


def merge_case(name, a, b, data, b_full=None, method="lstsq"):
    import numpy as np

    from vecbridge.apps.merge import evaluate_merged, merge_embeddings
    from vecbridge.apps.structure import structure_row, structure_scores
    from vecbridge.retrieval import nearest_neighbors

    t = time.perf_counter()
    res = merge_embeddings(a, b, method=method, normalize="unit center unit", holdout=0.1, seed=0)
    secs = time.perf_counter() - t
    ev = evaluate_merged(res, data)
    rows = [{"group": "B alone", **structure_row(structure_scores(b, data))}] + ev["rows"]
    h = res.info["holdout"]
    md = (f"**{name}**: A = {a.describe()} ({len(a):,} words, {a.dim}-d), B = {b.describe()} ({len(b):,} words, "
          f"{b.dim}-d); {method} on 'unit center unit' fitted on {res.translator.fit_info_['n_pairs']:,} shared "
          f"words; {res.info['n_translated']:,} A-only words translated in {secs:.1f} s.\n\n"
          f"Held-out check ({h['n_test_pairs']} shared words translated as if new): hit@1 {h['hit_at_1']:.3f}; "
          f"mean confidence {h['mean_confidence_hits'] or float('nan'):.3f} on hits, "
          f"{h['mean_confidence_misses'] or float('nan'):.3f} on misses.\n\n"
          + table(h["by_confidence"], ["band", "n", "hit_at_1"]) + "\n\n")
    truth = {}
    if b_full is not None:
        keys = [k for k in res.translated_keys if k in b_full.index]
        mine = res.merged.subset(keys).vectors
        idx, _ = nearest_neighbors(mine, b_full.vectors, k=1, progress=False)
        rows_true, _ = b_full.rows_of(keys)
        hit = idx[:, 0] == rows_true
        conf = res.confidence[[res.merged.index[k] for k in keys]]
        hi = conf >= np.median(conf)
        truth = {"n": len(keys), "hit_at_1": float(hit.mean()), "hit_at_1_upper_half_confidence": float(hit[hi].mean()),
                 "hit_at_1_lower_half_confidence": float(hit[~hi].mean())}
        md += (f"Truth check: {len(keys):,} translated words that B's full run ({len(b_full):,} words) does hold: "
               f"the translated vector's nearest word there is itself for {truth['hit_at_1']:.3f} of them "
               f"({truth['hit_at_1_upper_half_confidence']:.3f} in the upper half of confidence, "
               f"{truth['hit_at_1_lower_half_confidence']:.3f} in the lower half).\n\n")
        prov = res.provenance()
        same = structure_scores(b_full, data, select=lambda ws: any(prov.get(w) == "translated" for w in ws),
                                candidates=res.merged.keys)
        rows.append({"group": "B's full run, translated group's items", **structure_row(same)})
    md += table(rows, ["group"] + STRUCT_COLS)
    return md, {"info": res.info, "evaluation": rows, "seconds": secs, "truth": truth}


def part_merge(data):
    from vecbridge import datasets

    w100 = datasets.load("word2vec", corpus="bbc", dim=100, seed=1)
    w200 = datasets.load("word2vec", corpus="bbc", dim=200, seed=2)
    glove = datasets.load("glove", limit=40000)
    md1, d1 = merge_case("Same corpus, another run (vocabulary growth)", w100, w200.head(4000), data, b_full=w200)
    md2, d2 = merge_case("Other corpus (GloVe words into a BBC News model)", glove, w100, data)
    save("merge", md1 + "\n\n" + md2, {"same_corpus": d1, "other_corpus": d2})


def part_dimension(data):
    from vecbridge import datasets
    from vecbridge.apps.dimension import change_dimension

    minilm = datasets.load("glove-encoded", encoder="minilm-l6", n=20000)
    glove = datasets.load("glove", limit=100000).subset(minilm.keys)
    out = {}
    mds = []
    for name, src, tgt in (("384 -> 50 (MiniLM words into GloVe)", minilm, glove),
                           ("50 -> 384 (GloVe into MiniLM words)", glove, minilm)):
        t = time.perf_counter()
        res = change_dimension(src, tgt, method="lstsq", structure_data=data, test_fraction=0.2, seed=0)
        secs = time.perf_counter() - t
        out[name] = {"rows": res.rows, "info": res.info, "seconds": secs}
        mds.append(f"**{name}**: {res.info['n_train']:,} training words, {res.info['n_test']:,} held out "
                   f"({secs:.0f} s)\n\n" + table(res.rows, ["space", "dim", "hit_at_1", "hit_at_10"] + STRUCT_COLS))
    w300 = datasets.load("word2vec", corpus="bbc", dim=300, seed=1)
    w100 = datasets.load("word2vec", corpus="bbc", dim=100, seed=2)
    t = time.perf_counter()
    res = change_dimension(w300, w100, method="lstsq", structure_data=data, test_fraction=0.2, seed=0)
    secs = time.perf_counter() - t
    name = "300 -> 100 (word2vec on BBC News, seeds 1 and 2)"
    out[name] = {"rows": res.rows, "info": res.info, "seconds": secs}
    mds.append(f"**{name}**: {res.info['n_train']:,} training words, {res.info['n_test']:,} held out ({secs:.0f} s)\n\n"
               + table(res.rows, ["space", "dim", "hit_at_1", "hit_at_10"] + STRUCT_COLS))
    save("dimension", "\n\n".join(mds), out)


def bbc_tokens(topics):
    from vecbridge import datasets
    from vecbridge.apps.update import tokenize

    bbc = datasets.load("bbc")
    return [tokenize(t) for t, lab in zip(bbc.texts, bbc.labels) if lab in topics]


def part_update(data):
    from vecbridge import Embeddings
    from vecbridge.apps.update import compare_updates, train_word2vec, update_align, update_warmstart

    old_s = bbc_tokens({"business", "politics"})
    new_s = bbc_tokens({"tech"})
    t = time.perf_counter()
    kw = dict(sg=1, epochs=10, min_count=3)
    om = train_word2vec(old_s, vector_size=100, seed=1, **kw)
    old = Embeddings(list(om.wv.index_to_key), om.wv.vectors, {"name": "bbc business+politics"})
    timings = {"train old": time.perf_counter() - t}
    results = {}
    for name, fn in (("warmstart lockf=0 (vectors)", lambda: update_warmstart(old, new_s, lockf=0.0, seed=1, **kw)),
                     ("warmstart lockf=1 (vectors)", lambda: update_warmstart(old, new_s, lockf=1.0, seed=1, **kw)),
                     ("warmstart lockf=0.5 (full model)", lambda: update_warmstart(om, new_s, lockf=0.5, seed=1,
                                                                                  **kw)),
                     ("align (old words kept)", lambda: update_align(old, new_s, seed=1, **kw))):
        t = time.perf_counter()
        results[name] = fn()
        timings[name] = time.perf_counter() - t
    rep = compare_updates(old, results, n_probe=8, structure_data=data, k=5)
    cols = ["model", "n_words", "n_new", "n_old_changed", "drift", "aligned_drift"] + STRUCT_COLS
    nb_rows = []
    for w in rep["probe_words"]:
        row = {"word": w}
        for name in results:
            row[name] = " ".join(rep["neighbours"][name].get(w, [])) or "(not in vocabulary)"
        nb_rows.append(row)
    md = (f"Old model: word2vec CBOW 100-d on BBC business + politics ({len(old_s):,} sentences, {len(old):,} words, "
          f"{timings['train old']:.0f} s); new text: BBC tech ({len(new_s):,} sentences). Skip-gram, 10 epochs, "
          "min_count 3 everywhere.\n\n"
          + table(rep["rows"], cols) + "\n\nNeighbours of new-domain words (absent from the old model):\n\n"
          + markdown_table(["word"] + list(results), [[r["word"]] + [r[n] for n in results] for r in nb_rows])
          + "\n\nSeconds: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    align = results["align (old words kept)"].info
    md += (f"\n\nAlign: {align['anchors']['n_anchors']} anchors of {align['anchors']['n_candidates']} candidates "
           f"(neighbour overlap {align['anchors']['overlap_mean_anchors']:.2f} vs "
           f"{align['anchors']['overlap_mean_candidates']:.2f} for all candidates); anchor cosine after Procrustes "
           f"{align['anchor_cosine']:.3f}; other shared words {align['aligned_drift']:.3f}.")
    save("update", md, {"rows": rep["rows"], "neighbours": rep["neighbours"], "timings": timings,
                        "infos": {k: r.info for k, r in results.items()}})


def part_plots(_data):
    from vecbridge import datasets, make_translator
    from vecbridge.datasets import encode_corpus
    from vecbridge.viz.plots import before_after_panels, render_png
    from vecbridge.viz.report import map_report, render_html

    OUT.mkdir(parents=True, exist_ok=True)
    glove = datasets.load("glove", limit=40000)
    w2v = datasets.load("word2vec", corpus="bbc", dim=100, seed=1)
    tr = make_translator("lstsq", normalize="unit center unit").fit(w2v, glove)
    nums = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "hundred", "thousand",
            "million", "billion"]
    panels, _ = before_after_panels(w2v, glove, tr, words=nums)
    render_png(panels, OUT / "numbers.png", title="Number words: word2vec (BBC News, 100-d) into GloVe (50-d)",
               overwrite=True)
    bbc = datasets.load("bbc").sample(400, seed=0)
    a = encode_corpus("minilm-l3-onnx", bbc)
    b = encode_corpus("minilm-l6", bbc)
    fit_ids, show_ids = a.keys[:300], a.keys[300:]
    tr2 = make_translator("procrustes", normalize="center unit").fit(a.subset(fit_ids), b.subset(fit_ids))
    panels, _ = before_after_panels(a.subset(show_ids), b.subset(show_ids), tr2, src_name="MiniLM-L3",
                                    tgt_name="MiniLM-L6", labels=False)
    render_png(panels, OUT / "sentences.png", title="100 held-out BBC sentences: MiniLM-L3 into MiniLM-L6 (Procrustes "
               "on 300 others)", overwrite=True)
    p, t, n = map_report(tr, w2v, glove, words=nums + ["king", "queen", "man", "woman", "london", "paris"],
                         structure=True)
    render_html(p, OUT / "report.html", title="word2vec BBC -> GloVe 50d", tables=t, notes=n, overwrite=True)
    print("wrote", OUT / "numbers.png", OUT / "sentences.png", OUT / "report.html")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="all", choices=["all", "merge", "dimension", "update", "plots"])
    args = ap.parse_args()
    from vecbridge.apps.structure import load_structure_data

    data = load_structure_data()
    parts = ["merge", "dimension", "update", "plots"] if args.part == "all" else [args.part]
    for p in parts:
        t = time.perf_counter()
        globals()[f"part_{p}"](data)
        print(f"[{p}: {time.perf_counter() - t:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
