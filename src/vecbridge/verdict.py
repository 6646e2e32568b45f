"""One verdict for every map fitted without (enough) pairs: did the two spaces align?

A fit without pairs always converges to *something*, so a high similarity alone proves nothing. The
verdict compares the candidate map with null controls of the same kind, on the same rows, with the same
statistic, so its number means the same thing whichever method produced the map (and ``auto`` chooses
among methods by it).

The rows: the first ``n_eval`` rows of each side (word files are in frequency order; unpaired samples
are in no order), both already in the map's output space: ``mapped`` = the map applied to source rows,
``target`` = the target rows where the map's output lives (``Translator.transform_target``).

The statistic (dimension-free, in [0, 1]): the **mutual CSLS rate** -- the share of mapped source rows
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
  candidate that saw those rows; a candidate must beat them.

The numbers (in ``fit_info_``):

- ``confidence`` in [0, 1]: ``(m - m0) / (1 - m0)`` clipped to [0, 1], where ``m`` is the candidate's mutual
  CSLS rate and ``m0`` the largest of the controls': the share of the way from the best no-information
  map to a map whose every sampled row is a mutual match. 0: no better than chance;
- ``margin_sd``: ``(m - m0) / s``, the same margin in units of the controls' spread ``s`` (their standard
  deviation, at least ``MIN_SPREAD``);
- ``verdict``: "not aligned" when ``confidence < NOT_ALIGNED_BELOW``, or when ``confidence < CLEAR_FROM``
  and ``margin_sd < MIN_MARGIN_SD`` (a small lead that the controls' own spread explains); "aligned" when
  ``confidence >= ALIGNED_FROM`` and ``margin_sd >= MIN_MARGIN_SD``; "uncertain" otherwise. In few
  dimensions, refinement from a random start can itself find much of the true map, so a right map may beat
  its controls by less than their spread: with a clear lead (``confidence >= CLEAR_FROM``) it is then
  "uncertain" (saved, with a warning), not "not aligned".

Thresholds were calibrated on one set of fits and checked on another (``benchmarks/defaults.py``,
``docs/defaults.md``): word2vec pairs of one corpus, synthetic rotations and random clouds.
Cost: one n_eval x n_eval similarity per control round (n_eval = 2,000: about 0.1 s each at d = 300).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DimensionError, VecbridgeError
from .neighbors import csls_penalties, mutual_nearest_neighbors
from .normalize import unit_rows

#: rows per side the verdict looks at (the first rows: the most frequent words)
N_EVAL = 2000
#: the statistic is measured in the target sample's first N_DIMS principal directions
N_DIMS = 32
#: neighbourhood of CSLS
CSLS_K = 10
#: below this confidence: "not aligned"
NOT_ALIGNED_BELOW = 0.05
#: below this confidence, a lead of fewer than MIN_MARGIN_SD control spreads is "not aligned" too
CLEAR_FROM = 0.10
#: from this confidence (with the margin): "aligned"
ALIGNED_FROM = 0.15
#: to be "aligned", the candidate must also lie this many control spreads above the best control
MIN_MARGIN_SD = 3.0
#: the smallest control spread used (a few rows' worth of the mutual rate)
MIN_SPREAD = 0.005

VERDICTS = ("aligned", "uncertain", "not aligned")

MEANING = {
    "aligned": "the map matches rows far more often than any map built from no information (confidence {c:.2f} "
               "of the way from chance to every row matched); expect it to translate",
    "uncertain": "the map is above chance but only a little (confidence {c:.2f}); it may be partly right: check "
                 "it on pairs you trust before relying on it",
    "not aligned": "the map matches rows no more often than maps built from no information (confidence {c:.2f}); "
                   "it is most likely garbage",
}


@dataclass
class Verdict:
    """The outcome of :func:`judge_map`."""

    verdict: str
    confidence: float
    margin_sd: float
    mutual: float
    knn_similarity: float
    controls_mutual: list[float]
    controls_kind: list[str]
    n_eval: int

    @property
    def reason(self) -> str:
        return MEANING[self.verdict].format(c=self.confidence)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "confidence": round(self.confidence, 4),
            "verdict_reason": self.reason,
            "pairless_score": round(self.confidence, 4),
            "verdict_details": {
                "statistic": "mutual CSLS rate on the first rows of each side, against null controls",
                "mutual_csls_rate": round(self.mutual, 4),
                "knn_similarity": round(self.knn_similarity, 4),
                "controls_mutual": [round(v, 4) for v in self.controls_mutual],
                "controls_kind": self.controls_kind,
                "margin_sd": round(self.margin_sd, 2),
                "n_eval": self.n_eval,
                "thresholds": {"not_aligned_below": NOT_ALIGNED_BELOW, "clear_from": CLEAR_FROM,
                               "aligned_from": ALIGNED_FROM, "min_margin_sd": MIN_MARGIN_SD},
            },
        }


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


def refined_from_random(A: np.ndarray, B: np.ndarray, n_iter: int, rng: np.random.Generator) -> np.ndarray:
    """A's rows rotated by self-learning started from a random dictionary (``n_iter`` rounds); unit rows."""
    n, m = len(A), len(B)
    p = min(n, m)
    src, tgt = rng.permutation(n)[:p], rng.permutation(m)[:p]
    R = _procrustes(A[src], B[tgt])
    for _ in range(n_iter):
        fwd, bwd, _ = csls_matches(A @ R, B)
        src = np.concatenate([np.arange(n), bwd])
        tgt = np.concatenate([fwd, np.arange(m)])
        R = _procrustes(A[src], B[tgt])
    return unit_rows(A @ R)


def principal_projection(A: np.ndarray, B: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Both sides (unit rows, one space of dimension d) projected on the ``r`` principal directions of B
    (uncentred), rows re-normalised. With d > r this keeps the statistic dimension-free: a refinement in
    d dimensions can fit n points of noise (n ~ 10 d), in ``r`` it cannot."""
    if A.shape[1] <= r:
        return A, B
    _, _, Vt = np.linalg.svd(B.astype(np.float64), full_matrices=False)
    P = Vt[:r].T.astype(np.float32)
    return unit_rows(A @ P), unit_rows(B @ P)


def judge_map(
    mapped: np.ndarray,
    target: np.ndarray,
    *,
    n_eval: int = N_EVAL,
    n_random: int = 3,
    n_refined: int = 2,
    refine_iter: int = 8,
    n_dims: int = N_DIMS,
    seed: int = 0,
) -> Verdict:
    """The verdict on a map from its output alone (no pairs).

    mapped (n, d): source rows in the map's output space, most frequent first; target (m, d): target rows in
    the same space. Uses the first ``n_eval`` rows of each. Deterministic given ``seed``.
    """
    mapped, target = np.asarray(mapped), np.asarray(target)
    if mapped.ndim != 2 or target.ndim != 2 or mapped.shape[1] != target.shape[1]:
        raise DimensionError(f"the verdict needs mapped (n, d) and target (m, d) rows in one space; got "
                             f"{mapped.shape} and {target.shape}")
    n = int(min(n_eval, len(mapped), len(target)))
    if n < 20:
        raise VecbridgeError(f"the verdict needs at least 20 rows per side, got {len(mapped)} and {len(target)}")
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
    for _ in range(int(n_refined)):
        f, b, _ = csls_matches(refined_from_random(A, B, int(refine_iter), rng), B)
        ctrl.append(mutual_rate(f, b))
        kinds.append(f"refined from a random dictionary ({refine_iter} rounds)")
    if not ctrl:
        raise VecbridgeError("the verdict needs at least one control (n_random + n_refined >= 1)")
    m0 = max(ctrl)
    spread = max(float(np.std(ctrl)), MIN_SPREAD)
    conf = float(np.clip((m - m0) / max(1.0 - m0, 1e-6), 0.0, 1.0))
    margin = float((m - m0) / spread)
    if conf < NOT_ALIGNED_BELOW or (conf < CLEAR_FROM and margin < MIN_MARGIN_SD):
        v = "not aligned"
    elif conf >= ALIGNED_FROM and margin >= MIN_MARGIN_SD:
        v = "aligned"
    else:
        v = "uncertain"
    return Verdict(v, conf, margin, m, knn, ctrl, kinds, n)


def judge_translator(translator: Any, X: np.ndarray, Y: np.ndarray, **kwargs: Any) -> Verdict:
    """:func:`judge_map` for a fitted translator on *normalised* rows X (n, d_src), Y (m, d_tgt) (what
    ``_fit`` receives): the map's ``_transform`` / ``_transform_target`` put both in its output space."""
    n = int(min(kwargs.get("n_eval", N_EVAL), len(X), len(Y)))
    return judge_map(translator._transform(X[:n]), translator._transform_target(Y[:n]), **kwargs)


__all__ = ["Verdict", "judge_map", "judge_translator", "csls_matches", "mutual_rate", "refined_from_random",
           "random_orthogonal", "VERDICTS", "N_EVAL", "NOT_ALIGNED_BELOW", "ALIGNED_FROM", "MIN_MARGIN_SD"]
