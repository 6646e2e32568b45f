"""Word tasks with 5k pairs, 25 pairs, identical strings and no pairs; diagnostics; a 20k x 20k timing.

Usage::

    nice .venv/bin/python benchmarks/words_fewpairs.py [--tasks word2vec-seeds,glove-word2vec,glove-minilm]
        [--methods selflearn,keep] [--out docs/words_fewpairs.json] [--skip-timing] [--doc SECTION]

For each task of :func:`vecbridge.datasets.tasks.word_task` (5,000 training pairs,
1,500 test pairs, seed 0) it prints one row per method: P@1 on the test pairs with
nearest-neighbour and CSLS retrieval over the whole target vocabulary, and the wall
time of fitting. Baselines in the same run: least squares, gensim's
``TranslationMatrix`` (its own retrieval: P@1 only as gensim translates), Procrustes.
``seconds`` is wall time, ``cpu_seconds`` the process's CPU time over all threads
(on a shared machine the wall time of a dedicated 2-core machine lies between
``cpu_seconds / 2`` and ``cpu_seconds``). Self-learning rows report ``aligned`` and ``confidence`` (what the method says
about itself without looking at the test pairs).

The identical-strings seed leaves the test words out (both spaces are English, so every test pair is an
identical string). ``keep_seed`` rows keep that seed in the dictionary at every iteration (weight
``seed_weight``). ``--methods`` keeps only the rows whose label contains one of the given words (the
diagnostics always run); ``--doc SECTION`` writes the rows of this run as a table into ``docs/words.md``
between ``<!-- SECTION:start -->`` and ``<!-- SECTION:end -->``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import DOCS, machine, markdown_table, today, write_section  # noqa: E402

from vecbridge import make_translator
from vecbridge.datasets.tasks import word_task
from vecbridge.diagnostics import diagnose
from vecbridge.evaluation import evaluate_translator


def old_test(fi: dict) -> dict:
    """Self-learning's old control-run test (its answer and confidence, as the tables report it) and the verdict."""
    return {"aligned": fi["alignment_confidence"]["aligned"], "confidence": fi["alignment_confidence"]["confidence"],
            "verdict": fi["verdict"]}


def p_at_1(t, src, tgt, test) -> dict[str, float]:
    return {
        m: round(evaluate_translator(t, src, tgt, pairs=test, retrieval=m, ks=(1,), progress=False)["p_at_1"], 4)
        for m in ("nn", "csls")
    }


def gensim_translation_matrix(src, tgt, train, test) -> float:
    """P@1 of gensim's TranslationMatrix (least squares on its own unit-normalised vectors, NN retrieval)."""
    from gensim.models import KeyedVectors
    from gensim.models.translation_matrix import TranslationMatrix

    def kv(e):
        k = KeyedVectors(e.dim)
        k.add_vectors(e.keys, e.vectors)
        return k

    tm = TranslationMatrix(kv(src), kv(tgt), word_pairs=train)
    tm.train(train)
    words = [s for s, _ in test]
    out = tm.translate(words, topn=1)
    gold = {s: t for s, t in test}
    return round(float(np.mean([out[w][0] == gold[w] for w in words])), 4)


SUPERVISED = [
    ("lstsq", dict(normalize="unit center unit")),
    ("procrustes", dict(normalize="unit center unit")),
    ("recommended", dict(normalize="unit center unit")),
    ("rcsls", dict(progress=False)),
    ("mlp", dict(progress=False)),
    ("lowrank", dict(rank=32, progress=False)),
]

FEW = [
    ("selflearn, 25 pairs", dict(init="pairs", seed_pairs=25)),
    ("selflearn, identical strings", dict(init="identical")),
    ("selflearn, unsupervised (similarity start)", dict(init="similarity")),
    ("selflearn, identical strings, keep_seed", dict(init="identical", keep_seed=True)),
    ("selflearn, identical strings, keep_seed, seed_weight 4", dict(init="identical", keep_seed=True, seed_weight=4.0)),
]


def wanted(label: str, methods: list[str] | None) -> bool:
    return methods is None or any(m in label for m in methods)


def run_task(name: str, rows: list[dict], methods: list[str] | None = None) -> None:
    t0 = time.perf_counter()
    src, tgt, train, test = word_task(name)
    print(f"\n== {name}: source {src.describe()} {len(src)} x {src.dim}, target {tgt.describe()} "
          f"{len(tgt)} x {tgt.dim}; {len(train)} train / {len(test)} test pairs (loaded in "
          f"{time.perf_counter() - t0:.0f}s)", flush=True)
    diag = diagnose(src, tgt, pairs=train, n=1000)
    print(f"diagnostics: RSA {diag['paired']['rsa']}, linear CKA {diag['paired']['linear_cka']}, eigenvector "
          f"similarity {diag['paired']['eigenvector_similarity']} (unpaired {diag['unpaired']['eigenvector_similarity']})"
          f" -> {diag['verdict']}", flush=True)
    rows.append({"task": name, "method": "diagnostics", **diag["paired"], "unpaired": diag["unpaired"],
                 "verdict": diag["verdict"]})

    def record(method: str, t, seconds: float, extra: dict | None = None) -> None:
        r = {"task": name, "method": method, **p_at_1(t, src, tgt, test), "seconds": round(seconds, 1), **(extra or {})}
        rows.append(r)
        print(json.dumps(r), flush=True)

    if wanted("gensim TranslationMatrix", methods):
        t1 = time.perf_counter()
        p = gensim_translation_matrix(src, tgt, train, test)
        r = {"task": name, "method": "gensim TranslationMatrix", "nn": p, "csls": None,
             "seconds": round(time.perf_counter() - t1, 1)}
        rows.append(r)
        print(json.dumps(r), flush=True)
    held_out = {w for w, _ in test}
    for method, params in SUPERVISED:
        if not wanted(method, methods):
            continue
        t1, c1 = time.perf_counter(), time.process_time()
        t = make_translator(method, **params).fit(src, tgt, pairs=train)
        record(method, t, time.perf_counter() - t1, {"cpu_seconds": round(time.process_time() - c1, 1)})
    label = "Procrustes on the identical-strings seed (reference)"
    if wanted(label, methods):  # what the seed alone gives, for the keep_seed rows
        seed = [(k, k) for k in src.keys if k in tgt.index and k not in held_out]
        t1, c1 = time.perf_counter(), time.process_time()
        t = make_translator("procrustes", normalize="unit center unit").fit(src, tgt, pairs=seed)
        record(label, t, time.perf_counter() - t1, {"n_seed_pairs": len(seed),
                                                     "cpu_seconds": round(time.process_time() - c1, 1)})
    for label, params in FEW:
        if not wanted(label, methods):
            continue
        params = dict(params)
        if params["init"] == "identical":  # identical strings minus the test words: no test pair in the seed
            pairs = [(k, k) for k in src.keys if k in tgt.index and k not in held_out]
            params["init"] = "pairs"
        else:
            pairs = train if params["init"] == "pairs" else None
        t1, c1 = time.perf_counter(), time.process_time()
        t = make_translator("selflearn", progress=False, **params)
        t.fit(src, tgt, pairs=pairs)
        fi = t.fit_info_
        record(label, t, time.perf_counter() - t1, {
            **old_test(fi), "iterations": fi["iterations"],
            "n_seed_pairs": fi["n_seed_pairs"], "cpu_seconds": round(time.process_time() - c1, 1),
        })


def run_timing(rows: list[dict]) -> None:
    """A 20k x 20k unsupervised run: the 20,000 most frequent GloVe words -> 20,000 MiniLM word vectors."""
    from vecbridge.datasets.registry import load

    src = load("glove", limit=20000)
    tgt = load("glove-encoded", encoder="minilm-l6", n=20000)
    t0, c0 = time.perf_counter(), time.process_time()
    t = make_translator("selflearn", vocab_cutoff=20000, progress=False).fit(src, tgt)
    cpu = time.process_time() - c0
    fi = t.fit_info_
    r = {"task": "timing 20k x 20k (glove top-20k -> minilm 20k, unsupervised)", "method": "selflearn",
         "seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(cpu, 1), "iterations": fi["iterations"],
         "self_learning_seconds": fi["self_learning_seconds"], "init_seconds": fi["init_seconds"],
         "confidence_seconds": fi["confidence_seconds"], **old_test(fi),
         "shared_dim": int(min(src.dim, tgt.dim))}
    rows.append(r)
    print(json.dumps(r), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="word2vec-seeds,glove-word2vec,glove-minilm")
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--methods", default=None, help="comma-separated words: run only rows whose label has one")
    ap.add_argument("--doc", default=None, metavar="SECTION", help="write this run's rows into docs/words.md")
    args = ap.parse_args(argv)
    methods = args.methods.split(",") if args.methods else None
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, python {platform.python_version()}, "
          f"numpy {np.__version__}", flush=True)
    rows: list[dict] = []
    if not args.skip_timing:
        run_timing(rows)
    for name in args.tasks.split(","):
        run_task(name, rows, methods)
        if args.out:  # after every task, so a run cut short keeps what it finished
            with open(args.out, "w") as fh:
                json.dump(rows, fh, indent=1)
    if args.doc:
        cmd = "nice -n 5 .venv/bin/python benchmarks/words_fewpairs.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(DOCS / "words.md", args.doc, render(rows, cmd))
    return 0


def render(rows: list[dict], command: str) -> str:
    """The rows of one run as a markdown table (diagnostics and timing rows left out), with machine and date."""
    table = []
    for r in rows:
        if r["method"] == "diagnostics" or r["task"].startswith("timing"):
            continue
        pairs = r.get("n_seed_pairs", 5000 if "selflearn" not in r["method"] else 0)
        note = ""
        if "aligned" in r:
            note = f"aligned: {'yes' if r['aligned'] else 'no'} (confidence {r['confidence']:+.2f}), {r['iterations']} iterations"
        table.append([r["task"], r["method"], f"{pairs:,}", f"{r['nn']:.3f}",
                      "-" if r.get("csls") is None else f"{r['csls']:.3f}", f"{r['seconds']:.1f}",
                      "-" if r.get("cpu_seconds") is None else f"{r['cpu_seconds']:.1f}", note])
    head = ["task", "method", "seed / training pairs", "P@1 NN", "P@1 CSLS", "fit wall s", "fit CPU s",
            "note (aligned, confidence: the old control-run test)"]
    return (f"Measured {today()} on {machine()}, shared with other jobs; `{command}`. P@1 on the task's 1,500 "
            "held-out test pairs over the whole target vocabulary.\n\n" + markdown_table(head, table))


if __name__ == "__main__":
    sys.exit(main())
