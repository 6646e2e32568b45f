"""The nearest-neighbour kernel (vecbridge.neighbors) and the compute context (vecbridge.compute).

References are dense brute force. The tie rule under test: lists are ordered by score (largest first),
then by the lower index, and of several entries tied at the k-th place the lower indices are kept.
Integer-valued vectors give exact float32 products, so ties are exact and the rule can be checked to
the index; real-valued data is checked to float tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from vecbridge.compute import Compute, as_compute, resolve_backend
from vecbridge.errors import DimensionError, ParameterError, VecbridgeError
from vecbridge.neighbors import (
    BYTES_PER_PAIR,
    MAX_TILE_ROWS,
    TopK,
    csls_penalties,
    csls_top_k,
    gold_ranks,
    isf_log_normalizer,
    knn_mean_similarity,
    knn_target_means,
    mutual_nearest_neighbors,
    row_means,
    tile_shape,
    top_k,
    top_k_both_ways,
    unit_rows_lazy,
)

BACKENDS = ["numpy", "torch"]


def brute_top(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference: order by score descending, then by index ascending (np.lexsort, last key first)."""
    cols = np.broadcast_to(np.arange(S.shape[1]), S.shape)
    idx = np.lexsort((cols, -S), axis=1)[:, :k]
    return np.take_along_axis(S, idx, axis=1), idx


def dense(Q: np.ndarray, T: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    S = Q.astype(np.float64) @ T.T.astype(np.float64)
    if exclude_self:
        n = min(S.shape)
        S[np.arange(n), np.arange(n)] = -np.inf
    return S


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def integer_cloud(n: int, d: int, seed: int) -> np.ndarray:
    """Small integer coordinates: exact products, many exact ties."""
    return np.random.default_rng(seed).integers(-2, 3, size=(n, d)).astype(np.float32)


# tiles: the budget's choice, tiny budgets (many tiles, target blocks), and hand-set shapes
TILINGS = [
    dict(),
    dict(compute=Compute(memory_mb=0.01)),
    dict(compute=Compute(memory_mb=0.2, n_jobs=3)),
    dict(block_size=1),
    dict(block_size=7, target_block_size=11),
    dict(block_size=64, target_block_size=5),
]


# ------------------------------------------------------------------ exactness of the blocked top-k
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("tiling", range(len(TILINGS)))
@pytest.mark.parametrize("nq,nt,k", [(57, 300, 5), (300, 2011, 16), (40, 5, 9), (1, 7, 1)])
def test_top_k_equals_brute_force_with_ties(backend, tiling, nq, nt, k):
    Q, T = integer_cloud(nq, 4, nq), integer_cloud(nt, 4, nt + 1)
    opts = dict(TILINGS[tiling])
    opts["compute"] = opts.get("compute", Compute()).replace(backend=backend)
    got = top_k(Q, T, k, similarity="dot", **opts)
    ref_v, ref_i = brute_top(dense(Q, T), min(k, nt))
    np.testing.assert_array_equal(got.indices, ref_i)
    np.testing.assert_array_equal(got.values, ref_v.astype(np.float32))
    assert got.indices.dtype == np.int64 and got.values.dtype == np.float32


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("tiling", range(len(TILINGS)))
@pytest.mark.parametrize("nq,nt,k,kb", [(500, 333, 7, 5), (2049, 300, 16, 16), (700, 1, 1, 3), (5, 2000, 1, 3),
                                        (1000, 3001, 16, 4)])
def test_both_ways_equals_brute_force_with_ties(backend, tiling, nq, nt, k, kb):
    """Forward and backward lists from one pass (numpy: group maxima + recomputed groups), exact with ties."""
    if backend == "torch" and tiling and nq * nt > 200_000:
        pytest.skip("thousands of tiny tiles: slow in torch; the numpy run covers the tiling, the small cases torch's")
    Q, T = integer_cloud(nq, 5, 2 * nq), integer_cloud(nt, 5, 2 * nt + 1)
    opts = dict(TILINGS[tiling])
    opts["compute"] = opts.get("compute", Compute()).replace(backend=backend)
    f, b = top_k_both_ways(Q, T, k, kb, similarity="dot", **opts)
    S = dense(Q, T)
    fv, fi = brute_top(S, min(k, nt))
    bv, bi = brute_top(S.T, min(kb, nq))
    np.testing.assert_array_equal(f.indices, fi)
    np.testing.assert_array_equal(b.indices, bi)
    np.testing.assert_array_equal(f.values, fv.astype(np.float32))
    np.testing.assert_array_equal(b.values, bv.astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [77, 500, 517])
def test_self_exclusion_both_ways(backend, n):
    A = integer_cloud(n, 5, n)
    for opts in (dict(), dict(block_size=13), dict(compute=Compute(memory_mb=0.05))):
        opts["compute"] = opts.get("compute", Compute()).replace(backend=backend)
        f, b = top_k_both_ways(A, A, 7, 3, similarity="dot", exclude_self=True, **opts)
        S = dense(A, A, exclude_self=True)
        np.testing.assert_array_equal(f.indices, brute_top(S, 7)[1])
        np.testing.assert_array_equal(b.indices, brute_top(S.T, 3)[1])
        assert not (f.indices == np.arange(n)[:, None]).any()
    # k is capped at the n - 1 other rows
    assert top_k(A[:4], A[:4], 10, exclude_self=True, similarity="dot").indices.shape == (4, 3)


def test_real_valued_data_to_float_tolerance():
    rng = np.random.default_rng(3)
    Q = rng.normal(size=(300, 12)).astype(np.float32) * rng.uniform(0.5, 3, size=(300, 1)).astype(np.float32)
    T = rng.normal(size=(2500, 12)).astype(np.float32)
    for sim, (Qr, Tr) in (("dot", (Q, T)), ("cosine", (unit(Q), unit(T)))):
        f, b = top_k_both_ways(Q, T, 10, 6, similarity=sim, compute=Compute(memory_mb=1))
        S = dense(Qr, Tr)
        np.testing.assert_allclose(f.values, -np.sort(-S, axis=1)[:, :10], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(b.values, -np.sort(-S.T, axis=1)[:, :6], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.take_along_axis(S, f.indices, 1), f.values, rtol=1e-5, atol=1e-5)


def test_unordered_top_k_holds_the_k_best():
    rng = np.random.default_rng(4)
    Q, T = rng.normal(size=(600, 9)).astype(np.float32), rng.normal(size=(90, 9)).astype(np.float32)
    S = Q @ T.T
    for opts in (dict(), dict(target_block_size=20)):
        got = top_k(Q, T, 7, similarity="dot", ordered=False, **opts)
        np.testing.assert_array_equal(np.sort(got.indices, axis=1), np.sort(np.argsort(-S, axis=1)[:, :7], axis=1))
    # without target blocks: exactly np.argpartition's columns and order (what the refinement's sums follow)
    got = top_k(Q, T, 7, similarity="dot", ordered=False)
    np.testing.assert_array_equal(got.indices, np.argpartition(S, -7, axis=1)[:, -7:])
    np.testing.assert_array_equal(top_k(Q, T, 1, similarity="dot", ordered=False).indices[:, 0], S.argmax(1))


@pytest.mark.parametrize("n_jobs", [1, 2, 5])
def test_threads_do_not_change_results(n_jobs):
    rng = np.random.default_rng(5)
    Q, T = rng.normal(size=(2500, 12)).astype(np.float32), rng.normal(size=(1900, 12)).astype(np.float32)
    ref = top_k_both_ways(Q, T, 10, 12, similarity="dot", compute=Compute(n_jobs=1, memory_mb=2))
    got = top_k_both_ways(Q, T, 10, 12, similarity="dot", compute=Compute(n_jobs=n_jobs, memory_mb=2))
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(r.indices, g.indices)
        np.testing.assert_array_equal(r.values, g.values)


def test_numpy_and_torch_backends_agree():
    rng = np.random.default_rng(6)
    Q, T = rng.normal(size=(400, 32)).astype(np.float32), rng.normal(size=(1500, 32)).astype(np.float32)
    a = top_k(Q, T, 12, compute=Compute(backend="numpy"))
    b = top_k(Q, T, 12, compute=Compute(backend="torch"))
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.values, b.values, atol=1e-5)
    csls_a = csls_top_k(Q, T, 5, csls_k=10, compute=Compute(backend="numpy"))
    csls_b = csls_top_k(Q, T, 5, csls_k=10, compute=Compute(backend="torch"))
    np.testing.assert_array_equal(csls_a.indices, csls_b.indices)
    np.testing.assert_allclose(csls_a.values, csls_b.values, atol=1e-5)
    isf_a = isf_log_normalizer(T, Q, 20.0, compute=Compute(backend="numpy"))
    isf_b = isf_log_normalizer(T, Q, 20.0, compute=Compute(backend="torch"))
    np.testing.assert_allclose(isf_a, isf_b, rtol=1e-6)
    gold = rng.integers(0, 1500, size=400)
    np.testing.assert_array_equal(gold_ranks(Q, T, gold, compute=Compute(backend="numpy")),
                                  gold_ranks(Q, T, gold, compute=Compute(backend="torch")))


# ------------------------------------------------------------------ built on top-k: dense references
def test_knn_mean_similarity_and_csls_penalties():
    rng = np.random.default_rng(7)
    A, B = rng.normal(size=(150, 12)).astype(np.float32), rng.normal(size=(97, 12)).astype(np.float32)
    C = unit(A) @ unit(B).T
    np.testing.assert_allclose(knn_mean_similarity(A, B, 5), -np.sort(-C, axis=1)[:, :5].mean(1), atol=1e-6)
    r_a, r_b = csls_penalties(A, B, 4, compute=Compute(memory_mb=0.05))
    np.testing.assert_allclose(r_a, -np.sort(-C, axis=1)[:, :4].mean(1), atol=1e-6)
    np.testing.assert_allclose(r_b, -np.sort(-C.T, axis=1)[:, :4].mean(1), atol=1e-6)
    own = unit(A) @ unit(A).T
    np.fill_diagonal(own, -np.inf)
    np.testing.assert_allclose(knn_mean_similarity(A, A, 3, exclude_self=True), -np.sort(-own, axis=1)[:, :3].mean(1),
                               atol=1e-6)


@pytest.mark.parametrize("pool", [False, True])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_csls_equals_the_dense_formula(pool, exclude_self):
    rng = np.random.default_rng(8)
    A = rng.normal(size=(120, 10)).astype(np.float32)
    B = A if exclude_self else rng.normal(size=(90, 10)).astype(np.float32)
    P = rng.normal(size=(200, 10)).astype(np.float32) if pool else None
    C = dense(unit(A), unit(B), exclude_self)
    r_t = -np.sort(-C, axis=1)[:, :4].mean(1)
    Cp = dense(unit(B), unit(A), exclude_self) if P is None else dense(unit(B), unit(P))
    r_s = -np.sort(-Cp, axis=1)[:, :4].mean(1)
    ref = 2 * C - r_t[:, None] - r_s[None, :]
    got = csls_top_k(A, B, 6, csls_k=4, source_pool=P, exclude_self=exclude_self, block_size=16, target_block_size=40)
    ref_v, ref_i = brute_top(ref, 6)
    np.testing.assert_allclose(got.values, ref_v, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(ref, got.indices, 1), ref_v, atol=1e-5)


@pytest.mark.parametrize("exclude_self", [False, True])
def test_inverted_softmax_equals_the_dense_formula(exclude_self):
    rng = np.random.default_rng(9)
    T = rng.normal(size=(80, 10)).astype(np.float32)
    P = T if exclude_self else rng.normal(size=(230, 10)).astype(np.float32)
    C = dense(unit(T), unit(P), exclude_self)
    ref = logsumexp(25.0 * C, axis=1)
    for opts in (dict(), dict(block_size=7, target_block_size=13)):
        np.testing.assert_allclose(isf_log_normalizer(T, P, 25.0, exclude_self=exclude_self, **opts), ref, rtol=1e-6)
    # retrieval by the inverted softmax: scale = temperature, the normaliser as the target offset
    Q = rng.normal(size=(30, 10)).astype(np.float32)
    lse = isf_log_normalizer(T, Q, 25.0)
    got = top_k(Q, T, 5, scale=25.0, target_offset=lse.astype(np.float32))
    score = 25.0 * dense(unit(Q), unit(T)) - logsumexp(25.0 * dense(unit(T), unit(Q)), axis=1)[None, :]
    np.testing.assert_allclose(got.values, brute_top(score, 5)[0], rtol=1e-5, atol=1e-4)


def test_gold_ranks_count_ties_against_the_gold():
    Q, T = integer_cloud(60, 4, 1), integer_cloud(200, 4, 2)
    gold = np.random.default_rng(3).integers(0, 200, size=60)
    S = dense(Q, T)
    g = S[np.arange(60), gold]
    expect = 1 + (S >= g[:, None]).sum(1) - 1  # others at least as high, the gold itself not counted
    for opts in (dict(), dict(block_size=7, target_block_size=30)):
        np.testing.assert_array_equal(gold_ranks(Q, T, gold, similarity="dot", **opts), expect)


def test_row_means_and_knn_target_means():
    rng = np.random.default_rng(3)
    B = rng.normal(size=(50, 7)).astype(np.float32)
    idx = rng.integers(0, 50, size=(9, 4))
    idx[0] = 5  # a repeated index counts as often as it appears
    np.testing.assert_allclose(row_means(B, idx), B[idx].mean(1), atol=1e-6)
    assert row_means(B, idx).dtype == np.float32 and row_means(B, idx).shape == (9, 7)
    A = rng.normal(size=(30, 7)).astype(np.float32)
    S = A @ B.T
    top3 = np.argsort(-S, axis=1)[:, :3]
    np.testing.assert_allclose(knn_target_means(A, B, 3, block_size=8), B[top3].mean(1), atol=1e-6)
    np.testing.assert_array_equal(knn_target_means(A, B, 1, block_size=8), B[S.argmax(1)])


@pytest.mark.parametrize("csls_k", [0, 5])
def test_mutual_nearest_neighbors(csls_k):
    rng = np.random.default_rng(10)
    A, B = rng.normal(size=(200, 8)).astype(np.float32), rng.normal(size=(150, 8)).astype(np.float32)
    C = dense(unit(A), unit(B))
    if csls_k:
        r_a, r_b = -np.sort(-C, axis=1)[:, :csls_k].mean(1), -np.sort(-C.T, axis=1)[:, :csls_k].mean(1)
        F, G = 2 * C - r_b[None, :], 2 * C.T - r_a[None, :]
    else:
        F, G = C, C.T
    got = mutual_nearest_neighbors(A, B, csls_k=csls_k)
    np.testing.assert_array_equal(got.forward, F.argmax(1))
    np.testing.assert_array_equal(got.backward, G.argmax(1))
    np.testing.assert_array_equal(got.mutual, G.argmax(1)[F.argmax(1)] == np.arange(200))
    assert mutual_nearest_neighbors(A, A).mutual.all()


def test_topk_knn_mean_and_unit_rows_lazy():
    t = TopK(np.array([[0.9, 0.5, 0.1]], np.float32), np.array([[2, 0, 1]]))
    np.testing.assert_allclose(t.knn_mean(2), [0.7])
    np.testing.assert_allclose(t.knn_mean(), [0.5])
    X = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    U = unit_rows_lazy(X)
    np.testing.assert_allclose(U, [[0.6, 0.8], [0, 0]])
    assert unit_rows_lazy(U) is U


# ------------------------------------------------------------------ memory budget
@pytest.mark.parametrize("n_q,n_t,mb,threads", [(200_000, 200_000, 512, 1), (10, 5_000_000, 64, 2),
                                                (1_000_000, 3, 1, 4), (5, 5, 512, 1), (20_000, 20_000, 512, 2)])
def test_tile_shape_fits_the_budget(n_q, n_t, mb, threads):
    rows, cols = tile_shape(n_q, n_t, mb, n_threads=threads)
    assert 1 <= rows <= min(n_q, MAX_TILE_ROWS) and 1 <= cols <= n_t
    assert threads * rows * cols * BYTES_PER_PAIR <= max(mb * 2**20, threads * 64 * cols * BYTES_PER_PAIR)
    if n_q >= 64 * threads:
        assert -(-n_q // rows) >= threads  # a tile for every thread


@pytest.mark.parametrize("n_q,threads,multiple", [(10_071, 2, 32), (10_071, 2, 1), (8_000, 4, 32), (20_000, 2, 1),
                                                   (4_100, 3, 32), (30_001, 2, 32)])
def test_tiles_come_in_a_multiple_of_the_threads_of_about_equal_size(n_q, threads, multiple):
    """No thread idles for a round while the others finish (10,071 rows were 5 tiles of 2,048 on 2 threads)."""
    big = tile_shape(n_q, 1000, 1 << 20, n_threads=1)[0]  # the rows a tile may hold
    rows, _ = tile_shape(n_q, 1000, 1 << 20, n_threads=threads, row_multiple=multiple)
    tiles = -(-n_q // rows)
    assert rows % multiple == 0 and rows <= big and tiles % threads == 0, (rows, tiles)
    assert n_q - (tiles - 1) * rows >= rows - multiple * tiles  # the last tile is not a remnant


def test_results_do_not_depend_on_the_budget():
    rng = np.random.default_rng(11)
    Q, T = rng.normal(size=(333, 16)).astype(np.float32), rng.normal(size=(4000, 16)).astype(np.float32)
    ref = top_k(Q, T, 10)
    for mb in (0.01, 0.5, 4096):
        got = top_k(Q, T, 10, compute=Compute(memory_mb=mb))
        np.testing.assert_array_equal(got.indices, ref.indices)
        np.testing.assert_array_equal(got.values, ref.values)


# ------------------------------------------------------------------ errors and the compute context
def test_kernel_errors_say_what_is_wrong():
    Q = np.ones((3, 2), np.float32)
    with pytest.raises(DimensionError, match="2-d but targets are 3-d"):
        top_k(Q, np.ones((4, 3), np.float32), 1)
    with pytest.raises(ParameterError, match="k must be a whole number >= 1"):
        top_k(Q, Q, 0)
    with pytest.raises(ParameterError, match="similarity must be"):
        top_k(Q, Q, 1, similarity="euclid")
    with pytest.raises(VecbridgeError, match="exclude_self leaves none"):
        top_k(Q[:1], Q[:1], 1, exclude_self=True)
    with pytest.raises(ParameterError, match="temperature"):
        isf_log_normalizer(Q, Q, 0.0)
    with pytest.raises(DimensionError, match="target_offset"):
        top_k(Q, Q, 1, target_offset=np.zeros(5, np.float32))


@pytest.mark.parametrize("kwargs,match", [
    (dict(backend="cuda"), "backend must be one of"),
    (dict(backend="numpy", device="cuda"), "numpy backend runs on the CPU"),
    (dict(device=""), "device must be"),
    (dict(n_jobs=0), "n_jobs must be a whole number"),
    (dict(n_jobs=2.5), "n_jobs must be a whole number"),
    (dict(n_jobs=True), "n_jobs must be a whole number"),
    (dict(memory_mb=0), "memory_mb must be a positive number"),
    (dict(memory_mb=float("nan")), "memory_mb must be a positive number"),
    (dict(memory_mb="512"), "memory_mb must be a positive number"),
    (dict(progress="yes"), "progress must be True, False or None"),
])
def test_compute_rejects_bad_values(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        Compute(**kwargs)


def test_compute_context():
    c = Compute(n_jobs=3, memory_mb=64, progress=False)
    assert c.n_threads() == 3 and Compute().n_threads() >= 1
    assert Compute().resolve_backend() == "numpy" and resolve_backend("torch") == "torch"
    with pytest.raises(ParameterError):
        Compute(backend="torch", device="cuda:7").resolve_backend()  # no such device here
    with pytest.raises(Exception):
        c.n_jobs = 2  # frozen
    assert as_compute(None) == Compute()
    assert as_compute(c, progress=True) == Compute(n_jobs=3, memory_mb=64, progress=True)
    assert as_compute(c, backend=None, n_jobs=None) is c
    with pytest.raises(ParameterError, match="compute must be"):
        as_compute("numpy")
    with c.threads(10) as run:
        assert run(lambda x: x * x, range(5)) == [0, 1, 4, 9, 16]


def test_progress_follows_the_context(capsys):
    Q = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    top_k(Q, Q, 2, compute=Compute(progress=True), desc="my neighbours")
    assert "my neighbours" in capsys.readouterr().err
    top_k(Q, Q, 2, compute=Compute(progress=False))
    top_k(Q, Q, 2)  # None: small passes never show a bar
    assert capsys.readouterr().err == ""
