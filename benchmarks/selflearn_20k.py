"""Self-learning at 20k x 20k words: wall and process CPU time, iterations, held-out P@1.

Usage::

    nice .venv/bin/python benchmarks/selflearn_20k.py [--cases glove-minilm,minilm-l3-l6-25,minilm-l3-l6-unsup]
        [--out rows.jsonl] [--doc]

Cases (each a full ``SelfLearning`` fit with the default schedule, 20,000 words per side, induction over all
of them, ``vocab_cutoff=20000``):

- ``glove-minilm``: the 20,000 most frequent GloVe 6B words (50d) -> the MiniLM-L6 vectors of the first
  20,000 alphabetic GloVe words, each encoded alone (384d); unsupervised (similarity start). The spaces are
  only weakly isomorphic: the loop runs to the iteration cap and the method reports ``aligned: false``.
  This is the worst case for time.
- ``glove-rotated-25`` / ``glove-rotated-unsup``: a near-isomorphic pair built from the package's data: the same
  20,000 GloVe vectors mapped by a random semi-orthogonal 50 -> 100 map, plus Gaussian noise of half the rms
  coordinate (synthetic: it shows the cost of a run that converges, not a real-world P@1).
- ``minilm-l3-l6-25`` / ``minilm-l3-l6-unsup`` / ``minilm-l3-l6-identical``: the same 20,000 words encoded by
  paraphrase-MiniLM-L3 (ONNX) -> by all-MiniLM-L6 (both 384d), from the first 25 training pairs, with no
  pairs, or from identical strings minus the test words. Procrustes on 5,000 pairs and the identity map are
  the references.

Held-out pairs: the recipe of :func:`vecbridge.datasets.tasks.word_task` applied to these two spaces (the 6,500 most frequent
alphabetic words both sides share, ``default_rng(0)`` permutation, the first 1,500 are the test words); no
fit sees a test pair. P@1 over the whole 20,000-word target vocabulary, nearest neighbour and CSLS.
``wall_s`` is wall time, ``cpu_s`` the process CPU time over all threads (the fit uses every core); the
machine is shared, so the load average over the run is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DOCS, machine, markdown_table, today, write_section  # noqa: E402

from vecbridge import make_translator  # noqa: E402
from vecbridge.datasets.registry import load  # noqa: E402
from vecbridge.datasets.tasks import frequent_shared_words  # noqa: E402
from vecbridge.evaluation import evaluate_translator  # noqa: E402

CASES = {
    "glove-minilm": ("glove-minilm20k", dict(init="similarity")),
    "minilm-l3-l6-25": ("minilm-l3-l6", dict(init="pairs", seed_pairs=25)),
    "minilm-l3-l6-unsup": ("minilm-l3-l6", dict(init="similarity")),
    "minilm-l3-l6-identical": ("minilm-l3-l6", dict(init="pairs")),
    "glove-rotated-25": ("glove-rotated", dict(init="pairs", seed_pairs=25)),
    "glove-rotated-unsup": ("glove-rotated", dict(init="similarity")),
}
LABELS = {
    "glove-minilm20k": "GloVe top-20k (50d) -> MiniLM-L6 20k words (384d)",
    "minilm-l3-l6": "MiniLM-L3 20k words (384d) -> MiniLM-L6 20k words (384d)",
    "glove-rotated": "GloVe top-20k (50d) -> the same, rotated into 100d + noise (synthetic)",
}


def rotated_glove(n: int = 20000, dim: int = 100, noise: float = 0.5, seed: int = 0):
    """GloVe's top-n words and a near-isomorphic copy: a random semi-orthogonal map into ``dim`` dimensions plus
    Gaussian noise (per coordinate ``noise`` times the rms coordinate of the mapped vectors), same keys."""
    from vecbridge import Embeddings

    src = load("glove", limit=n)
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((dim, src.dim)))[0].T  # (50, dim), orthonormal rows
    Y = src.vectors.astype(np.float64) @ Q
    Y += noise * np.sqrt(np.mean(Y**2)) * rng.standard_normal(Y.shape)
    return src, Embeddings(list(src.keys), Y.astype(np.float32), {"name": f"glove-rotated-{dim}d"})


def spaces(name: str):
    if name == "glove-rotated":
        return rotated_glove()
    if name == "glove-minilm20k":
        return load("glove", limit=20000), load("glove-encoded", encoder="minilm-l6", n=20000)
    return load("glove-encoded", encoder="minilm-l3-onnx", n=20000), load("glove-encoded", encoder="minilm-l6", n=20000)


def split(src, tgt, n_train: int = 5000, n_test: int = 1500, seed: int = 0):
    """The word_task split: (train pairs, test pairs), identity pairs of frequent shared words, disjoint."""
    words = frequent_shared_words(src, tgt, n_train + n_test)
    perm = np.random.default_rng(seed).permutation(len(words))
    return [(words[i], words[i]) for i in perm[n_test:]], [(words[i], words[i]) for i in perm[:n_test]]


def p_at_1(t, src, tgt, test) -> dict:
    out = {}
    for m in ("nn", "csls"):
        r = evaluate_translator(t, src, tgt, pairs=test, retrieval=m, ks=(1,), progress=False)
        out[m] = round(r["p_at_1"], 4)
        out["coverage"] = r.get("coverage")
    return out


def run_case(case: str) -> dict:
    task, params = CASES[case]
    src, tgt = spaces(task)
    train, test = split(src, tgt)
    pairs = None
    if params["init"] == "pairs":
        if "seed_pairs" in params:
            pairs = train
        else:  # identical strings, test words left out
            held = {w for w, _ in test}
            pairs = [(k, k) for k in src.keys if k in tgt.index and k not in held]
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    t = make_translator("selflearn", vocab_cutoff=20000, progress=False, **params).fit(src, tgt, pairs=pairs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    fi = t.fit_info_
    row = {
        "case": case, "task": task, "start": fi["init"] if pairs is None else
        ("25 pairs" if "seed_pairs" in params else f"identical strings minus test words ({fi['n_seed_pairs']:,})"),
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": [round(load0, 1), round(os.getloadavg()[0], 1)],
        "iterations": fi["iterations"], "init_s": fi["init_seconds"], "self_learning_s": fi["self_learning_seconds"],
        "confidence_s": fi["confidence_seconds"], "aligned": fi["alignment_confidence"]["aligned"],
        "confidence": fi["alignment_confidence"]["confidence"], "verdict": fi["verdict"],
        **p_at_1(t, src, tgt, test),
    }
    if fi["init"] == "similarity":
        row["start"] = "none (similarity start)"
    return row


def references(task: str) -> list[dict]:
    """Procrustes on the 5,000 training pairs and the identity map (same dimension only), same test pairs."""
    src, tgt = spaces(task)
    train, test = split(src, tgt)
    rows = []
    t0, c0 = time.perf_counter(), time.process_time()
    t = make_translator("procrustes", normalize="unit center unit").fit(src, tgt, pairs=train)
    rows.append({"case": f"{task}-procrustes", "task": task, "start": "Procrustes, 5,000 pairs (reference)",
                 "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
                 **p_at_1(t, src, tgt, test)})
    if src.dim == tgt.dim:
        t = make_translator("identity").fit(src, tgt, pairs=train)
        rows.append({"case": f"{task}-identity", "task": task, "start": "identity map (reference)",
                     **p_at_1(t, src, tgt, test)})
    return rows


def render(rows: list[dict]) -> str:
    table = []
    for r in rows:
        fit = "aligned: " + ("yes" if r["aligned"] else "no") + f" ({r['confidence']:+.2f})" if "aligned" in r else "-"
        table.append([
            LABELS[r["task"]], r["start"], r.get("iterations", "-"),
            f"{r['wall_s']:.1f}" if "wall_s" in r else "-", f"{r['cpu_s']:.1f}" if "cpu_s" in r else "-",
            "-" if "load" not in r else f"{r['load'][0]:.1f} / {r['load'][1]:.1f}",
            f"{r['nn']:.3f}", f"{r['csls']:.3f}", fit,
        ])
    head = ["task", "seed dictionary", "iterations", "wall s", "process CPU s", "load avg start / end", "P@1 NN",
            "P@1 CSLS", "old control-run test: aligned (confidence)"]
    return (
        f"Measured {today()} on {machine()}, shared with other jobs (load average of the machine at the start "
        "and end of each fit; 2 would be both cores busy). Produced by `nice -n 5 .venv/bin/python "
        "benchmarks/selflearn_20k.py --doc`. Held-out P@1 on 1,500 test words no fit has seen, over the whole "
        "20,000-word target vocabulary.\n\n" + markdown_table(head, table)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="glove-minilm,glove-rotated-25,glove-rotated-unsup,minilm-l3-l6-25,"
                    "minilm-l3-l6-unsup,minilm-l3-l6-identical")
    ap.add_argument("--references", default="glove-rotated,minilm-l3-l6", help="tasks whose Procrustes/identity rows to add")
    ap.add_argument("--out", default=None, help="append rows as JSON lines here")
    ap.add_argument("--doc", action="store_true", help="write the table into docs/words.md")
    args = ap.parse_args(argv)
    print(f"machine: {machine()}; {today()}", flush=True)
    rows: list[dict] = []
    for case in args.cases.split(","):
        row = run_case(case)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    for task in filter(None, args.references.split(",")):
        for row in references(task):
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    text = render(rows)
    print(text)
    if args.doc:
        write_section(DOCS / "words.md", "selflearn-20k", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
