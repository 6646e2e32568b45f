"""Clustering solvers: k-means on the rows of a matrix, Euclidean and spherical.

* :func:`euclidean_kmeans` -- k-means in the squared Euclidean distance: k-means++ seeding, then
  Lloyd's iterations (:func:`nearest_centroid` through one product, then :func:`centroid_means`), until the
  labels stop changing.
* :func:`spherical_kmeans` -- k-means on the unit sphere: rows and centroids of unit length, each row
  assigned to the centroid of largest cosine, a centroid the normalised sum of its rows (Dhillon &
  Modha 2001). Neither scipy nor scikit-learn has it.
* :func:`kmeans_plusplus` -- the k-means++ seeding both use (Arthur & Vassilvitskii 2007).

All take a ``numpy.random.Generator``; the same generator state gives the same clusters.
"""

from __future__ import annotations


import numpy as np

from .errors import VecbridgeError


def _check_k(X: np.ndarray, k: int, what: str) -> int:
    if X.ndim != 2:
        raise VecbridgeError(f"{what} needs a 2-D array of rows, got shape {X.shape}")
    n = len(X)
    if not 1 <= int(k) <= n:
        raise VecbridgeError(f"{what} needs 1 <= k <= n; got k={k} for {n} rows")
    if int(k) != k:
        raise VecbridgeError(f"{what} needs an integer k, got {k!r}")
    return int(k)


def kmeans_plusplus(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeds: ``k`` rows of X (n, d), each drawn with probability proportional to its squared
    distance to the nearest seed drawn before. Returns (k, d) float32.

    Each new seed updates the distances in one (n,) pass, so the cost is O(k n d); scipy's own
    ``minit="++"`` recomputes the distances to all earlier seeds for every new one (O(k^2 n d): a minute
    for 160 seeds of 8,000 x 384 rows, against a tenth of a second here).
    """
    X = np.asarray(X, dtype=np.float32)
    k = _check_k(X, k, "k-means++")
    n = len(X)
    sq = (X * X).sum(1)
    C = np.empty((k, X.shape[1]), dtype=np.float32)
    C[0] = X[rng.integers(n)]
    d2 = np.full(n, np.inf, dtype=np.float32)
    for i in range(1, k):
        d2 = np.minimum(d2, sq - 2 * X @ C[i - 1] + C[i - 1] @ C[i - 1])
        p = np.maximum(d2, 0).astype(np.float64)
        C[i] = X[rng.choice(n, p=p / p.sum()) if p.sum() > 0 else rng.integers(n)]
    return C


def euclidean_kmeans(
    X: np.ndarray, k: int, rng: np.random.Generator, iters: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """k-means in the squared Euclidean distance on rows X (n, d).

    Seeds from :func:`kmeans_plusplus` (drawn from ``rng``), then Lloyd iterations (assign every row to its
    nearest centroid, move each centroid to the mean of its rows; a cluster that loses all its rows keeps its
    centroid), until no label changes or after ``iters`` iterations.
    Returns ``(centroids (k, d) float32, labels (n,) int64)``: the centroids are the means of the rows
    of each label.
    """
    X = np.asarray(X, dtype=np.float32)
    k = _check_k(X, k, "k-means")
    if int(iters) < 1:
        raise VecbridgeError(f"k-means needs iters >= 1, got {iters}")
    C = kmeans_plusplus(X, k, rng)
    labels = None
    for _ in range(int(iters)):
        new = nearest_centroid(X, C)
        if labels is not None and np.array_equal(new, labels):
            break  # the same assignment again: C is already the means of its rows
        C, labels = centroid_means(X, new, C), new
    return np.asarray(C, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def nearest_centroid(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """(n,) index of the centroid (row of C (k, d)) nearest to each row of X (n, d) in Euclidean distance;
    ties to the lower index. One product, ``|c|^2 - 2 x.c`` (the rows' own ``|x|^2`` does not change the
    choice)."""
    return ((C * C).sum(1)[None, :] - 2 * (X @ C.T)).argmin(axis=1)


def centroid_means(X: np.ndarray, labels: np.ndarray, C: np.ndarray) -> np.ndarray:
    """(k, d): the mean of the rows of X (n, d) with each label; a centroid of C (k, d) with no rows is kept."""
    from scipy.sparse import csr_matrix

    k, n = len(C), len(X)
    counts = np.bincount(labels, minlength=k)
    sums = np.asarray(csr_matrix((np.ones(n, np.float32), (labels, np.arange(n))), shape=(k, n)) @ X)
    out = np.array(C, dtype=np.float32, copy=True)
    has = counts > 0
    out[has] = sums[has] / counts[has, None]
    return out


def spherical_kmeans(
    X: np.ndarray, k: int, rng: np.random.Generator, iters: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means on rows X (n, d): cosine assignment, unit-length centroids.

    The rows are scaled to unit length (zero rows stay zero and join cluster 0 unless it is empty), the
    seeds are :func:`kmeans_plusplus` on the unit rows (squared chord distance, 2 - 2 cos), and each
    iteration assigns every row to the centroid of largest cosine and sets each centroid to the
    normalised sum of its rows, until no label changes or after ``iters`` iterations. A cluster that
    loses all its rows keeps its centroid. Returns ``(centroids (k, d) float32 of unit rows,
    labels (n,) int64)``.
    """
    X = np.asarray(X, dtype=np.float32)
    k = _check_k(X, k, "spherical k-means")
    if int(iters) < 1:
        raise VecbridgeError(f"spherical k-means needs iters >= 1, got {iters}")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    U = X / np.where(norms > 0, norms, 1.0)
    C = kmeans_plusplus(U, k, rng)
    C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    labels = np.full(len(U), -1, dtype=np.int64)
    for _ in range(int(iters)):
        new = (U @ C.T).argmax(1)
        if np.array_equal(new, labels):
            break
        labels = new
        sums = np.zeros_like(C)
        np.add.at(sums, labels, U)
        lengths = np.linalg.norm(sums, axis=1)
        keep = lengths > 0
        C[keep] = sums[keep] / lengths[keep, None]
    return C, labels


__all__ = ["centroid_means", "euclidean_kmeans", "kmeans_plusplus", "nearest_centroid", "spherical_kmeans"]
