"""How good must a starting map be for the unsupervised refinement to find the right map?

A diagnostic for the research behind ``spectral-match`` (it uses true pairs, so it is *not* a method):
for an encoder pair and a number n of unpaired BBC sentences per side (the same task as
``unsupervised_sentences.py``), build starting maps that are exactly right on part of the space and
refine each with the refinement every unsupervised vecbridge method uses
(``translators.matching.refine_map``, annealed k-NN Procrustes on the unpaired samples):

- ``true rotation of the top-k whitened axes``: each side's top-k principal axes, whitened; the
  rotation between them read from the oracle's 1,000 true *training* pairs; lifted to a full map that
  knows nothing outside those k dimensions. A global search over rotations of the top-k subspace
  (what the kernel-statistic search in ``spectral-match`` attempts without pairs) can at best find this
  start, so the refined figure bounds what such a search can reach;
- ``oracle``: Procrustes on the 1,000 true pairs (the supervised reference), refined as well, to show
  where the refinement's fixed point lies.

Held-out top-1 on the 2,000 paired test sentences, before and after refinement. The refinement
variants: ``refine_map`` with its default schedule (50, 20, 10) and a bidirectional variant
(source->target and target->source k-NN means in one Procrustes, schedule 100, 50, 20, 10, 5).

``python benchmarks/unsupervised_basin.py --pairs minilm-l6:e5-small --sizes 2000 8000 --doc``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, markdown_table, today, write_section  # noqa: E402

from vecbridge.translators.matching import polar_factor, refine_bidirectional, refine_map  # noqa: E402
from vecbridge.translators.spectral import whitened_axes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "research" / "unsupervised-history.md"


def unit(A):
    A = np.asarray(A, dtype=np.float32)
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


def top1(W, Xt, Yt):
    S = unit(Xt @ W) @ Yt.T
    return float((S.argmax(1) == np.arange(len(S))).mean())


def run(pair, n, ks):
    from vecbridge.datasets import sentence_task

    src, tgt = pair.split(":")
    task = sentence_task(src, tgt, n_unpaired=n, n_test=2000, seed=0, progress=False)
    both = sentence_task(tgt, tgt, n_unpaired=1000, n_test=2000, seed=0, progress=False)
    mx, my = unit(task.src_train).mean(0), unit(task.tgt_train).mean(0)
    norm = lambda A, m: unit(unit(A) - m)  # noqa: E731  (the methods' "unit center unit")
    X, Y = norm(task.src_train, mx), norm(task.tgt_train, my)
    Xt, Yt = norm(task.src_test, mx), norm(task.tgt_test, my)
    OX, OY = norm(task.src_train[:1000], mx), norm(both.src_train[:1000], my)
    starts = []
    for k in ks:
        Px, Lx = whitened_axes(X, k)
        Py, Ly = whitened_axes(Y, k)
        Q = polar_factor((OX @ Px).T @ (OY @ Py))
        starts.append((f"true rotation of the top-{k} whitened axes", Px @ Q @ Ly))
    starts.append(("oracle (Procrustes on 1,000 true pairs)", polar_factor(OX.T.astype(np.float64) @ OY)))
    rows = []
    for name, W0 in starts:
        t = time.perf_counter()
        W1 = refine_map(X, Y, W0, np.random.default_rng(0))
        W2 = refine_bidirectional(X, Y, W0, np.random.default_rng(0), n_sample=max(len(X), len(Y)))
        rows.append([pair.replace(":", " → "), n, name, f"{top1(W0, Xt, Yt):.3f}", f"{top1(W1, Xt, Yt):.3f}",
                     f"{top1(W2, Xt, Yt):.3f}"])
        print(" | ".join(map(str, rows[-1])), f"({time.perf_counter() - t:.0f} s)", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", nargs="+", default=["minilm-l6:e5-small"])
    p.add_argument("--sizes", nargs="+", type=int, default=[2000, 8000])
    p.add_argument("--ks", nargs="+", type=int, default=[8, 16, 32, 64])
    p.add_argument("--doc", action="store_true", help="write the table into docs/research/unsupervised-history.md (basin section)")
    args = p.parse_args(argv)
    rows = [r for pair in args.pairs for n in args.sizes for r in run(pair, n, args.ks)]
    table = markdown_table(["pair", "n/side", "start", "top-1 of the start", "refined (default)",
                            "refined (bidirectional)"], rows)
    print(table)
    if args.doc:
        cmd = "python benchmarks/unsupervised_basin.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(DOC, "basin", f"_Measured on {today()} on {machine()}. Command: `{cmd}`._\n\n{table}")


if __name__ == "__main__":
    main()
