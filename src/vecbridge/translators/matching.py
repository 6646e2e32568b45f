"""Cluster matching: a linear map from two *unpaired* samples, and the solvers that unsupervised methods share.

Solvers (functions over numpy arrays):

* graph matching: :func:`match_similarity_graphs` (quadratic assignment by scipy's FAQ from random starts),
  :func:`match_graphs_strong` (then scipy's 2-opt), :func:`knn_lift_graph` (how clusters' k-NN edges connect);
* start maps: :func:`cluster_matching_candidates` (k-means on each side, the clusters matched, pseudo-pairs
  through relative representations, :func:`relative_pseudo_map`) and :func:`reanchor_map`;
* refinement, annealed k-NN Procrustes (a soft Wasserstein-Procrustes): :func:`refine_map` (source to target),
  :func:`refine_bidirectional` (both ways), both through :func:`annealed_procrustes`, :func:`polish_map` (until
  the pairless k-NN similarity stops rising);
* regional restarts: :func:`weak_subspace`, :func:`rotate_in_subspace`; and :func:`polar_factor`.

:class:`ClusterMatching` (``cluster-match``) is the method of the mini-vec2vec (Dar 2025) and "Shared Geometry
as a Rosetta Stone" (Schnaus et al. 2026) family built on them. Its maps are linear and semi-orthogonal
(``W_`` (d_src, d_tgt) with orthonormal rows or columns), so the dimensions may differ. What it achieves on
real encoders: docs/unsupervised.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..clustering import euclidean_kmeans
from ..compute import Compute
from ..errors import VecbridgeError
from ..neighbors import knn_mean_similarity, knn_target_means, row_means, top_k, top_k_both_ways
from ..normalize import unit_rows
from ..sampling import sample_rows
from .base import Choice, FitData, Range, UnsupervisedTranslator
from .linear import polar

#: default k-NN schedule of :func:`refine_map` (targets are means of the k nearest; k shrinks)
REFINE_SCHEDULE = (50, 20, 10)


# -- small linear algebra ----------------------------------------------------------
#: the smallest eigenvalue ratio of the Gram matrix for which :func:`polar_factor` takes the eigen route
#: (condition number of M up to 1e4: the float64 result then differs from the SVD's by about 1e-8)
POLAR_EIGH_MIN_RATIO = 1e-8


def polar_factor(M: np.ndarray) -> np.ndarray:
    """The (semi-)orthogonal factor ``U V^T`` of ``M`` (dx, dy) as float32 (:func:`~.linear.polar`): the
    Procrustes solution for cross-covariance M.

    Computed as ``M (M^T M)^(-1/2)`` (or ``(M M^T)^(-1/2) M`` when dx < dy) from the eigendecomposition of
    the smaller Gram matrix, half the time of an SVD at 384-d; when that Gram matrix is ill-conditioned
    (``POLAR_EIGH_MIN_RATIO``) the SVD."""
    M = np.asarray(M, dtype=np.float64)
    wide = M.shape[0] < M.shape[1]
    G = M @ M.T if wide else M.T @ M
    lam, V = np.linalg.eigh(G)
    if not (np.all(np.isfinite(lam)) and lam[-1] > 0 and lam[0] >= POLAR_EIGH_MIN_RATIO * lam[-1]):
        return polar(M).astype(np.float32)
    root = (V / np.sqrt(lam)) @ V.T  # G^(-1/2)
    return (root @ M if wide else M @ root).astype(np.float32)


def identity_map(dx: int, dy: int) -> np.ndarray:
    """(dx, dy) identity (the first min(dx, dy) coordinates kept)."""
    return np.eye(dx, dy, dtype=np.float32)


def principal_axes(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` principal axes of centred-ish rows X (n, d): ``(U (d, k), variances (k,))``, largest first."""
    C = np.asarray(X, dtype=np.float64)
    C = C.T @ C / max(1, len(X))
    lam, U = np.linalg.eigh(C)
    lam, U = lam[::-1][:k], U[:, ::-1][:, :k]
    return U.astype(np.float32), np.maximum(lam, 1e-12).astype(np.float32)


# -- clustering and graph matching ------------------------------------------------
def match_similarity_graphs(
    SA: np.ndarray, SB: np.ndarray, restarts: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Permutation ``p`` maximising ``sum_ij SA[i, j] SB[p_i, p_j]`` (quadratic assignment).

    SA, SB: (k, k) similarity matrices. scipy's FAQ (Vogelstein et al. 2015) from
    ``restarts`` random doubly-stochastic starts; the best objective wins. Returns ``(p (k,), objective)``.
    """
    from scipy.optimize import quadratic_assignment

    best_p, best_f = None, -np.inf
    for _ in range(max(1, restarts)):
        res = quadratic_assignment(
            SA, SB, method="faq", options={"maximize": True, "P0": "randomized", "rng": np.random.default_rng(rng.integers(2**63))}
        )
        f = float(np.sum(SA * SB[np.ix_(res.col_ind, res.col_ind)]))
        if f > best_f:
            best_p, best_f = res.col_ind.copy(), f
    return best_p, best_f


def neighbour_indices(Z: np.ndarray, k: int = 10, compute: Compute | None = None) -> np.ndarray:
    """(n, k) indices of each row's ``k`` nearest other rows of Z (n, d) (cosine; the row itself excluded;
    in no particular order)."""
    Zu = unit_rows(Z)
    return top_k(Zu, Zu, int(min(k, len(Z) - 1)), similarity="dot", exclude_self=True, ordered=False,
                 compute=compute, desc="k-NN graph").indices


def knn_lift_graph(labels: np.ndarray, neighbours: np.ndarray, n_clusters: int) -> np.ndarray:
    """(k, k) log-lift of the k-nearest-neighbour edges between clusters.

    Entry (i, j): log of (edges from cluster i to cluster j) / (what the clusters'
    edge counts alone would give), with a floor of 1e-3 so that clusters that are
    never neighbours carry a strongly negative weight. Unlike the centroids' cosine
    matrix, it describes which clusters *touch*, which two encoders agree on far better.
    ``labels`` (n,) cluster of each row, ``neighbours`` (n, m) row indices of each row's neighbours.
    """
    E = np.zeros((n_clusters, n_clusters))
    np.add.at(E, (np.repeat(labels, neighbours.shape[1]), labels[neighbours].ravel()), 1.0)
    deg = E.sum(1)
    expected = np.outer(deg, deg) / max(E.sum(), 1.0)
    return np.log(E / np.maximum(expected, 1e-12) + 1e-3)


def match_graphs_strong(
    SA: np.ndarray, SB: np.ndarray, restarts: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """:func:`match_similarity_graphs` (FAQ from ``restarts`` random starts), then scipy's 2-opt
    local search from the best permutation; returns ``(p, objective)``."""
    from scipy.optimize import quadratic_assignment

    p, f = match_similarity_graphs(SA, SB, restarts, rng)
    k = len(SA)
    res = quadratic_assignment(SA, SB, method="2opt", options={
        "maximize": True, "partial_guess": np.column_stack([np.arange(k), p]),
        "rng": np.random.default_rng(rng.integers(2**63))})
    f2 = float(np.sum(SA * SB[np.ix_(res.col_ind, res.col_ind)]))
    return (res.col_ind.copy(), f2) if f2 > f else (p, f)


def relative_pseudo_map(
    X: np.ndarray, Y: np.ndarray, CX: np.ndarray, CY: np.ndarray, topk: int = 20, block: int = 2048,
    compute: Compute | None = None,
) -> np.ndarray:
    """Procrustes map from pseudo-pairs found through matched anchors.

    X (n, dx), Y (m, dy); CX (a, dx) and CY (a, dy) are anchors with row i of CX matched
    to row i of CY. Each point's relative representation (cosines to its side's
    anchors, standardised per point) is compared across sides; a source point's
    pseudo-target is the mean of the ``topk`` targets nearest in that description.
    Returns W (dx, dy); the cross-covariance is summed over ``block`` rows at a time.
    """

    def rel(Z: np.ndarray, C: np.ndarray) -> np.ndarray:
        R = unit_rows(Z) @ unit_rows(C).T
        R = (R - R.mean(1, keepdims=True)) / (R.std(1, keepdims=True) + 1e-6)
        return R.astype(np.float32)

    RX, RY = rel(X, CX), rel(Y, CY)
    k = int(min(topk, len(Y)))
    idx = top_k(RX, RY, k, similarity="dot", ordered=False, compute=compute, desc="pseudo-pairs").indices
    M = np.zeros((X.shape[1], Y.shape[1]), dtype=np.float64)
    for s in range(0, len(X), block):
        M += X[s : s + block].T.astype(np.float64) @ row_means(Y, idx[s : s + block])
    return polar_factor(M)


# -- refinement ---------------------------------------------------------------------
def annealed_procrustes(
    W: np.ndarray,
    schedule: tuple[int, ...],
    reps: int,
    cross_covariance: Callable[[np.ndarray, int], np.ndarray],
    known: tuple[np.ndarray, np.ndarray] | None = None,
    pair_weight: float = 20.0,
) -> np.ndarray:
    """The loop of :func:`refine_map` and :func:`refine_bidirectional`: for each ``k`` of ``schedule``,
    ``reps`` times (at least once), ``W`` becomes the Procrustes solution (:func:`polar_factor`) of
    ``cross_covariance(W, k)`` (dx, dy, float64), to which each known pair (``known``: (X_pairs (p, dx),
    Y_pairs (p, dy))) adds its own with weight ``pair_weight``. Returns the last W (float32)."""
    W = np.asarray(W, dtype=np.float32)
    for k in schedule:
        for _ in range(max(1, reps)):
            M = cross_covariance(W, k)
            if known is not None and len(known[0]):
                M += pair_weight * (known[0].T.astype(np.float64) @ known[1])
            W = polar_factor(M)
    return W


def refine_map(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray,
    rng: np.random.Generator,
    schedule: tuple[int, ...] = REFINE_SCHEDULE,
    reps: int = 2,
    n_source: int = 4000,
    n_target: int = 8000,
    known: tuple[np.ndarray, np.ndarray] | None = None,
    pair_weight: float = 20.0,
    compute: Compute | None = None,
) -> np.ndarray:
    """Annealed k-NN Procrustes from the start map W (dx, dy); returns the refined W.

    For each ``k`` of ``schedule`` (``reps`` times): draw ``n_source`` source rows and
    ``n_target`` target rows (all when fewer), map the source rows, take as each one's
    target the mean of its ``k`` nearest target rows (cosine), and solve Procrustes.
    Large ``k`` early is a soft, cluster-level matching with a wide basin of
    attraction; a final ``k`` around 10 averages away the fact that the nearest
    target is a different sentence (``k = 1``, the hard matching, is worse on
    unpaired sentence samples).
    ``known``: (X_pairs (p, dx), Y_pairs (p, dy)) rows known to correspond; each enters
    every Procrustes solve with weight ``pair_weight``.
    """
    Yu = unit_rows(Y)

    def cross_covariance(W: np.ndarray, k: int) -> np.ndarray:
        a = sample_rows(rng, len(X), n_source)
        b = sample_rows(rng, len(Y), n_target)
        Xa = X[a]
        return Xa.T.astype(np.float64) @ knn_target_means(Xa @ W, Yu[b], int(min(k, len(b))), compute=compute)

    return annealed_procrustes(W, schedule, reps, cross_covariance, known, pair_weight)


def refine_bidirectional(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray,
    rng: np.random.Generator,
    schedule: tuple[int, ...] = (100, 50, 20, 10, 5),
    reps: int = 3,
    n_sample: int = 8000,
    known: tuple[np.ndarray, np.ndarray] | None = None,
    pair_weight: float = 20.0,
    compute: Compute | None = None,
    wide_k: int = 50,
    wide_fraction: float = 1.0,
    wide_min_rows: int = 4000,
) -> np.ndarray:
    """Annealed k-NN Procrustes in both directions: each step solves Procrustes on the
    source rows with their target k-NN means *and* the target rows with their source
    k-NN means (mapped back through W), ``k`` shrinking through ``schedule``.

    From a start that is only partly right it converges further than :func:`refine_map`.
    ``n_sample`` rows per side per step (all when fewer); ``known`` as in :func:`refine_map`.
    Both directions' neighbours come from one product (:func:`step_neighbours`).
    ``wide_fraction`` < 1: the wide steps (``k >= wide_k``, a soft, cluster-level matching) draw that
    fraction of the rows of each side, but not fewer than ``wide_min_rows`` (all when there are fewer), and
    take the same share of ``k``: at 8,000 rows per side and 0.5, a quarter of the cost.
    """
    if not 0 < float(wide_fraction) <= 1:
        raise VecbridgeError(f"wide_fraction must be in (0, 1], got {wide_fraction!r}")
    Xu, Yu = unit_rows(X), unit_rows(Y)

    def both_ways(W: np.ndarray, k: int) -> np.ndarray:
        na, nb = min(len(X), n_sample), min(len(Y), n_sample)
        if wide_fraction < 1 and k >= wide_k:
            na2 = max(min(na, wide_min_rows), int(na * wide_fraction))
            nb2 = max(min(nb, wide_min_rows), int(nb * wide_fraction))
            k = max(1, int(round(k * (na2 + nb2) / (na + nb))))
            na, nb = na2, nb2
        a = sample_rows(rng, len(X), na)
        b = sample_rows(rng, len(Y), nb)
        Xa, Ya = _rows(X, a), _rows(Y, b)
        T, S = step_neighbours(_rows(Xu, a), _rows(Yu, b), W, k, compute)
        # float32 products (relative error ~5e-7 at 8,000 rows), summed in float64
        return (Xa.T @ T).astype(np.float64) + (S.T @ Ya).astype(np.float64)

    return annealed_procrustes(W, schedule, reps, both_ways, known, pair_weight)


def _rows(A: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``A[idx]`` for indices from :func:`sample_rows`, without the copy when they are every row (it gives them
    in order then)."""
    return A if len(idx) == len(A) else A[idx]


def step_neighbours(
    Xu: np.ndarray, Yu: np.ndarray, W: np.ndarray, k: int, compute: Compute | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The targets of one bidirectional k-NN Procrustes step: ``(T (n, dy), S (m, dx))``, T[i] the mean of the
    ``k`` target rows nearest to source row i mapped (``Xu[i] @ W``), S[j] the mean of the ``k`` source rows
    whose mapped rows are nearest to target row j. Xu (n, dx), Yu (m, dy) unit rows.

    Both rankings are read off the one product ``(Xu W) Yu^T`` (:func:`~vecbridge.neighbors.top_k_both_ways`):
    by rows for T, by columns for S. Ranking target row j's candidates by the cosine of ``Yu[j] W^T`` with
    ``Xu`` gives the same order, since ``(Yu[j] W^T) . Xu[i] = (Xu[i] W) . Yu[j]``."""
    fwd, bwd = top_k_both_ways(Xu @ W, Yu, int(min(k, len(Yu))), int(min(k, len(Xu))), similarity="dot",
                               compute=compute, desc="k-NN means both ways")
    return row_means(Yu, fwd.indices), row_means(Xu, bwd.indices)


def polish_map(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray,
    rng: np.random.Generator,
    k: int = 10,
    max_steps: int = 15,
    tol: float = 2.5e-4,
    n_source: int = 8000,
    n_target: int = 16000,
    known: tuple[np.ndarray, np.ndarray] | None = None,
    pair_weight: float = 20.0,
    n_check: int = 2000,
    extrapolate: float = 3.0,
    compute: Compute | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Repeat the last refinement step (k-NN Procrustes at ``k``) until the map stops improving.

    :func:`refine_map`'s fixed number of steps leaves a start that lies in the right
    basin but far from its bottom only partly converged, and a partly converged map can
    lose the pairless selection to a worse map that converged faster. Progress is measured by
    :func:`~vecbridge.selection.knn_similarity` of a fixed sample (``n_check`` source
    rows against ``2 n_check`` target rows, drawn once); it stops when one step
    gains less than ``tol`` or after ``max_steps``. Each step also tries ``extrapolate`` times the
    step (re-orthogonalised) and keeps it when it scores better. Returns ``(W, info)``, info with
    ``steps`` and the ``knn`` trajectory.
    """
    from ..selection import knn_similarity

    if max_steps < 0 or tol < 0:
        raise VecbridgeError(f"polish_map needs max_steps >= 0 and tol >= 0, got {max_steps} and {tol}")
    cx = sample_rows(rng, len(X), n_check)
    cy = sample_rows(rng, len(Y), 2 * n_check)
    Xc, Yc = X[cx], Y[cy]
    W = np.asarray(W, dtype=np.float32)
    best = knn_similarity(Xc @ W, Yc, compute=compute)
    trace = [round(best, 5)]
    for _ in range(int(max_steps)):
        Wn = refine_map(X, Y, W, rng, schedule=(k,), reps=1, n_source=n_source, n_target=n_target,
                        known=known, pair_weight=pair_weight, compute=compute)
        val = knn_similarity(Xc @ Wn, Yc, compute=compute)
        if extrapolate > 1:
            # the fixed-point iteration creeps along a shallow valley; a longer step in the same
            # direction, kept only when it scores better, covers several steps at once
            We = polar_factor(W + extrapolate * (Wn - W))
            ve = knn_similarity(Xc @ We, Yc, compute=compute)
            if ve > val:
                Wn, val = We, ve
        trace.append(round(val, 5))
        if val <= best:
            break
        W, gain, best = Wn, val - best, val
        if gain < tol:
            break
    return W, {"steps": len(trace) - 1, "knn": trace}


def cluster_matching_candidates(
    X: np.ndarray,
    Y: np.ndarray,
    rng: np.random.Generator,
    n_clusters: int = 20,
    n_runs: int = 4,
    qap_restarts: int = 30,
    subsample: float = 0.5,
    graph: str = "centroids",
    neighbours: int = 10,
    max_rows: int = 8000,
    topk: int = 20,
    compute: Compute | None = None,
) -> list[tuple[np.ndarray, dict[str, Any]]]:
    """Start maps from k-means cluster matching, ``n_runs`` of them (fresh k-means each).

    ``graph="centroids"``: the clusters are matched by their centroids' cosine matrices
    (mini-vec2vec, Rosetta), k-means on a ``subsample`` fraction of each side;
    ``graph="knn"``: by the log-lift of the k-NN edges between clusters
    (:func:`knn_lift_graph`, ``neighbours`` per row), k-means on up to ``max_rows`` rows
    per side, FAQ then 2-opt. Returns ``[(W (dx, dy), info), ...]`` with the QAP objective in ``info``.
    """
    if graph not in ("centroids", "knn"):
        raise VecbridgeError(f"graph must be 'centroids' or 'knn', got {graph!r}")
    out = []
    for run in range(n_runs):
        if graph == "knn":
            xa = sample_rows(rng, len(X), max_rows)
            yb = sample_rows(rng, len(Y), max_rows)
        else:
            xa = rng.choice(len(X), max(n_clusters, int(subsample * len(X))), replace=False)
            yb = rng.choice(len(Y), max(n_clusters, int(subsample * len(Y))), replace=False)
        CX, lx = euclidean_kmeans(X[xa], n_clusters, rng)
        CY, ly = euclidean_kmeans(Y[yb], n_clusters, rng)
        if graph == "knn":
            GX = knn_lift_graph(lx, neighbour_indices(X[xa], neighbours, compute), n_clusters)
            GY = knn_lift_graph(ly, neighbour_indices(Y[yb], neighbours, compute), n_clusters)
            p, f = match_graphs_strong(GX, GY, qap_restarts, rng)
        else:
            ux, uy = unit_rows(CX), unit_rows(CY)
            p, f = match_similarity_graphs(ux @ ux.T, uy @ uy.T, qap_restarts, rng)
        W = relative_pseudo_map(X, Y, CX, CY[p], topk=topk, compute=compute)
        out.append((W, {"init": "clusters", "graph": graph, "run": run, "qap_objective": round(f, 4)}))
    return out


def reanchor_map(
    X: np.ndarray, Y: np.ndarray, W: np.ndarray, rng: np.random.Generator, n_clusters: int = 20,
    max_rows: int = 8000, topk: int = 50, compute: Compute | None = None,
) -> np.ndarray:
    """A fresh start from a map that is partly right: k-means on each side, the centroids
    matched one to one by their cosine under W (linear assignment), then the relative
    pseudo-map to those anchors (:func:`relative_pseudo_map`). Returns W (dx, dy)."""
    from scipy.optimize import linear_sum_assignment

    xa = sample_rows(rng, len(X), max_rows)
    yb = sample_rows(rng, len(Y), max_rows)
    k = int(min(n_clusters, len(xa), len(yb)))
    DX, _ = euclidean_kmeans(X[xa], k, rng)
    DY, _ = euclidean_kmeans(Y[yb], k, rng)
    _, cols = linear_sum_assignment(-(unit_rows(DX @ W) @ unit_rows(DY).T))
    return relative_pseudo_map(X, Y, DX, DY[cols], topk=topk, compute=compute)


def weak_subspace(
    X: np.ndarray, Y: np.ndarray, W: np.ndarray, rng: np.random.Generator, n_clusters: int = 20, n_weak: int = 5,
    dims: int = 8, k: int = 10, max_rows: int = 8000, compute: Compute | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The source directions where the map W fits worst, found without pairs.

    Per source row: mean cosine of the mapped row to its ``k`` nearest target rows,
    over the row's mean cosine to its ``k`` nearest source rows (how well it lands,
    relative to how dense its own neighbourhood is); averaged over ``n_clusters``
    k-means clusters. The ``n_weak`` clusters with the lowest ratio are the weak
    region; its top ``dims`` principal directions are returned as an orthonormal
    basis P (dx, dims), with the per-cluster ratios (n_clusters,).
    """
    a = sample_rows(rng, len(X), max_rows)
    b = sample_rows(rng, len(Y), max_rows)
    Xa, Yb = X[a], unit_rows(Y[b])
    Xu, M = unit_rows(Xa), unit_rows(Xa @ W)
    lands = knn_mean_similarity(M, Yb, int(min(k, len(Yb))), similarity="dot", compute=compute)
    dense = knn_mean_similarity(Xu, Xu, int(min(k, len(Xa) - 1)), similarity="dot", exclude_self=True,
                                compute=compute)
    c = int(min(n_clusters, len(Xa) // 2))
    _, labels = euclidean_kmeans(Xa, c, rng)
    ratio = lands / np.maximum(dense, 1e-6)
    per = np.array([ratio[labels == j].mean() if np.any(labels == j) else np.inf for j in range(c)])
    weak = np.argsort(per)[: int(min(n_weak, c))]
    B = Xa[np.isin(labels, weak)].astype(np.float64)
    B -= B.mean(0)
    _, _, Vt = np.linalg.svd(B, full_matrices=False)
    return Vt[: int(min(dims, len(Vt)))].T, per


def rotate_in_subspace(W: np.ndarray, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """``R @ W`` with R = I + P (Q - I) P^T: the rotation Q (m, m) applied inside the source
    subspace spanned by the orthonormal columns of P (dx, m), the identity outside it."""
    return (W + P @ ((Q - np.eye(len(Q))) @ (P.T @ W))).astype(np.float32)


#: the rescue stops once a fit judged "uncertain" maps the sample as an earlier fit does (mean cosine of the rows
#: mapped by both, :func:`map_agreement`). At 2,000 sentences per side, where the verdict says "uncertain" at
#: most, MiniLM-L3 -> L6 fits from three seeds agreed at 1.000 (top-1 0.94 each), e5 -> MiniLM-L6 fits at chance
#: at -0.03 to 0.05
RESCUE_AGREE = 0.9


def map_agreement(X: np.ndarray, W1: np.ndarray, W2: np.ndarray, n: int = 2000) -> float:
    """Mean cosine between the first ``n`` rows of X (n, d) mapped by W1 and by W2 (d, k): 1 for one map."""
    A = np.asarray(X[:n], dtype=np.float32)
    return float(np.mean(np.sum(unit_rows(A @ W1) * unit_rows(A @ W2), axis=1)))


def rescue_seed(seed: int, attempt: int) -> int:
    """The seed of rescue attempt ``attempt`` (1, 2, ...) of a fit seeded ``seed``: drawn from both, so that it
    differs from the small seeds a user would try next."""
    return int(np.random.SeedSequence([int(seed), int(attempt)]).generate_state(1)[0])


class ClusterMatching(UnsupervisedTranslator):
    """Cluster-graph matching + bidirectional Procrustes refinement (mini-vec2vec / Rosetta family).

    1. **screening**: ``n_runs`` runs, each k-means on a sample of each side, the two cluster graphs
       matched by quadratic assignment (:func:`cluster_matching_candidates`), pseudo-pairs read off the
       matched clusters (relative representations) and a short bidirectional refinement
       (:func:`refine_bidirectional`, k = 100, 50, 20), scored by the pairless k-NN similarity; with
       equal dimensions the identity map competes too (``identity_start``);
    2. **finalists**: the best ``n_finalists`` refined fully (k down to 5); the highest k-NN similarity wins;
    3. **re-anchoring cascade**: for each size in ``reanchor_clusters`` (finer and finer), fresh k-means
       clusters matched through the current map (:func:`reanchor_map`) and refined fully again; a round is
       kept only when the k-NN similarity rises. After the schedule the last two sizes alternate while
       rounds are kept (at most ``reanchor_repeats`` more);
    4. **regional restarts** (at most ``regional_passes`` passes, while each is kept): the source region
       where the map fits worst (:func:`weak_subspace`) gives ``regional_dims`` directions;
       ``regional_restarts`` random rotations inside it (and no rotation) are refined on
       ``regional_screen_rows`` rows per side, the best is refined on the full sample and replaces the map
       when its k-NN similarity is higher;
    5. **coarse to fine** (off by default): with more than ``coarse_rows`` rows per side, steps 1-4 search on ``coarse_rows``
       rows of each side drawn at random, and the map they find is refined on the whole sample at the end
       (k = 100, 50, 20, 10, 5, twice each, ``n_sample`` rows per step).
    6. **rescue**: when the verdict does not call the map aligned, up to ``rescue_starts`` more fits (steps
       1-5) from fresh seeds, until one is aligned, two are not aligned, or two agree; the best is kept.

    Every candidate's and round's score is in ``fit_info_["selection"]``. Measured results and fit times:
    docs/unsupervised.md; how the method came to be: docs/research/unsupervised-history.md.

    Parameters
    ----------
    n_clusters : int, default 8
        k-means clusters per side, matched by quadratic assignment.
    n_runs : int, default 6
        independent k-means + matching runs.
    n_finalists : int, default 2
        runs refined fully after the screening.
    graph : {"knn", "centroids"}, default "knn"
        what is matched: the log-lift of k-NN edges between clusters (:func:`knn_lift_graph`), or the
        centroids' cosine matrix (as in mini-vec2vec).
    neighbours : int, default 10
        nearest neighbours per row for the k-NN graph.
    qap_restarts : int, default 100
        random FAQ starts per matching (then 2-opt from the best, for ``graph="knn"``).
    reanchor_clusters : tuple of int, default (40, 80, 160, 320, 640)
        clusters of each re-anchoring round (empty: none); sizes above a twelfth of
        the rows (``min(n, m, n_sample) // 12``) are skipped (that twelfth is used when all are).
    reanchor_repeats : int, default 4
        more rounds after the schedule, alternating its last two sizes, while each is kept.
    regional_restarts : int, default 8
        random rotations per regional pass (0: no regional step).
    regional_passes : int, default 4
        regional passes at most; they stop at the first that is not kept.
    regional_dims : int, default 8
        directions of the weak region that the rotations turn.
    regional_screen_rows : int, default 3000
        rows per side of the short refinements that screen the rotations.
    regional_repolish : "auto", True or False, default "auto"
        when no rotation screens best in a regional pass: refine the map again on the full sample and keep
        it if its k-NN similarity rises (True), or end the regional step there (False). "auto" re-polishes
        unless the map came from the identity start (re-polishing a right map lowers held-out accuracy
        while it raises the in-sample k-NN similarity).
    identity_start : bool, default True
        when both sides have the same dimension, the identity map (refined from k = 50, with its own random
        generator) is screened with the cluster-matching runs and, when it screens best, refined fully as one
        more finalist, so that spaces already partly aligned stay so. Otherwise the fit is the one without
        it, draw for draw.
    n_sample : int, default 8000
        rows per side for k-means, the k-NN graph and each refinement step.
    min_gain : float, default 2.5e-4
        the re-anchoring repeats and the regional passes go on only while a round raises the k-NN similarity
        by at least this much (a smaller rise is kept, but ends them).
    coarse_rows : int, default 0
        rows per side that steps 1-4 search on when the samples are larger (0: the whole sample throughout).
        4000 halves the time of a fit at 8,000 rows per side but can land a region of the map wrong (MiniLM-L6
        -> e5 at 8,000: one seed of five at top-1 0.88 instead of 0.97; docs/unsupervised.md).
    wide_fraction : float, default 0.5
        the wide refinement steps (k >= ``wide_k``: a soft, cluster-level matching) draw this fraction of
        the rows per side, but not fewer than 4,000 (all when there are fewer), and take the same share of k:
        at 8,000 rows per side a quarter of the cost of such a step; 1: every step on the whole sample.
    wide_k : int, default 20
        the smallest k of a wide step.
    refine_reps : int, default 2
        Procrustes steps at each k of a full refinement (k = 100, 50, 20, 10, 5) and of the screening.
    rescue_starts : int, default 2
        when the verdict of the fit (:mod:`vecbridge.verdict`) is not "aligned", up to this many more fits from
        fresh seeds (derived from ``seed``, :func:`rescue_seed`), stopping at the first judged aligned or once two
        are judged not aligned (spaces that do not align), or once a fit judged "uncertain" maps the sample as an
        earlier one does (``RESCUE_AGREE``). The fit kept is the best by verdict, then by k-NN similarity (every
        attempt is scored on the same samples);
        ``fit_info_["rescue"]`` lists the attempts. 0: one fit. A fit judged aligned costs nothing more.
    pair_weight : float, default 20
        weight of each known pair in the refinement (few-pair mode).
    normalize : str, default "unit center unit"
    seed : int, default 0
    device : str, default "cpu"
        where the neighbour searches run: ``cpu`` (numpy), ``auto`` (a GPU through torch when there is one),
        ``torch`` (torch on the CPU), ``cuda``, ``cuda:N``, ``mps`` (:meth:`vecbridge.compute.Compute.for_device`).
    """

    method = "cluster-match"
    param_ranges = {"n_clusters": Range(2), "n_runs": Range(1), "n_finalists": Range(1),
                    "graph": Choice(("centroids", "knn")), "neighbours": Range(1), "qap_restarts": Range(1),
                    "reanchor_clusters": Range(2, items=True), "reanchor_repeats": Range(0),
                    "regional_restarts": Range(0), "regional_passes": Range(0), "regional_dims": Range(2),
                    "regional_screen_rows": Range(2), "n_sample": Range(1), "coarse_rows": Range(0),
                    "min_gain": Range(0), "wide_fraction": Range(0, 1, low_open=True), "wide_k": Range(1),
                    "refine_reps": Range(1), "rescue_starts": Range(0), "pair_weight": Range(0)}
    saved_arrays = {"W_": ("in", "out")}
    range_message = "{method}: {name} must be {rule} (got {name}={value!r})"

    def __init__(
        self,
        n_clusters: int = 8,
        n_runs: int = 6,
        n_finalists: int = 2,
        graph: str = "knn",
        neighbours: int = 10,
        qap_restarts: int = 100,
        reanchor_clusters: tuple[int, ...] = (40, 80, 160, 320, 640),
        reanchor_repeats: int = 4,
        regional_restarts: int = 8,
        regional_passes: int = 4,
        regional_dims: int = 8,
        regional_screen_rows: int = 3000,
        regional_repolish: bool | str = "auto",
        identity_start: bool = True,
        n_sample: int = 8000,
        coarse_rows: int = 0,
        min_gain: float = 2.5e-4,
        wide_fraction: float = 0.5,
        wide_k: int = 20,
        refine_reps: int = 2,
        rescue_starts: int = 2,
        pair_weight: float = 20.0,
        normalize: str | None = "unit center unit",
        seed: int = 0,
        device: str = "cpu",
    ):
        self.n_clusters = n_clusters
        self.n_runs = n_runs
        self.n_finalists = n_finalists
        self.graph = graph
        self.neighbours = neighbours
        self.qap_restarts = qap_restarts
        self.reanchor_clusters = reanchor_clusters
        self.reanchor_repeats = reanchor_repeats
        self.regional_restarts = regional_restarts
        self.regional_passes = regional_passes
        self.regional_dims = regional_dims
        self.regional_screen_rows = regional_screen_rows
        self.regional_repolish = regional_repolish
        self.identity_start = identity_start
        self.n_sample = n_sample
        self.coarse_rows = coarse_rows
        self.min_gain = min_gain
        self.wide_fraction = wide_fraction
        self.wide_k = wide_k
        self.refine_reps = refine_reps
        self.rescue_starts = rescue_starts
        self.pair_weight = pair_weight
        self.normalize = normalize
        self.seed = seed
        self.device = device

    def _compute(self) -> Compute:
        """Where the neighbour searches of this fit run (``device``; checked here)."""
        compute = Compute.for_device(self.device, progress=False)
        compute.resolve_backend()
        return compute

    def _refine(self, X, Y, W0, rng, known_xy, schedule=(100, 50, 20, 10, 5), reps=None, n_sample=None):
        reps = int(self.refine_reps) if reps is None else reps
        n_sample = int(self.n_sample) if n_sample is None else n_sample
        return refine_bidirectional(X, Y, W0, rng, schedule=schedule, reps=reps, n_sample=n_sample,
                                    known=known_xy, pair_weight=float(self.pair_weight), compute=self._compute(),
                                    wide_fraction=float(self.wide_fraction), wide_k=int(self.wide_k))

    def _check_params(self) -> list[int]:
        rounds = [int(r) for r in (self.reanchor_clusters or ())]
        rules = [  # (parameter, holds, rule), checked in this order; the error names every one that fails
            ("n_clusters", self.n_clusters >= 2, ">= 2"), ("n_runs", self.n_runs >= 1, ">= 1"),
            ("n_finalists", self.n_finalists >= 1, ">= 1"), ("neighbours", self.neighbours >= 1, ">= 1"),
            ("reanchor_clusters", all(r >= 2 for r in rounds), "sizes >= 2"),
            ("reanchor_repeats", int(self.reanchor_repeats) >= 0, ">= 0"),
            ("regional_restarts", int(self.regional_restarts) >= 0, ">= 0"),
            ("regional_passes", int(self.regional_passes) >= 0, ">= 0"),
            ("regional_dims", int(self.regional_dims) >= 2, ">= 2"),
            ("regional_screen_rows", int(self.regional_screen_rows) >= 2, ">= 2"),
            ("coarse_rows", int(self.coarse_rows) >= 0, ">= 0"), ("min_gain", float(self.min_gain) >= 0, ">= 0"),
            ("wide_fraction", 0 < float(self.wide_fraction) <= 1, "in (0, 1]"), ("wide_k", int(self.wide_k) >= 1, ">= 1"),
            ("refine_reps", int(self.refine_reps) >= 1, ">= 1"), ("rescue_starts", int(self.rescue_starts) >= 0, ">= 0")]
        bad = [f"{name} must be {rule} (got {name}={getattr(self, name)!r})" for name, ok, rule in rules if not ok]
        if bad:
            raise VecbridgeError("cluster-match: " + "; ".join(bad))
        if not isinstance(self.identity_start, (bool, np.bool_)):
            raise VecbridgeError(f"identity_start must be true or false, got {self.identity_start!r}")
        if not (isinstance(self.regional_repolish, (bool, np.bool_)) or self.regional_repolish == "auto"):
            raise VecbridgeError(f"regional_repolish must be 'auto', true or false, got {self.regional_repolish!r}")
        return rounds

    def _screen(self, X, Y, rng, known_xy):
        """Steps 1-2: the starting runs, screened by a short refinement, the finalists refined fully.
        Returns ``(value, W, chosen index, per-candidate info)``."""
        k = int(min(self.n_clusters, len(X) // 2, len(Y) // 2))
        cands = cluster_matching_candidates(
            X, Y, rng, n_clusters=k, n_runs=int(self.n_runs), qap_restarts=int(self.qap_restarts),
            graph=self.graph, neighbours=int(self.neighbours), max_rows=int(self.n_sample),
            topk=50 if self.graph == "knn" else 20, compute=self._compute())
        if known_xy is not None:
            cands.append((polar_factor(known_xy[0].T @ known_xy[1]), {"init": "known pairs"}))
        quick = []
        for W0, meta in cands:
            W = self._refine(X, Y, W0, rng, known_xy, schedule=(100, 50, 20))
            value, rep = self._final_value(X, Y, W, known_xy)
            quick.append((value, W, {**meta, "quick": rep}))
        order = sorted(range(len(quick)), key=lambda i: -quick[i][0])[: int(self.n_finalists)]
        finals = []
        for i in order:
            W = self._refine(X, Y, quick[i][1], rng, known_xy)
            value, rep = self._final_value(X, Y, W, known_xy)
            quick[i][2]["final"] = rep
            finals.append((value, W, i))
        if self.identity_start and X.shape[1] == Y.shape[1]:
            # encoders that share their axes (a distilled or fine-tuned sibling) start close to the identity.
            # It has its own generator and becomes an extra finalist only when it screens best, so that
            # otherwise the fit is the one without it, draw for draw.
            irng = np.random.default_rng([self._check_seed(self.seed), 1])
            W = self._refine(X, Y, identity_map(X.shape[1], Y.shape[1]), irng, known_xy, schedule=(50, 20))
            value, rep = self._final_value(X, Y, W, known_xy)
            quick.append((value, W, {"init": "identity", "quick": rep}))
            if value > max(q[0] for q in quick[:-1]):
                W = self._refine(X, Y, W, irng, known_xy)
                value, rep = self._final_value(X, Y, W, known_xy)
                quick[-1][2]["final"] = rep
                finals.append((value, W, len(quick) - 1))
        value, W, best = max(finals, key=lambda f: f[0])
        return value, W, best, [q[2] for q in quick]

    def _cascade(self, X, Y, W, value, rng, known_xy, rounds):
        """Step 3: re-anchoring rounds on finer and finer clusters, each kept only when the k-NN similarity
        rises; after the schedule, the last two sizes alternate while each round is kept.
        Returns ``(W, value, per-round info)``."""
        cascade = []
        cap = max(2, min(len(X), len(Y), int(self.n_sample)) // 12)
        sizes = [r for r in rounds if r <= cap] or ([cap] if rounds else [])
        tail = sizes[-2:]
        queue = list(sizes)
        extra = 0
        while queue:
            kr = queue.pop(0)
            W2 = self._refine(X, Y, reanchor_map(X, Y, W, rng, n_clusters=kr, max_rows=int(self.n_sample),
                                                 compute=self._compute()), rng, known_xy)
            value2, rep2 = self._final_value(X, Y, W2, known_xy)
            kept = bool(value2 > value)
            gain = value2 - value
            cascade.append({"clusters": kr, **rep2, "kept": kept})
            if kept:
                value, W = value2, W2
            if not queue and gain >= float(self.min_gain) and kept and tail and extra < int(self.reanchor_repeats):
                queue.append(tail[extra % len(tail)])
                extra += 1
        return W, value, cascade

    def _regional(self, X, Y, W, value, rng, known_xy, repolish: bool = True):
        """Step 4: random rotations inside the subspace of the region where the map fits worst (and no
        rotation), each refined on a smaller sample to screen them; the best is refined on the full sample
        and replaces W when its k-NN similarity is higher; passes while kept. Returns ``(W, value, info)``."""
        regional = []
        screen_rows = int(min(self.regional_screen_rows, self.n_sample))
        for _ in range(int(self.regional_passes) if int(self.regional_restarts) > 0 else 0):
            P, ratios = weak_subspace(X, Y, W, rng, dims=int(self.regional_dims), max_rows=int(self.n_sample),
                                      compute=self._compute())
            tried = []
            for r in range(int(self.regional_restarts) + 1):
                Q = np.eye(P.shape[1]) if r == 0 else np.linalg.qr(rng.standard_normal((P.shape[1],) * 2))[0]
                W1 = self._refine(X, Y, rotate_in_subspace(W, P, Q), rng, known_xy, schedule=(50, 20, 10, 5), reps=2,
                                  n_sample=screen_rows)
                tried.append((self._final_value(X, Y, W1, known_xy)[0], r, W1))
            v1, r1, W1 = max(tried, key=lambda t: t[0])
            # with no rotation best and no re-polishing there is nothing to turn: refining the same map again
            # only fits the samples closer
            turned = r1 != 0 or repolish
            if turned:
                W1 = self._refine(X, Y, W1, rng, known_xy, schedule=(20, 10, 5), reps=2)
                v1 = self._final_value(X, Y, W1, known_xy)[0]
            regional.append({"weakest_ratios": [round(float(x), 4) for x in np.sort(ratios)[:5]],
                             "screened": [round(float(t[0]), 5) for t in tried], "best_rotation": int(r1),
                             "knn_similarity": round(float(v1), 5), "kept": bool(turned and v1 > value)})
            if not regional[-1]["kept"]:
                break
            gain, value, W = v1 - value, v1, W1
            if gain < float(self.min_gain):
                break
        return W, value, regional

    def _coarse(self, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Step 5's rows: ``coarse_rows`` of each side drawn at random, or X and Y themselves when they are
        not larger (nothing is drawn then, so such fits are the same draw for draw)."""
        c = int(self.coarse_rows)
        if c == 0 or max(len(X), len(Y)) <= c:
            return X, Y
        return X[sample_rows(rng, len(X), c)], Y[sample_rows(rng, len(Y), c)]

    def _fit(self, data: FitData) -> None:
        """One fit and its verdict; then, while no fit is judged aligned, up to ``rescue_starts`` more from
        fresh seeds, stopping early once two fits are judged not aligned. The attempt kept is the best by
        verdict, then by k-NN similarity (every attempt is scored on the same samples, so their scores compare)."""
        super()._fit(data)  # _fit_unpaired checks the parameters before any work
        if int(self.rescue_starts) == 0 or self.fit_info_.get("verdict") == "aligned":
            return
        seed = self._check_seed(self.seed)
        attempts = [(seed, self.W_, self.fit_info_)]
        for i in range(1, int(self.rescue_starts) + 1):
            other = self.clone().set_params(seed=rescue_seed(seed, i), rescue_starts=0)
            other.fit_info_ = {}
            other._fit(data)
            attempts.append((int(other.seed), other.W_, other.fit_info_))
            verdicts = [fi.get("verdict") for _, _, fi in attempts]
            if "aligned" in verdicts or verdicts.count("not aligned") >= 2:
                break  # a map to keep, or two fits no better than chance: these spaces likely do not align
            agree = max(map_agreement(data.X, other.W_, W) for _, W, _ in attempts[:-1])
            other.fit_info_["agreement"] = round(agree, 4)
            if verdicts[-1] == "uncertain" and agree >= RESCUE_AGREE:
                break  # two fits from other seeds found the same map: a further start will not change it
        rank = {"aligned": 2, "uncertain": 1}
        best = max(range(len(attempts)), key=lambda i: (rank.get(attempts[i][2].get("verdict"), 0),
                                                         attempts[i][2]["selection"]["knn_similarity"]))
        self.W_, self.fit_info_ = attempts[best][1], attempts[best][2]
        self.fit_info_["rescue"] = {
            "why": f"the first fit was judged {attempts[0][2].get('verdict')!r}", "chosen": int(best),
            "rule": "best verdict, then highest k-NN similarity",
            "attempts": [{"seed": sd, "verdict": fi.get("verdict"), "confidence": fi.get("confidence"),
                          "knn_similarity": fi["selection"]["knn_similarity"],
                          "seconds": fi.get("fit_core_seconds"),
                          **({"agreement": fi["agreement"]} if "agreement" in fi else {})}
                         for sd, _, fi in attempts]}

    def _fit_unpaired(self, X: np.ndarray, Y: np.ndarray, known: np.ndarray | None) -> None:
        rounds = self._check_params()
        self._compute()  # an unknown backend or a missing device fails here, before any work
        rng = np.random.default_rng(self._check_seed(self.seed))
        known_xy = self._known_rows(X, Y, known)
        Xs, Ys = self._coarse(X, Y, rng)
        value, W, best, candidates = self._screen(Xs, Ys, rng, known_xy)
        W, value, cascade = self._cascade(Xs, Ys, W, value, rng, known_xy, rounds)
        repolish = self.regional_repolish
        if repolish == "auto":  # a map from the identity start is near-right: re-polishing it only drifts
            repolish = candidates[best].get("init") != "identity"
        W, value, regional = self._regional(Xs, Ys, W, value, rng, known_xy, repolish=bool(repolish))
        coarse = None
        if Xs is not X:
            coarse = {"rows": [int(len(Xs)), int(len(Ys))], "knn_similarity": round(float(value), 5)}
            W = self._final_refine(X, Y, W, rng, known_xy)
            value = self._final_value(X, Y, W, known_xy)[0]
        self.W_ = W
        self.fit_info_["selection"] = {
            "chosen": int(best), "knn_similarity": round(float(value), 5),
            "criterion": "knn_similarity on 4,000 rows per side [+ known-pair cosine]",
            "candidates": candidates, "reanchor": cascade, "regional": regional, "coarse": coarse}

    def _final_refine(self, X, Y, W, rng, known_xy):
        """Step 5's end: the map found on the coarse rows refined on the whole sample."""
        return self._refine(X, Y, W, rng, known_xy, reps=2)
