"""Unsupervised model-selection criteria: judge a map between two spaces without any pairs.

An unsupervised translator produces many candidate maps (restarts, seeds,
initialisations). These functions score a candidate from the two *unpaired*
samples alone, so that the best one can be kept and the score reported with
the fit. All of them are larger-is-better.

- :func:`knn_similarity` -- the mean cosine between each mapped source vector and
  its ``k`` nearest target vectors. A right map puts every mapped sentence next
  to target sentences that say similar things; a wrong map leaves it in
  sparser places. This is also the objective the refinement climbs, so it is
  comparable across candidates that were refined the same way.
- :func:`structure_agreement` -- the correlation between the source's own
  similarity structure and that of the mapped points' nearest targets (a
  right map sends neighbours to neighbours; for an orthogonal map the source
  structure itself is preserved, so only the read-out through nearest targets
  carries information).
- :func:`mutual_cosine_nn_rate` -- the fraction of mapped source points whose
  cosine-nearest target has them as its cosine-nearest mapped source (reported,
  but on sentence data it does *not* separate right from wrong maps well:
  collapsed maps score high).
- :func:`csls_score` -- the mean best CSLS score of the mapped points.

:func:`selection_score` combines them into the one number used to choose
among restarts (``knn_similarity`` plus half of ``structure_agreement``
scaled to the same range), and :func:`map_report` returns all of them as a dict
for ``fit_info_["selection"]``. The benchmark
``benchmarks/unsupervised_sentences.py`` shows how the score correlates with
held-out top-1.

Inputs are plain arrays; the source sample ``X`` (n, d_x) is mapped with a
linear map ``W`` (d_x, d_y), or already-mapped vectors (n, d_y) are passed.
Neighbours are searched by :mod:`vecbridge.neighbors` (in tiles; nothing n x m
is kept), on rows scaled to unit length here; ``compute`` sets its threads,
memory budget and backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .compute import Compute
from .errors import DimensionError, VecbridgeError
from .neighbors import csls_top_k, mutual_nearest_neighbors, top_k
from .sampling import sample_rows
from .normalize import unit_rows

#: neighbourhood size of :func:`knn_similarity`
KNN_K = 10



def _check(mapped: np.ndarray, Y: np.ndarray) -> None:
    if mapped.ndim != 2 or Y.ndim != 2:
        raise DimensionError(f"expected two 2-D arrays, got shapes {mapped.shape} and {Y.shape}")
    if mapped.shape[1] != Y.shape[1]:
        raise DimensionError(
            f"mapped source vectors are {mapped.shape[1]}-d but target vectors are {Y.shape[1]}-d; "
            "map the source into the target space first"
        )
    if len(mapped) == 0 or len(Y) == 0:
        raise VecbridgeError("cannot score a map on an empty sample")


def knn_similarity(mapped: np.ndarray, Y: np.ndarray, k: int = KNN_K, compute: Compute | None = None) -> float:
    """Mean cosine of each mapped source row (n, d) to its ``k`` nearest rows of ``Y`` (m, d)."""
    mapped, Y = np.asarray(mapped), np.asarray(Y)
    _check(mapped, Y)
    k = int(min(max(1, k), len(Y)))
    top = top_k(unit_rows(mapped), unit_rows(Y), k, similarity="dot", compute=compute, desc="k-NN similarity")
    return float(top.values.sum(dtype=np.float64)) / (len(mapped) * k)


def nearest_targets(mapped: np.ndarray, Y: np.ndarray, compute: Compute | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index (n,) and cosine (n,) of the nearest row of ``Y`` (m, d) for each mapped row (n, d)."""
    top = top_k(unit_rows(mapped), unit_rows(Y), 1, similarity="dot", compute=compute, desc="nearest targets")
    return top.indices[:, 0], top.values[:, 0]


def mutual_cosine_nn_rate(mapped: np.ndarray, Y: np.ndarray, compute: Compute | None = None) -> float:
    """Fraction of mapped rows (n, d) whose cosine-nearest ``Y`` row (m, d) has them as its cosine-nearest
    mapped row."""
    mapped, Y = np.asarray(mapped), np.asarray(Y)
    _check(mapped, Y)
    return float(np.mean(mutual_nearest_neighbors(unit_rows(mapped), unit_rows(Y), similarity="dot",
                                                  compute=compute).mutual))


def csls_score(mapped: np.ndarray, Y: np.ndarray, k: int = KNN_K, compute: Compute | None = None) -> float:
    """Mean over mapped rows (n, d) of the best CSLS score ``2 cos - r_T(x) - r_S(y)`` against ``Y`` (m, d),
    with ``k`` neighbours in both ``r`` terms (the mapped rows are the source pool)."""
    mapped, Y = np.asarray(mapped), np.asarray(Y)
    _check(mapped, Y)
    top = csls_top_k(unit_rows(mapped), unit_rows(Y), 1, csls_k=int(k), similarity="dot", compute=compute)
    return float(top.values.sum(dtype=np.float64)) / len(mapped)


def structure_agreement(
    X: np.ndarray, mapped: np.ndarray, Y: np.ndarray, n_sample: int = 600, seed: int = 0
) -> float:
    """Pearson correlation between ``cos(x_i, x_j)`` in the source and ``cos(y_nn(i), y_nn(j))``.

    X: (n, d_x) source rows, mapped: (n, d_y) the same rows mapped, Y: (m, d_y) target rows.
    ``y_nn(i)`` is the nearest target of mapped row ``i``; ``n_sample`` rows are drawn with ``seed``.
    """
    X, mapped, Y = np.asarray(X), np.asarray(mapped), np.asarray(Y)
    _check(mapped, Y)
    if len(X) != len(mapped):
        raise DimensionError(f"X has {len(X)} rows but mapped has {len(mapped)}; pass the same rows mapped")
    rng = np.random.default_rng(seed)
    m = int(min(n_sample, len(X)))
    if m < 3:
        raise VecbridgeError("structure_agreement needs at least 3 source rows")
    rows = rng.choice(len(X), m, replace=False)
    nn, _ = nearest_targets(mapped[rows], Y)
    Xu, Yu = unit_rows(X[rows]), unit_rows(Y[nn])
    iu = np.triu_indices(m, 1)
    a = (Xu @ Xu.T)[iu].astype(np.float64)
    b = (Yu @ Yu.T)[iu].astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def selection_score(knn_sim: float, structure: float) -> float:
    """The scalar used to choose among candidate maps (larger is better)."""
    return float(knn_sim + 0.5 * structure)


def map_report(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray | None = None,
    mapped: np.ndarray | None = None,
    n_sample: int = 2000,
    seed: int = 0,
    full: bool = False,
) -> dict[str, Any]:
    """All criteria for one map, on at most ``n_sample`` rows of each side (drawn with ``seed``).

    Pass either ``W`` (d_x, d_y), applied as ``X @ W``, or ``mapped`` (n, d_y).
    ``full`` adds the slower ``mutual_cosine_nn_rate`` (as ``mutual_nn``) and ``csls``.
    Returns a dict with ``score`` (see :func:`selection_score`), ``knn_similarity``,
    ``structure`` and, with ``full``, ``mutual_nn`` and ``csls``.
    """
    X, Y = np.asarray(X, dtype=np.float32), np.asarray(Y, dtype=np.float32)
    if mapped is None:
        if W is None:
            raise VecbridgeError("map_report needs W or mapped")
        mapped = X @ np.asarray(W, dtype=np.float32)
    rng = np.random.default_rng(seed)
    rx = sample_rows(rng, len(X), n_sample)
    ry = sample_rows(rng, len(Y), n_sample)
    Xs, Ms, Ys = X[rx], mapped[rx], Y[ry]
    knn = knn_similarity(Ms, Ys)
    struct = structure_agreement(Xs, Ms, Ys, seed=seed)
    out = {"score": selection_score(knn, struct), "knn_similarity": knn, "structure": struct}
    if full:
        out["mutual_nn"] = mutual_cosine_nn_rate(Ms, Ys)
        out["csls"] = csls_score(Ms, Ys)
    return {k: round(float(v), 5) for k, v in out.items()}


__all__ = [
    "knn_similarity",
    "nearest_targets",
    "mutual_cosine_nn_rate",
    "csls_score",
    "structure_agreement",
    "selection_score",
    "map_report",
]
