"""Blocked nearest-neighbour retrieval by cosine, CSLS and the inverted softmax.

Every function here works on two sets of row vectors, *queries* (n_q, d) and
*targets* (n_t, d), compares them by cosine (rows are scaled to unit length
inside; rows of zeros stay zero and have cosine 0 with everything), checks its
inputs (shapes, NaN rows) and hands the search to :mod:`vecbridge.neighbors`,
which never materialises the full n_q x n_t similarity matrix (tiles chosen
from a memory budget; see there). Compute options (backend, threads, memory,
progress) come as one :class:`~vecbridge.compute.Compute`; the older
``memory_budget_mb`` and ``progress`` keywords still work and override it.

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

Ties: top-k lists are ordered by score, then by the lower target index, and
of several targets tied at the k-th place the lower indices are kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .compute import Compute, as_compute
from .errors import DimensionError, ParameterError, VecbridgeError
from .neighbors import (
    csls_top_k,
    gold_ranks,
    isf_log_normalizer,
    tile_shape,
    top_k,
    unit_rows_lazy,
)
from .neighbors import knn_mean_similarity as _knn_mean

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


# -- compute options ----------------------------------------------------------------
def block_sizes(
    n_a: int,
    n_b: int,
    block_size: int | None = None,
    target_block_size: int | None = None,
    memory_budget_mb: float = 512,
) -> tuple[int, int]:
    """``(rows of A, rows of B)`` per tile so that one tile fits ``memory_budget_mb``
    (:func:`vecbridge.neighbors.tile_shape` for one thread)."""
    if memory_budget_mb <= 0:
        raise VecbridgeError(f"memory_budget_mb must be positive, got {memory_budget_mb}")
    return tile_shape(n_a, n_b, memory_budget_mb, block_size, target_block_size)


def _compute(compute: Compute | None, memory_budget_mb: float | None, progress: bool | None) -> Compute:
    if memory_budget_mb is not None and not memory_budget_mb > 0:
        raise VecbridgeError(f"memory_budget_mb must be positive, got {memory_budget_mb}")
    return as_compute(compute, memory_mb=memory_budget_mb, progress=progress)


def _check_k(k: Any, what: str = "k") -> int:
    """``k`` as an integer >= 1 (as the neighbour kernel takes it); else a :class:`ParameterError` naming it."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"{what} must be a whole number >= 1, got {k!r}")
    return int(k)


def _check_available(n: int, exclude_self: bool, what: str, n_queries: int | None = None) -> None:
    """With ``exclude_self`` the queries are the targets (row i is row i): as many of each, and more than one."""
    if exclude_self and n_queries is not None and n_queries != n:
        raise DimensionError(f"exclude_self means the queries are the targets (row i of one is row i of the other), "
                             f"but there are {n_queries} queries and {n} targets")
    if (n - 1 if exclude_self else n) < 1:
        raise VecbridgeError(f"exclude_self leaves nothing to {what}: the set has a single row")


def _check_temperature(temperature: float) -> float:
    if not np.isfinite(temperature) or temperature <= 0:
        raise VecbridgeError(f"isf_temperature must be a positive number, got {temperature}")
    return float(temperature)


# -- k-NN mean similarity -------------------------------------------------------
def knn_mean_similarity(
    A: Any,
    B: Any,
    k: int,
    *,
    exclude_self: bool = False,
    block_size: int | None = None,
    target_block_size: int | None = None,
    memory_budget_mb: float | None = None,
    progress: bool | None = None,
    desc: str = "k-NN similarity",
    compute: Compute | None = None,
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
    block_size, target_block_size : rows of A / of B per tile; from the memory budget when None.
    memory_budget_mb, progress : override ``compute.memory_mb`` / ``compute.progress``.
    compute : :class:`~vecbridge.compute.Compute` (backend, threads, memory, progress).

    Returns
    -------
    (n_a,) float32. This is ``r_T`` / ``r_S`` of CSLS and the hubness statistic.
    """
    Au, Bu = _pair(A, B, "A", "B")
    _check_k(k)
    _check_available(len(Bu), exclude_self, "compare", len(Au))
    return _knn_mean(Au, Bu, k, similarity="dot", exclude_self=exclude_self,
                     compute=_compute(compute, memory_budget_mb, progress), block_size=block_size,
                     target_block_size=target_block_size, desc=desc)


# -- the scores of a retrieval method ----------------------------------------------
def _target_terms(
    method: str, Qu: np.ndarray, Tu: np.ndarray, csls_k: int, temperature: float, source_pool: Any,
    exclude_self: bool, compute: Compute, block_size: int | None, target_block_size: int | None,
) -> tuple[float, np.ndarray | None]:
    """``(scale, target_offset)`` of the score ``scale * cos - target_offset`` that ranks targets per query:
    ``(1, None)`` for nn, ``(2, r_S)`` for CSLS (less ``r_T`` per query, which does not change a ranking),
    ``(temperature, normaliser)`` for the inverted softmax."""
    if method == "nn":
        return 1.0, None
    Pu, is_queries = _pool(source_pool, Qu)
    kw = dict(similarity="dot", compute=compute, block_size=block_size, target_block_size=target_block_size)
    if method == "csls":
        _check_available(len(Pu), exclude_self and is_queries, "compare")
        return 2.0, _knn_mean(Tu, Pu, _check_k(csls_k, "csls_k"), exclude_self=exclude_self and is_queries,
                              desc="csls r_S", **kw)
    if (len(Pu) - 1 if exclude_self and is_queries else len(Pu)) < 1:
        raise VecbridgeError("the inverted softmax needs a source pool of at least one other vector")
    lse = isf_log_normalizer(Tu, Pu, temperature, exclude_self=exclude_self and is_queries, **kw)
    return temperature, lse.astype(np.float32)


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
    memory_budget_mb: float | None = None,
    progress: bool | None = None,
    exclude_self: bool = False,
    self_rows: Any = None,
    compute: Compute | None = None,
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
        from the memory budget when None (about 12 bytes per query-target pair,
        see :mod:`vecbridge.neighbors`). Results do not depend on them.
    memory_budget_mb : working memory of a pass, beyond the inputs and their
        unit-length copies (none is made for inputs that are already unit
        length); overrides ``compute.memory_mb``.
    progress : True / False to force / silence progress bars; None shows them
        for large inputs on a terminal. Overrides ``compute.progress``.
    exclude_self : queries and targets are one set (row i of the queries is row
        i of the targets): a row is never its own neighbour, and it is left out
        of its own ``r_T``, and of ``r_S`` / the ISF normaliser when
        ``source_pool`` is None.
    self_rows : (n_q,) row numbers: query i is row ``self_rows[i]`` of the targets (a few keys' neighbours in
        their own space, without scoring every row). As with ``exclude_self`` over the whole set, that row is
        never returned and is left out of the query's ``r_T``; the source pool is the targets themselves
        (``source_pool`` must be None), and each target's own row is left out of its ``r_S`` / ISF
        normaliser. k is capped at ``n_t - 1``.
    compute : :class:`~vecbridge.compute.Compute` (backend, threads, memory, progress).

    Returns
    -------
    indices : (n_q, k) int64, best first (ties: lower index first)
    scores : (n_q, k) float32: cosine for ``nn``; ``2cos - r_T - r_S`` for
        ``csls``; the log inverted-softmax probability for ``isf``.
    """
    Qu, Tu = _pair(queries, targets)
    method = canonical_method(method)
    _check_k(k)
    _check_available(len(Tu), exclude_self, "retrieve", len(Qu))
    compute = _compute(compute, memory_budget_mb, progress)
    kw = dict(compute=compute, block_size=block_size, target_block_size=target_block_size)
    if self_rows is not None:
        return _own_space_neighbors(Qu, Tu, self_rows, k, method, csls_k, isf_temperature, source_pool,
                                    exclude_self, **kw)
    if method == "csls":
        _check_k(csls_k, "csls_k")
        Pu, is_queries = _pool(source_pool, Qu)
        top = csls_top_k(Qu, Tu, k, csls_k=int(csls_k), source_pool=None if is_queries else Pu,
                         exclude_self=exclude_self, similarity="dot", **kw)
    else:
        if method == "isf":
            _check_temperature(isf_temperature)
        scale, offset = _target_terms(method, Qu, Tu, csls_k, isf_temperature, source_pool, exclude_self, **kw)
        top = top_k(Qu, Tu, k, scale=scale, target_offset=offset, exclude_self=exclude_self, similarity="dot",
                    desc=f"{method} neighbours", **kw)
    return top.indices, top.values


def _own_space_neighbors(
    Qu: np.ndarray, Tu: np.ndarray, self_rows: Any, k: int, method: str, csls_k: int, temperature: float,
    source_pool: Any, exclude_self: bool, compute: Compute, block_size: int | None, target_block_size: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_neighbors` with ``self_rows``: queries that are rows of the targets, each row left out of
    its own list and of every hubness term, as ``exclude_self`` leaves it out over the whole set."""
    if exclude_self:
        raise ParameterError("give exclude_self or self_rows, not both")
    if source_pool is not None:
        raise ParameterError("self_rows makes the targets the source pool; leave source_pool as None")
    rows = np.asarray(self_rows)
    n_q, n_t = len(Qu), len(Tu)
    if rows.shape != (n_q,) or (n_q and not np.issubdtype(rows.dtype, np.integer)):
        raise ParameterError(f"self_rows must hold one target row number per query, shape ({n_q},); "
                             f"got {rows.shape} of {rows.dtype}")
    rows = rows.astype(np.int64)
    if n_q and (rows.min() < 0 or rows.max() >= n_t):
        raise ParameterError(f"self_rows holds row numbers outside 0..{n_t - 1}")
    if n_q and not np.allclose(Qu, Tu[rows], atol=1e-5):
        bad = int(np.argmax(~np.isclose(Qu, Tu[rows], atol=1e-5).all(axis=1)))
        raise VecbridgeError(f"self_rows: query {bad} is not row {rows[bad]} of the targets")
    _check_available(n_t, True, "retrieve")
    kw = dict(similarity="dot", compute=compute, block_size=block_size, target_block_size=target_block_size)
    scale, offset, q_offset = 1.0, None, None
    if method == "csls":
        r = _knn_mean(Tu, Tu, _check_k(csls_k, "csls_k"), exclude_self=True, desc="csls r_S", **kw)
        scale, offset, q_offset = 2.0, r, r[rows]  # r_T of a query that is row i is r_S of row i
    elif method == "isf":
        temperature = _check_temperature(temperature)
        scale = temperature
        offset = isf_log_normalizer(Tu, Tu, temperature, exclude_self=True, **kw).astype(np.float32)
    k = min(int(k), n_t - 1)
    top = top_k(Qu, Tu, k + 1, scale=scale, target_offset=offset, query_offset=q_offset,
                desc=f"{method} neighbours", **kw)
    idx = np.empty((n_q, k), dtype=np.int64)
    val = np.empty((n_q, k), dtype=np.float32)
    for i in range(n_q):
        keep = np.flatnonzero(top.indices[i] != rows[i])[:k]
        idx[i], val[i] = top.indices[i, keep], top.values[i, keep]
    return idx, val


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
    memory_budget_mb: float | None = None,
    progress: bool | None = None,
    compute: Compute | None = None,
) -> np.ndarray:
    """1-based rank of each query's gold target among all targets.

    Parameters
    ----------
    queries : (n, d) array or Embeddings
    targets : (n_t, d) array or Embeddings
    gold_index : (n,) integers in ``[0, n_t)``: the gold target row of each query.
    method, csls_k, isf_temperature, source_pool : as in :func:`nearest_neighbors`
        (cosine by default).
    block_size, target_block_size, memory_budget_mb, progress, compute : as in :func:`nearest_neighbors`.

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
    method = canonical_method(method)
    if method == "isf":
        _check_temperature(isf_temperature)
    compute = _compute(compute, memory_budget_mb, progress)
    kw = dict(compute=compute, block_size=block_size, target_block_size=target_block_size)
    scale, offset = _target_terms(method, Qu, Tu, csls_k, isf_temperature, source_pool, False, **kw)
    ranks = gold_ranks(Qu, Tu, gold, similarity="dot", scale=scale, target_offset=offset, **kw)
    # a query with no direction (all zeros) is tied with every target: last, whatever the target terms
    # (CSLS and the inverted softmax would otherwise rank it by the targets' hubness alone)
    zero = np.einsum("ij,ij->i", Qu, Qu) == 0
    if zero.any():
        ranks = np.where(zero, n_t, ranks)
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
