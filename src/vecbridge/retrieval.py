"""Blocked nearest-neighbour retrieval by cosine, CSLS and the inverted softmax.

Every function here works on two sets of row vectors, *queries* (n_q, d) and
*targets* (n_t, d), compares them by cosine (rows are scaled to unit length
inside; rows of zeros stay zero and have cosine 0 with everything) and never
materialises the full n_q x n_t similarity matrix: the work is cut into blocks
of ``block_size`` query rows by ``target_block_size`` target rows, chosen from
``memory_budget_mb`` when not given, and the per-block results (top-k indices,
k-NN means, running log-sum-exps, rank counts) are merged as the blocks go.

Retrieval criteria (``method``):

``"nn"``
    plain cosine similarity ``cos(x, y)``.
``"csls"``
    cross-domain similarity local scaling (Conneau et al. 2018, "Word
    translation without parallel data"):
    ``2 cos(x, y) - r_T(x) - r_S(y)``, where ``r_T(x)`` is the mean cosine of
    the query ``x`` to its ``csls_k`` nearest targets and ``r_S(y)`` the mean
    cosine of the target ``y`` to its ``csls_k`` nearest vectors of the
    *source pool* (all mapped source vectors; by default the queries). Targets
    that are close to everything ("hubs") get a large ``r_S`` and are demoted.
``"isf"``
    the inverted softmax (Smith et al. 2017, "Offline bilingual word vectors,
    orthogonal transformations and the inverted softmax"): for each target,
    a softmax of ``temperature * cos`` over the source pool (a column
    softmax), ``P(y -> x) = exp(b cos(x, y)) / sum_{x' in pool} exp(b cos(x', y))``;
    targets are ranked per query by that probability. The score returned is its
    logarithm, ``b cos(x, y) - logsumexp_{x'} b cos(x', y)``. Smith et al.
    choose the temperature ``b`` by maximising this probability over the
    training dictionary; the default ``ISF_TEMPERATURE = 30`` is the commonly
    used value for unit-length word vectors. Tune it on held-out pairs when it
    matters.

Ties: top-k lists are ordered by score, then by the lower target index. Exact
ties at the k-th place are broken by whichever candidates ``np.argpartition``
keeps (as in FAISS); with real-valued data they practically do not occur.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import DimensionError, VecbridgeError

METHODS = ("nn", "csls", "isf")
_METHOD_ALIASES = {
    "cos": "nn",
    "cosine": "nn",
    "knn": "nn",
    "inverted-softmax": "isf",
    "inverted_softmax": "isf",
}

#: default inverse temperature of the inverted softmax (see the module docstring)
ISF_TEMPERATURE = 30.0
#: default neighbourhood size of CSLS (Conneau et al. 2018 use 10)
CSLS_K = 10

# bytes of working memory per element of a (query block x target block) tile:
# the float32 scores (4) and, at worst, int64 indices of a full-row argpartition
# (8; only for short rows, see _candidates) or a float32 copy and a boolean mask.
_BYTES_PER_ELEMENT = 12
# show a progress bar by default when a pass compares at least this many pairs
_PROGRESS_MIN_PAIRS = 5e8


# -- input handling ---------------------------------------------------------------
def canonical_method(method: str) -> str:
    """``"nn"``, ``"csls"`` or ``"isf"`` for a method name or alias; raises for anything else."""
    name = str(method).strip().lower()
    name = _METHOD_ALIASES.get(name, name)
    if name not in METHODS:
        raise VecbridgeError(
            f"unknown retrieval method {method!r}; choose from {', '.join(METHODS)} "
            "(nn = cosine, csls = cross-domain similarity local scaling, isf = inverted softmax)"
        )
    return name


def _matrix(X: Any, what: str) -> np.ndarray:
    """2-D float32 array from an array or an Embeddings (its ``.vectors``); checked finite."""
    if hasattr(X, "vectors") and hasattr(X, "keys"):
        X = X.vectors
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise DimensionError(f"{what} must be a 2-D array (n, d); got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise VecbridgeError(f"{what} must be numeric, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = int(np.argmax(~np.isfinite(X).all(axis=1)))
        raise VecbridgeError(f"{what} row {bad} holds NaN or Inf; remove or fix that row first")
    return X


def unit_rows_lazy(X: np.ndarray, tol: float = 1e-5) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32.

    Returns ``X`` itself, without a copy, when every row already has length 1
    (within ``tol``) or 0, which saves a full copy of large unit-normalised inputs.
    """
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    norms = np.sqrt(sq)
    if np.all((np.abs(norms - 1.0) <= tol) | (norms == 0.0)):
        return X
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0).astype(np.float32)
    return X * scale[:, None]


def _pair(
    queries: Any, targets: Any, q_what: str = "queries", t_what: str = "targets"
) -> tuple[np.ndarray, np.ndarray]:
    Q = _matrix(queries, q_what)
    T = _matrix(targets, t_what)
    if Q.shape[1] != T.shape[1]:
        raise DimensionError(
            f"{q_what} are {Q.shape[1]}-d but {t_what} are {T.shape[1]}-d; compare vectors of one space "
            "(map the source first, and put targets through the map's transform_target)"
        )
    if T.shape[0] == 0:
        raise VecbridgeError(f"{t_what} are empty: there is nothing to retrieve from")
    return unit_rows_lazy(Q), unit_rows_lazy(T)


def _pool(source_pool: Any, Qu: np.ndarray) -> tuple[np.ndarray, bool]:
    """Unit-normalised source pool and whether it is the queries themselves."""
    if source_pool is None:
        return Qu, True
    P = unit_rows_lazy(_matrix(source_pool, "source_pool"))
    if P.shape[1] != Qu.shape[1]:
        raise DimensionError(f"source_pool is {P.shape[1]}-d but the queries are {Qu.shape[1]}-d")
    if P.shape[0] == 0:
        raise VecbridgeError("source_pool is empty; pass the mapped source vectors (or None for the queries)")
    return P, False


# -- blocking ---------------------------------------------------------------------
def block_sizes(
    n_a: int,
    n_b: int,
    block_size: int | None = None,
    target_block_size: int | None = None,
    memory_budget_mb: float = 512,
) -> tuple[int, int]:
    """``(rows of A, rows of B)`` per tile so that one tile's working memory fits the budget.

    Whole rows of B are preferred (no merging across B blocks) while at least 64
    rows of A fit; otherwise A blocks of 64 rows (or ``block_size``) and B blocks
    that fill the budget.
    """
    if memory_budget_mb <= 0:
        raise VecbridgeError(f"memory_budget_mb must be positive, got {memory_budget_mb}")
    elements = max(1, int(memory_budget_mb * 2**20 // _BYTES_PER_ELEMENT))
    n_a, n_b = max(1, int(n_a)), max(1, int(n_b))
    if block_size is not None and int(block_size) < 1:
        raise VecbridgeError(f"block_size must be a positive number of rows, got {block_size}")
    if target_block_size is not None and int(target_block_size) < 1:
        raise VecbridgeError(f"target_block_size must be a positive number of rows, got {target_block_size}")
    if block_size is None and target_block_size is None:
        if elements // n_b >= min(64, n_a):
            bt = n_b
            bq = elements // n_b
        else:
            bq = 64
            bt = max(1, elements // bq)
    elif target_block_size is None:
        bq = int(block_size)
        bt = max(1, elements // bq)
    elif block_size is None:
        bt = int(target_block_size)
        bq = max(1, elements // min(bt, n_b))
    else:
        bq, bt = int(block_size), int(target_block_size)
    return int(min(bq, n_a, 1 << 16)), int(min(bt, n_b))


def _spans(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def _progress_bar(total: int, pairs: float, progress: bool | None, desc: str):
    from tqdm.auto import tqdm

    show = pairs >= _PROGRESS_MIN_PAIRS if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, unit="row", disable=not show, leave=False, dynamic_ncols=True)


def _mask_self(S: np.ndarray, a0: int, a1: int, b0: int, b1: int) -> None:
    """Set S[i - a0, i - b0] = -inf for the rows i that are in both spans (row i of A is row i of B)."""
    lo, hi = max(a0, b0), min(a1, b1)
    if lo < hi:
        i = np.arange(lo, hi)
        S[i - a0, i - b0] = -np.inf


def _candidates(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A few columns of each row that surely hold its k largest values: ``(values, columns)``.

    Full-row selection (``np.argpartition`` over 200k columns) costs more than
    the matrix product that made the row, so the row is first cut into ``m``
    strided groups of ``c`` columns (group j = columns ``j, j + m, j + 2m, ...``).
    The k groups with the largest maxima hold every one of the row's k largest
    values: any other group's maximum is at most the k-th largest group
    maximum, which is at most the row's k-th largest value (the k chosen
    groups each hold a value at least that large). Only those ``k * c``
    candidates (plus the < c columns left over) are searched further.

    Returns ``(S, None)`` (every column a candidate) when the row is too short
    for this to pay.
    """
    rows, n = S.shape
    c = int(2 ** round(np.log2(max(1.0, np.sqrt(n / max(k, 1))))))
    c = min(max(c, 8), 256)
    m = n // c
    if k >= n or m < 4 * k:
        return S, None
    V = S[:, : m * c].reshape(rows, c, m)  # a view: V[r, i, j] = S[r, i * m + j]
    groups = np.argpartition(V.max(axis=1), m - k, axis=1)[:, m - k :]  # (rows, k)
    r = np.arange(rows)[:, None, None]
    i = np.arange(c)[None, :, None]
    vals = V[r, i, groups[:, None, :]].reshape(rows, c * k)
    cols = (i * m + groups[:, None, :]).reshape(rows, c * k)
    if m * c < n:
        vals = np.concatenate([vals, S[:, m * c :]], axis=1)
        cols = np.concatenate([cols, np.broadcast_to(np.arange(m * c, n), (rows, n - m * c))], axis=1)
    return vals, cols


def _top_values(S: np.ndarray, k: int) -> np.ndarray:
    """The k largest values of each row (unordered), shape (rows, min(k, n)); may be ``S`` itself."""
    vals, _ = _candidates(S, k)
    n = vals.shape[1]
    if k >= n:
        return vals
    return np.partition(vals, n - k, axis=1)[:, n - k :]


def _top_indices(S: np.ndarray, k: int) -> np.ndarray:
    """Columns of the k largest values of each row (unordered), shape (rows, min(k, n))."""
    vals, cols = _candidates(S, k)
    n = vals.shape[1]
    if k >= n:
        j = np.broadcast_to(np.arange(n, dtype=np.int64), vals.shape)
    else:
        j = np.argpartition(vals, n - k, axis=1)[:, n - k :]
    return j if cols is None else np.take_along_axis(cols, j, axis=1)


def _sorted_desc(idx: np.ndarray, val: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k best of each row's candidates, ordered by score (descending) then index."""
    order = np.lexsort((idx, -val), axis=1)[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(val, order, axis=1)


# -- k-NN mean similarity -------------------------------------------------------
def knn_mean_similarity(
    A: Any,
    B: Any,
    k: int,
    *,
    exclude_self: bool = False,
    block_size: int | None = None,
    target_block_size: int | None = None,
    memory_budget_mb: float = 512,
    progress: bool | None = None,
    desc: str = "k-NN similarity",
) -> np.ndarray:
    """Mean cosine of each row of ``A`` to its ``k`` nearest rows of ``B``.

    Parameters
    ----------
    A : (n_a, d) array or Embeddings
    B : (n_b, d) array or Embeddings
    k : neighbours per row; capped at the rows of ``B`` available (``n_b``, or
        ``n_b - 1`` with ``exclude_self``).
    exclude_self : row i of ``A`` is row i of ``B`` (one set against itself);
        that pair is left out.
    block_size, target_block_size : rows of A / of B per tile; from
        ``memory_budget_mb`` when None.
    progress : True / False to force / silence the progress bar; None shows
        it for large inputs.

    Returns
    -------
    (n_a,) float32. This is ``r_T`` / ``r_S`` of CSLS and the hubness statistic.
    """
    Au, Bu = _pair(A, B, "A", "B")
    return _knn_mean_unit(Au, Bu, k, exclude_self, block_size, target_block_size, memory_budget_mb, progress, desc)


def _available(n_b: int, exclude_self: bool) -> int:
    return n_b - 1 if exclude_self else n_b


def _knn_mean_unit(Au, Bu, k, exclude_self, block_size, target_block_size, memory_budget_mb, progress, desc):
    n_a, n_b = Au.shape[0], Bu.shape[0]
    if int(k) < 1:
        raise VecbridgeError(f"k must be at least 1, got {k}")
    k = min(int(k), _available(n_b, exclude_self))
    if k < 1:
        raise VecbridgeError("exclude_self leaves no neighbours: the second set has a single row")
    out = np.empty(n_a, dtype=np.float32)
    ba, bb = block_sizes(n_a, n_b, block_size, target_block_size, memory_budget_mb)
    with _progress_bar(n_a, float(n_a) * n_b, progress, desc) as bar:
        for a0, a1 in _spans(n_a, ba):
            best = None
            for b0, b1 in _spans(n_b, bb):
                S = Au[a0:a1] @ Bu[b0:b1].T
                if exclude_self:
                    _mask_self(S, a0, a1, b0, b1)
                top = _top_values(S, k)
                best = top if best is None else _top_values(np.concatenate([best, top], axis=1), k)
            out[a0:a1] = best.mean(axis=1, dtype=np.float64)
            bar.update(a1 - a0)
    return out


# -- inverted softmax normaliser ----------------------------------------------------
def _isf_log_normalizer(Tu, Pu, temperature, exclude_self, block_size, target_block_size, memory_budget_mb, progress):
    """``log sum_{p in pool} exp(temperature * cos(p, y))`` for every target y, (n_t,) float64."""
    n_t, n_p = Tu.shape[0], Pu.shape[0]
    if _available(n_p, exclude_self) < 1:
        raise VecbridgeError("the inverted softmax needs a source pool of at least one other vector")
    out = np.empty(n_t, dtype=np.float64)
    ba, bb = block_sizes(n_t, n_p, block_size, target_block_size, memory_budget_mb)
    beta = np.float32(temperature)
    with _progress_bar(n_t, float(n_t) * n_p, progress, "isf normaliser") as bar:
        for a0, a1 in _spans(n_t, ba):
            m = np.full(a1 - a0, -np.inf)
            s = np.zeros(a1 - a0)
            for b0, b1 in _spans(n_p, bb):
                S = Tu[a0:a1] @ Pu[b0:b1].T
                S *= beta
                if exclude_self:
                    _mask_self(S, a0, a1, b0, b1)
                new_m = np.maximum(m, S.max(axis=1))
                shift = np.where(np.isfinite(new_m), new_m, 0.0)
                with np.errstate(invalid="ignore"):
                    s = s * np.where(np.isfinite(m), np.exp(m - shift), 0.0)
                S -= shift.astype(np.float32)[:, None]
                np.exp(S, out=S)
                s += S.sum(axis=1, dtype=np.float64)
                m = new_m
            out[a0:a1] = np.log(s) + np.where(np.isfinite(m), m, 0.0)
            bar.update(a1 - a0)
    return out


# -- the scorer shared by nearest_neighbors and rank_of ------------------------------
class _Scorer:
    """Turns a cosine tile into retrieval scores for one method (in place).

    CSLS scores here omit ``-r_T(x)``, which is constant along a query's row and
    so does not change its ranking; ``nearest_neighbors`` subtracts it at the end.
    """

    def __init__(self, method, Qu, Tu, csls_k, temperature, source_pool, exclude_self, bs, tbs, budget, progress):
        self.method = canonical_method(method)
        self.column_offset: np.ndarray | None = None
        self.scale = np.float32(1.0)
        if self.method == "csls":
            if int(csls_k) < 1:
                raise VecbridgeError(f"csls_k must be at least 1, got {csls_k}")
            Pu, is_queries = _pool(source_pool, Qu)
            r_s = _knn_mean_unit(
                Tu, Pu, csls_k, exclude_self and is_queries, bs, tbs, budget, progress, "csls r_S"
            )
            self.scale = np.float32(2.0)
            self.column_offset = r_s
        elif self.method == "isf":
            if not np.isfinite(temperature) or temperature <= 0:
                raise VecbridgeError(f"isf_temperature must be a positive number, got {temperature}")
            Pu, is_queries = _pool(source_pool, Qu)
            lse = _isf_log_normalizer(Tu, Pu, temperature, exclude_self and is_queries, bs, tbs, budget, progress)
            self.scale = np.float32(temperature)
            self.column_offset = lse.astype(np.float32)

    def apply(self, S: np.ndarray, t0: int, t1: int) -> np.ndarray:
        if self.method != "nn":
            S *= self.scale
            S -= self.column_offset[t0:t1]
        return S

    def gold(self, cos: np.ndarray, gold: np.ndarray) -> np.ndarray:
        """Scores of given (query, target) cosines, with the same float32 arithmetic as ``apply``."""
        cos = cos.astype(np.float32)
        if self.method != "nn":
            cos = cos * self.scale
            cos = cos - self.column_offset[gold]
        return cos


# -- nearest neighbours ---------------------------------------------------------------
def nearest_neighbors(
    queries: Any,
    targets: Any,
    k: int = 10,
    method: str = "nn",
    *,
    csls_k: int = CSLS_K,
    isf_temperature: float = ISF_TEMPERATURE,
    source_pool: Any = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
    memory_budget_mb: float = 512,
    progress: bool | None = None,
    exclude_self: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best targets of every query, by cosine, CSLS or the inverted softmax.

    Parameters
    ----------
    queries : (n_q, d) array or Embeddings (e.g. mapped source vectors)
    targets : (n_t, d) array or Embeddings, in the same space
    k : neighbours per query; capped at ``n_t`` (``n_t - 1`` with ``exclude_self``).
    method : ``"nn"`` (cosine), ``"csls"`` or ``"isf"`` (see the module docstring).
    csls_k : neighbourhood size of CSLS' ``r_T`` and ``r_S``.
    isf_temperature : inverse temperature ``b`` of the inverted softmax (default 30).
    source_pool : (n_s, d) array or Embeddings: the whole mapped source
        vocabulary, against which CSLS' ``r_S`` and the inverted softmax's
        normaliser are computed. None uses the queries. When the queries are
        only test words, pass the full mapped vocabulary here.
    block_size, target_block_size : query rows / target rows per tile; chosen
        from ``memory_budget_mb`` when None (the tile's working memory is about
        12 bytes per query-target pair). Results do not depend on them.
    memory_budget_mb : working memory per tile, beyond the inputs and their
        unit-length copies (none is made for inputs that are already unit length).
    progress : True / False to force / silence progress bars; None shows them
        for large inputs.
    exclude_self : queries and targets are one set (row i of the queries is row
        i of the targets): a row is never its own neighbour, and it is left out
        of its own ``r_T``, and of ``r_S`` / the ISF normaliser when
        ``source_pool`` is None.

    Returns
    -------
    indices : (n_q, k) int64, best first (ties: lower index first)
    scores : (n_q, k) float32: cosine for ``nn``; ``2cos - r_T - r_S`` for
        ``csls``; the log inverted-softmax probability for ``isf``.
    """
    Qu, Tu = _pair(queries, targets)
    n_q, n_t = Qu.shape[0], Tu.shape[0]
    if int(k) < 1:
        raise VecbridgeError(f"k must be at least 1, got {k}")
    k = min(int(k), _available(n_t, exclude_self))
    if k < 1:
        raise VecbridgeError("exclude_self leaves nothing to retrieve: the targets have a single row")
    scorer = _Scorer(
        method, Qu, Tu, csls_k, isf_temperature, source_pool, exclude_self, block_size, target_block_size,
        memory_budget_mb, progress,
    )
    csls = scorer.method == "csls"
    r_k = min(int(csls_k), _available(n_t, exclude_self)) if csls else 0
    out_idx = np.empty((n_q, k), dtype=np.int64)
    out_val = np.empty((n_q, k), dtype=np.float32)
    bq, bt = block_sizes(n_q, n_t, block_size, target_block_size, memory_budget_mb)
    with _progress_bar(n_q, float(n_q) * n_t, progress, f"{scorer.method} neighbours") as bar:
        for q0, q1 in _spans(n_q, bq):
            best_idx = best_val = r_top = None
            for t0, t1 in _spans(n_t, bt):
                S = Qu[q0:q1] @ Tu[t0:t1].T
                if exclude_self:
                    _mask_self(S, q0, q1, t0, t1)
                if csls:
                    top = _top_values(S, r_k)
                    r_top = top.copy() if r_top is None else _top_values(np.concatenate([r_top, top], axis=1), r_k)
                S = scorer.apply(S, t0, t1)
                idx = _top_indices(S, k)
                val = np.take_along_axis(S, idx, axis=1)
                idx = idx + t0
                if best_idx is not None:
                    idx = np.concatenate([best_idx, idx], axis=1)
                    val = np.concatenate([best_val, val], axis=1)
                best_idx, best_val = _sorted_desc(idx, val, k)
            if csls:
                best_val = best_val - r_top.mean(axis=1, dtype=np.float64).astype(np.float32)[:, None]
            out_idx[q0:q1] = best_idx
            out_val[q0:q1] = best_val
            bar.update(q1 - q0)
    return out_idx, out_val


# -- rank of a gold target -------------------------------------------------------------
def rank_of(
    queries: Any,
    targets: Any,
    gold_index: Any,
    *,
    method: str = "nn",
    csls_k: int = CSLS_K,
    isf_temperature: float = ISF_TEMPERATURE,
    source_pool: Any = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
    memory_budget_mb: float = 512,
    progress: bool | None = None,
) -> np.ndarray:
    """1-based rank of each query's gold target among all targets.

    Parameters
    ----------
    queries : (n, d) array or Embeddings
    targets : (n_t, d) array or Embeddings
    gold_index : (n,) integers in ``[0, n_t)``: the gold target row of each query.
    method, csls_k, isf_temperature, source_pool : as in :func:`nearest_neighbors`
        (cosine by default).

    Returns
    -------
    (n,) int64: ``1 + `` the number of other targets scoring at least as high
    as the gold. Ties count against the gold, so degenerate queries (e.g. rows
    of zeros, tied with every target) rank last rather than first.
    """
    Qu, Tu = _pair(queries, targets)
    n_q, n_t = Qu.shape[0], Tu.shape[0]
    gold = np.asarray(gold_index)
    if gold.shape != (n_q,):
        raise DimensionError(f"gold_index must have one entry per query, shape ({n_q},); got {gold.shape}")
    if n_q and not np.issubdtype(gold.dtype, np.integer):
        raise VecbridgeError(f"gold_index must hold integer row numbers, got dtype {gold.dtype}")
    gold = gold.astype(np.int64)
    if n_q and (gold.min() < 0 or gold.max() >= n_t):
        bad = int(np.argmax((gold < 0) | (gold >= n_t)))
        raise VecbridgeError(f"gold_index[{bad}] = {gold[bad]} is not a target row (0..{n_t - 1})")
    scorer = _Scorer(
        method, Qu, Tu, csls_k, isf_temperature, source_pool, False, block_size, target_block_size,
        memory_budget_mb, progress,
    )
    ranks = np.ones(n_q, dtype=np.int64)
    bq, bt = block_sizes(n_q, n_t, block_size, target_block_size, memory_budget_mb)
    with _progress_bar(n_q, float(n_q) * n_t, progress, f"{scorer.method} ranks") as bar:
        for q0, q1 in _spans(n_q, bq):
            g = gold[q0:q1]
            cos_g = np.einsum("ij,ij->i", Qu[q0:q1], Tu[g])
            s_g = scorer.gold(cos_g, g)[:, None]
            rows = np.arange(q1 - q0)
            for t0, t1 in _spans(n_t, bt):
                S = scorer.apply(Qu[q0:q1] @ Tu[t0:t1].T, t0, t1)
                inside = (g >= t0) & (g < t1)
                S[rows[inside], g[inside] - t0] = -np.inf
                ranks[q0:q1] += np.count_nonzero(S >= s_g, axis=1)
            bar.update(q1 - q0)
    return ranks


__all__ = [
    "METHODS",
    "CSLS_K",
    "ISF_TEMPERATURE",
    "canonical_method",
    "nearest_neighbors",
    "knn_mean_similarity",
    "rank_of",
    "block_sizes",
    "unit_rows_lazy",
]
