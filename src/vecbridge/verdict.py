"""One verdict for every map fitted without (enough) pairs: did the two spaces align?

A fit without pairs always converges to *something*, so a high similarity alone proves nothing. The
verdict compares the candidate map with null controls of the same kind, on the same rows, with the same
statistic, so its number means the same thing whichever method produced the map (and ``auto`` chooses
among methods by it). Both sides are already in the map's output space: ``mapped`` = the map applied to
source rows, ``target`` = the target rows where the map's output lives (``Translator.transform_target``).

What the rows are decides the statistic (``rows``):

- ``"ranked"`` (two keyed vocabularies, most frequent first): many of the first rows of one side have a
  counterpart among the first rows of the other, so a right map makes their nearest neighbours mutual.
  The statistic is the mutual CSLS rate below, on the first ``n_eval`` rows of each side.
- ``"sample"`` (two unpaired samples, e.g. sentences encoded by two models, usually of *different* texts):
  no row has a counterpart, and the mutual rate of a right map is no higher than a random rotation's. The
  statistic is then how closely the mapped rows fall among target rows they have never been fitted to
  (see :func:`judge_sample`); a map into a subspace of the target's space (fewer dimensions than the
  target's, :func:`spans_target`) is judged inside that subspace (:func:`onto_map_range`).

The ranked statistic (dimension-free, in [0, 1]): the **mutual CSLS rate** -- the share of mapped source rows
whose CSLS-nearest target row has them as its CSLS-nearest mapped row (CSLS: ``2 cos - r_src - r_tgt``
with the mean similarity of the ``k`` nearest neighbours on each side, which removes hubs). A map that
carries rows onto their counterparts (or onto rows that mean the same) makes many matches mutual; a map
that carries no information leaves only the mutual matches of chance.

The controls (the null of "no alignment"):

- ``n_random`` random orthogonal maps applied to the candidate's own output (same geometry, no alignment);
- ``n_refined`` maps refined from *random* dictionaries with ``refine_iter`` rounds of the classic
  self-learning step (Procrustes on the dictionary, then the mutual-or-forward CSLS dictionary of the new
  map) on exactly these rows: the garbage optima a refinement reaches from no information. These are
  optimised on the rows the statistic is measured on, so they are at least as "over-fitted" as any
  candidate that saw those rows; a candidate must beat them;
- ``n_grouped`` copies of the candidate's own output with the rows cut into groups of about ``GROUP_ROWS``
  neighbours (k-means) and each group turned by a random rotation about its centre: the map's placement of
  whole groups, without any placement inside them. A map that pairs the *clusters* of two unrelated clouds
  leads the other controls (confidence up to 0.15 on the benchmark's random clouds, 0.31 on two samples
  around the same cluster centres) but not this one; a right map carries rows onto their counterparts inside
  the groups and leads it as far as the others.

The numbers (in ``fit_info_``):

- ``confidence`` in [0, 1]: ``(m - m0) / (1 - m0)`` clipped to [0, 1], where ``m`` is the candidate's mutual
  CSLS rate and ``m0`` the largest of the controls': the share of the way from the best no-information
  map to a map whose every sampled row is a mutual match. 0: no better than chance;
- ``margin_sd``: ``(m - m0) / s``, the same margin in units of the controls' spread ``s`` (the standard
  deviation of the random and refined controls, at least ``MIN_SPREAD``);
- ``verdict``: "not aligned" when ``confidence < NOT_ALIGNED_BELOW``, however many control spreads that is;
  "aligned" when ``confidence >= ALIGNED_FROM`` and ``margin_sd >= MIN_MARGIN_SD``; "uncertain" otherwise. In
  few dimensions, refinement from a random start can itself find much of the true map, so a right map may beat
  its controls by less than their spread: with a lead of at least ``NOT_ALIGNED_BELOW`` it is then
  "uncertain" (saved, with a warning).

The sample statistic: the map and ``n_refined`` random starts are each refined by the same ``refine_iter``
rounds of self-learning on the first rows of the sample (so that every map has had the same chance to fit
the target's density, whatever its method optimised), then measured on the following rows, which no
refinement saw: the mean cosine of each mapped row to its ``k`` nearest target rows and of each target row
to its ``k`` nearest mapped rows. ``confidence`` is the share of the way from the best control to the
ceiling (:func:`sample_ceiling`): the target's own k-NN similarity (the value of a map that puts the sample
exactly on the target's distribution), lowered where the source rows, in their own space, are more diffuse
(noisier) than the target rows in theirs, since then no map can bring them that close (not for a map into a
subspace, judged inside the range it chose); where the best control comes within ``MIN_MARGIN_SD`` spreads
of the ceiling (tiny or very noisy samples), that distance is taken as ``MIN_MARGIN_SD`` spreads, so that the
confidence moves with the map's lead rather than with the controls' seed; margin as above. "not aligned": a
lead within ``MIN_MARGIN_SD``
control spreads, or a confidence below ``SAMPLE_NOT_ALIGNED_BELOW`` (a method that matches clusters can pair
the clusters of two unrelated clouds and beat random starts, but it cannot bring the sample onto the target's
density), and "aligned" starts at ``SAMPLE_ALIGNED_FROM``: a map that puts the sample among the right topics
but not next to the right texts leads the controls by many spreads too (on BBC News, e5-small -> MiniLM-L6
maps with top-1 0.01-0.02 reach confidence 0.46; right maps 0.59-0.63). A map fitted on fewer than
``SAMPLE_ROWS_PER_DIM`` rows per side per dimension is "uncertain" at most (:func:`cap_small_sample`).

Thresholds (``benchmarks/defaults.py``, ``docs/defaults.md``): on keyed rows they were set on word2vec pairs
of one corpus, a synthetic rotation and the first random-clouds task, and checked on five random-clouds draws
of other dimensions and cluster counts and on the word tasks; on samples they were set on sentence encoders
on unpaired BBC News samples.
Cost: one n_eval x n_eval similarity per control round (n_eval = 2,000: about 0.1 s each at d = 300). The
sample controls of a map that only rotates each side (the identity, cluster-match, spectral-match,
self-learning's orthogonal map) are the same for every such map on the same samples; they are computed once
and reused (:func:`sample_controls`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .clustering import euclidean_kmeans
from .errors import DimensionError, VecbridgeError
from .neighbors import csls_penalties, mutual_nearest_neighbors
from .normalize import unit_rows

#: rows per side the verdict looks at (the first rows: the most frequent words)
N_EVAL = 2000
#: the statistic is measured in the target sample's first N_DIMS principal directions
N_DIMS = 32
#: neighbourhood of CSLS
CSLS_K = 10
#: below this confidence: "not aligned". Maps between unrelated clouds of clustered vectors reach 0.00-0.03
#: (benchmarks/defaults.py, the random-clouds tasks); right maps from 0.13 (a planted rotation in 16 dimensions,
#: tests) to 1.0, right word maps 0.61 (top-1 0.81) and more
NOT_ALIGNED_BELOW = 0.10
#: the same threshold for a verdict from *held-out pairs* (:func:`judge_pairs`): rows the map never saw, so no
#: refinement can have fitted them and a smaller lead over the random controls already counts
HELD_OUT_NOT_ALIGNED_BELOW = 0.05
#: from this confidence (with the margin): "aligned"
ALIGNED_FROM = 0.15
#: to be "aligned", the candidate must also lie this many control spreads above the best control
MIN_MARGIN_SD = 3.0
#: rows per group in the grouped control (groups of about one CSLS neighbourhood and a half)
GROUP_ROWS = 15
#: the smallest control spread used (a few rows' worth of the mutual rate; a few thousandths of a cosine)
MIN_SPREAD = 0.005
#: sample rows: rows per side the verdict looks at, of which SAMPLE_MEASURE are measured (the rest refine)
SAMPLE_EVAL = 3000
SAMPLE_MEASURE = 1000
#: sample rows: refined random starts (controls)
SAMPLE_CONTROLS = 5
#: sample rows: from this confidence (with the margin): "aligned". Maps that only match the target's coarse
#: density (the right topics, not the right neighbours) lead the controls by far but stay below it
SAMPLE_ALIGNED_FROM = 0.55
#: sample rows: below this confidence: "not aligned". Two unrelated clouds of clustered vectors can be matched
#: cluster to cluster (confidence up to 0.31 in the tests' clouds), never all the way to the target's density
SAMPLE_NOT_ALIGNED_BELOW = 0.4
#: sample rows: "aligned" needs at least this many fitted rows per side per dimension. With fewer, a map fitted
#: on the samples fits their density by itself: on BBC News at 2,000 sentences per side (5.2 per dimension),
#: cluster-match maps at chance (e5-small -> MiniLM-L6, top-1 0.001-0.006) reach confidence 0.61-0.62, right
#: ones 0.66. The verdict then says "uncertain" at most
SAMPLE_ROWS_PER_DIM = 10

ROWS = ("ranked", "sample")
STATISTICS = {"ranked": "mutual CSLS rate on the first rows of each side, against null controls",
              "sample": ("k-NN similarity of held-out rows after equal refinement, against refined random "
                         "starts")}

VERDICTS = ("aligned", "uncertain", "not aligned")

MEANING = {
    "aligned": "the map matches rows far more often than any map built from no information (confidence {c:.2f} "
               "of the way from chance to every row matched); expect it to translate",
    "uncertain": "the map is above chance but only a little (confidence {c:.2f}); it may be partly right: check "
                 "it on pairs you trust before relying on it",
    "not aligned": "the map matches rows no more often than maps built from no information (confidence {c:.2f}); "
                   "it is most likely garbage",
}
#: the same for a verdict on unpaired samples (the sample statistic): ``m`` the margin in control spreads
SAMPLE_MEANING = {
    "aligned": "the mapped sample lies among the target's rows far closer than maps refined from random starts "
               "(confidence {c:.2f} of the way from the best of them to the target's own closeness, {m:.1f} of "
               "their spreads above it); expect it to translate",
    "uncertain": "the mapped sample lies closer to the target's rows than maps refined from random starts, but not "
                 "by much (confidence {c:.2f}, {m:.1f} of their spreads above the best of them); it may be partly "
                 "right: check it on pairs you trust before relying on it",
    "not aligned": "the mapped sample lies no closer to the target's rows than maps refined from random starts, "
                   "beyond their spread (confidence {c:.2f}, {m:.1f} spreads above the best of them, "
                   f"{MIN_MARGIN_SD:g} needed); it is most likely garbage",
    # a lead of enough spreads that covers too little of the way to the target's own closeness
    "not aligned, near": "the mapped sample lies closer to the target's rows than maps refined from random starts, "
                         "but covers too little of the way from them to the target's own closeness (confidence "
                         "{c:.2f}, below the {t:.2f} needed; {m:.1f} spreads above the best of them): a map that "
                         "puts the sample among the right topics, not next to the right texts, scores so; it is "
                         "most likely not a translation",
}
#: the same for a verdict from held-out pairs (:func:`judge_pairs`): ``t`` the top-1 rate, ``n`` the held-out
#: pairs (retrieval among their own targets only, not the whole vocabulary), ``p`` chance (the random maps)
PAIRS_MEANING = {
    "aligned": "held-out pairs: the right target is the nearest for {t:.2f} of {n} (searched among those {n} "
               "targets only), against {p:.3f} by chance (random maps); far above chance (confidence {c:.2f} of "
               "the way from chance to all {n} right, not a share of words translated); expect it to translate",
    "uncertain": "held-out pairs: the right target is the nearest for {t:.2f} of {n} (searched among those {n} "
                 "targets only), against {p:.3f} by chance (random maps); above chance but only a little "
                 "(confidence {c:.2f}); it may be partly right: check it on pairs you trust before relying on it",
    "not aligned": "held-out pairs: the right target is the nearest for {t:.2f} of {n} (searched among those {n} "
                   "targets only), no more often than by chance ({p:.3f}, random maps) beyond what luck gives "
                   "(confidence {c:.2f}); it is most likely garbage",
}


@dataclass
class Verdict:
    """The outcome of :func:`judge_map`.

    ``value``: the candidate's statistic (``statistic`` names it); ``controls``: the controls' values.
    ``knn_similarity``: the mean cosine of mapped rows to their nearest target rows (ranked rows) or the
    ceiling of the confidence (sample rows: :func:`sample_ceiling`).
    """

    verdict: str
    confidence: float
    margin_sd: float
    value: float
    knn_similarity: float
    controls: list[float]
    controls_kind: list[str]
    n_eval: int
    rows: str = "ranked"
    note: str | None = None

    @property
    def statistic(self) -> str:
        return STATISTICS[self.rows]

    @property
    def reason(self) -> str:
        if self.rows == "sample":
            key = self.verdict
            if key == "not aligned" and self.margin_sd >= MIN_MARGIN_SD:
                key = "not aligned, near"
            text = SAMPLE_MEANING[key].format(c=self.confidence, m=self.margin_sd, t=SAMPLE_NOT_ALIGNED_BELOW)
        else:
            text = MEANING[self.verdict].format(c=self.confidence)
        return f"{text} ({self.note})" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "confidence": round(self.confidence, 4),
            "verdict_reason": self.reason,
            "pairless_score": round(self.confidence, 4),
            "verdict_details": {
                "rows": self.rows,
                "statistic": self.statistic,
                "value": round(self.value, 4),
                "knn_similarity" if self.rows == "ranked" else "ceiling": round(self.knn_similarity, 4),
                "controls": [round(v, 4) for v in self.controls],
                "controls_kind": self.controls_kind,
                "margin_sd": round(self.margin_sd, 2),
                "n_eval": self.n_eval,
                **({"note": self.note} if self.note else {}),
                "thresholds": {"not_aligned_below": SAMPLE_NOT_ALIGNED_BELOW if self.rows == "sample" else NOT_ALIGNED_BELOW,
                               "aligned_from": SAMPLE_ALIGNED_FROM if self.rows == "sample" else ALIGNED_FROM,
                               "min_margin_sd": MIN_MARGIN_SD},
            },
        }


def rows_kind(src: Any, tgt: Any) -> str:
    """``"ranked"`` when both sides are keyed (:class:`Embeddings` with keys of their own, most frequent first),
    else ``"sample"`` (arrays, or ``.npy`` files read without keys: their keys are row numbers)."""
    return "ranked" if all(getattr(e, "has_keys", False) for e in (src, tgt)) else "sample"


def csls_matches(A: np.ndarray, B: np.ndarray, k: int = CSLS_K) -> tuple[np.ndarray, np.ndarray, float]:
    """CSLS nearest rows both ways between unit rows A (n, d) and B (m, d) (through :mod:`vecbridge.neighbors`).

    Returns ``(fwd, bwd, knn_sim)``: fwd (n,) the CSLS-nearest row of B for each row of A, bwd (m,) the
    CSLS-nearest row of A for each row of B, and the mean cosine of each A row to its ``k`` nearest B rows.
    """
    k = max(1, min(k, len(A), len(B)))
    mnn = mutual_nearest_neighbors(A, B, csls_k=k, similarity="dot")
    r_a, _ = csls_penalties(A, B, k, similarity="dot")
    return mnn.forward, mnn.backward, float(r_a.mean())


def mutual_rate(fwd: np.ndarray, bwd: np.ndarray) -> float:
    """Share of A rows whose forward match has them as its backward match."""
    return float(np.mean(bwd[fwd] == np.arange(len(fwd))))


def _procrustes(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Orthogonal R (d, d) maximising tr(R^T A^T B) for paired rows A, B (p, d)."""
    U, _, Vt = np.linalg.svd((A.T @ B).astype(np.float64))
    return (U @ Vt).astype(np.float32)


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """A (d, d) orthogonal matrix drawn uniformly (Haar)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


def self_learn(A: np.ndarray, B: np.ndarray, R: np.ndarray, n_iter: int) -> np.ndarray:
    """``n_iter`` rounds of the classic self-learning step from the rotation R (d, d): the mutual-or-forward
    CSLS dictionary of ``A @ R`` against B, then Procrustes on it. Returns the last rotation."""
    n, m = len(A), len(B)
    for _ in range(n_iter):
        fwd, bwd, _ = csls_matches(A @ R, B)
        R = _procrustes(A[np.concatenate([np.arange(n), bwd])], B[np.concatenate([fwd, np.arange(m)])])
    return R


def random_start(A: np.ndarray, B: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The Procrustes rotation of a random dictionary between the rows of A and B."""
    p = min(len(A), len(B))
    return _procrustes(A[rng.permutation(len(A))[:p]], B[rng.permutation(len(B))[:p]])


def refined_from_random(A: np.ndarray, B: np.ndarray, n_iter: int, rng: np.random.Generator) -> np.ndarray:
    """A's rows rotated by self-learning started from a random dictionary (``n_iter`` rounds); unit rows."""
    return unit_rows(A @ self_learn(A, B, random_start(A, B, rng), n_iter))


def knn_both_ways(A: np.ndarray, B: np.ndarray, k: int = CSLS_K) -> float:
    """Mean cosine of each unit row of A to its ``k`` nearest rows of B and of each row of B to its ``k``
    nearest rows of A (the average of the two means)."""
    S = A @ B.T
    ka, kb = max(1, min(k, len(B))), max(1, min(k, len(A)))
    fwd = np.partition(S, len(B) - ka, axis=1)[:, -ka:].mean()
    bwd = np.partition(S, len(A) - kb, axis=0)[-kb:, :].mean()
    return float(0.5 * (fwd + bwd))


def self_knn(B: np.ndarray, k: int = CSLS_K) -> float:
    """Mean cosine of each unit row of B to its ``k`` nearest *other* rows of B."""
    S = B @ B.T
    np.fill_diagonal(S, -np.inf)
    k = max(1, min(k, len(B) - 1))
    return float(np.partition(S, len(B) - k, axis=1)[:, -k:].mean())


def sample_ceiling(B: np.ndarray, S: np.ndarray | None = None, T: np.ndarray | None = None,
                   k: int = CSLS_K) -> float:
    """The k-NN similarity a map could bring the mapped rows to among the target rows B (unit rows, in the
    map's output space): B's own k-NN similarity, lowered where the source is the more diffuse (noisier) side.
    S and T are the source and target rows in their *own* spaces (unit rows), which no map can change; where
    S's own k-NN similarity is below T's, the ceiling is multiplied by the square root of their ratio (the
    geometric mean of the two spreads, for a map that keeps cosines), since no map brings such rows as close
    to the target's rows as the target's rows are to each other (figures: docs/research/verdict-samples.md)."""
    ceiling = max(self_knn(B, k), 0.0)
    if S is None or T is None:
        return float(ceiling)
    s, t = max(self_knn(S, k), 0.0), self_knn(T, k)
    return float(ceiling * np.sqrt(min(1.0, s / t))) if t > 0 else float(ceiling)


def principal_projection(A: np.ndarray, B: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Both sides (unit rows, one space of dimension d) projected on the ``r`` principal directions of B
    (uncentred), rows re-normalised. With d > r this keeps the statistic dimension-free: a refinement in
    d dimensions can fit n points of noise (n ~ 10 d), in ``r`` it cannot."""
    if A.shape[1] <= r:
        return A, B
    _, _, Vt = np.linalg.svd(B.astype(np.float64), full_matrices=False)
    P = Vt[:r].T.astype(np.float32)
    return unit_rows(A @ P), unit_rows(B @ P)


def _decide(conf: float, margin: float, rows: str) -> str:
    if rows == "sample" and (conf < SAMPLE_NOT_ALIGNED_BELOW or margin < MIN_MARGIN_SD):
        return "not aligned"
    if conf < NOT_ALIGNED_BELOW:
        return "not aligned"
    if conf >= (SAMPLE_ALIGNED_FROM if rows == "sample" else ALIGNED_FROM) and margin >= MIN_MARGIN_SD:
        return "aligned"
    return "uncertain"


def _score(m: float, ctrl: list[float], ceiling: float, spread_of: list[float] | None = None) -> tuple[float, float]:
    """(confidence, margin in control spreads) of the value ``m`` against the controls' values ``ctrl``; the
    spread is that of ``spread_of`` (default: all the controls)."""
    if not ctrl:
        raise VecbridgeError("the verdict needs at least one control")
    m0 = max(ctrl)
    spread = max(float(np.std(ctrl if spread_of is None else spread_of)), MIN_SPREAD)
    conf = float(np.clip((m - m0) / max(ceiling - m0, 1e-6), 0.0, 1.0))
    return conf, float((m - m0) / spread)


def _check_rows(mapped: Any, target: Any, rows: str) -> tuple[np.ndarray, np.ndarray]:
    mapped, target = np.asarray(mapped), np.asarray(target)
    if rows not in ROWS:
        raise VecbridgeError(f"the verdict's rows must be one of {', '.join(ROWS)}; got {rows!r}")
    if mapped.ndim != 2 or target.ndim != 2 or mapped.shape[1] != target.shape[1]:
        raise DimensionError(f"the verdict needs mapped (n, d) and target (m, d) rows in one space; got "
                             f"{mapped.shape} and {target.shape}")
    if min(len(mapped), len(target)) < 20:
        raise VecbridgeError(f"the verdict needs at least 20 rows per side, got {len(mapped)} and {len(target)}")
    return mapped, target


def judge_map(
    mapped: np.ndarray,
    target: np.ndarray,
    *,
    rows: str = "ranked",
    n_eval: int | None = None,
    n_random: int = 3,
    n_refined: int | None = None,
    refine_iter: int = 8,
    n_grouped: int = 2,
    n_dims: int = N_DIMS,
    seed: int = 0,
    inputs: tuple[np.ndarray, np.ndarray] | None = None,
    rotated_from: np.ndarray | None = None,
) -> Verdict:
    """The verdict on a map from its output alone (no pairs).

    mapped (n, d): source rows in the map's output space; target (m, d): target rows in the same space.
    ``rows="ranked"``: keyed rows, most frequent first (uses the first ``n_eval`` rows of each, default
    ``N_EVAL``); ``rows="sample"``: unpaired samples (:func:`judge_sample`; ``n_random``, ``n_grouped`` and
    ``n_dims`` do not apply; ``inputs``: the source and target rows in their own spaces, and ``rotated_from``, see
    :func:`judge_sample`).
    Deterministic given ``seed``.
    """
    mapped, target = _check_rows(mapped, target, rows)
    if rows == "sample":
        if not spans_target(mapped, target):
            mapped, target = onto_map_range(mapped, target)
            inputs = rotated_from = None  # the map chose the subspace: its ceiling is the target's own there
        return judge_sample(mapped, target, inputs=inputs, n_eval=SAMPLE_EVAL if n_eval is None else n_eval,
                            n_refined=SAMPLE_CONTROLS if n_refined is None else n_refined,
                            refine_iter=refine_iter, seed=seed, rotated_from=rotated_from)
    n = int(min(N_EVAL if n_eval is None else n_eval, len(mapped), len(target)))
    A, B = unit_rows(mapped[:n]), unit_rows(target[:n])
    A, B = principal_projection(A, B, int(n_dims))
    fwd, bwd, knn = csls_matches(A, B)
    m = mutual_rate(fwd, bwd)
    rng = np.random.default_rng(seed)
    ctrl, kinds = [], []
    d = A.shape[1]
    for _ in range(int(n_random)):
        f, b, _ = csls_matches(A @ random_orthogonal(d, rng), B)
        ctrl.append(mutual_rate(f, b))
        kinds.append("random orthogonal")
    for _ in range(2 if n_refined is None else int(n_refined)):
        f, b, _ = csls_matches(refined_from_random(A, B, int(refine_iter), rng), B)
        ctrl.append(mutual_rate(f, b))
        kinds.append(f"refined from a random dictionary ({refine_iter} rounds)")
    spread_of = list(ctrl)  # the grouped controls sit at their own level: they raise the bar, not the spread
    for _ in range(int(n_grouped)):
        f, b, _ = csls_matches(groups_rotated(A, max(1, n // GROUP_ROWS), rng), B)
        ctrl.append(mutual_rate(f, b))
        kinds.append(f"groups of about {GROUP_ROWS} rows each rotated about its centre")
    conf, margin = _score(m, ctrl, 1.0, spread_of)
    return Verdict(_decide(conf, margin, "ranked"), conf, margin, m, knn, ctrl, kinds, n, "ranked")


def groups_rotated(A: np.ndarray, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """Rows A (n, d) cut into ``n_groups`` groups by k-means, each group's offsets from its centre turned by its
    own random rotation; unit rows. Where the groups lie is kept, where the rows lie inside them is not."""
    _, labels = euclidean_kmeans(A, min(int(n_groups), len(A)), rng, iters=15)
    Z = np.array(A, dtype=np.float32, copy=True)
    for g in np.unique(labels):
        rows = labels == g
        centre = A[rows].mean(0)
        Z[rows] = centre + (A[rows] - centre) @ random_orthogonal(A.shape[1], rng)
    return unit_rows(Z)


def effective_rank(A: np.ndarray, tol: float = 1e-3) -> int:
    """The number of singular values of A above ``tol`` times the largest."""
    return _rank(np.linalg.svd(np.asarray(A, dtype=np.float64)[:SAMPLE_EVAL], compute_uv=False), tol)


def _rank(sv: np.ndarray, tol: float = 1e-3) -> int:
    """How many of the singular values ``sv`` (descending) exceed ``tol`` times the largest."""
    return int(np.sum(sv > tol * sv[0])) if len(sv) and sv[0] > 0 else 0


def spans_target(mapped: np.ndarray, target: np.ndarray) -> bool:
    """Whether the mapped rows span (nearly) as many dimensions as the target rows. A map into a subspace
    (64-d vectors into a 384-d space) can lay the sample along the target's densest directions without any
    correspondence, and the sample statistic in the whole target space cannot tell that from a right map:
    such maps are judged inside the map's range (:func:`onto_map_range`)."""
    return effective_rank(mapped) >= 0.9 * effective_rank(target)


def onto_map_range(mapped: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mapped (n, d) and target (m, d) rows in coordinates of the subspace the mapped rows span (its
    ``effective_rank`` principal directions), so that the map and its random controls are compared on the
    same projection of the target: choosing where to land no longer scores by itself.
    Measured on BBC sentences (2026-12-06): a right 256-d -> 384-d map (PCA-256 MiniLM-L6 -> e5, top-1 0.991,
    8,000 per side) confidence 0.49, uncertain (judged by mutual matches before: 0.02, not aligned); cluster-match's
    map static64 -> MiniLM-L6 at chance (4,000 per side) 0.35, not aligned; a map from shuffled pairs 0.00."""
    _, sv, Vt = np.linalg.svd(np.asarray(mapped, dtype=np.float64)[:SAMPLE_EVAL], full_matrices=False)
    U = Vt[: max(1, _rank(sv))].T.astype(np.float32)
    return np.asarray(mapped, dtype=np.float32) @ U, np.asarray(target, dtype=np.float32) @ U


def judge_sample(
    mapped: np.ndarray,
    target: np.ndarray,
    *,
    n_eval: int = SAMPLE_EVAL,
    n_refined: int = SAMPLE_CONTROLS,
    refine_iter: int = 8,
    seed: int = 0,
    inputs: tuple[np.ndarray, np.ndarray] | None = None,
    rotated_from: np.ndarray | None = None,
) -> Verdict:
    """The verdict on a map between two unpaired samples (module doc: the sample statistic).

    Uses the first ``n_eval`` rows of each side: two thirds (at most ``n_eval - SAMPLE_MEASURE``) to refine
    the map and its controls, the rest to measure them. ``inputs``: ``(source, target)`` rows in their own
    spaces, row for row those of ``mapped`` and ``target``; with them the ceiling allows for a source more
    diffuse (noisier) than the target (:func:`sample_ceiling`), without them it is the target's own k-NN
    similarity in the map's output space.

    ``rotated_from``: ``(source, target)`` rows of which ``mapped`` and ``target`` are rotations, row for row
    (``mapped = source @ R``, ``target = target_rows @ Q``, R and Q orthogonal). The controls are then the same
    for every such map (a rotation carries each random start and its refinement along with it, and the
    statistic is a cosine), so they are computed on these rows and kept for the next map judged on the same
    samples (:func:`sample_controls`): ``auto`` judges several maps, and cluster-match's rescue several fits,
    on one pair of samples.
    """
    if rotated_from is not None and (len(rotated_from[0]) != len(mapped) or len(rotated_from[1]) != len(target)):
        raise VecbridgeError(f"rotated_from must match the mapped and target rows one to one; got "
                             f"{len(rotated_from[0])} and {len(rotated_from[1])} rows for {len(mapped)} and {len(target)}")
    if inputs is not None and (len(inputs[0]) != len(mapped) or len(inputs[1]) != len(target)):
        raise VecbridgeError(f"the verdict's inputs must match the mapped and target rows one to one; got "
                             f"{len(inputs[0])} and {len(inputs[1])} rows for {len(mapped)} and {len(target)}")
    mapped, target = _check_rows(mapped, target, "sample")
    n = int(min(n_eval, len(mapped), len(target)))
    n_measure = min(SAMPLE_MEASURE, n // 3)
    n_fit = n - n_measure
    A, B = unit_rows(mapped[:n]), unit_rows(target[:n])
    Af, Bf, Ah, Bh = A[:n_fit], B[:n_fit], A[n_fit:], B[n_fit:]
    d = A.shape[1]
    m = knn_both_ways(unit_rows(Ah @ self_learn(Af, Bf, np.eye(d, dtype=np.float32), int(refine_iter))), Bh)
    if rotated_from is not None:  # the controls do not depend on the rotations: compute them (or reuse them)
        S, T = (unit_rows(np.asarray(r, dtype=np.float32)[:n]) for r in rotated_from)  # on the own rows
        ctrl = sample_controls(S[:n_fit], T[:n_fit], S[n_fit:], T[n_fit:], int(n_refined), int(refine_iter), seed)
    else:
        ctrl = sample_controls(Af, Bf, Ah, Bh, int(n_refined), int(refine_iter), seed, memo=False)
    own = None if inputs is None else [unit_rows(np.asarray(x)[n_fit:n]) for x in inputs]
    ceiling = sample_ceiling(Bh, *(own or ()))
    _, margin = _score(m, ctrl, ceiling)
    # where random starts come close to the ceiling (tiny or very noisy samples), the way from the controls to it is
    # measured at least as the margin the verdict asks for, so that the confidence moves smoothly with the value
    # instead of jumping between 0 and 1 with the controls' seed
    spread = max(float(np.std(ctrl)), MIN_SPREAD)
    conf = float(np.clip((m - max(ctrl)) / max(ceiling - max(ctrl), MIN_MARGIN_SD * spread), 0.0, 1.0))
    kinds = [f"refined from a random dictionary ({refine_iter} rounds)"] * len(ctrl)
    return Verdict(_decide(conf, margin, "sample"), conf, margin, m, ceiling, ctrl, kinds, n, "sample")


#: the controls of the last few pairs of samples judged (:func:`sample_controls`), newest last
_CONTROLS: OrderedDict[tuple, list[float]] = OrderedDict()
_CONTROLS_KEPT = 4


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.data)
    return h.hexdigest()


def sample_controls(Af: np.ndarray, Bf: np.ndarray, Ah: np.ndarray, Bh: np.ndarray, n_refined: int,
                    refine_iter: int, seed: int, memo: bool = True) -> list[float]:
    """The sample statistic of ``n_refined`` maps refined from random dictionaries: each refined by
    ``refine_iter`` rounds of self-learning between Af and Bf (unit rows) and measured between Ah and Bh.
    ``memo``: keep the values for the same rows, counts and seed (every map that only rotates each side shares
    them, :func:`judge_sample`)."""
    key = (_digest(Af, Bf, Ah, Bh), int(n_refined), int(refine_iter), int(seed)) if memo else None
    if key is not None and key in _CONTROLS:
        _CONTROLS.move_to_end(key)
        return list(_CONTROLS[key])
    rng = np.random.default_rng(seed)
    ctrl = [knn_both_ways(unit_rows(Ah @ self_learn(Af, Bf, random_start(Af, Bf, rng), int(refine_iter))), Bh)
            for _ in range(int(n_refined))]
    if key is not None:
        _CONTROLS[key] = list(ctrl)
        while len(_CONTROLS) > _CONTROLS_KEPT:
            _CONTROLS.popitem(last=False)
    return ctrl


def _rotates(f: Any, X: np.ndarray) -> bool:
    """Whether ``f`` maps the rows X (n, d) as ``X @ R`` for one orthogonal R: the identity, or R read off
    ``2 d`` of the rows by least squares and checked on them (float tolerance). False when those rows do not
    determine R (fewer than d of them, or rows in a subspace: normalised sentence vectors can be)."""
    P = np.asarray(X[: 2 * X.shape[1]], dtype=np.float64)
    out = np.asarray(f(P.astype(np.float32)), dtype=np.float64)
    if out.shape != P.shape:
        return False
    if np.allclose(out, P, atol=1e-5):
        return True  # the identity (whatever the rank of the rows)
    if len(P) < P.shape[1]:
        return False
    R, _, rank, _ = np.linalg.lstsq(P, out, rcond=None)  # its rank: the rows determine R only when it is d
    return bool(rank == P.shape[1] and np.allclose(P @ R, out, atol=1e-4)
                and np.allclose(R.T @ R, np.eye(len(R)), atol=1e-3))


def rotation_of(translator: Any, X: np.ndarray, Y: np.ndarray) -> bool:
    """Whether the map only rotates each side: ``translator._transform`` is ``X @ R`` and
    ``translator._transform_target`` is ``Y @ Q`` for orthogonal R and Q (the identity, cluster-match,
    spectral-match, self-learning's orthogonal map), checked on these rows."""
    return _rotates(translator._transform, X) and _rotates(translator._transform_target, Y)


def cap_small_sample(verdict: Verdict, n_rows: int, dims: int) -> Verdict:
    """``verdict`` with "aligned" lowered to "uncertain" when the map was fitted on fewer than
    ``SAMPLE_ROWS_PER_DIM`` rows per side per dimension (``n_rows`` per side, ``dims`` the larger of the two
    spaces' dimensions): there a map fits the samples' density whether or not it is right, so the sample
    statistic cannot confirm it. Other verdicts, ranked rows and the confidence are unchanged."""
    need = SAMPLE_ROWS_PER_DIM * int(dims)
    if verdict.rows != "sample" or verdict.verdict != "aligned" or int(n_rows) >= need:
        return verdict
    note = (f"fitted on {int(n_rows):,} rows per side, fewer than the {need:,} ({SAMPLE_ROWS_PER_DIM} per dimension) "
            f"the verdict needs to tell a right map from one that only fits these samples: at most uncertain")
    return replace(verdict, verdict="uncertain", note=note)


def judge_pairs(mapped: np.ndarray, target: np.ndarray, seed: int = 0, n_controls: int = 3) -> dict[str, Any]:
    """The verdict from *held-out pairs*: row i of ``mapped`` (n, k) and row i of ``target`` (n, k) are the
    same item. The statistic is top-1 retrieval (the nearest target row by cosine is the right one); the
    controls are ``n_controls`` random orthogonal maps applied to ``mapped`` (no information, same geometry);
    confidence and verdict follow :mod:`vecbridge.verdict`'s definitions and thresholds
    (``(top1 - chance - noise) / (1 - chance)``; "not aligned" below ``HELD_OUT_NOT_ALIGNED_BELOW``).
    ``chance`` is the controls' mean top-1 (at least ``1/n``), ``noise`` ``MIN_MARGIN_SD`` binomial standard
    deviations of a top-1 rate at chance over the n rows: with few held-out pairs a map at chance hits a few more
    rows than chance by luck (40 pairs: 3 hits where 1 is expected), and that lead is no evidence; with hundreds
    of pairs the noise is negligible. (The luckiest control is not the baseline: with the noise term that would
    count the same luck twice, and on 10 pairs in 8 dimensions one control in three may hit half of them.)
    The rows were not used to fit the map, so unlike the pairless verdict no control needs to be optimised on
    them."""
    A, B = unit_rows(mapped), unit_rows(target)
    n = len(A)
    hit = lambda M: float(np.mean((M @ B.T).argmax(1) == np.arange(n)))  # noqa: E731
    top1 = hit(A)
    rng = np.random.default_rng(seed)
    controls = [hit(A @ random_orthogonal(A.shape[1], rng)) for _ in range(int(n_controls))]
    p0 = max(float(np.mean(controls)) if controls else 0.0, 1.0 / max(n, 1))
    noise = MIN_MARGIN_SD * float(np.sqrt(p0 * (1.0 - p0) / max(n, 1)))
    conf = float(np.clip((top1 - p0 - noise) / max(1.0 - p0, 1e-6), 0.0, 1.0))
    verdict = "not aligned" if conf < HELD_OUT_NOT_ALIGNED_BELOW else "aligned" if conf >= ALIGNED_FROM else "uncertain"
    reason = PAIRS_MEANING[verdict].format(c=conf, t=top1, n=n, p=p0)
    return {"verdict": verdict, "confidence": round(conf, 4), "verdict_reason": reason,
            "statistic": "top-1 of held-out pairs against random orthogonal maps", "top1": round(top1, 4),
            "controls_top1": [round(c, 4) for c in controls], "chance_noise": round(noise, 4), "n_eval": n}


def judge_translator(translator: Any, X: np.ndarray, Y: np.ndarray, fitted: bool = True, **kwargs: Any) -> Verdict:
    """:func:`judge_map` for a fitted translator on *normalised* rows X (n, d_src), Y (m, d_tgt) (what
    ``_fit`` receives): the map's ``_transform`` / ``_transform_target`` put both in its output space.
    ``fitted``: the map was fitted on these rows (sample rows: :func:`cap_small_sample` applies); False for a
    map that saw none of them (the identity)."""
    default = SAMPLE_EVAL if kwargs.get("rows") == "sample" else N_EVAL
    n = int(min(kwargs.get("n_eval") or default, len(X), len(Y)))
    if kwargs.get("rows") == "sample":
        kwargs.setdefault("inputs", (X[:n], Y[:n]))
        if "rotated_from" not in kwargs and rotation_of(translator, X, Y):
            kwargs["rotated_from"] = (X[:n], Y[:n])
    verdict = judge_map(translator._transform(X[:n]), translator._transform_target(Y[:n]), **kwargs)
    if fitted:
        verdict = cap_small_sample(verdict, min(len(X), len(Y)), max(X.shape[1], Y.shape[1]))
    return verdict



def judge_inputs(translator: Any, X: np.ndarray, Y: np.ndarray, fitted: bool = True, **kwargs: Any) -> Verdict:
    """:func:`judge_translator` on input rows in their own spaces: each side goes through the map's normaliser
    first (what ``fit`` does before ``_fit``)."""
    return judge_translator(translator, translator.source_normalizer_.transform(X),
                            translator.target_normalizer_.transform(Y), fitted=fitted, **kwargs)

__all__ = ["Verdict", "judge_map", "judge_pairs", "judge_sample", "judge_translator", "judge_inputs", "rows_kind",
           "spans_target",
           "onto_map_range", "sample_ceiling", "sample_controls", "groups_rotated", "rotation_of",
           "cap_small_sample", "ROWS", "csls_matches", "mutual_rate", "refined_from_random", "random_orthogonal",
           "VERDICTS", "N_EVAL", "NOT_ALIGNED_BELOW", "HELD_OUT_NOT_ALIGNED_BELOW", "ALIGNED_FROM", "MIN_MARGIN_SD"]
