"""Which pairless criterion ranks candidate maps by held-out top-1?  (issue #4: the selection criterion)

An unsupervised fit chooses among candidate maps with no pairs. This script builds a
spread of candidate maps on one encoder pair, scores each with every criterion of
``vecbridge.selection`` on the *unpaired training halves*, measures each map's held-out
top-1 on the 2,000 paired test sentences, and reports how well each criterion ranks the
maps (Spearman rho) and which map it would pick.

The candidates are the ones ``spectral-match`` itself compares -- each of its starting maps
(identity, axis signs, axis rotations, cluster matchings) after the brief refinement
("quick"), after the full refinement and polishing ("final") -- plus maps whose quality is
known to vary: Procrustes on 10 / 25 / 100 / 1,000 *true* pairs, raw and refined without
pairs. Those pair-built maps exist only to give the criteria something to rank on encoder
pairs where every pairless start fails; no fitted method sees a pair.

Only refined maps are compared inside a fit (plus the raw identity), and refinement climbs the
k-NN similarity itself, so the table gives rho over refined maps ("refined") and over all maps.

    python benchmarks/selection_criteria.py --pairs minilm-l3-onnx:minilm-l6 minilm-l6:e5-small --n 8000

Writes the table into docs/research/unsupervised-history.md between the ``selection-study`` markers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, markdown_table, today, write_section  # noqa: E402
from unsupervised_sentences import RESEARCH_DOC, load_pair, spearman  # noqa: E402

from vecbridge.evaluation import paired_metrics  # noqa: E402
from vecbridge.normalize import Normalizer  # noqa: E402
from vecbridge.selection import knn_similarity, map_report  # noqa: E402
from vecbridge.translators.matching import polar_factor, refine_map  # noqa: E402
from vecbridge.translators.spectral import SpectralMatching  # noqa: E402

CRITERIA = ["score", "knn_similarity", "structure", "mutual_nn", "csls", "knn1"]


def candidate_maps(X, Y, PX, PY, seed):
    """``[(name, refined?, W)]``: spectral-match's own candidates at each stage, and pair-built maps."""
    rng = np.random.default_rng(seed)
    sm = SpectralMatching(seed=seed)
    out = []
    for W0, meta in sm._candidates(X, Y, rng, None):
        name = meta["init"]
        Wq = sm._refine_quick(X, Y, W0, rng)
        out.append((f"{name} / quick", True, Wq))
        Wf, _ = sm._refine_final(X, Y, Wq, rng)
        out.append((f"{name} / final", True, Wf))
        if name == "identity":
            out.append(("identity / raw", False, W0))
    for p in (10, 25, 100, 1000):
        W = polar_factor(PX[:p].T.astype(np.float64) @ PY[:p])
        out.append((f"Procrustes {p} true pairs / raw", False, W))
        out.append((f"Procrustes {p} true pairs / refined", True, refine_map(X, Y, W, rng, reps=2)))
    return out


def study(pair: str, n: int, seed: int):
    src, tgt = pair.split(":")
    task, OX, OY = load_pair(src, tgt, n)
    nx = Normalizer("unit center unit").fit(task.src_train)
    ny = Normalizer("unit center unit").fit(task.tgt_train)
    X, Y = nx.transform(task.src_train[:n]), ny.transform(task.tgt_train[:n])
    Xt, Yt = nx.transform(task.src_test), ny.transform(task.tgt_test)
    # the pair-built maps use source-half sentences encoded by both models (the oracle's pairs)
    PX, PY = nx.transform(OX), ny.transform(OY)
    rows = []
    for name, refined, W in candidate_maps(X, Y, PX, PY, seed):
        rep = map_report(X, Y, W=W, seed=1, full=True)
        rng = np.random.default_rng(1)
        xs = rng.choice(len(X), min(2000, len(X)), replace=False)
        ys = rng.choice(len(Y), min(2000, len(Y)), replace=False)
        rep["knn1"] = round(knn_similarity(X[xs] @ W, Y[ys], k=1), 5)
        rows.append({"name": name, "refined": refined, "top1": paired_metrics(Xt @ W, Yt, progress=False)["top1"], **rep})
        print(f"{pair} {name:42s} top1 {rows[-1]['top1']:.4f} score {rep['score']:.4f}", flush=True)
    return rows


def summarise(pair: str, n: int, rows) -> tuple[list, list]:
    summary = []
    for c in CRITERIA:
        ref = [r for r in rows if r["refined"]]
        pick = max(ref, key=lambda r: r[c])
        summary.append([pair.replace(":", " → "), n, c,
                        f"{spearman([r[c] for r in ref], [r['top1'] for r in ref]):.2f}",
                        f"{spearman([r[c] for r in rows], [r['top1'] for r in rows]):.2f}",
                        f"{pick['name']} ({pick['top1']:.3f})",
                        f"{max(r['top1'] for r in ref):.3f}"])
    detail = [[pair.replace(":", " → "), r["name"], f"{r['top1']:.3f}", *(f"{r[c]:.4f}" for c in CRITERIA)]
              for r in sorted(rows, key=lambda r: -r["top1"])]
    return summary, detail


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", nargs="+", default=["minilm-l3-onnx:minilm-l6", "minilm-l6:e5-small"])
    p.add_argument("--n", type=int, default=8000, help="unpaired sentences per side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-doc", action="store_true", help="print only; do not write docs/research/unsupervised-history.md")
    args = p.parse_args(argv)
    t0 = time.time()
    summary, detail = [], []
    for pair in args.pairs:
        s, d = summarise(pair, args.n, study(pair, args.n, args.seed))
        summary += s
        detail += d
    body = "\n".join([
        f"_Measured on {today()} on {machine()}, {time.time() - t0:.0f} s. Command: "
        f"`python benchmarks/selection_criteria.py --pairs {' '.join(args.pairs)} --n {args.n} --seed {args.seed}`._\n",
        markdown_table(["pair", "n/side", "criterion", "Spearman ρ (refined maps)", "Spearman ρ (all maps)",
                        "its pick among refined maps (top-1)", "best refined top-1"], summary),
        "\nEvery map (criteria on the unpaired training halves; top-1 on the held-out test pairs):\n",
        markdown_table(["pair", "map", "top-1", *CRITERIA], detail),
    ])
    print(body)
    if not args.no_doc:
        write_section(RESEARCH_DOC, "selection-study", body)


if __name__ == "__main__":
    main()
