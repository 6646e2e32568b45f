"""How far can a pairless refinement go at a given sample size? The right map, refined without pairs.

An unsupervised fit has two parts: finding the right basin (the start) and refining inside it without
pairs. This study separates them: it starts ``cluster-match``'s refinement from the *oracle* map
(orthogonal Procrustes on 1,000 true pairs, the supervised reference of ``unsupervised_sentences.py``)
and reads held-out top-1 after each stage. What the refinement makes of the right start is the ceiling
of any pairless fit of that size that ends with the same refinement; the gap between it and the
unsupervised fit is the search's share, the gap between it and the oracle the refinement's.

For each encoder pair, size n (unpaired sentences per side, drawn as in ``unsupervised_sentences.py``:
``default_rng(seed)`` rows of each training half) and seed, from the oracle start:

- ``oracle``: the start itself (1,000 true pairs; no refinement);
- ``refined k=20->5``: ``ClusterMatching._refine`` with the schedule of its regional step (20, 10, 5);
- ``refined k=100->5``: the full bidirectional schedule that every ``cluster-match`` candidate gets;
- ``+ cascade``: then the re-anchoring cascade (40 ... 640 clusters, capped at n / 12);
- ``+ regional``: then the regional restarts, as a revision-6 ``cluster-match`` fit ended
  (``regional_repolish=True``: a pass whose best screened rotation is none refines the map again; since
  revision 8 a map from the identity start stops there, because of what this stage shows).

Each stage's held-out top-1 (2,000 BBC test pairs, read only to measure) and its pairless k-NN
similarity (the value ``cluster-match`` chooses by) are recorded in
``benchmarks/results/refinement_ceiling.jsonl`` and rendered into docs/research/unsupervised-history.md.
This study uses true pairs for its start: it is a diagnostic, never a method.

Run: ``python benchmarks/refinement_ceiling.py --pairs minilm-l6:e5-small --sizes 2000 4000 --seeds 0 1``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import append_row, markdown_table, provenance, read_rows, today, write_section  # noqa: E402
from unsupervised_sentences import RESEARCH_DOC, SIZES, load_pair, metrics, training_draw  # noqa: E402

from vecbridge import make_translator  # noqa: E402
from vecbridge.translators.matching import polar_factor  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "refinement_ceiling.jsonl"
STAGES = ["oracle", "refined k=20->5", "refined k=100->5", "+ cascade", "+ regional"]


def held_out(tr, W, Xte, Yte):
    tr.W_ = W
    steps = tr.target_normalizer_.steps
    tgt_mean = tr.target_normalizer_.stats_[1][0] if len(steps) > 1 else 0.0
    return metrics(tr.transform(Xte), tr.transform_target(Yte), Yte, tgt_mean)["top1"]


def study(X, Y, OX, OY, Xte, Yte, seed):
    """Top-1 and k-NN similarity after each stage of ``cluster-match``'s refinement from the oracle start."""
    # revision 6's regional step, which refines the unrotated map again (the stage this study measured)
    tr = make_translator("cluster-match", seed=seed, regional_repolish=True)
    data = tr._fit_data(X, Y, None, None)  # the normalisers a fit on these samples would use
    Xn, Yn = data.X, data.Y
    rng = np.random.default_rng(seed)
    W = polar_factor(tr.source_normalizer_.transform(OX).T @ tr.target_normalizer_.transform(OY))
    out = {}

    def note(stage, W, t0):
        out[stage] = {"top1": held_out(tr, W, Xte, Yte), "knn": round(tr._final_value(Xn, Yn, W, None)[0], 5),
                      "seconds": round(time.perf_counter() - t0, 1)}

    note("oracle", W, time.perf_counter())
    t0 = time.perf_counter()
    note("refined k=20->5", tr._refine(Xn, Yn, W, rng, None, schedule=(20, 10, 5)), t0)
    t0 = time.perf_counter()
    W = tr._refine(Xn, Yn, W, rng, None)
    note("refined k=100->5", W, t0)
    t0 = time.perf_counter()
    value = tr._final_value(Xn, Yn, W, None)[0]
    W, value, _ = tr._cascade(Xn, Yn, W, value, rng, None, tr._check_params())
    note("+ cascade", W, t0)
    t0 = time.perf_counter()
    W, value, _ = tr._regional(Xn, Yn, W, value, rng, None)
    note("+ regional", W, t0)
    return out


def done_keys():
    return {(r["pair"], r["n"], r["seed"]) for r in read_rows(RESULTS)}


def bench(args):
    done = done_keys()
    for pair in args.pairs:
        src, tgt = pair.split(":")
        # the same pool as unsupervised_sentences.py, so that (n, seed) draws the same rows as there
        n_max = max(SIZES)
        task, OX, OY = load_pair(src, tgt, n_max)
        for n in [s for s in args.sizes if s <= n_max]:
            for seed in args.seeds:
                if (pair, n, seed) in done:
                    continue
                X, Y, _ = training_draw(task, src, tgt, n, n_max, seed)
                row = {"pair": pair, "n": n, "seed": seed,
                       "stages": study(X, Y, OX, OY, task.src_test, task.tgt_test, seed), "date": today()}
                append_row(RESULTS, row)
                print(json.dumps(row), flush=True)


def render() -> str:
    rows = read_rows(RESULTS)
    table = []
    for r in sorted(rows, key=lambda r: (r["pair"], r["n"], r["seed"])):
        st = r["stages"]
        table.append([r["pair"].replace(":", " → "), r["n"], r["seed"]]
                     + [f"{st[s]['top1']:.4f} ({st[s]['knn']:.4f})" if s in st else "" for s in STAGES]
                     + [f"{sum(v['seconds'] for v in st.values()):.0f}", r["date"]])
    return markdown_table(["pair", "n/side", "seed"] + [f"{s}: top-1 (k-NN sim.)" for s in STAGES]
                          + ["s", "date"], table)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", nargs="+", default=["minilm-l6:e5-small", "e5-small:minilm-l6"])
    p.add_argument("--sizes", nargs="+", type=int, default=[2000, 4000, 8000])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--render", action="store_true", help="only re-render the table from the results file")
    args = p.parse_args(argv)
    command = "python benchmarks/refinement_ceiling.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not args.render:
        bench(args)
    write_section(RESEARCH_DOC, "ceiling", f"{provenance(read_rows(RESULTS), command)}\n\n{render()}")


if __name__ == "__main__":
    main()
