"""The pure mathematics of a linear hub: semi-orthogonal maps into one shared space.

A linear hub over spaces ``1..N`` (dimensions ``d_i``) is a shared space of dimension ``k`` and one map
``Q_i`` (d_i, k) per space with orthonormal rows (``Q_i Q_i^T = I`` when ``d_i <= k``) or orthonormal
columns (``Q_i^T Q_i = I`` when ``d_i > k``: the space is projected). Both have ``pinv(Q_i) = Q_i^T``, so

    translate(x, i -> j) = x Q_i Q_j^T        (normalised rows of i -> normalised rows of j)

and a cycle ``i -> j -> l -> i`` through spaces of dimension ``k`` is the identity by construction.

Two ways to estimate the ``Q_i`` (both deterministic):

- :func:`generalized_procrustes`, with items seen in several spaces (pairs): alternate the consensus
  ``M_t`` = mean of ``x_{i,t} Q_i`` over the spaces holding item ``t`` and, per space, the Procrustes map of
  its rows onto the consensus (Gower 1975). Started from :func:`spanning_init` (pairwise Procrustes along a
  spanning tree of the item-overlap graph).
- :func:`synchronize_maps`, from pairwise maps ``W_ab`` (d_a, d_b) (``x_a W_ab ~ x_b``) on a graph of
  edges: chained along a spanning tree, then refined by rotation synchronisation (each ``Q_a`` replaced by
  the polar factor of the weighted sum of what its edges say it should be, ``W_ab Q_b`` and
  ``W_ba^T Q_b``, until nothing moves). On a tree this is exact chaining; with cycles it averages them.

Solves run in float64 (SVDs of d x k matrices); the maps are returned as float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import DimensionError, VecbridgeError
from ..normalize import unit_rows
from ..translators.linear import polar  # U V^T of the thin SVD, float64


def embedding_map(d: int, k: int) -> np.ndarray:
    """The (d, k) map that puts a d-d space on the first axes of a k-d space (``[I 0]``; or the first k
    coordinates when d > k). float64."""
    Q = np.zeros((d, k))
    m = min(d, k)
    Q[np.arange(m), np.arange(m)] = 1.0
    return Q


def procrustes_onto(X: np.ndarray, Z: np.ndarray, init: np.ndarray | None = None, iters: int = 30) -> np.ndarray:
    """The semi-orthogonal Q (d, k) that best relates paired rows X (n, d) of a space to points Z (n, k) of
    the shared space. float64.

    d == k: orthogonal Procrustes, ``polar(X^T Z)`` (the solution of
    :func:`vecbridge.translators.linear.procrustes_from_cross`, kept in float64).
    d < k (the space sees a d-d part of the shared space): minimises ``||X - Z Q^T||``; d > k (the shared
    space is a projection of the space): minimises ``||X Q - Z||``. Neither has a closed form; both are
    solved by the majorisation of Green and Gower (complete Q to a square orthogonal matrix, fill the missing
    columns with their current predictions, solve the square problem, keep Q's part), ``iters`` rounds from
    ``init`` (default the Procrustes solution). Each round lowers the residual.
    """
    X = np.asarray(X, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64)
    Q = polar(X.T @ Z) if init is None else np.asarray(init, dtype=np.float64)
    d, k = Q.shape
    if d == k:
        return polar(X.T @ Z)
    for _ in range(int(iters)):
        if d < k:
            C = np.linalg.svd(Q, full_matrices=True)[2][d:]  # (k - d, k): the rows Q lacks
            Q = polar(np.hstack([X, Z @ C.T]).T @ Z)[:d]
        else:
            C = np.linalg.svd(Q, full_matrices=True)[0][:, k:]  # (d, d - k): the columns Q lacks
            Q = polar(X.T @ np.hstack([Z, X @ C]))[:, :k]
    return Q


def consensus(
    blocks: Sequence[tuple[np.ndarray, np.ndarray]],
    maps: Sequence[np.ndarray | None],
    n_items: int,
    k: int,
    skip: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(M, counts)``: M (n_items, k) the shared-space point of each item that the spaces holding it agree
    on best, counts (n_items,) how many spaces hold it. ``blocks[i] = (X_i rows (n_i, d_i), item ids
    (n_i,))``; a block whose map is None, or the block ``skip``, does not count (leave-one-out).

    Each space sees the shared space through its map: row ``x ~ m Q_i^T``. The least-squares point is
    ``m = (sum_i x_i Q_i) pinv(sum_i Q_i^T Q_i)`` over the spaces holding the item; when every map has
    orthonormal columns (``Q_i^T Q_i = I``: spaces of the shared dimension or larger) that is the plain mean.
    """
    S = np.zeros((n_items, k))
    counts = np.zeros(n_items, dtype=np.int64)
    code = np.zeros(n_items, dtype=np.int64)
    used = []
    for i, ((X, items), Q) in enumerate(zip(blocks, maps)):
        if Q is None or i == skip or len(items) == 0:
            continue
        np.add.at(S, items, np.asarray(X, dtype=np.float64) @ Q)
        np.add.at(counts, items, 1)
        code[np.unique(items)] |= 1 << len(used)
        used.append(np.asarray(Q, dtype=np.float64))
    seen = counts > 0
    if all(Q.shape[0] >= Q.shape[1] for Q in used):
        S[seen] /= counts[seen, None]
        return S, counts
    for c in np.unique(code[seen]):
        rows = code == c
        A = sum(Q.T @ Q for j, Q in enumerate(used) if c >> j & 1)
        S[rows] = S[rows] @ np.linalg.pinv(A, rcond=1e-10, hermitian=True)
    return S, counts


def residual(X: np.ndarray, Z: np.ndarray, Q: np.ndarray) -> float:
    """The squared residual :func:`procrustes_onto` minimises for this Q (compared in the smaller space)."""
    X, Q = np.asarray(X, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    if Q.shape[0] < Q.shape[1]:
        return float(np.square(X - np.asarray(Z, dtype=np.float64) @ Q.T).sum())
    return float(np.square(X @ Q - Z).sum())


def overlap_matrix(item_sets: Sequence[np.ndarray]) -> np.ndarray:
    """(N, N) number of items each two spaces share."""
    sets = [set(np.asarray(s).tolist()) for s in item_sets]
    N = len(sets)
    O = np.zeros((N, N), dtype=np.int64)
    for a in range(N):
        for b in range(a + 1, N):
            O[a, b] = O[b, a] = len(sets[a] & sets[b])
    return O


def spanning_init(
    blocks: Sequence[tuple[np.ndarray, np.ndarray]], k: int, root: int
) -> tuple[list[np.ndarray | None], list[tuple[int, int, int]]]:
    """Maps from pairwise Procrustes along a maximum-overlap spanning tree (Prim's order from ``root``).

    Returns ``(maps, edges)``: ``maps[i]`` (d_i, k), None for a space sharing no item with the placed ones;
    ``edges`` lists ``(new space, placed space, shared items)`` in the order they were added.
    """
    N = len(blocks)
    O = overlap_matrix([b[1] for b in blocks])
    maps: list[np.ndarray | None] = [None] * N
    maps[root] = embedding_map(blocks[root][0].shape[1], k)
    placed, edges = {root}, []
    while len(placed) < N:
        best = max(((O[j, i], j, i) for j in range(N) if j not in placed for i in placed), default=(0, -1, -1))
        shared, j, i = best
        if shared == 0:
            break
        (Xj, tj), (Xi, ti) = blocks[j], blocks[i]
        common, rj, ri = np.intersect1d(tj, ti, return_indices=True)
        maps[j] = procrustes_onto(Xj[rj], np.asarray(Xi[ri], dtype=np.float64) @ maps[i])
        placed.add(j)
        edges.append((j, i, int(len(common))))
    return maps, edges


def generalized_procrustes(
    blocks: Sequence[tuple[np.ndarray, np.ndarray]],
    k: int,
    init: Sequence[np.ndarray | None],
    max_iter: int = 100,
    tol: float = 1e-6,
) -> tuple[list[np.ndarray | None], dict[str, Any]]:
    """Jointly refine per-space maps by generalised Procrustes.

    blocks[i] = (X_i (n_i, d_i) normalised rows, items_i (n_i,) int item ids, each in [0, n_items)); only
    items held by at least two spaces steer the fit. init[i]: (d_i, k) or None (space left out).
    Alternates the consensus (mean of mapped rows per item) and each map's Procrustes onto it, until the
    relative drop of the residual ``sum_i ||X_i Q_i - M||^2`` is below ``tol``.
    Returns ``(maps, info)`` with ``iterations``, ``residual`` (per item and space, last) and ``history``.
    """
    n_items = 1 + max((int(items.max()) for _, items in blocks if len(items)), default=-1)
    maps = [None if Q is None else np.asarray(Q, dtype=np.float64) for Q in init]
    _, counts = consensus(blocks, maps, n_items, k)
    multi = counts >= 2
    sub = [(X[multi[t]], t[multi[t]]) for X, t in blocks]
    history: list[float] = []
    it = 0
    for it in range(1, int(max_iter) + 1):
        M, _ = consensus(sub, maps, n_items, k)
        res = 0.0
        for i, (X, t) in enumerate(sub):
            if maps[i] is None or len(t) == 0:
                continue
            maps[i] = procrustes_onto(X, M[t], init=maps[i], iters=1)
            res += residual(X, M[t], maps[i])
        history.append(res)
        if len(history) > 1 and history[-2] - res <= tol * max(history[-2], 1e-30):
            break
    n_terms = sum(len(t) for (X, t), Q in zip(sub, maps) if Q is not None)
    info = {"iterations": it, "residual": round(history[-1] / max(n_terms, 1), 8) if history else None,
            "items_used": int(multi.sum()),
            "history": [round(h / max(n_terms, 1), 8) for h in history[:5] + history[-3:]] if history else []}
    return maps, info


def synchronize_maps(
    dims: Sequence[int],
    k: int,
    edges: Sequence[tuple[int, int, np.ndarray, float]],
    root: int,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[list[np.ndarray | None], dict[str, Any]]:
    """Per-space maps from pairwise maps by rotation synchronisation.

    dims[i]: dimension of space i; edges: ``(a, b, W_ab, weight)`` with W_ab (d_a, d_b) semi-orthogonal,
    meaning ``x_a W_ab ~ x_b``. Spaces no edge reaches from ``root`` get None. The first edges that reach a
    new space form the spanning tree (chaining: ``Q_a = polar(W_ab Q_b)``); then every map is replaced by
    ``polar(sum_e weight_e * (W_ab Q_b or W_ba^T Q_b))`` in turn until the largest change is below ``tol``.
    Returns ``(maps, info)`` (``iterations``, ``edge_residuals``: ``||W_ab - Q_a Q_b^T||_F / sqrt(min d)``).
    """
    N = len(dims)
    maps: list[np.ndarray | None] = [None] * N
    maps[root] = embedding_map(dims[root], k)
    E = [(a, b, np.asarray(W, dtype=np.float64), float(w)) for a, b, W, w in edges]
    for a, b, W, _ in E:
        if W.shape != (dims[a], dims[b]):
            raise DimensionError(f"edge {a}->{b}: map of shape {W.shape}, expected {(dims[a], dims[b])}")
    changed = True
    while changed:  # chaining along the first edges that reach a new space
        changed = False
        for a, b, W, _ in E:
            if maps[a] is None and maps[b] is not None:
                maps[a] = polar(W @ maps[b])
                changed = True
            elif maps[b] is None and maps[a] is not None:
                maps[b] = polar(W.T @ maps[a])
                changed = True
    it = 0
    cyclic = len(E) > sum(Q is not None for Q in maps) - 1
    for it in range(1, (int(max_iter) if cyclic else 0) + 1):
        delta = 0.0
        for i in range(N):
            if maps[i] is None:
                continue
            S = np.zeros_like(maps[i])
            for a, b, W, w in E:
                if a == i and maps[b] is not None:
                    S += w * (W @ maps[b])
                elif b == i and maps[a] is not None:
                    S += w * (W.T @ maps[a])
            if not S.any():
                continue
            new = polar(S)
            delta = max(delta, float(np.abs(new - maps[i]).max()))
            maps[i] = new
        if delta < tol:
            break
    resid = []
    for a, b, W, _ in E:
        if maps[a] is not None and maps[b] is not None:
            r = np.linalg.norm(W - maps[a] @ maps[b].T) / np.sqrt(min(W.shape))
            resid.append({"from": a, "to": b, "residual": round(float(r), 6)})
    return maps, {"iterations": it, "cyclic": bool(cyclic), "edge_residuals": resid}


def cycle_error(X: np.ndarray, steps: Sequence[Callable[[np.ndarray], np.ndarray] | np.ndarray]) -> dict[str, float]:
    """How far a round trip ``X -> ... -> X`` lands from where it started.

    X (n, d): rows of the first space (normalised); steps: matrices (applied as ``Y @ W``) or functions,
    the last of which returns to X's space. Returns ``relative`` = ``||Y - X||_F / ||X||_F`` and
    ``cosine`` = the mean cosine between each row and its round trip (1: no drift).
    """
    X = np.asarray(X, dtype=np.float32)
    Y = X
    for s in steps:
        Y = s(Y) if callable(s) else Y @ np.asarray(s, dtype=np.float32)
    if Y.shape != X.shape:
        raise DimensionError(f"the cycle ends in a {Y.shape[1]}-d space, not back in the {X.shape[1]}-d start")
    rel = float(np.linalg.norm(Y - X) / max(float(np.linalg.norm(X)), 1e-30))
    cos = float(np.mean(np.sum(unit_rows(Y) * unit_rows(X), axis=1)))
    return {"relative": round(rel, 6), "cosine": round(cos, 6)}


def check_maps_orthonormal(maps: Sequence[np.ndarray], atol: float = 1e-4) -> None:
    """Raise unless every map has orthonormal rows or columns (a loaded hub's sanity check)."""
    for i, Q in enumerate(maps):
        Q = np.asarray(Q, dtype=np.float64)
        G = Q @ Q.T if Q.shape[0] <= Q.shape[1] else Q.T @ Q
        if not np.allclose(G, np.eye(len(G)), atol=atol):
            raise VecbridgeError(f"map {i} of shape {Q.shape} is not semi-orthogonal")


__all__ = ["embedding_map", "polar", "procrustes_onto", "consensus", "overlap_matrix", "spanning_init",
           "generalized_procrustes", "synchronize_maps", "cycle_error", "check_maps_orthonormal"]
