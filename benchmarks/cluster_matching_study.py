"""Can k-means clusters be matched across two encoders without pairs, and would a right matching suffice?

A diagnostic behind ``cluster-match`` / ``spectral-match`` and the mini-vec2vec family (it uses true pairs
to *measure*, so it is not a method). For an encoder pair and n unpaired BBC sentences per side (the task
of ``unsupervised_sentences.py``, normalised ``unit center unit``), and for each number of clusters k:

- k-means (``clustering.euclidean_kmeans``, as ``cluster-match`` runs it) on each side's whole training half;
- **correspondence**: the 2,000 held-out paired sentences are assigned to their nearest centroid on each
  side; the fraction of pairs that land in matched clusters under the best one-to-one matching of the
  two partitions (Hungarian on the contingency table) is the *cluster agreement* (chance: about 1/k),
  and that matching is the *true matching*;
- **identifiability**: the pairless graph-matching objective that cluster matching maximises,
  ``sum_ij G_X[i, j] G_Y[p_i, p_j]`` over the centroids' cosine matrices, for the true matching, for the
  best of ``--restarts`` FAQ runs (``matching.match_similarity_graphs``) with the fraction of clusters it
  matched rightly, and for scipy's 2-opt started *from* the true matching (does the truth even sit at a
  local optimum?);
- **the k-NN graph instead** (``cluster-match`` revision 2+): the same, for the log-lift of the k-nearest-
  neighbour edges between clusters (``matching.knn_lift_graph``), matched by FAQ then 2-opt
  (``matching.match_graphs_strong``); for k <= 8 also the rank of the true matching among all k! matchings
  under each objective (0 = the optimum);
- **sufficiency**: the start map built from the true matching (relative representations to the matched
  centroids, ``matching.relative_pseudo_map``) and from the FAQ matching, each refined and polished the
  way ``spectral-match`` refines its finalists (``refine_map`` then ``polish_map``); held-out top-1.

``python benchmarks/cluster_matching_study.py --pairs minilm-l6:e5-small --n 8000 --ks 8 20 40 --doc``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, markdown_table, today, write_section  # noqa: E402
from unsupervised_basin import top1, unit  # noqa: E402

from vecbridge.clustering import euclidean_kmeans  # noqa: E402
from vecbridge.translators.matching import (  # noqa: E402
    knn_lift_graph,
    match_graphs_strong,
    match_similarity_graphs,
    neighbour_indices,
    polish_map,
    refine_map,
    relative_pseudo_map,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "research" / "unsupervised-history.md"


def true_matching(Xt, Yt, CX, CY):
    """``(agreement, p)``: the one-to-one cluster matching that the held-out pairs support best."""
    from scipy.optimize import linear_sum_assignment

    k = len(CX)
    ax, ay = (Xt @ unit(CX).T).argmax(1), (Yt @ unit(CY).T).argmax(1)
    cont = np.zeros((k, k))
    np.add.at(cont, (ax, ay), 1)
    rows, cols = linear_sum_assignment(-cont)
    p = np.empty(k, dtype=int)
    p[rows] = cols
    return float(cont[rows, cols].sum() / len(Xt)), p


def refined_top1(X, Y, W0, Xt, Yt, seed):
    rng = np.random.default_rng(seed)
    W = refine_map(X, Y, W0, rng, reps=2)
    W, _ = polish_map(X, Y, W, rng)
    return top1(W0, Xt, Yt), top1(W, Xt, Yt)


def truth_rank(GX, GY, c):
    """How many of the k! matchings score strictly above the true matching ``c`` (None for k > 8)."""
    import itertools

    k = len(GX)
    if k > 8:
        return None
    perms = np.array(list(itertools.permutations(range(k))))
    # objective of every permutation p: sum_ij GX[i, j] GY[p_i, p_j], in blocks
    vals = np.concatenate([np.einsum("ij,pij->p", GX, GY[P[:, :, None], P[:, None, :]])
                           for P in np.array_split(perms, max(1, len(perms) // 5000))])
    return int((vals > np.sum(GX * GY[np.ix_(c, c)]) + 1e-9).sum())


def run(pair, n, k, restarts, seed=0):
    from scipy.optimize import quadratic_assignment

    from vecbridge.datasets import sentence_task

    src, tgt = pair.split(":")
    task = sentence_task(src, tgt, n_unpaired=n, n_test=2000, seed=0, progress=False)
    mx, my = unit(task.src_train).mean(0), unit(task.tgt_train).mean(0)
    X, Y = unit(unit(task.src_train) - mx), unit(unit(task.tgt_train) - my)
    Xt, Yt = unit(unit(task.src_test) - mx), unit(unit(task.tgt_test) - my)
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    CX, _ = euclidean_kmeans(X, k, rng)
    CY, _ = euclidean_kmeans(Y, k, rng)
    agree, c = true_matching(Xt, Yt, CX, CY)
    GX, GY = unit(CX) @ unit(CX).T, unit(CY) @ unit(CY).T

    def objective(p):
        return float(np.sum(GX * GY[np.ix_(p, p)]))

    p_faq, f_faq = match_similarity_graphs(GX, GY, restarts, rng)
    guess = np.column_stack([np.arange(k), c])
    p_2opt = quadratic_assignment(GX, GY, method="2opt",
                                  options={"maximize": True, "partial_guess": guess, "rng": np.random.default_rng(seed)}).col_ind
    s_true, r_true = refined_top1(X, Y, relative_pseudo_map(X, Y, CX, CY[c], topk=50), Xt, Yt, seed)
    s_faq, r_faq = refined_top1(X, Y, relative_pseudo_map(X, Y, CX, CY[p_faq], topk=50), Xt, Yt, seed)
    labx, laby = (X @ unit(CX).T).argmax(1), (Y @ unit(CY).T).argmax(1)
    LX = knn_lift_graph(labx, neighbour_indices(X, 10), k)
    LY = knn_lift_graph(laby, neighbour_indices(Y, 10), k)
    p_lift, _ = match_graphs_strong(LX, LY, restarts, rng)
    s_lift, r_lift = refined_top1(X, Y, relative_pseudo_map(X, Y, CX, CY[p_lift], topk=50), Xt, Yt, seed)
    ranks = [truth_rank(GX, GY, c), truth_rank(LX, LY, c)]
    row = [pair.replace(":", " → "), n, k, seed, f"{agree:.3f}", f"{1 / k:.3f}", f"{objective(c):.2f}",
           f"{f_faq:.2f} ({np.mean(p_faq == c):.2f})", f"{objective(p_2opt):.2f} ({np.mean(p_2opt == c):.2f})",
           f"{s_true:.3f} → {r_true:.3f}", f"{s_faq:.3f} → {r_faq:.3f}",
           " / ".join("–" if r is None else str(r) for r in ranks), f"{np.mean(p_lift == c):.2f}",
           f"{s_lift:.3f} → {r_lift:.3f}"]
    print(" | ".join(map(str, row)), f"({time.perf_counter() - t:.0f} s)", flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", nargs="+", default=["minilm-l6:e5-small"])
    p.add_argument("--n", type=int, default=8000, help="unpaired sentences per side")
    p.add_argument("--ks", nargs="+", type=int, default=[8, 20, 40])
    p.add_argument("--restarts", type=int, default=60, help="FAQ restarts of the pairless matching")
    p.add_argument("--kmeans-seeds", nargs="+", type=int, default=[0], help="k-means seeds (one row each)")
    p.add_argument("--doc", action="store_true", help="write the table into docs/research/unsupervised-history.md (cluster-study)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    rows = [run(pair, args.n, k, args.restarts, seed) for pair in args.pairs for k in args.ks for seed in args.kmeans_seeds]
    table = markdown_table(
        ["pair", "n/side", "k", "k-means seed", "cluster agreement (held-out pairs)", "chance", "objective: true matching",
         "objective: best FAQ (fraction right)", "objective: 2-opt from the truth (fraction right)",
         "top-1 from the true matching: start → refined", "top-1 from the FAQ matching: start → refined",
         "rank of the truth among all k! matchings: centroids / k-NN lift", "k-NN lift: fraction right",
         "top-1 from the k-NN lift matching: start → refined"], rows)
    print(table)
    if args.doc:
        cmd = "python benchmarks/cluster_matching_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(DOC, "cluster-study", f"_Measured on {today()} on {machine()}, {time.perf_counter() - t0:.0f} s. "
                                            f"Command: `{cmd}`._\n\n{table}")


if __name__ == "__main__":
    main()
