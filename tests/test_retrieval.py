"""Blocked retrieval: hand-checked NN / CSLS / ISF, and blocked == brute force on random data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from vecbridge import Embeddings
from vecbridge.errors import DimensionError, VecbridgeError
from vecbridge.neighbors import BYTES_PER_PAIR
from vecbridge.retrieval import (
    block_sizes,
    canonical_method,
    knn_mean_similarity,
    nearest_neighbors,
    rank_of,
    unit_rows_lazy,
)

# ------------------------------------------------------------------ the hand example
# Three queries and four targets in 2-D, all of unit length, chosen so that every
# cosine is a short decimal:
#   q0 = (0, 1)      q1 = (0.96, -0.28)      q2 = (0, -1)
#   t0 = (0.96, 0.28)  t1 = (0.8, -0.6)  t2 = (0.6, 0.8)  t3 = (0.28, 0.96)
# cos(q, t), rows q0..q2, columns t0..t3:
#   q0:  0.28    -0.6    0.8     0.96
#   q1:  0.8432   0.936  0.352   0.0      (0.96*0.96 - 0.28*0.28 = 0.8432; 0.768 + 0.168 = 0.936; ...)
#   q2: -0.28     0.6   -0.8    -0.96
# t1 is a hub: the nearest target of both q1 and q2.
Q = np.array([[0.0, 1.0], [0.96, -0.28], [0.0, -1.0]], dtype=np.float32)
T = np.array([[0.96, 0.28], [0.8, -0.6], [0.6, 0.8], [0.28, 0.96]], dtype=np.float32)
COS = np.array(
    [
        [0.28, -0.6, 0.8, 0.96],
        [0.8432, 0.936, 0.352, 0.0],
        [-0.28, 0.6, -0.8, -0.96],
    ]
)


def test_hand_example_nn():
    idx, sc = nearest_neighbors(Q, T, k=4)
    assert idx.tolist() == [[3, 2, 0, 1], [1, 0, 2, 3], [1, 0, 2, 3]]
    expect = [[0.96, 0.8, 0.28, -0.6], [0.936, 0.8432, 0.352, 0.0], [0.6, -0.28, -0.8, -0.96]]
    np.testing.assert_allclose(sc, expect, atol=1e-6)
    assert idx.dtype == np.int64 and sc.dtype == np.float32


def test_hand_example_knn_mean_similarity():
    # csls_k = 2. r_T (each query's two best targets):
    #   q0: (0.96 + 0.8)/2 = 0.88   q1: (0.936 + 0.8432)/2 = 0.8896   q2: (0.6 - 0.28)/2 = 0.16
    # r_S (each target's two best queries):
    #   t0: (0.8432 + 0.28)/2 = 0.5616   t1: (0.936 + 0.6)/2 = 0.768
    #   t2: (0.8 + 0.352)/2 = 0.576      t3: (0.96 + 0)/2 = 0.48
    np.testing.assert_allclose(knn_mean_similarity(Q, T, 2), [0.88, 0.8896, 0.16], atol=1e-6)
    np.testing.assert_allclose(knn_mean_similarity(T, Q, 2), [0.5616, 0.768, 0.576, 0.48], atol=1e-6)


def test_hand_example_csls_demotes_the_hub():
    # CSLS = 2 cos - r_T(q) - r_S(t), from the numbers above:
    #   q0: t0 0.56-0.88-0.5616 = -0.8816     t1 -1.2-0.88-0.768 = -2.848
    #       t2 1.6-0.88-0.576 = 0.144         t3 1.92-0.88-0.48 = 0.56
    #   q1: t0 1.6864-0.8896-0.5616 = 0.2352  t1 1.872-0.8896-0.768 = 0.2144
    #       t2 0.704-0.8896-0.576 = -0.7616   t3 0-0.8896-0.48 = -1.3696
    #   q2: t0 -0.56-0.16-0.5616 = -1.2816    t1 1.2-0.16-0.768 = 0.272
    #       t2 -1.6-0.16-0.576 = -2.336       t3 -1.92-0.16-0.48 = -2.56
    # So q1's best target moves from the hub t1 (NN) to t0; q2 keeps t1.
    idx, sc = nearest_neighbors(Q, T, k=4, method="csls", csls_k=2)
    assert idx.tolist() == [[3, 2, 0, 1], [0, 1, 2, 3], [1, 0, 2, 3]]
    np.testing.assert_allclose(
        sc,
        [[0.56, 0.144, -0.8816, -2.848], [0.2352, 0.2144, -0.7616, -1.3696], [0.272, -1.2816, -2.336, -2.56]],
        atol=1e-5,
    )


def test_hand_example_inverted_softmax_demotes_the_hub():
    # temperature b = 10, pool = the queries. log P(t | q) = b cos(q, t) - log sum_q' exp(b cos(q', t)):
    #   q1, t1: 9.36 - log(e^-6 + e^9.36 + e^6)       = -log(1 + e^-15.36 + e^-3.36)  = -0.03415
    #   q1, t0: 8.432 - log(e^2.8 + e^8.432 + e^-2.8) = -log(1 + e^-5.632 + e^-11.232) = -0.00359
    # so q1 prefers t0 over the hub t1, as with CSLS.
    idx, sc = nearest_neighbors(Q, T, k=4, method="isf", isf_temperature=10.0)
    assert idx[1, :2].tolist() == [0, 1]
    expect_q1_t1 = -np.log(1 + np.exp(-15.36) + np.exp(-3.36))
    expect_q1_t0 = -np.log(1 + np.exp(-5.632) + np.exp(-11.232))
    np.testing.assert_allclose(sc[1, :2], [expect_q1_t0, expect_q1_t1], atol=1e-5)
    np.testing.assert_allclose(sc[1, :2], [-0.00359, -0.03415], atol=1e-5)
    # every score is the formula applied to the cosine table
    full = 10 * COS - logsumexp(10 * COS, axis=0)
    np.testing.assert_allclose(sc, np.take_along_axis(full, idx, axis=1), atol=1e-5)


def test_rank_of_hand_example():
    # gold targets: q0 -> t3 (its NN), q1 -> t0 (second by cosine, first by CSLS), q2 -> t1
    assert rank_of(Q, T, [3, 0, 1]).tolist() == [1, 2, 1]
    assert rank_of(Q, T, [3, 0, 1], method="csls", csls_k=2).tolist() == [1, 1, 1]
    assert rank_of(Q, T, [1, 3, 3]).tolist() == [4, 4, 4]


# ------------------------------------------------------------------ brute-force references
def unit(X):
    X = np.asarray(X, dtype=np.float64)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(n > 0, n, 1)


def brute_scores(Qr, Tr, method, csls_k=10, temp=30.0, pool=None):
    Qn, Tn = unit(Qr), unit(Tr)
    Pn = Qn if pool is None else unit(pool)
    C = Qn @ Tn.T
    if method == "nn":
        return C
    if method == "csls":
        k_t = min(csls_k, Tn.shape[0])
        k_s = min(csls_k, Pn.shape[0])
        r_t = np.sort(C, axis=1)[:, -k_t:].mean(axis=1)
        r_s = np.sort(Tn @ Pn.T, axis=1)[:, -k_s:].mean(axis=1)
        return 2 * C - r_t[:, None] - r_s[None, :]
    return temp * C - logsumexp(temp * (Pn @ Tn.T), axis=0)[None, :]


def assert_matches_reference(idx, sc, ref, k, atol=2e-5):
    """Returned scores equal the reference's k best, and each index carries its rank's reference score."""
    ref_top = -np.sort(-ref, axis=1)[:, :k]
    np.testing.assert_allclose(sc, ref_top, atol=atol)
    np.testing.assert_allclose(np.take_along_axis(ref, idx, axis=1), ref_top, atol=atol)
    for row in idx:
        assert len(set(row.tolist())) == k  # no duplicates
    # where the reference has clear gaps, the order is exactly the reference's
    ref_idx = np.argsort(-ref, axis=1, kind="stable")[:, :k]
    gaps = np.diff(-np.sort(-ref, axis=1)[:, : k + 1], axis=1)
    clear = (np.abs(gaps) > 1e-4).all(axis=1)
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(idx[clear], ref_idx[clear])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(150, 12)).astype(np.float32) * rng.uniform(0.5, 3, size=(150, 1)).astype(np.float32)
    B = rng.normal(size=(97, 12)).astype(np.float32)
    P = rng.normal(size=(230, 12)).astype(np.float32)
    return A, B, P


BLOCKS = [(None, None), (1, None), (7, None), (64, 5), (1000, 1), (13, 40)]


@pytest.mark.parametrize("bs,tbs", BLOCKS)
@pytest.mark.parametrize("method", ["nn", "csls", "isf"])
def test_blocked_equals_brute_force(data, method, bs, tbs):
    A, B, _ = data
    idx, sc = nearest_neighbors(A, B, k=6, method=method, block_size=bs, target_block_size=tbs, progress=False)
    assert idx.shape == (150, 6) and sc.shape == (150, 6)
    assert_matches_reference(idx, sc, brute_scores(A, B, method), 6)


@pytest.mark.parametrize("method", ["nn", "csls", "isf"])
@pytest.mark.parametrize("bs,tbs", [(None, None), (17, 700), (64, 2011)])
def test_blocked_equals_brute_force_long_rows(method, bs, tbs):
    # long target rows take the grouped top-k path; 2011 leaves a tail after the groups
    rng = np.random.default_rng(21)
    A = rng.normal(size=(70, 8)).astype(np.float32)
    B = rng.normal(size=(2011, 8)).astype(np.float32)
    idx, sc = nearest_neighbors(A, B, k=12, method=method, block_size=bs, target_block_size=tbs)
    assert_matches_reference(idx, sc, brute_scores(A, B, method), 12)
    C = unit(A) @ unit(B).T
    got = knn_mean_similarity(A, B, 10, block_size=bs, target_block_size=tbs)
    np.testing.assert_allclose(got, np.sort(C, axis=1)[:, -10:].mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("bs,tbs", [(None, None), (5, 3), (150, 1)])
@pytest.mark.parametrize("method", ["csls", "isf"])
def test_source_pool_is_used(data, method, bs, tbs):
    A, B, P = data
    idx, sc = nearest_neighbors(A, B, k=5, method=method, source_pool=P, csls_k=4, isf_temperature=12.0,
                                block_size=bs, target_block_size=tbs)
    ref = brute_scores(A, B, method, csls_k=4, temp=12.0, pool=P)
    assert_matches_reference(idx, sc, ref, 5)
    # and the pool matters: with the queries as pool the scores differ
    _, sc_q = nearest_neighbors(A, B, k=5, method=method, csls_k=4, isf_temperature=12.0)
    assert not np.allclose(sc, sc_q, atol=1e-3)


def test_small_memory_budget_forces_target_blocks(data):
    A, B, _ = data
    bq, bt = block_sizes(150, 97, memory_budget_mb=0.01)
    assert bt < 97
    idx, sc = nearest_neighbors(A, B, k=4, method="csls", memory_budget_mb=0.01)
    assert_matches_reference(idx, sc, brute_scores(A, B, "csls"), 4)


@pytest.mark.parametrize(
    "n_a,n_b,budget", [(200_000, 200_000, 512), (10, 5_000_000, 64), (1_000_000, 3, 1), (5, 5, 512)]
)
def test_block_sizes_fit_the_budget(n_a, n_b, budget):
    bq, bt = block_sizes(n_a, n_b, memory_budget_mb=budget)
    assert 1 <= bq <= n_a and 1 <= bt <= n_b
    assert bq * bt * BYTES_PER_PAIR <= max(budget * 2**20, 64 * BYTES_PER_PAIR)


@pytest.mark.parametrize("bs,tbs", [(None, None), (3, 4)])
def test_knn_mean_similarity_matches_brute(data, bs, tbs):
    A, B, _ = data
    got = knn_mean_similarity(A, B, 5, block_size=bs, target_block_size=tbs)
    C = unit(A) @ unit(B).T
    np.testing.assert_allclose(got, np.sort(C, axis=1)[:, -5:].mean(axis=1), atol=1e-6)
    assert got.dtype == np.float32 and got.shape == (150,)
    # exclude_self on one set against itself leaves the diagonal out
    got_self = knn_mean_similarity(A, A, 3, exclude_self=True, block_size=bs, target_block_size=tbs)
    C = unit(A) @ unit(A).T
    np.fill_diagonal(C, -np.inf)
    np.testing.assert_allclose(got_self, np.sort(C, axis=1)[:, -3:].mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("method", ["nn", "csls", "isf"])
def test_exclude_self(data, method):
    A = data[0][:60]
    idx, sc = nearest_neighbors(A, A, k=5, method=method, exclude_self=True, block_size=7, target_block_size=11)
    assert not (idx == np.arange(60)[:, None]).any()
    # reference: self pairs removed from everything
    An = unit(A)
    C = An @ An.T
    np.fill_diagonal(C, -np.inf)
    if method == "nn":
        ref = C
    elif method == "csls":
        r = np.sort(C, axis=1)[:, -10:].mean(axis=1)
        ref = 2 * C - r[:, None] - r[None, :]
    else:
        ref = 30 * C - logsumexp(30 * C, axis=0)[None, :]
    assert_matches_reference(idx, sc, ref, 5)
    # without exclusion each row finds itself first under cosine
    idx_all, _ = nearest_neighbors(A, A, k=1)
    assert (idx_all[:, 0] == np.arange(60)).all()


def test_zero_rows_stay_zero():
    targets = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    queries = np.array([[0.0, 0.0], [3.0, 0.0]], dtype=np.float32)
    idx, sc = nearest_neighbors(queries, targets, k=3)
    np.testing.assert_allclose(sc[0], [0, 0, 0])  # a zero query is at cosine 0 from everything
    assert idx[1].tolist() == [0, 1, 2] and np.allclose(sc[1], [1, 0, 0])
    # a zero query's gold ties with every target and so ranks last, not first
    assert rank_of(queries, targets, [0, 0]).tolist() == [3, 1]


def test_unit_rows_lazy_copies_only_when_needed():
    X = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    U = unit_rows_lazy(X)
    np.testing.assert_allclose(U, [[0.6, 0.8], [0, 0]])
    assert unit_rows_lazy(U) is U


def test_rank_of_matches_brute(data):
    A, B, _ = data
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 97, size=150)
    for method in ("nn", "csls", "isf"):
        ref = brute_scores(A, B, method)
        g = ref[np.arange(150), gold]
        expect = 1 + (ref > g[:, None] + 1e-5).sum(axis=1)
        got = rank_of(A, B, gold, method=method, block_size=16, target_block_size=30)
        np.testing.assert_array_equal(got, expect)
    # identity: every vector's own copy is rank 1
    assert (rank_of(A, A, np.arange(150)) == 1).all()


def test_k_is_capped_and_embeddings_accepted():
    e = Embeddings.from_array(T, keys=["a", "b", "c", "d"])
    idx, sc = nearest_neighbors(Embeddings.from_array(Q), e, k=50)
    assert idx.shape == (3, 4)
    idx, _ = nearest_neighbors(T, T, k=50, exclude_self=True)
    assert idx.shape == (4, 3)


def test_errors_are_clear():
    with pytest.raises(DimensionError, match="2-d but targets are 3-d"):
        nearest_neighbors(Q, np.ones((4, 3), np.float32))
    with pytest.raises(VecbridgeError, match="unknown retrieval method 'foo'"):
        nearest_neighbors(Q, T, method="foo")
    with pytest.raises(VecbridgeError, match="k must be a whole number >= 1"):
        nearest_neighbors(Q, T, k=0)
    with pytest.raises(VecbridgeError, match=r"gold_index\[1\] = 9"):
        rank_of(Q, T, [0, 9, 1])
    with pytest.raises(VecbridgeError, match="NaN"):
        nearest_neighbors(np.array([[np.nan, 1.0]]), T)
    with pytest.raises(VecbridgeError, match="isf_temperature"):
        nearest_neighbors(Q, T, method="isf", isf_temperature=0)
    assert canonical_method("Cosine") == "nn" and canonical_method("inverted-softmax") == "isf"


def test_progress_bar_can_be_forced_and_silenced(capsys):
    nearest_neighbors(Q, T, k=2, progress=True)
    assert "neighbours" in capsys.readouterr().err
    nearest_neighbors(Q, T, k=2, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("method", ["nn", "csls", "isf"])
def test_rank_of_counts_a_duplicate_of_the_gold_as_a_tie(method):
    """Two identical targets tie exactly, although the gold's score and the others' come from different float32
    products: the tie counts against the gold (the rank is 2, not 1 by a rounding bit)."""
    Qd = np.array([[-2, -1, -2], [-1, 0, 2]], np.float32)
    Td = np.array([[-1, 1, 2], [-1, 1, 2]], np.float32)
    assert rank_of(Qd, Td, [0, 0], method=method, csls_k=1).tolist() == [2, 2]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 384)).astype(np.float32)
    Y = np.repeat(X, 2, axis=0)  # every target twice: a perfect map ranks each gold second
    assert rank_of(X, Y, np.arange(0, 80, 2), method=method).tolist() == [2] * 40
