"""k-means solvers: Euclidean (k-means++ then Lloyd iterations) and spherical."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.clustering import centroid_means, euclidean_kmeans, kmeans_plusplus, nearest_centroid, spherical_kmeans
from vecbridge.errors import VecbridgeError


def blobs(n_per: int = 60, d: int = 8, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 6
    labels = np.repeat(np.arange(k), n_per)
    return (centres[labels] + rng.normal(size=(len(labels), d))).astype(np.float32), labels


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_euclidean_kmeans_finds_separated_blobs_and_is_a_fixed_point():
    X, truth = blobs()
    C, labels = euclidean_kmeans(X, 4, np.random.default_rng(0))
    assert C.shape == (4, 8) and C.dtype == np.float32 and labels.dtype == np.int64
    assert same_partition(labels, truth)
    # Lloyd's fixed point: each row is nearest its own centroid, each centroid the mean of its rows
    d2 = ((X[:, None, :] - C[None]) ** 2).sum(-1)
    assert np.array_equal(d2.argmin(1), labels)
    for j in range(4):
        np.testing.assert_allclose(C[j], X[labels == j].mean(0), rtol=1e-5, atol=1e-5)


def test_euclidean_kmeans_is_deterministic_for_a_generator_state():
    X, _ = blobs(seed=1)
    a = euclidean_kmeans(X, 5, np.random.default_rng(3))
    b = euclidean_kmeans(X, 5, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_spherical_kmeans_uses_directions_only():
    X, truth = blobs(d=6, seed=2)
    C, labels = spherical_kmeans(X, 4, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, rtol=1e-5)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert np.array_equal((U @ C.T).argmax(1), labels)  # cosine assignment
    for j in range(4):  # each centroid the normalised sum of its rows
        s = U[labels == j].sum(0)
        np.testing.assert_allclose(C[j], s / np.linalg.norm(s), rtol=1e-4, atol=1e-5)
    # rescaling rows changes nothing, unlike Euclidean k-means
    scales = np.random.default_rng(1).uniform(0.1, 10.0, size=(len(X), 1)).astype(np.float32)
    C2, labels2 = spherical_kmeans(X * scales, 4, np.random.default_rng(0))
    assert np.array_equal(labels, labels2)
    np.testing.assert_allclose(C, C2, rtol=1e-4, atol=1e-5)


def test_spherical_and_euclidean_differ_where_lengths_differ():
    # two directions 30 degrees apart, each with short and long rows: spherical k-means splits by direction,
    # Euclidean k-means by length
    rng = np.random.default_rng(0)
    dirs = np.array([[1.0, 0.0], [np.cos(np.pi / 6), np.sin(np.pi / 6)]])
    rows = np.array([dirs[i] * r for i in range(2) for r in (1.0, 20.0) for _ in range(30)])
    X = (rows + rng.normal(scale=0.05, size=rows.shape)).astype(np.float32)
    by_direction = np.repeat([0, 1], 60)
    _, sph = spherical_kmeans(X, 2, np.random.default_rng(0))
    assert same_partition(sph, by_direction)
    _, euc = euclidean_kmeans(X, 2, np.random.default_rng(0))
    assert same_partition(euc, np.tile(np.repeat([0, 1], 30), 2))


def test_kmeans_plusplus_draws_distinct_rows():
    X, _ = blobs()
    S = kmeans_plusplus(X, 4, np.random.default_rng(0))
    rows = {tuple(r) for r in X.tolist()}
    assert all(tuple(s) in rows for s in S.tolist()) and len({tuple(s) for s in S.tolist()}) == 4


@pytest.mark.parametrize("solver", [euclidean_kmeans, spherical_kmeans])
def test_bad_arguments_are_explained(solver):
    X, _ = blobs(n_per=2)
    with pytest.raises(VecbridgeError, match="1 <= k <= n"):
        solver(X, 9, np.random.default_rng(0))
    with pytest.raises(VecbridgeError, match="1 <= k <= n"):
        solver(X, 0, np.random.default_rng(0))
    with pytest.raises(VecbridgeError, match="integer k"):
        solver(X, 2.5, np.random.default_rng(0))
    with pytest.raises(VecbridgeError, match="2-D"):
        solver(X[0], 2, np.random.default_rng(0))
    with pytest.raises(VecbridgeError, match="iters >= 1"):
        solver(X, 2, np.random.default_rng(0), iters=0)


def test_lloyd_step_equals_brute_force():
    """The assignment through one product picks the centroid of least Euclidean distance (ties: the lower
    index), and a centroid with no rows stays where it was."""
    rng = np.random.default_rng(4)
    X = rng.integers(-3, 4, size=(400, 5)).astype(np.float32)  # integer rows: many exact ties
    C = rng.integers(-3, 4, size=(12, 5)).astype(np.float32)
    C[7] = C[3]  # two identical centroids: rows go to the lower index
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    labels = nearest_centroid(X, C)
    assert np.array_equal(labels, d2.argmin(1)) and not np.any(labels == 7)
    means = centroid_means(X, labels, C)
    for j in range(len(C)):
        expect = X[labels == j].mean(0) if np.any(labels == j) else C[j]
        np.testing.assert_allclose(means[j], expect, atol=1e-5)
