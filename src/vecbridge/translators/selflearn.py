"""Self-learning word-level alignment from few or no pairs (Artetxe et al., ACL 2017 and ACL 2018).

The loop alternates two steps on the whole (frequency-ordered) vocabularies:

1. *mapping*: an orthogonal map of both sides into a shared space, from the
   SVD of ``X[src].T Z[tgt]`` over the current dictionary (both sides are
   mapped, so the two dimensions may differ);
2. *dictionary induction*: every source word among the ``vocab_cutoff`` most
   frequent takes its CSLS nearest neighbour among the target's most frequent
   words (forward), every target word likewise (backward), and the union of
   both is the new dictionary. While ``keep_prob < 1`` the induction is
   stochastic: each candidate survives with probability ``keep_prob``; the
   probability doubles whenever the objective (mean best similarity of both
   directions) has stopped improving for ``patience`` iterations, and the loop
   ends when it has stopped improving at ``keep_prob = 1``.

The seed dictionary comes from a few pairs (e.g. 25), identical strings,
numerals, or, fully unsupervised, from the similarity-distribution
initialisation of Artetxe et al. (2018) (each word described by its sorted
similarities to the other words, a representation that does not depend on the
space's basis) or from a Gromov-Wasserstein coupling (POT) on a subsample.
The final map is the multi-step whitening pipeline (:mod:`.whitening`) or a
plain orthogonal map on the last dictionary.

Speed: induction keeps only the ``n_candidates`` most similar targets of each
word (blocked float32 products, top-k by partition, or ``torch.topk`` when
torch is installed) and applies CSLS and the stochastic drop-out inside those
candidates, so one iteration over 20k x 20k words costs one blocked matrix
product (two without torch). The reference CPU implementation materialises and perturbs the full
similarity matrices and takes hours at this size.

Unsupervised runs say whether they worked. Self-learning always converges to
*something*, so a high objective alone proves nothing; the test
(:func:`alignment_confidence`) compares the map with the garbage optima the
same loop reaches from random dictionaries on the same data, and with a
random map. ``fit_info_["confidence"]`` is how far above those optima the map
lies, and ``fit_info_["aligned"]`` is False when it is not clearly above them
(the CLI then refuses to save the map without ``--force``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dictionary import identity_pairs, pair_rows
from ..embeddings import Embeddings
from ..errors import DimensionError, VecbridgeError
from ..normalize import Normalizer, parse_steps
from .base import Translator, as_float32_matrix
from .whitening import PRESETS, multistep_maps

INITS = ("auto", "pairs", "identical", "numerals", "similarity", "gw")
FINALS = ("whiten", "orthogonal")

_NUMERAL = re.compile(r"^[+-]?(\d+([.,:/]\d+)*|\d+(st|nd|rd|th))$")


# ---------------------------------------------------------------- seed dictionaries
def identical_pairs(src: Embeddings, tgt: Embeddings, limit: int | None = None) -> list[tuple[str, str]]:
    """``(w, w)`` for the keys both vocabularies share, in source (frequency) order, at most ``limit``."""
    pairs = identity_pairs(src, tgt)
    return pairs[:limit] if limit else pairs


def numeral_pairs(src: Embeddings, tgt: Embeddings, limit: int | None = None) -> list[tuple[str, str]]:
    """``(n, n)`` for shared keys that are numerals (``7``, ``1990``, ``3.5``, ``21st``), in source order."""
    pairs = [(k, k) for k in src.keys if _NUMERAL.match(k) and k in tgt.index]
    return pairs[:limit] if limit else pairs


# ---------------------------------------------------------------- fast blocked top-k
def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an optional extra
        return None
    return torch


def _resolve_backend(backend: str) -> str:
    if backend not in ("auto", "numpy", "torch"):
        raise VecbridgeError(f"backend must be 'auto', 'numpy' or 'torch', got {backend!r}")
    if backend == "auto":
        return "torch" if _torch() is not None else "numpy"
    if backend == "torch" and _torch() is None:
        raise VecbridgeError("backend='torch' needs torch; install vecbridge[torch] or use backend='numpy'")
    return backend


def _top_rows_numpy(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k values and columns of each row of S (b, n), sorted descending."""
    n = S.shape[1]
    if k >= n:
        idx = np.argsort(-S, axis=1, kind="stable")
        return np.take_along_axis(S, idx, axis=1), idx
    # the k-th largest value by partition (much faster than argpartition), then the columns above it
    thr = np.partition(S, n - k, axis=1)[:, n - k]
    mask = S >= thr[:, None]
    counts = mask.sum(axis=1)
    if np.all(counts == k):
        idx = np.nonzero(mask)[1].reshape(-1, k)
    else:  # ties at the threshold: fall back to argpartition for the whole block
        idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(S, idx, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(idx, order, axis=1)


def topk_similar(
    Q: np.ndarray,
    T: np.ndarray,
    k: int,
    block_size: int = 2048,
    backend: str = "auto",
    progress: bool | None = False,
    desc: str = "top-k",
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of T with the largest dot product with each row of Q.

    Q: (nq, d), T: (nt, d) float32 (unit rows give cosine). Returns values
    (nq, k) float32 and indices (nq, k) int64, best first. Blocked over Q,
    so memory stays ``block_size * nt`` floats.
    """
    Q = np.ascontiguousarray(Q, dtype=np.float32)
    T = np.ascontiguousarray(T, dtype=np.float32)
    if Q.shape[1] != T.shape[1]:
        raise DimensionError(f"queries are {Q.shape[1]}-d but targets {T.shape[1]}-d")
    k = int(min(k, T.shape[0]))
    nq = Q.shape[0]
    vals = np.empty((nq, k), dtype=np.float32)
    idx = np.empty((nq, k), dtype=np.int64)
    backend = _resolve_backend(backend)
    bar = _bar(nq, progress, desc)
    if backend == "torch":
        torch = _torch()
        Tt = torch.from_numpy(T)
        with torch.no_grad():
            for a in range(0, nq, block_size):
                b = min(a + block_size, nq)
                v, i = torch.topk(torch.from_numpy(Q[a:b]) @ Tt.T, k, dim=1, largest=True, sorted=True)
                vals[a:b], idx[a:b] = v.numpy(), i.numpy()
                bar.update(b - a)
    else:
        for a in range(0, nq, block_size):
            b = min(a + block_size, nq)
            vals[a:b], idx[a:b] = _top_rows_numpy(Q[a:b] @ T.T, k)
            bar.update(b - a)
    bar.close()
    return vals, idx


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, progress: bool | None, desc: str):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=None if progress is None else not progress)


# ---------------------------------------------------------------- dictionary induction
@dataclass
class Candidates:
    """Each row's ``m`` most similar rows on the other side: values and indices (n, m), best first."""

    vals: np.ndarray
    idx: np.ndarray

    def knn_mean(self, k: int) -> np.ndarray:
        """Mean similarity to the k nearest neighbours (the CSLS penalty), shape (n,)."""
        return self.vals[:, :k].mean(axis=1)


def candidates_both_ways(
    Xw: np.ndarray, Zw: np.ndarray, m: int, block_size: int = 2048, backend: str = "auto"
) -> tuple[Candidates, Candidates]:
    """Top-``m`` candidates of every source row among target rows, and of every target row among source rows.

    Xw (nx, r), Zw (nz, r). With torch and r > 128, one blocked pass over
    ``Xw Zw^T`` gives both directions (row top-m per block; column top-m merged
    across blocks); otherwise two passes (for small r the second product is
    cheaper than transposing the blocks).
    """
    backend = _resolve_backend(backend)
    if backend == "numpy" or Xw.shape[1] <= 128:
        # two passes; with torch and few dimensions a second (cheap) product beats transposing the blocks
        fv, fi = topk_similar(Xw, Zw, m, block_size, backend)
        bv, bi = topk_similar(Zw, Xw, m, block_size, backend)
        return Candidates(fv, fi), Candidates(bv, bi)
    torch = _torch()
    Xw = np.ascontiguousarray(Xw, dtype=np.float32)
    Zw = np.ascontiguousarray(Zw, dtype=np.float32)
    if Xw.shape[1] != Zw.shape[1]:
        raise DimensionError(f"source rows are {Xw.shape[1]}-d but target rows {Zw.shape[1]}-d")
    nx, nz = len(Xw), len(Zw)
    mf, mb = min(m, nz), min(m, nx)
    fv = np.empty((nx, mf), np.float32)
    fi = np.empty((nx, mf), np.int64)
    Zt = torch.from_numpy(Zw)
    col_v = col_i = None
    with torch.no_grad():
        for a in range(0, nx, block_size):
            b = min(a + block_size, nx)
            S = torch.from_numpy(Xw[a:b]) @ Zt.T  # (b - a, nz)
            v, i = torch.topk(S, mf, dim=1)
            fv[a:b], fi[a:b] = v.numpy(), i.numpy()
            St = S.T.contiguous()  # (nz, b - a): row top-k is much faster than top-k along dim 0
            v, i = torch.topk(St, min(mb, b - a), dim=1)
            i = i + a
            if col_v is None:
                col_v, col_i = v, i
            else:
                v = torch.cat([col_v, v], dim=1)
                i = torch.cat([col_i, i], dim=1)
                keep_v, keep = torch.topk(v, min(mb, v.shape[1]), dim=1)
                col_v, col_i = keep_v, torch.gather(i, 1, keep)
    return Candidates(fv, fi), Candidates(col_v.numpy(), col_i.numpy().astype(np.int64))


def csls_choice(
    cand: Candidates,
    other_penalty: np.ndarray,
    keep_prob: float = 1.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Best candidate of each row by CSLS (``2 cos - r_other``), with stochastic drop-out.

    cand: (n, m) candidates; other_penalty: (n_other,) mean k-NN similarity of
    the other side's rows (pass zeros for plain cosine). Each candidate
    survives with probability ``keep_prob``; a row whose candidates all drop
    keeps its best one. Returns the chosen other-side rows, (n,) int64.
    """
    score = 2.0 * cand.vals - other_penalty[cand.idx]
    if keep_prob < 1.0:
        if rng is None:
            raise VecbridgeError("stochastic induction (keep_prob < 1) needs an rng")
        drop = rng.random(score.shape) >= keep_prob
        all_dropped = drop.all(axis=1)
        drop[all_dropped] = False
        score = np.where(drop, -np.inf, score)
    pick = np.argmax(score, axis=1)
    return cand.idx[np.arange(len(pick)), pick]


def induce_dictionary(
    Xw: np.ndarray,
    Zw: np.ndarray,
    csls_k: int = 10,
    direction: str = "union",
    keep_prob: float = 1.0,
    n_candidates: int = 32,
    rng: np.random.Generator | None = None,
    block_size: int = 2048,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray, float]:
    """One induction step between mapped vocabularies Xw (nx, r) and Zw (nz, r), unit rows.

    Returns ``(src_rows, tgt_rows, objective)``: the dictionary (forward
    pairs, backward pairs or their union; ``direction`` in ``forward``,
    ``backward``, ``union``) and the mean best cosine of the directions used.
    """
    if direction not in ("forward", "backward", "union"):
        raise VecbridgeError(f"direction must be 'forward', 'backward' or 'union', got {direction!r}")
    m = max(n_candidates, csls_k)
    fwd, bwd = candidates_both_ways(Xw, Zw, m, block_size, backend)
    rx = fwd.knn_mean(csls_k) if csls_k > 0 else np.zeros(len(Xw), np.float32)
    rz = bwd.knn_mean(csls_k) if csls_k > 0 else np.zeros(len(Zw), np.float32)
    src, tgt, objs = [], [], []
    if direction in ("forward", "union"):
        src.append(np.arange(len(Xw)))
        tgt.append(csls_choice(fwd, rz, keep_prob, rng))
        objs.append(float(fwd.vals[:, 0].mean()))
    if direction in ("backward", "union"):
        src.append(csls_choice(bwd, rx, keep_prob, rng))
        tgt.append(np.arange(len(Zw)))
        objs.append(float(bwd.vals[:, 0].mean()))
    return np.concatenate(src), np.concatenate(tgt), float(np.mean(objs))


def mutual_nn_rate(Xw: np.ndarray, Zw: np.ndarray, csls_k: int = 10, backend: str = "auto") -> float:
    """Fraction of source rows whose CSLS nearest target has them as its CSLS nearest source.

    Xw (nx, r), Zw (nz, r): unit rows in a shared space. A map that carries
    words onto their counterparts makes many pairs mutual; a map that carries
    no information leaves only hubs and chance (the control in
    :func:`alignment_confidence`).
    """
    fwd, bwd = candidates_both_ways(Xw, Zw, max(csls_k, 16), backend=backend)
    rx, rz = fwd.knn_mean(csls_k), bwd.knn_mean(csls_k)
    f = csls_choice(fwd, rz)
    b = csls_choice(bwd, rx)
    return float(np.mean(b[f] == np.arange(len(Xw))))


def _unit(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.where(n > 0, n, 1)).astype(np.float32)


def _random_orthonormal(d: int, r: int, rng: np.random.Generator) -> np.ndarray:
    q, R = np.linalg.qr(rng.standard_normal((d, r)))
    return (q * np.sign(np.diag(R))).astype(np.float32)


@dataclass
class Confidence:
    """The unsupervised alignment criterion of :func:`alignment_confidence` (see there)."""

    confidence: float
    objective: float
    objective_controls: list[float]
    objective_random: float
    agreement: float
    mutual_nn: float
    aligned: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "confidence": round(self.confidence, 4),
            "aligned": self.aligned,
            "objective_top": round(self.objective, 6),
            "objective_controls": [round(v, 6) for v in self.objective_controls],
            "objective_random": round(self.objective_random, 6),
            "agreement_with_controls": round(self.agreement, 4),
            "mutual_nn_rate": round(self.mutual_nn, 4),
        }


def alignment_confidence(
    X: np.ndarray,
    Z: np.ndarray,
    Wx: np.ndarray,
    Wz: np.ndarray,
    n: int = 4000,
    csls_k: int = 10,
    n_controls: int = 2,
    control_iter: int = 15,
    min_confidence: float = 0.5,
    min_agreement: float = 0.5,
    seed: int = 0,
    backend: str = "auto",
) -> Confidence:
    """Did self-learning find a real alignment, or only a local optimum? A self-calibrating test.

    X (nx, dx), Z (nz, dz): normalised vocabularies, most frequent first;
    Wx (dx, r), Wz (dz, r): the map to judge (into a shared space). On the
    first ``n`` words of each side:

    - ``objective``: the self-learning objective of the map (mean best cosine, both directions);
    - ``objective_controls``: the same after short self-learning runs started
      from *random* dictionaries (what the loop reaches from no information:
      its garbage optima), ``n_controls`` of them;
    - ``objective_random``: the same for a random orthogonal map (no learning);
    - ``confidence = (objective - max(controls)) / (max(controls) - random)``:
      how far above the garbage optima the map lies, in units of what
      self-learning alone adds to a random map;
    - ``agreement``: the largest share of forward translations a control
      shares with the map (high when a random start finds the same solution).

    ``aligned`` when ``confidence >= min_confidence`` or ``agreement >= min_agreement``.
    """
    n = int(min(n, len(X), len(Z)))
    Xs, Zs = X[:n], Z[:n]

    def evaluate(Ax: np.ndarray, Az: np.ndarray) -> tuple[float, np.ndarray]:
        _, t, obj = induce_dictionary(_unit(Xs @ Ax), _unit(Zs @ Az), csls_k, "union", backend=backend)
        return obj, t[:n]  # the union lists the forward translations first

    obj, fwd_main = evaluate(Wx, Wz)
    rng = np.random.default_rng(seed)
    ctrl, agree = [], 0.0
    for c in range(n_controls):
        rs, rt = rng.permutation(n), rng.permutation(n)
        res = self_learning(Xs, Zs, rs, rt, vocab_cutoff=n, csls_k=csls_k, patience=1, max_iter=control_iter,
                            seed=seed + 1 + c, backend=backend)
        o, fwd_c = evaluate(res.Wx, res.Wz)
        ctrl.append(o)
        agree = max(agree, float(np.mean(fwd_c == fwd_main)))
    rand, _ = evaluate(_random_orthonormal(X.shape[1], Wx.shape[1], rng), _random_orthonormal(Z.shape[1], Wz.shape[1], rng))
    top = max(ctrl) if ctrl else rand
    conf = (obj - top) / max(top - rand, 1e-3)
    mnn = mutual_nn_rate(_unit(Xs @ Wx), _unit(Zs @ Wz), csls_k, backend)
    aligned = bool(conf >= min_confidence or agree >= min_agreement)
    return Confidence(float(conf), obj, ctrl, rand, agree, mnn, aligned)


# ---------------------------------------------------------------- unsupervised starts
def sorted_similarity_profile(X: np.ndarray) -> np.ndarray:
    """Rows of ``sqrt(X X^T)`` sorted descending, then unit/centre/unit-normalised: (n, n) float32.

    X: (n, d) normalised vectors. The sorted similarity distribution of a word
    does not change under any rotation of the space, so the profiles of two
    near-isomorphic spaces can be compared directly (Artetxe et al. 2018).
    """
    U, s, _ = np.linalg.svd(np.asarray(X, dtype=np.float64), full_matrices=False)
    M = (U * s) @ U.T
    M = -np.sort(-M, axis=1)
    return Normalizer("unit center unit").fit_transform(M.astype(np.float32))


def similarity_init(
    X: np.ndarray, Z: np.ndarray, n: int = 4000, csls_k: int = 10, backend: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Initial dictionary (src_rows, tgt_rows) from the similarity distributions of the first ``n`` words."""
    n = int(min(n, len(X), len(Z)))
    Px = sorted_similarity_profile(X[:n])
    Pz = sorted_similarity_profile(Z[:n])
    s, t, _ = induce_dictionary(Px, Pz, csls_k=csls_k, direction="union", backend=backend)
    return s, t


def gromov_wasserstein_init(
    X: np.ndarray, Z: np.ndarray, n: int = 1000, max_iter: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Initial dictionary from a Gromov-Wasserstein coupling of the first ``n`` words of each side (POT).

    The cost matrices are the cosine distances inside each space; the pairs
    are the mutual arg-maxima of the coupling. Needs the ``POT`` package.
    """
    try:
        import ot
    except ImportError:
        raise VecbridgeError("init='gw' needs the POT package: pip install POT (or vecbridge[bench])") from None
    n = int(min(n, len(X), len(Z)))
    Xs, Zs = _unit(X[:n]).astype(np.float64), _unit(Z[:n]).astype(np.float64)
    C1 = 1.0 - Xs @ Xs.T
    C2 = 1.0 - Zs @ Zs.T
    C1 /= C1.max()
    C2 /= C2.max()
    p = np.full(n, 1.0 / n)
    # a slightly perturbed product coupling as the start (the exact product is a saddle point)
    rng = np.random.default_rng(seed)
    G0 = np.outer(p, p) * (1.0 + 0.1 * rng.random((n, n)))
    for _ in range(50):  # Sinkhorn-balance it back onto the marginals
        G0 *= (p / G0.sum(axis=1))[:, None]
        G0 *= (p / G0.sum(axis=0))[None, :]
    T = ot.gromov.gromov_wasserstein(C1, C2, p, p, "square_loss", G0=G0, max_iter=max_iter)
    fwd = T.argmax(axis=1)
    bwd = T.argmax(axis=0)
    mutual = bwd[fwd] == np.arange(n)
    src = np.nonzero(mutual)[0]
    if len(src) < 2:
        src = np.arange(n)
    return src.astype(np.int64), fwd[src].astype(np.int64)


# ---------------------------------------------------------------- the loop
@dataclass
class SelfLearningResult:
    """Outcome of :func:`self_learning`: maps into the shared space and the last dictionary."""

    Wx: np.ndarray  # (dx, r)
    Wz: np.ndarray  # (dz, r)
    src_rows: np.ndarray
    tgt_rows: np.ndarray
    objective: float
    n_iter: int
    history: list[dict[str, float]] = field(default_factory=list)


def orthogonal_shared_maps(X: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal ``Wx`` (dx, r), ``Wz`` (dz, r), r = min(dx, dz), maximising ``tr(Wx^T X^T Z Wz)`` (paired rows).

    The cross-covariance is accumulated in float32 (n x d products), the SVD runs in float64 (d x d).
    """
    M = (np.asarray(X, dtype=np.float32).T @ np.asarray(Z, dtype=np.float32)).astype(np.float64)
    U, _, Vt = np.linalg.svd(M, full_matrices=False)
    return U.astype(np.float32), Vt.T.astype(np.float32)


def self_learning(
    X: np.ndarray,
    Z: np.ndarray,
    src_rows: np.ndarray,
    tgt_rows: np.ndarray,
    vocab_cutoff: int = 20000,
    csls_k: int = 10,
    direction: str = "union",
    keep_prob: float = 0.1,
    keep_multiplier: float = 2.0,
    patience: int = 3,
    threshold: float = 1e-6,
    max_iter: int = 100,
    n_candidates: int = 32,
    seed: int = 0,
    backend: str = "auto",
    progress: bool | None = False,
) -> SelfLearningResult:
    """Alternate orthogonal mapping and CSLS dictionary induction until the objective stops improving.

    X (nx, dx), Z (nz, dz): normalised vocabularies, most frequent first.
    src_rows, tgt_rows: the seed dictionary (row indices, equal length >= 1).
    Induction looks at the first ``vocab_cutoff`` rows of each side.
    Returns the maps of the last orthogonal step and the last dictionary.
    """
    src_rows = np.asarray(src_rows, dtype=np.int64)
    tgt_rows = np.asarray(tgt_rows, dtype=np.int64)
    if len(src_rows) == 0 or len(src_rows) != len(tgt_rows):
        raise VecbridgeError(f"the seed dictionary needs >= 1 pair and matching sides, got {len(src_rows)}/{len(tgt_rows)}")
    if not 0 < keep_prob <= 1 or keep_multiplier <= 1:
        raise VecbridgeError(f"need 0 < keep_prob <= 1 and keep_multiplier > 1, got {keep_prob}, {keep_multiplier}")
    rng = np.random.default_rng(seed)
    nx, nz = min(vocab_cutoff, len(X)), min(vocab_cutoff, len(Z))
    Xc, Zc = X[:nx], Z[:nz]
    best = -np.inf
    last_improvement = 0
    history: list[dict[str, float]] = []
    bar = _bar(max_iter, progress, "self-learning")
    it = 0
    objective = float("nan")
    while True:
        it += 1
        if it - last_improvement > patience:
            if keep_prob >= 1.0:
                end = True
            else:
                end = False
                keep_prob = min(1.0, keep_prob * keep_multiplier)
                last_improvement = it
        else:
            end = False
        Wx, Wz = orthogonal_shared_maps(X[src_rows], Z[tgt_rows])
        if end or it > max_iter:
            break
        t0 = time.perf_counter()
        s, t, objective = induce_dictionary(
            _unit(Xc @ Wx), _unit(Zc @ Wz), csls_k, direction, keep_prob, n_candidates, rng, backend=backend
        )
        src_rows, tgt_rows = s, t
        if objective - best >= threshold:
            best = objective
            last_improvement = it
        history.append({"iter": it, "objective": round(objective, 6), "keep_prob": keep_prob,
                        "seconds": round(time.perf_counter() - t0, 3)})
        bar.update(1)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(objective=f"{objective:.4f}", keep=f"{keep_prob:.2f}")
    bar.close()
    return SelfLearningResult(Wx, Wz, src_rows, tgt_rows, float(best), it - 1, history)


# ---------------------------------------------------------------- the translator
class SelfLearning(Translator):
    """Self-learning map from a small seed dictionary, identical strings, numerals, or nothing.

    ``fit`` needs the whole vocabularies, not only the paired rows:
    ``fit(src_emb, tgt_emb, pairs=seed_pairs)``; ``pairs=None`` means no seed
    (unsupervised, unless ``init`` says otherwise). With arrays,
    ``fit(X, Z)`` is unsupervised and ``pairs`` may be row-index pairs.
    Rows are assumed to be in frequency order (the usual word-file order).

    Parameters
    ----------
    init : {"auto", "pairs", "identical", "numerals", "similarity", "gw"}
        Where the seed dictionary comes from. ``auto``: the given pairs, else
        the similarity-distribution start (unsupervised).
    seed_pairs : int, optional
        Use only the first N of the given (or identical/numeral) pairs.
    vocab_cutoff : int
        Dictionary induction looks at the N most frequent words of each side.
    init_vocab : int
        Words used by the unsupervised starts (``similarity``: 4000; ``gw``: at most 1500).
    csls_k : int
        Neighbourhood of CSLS (0 = plain nearest neighbour).
    direction : {"union", "forward", "backward"}
    keep_prob, keep_multiplier, patience, threshold, max_iter
        Stochastic induction schedule and stopping rule (see module docs).
    n_candidates : int
        Candidates kept per word for CSLS and drop-out.
    final : {"whiten", "orthogonal"}
        Last mapping step: the multi-step whitening pipeline (Artetxe 2018)
        or a plain orthogonal map.
    output : {"target", "shared"}
        As for :class:`~.whitening.MultiStep`.
    normalize : str
        Normalisation of both whole vocabularies (default ``"unit center unit"``).
    min_confidence, min_agreement, n_controls
        The verdict of :func:`alignment_confidence` (``n_controls=0`` skips
        the control runs; then only the random map calibrates).
    seed : int
    backend : {"auto", "numpy", "torch"}
    progress : bool or None
        Progress bars (None: only on a terminal).
    """

    method = "selflearn"
    supervised = False  # needs no paired rows: sees the whole vocabularies and an optional seed

    def __init__(
        self,
        init: str = "auto",
        seed_pairs: int | None = None,
        vocab_cutoff: int = 20000,
        init_vocab: int = 4000,
        csls_k: int = 10,
        direction: str = "union",
        keep_prob: float = 0.1,
        keep_multiplier: float = 2.0,
        patience: int = 2,
        threshold: float = 1e-5,
        max_iter: int = 60,
        n_candidates: int = 16,
        final: str = "whiten",
        output: str = "target",
        normalize: str | None = "unit center unit",
        min_confidence: float = 0.5,
        min_agreement: float = 0.5,
        n_controls: int = 2,
        seed: int = 0,
        backend: str = "auto",
        progress: bool | None = None,
    ):
        self.init = init
        self.seed_pairs = seed_pairs
        self.vocab_cutoff = vocab_cutoff
        self.init_vocab = init_vocab
        self.csls_k = csls_k
        self.direction = direction
        self.keep_prob = keep_prob
        self.keep_multiplier = keep_multiplier
        self.patience = patience
        self.threshold = threshold
        self.max_iter = max_iter
        self.n_candidates = n_candidates
        self.final = final
        self.output = output
        self.normalize = normalize
        self.min_confidence = min_confidence
        self.min_agreement = min_agreement
        self.n_controls = n_controls
        self.seed = seed
        self.backend = backend
        self.progress = progress

    # -- fitting -------------------------------------------------------------
    def _check_params(self) -> None:
        if self.init not in INITS:
            raise VecbridgeError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.final not in FINALS:
            raise VecbridgeError(f"final must be one of {', '.join(FINALS)}, got {self.final!r}")
        if self.output not in ("target", "shared"):
            raise VecbridgeError(f"output must be 'target' or 'shared', got {self.output!r}")
        if self.seed_pairs is not None and int(self.seed_pairs) < 1:
            raise VecbridgeError(f"seed_pairs must be >= 1, got {self.seed_pairs}")
        if int(self.vocab_cutoff) < 2:
            raise VecbridgeError(f"vocab_cutoff must be >= 2, got {self.vocab_cutoff}")

    def _seed_rows(self, X, Z, src, tgt, pairs, info) -> tuple[np.ndarray, np.ndarray, str]:
        """Seed dictionary as row indices, and the name of the start used."""
        init = self.init
        limit = int(self.seed_pairs) if self.seed_pairs else None
        if init == "auto":
            init = "pairs" if pairs is not None else "similarity"
        if init in ("identical", "numerals"):
            if src is None:
                raise VecbridgeError(f"init={init!r} needs two Embeddings (keys), not arrays")
            pairs = identical_pairs(src, tgt) if init == "identical" else numeral_pairs(src, tgt)
            if not pairs:
                raise VecbridgeError(
                    f"init={init!r}: the two vocabularies share no {'keys' if init == 'identical' else 'numerals'}; "
                    "give a seed dictionary or use init='similarity' (unsupervised)"
                )
            info["pairs_from"] = init
        if init in ("pairs", "identical", "numerals"):
            if pairs is None:
                raise VecbridgeError("init='pairs' needs seed pairs: fit(src, tgt, pairs=[(s, t), ...])")
            pairs = list(pairs)
            if limit:
                pairs = pairs[:limit]
            if src is not None:
                s, t, cov = pair_rows(src, tgt, pairs)
                info["coverage"] = cov.as_dict()
                self.coverage_ = cov
                if cov.n_used == 0:
                    raise VecbridgeError(f"no usable seed pairs: {cov.summary()}")
            else:
                arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
                s, t = arr[:, 0], arr[:, 1]
                if (s < 0).any() or (s >= len(X)).any() or (t < 0).any() or (t >= len(Z)).any():
                    raise VecbridgeError(f"row-index pairs out of range: source has {len(X)} rows, target {len(Z)}")
            info["n_seed_pairs"] = int(len(s))
            return s, t, init
        info["pairs_from"] = "none (unsupervised)"
        info["n_seed_pairs"] = 0
        backend = _resolve_backend(self.backend)
        if init == "similarity":
            s, t = similarity_init(X, Z, int(self.init_vocab), int(self.csls_k) or 10, backend)
        else:
            s, t = gromov_wasserstein_init(X, Z, min(int(self.init_vocab), 1500), seed=int(self.seed))
        return s, t, init

    def fit(self, X: Any, Y: Any, pairs: Any = None) -> SelfLearning:
        """Fit on two whole vocabularies (Embeddings or arrays, most frequent first) and an optional seed."""
        import datetime as _dt

        self._check_params()
        info: dict[str, Any] = {}
        src = tgt = None
        if isinstance(X, Embeddings) and isinstance(Y, Embeddings):
            src, tgt = X, Y
            info["pairs_from"] = "dictionary" if pairs is not None else None
            info["source"] = {"name": src.name, "normalization": src.meta.get("normalization", [])}
            info["target"] = {"name": tgt.name, "normalization": tgt.meta.get("normalization", [])}
            Xa, Ya = src.vectors, tgt.vectors
        elif isinstance(X, Embeddings) or isinstance(Y, Embeddings):
            raise VecbridgeError("pass two Embeddings (with optional pairs) or two arrays, not a mix")
        else:
            Xa, Ya = X, Y
            info["pairs_from"] = "row-index pairs" if pairs is not None else None
        Xa = as_float32_matrix(Xa, "X")
        Ya = as_float32_matrix(Ya, "Y")
        if len(Xa) < 2 or len(Ya) < 2:
            raise VecbridgeError(f"self-learning needs whole vocabularies; got {len(Xa)} and {len(Ya)} rows")
        self.n_features_in_ = int(Xa.shape[1])
        self.n_features_out_ = int(Ya.shape[1])
        steps = parse_steps(self.normalize)
        self.source_normalizer_ = Normalizer(steps).fit(Xa)
        self.target_normalizer_ = Normalizer(steps).fit(Ya)
        Xn = self.source_normalizer_.transform(Xa)
        Zn = self.target_normalizer_.transform(Ya)
        t0 = time.perf_counter()
        s, t, init = self._seed_rows(Xn, Zn, src, tgt, pairs, info)
        info["init"] = init
        info["init_seconds"] = round(time.perf_counter() - t0, 3)
        backend = _resolve_backend(self.backend)
        t1 = time.perf_counter()
        res = self_learning(
            Xn, Zn, s, t,
            vocab_cutoff=int(self.vocab_cutoff), csls_k=int(self.csls_k), direction=self.direction,
            keep_prob=float(self.keep_prob), keep_multiplier=float(self.keep_multiplier),
            patience=int(self.patience), threshold=float(self.threshold), max_iter=int(self.max_iter),
            n_candidates=int(self.n_candidates), seed=int(self.seed), backend=backend, progress=self.progress,
        )
        info["self_learning_seconds"] = round(time.perf_counter() - t1, 3)
        info["iterations"] = res.n_iter
        info["objective"] = round(res.objective, 6)
        info["history"] = res.history
        info["n_pairs"] = int(len(res.src_rows))  # size of the final induced dictionary
        info["vocab_sizes"] = [int(len(Xn)), int(len(Zn))]
        t2 = time.perf_counter()
        conf = alignment_confidence(
            Xn, Zn, res.Wx, res.Wz, n=min(int(self.vocab_cutoff), 4000), csls_k=int(self.csls_k) or 10,
            n_controls=int(self.n_controls), min_confidence=float(self.min_confidence),
            min_agreement=float(self.min_agreement), seed=int(self.seed), backend=backend,
        )
        info.update(conf.as_dict())
        info["confidence_measure"] = (
            "(objective - best objective of self-learning from random dictionaries) / "
            "(that - objective of a random map), on the most frequent words; aligned when >= min_confidence "
            "or when a random start finds the same dictionary (agreement >= min_agreement)"
        )
        info["confidence_seconds"] = round(time.perf_counter() - t2, 3)
        # final mapping step on the last dictionary
        Xd, Zd = Xn[res.src_rows], Zn[res.tgt_rows]
        opts = PRESETS["recommended" if self.final == "whiten" else "orthogonal"]
        if self.final == "whiten" and len(res.src_rows) < max(self.n_features_in_, self.n_features_out_):
            opts = PRESETS["orthogonal"]
            info["final_note"] = "too few dictionary pairs to whiten; used the orthogonal map"
        Tx, Tz = multistep_maps(Xd, Zd, dim_reduction=None, **opts)
        self.Tx_ = Tx.astype(np.float32)
        self.Tz_ = Tz.astype(np.float32)
        self.src_rows_ = res.src_rows.astype(np.int64)
        self.tgt_rows_ = res.tgt_rows.astype(np.int64)
        self._after_load()
        info["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.fit_info_ = {**getattr(self, "fit_info_", {}), **info}
        return self

    @property
    def confidence_(self) -> float | None:
        return getattr(self, "fit_info_", {}).get("confidence")

    @property
    def aligned_(self) -> bool | None:
        return getattr(self, "fit_info_", {}).get("aligned")

    def induced_pairs(self, src: Embeddings, tgt: Embeddings) -> list[tuple[str, str]]:
        """The last induced dictionary as key pairs (needs the Embeddings the map was fitted on)."""
        return [(src.keys[i], tgt.keys[j]) for i, j in zip(self.src_rows_, self.tgt_rows_)]

    def _after_load(self) -> None:
        if self.output == "target":
            self._W = (self.Tx_.astype(np.float64) @ np.linalg.pinv(self.Tz_.astype(np.float64))).astype(np.float32)
        else:
            self._W = self.Tx_

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self._W

    def _transform_target(self, Y: np.ndarray) -> np.ndarray:
        return Y @ self.Tz_ if self.output == "shared" else Y


__all__ = [
    "SelfLearning", "self_learning", "induce_dictionary", "similarity_init", "gromov_wasserstein_init",
    "identical_pairs", "numeral_pairs", "topk_similar", "mutual_nn_rate", "alignment_confidence",
"Confidence", "orthogonal_shared_maps", "sorted_similarity_profile", "SelfLearningResult",
    "Candidates", "csls_choice",
]
