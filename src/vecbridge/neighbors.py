"""Nearest neighbours: the one place they are searched.

Every function here compares two sets of row vectors, *queries* Q (n_q, d) and *targets* T (n_t, d), by
their inner product (``similarity="dot"``) or by cosine (``similarity="cosine"``: rows are scaled to unit
length first, without a copy where they have unit length already; rows of zeros stay zero and have cosine
0 with everything). The n_q x n_t similarity matrix is never held whole: a pass cuts it into tiles and
keeps per-row results (top-k lists, running log-sum-exps, rank counts) as the tiles go.

Building block
    :func:`top_k` (the k best targets of every query, optionally by a score ``scale * s - offset[target]``)
    and :func:`top_k_both_ways` (also the k best queries of every target, from the same pass).
Built on it
    :func:`knn_mean_similarity` (mean similarity to the k nearest: hubness, CSLS' r terms),
    :func:`csls_penalties`, :func:`csls_top_k` (retrieval by CSLS), :func:`isf_log_normalizer` (the inverted
    softmax's normaliser), :func:`knn_target_means` and :func:`row_means` (means of each query's k nearest
    target rows), :func:`mutual_nearest_neighbors`, :func:`gold_ranks` (rank of a given target).

Memory budget
    A pass works on tiles of ``rows x cols`` similarities, about ``BYTES_PER_PAIR = 12`` bytes each (the
    float32 similarity and, at worst, an int64 index or a float64 copy per entry), one tile per thread:
    :func:`tile_shape` picks the largest tiles whose sum fits ``compute.memory_mb`` (whole target rows
    when at least 64 query rows fit, else 64 query rows and as many targets as fit; at most 2048 query
    rows per tile and at least one tile per thread). ``block_size`` / ``target_block_size`` set the tile
    by hand (results do not depend on them). :func:`top_k_both_ways` keeps, besides, the maxima of groups
    of query rows (one float32 per group and target) and works through them in the budget; where they do
    not fit, the backward lists take a second pass.

Threads and backends
    See :mod:`vecbridge.compute`: tiles on ``compute.n_jobs`` threads with BLAS held to one thread (numpy
    backend), or products and selections in torch on ``compute.device`` (torch backend).

Selection
    A tile's top-k does not sort whole rows: the row is cut into strided groups of columns, and the k groups
    with the largest maxima hold the row's k largest entries (any other group's maximum is at most the k-th
    largest maximum, which is at most the row's k-th largest entry); only those groups are searched.
    Backward lists use groups of query rows the same way: the group maxima of each target come from the
    forward tiles, and the entries of the k best groups are computed again (a few dot products per target).

Ties
    Lists are ordered by score (largest first), then by the lower index; and where several entries tie for
    the k-th place the ones with the lower index are kept, on both backends. ``ordered=False`` (the k best in
    no particular order, cheaper, for k-NN means) keeps whichever tied entries ``np.argpartition`` /
    ``torch.topk`` keep.

Inputs must be finite (the public retrieval functions check that and say which row is not).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .compute import Compute, as_compute
from .errors import DimensionError, ParameterError, VecbridgeError

#: working-memory bytes per similarity of a tile (see the module docstring)
BYTES_PER_PAIR = 12
#: at most this many query rows per tile when the tile is chosen from the budget
MAX_TILE_ROWS = 2048
SIMILARITIES = ("cosine", "dot")


class TopK(NamedTuple):
    """The k best of each row: ``values`` (n, k) float32 and ``indices`` (n, k) int64, best first."""

    values: np.ndarray
    indices: np.ndarray

    def knn_mean(self, k: int | None = None) -> np.ndarray:
        """(n,) float32: mean of each row's ``k`` best values (all of them by default); for an ordered
        list of similarities, the k-NN mean similarity (CSLS' r term)."""
        v = self.values if k is None else self.values[:, : int(k)]
        return v.mean(axis=1)


class MutualNN(NamedTuple):
    """Nearest neighbours both ways: ``forward`` (n_a,) the best B row of each A row, ``backward`` (n_b,) the
    best A row of each B row, ``mutual`` (n_a,) bool: A row i is the best of its own best B row."""

    forward: np.ndarray
    backward: np.ndarray
    mutual: np.ndarray


# -- inputs --------------------------------------------------------------------------------------------
def unit_rows_lazy(X: np.ndarray, tol: float = 1e-5) -> np.ndarray:
    """Rows of the float32 matrix X (n, d) scaled to unit length (zero rows stay zero).

    Returns ``X`` itself, without a copy, when every row has length 1 (within ``tol``) or 0 already.
    """
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    norms = np.sqrt(sq)
    if np.all((np.abs(norms - 1.0) <= tol) | (norms == 0.0)):
        return X
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0).astype(np.float32)
    return X * scale[:, None]


def _matrix(X: Any, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise DimensionError(f"{what} must be a 2-D array (n, d); got shape {X.shape}")
    return np.ascontiguousarray(X, dtype=np.float32)


def _check_finite(X: np.ndarray, what: str) -> None:
    """A :class:`VecbridgeError` naming ``what`` and the first row of X holding NaN or Inf, if one does.

    One float64 sum per row finds them (a sum of float32 values cannot overflow in float64, and NaN or Inf
    carry through it); the rows are looked at one by one only when a sum is not finite."""
    if X.size == 0:
        return
    sums = np.add.reduce(X, axis=1, dtype=np.float64)
    if np.isfinite(sums).all():
        return
    bad = np.nonzero(~np.isfinite(X).all(axis=1))[0]
    row = int(bad[0])
    kind = "NaN" if np.isnan(X[row]).any() else "Inf"
    more = f" ({len(bad)} rows in all)" if len(bad) > 1 else ""
    raise VecbridgeError(f"{what}: row {row} holds {kind}{more}; search only finite vectors")


def _prepare(queries: Any, targets: Any, similarity: str,
             names: tuple[str, str] = ("queries", "targets")) -> tuple[np.ndarray, np.ndarray]:
    """Float32, C-contiguous, finite, same dimension, unit rows for cosine."""
    if similarity not in SIMILARITIES:
        raise ParameterError(f"similarity must be 'cosine' or 'dot'; got {similarity!r}")
    Q, T = _matrix(queries, names[0]), _matrix(targets, names[1])
    _check_finite(Q, names[0])
    if targets is not queries:
        _check_finite(T, names[1])
    if Q.shape[1] != T.shape[1]:
        raise DimensionError(f"{names[0]} are {Q.shape[1]}-d but {names[1]} are {T.shape[1]}-d; compare vectors of "
                             "one space")
    if similarity == "cosine":
        same = targets is queries
        Q = unit_rows_lazy(Q)
        T = Q if same else unit_rows_lazy(T)
    return Q, T


def _cap(k: Any, n: int, exclude_self: bool, what: str = "k") -> int:
    """``k`` checked (>= 1) and capped at the ``n`` rows there are (one fewer with ``exclude_self``)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"{what} must be a whole number >= 1; got {k!r}")
    avail = n - 1 if exclude_self else n
    if avail < 1:
        raise VecbridgeError(
            "no neighbours to search: " + ("exclude_self leaves none (a single row)" if exclude_self and n == 1
                                          else "the set searched is empty")
        )
    return int(min(int(k), avail))


# -- tiles ---------------------------------------------------------------------------------------------
def tile_shape(
    n_q: int,
    n_t: int,
    memory_mb: float,
    block_size: int | None = None,
    target_block_size: int | None = None,
    n_threads: int = 1,
    row_multiple: int = 1,
) -> tuple[int, int]:
    """``(query rows, target rows)`` of one tile, so that ``n_threads`` tiles fit ``memory_mb`` together.

    Whole target rows are preferred (no merging across target blocks) while at least 64 query rows fit;
    otherwise 64 query rows (or ``block_size``) and as many targets as fit. Chosen from the budget, a tile
    has at most ``MAX_TILE_ROWS`` query rows, there is at least one tile per thread, and the tiles come in a
    multiple of ``n_threads`` of about equal size where that fits (10,071 rows on 2 threads: 6 tiles of 1,696
    rows, not 5 of 2,048, which leave a thread idle for a third of the pass). Query rows come in multiples of
    ``row_multiple`` (all but the last tile).
    """
    if not (isinstance(memory_mb, (int, float)) and math.isfinite(memory_mb) and memory_mb > 0):
        raise ParameterError(f"the memory budget must be a positive number of MB; got {memory_mb!r}")
    for name, v in (("block_size", block_size), ("target_block_size", target_block_size)):
        if v is not None and (isinstance(v, bool) or int(v) < 1):
            raise ParameterError(f"{name} must be a positive number of rows; got {v!r}")
    elements = max(1, int(memory_mb * 2**20 // (BYTES_PER_PAIR * max(1, n_threads))))
    n_q, n_t = max(1, int(n_q)), max(1, int(n_t))
    if block_size is None and target_block_size is None:
        if elements // n_t >= min(64, n_q):
            bt = n_t
            bq = min(elements // n_t, MAX_TILE_ROWS, max(64, -(-n_q // max(1, n_threads))))
            bq = _balanced_rows(n_q, bq, n_threads, row_multiple)
        else:
            bq = 64
            bt = max(1, elements // bq)
    elif target_block_size is None:
        bq = int(block_size)
        bt = max(1, elements // bq)
    elif block_size is None:
        bt = int(target_block_size)
        bq = max(1, elements // min(bt, n_t))
    else:
        bq, bt = int(block_size), int(target_block_size)
    if row_multiple > 1:
        bq = max(row_multiple, bq // row_multiple * row_multiple)
    return int(min(bq, n_q, 1 << 16)), int(min(bt, n_t))


def _balanced_rows(n_q: int, rows: int, n_threads: int, row_multiple: int) -> int:
    """At most ``rows`` query rows per tile, so that the tiles come in a multiple of ``n_threads`` of about equal
    size (a multiple of ``row_multiple``), where that keeps the tiles at 64 rows or more; else ``rows``."""
    m = max(1, int(row_multiple))
    if n_threads <= 1 or rows >= n_q:
        return rows
    tiles = -(-n_q // rows)
    tiles = -(-tiles // n_threads) * n_threads
    even = -(-n_q // tiles)
    even = -(-even // m) * m  # up to the multiple; back down when that passes the budget's rows
    if even > rows:
        even = even // m * m if even // m * m >= m else rows
    return even if even >= 64 else rows


def _spans(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, n, max(1, size))]


def _mask_self(S: Any, a0: int, a1: int, b0: int, b1: int) -> None:
    """S[i - a0, i - b0] = -inf for the rows i in both spans (row i of the queries is row i of the targets)."""
    lo, hi = max(a0, b0), min(a1, b1)
    if lo < hi:
        i = np.arange(lo, hi)
        S[i - a0, i - b0] = -np.inf


# -- exact selection (numpy) ---------------------------------------------------------------------------
def _select(
    V: np.ndarray, k: int, cols: np.ndarray | None = None, ascending: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The k best entries of each row of V (r, c), ordered by value (descending) then column (ascending);
    ties at the k-th place go to the lower column. ``cols`` (r, c): the column number of each entry
    (None: 0 .. c-1); ``ascending``: they increase along each row (cheaper ordering).
    Returns ``(values (r, k) float32, columns (r, k) int64)``."""
    r, c = V.shape
    k = min(k, c)
    if cols is None:
        cols = np.broadcast_to(np.arange(c, dtype=np.int64), (r, c))
    if k < c:
        kth = np.partition(V, c - k, axis=1)[:, c - k : c - k + 1]
        mask = V >= kth
        exact = np.count_nonzero(mask, axis=1) == k
        if exact.all():
            pos = np.nonzero(mask)[1].reshape(r, k)
        else:  # ties at the k-th place: order those rows fully
            pos = np.empty((r, k), np.int64)
            pos[exact] = np.nonzero(mask[exact])[1].reshape(-1, k)
            tied = ~exact
            pos[tied] = np.sort(np.lexsort((cols[tied], -V[tied]), axis=1)[:, :k], axis=1) if ascending else \
                np.lexsort((cols[tied], -V[tied]), axis=1)[:, :k]
        V = np.take_along_axis(V, pos, axis=1)
        cols = np.take_along_axis(cols, pos, axis=1)
    # with the columns increasing along each row a stable sort by value leaves ties in column order
    order = np.argsort(-V, axis=1, kind="stable") if ascending else np.lexsort((cols, -V), axis=1)
    return np.take_along_axis(V, order, axis=1), np.take_along_axis(cols, order, axis=1).astype(np.int64, copy=False)


def _group_width(n: int, k: int) -> int:
    c = int(2 ** round(math.log2(max(1.0, math.sqrt(n / max(k, 1))))))
    return min(max(c, 8), 256)


def _topk_rows(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact, ordered top-k of each row of the C-contiguous S (r, n) through strided column groups (module
    docstring)."""
    rows, n = S.shape
    k = min(k, n)
    g = _group_width(n, k)
    m = n // g
    if k >= n or m < 4 * k:
        return _select(S, k)
    V = S[:, : m * g].reshape(rows, g, m)  # V[r, i, j] = S[r, i * m + j]: group j = columns j, j + m, ...
    gmax = V.max(axis=1)
    chosen = gmax >= np.partition(gmax, m - k, axis=1)[:, m - k : m - k + 1]
    ok = np.count_nonzero(chosen, axis=1) == k  # more groups where group maxima tie at the cut
    if ok.all():
        R: Any = slice(None)
        n_ok = rows
    else:
        R = np.nonzero(ok)[0]
        n_ok = len(R)
    vals = np.empty((rows, k), np.float32)
    idx = np.empty((rows, k), np.int64)
    if n_ok:
        groups = np.nonzero(chosen[R])[1].reshape(n_ok, 1, k)
        cc = (np.arange(g)[None, :, None] * m + groups).reshape(n_ok, g * k)  # increasing along each row
        first = (np.arange(rows)[R] * n)[:, None]
        cv = np.take(S.reshape(-1), cc + first)
        if m * g < n:  # the columns left over after the groups
            cv = np.concatenate([cv, S[R, m * g :]], axis=1)
            cc = np.concatenate([cc, np.broadcast_to(np.arange(m * g, n), (n_ok, n - m * g))], axis=1)
        vals[R], idx[R] = _select(cv, k, cc)
    if n_ok < rows:
        R2 = np.nonzero(~ok)[0]
        vals[R2], idx[R2] = _select(S[R2], k)
    return vals, idx


def _anyk_rows(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of each row of S (r, n) in no particular order: argmax for k = 1; through column groups
    (:func:`_topk_rows`, 3-12 times faster than a partition of whole rows of 4,000-8,000 columns) where the
    row is long enough for them; else ``np.argpartition``."""
    n = S.shape[1]
    if k == 1:
        idx = S.argmax(axis=1)[:, None]
    elif k < n and n // _group_width(n, k) >= 4 * k and S.flags.c_contiguous:
        return _topk_rows(S, k)
    else:
        idx = np.argpartition(S, -k, axis=1)[:, -k:]
    return np.take_along_axis(S, idx, axis=1), idx.astype(np.int64, copy=False)


def _merge(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], k: int, ordered: bool):
    v = np.concatenate([a[0], b[0]], axis=1)
    i = np.concatenate([a[1], b[1]], axis=1)
    if ordered:
        return _select(v, k, i, ascending=False)
    pos = np.argpartition(v, -k, axis=1)[:, -k:] if k < v.shape[1] else np.broadcast_to(np.arange(v.shape[1]), v.shape)
    return np.take_along_axis(v, pos, axis=1), np.take_along_axis(i, pos, axis=1)


# -- one blocked pass ----------------------------------------------------------------------------------
class _Pass:
    """The tiles of ``S = scale * (Q T^T) - target_offset`` (self pairs -inf) on one backend, and how they run."""

    def __init__(
        self,
        Q: np.ndarray,
        T: np.ndarray,
        compute: Compute,
        *,
        scale: float = 1.0,
        target_offset: np.ndarray | None = None,
        exclude_self: bool = False,
        block_size: int | None = None,
        target_block_size: int | None = None,
        row_multiple: int = 1,
    ):
        self.Q, self.T, self.compute = Q, T, compute
        self.n_q, self.n_t = len(Q), len(T)
        self.backend = compute.resolve_backend()
        self.n_threads = compute.n_threads() if self.backend == "numpy" else 1
        self.scale = np.float32(scale)
        self.offset = None if target_offset is None else np.ascontiguousarray(target_offset, dtype=np.float32)
        if self.offset is not None and self.offset.shape != (self.n_t,):
            raise DimensionError(f"target_offset must hold one value per target, shape ({self.n_t},); got {self.offset.shape}")
        self.exclude_self = bool(exclude_self)
        self.rows, self.cols = tile_shape(self.n_q, self.n_t, compute.memory_mb, block_size, target_block_size,
                                          self.n_threads, row_multiple)
        self._local = threading.local()  # one tile buffer per thread: fresh pages for every tile cost time
        if self.backend == "torch":
            import torch

            self.torch = torch
            dev = torch.device(compute.device)
            self.Qt = torch.from_numpy(Q).to(dev)
            self.Tt = self.Qt if T is Q else torch.from_numpy(T).to(dev)
            self.offset_t = None if self.offset is None else torch.from_numpy(self.offset).to(dev)

    def tile(self, a: int, b: int, t0: int, t1: int) -> Any:
        """Scores of query rows a:b against target rows t0:t1: a numpy array (in this thread's buffer, valid
        until its next tile), or a torch tensor on the device."""
        if self.backend == "torch":
            S = self.Qt[a:b] @ self.Tt[t0:t1].T
            if self.scale != 1:
                S *= float(self.scale)
            if self.offset is not None:
                S -= self.offset_t[t0:t1]
        else:
            buf = getattr(self._local, "buf", None)
            if buf is None:
                buf = self._local.buf = np.empty(self.rows * self.cols, np.float32)
            S = np.matmul(self.Q[a:b], self.T[t0:t1].T, out=buf[: (b - a) * (t1 - t0)].reshape(b - a, t1 - t0))
            if self.scale != 1:
                S *= self.scale
            if self.offset is not None:
                S -= self.offset[t0:t1]
        if self.exclude_self:
            _mask_self(S, a, b, t0, t1)
        return S

    def run(self, work: Callable[[int, int], None], desc: str) -> None:
        """``work(a, b)`` for every tile of query rows, on this pass's threads, with a progress bar."""
        spans = _spans(self.n_q, self.rows)
        with self.compute.bar(self.n_q, desc, pairs=float(self.n_q) * self.n_t) as bar:
            def one(span: tuple[int, int]) -> None:
                work(*span)
                bar.update(span[1] - span[0])

            if self.backend == "numpy":
                with self.compute.threads(len(spans)) as run:
                    run(one, spans)
            else:
                for span in spans:
                    one(span)

    # top-k of the rows of one tile of queries, merged across target tiles
    def topk(self, a: int, b: int, k: int, ordered: bool, visit: Callable[[Any, int, int], None] | None = None):
        best = None
        for t0, t1 in _spans(self.n_t, self.cols):
            S = self.tile(a, b, t0, t1)
            if visit is not None:
                visit(S, t0, t1)
            kk = min(k, t1 - t0)
            if self.backend == "torch":
                v, i = self._torch_topk(S, kk, ordered)
            else:
                v, i = _topk_rows(S, kk) if ordered else _anyk_rows(S, kk)
            i = i + t0 if t0 else i
            best = (v, i) if best is None else _merge(best, (v, i), k, ordered)
        return best

    def _torch_topk(self, S: Any, k: int, ordered: bool) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        v, i = torch.topk(S, k, dim=1, largest=True, sorted=ordered)
        if not ordered:
            return v.cpu().numpy(), i.cpu().numpy().astype(np.int64, copy=False)
        tied = ((S >= v[:, -1:]).sum(dim=1) > k).cpu().numpy()  # ties at the k-th place: the exact rule on the CPU
        v, i = v.cpu().numpy(), i.cpu().numpy().astype(np.int64, copy=False)
        if tied.any():
            rows = np.nonzero(tied)[0]
            v[rows], i[rows] = _select(S[torch.from_numpy(rows).to(S.device)].cpu().numpy(), k)
        order = np.lexsort((i, -v), axis=1)  # torch leaves ties in any order
        return np.take_along_axis(v, order, axis=1), np.take_along_axis(i, order, axis=1)


def _forward(P: _Pass, k: int, ordered: bool, desc: str, visit=None) -> TopK:
    vals = np.empty((P.n_q, k), np.float32)
    idx = np.empty((P.n_q, k), np.int64)

    def work(a: int, b: int) -> None:
        vals[a:b], idx[a:b] = P.topk(a, b, k, ordered, None if visit is None else lambda S, t0, t1: visit(S, a, b, t0, t1))

    P.run(work, desc)
    return TopK(vals, idx)


# -- the building blocks -------------------------------------------------------------------------------
def top_k(
    queries: Any,
    targets: Any,
    k: int,
    *,
    similarity: str = "cosine",
    exclude_self: bool = False,
    scale: float = 1.0,
    target_offset: np.ndarray | None = None,
    query_offset: np.ndarray | None = None,
    ordered: bool = True,
    compute: Compute | None = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
    desc: str = "nearest neighbours",
) -> TopK:
    """The ``k`` best targets of every query, by similarity or by a score built on it.

    Parameters
    ----------
    queries : (n_q, d) array
    targets : (n_t, d) array
    k : neighbours per query; capped at ``n_t`` (``n_t - 1`` with ``exclude_self``).
    similarity : ``"cosine"`` or ``"dot"`` (see the module docstring).
    exclude_self : queries and targets are one set (row i of each is the same vector): a row is not its
        own neighbour.
    scale, target_offset, query_offset : rank by the score ``scale * s(q, t) - target_offset[t]`` (target_offset
        (n_t,)); the values returned subtract ``query_offset[q]`` (n_q,) too, which does not change the ranking.
        CSLS is ``scale=2`` with both offsets (:func:`csls_top_k`), the inverted softmax ``scale=temperature``
        with its normaliser as ``target_offset``.
    ordered : best first (ties: lower index first); False gives the k best in no particular order (cheaper).
    compute : backend, threads, memory budget, progress (:class:`~vecbridge.compute.Compute`).
    block_size, target_block_size : query rows / target rows per tile, instead of the budget's choice.

    Returns
    -------
    TopK: ``values`` (n_q, k) float32 and ``indices`` (n_q, k) int64.
    """
    compute = as_compute(compute)
    Q, T = _prepare(queries, targets, similarity)
    k = _cap(k, len(T), exclude_self)
    P = _Pass(Q, T, compute, scale=scale, target_offset=target_offset, exclude_self=exclude_self,
              block_size=block_size, target_block_size=target_block_size)
    out = _forward(P, k, ordered, desc)
    if query_offset is not None:
        qo = np.asarray(query_offset, dtype=np.float32)
        if qo.shape != (len(Q),):
            raise DimensionError(f"query_offset must hold one value per query, shape ({len(Q)},); got {qo.shape}")
        out = TopK(out.values - qo[:, None], out.indices)
    return out


def top_k_both_ways(
    A: Any,
    B: Any,
    k: int,
    k_back: int | None = None,
    *,
    similarity: str = "cosine",
    exclude_self: bool = False,
    compute: Compute | None = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
    desc: str = "nearest neighbours both ways",
) -> tuple[TopK, TopK]:
    """The ``k`` best B rows of every A row and the ``k_back`` (default ``k``) best A rows of every B row.

    A (n_a, d), B (n_b, d). On the numpy backend one pass over ``A B^T`` gives both: the forward lists from
    each tile, the backward ones from the maxima of groups of A rows kept per tile and the entries of each B
    row's best groups computed again (module docstring). Where those group maxima do not fit the memory
    budget, and on the torch backend, the backward lists take a second pass. Returns ``(forward TopK (n_a,
    k), backward TopK (n_b, k_back))``, ordered, ties to the lower index.
    """
    compute = as_compute(compute)
    Qm, Tm = _prepare(A, B, similarity)
    n_q, n_t = len(Qm), len(Tm)
    k = _cap(k, n_t, exclude_self)
    kb = _cap(k if k_back is None else k_back, n_q, exclude_self, "k_back")
    gq = int(max(1, min(32, n_q // (4 * kb))))
    nr = -(-n_q // gq)
    kk = min(kb, nr)
    grouped_bytes = nr * n_t * 8 + n_t * kk * gq * 12 + nr * gq * Qm.shape[1] * 4
    if compute.resolve_backend() != "numpy" or grouped_bytes > compute.memory_mb * 2**20:
        P = _Pass(Qm, Tm, compute, exclude_self=exclude_self, block_size=block_size,
                  target_block_size=target_block_size)
        fwd = _forward(P, k, True, desc)
        P2 = _Pass(Tm, Qm, compute, exclude_self=exclude_self, block_size=block_size,
                   target_block_size=target_block_size)
        return fwd, _forward(P2, kb, True, desc)
    P = _Pass(Qm, Tm, compute, exclude_self=exclude_self, block_size=block_size,
              target_block_size=target_block_size, row_multiple=gq)
    G = np.empty((nr, n_t), np.float32)  # G[r, j] = max of S[i, j] over the A rows i of group r

    def group_maxima(S: np.ndarray, a: int, b: int, t0: int, t1: int) -> None:
        full = (b - a) // gq * gq
        r0 = a // gq
        if full:
            G[r0 : r0 + full // gq, t0:t1] = S[:full].reshape(-1, gq, t1 - t0).max(axis=1)
        if full < b - a:
            G[r0 + full // gq, t0:t1] = S[full:].max(axis=0)

    fwd = _forward(P, k, True, desc, visit=group_maxima)
    return fwd, _backward_from_groups(Qm, Tm, G, gq, kb, exclude_self, compute)


def _backward_from_groups(
    Q: np.ndarray, T: np.ndarray, G: np.ndarray, gq: int, kb: int, exclude_self: bool, compute: Compute
) -> TopK:
    """Exact top-kb A rows (of Q) for every B row (of T) from the group maxima G (nr, n_t)."""
    n_q, n_t = len(Q), len(T)
    nr = len(G)
    kk = min(kb, nr)
    GT = np.ascontiguousarray(G.T)  # (n_t, nr)
    chosen = GT >= np.partition(GT, nr - kk, axis=1)[:, nr - kk : nr - kk + 1]
    ok = np.count_nonzero(chosen, axis=1) == kk
    vals = np.empty((n_t, kb), np.float32)
    idx = np.empty((n_t, kb), np.int64)
    targets = np.nonzero(ok)[0]
    groups = np.nonzero(chosen[targets])[1].reshape(len(targets), kk)
    del GT, chosen
    Qg = np.zeros((nr * gq, Q.shape[1]), np.float32)
    Qg[:n_q] = Q
    Qg = Qg.reshape(nr, gq, -1)
    flat = groups.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(nr + 1))
    owner = targets[order // kk]  # the B row asking for each (B row, group) slot, slots grouped by group
    cand = np.empty((len(flat), gq), np.float32)
    used = np.nonzero(np.diff(bounds))[0]
    n_chunks = max(1, compute.n_threads())

    def recompute(span: tuple[int, int]) -> None:
        for q in used[span[0] : span[1]]:  # each group of A rows once, with every B row that chose it
            a, b = bounds[q], bounds[q + 1]
            cand[order[a:b]] = T[owner[a:b]] @ Qg[q].T

    pad = nr * gq - n_q  # rows of zeros that fill the last group

    def select(span: tuple[int, int]) -> None:
        a, b = span
        chose = groups[a:b]  # (r, kk), increasing: candidate p is A row chose[:, p // gq] * gq + p % gq
        v = cand[a * kk : b * kk].reshape(b - a, kk * gq)
        if pad:
            i, j = np.nonzero(chose == nr - 1)
            v[np.repeat(i, pad), (j * gq)[:, None].repeat(pad, 1).ravel() + np.tile(np.arange(gq - pad, gq), len(i))] = -np.inf
        if exclude_self:
            t = targets[a:b]
            i, j = np.nonzero(chose == (t // gq)[:, None])
            v[i, j * gq + t[i] % gq] = -np.inf
        pv, pp = _select(v, kb)
        vals[targets[a:b]] = pv
        idx[targets[a:b]] = np.take_along_axis(chose, pp // gq, axis=1) * gq + pp % gq

    with compute.threads(n_chunks) as run:
        run(recompute, _spans(len(used), -(-len(used) // n_chunks)))
        run(select, _spans(len(targets), -(-len(targets) // n_chunks)))
    tied = np.nonzero(~ok)[0]  # group maxima tied at the cut: these B rows against every A row
    if len(tied):
        step = max(1, int(compute.memory_mb * 2**20 // (BYTES_PER_PAIR * max(1, n_q))))
        for a, b in _spans(len(tied), step):
            rows = tied[a:b]
            S = T[rows] @ Q.T
            if exclude_self:
                inside = rows < n_q
                S[np.nonzero(inside)[0], rows[inside]] = -np.inf
            vals[rows], idx[rows] = _select(S, kb)
    return TopK(vals, idx)


# -- built on top-k ------------------------------------------------------------------------------------
def knn_mean_similarity(
    A: Any,
    B: Any,
    k: int,
    *,
    similarity: str = "cosine",
    exclude_self: bool = False,
    compute: Compute | None = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
    desc: str = "k-NN similarity",
) -> np.ndarray:
    """(n_a,) float32: mean similarity of each row of A (n_a, d) to its ``k`` nearest rows of B (n_b, d).

    ``k`` is capped at the rows of B there are. The hubness statistic, and CSLS' ``r`` terms.
    """
    return top_k(A, B, k, similarity=similarity, exclude_self=exclude_self, compute=compute, block_size=block_size,
                 target_block_size=target_block_size, desc=desc).knn_mean()


def csls_penalties(
    A: Any,
    B: Any,
    k: int,
    *,
    similarity: str = "cosine",
    exclude_self: bool = False,
    compute: Compute | None = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CSLS' ``r`` terms of two sets from one pass: ``(r_A (n_a,), r_B (n_b,))`` float32, r_A[i] the mean
    similarity of A row i to its k nearest B rows, r_B[j] that of B row j to its k nearest A rows."""
    f, b = top_k_both_ways(A, B, k, k, similarity=similarity, exclude_self=exclude_self, compute=compute,
                           block_size=block_size, target_block_size=target_block_size, desc="csls penalties")
    return f.knn_mean(), b.knn_mean()


def csls_top_k(
    queries: Any,
    targets: Any,
    k: int,
    *,
    csls_k: int = 10,
    source_pool: Any = None,
    similarity: str = "cosine",
    exclude_self: bool = False,
    compute: Compute | None = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
) -> TopK:
    """The ``k`` best targets of every query by CSLS (Conneau et al. 2018), ``2 s(x, y) - r_T(x) - r_S(y)``.

    ``r_T(x)``: mean similarity of query x to its ``csls_k`` nearest targets; ``r_S(y)``: that of target y
    to its ``csls_k`` nearest vectors of ``source_pool`` (n_p, d), by default the queries. ``exclude_self``
    (queries and targets one set) leaves self pairs out of the lists and of both ``r`` terms (of ``r_S``
    only when the pool is the queries). Returns a :class:`TopK` of CSLS scores.
    """
    if isinstance(csls_k, bool) or not isinstance(csls_k, (int, np.integer)) or csls_k < 1:
        raise ParameterError(f"csls_k must be a whole number >= 1; got {csls_k!r}")
    kw = dict(similarity=similarity, compute=compute, block_size=block_size, target_block_size=target_block_size)
    if len(_matrix(queries, "queries")) == 0:  # no queries: an empty result, as top_k gives
        return top_k(queries, targets, k, exclude_self=exclude_self, desc="csls neighbours", **kw)
    if source_pool is None:
        r_q, r_t = csls_penalties(queries, targets, csls_k, exclude_self=exclude_self, **kw)
    else:
        r_t = knn_mean_similarity(targets, source_pool, csls_k, desc="csls r_S", **kw)
        r_q = knn_mean_similarity(queries, targets, csls_k, exclude_self=exclude_self, desc="csls r_T", **kw)
    return top_k(queries, targets, k, scale=2.0, target_offset=r_t, query_offset=r_q, exclude_self=exclude_self,
                 desc="csls neighbours", **kw)


def isf_log_normalizer(
    targets: Any,
    source_pool: Any,
    temperature: float,
    *,
    similarity: str = "cosine",
    exclude_self: bool = False,
    compute: Compute | None = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
) -> np.ndarray:
    """(n_t,) float64: ``log sum_{p in pool} exp(temperature * s(p, y))`` for every target y (n_t, d).

    The normaliser of the inverted softmax (Smith et al. 2017), whose log-probability is
    ``temperature * s(x, y) - normaliser(y)``. ``source_pool`` (n_p, d); ``exclude_self``: the pool is the
    targets' own set (row i of each the same vector), and y is left out of its own sum.
    Tiles are reduced with ``scipy.special.logsumexp`` (in float64) and combined with ``np.logaddexp``.
    """
    from scipy.special import logsumexp

    if not (isinstance(temperature, (int, float, np.floating)) and math.isfinite(temperature) and temperature > 0):
        raise ParameterError(f"the inverted softmax's temperature must be a positive number; got {temperature!r}")
    compute = as_compute(compute)
    T, Pl = _prepare(targets, source_pool, similarity, ("targets", "source_pool"))
    _cap(1, len(Pl), exclude_self)
    P = _Pass(T, Pl, compute, scale=float(temperature), exclude_self=exclude_self, block_size=block_size,
              target_block_size=target_block_size)
    out = np.empty(len(T), np.float64)

    def work(a: int, b: int) -> None:
        acc = np.full(b - a, -np.inf)
        for t0, t1 in _spans(P.n_t, P.cols):
            S = P.tile(a, b, t0, t1)
            if P.backend == "torch":
                part = P.torch.logsumexp(S.double(), dim=1).cpu().numpy()
            else:
                part = logsumexp(S.astype(np.float64), axis=1)
            acc = np.logaddexp(acc, part)
        out[a:b] = acc

    P.run(work, "isf normaliser")
    return out


#: scores this close to the gold's (relative to the size of the score's terms) count as ties in
#: :func:`gold_ranks`: float32 products of 384-d unit rows differ by ~1e-6 between two BLAS paths, while real
#: targets are rarely that close
TIE_TOL = 1e-5


def gold_ranks(
    queries: Any,
    targets: Any,
    gold: np.ndarray,
    *,
    similarity: str = "cosine",
    scale: float = 1.0,
    target_offset: np.ndarray | None = None,
    compute: Compute | None = None,
    block_size: int | None = None,
    target_block_size: int | None = None,
) -> np.ndarray:
    """(n_q,) int64: 1-based rank of each query's gold target (``gold`` (n_q,) target rows) by the score
    ``scale * s - target_offset``: 1 + the number of *other* targets scoring at least as high (ties count
    against the gold, so a degenerate query, tied with everything, ranks last). A score within ``TIE_TOL``
    times (max(1, |scale|) + |the gold's offset|) of the gold's is a tie: the gold's score and the others' come
    from different float32 products, which round a duplicate of the gold target differently in the last bits."""
    compute = as_compute(compute)
    Q, T = _prepare(queries, targets, similarity)
    gold = np.asarray(gold, dtype=np.int64)
    P = _Pass(Q, T, compute, scale=scale, target_offset=target_offset, block_size=block_size,
              target_block_size=target_block_size)
    ranks = np.ones(len(Q), np.int64)

    def work(a: int, b: int) -> None:
        g = gold[a:b]
        s_g = np.einsum("ij,ij->i", Q[a:b], T[g]).astype(np.float32)
        if P.scale != 1:
            s_g = s_g * P.scale
        if P.offset is not None:
            s_g = s_g - P.offset[g]
        # a tie counts against the gold (see above); the rounding grows with the terms of the score
        s_g = s_g - TIE_TOL * (max(1.0, abs(float(P.scale))) + (0 if P.offset is None else np.abs(P.offset[g])))
        rows = np.arange(b - a)
        for t0, t1 in _spans(P.n_t, P.cols):
            S = P.tile(a, b, t0, t1)
            inside = (g >= t0) & (g < t1)
            if P.backend == "torch":
                torch = P.torch
                S[torch.from_numpy(rows[inside]).to(S.device), torch.from_numpy(g[inside] - t0).to(S.device)] = -np.inf
                ranks[a:b] += (S >= torch.from_numpy(s_g[:, None]).to(S.device)).sum(dim=1).cpu().numpy()
            else:
                S[rows[inside], g[inside] - t0] = -np.inf
                ranks[a:b] += np.count_nonzero(S >= s_g[:, None], axis=1)

    P.run(work, "ranks")
    return ranks


def row_means(B: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(n, d): row i is the mean of the rows ``B[idx[i]]`` (B (m, d), idx (n, k)), as ``B[idx].mean(1)`` but
    through a sparse averaging matrix, without the (n, k, d) intermediate (315 MB for 2,048 rows, k = 100,
    d = 384). A repeated index counts as often as it appears; rows are summed in the order of ``idx``."""
    from scipy.sparse import csr_matrix

    n, k = idx.shape
    P = csr_matrix((np.full(n * k, 1.0 / k, dtype=B.dtype), idx.ravel(), np.arange(0, n * k + 1, k)),
                   shape=(n, len(B)))
    return np.asarray(P @ B)


def knn_target_means(
    queries: Any,
    targets: np.ndarray,
    k: int,
    *,
    similarity: str = "dot",
    compute: Compute | None = None,
    block_size: int | None = None,
) -> np.ndarray:
    """(n_q, d): the mean of each query's ``k`` nearest target rows (the rows of ``targets`` (n_t, d) as
    given; ``k = 1``: the nearest row itself). The targets of k-NN Procrustes refinement."""
    top = top_k(queries, targets, k, similarity=similarity, ordered=False, compute=compute, block_size=block_size,
                desc="k-NN means")
    targets = np.asarray(targets)
    return targets[top.indices[:, 0]] if top.indices.shape[1] == 1 else row_means(targets, top.indices)


def mutual_nearest_neighbors(
    A: Any,
    B: Any,
    *,
    csls_k: int = 0,
    similarity: str = "cosine",
    compute: Compute | None = None,
) -> MutualNN:
    """Nearest neighbours of A (n_a, d) in B (n_b, d) and of B in A, by similarity or (``csls_k >= 1``) by
    CSLS with ``csls_k`` neighbours; A row i is *mutual* when it is the best A row of its best B row."""
    if csls_k:
        r_a, r_b = csls_penalties(A, B, csls_k, similarity=similarity, compute=compute)
        fwd = top_k(A, B, 1, similarity=similarity, scale=2.0, target_offset=r_b, compute=compute).indices[:, 0]
        bwd = top_k(B, A, 1, similarity=similarity, scale=2.0, target_offset=r_a, compute=compute).indices[:, 0]
    else:
        f, b = top_k_both_ways(A, B, 1, 1, similarity=similarity, compute=compute)
        fwd, bwd = f.indices[:, 0], b.indices[:, 0]
    return MutualNN(fwd, bwd, bwd[fwd] == np.arange(len(fwd)))


__all__ = [
    "BYTES_PER_PAIR", "MAX_TILE_ROWS", "SIMILARITIES", "TopK", "MutualNN", "unit_rows_lazy", "tile_shape", "top_k",
    "top_k_both_ways", "knn_mean_similarity", "csls_penalties", "csls_top_k", "isf_log_normalizer", "gold_ranks",
    "row_means", "knn_target_means", "mutual_nearest_neighbors",
]
