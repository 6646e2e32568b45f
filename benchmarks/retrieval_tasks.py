"""Retrieval with relevance labels after a model change: old index, migrated index, query-side bridge,
two-stage bridge and full re-index on the project's labelled retrieval tasks.

For each task (``vecbridge.datasets.retrieval_task``: ``bbc-headlines``, ``bible-verses``) and each encoder pair
OLD:NEW (default ``minilm-l3-onnx:minilm-l6``; ``--e5`` adds ``minilm-l6:e5-small``, slow: e5 encodes ~15 texts/s
here):

- encodings (cached under the vecbridge cache): the documents and the queries with both models, the task's
  unlabelled pool (the old side with OLD, the other texts with NEW), and the first ``--n-pairs`` texts of the
  old side's pool with NEW too (the pairs). e5 encodes queries in query mode, everything else in passage mode;
- two settings, each fitting a map old -> new (document side) and its own map new -> old (query-side bridge):
  ``pairs``: ``make_translator("procrustes", normalize="unit center unit")`` on ``--n-pairs`` pairs (the
  store kept its texts: a sample was re-embedded); ``no pairs``: ``make_translator("auto")`` on the unpaired
  pool halves (``--pool`` rows per side; the store kept no texts). The labelled tasks have 2,058 / 5,000
  documents, fewer than a pairless fit between different encoders wants, so these maps are fitted on the
  larger unlabelled pool of the same domain;
- ``vecbridge.retrieval_eval.evaluate_retrieval`` with k in {1, 10, 100}, nDCG@10, MRR; the two-stage bridge
  re-ranks its top 200 once against the new model's document vectors (texts re-embedded) and once against the
  migrated vectors (no texts).

Rows go to ``benchmarks/results/retrieval_tasks.jsonl`` (runs already there are skipped unless ``--again``)
and are rendered into docs/migration.md between the ``retrieval-results`` markers (``--render`` alone
re-renders). ``--export DIR`` also writes each task's files under ``DIR/TASK/OLD-to-NEW/`` (queries.jsonl,
documents.jsonl, qrels.tsv, pool_old/pool_new.jsonl; the vectors docs_old, docs_new, queries_old, queries_new,
pool_old, pool_new, pairs_old, pairs_new as .npy with keys; the 1,000-pair Procrustes maps old2new and new2old)
so that ``vecbridge fit`` and ``vecbridge evaluate-retrieval`` can be run on them.

    python benchmarks/retrieval_tasks.py                                  # both tasks, MiniLM-L3 -> MiniLM-L6
    python benchmarks/retrieval_tasks.py --tasks bbc-headlines --e5       # adds MiniLM-L6 -> e5-small
    python benchmarks/retrieval_tasks.py --render
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DOCS, append_row, markdown_table, provenance, read_rows, today, write_section  # noqa: E402

from vecbridge import make_translator  # noqa: E402
from vecbridge.datasets import retrieval_task  # noqa: E402
from vecbridge.retrieval_eval import ROW_TITLES, evaluate_retrieval, format_table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "retrieval_tasks.jsonl"
PAGE = DOCS / "migration.md"
TASKS = ("bbc-headlines", "bible-verses")
DEFAULT_PAIRS = ("minilm-l3-onnx:minilm-l6",)
E5_PAIR = "minilm-l6:e5-small"
SETTINGS = ("pairs", "stored pairs", "no pairs")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def opts(model: str, role: str) -> dict:
    """e5 reads a prefix: queries in query mode, documents and pools in passage mode."""
    return {"mode": role} if model == "e5-small" else {}


def encodings(task, old: str, new: str, n_pairs: int) -> dict:
    out = {}
    t0 = time.perf_counter()
    for key, ts, model, role in (("docs_old", task.documents, old, "passage"), ("docs_new", task.documents, new, "passage"),
                                 ("queries_old", task.queries, old, "query"), ("queries_new", task.queries, new, "query"),
                                 ("pool_old", task.pool_old, old, "passage"), ("pool_new", task.pool_new, new, "passage"),
                                 ("pairs_new", task.pool_old.head(n_pairs), new, "passage")):
        log(f"  encode {key}: {len(ts)} texts with {model}")
        out[key] = ts.encode(model, encoder_opts=opts(model, role), progress=False)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def fit_maps(setting: str, enc: dict, n_pairs: int, seed: int, task=None):
    """(old -> new, new -> old, description, qrels to score) for one setting."""
    qrels = None if task is None else task.qrels
    if setting == "pairs":
        X, Y = enc["pool_old"].vectors[:n_pairs], enc["pairs_new"].vectors
        fwd = make_translator("procrustes", normalize="unit center unit").fit(X, Y)
        back = make_translator("procrustes", normalize="unit center unit").fit(Y, X)
        return fwd, back, f"Procrustes (unit center unit) on {n_pairs} pairs", qrels
    if setting == "stored pairs":
        # what `vecbridge migrate --encoder` does when the store keeps its texts: n_pairs stored documents
        # re-embedded with the new model, auto on those pairs; scored on the queries whose relevant documents
        # are none of them
        old, new = enc["docs_old"], enc["docs_new"]
        assert list(old.keys) == list(new.keys)
        rows = np.sort(np.random.default_rng(seed).choice(len(old), min(n_pairs, len(old) // 2), replace=False))
        X, Y, pairs = old.vectors[rows], new.vectors[rows], np.stack([np.arange(len(rows))] * 2, axis=1)
        fwd = make_translator("auto", seed=seed, progress=False).fit(X, Y, known_pairs=pairs)
        back = make_translator("auto", seed=seed, progress=False).fit(Y, X, known_pairs=pairs)
        fitted = {old.keys[i] for i in rows}
        held = {q: rel for q, rel in qrels.items() if not fitted & {d for d, g in rel.items() if g > 0}}
        return fwd, back, f"auto on {len(rows)} re-embedded stored documents (held-out queries)", held
    X, Y = enc["pool_old"].vectors, enc["pool_new"].vectors
    fwd = make_translator("auto", seed=seed, progress=False).fit(X, Y)
    back = make_translator("auto", seed=seed, progress=False).fit(Y, X)
    return fwd, back, f"auto, no pairs: {len(X)} unpaired pool rows per side", qrels


def map_info(t) -> dict:
    fi = getattr(t, "fit_info_", {})
    return {"method": fi.get("chosen_method") or t.method, "verdict": fi.get("verdict"),
            "confidence": fi.get("confidence"), "fit_seconds": fi.get("fit_seconds")}


def run_one(task_name: str, pair: str, setting: str, args, task, enc) -> dict:
    old, new = pair.split(":")
    t0 = time.perf_counter()
    c0 = time.process_time()
    fwd, back, how, qrels = fit_maps(setting, enc, args.n_pairs, args.seed, task)
    fit_wall, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    common = dict(docs_new=enc["docs_new"], queries_old=enc["queries_old"], queries_new=enc["queries_new"],
                  old_to_new=fwd, new_to_old=back)
    results = {}
    for space in ("raw", "map"):
        res_new = evaluate_retrieval(qrels, enc["docs_old"], rerank_with="new", space=space, **common)
        res_mig = evaluate_retrieval(qrels, enc["docs_old"], rerank_with="migrated", space=space, **common)
        log(f"  {task_name} {pair} {setting} ({how}), space {space}:\n{format_table(res_new)}\n"
            f"  (d) re-ranked against the migrated vectors: {res_mig['rows']['two_stage_bridge']}")
        results[space] = {"rows": res_new["rows"], "retention": res_new["retention"],
                          "two_stage_migrated": res_mig["rows"]["two_stage_bridge"],
                          "two_stage_migrated_retention": res_mig["retention"]["two_stage_bridge"]}
    return {
        "task": task_name, "pair": pair, "old": old, "new": new, "setting": setting, "maps": how,
        "old_to_new": map_info(fwd), "new_to_old": map_info(back),
        "fit_wall_s": round(fit_wall, 1), "fit_cpu_s": round(fit_cpu, 1),
        "n_queries": res_new["n_queries"], "n_documents": res_new["n_documents"],
        "n_pool": len(enc["pool_old"]), "n_pairs": 0 if setting == "no pairs" else fwd.fit_info_.get("n_pairs", args.n_pairs),
        "results": results,
        "task_info": task.info, "encode_s": enc["seconds"], "date": today(),
    }


def export(folder: Path, task, enc, fwd, back) -> None:
    from vecbridge import Embeddings
    from vecbridge.io import write_embeddings

    folder.mkdir(parents=True, exist_ok=True)
    task.write(folder)
    for key in ("docs_old", "docs_new", "queries_old", "queries_new"):
        write_embeddings(enc[key], folder / f"{key}.npy", overwrite=True)
    write_embeddings(enc["pool_old"], folder / "pool_old.npy", overwrite=True)
    write_embeddings(enc["pool_new"], folder / "pool_new.npy", overwrite=True)
    n = len(enc["pairs_new"])  # row i of pairs_old is row i of pairs_new: the same text
    write_embeddings(Embeddings(enc["pool_old"].keys[:n], enc["pool_old"].vectors[:n]), folder / "pairs_old.npy",
                     overwrite=True)
    write_embeddings(enc["pairs_new"], folder / "pairs_new.npy", overwrite=True)
    fwd.save(folder / "old2new", overwrite=True)
    back.save(folder / "new2old", overwrite=True)


# -- rendering -------------------------------------------------------------------------------------------
def _f(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def render(results: Path = RESULTS) -> None:
    rows = read_rows(results)
    if not rows:
        print("no rows yet")
        return
    latest: dict[tuple, dict] = {}
    for r in rows:
        latest[(r["task"], r["pair"], r["setting"])] = r
    parts = [provenance(list(latest.values()), "python benchmarks/retrieval_tasks.py --render")]
    metrics = ["recall_at_1", "recall_at_10", "recall_at_100", "ndcg_at_10", "mrr"]
    head = ["row", "R@1", "R@10", "R@100", "nDCG@10", "MRR", "R@10 vs (e)", "nDCG@10 vs (e)"]
    for task in TASKS:
        for pair in sorted({k[1] for k in latest if k[0] == task}):
            got = [latest.get((task, pair, s)) for s in SETTINGS]
            got = [g for g in got if g]
            if not got:
                continue
            g0 = got[0]
            old, new = pair.split(":")
            parts.append(f"### {task}: {old} → {new}\n\n{g0['n_queries']:,} queries, {g0['n_documents']:,} documents; "
                         f"unlabelled pool {g0['n_pool']:,} texts per side; measured {g0['date']}, "
                         + ("encodings read from the cache." if g0["encode_s"] < 1 else
                            f"encodings {g0['encode_s']:.0f} s (cached runs: less)."))
            def line(label, v, ret):
                return [label] + [_f(v[m]) for m in metrics] + [_f(ret["recall_at_10"]), _f(ret["ndcg_at_10"])]

            raw0 = g0["results"]["raw"]
            table = [line(ROW_TITLES["old_index"], raw0["rows"]["old_index"], raw0["retention"]["old_index"])]
            for name, space in (("migrated_index", "raw"), ("migrated_index", "map"), ("query_bridge", "raw"),
                                ("query_bridge", "map"), ("two_stage_bridge", "raw"), ("two_stage_migrated", "raw")):
                for g in got:
                    res = g["results"].get(space)
                    if res is None:
                        continue
                    tag = {"pairs": f"{g['n_pairs']:,} pool pairs",
                           "stored pairs": f"{g['n_pairs']:,} stored documents re-embedded; {g['n_queries']:,} held-out queries",
                           }.get(g["setting"], "no pairs")
                    if space == "map":
                        tag += ", map space"
                    if name == "two_stage_migrated":
                        label = f"{ROW_TITLES['two_stage_bridge']}, re-rank: migrated vectors"
                        v, ret = res["two_stage_migrated"], res["two_stage_migrated_retention"]
                    else:
                        label = ROW_TITLES[name] + (", re-rank: new vectors" if name == "two_stage_bridge" else "")
                        v, ret = res["rows"][name], res["retention"][name]
                    table.append(line(f"{label} [{tag}]", v, ret))
            table.append(line(ROW_TITLES["reindex"], raw0["rows"]["reindex"], {"recall_at_10": 1.0, "ndcg_at_10": 1.0}))
            parts.append(markdown_table(head, table))
            maps = []
            for g in got:
                for side in ("old_to_new", "new_to_old"):
                    mi = g[side]
                    text = f"{g['setting']}, {side.replace('_to_', ' → ')}: {mi['method']}"
                    if mi.get("verdict"):
                        text += f" (verdict {mi['verdict']})"
                    if mi.get("fit_seconds") is not None:
                        text += f", fit {mi['fit_seconds']:.0f} s"
                    maps.append(text)
            parts.append("Maps: " + "; ".join(maps) + ".")
            diffs = [abs(g["results"]["map"][k]["recall_at_10"] - g["results"]["raw"][k]["recall_at_10"])
                     for g in got if "map" in g["results"] for k in ("two_stage_migrated",)]
            diffs += [abs(g["results"]["map"]["rows"]["two_stage_bridge"]["recall_at_10"]
                          - g["results"]["raw"]["rows"]["two_stage_bridge"]["recall_at_10"])
                      for g in got if "map" in g["results"]]
            if diffs:
                parts.append(f"In the map space the two-stage rows move by at most {max(diffs):.3f} in R@10.")
    if results != RESULTS:  # a trial run: print, leave the page alone
        print("\n\n".join(parts))
        return
    write_section(PAGE, "retrieval-results", "\n\n".join(parts))
    print(f"rendered {len(latest)} runs into {PAGE}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    ap.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), help="OLD:NEW encoder pairs")
    ap.add_argument("--e5", action="store_true", help=f"add {E5_PAIR} (slow: e5 encodes ~15 texts/s here)")
    ap.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    ap.add_argument("--n-pairs", type=int, default=1000)
    ap.add_argument("--pool", type=int, default=8000, help="unlabelled texts per side of the no-pairs fit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--again", action="store_true", help="measure runs that are in the results file already")
    ap.add_argument("--export", type=Path, default=None, metavar="DIR", help="write each task's files under DIR")
    ap.add_argument("--render", action="store_true", help="only re-render docs/migration.md from the results")
    ap.add_argument("--results", type=Path, default=RESULTS,
                    help="results file (another one: a trial run, printed and not rendered into the docs)")
    args = ap.parse_args()
    if args.render:
        render(args.results)
        return 0
    pairs = list(args.pairs) + ([E5_PAIR] if args.e5 and E5_PAIR not in args.pairs else [])
    done = {(r["task"], r["pair"], r["setting"]) for r in read_rows(args.results)}
    log(f"load {os.getloadavg()[0]:.1f}")
    for task_name in args.tasks:
        task = retrieval_task(task_name, n_pool=args.pool, seed=args.seed)
        log(f"{task!r}: {task.info['dropped']}")
        for pair in pairs:
            todo = [s for s in args.settings if args.again or (task_name, pair, s) not in done]
            if not todo and args.export is None:
                log(f"  {pair}: measured already (--again to repeat)")
                continue
            old, new = pair.split(":")
            enc = encodings(task, old, new, args.n_pairs)
            for setting in todo:
                row = run_one(task_name, pair, setting, args, task, enc)
                append_row(args.results, row)
            if args.export is not None:
                fwd, back, _, _ = fit_maps("pairs", enc, args.n_pairs, args.seed)
                export(args.export / task_name / pair.replace(":", "-to-"), task, enc, fwd, back)
    render(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
