"""Evaluation: multi-gold precision, coverage counts, hit rate, paired metrics, a translator end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings, make_translator
from vecbridge.errors import DimensionError, VecbridgeError
from vecbridge.evaluation import dictionary_precision, evaluate_translator, hit_rate, paired_metrics
from vecbridge.retrieval import nearest_neighbors


def angle(deg: float) -> list[float]:
    r = np.radians(deg)
    return [float(np.cos(r)), float(np.sin(r))]


# Target words on the unit circle; mapped source words placed between them so that
# the neighbour order of every query is known by looking at the angles.
TGT = Embeddings.from_array(
    np.array([angle(a) for a in (0, 20, 45, 90, 150, 200)], dtype=np.float32),
    keys=["zero", "twenty", "fortyfive", "ninety", "onefifty", "twohundred"],
)
# angular distances (deg) give the neighbour order:
# "a" at 18: twenty 2, zero 18, fortyfive 27, ninety 72, onefifty 132, twohundred 178
# "b" at 84: ninety 6, fortyfive 39, twenty 64, onefifty 66, zero 84, twohundred 116
# "c" at 160: onefifty 10, twohundred 40, ninety 70, fortyfive 115, twenty 140, zero 160
# "d" at 300: only in the vocabulary, never tested
SRC = Embeddings.from_array(
    np.array([angle(18), angle(84), angle(160), angle(300)], dtype=np.float32), keys=["a", "b", "c", "d"]
)


def test_neighbour_order_of_the_fixture():
    idx, _ = nearest_neighbors(SRC, TGT, k=3)
    names = [[TGT.keys[i] for i in row] for row in idx]
    assert names[0] == ["twenty", "zero", "fortyfive"]
    assert names[1] == ["ninety", "fortyfive", "twenty"]
    assert names[2] == ["onefifty", "twohundred", "ninety"]


def test_multi_gold_precision():
    pairs = [
        ("a", "zero"),  # second neighbour of a ...
        ("a", "ninety"),  # ... and its fourth: a is a hit at 2 and 5, not at 1
        ("b", "ninety"),  # first neighbour: hit at 1
        ("b", "zero"),  # fifth
        ("c", "zero"),  # last (sixth): a miss at every k below 6
    ]
    res = dictionary_precision(SRC, TGT, pairs, ks=(1, 2, 5))
    # first gold position: a 2 (zero), b 1 (ninety), c 6 (zero)
    idx, _ = nearest_neighbors(SRC, TGT, k=6)
    pos_c = [TGT.keys[i] for i in idx[2]].index("zero") + 1
    assert pos_c == 6
    assert res["p_at_1"] == pytest.approx(1 / 3)
    assert res["p_at_2"] == pytest.approx(2 / 3)
    assert res["p_at_5"] == pytest.approx(2 / 3)
    assert res["n_test_words"] == 3 and res["n_covered"] == 3 and res["coverage"] == 1.0
    assert res["n_test_pairs"] == 5 and res["retrieval"] == "nn"
    # any gold counts: adding the right answer as a second gold turns c into a hit at 1
    res2 = dictionary_precision(SRC, TGT, pairs + [("c", "onefifty")], ks=(1,))
    assert res2["p_at_1"] == pytest.approx(2 / 3)
    json.dumps(res)


def test_default_ks_keys():
    res = dictionary_precision(SRC, TGT, [("a", "twenty")])
    assert {"p_at_1", "p_at_5", "p_at_10"} <= set(res)
    assert res["p_at_1"] == 1.0


def test_coverage_counts_missing_keys():
    pairs = [
        ("a", "twenty"),  # covered, hit@1
        ("a", "nowhere"),  # a gold missing from the target, but a is still covered
        ("b", "nowhere"),  # b's only gold is missing: missing target
        ("zzz", "zero"),  # source word missing
        ("yyy", "nowhere"),  # both missing: counted as missing source
        ("c", "zero"),  # covered, miss at 1
    ]
    res = dictionary_precision(SRC, TGT, pairs, ks=(1,))
    assert res["n_test_words"] == 5
    assert res["n_covered"] == 2
    assert res["n_missing_source"] == 2
    assert res["n_missing_target"] == 1
    assert res["n_gold_missing"] == 1
    assert res["coverage"] == pytest.approx(2 / 5)
    assert res["p_at_1"] == pytest.approx(1 / 2)  # over covered words only
    assert res["examples_missing_source"] == ["zzz", "yyy"]
    assert res["examples_missing_target"] == ["b"]


def test_nothing_covered_gives_none_not_zero():
    res = dictionary_precision(SRC, TGT, [("zzz", "zero")])
    assert res["p_at_1"] is None and res["coverage"] == 0.0 and res["n_missing_source"] == 1
    json.dumps(res)


def test_csls_pool_defaults_to_the_whole_mapped_vocabulary():
    rng = np.random.default_rng(0)
    src = Embeddings.from_array(rng.normal(size=(40, 6)).astype(np.float32), keys=[f"s{i}" for i in range(40)])
    tgt = Embeddings.from_array(rng.normal(size=(30, 6)).astype(np.float32), keys=[f"t{i}" for i in range(30)])
    pairs = [(f"s{i}", f"t{i}") for i in range(10)]
    whole = dictionary_precision(src, tgt, pairs, retrieval="csls", ks=(1, 3))
    explicit = dictionary_precision(src, tgt, pairs, retrieval="csls", ks=(1, 3), source_pool=src)
    assert whole == explicit
    # and it is what the retrieval computes with the whole vocabulary as the pool
    idx, _ = nearest_neighbors(src.vectors[:10], tgt.vectors, k=3, method="csls", source_pool=src.vectors)
    assert whole["p_at_3"] == pytest.approx(np.mean((idx == np.arange(10)[:, None]).any(axis=1)))
    assert whole["retrieval"] == "csls" and whole["csls_k"] == 10


def test_dimension_mismatch_is_reported():
    other = Embeddings.from_array(np.ones((3, 5), np.float32))
    with pytest.raises(DimensionError, match="2-d but target"):
        dictionary_precision(SRC, other, [("a", "0")])


# ------------------------------------------------------------------ hit rate
def test_hit_rate_same_vocabulary():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 8)).astype(np.float32)
    keys = [f"w{i}" for i in range(50)]
    src = Embeddings.from_array(X, keys=keys)
    tgt = Embeddings.from_array(X[:45] + 0.01 * rng.normal(size=(45, 8)).astype(np.float32), keys=keys[:45])
    res = hit_rate(src, tgt)
    assert res["hit_at_1"] == 1.0 and res["n_keys"] == 45 and res["coverage"] == 1.0
    # explicit keys: missing ones are counted
    res = hit_rate(src, tgt, keys=["w0", "w1", "w47", "nope"], ks=(1,))
    assert res["n_keys"] == 4 and res["n_covered"] == 2
    assert res["n_missing_source"] == 1 and res["n_missing_target"] == 1
    assert res["coverage"] == 0.5 and res["hit_at_1"] == 1.0
    # an unrelated "mapping" hits about 1 in 45 at rank 1
    noise = Embeddings.from_array(rng.normal(size=(50, 8)).astype(np.float32), keys=keys)
    assert hit_rate(noise, tgt, ks=(1,))["hit_at_1"] < 0.2


# ------------------------------------------------------------------ paired metrics
@pytest.fixture(scope="module")
def paired_data():
    rng = np.random.default_rng(5)
    return rng.normal(size=(400, 16)).astype(np.float32)


@pytest.mark.parametrize("retrieval", ["nn", "csls", "isf"])
def test_paired_perfect_match(paired_data, retrieval):
    res = paired_metrics(paired_data, paired_data * 2.0, retrieval=retrieval)
    assert res["foscttm"] == 0.0
    assert res["top1"] == 1.0
    assert res["mean_rank"] == 1.0
    assert res["mrr"] == 1.0
    assert res["mean_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert res["n"] == 400 and res["retrieval"] == retrieval
    json.dumps(res)


def test_paired_reversed_and_shuffled_are_chance(paired_data):
    X = paired_data
    rev = paired_metrics(X, X[::-1])
    assert rev["foscttm"] == pytest.approx(0.5, abs=0.05)
    perm = np.random.default_rng(0).permutation(len(X))
    shuf = paired_metrics(X, X[perm])
    assert shuf["foscttm"] == pytest.approx(0.5, abs=0.05)
    assert shuf["top1"] < 0.05
    assert shuf["mean_rank"] == pytest.approx(200, rel=0.15)


def test_paired_noisy_is_between(paired_data):
    X = paired_data
    noisy = X + 0.8 * np.random.default_rng(2).normal(size=X.shape).astype(np.float32)
    res = paired_metrics(noisy, X)
    assert 0.0 < res["foscttm"] < 0.1
    assert 0.2 < res["top1"] < 1.0
    assert 0.0 <= res["foscttm"] <= 1.0 and 0.0 <= res["top1"] <= 1.0


def test_paired_zero_output_is_not_rewarded(paired_data):
    res = paired_metrics(np.zeros_like(paired_data), paired_data)
    assert res["top1"] == 0.0 and res["foscttm"] >= 0.5 and res["mean_cosine"] == 0.0


def test_paired_length_mismatch(paired_data):
    with pytest.raises(DimensionError, match="400 and 399"):
        paired_metrics(paired_data, paired_data[:399])


# ------------------------------------------------------------------ a translator end to end
@pytest.fixture(scope="module")
def rotated():
    rng = np.random.default_rng(11)
    d, n = 10, 120
    X = rng.normal(size=(n, d)).astype(np.float32)
    Qm, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Y = (X @ Qm).astype(np.float32)
    src = Embeddings.from_array(X, keys=[f"w{i}" for i in range(n)], name="src")
    tgt = Embeddings.from_array(Y, keys=[f"w{i}" for i in range(n)], name="tgt")
    t = make_translator("procrustes").fit(src.head(80), tgt.head(80))
    return t, src, tgt


def test_evaluate_translator_dictionary_mode(rotated):
    t, src, tgt = rotated
    pairs = [(f"w{i}", f"w{i}") for i in range(80, 120)] + [("missing", "w1")]
    res = evaluate_translator(t, src, tgt, pairs=pairs, retrieval="csls")
    assert res["mode"] == "dictionary" and res["method"] == "procrustes"
    assert res["p_at_1"] == 1.0 and res["n_missing_source"] == 1 and res["n_covered"] == 40
    json.dumps(res)


def test_evaluate_translator_hit_rate_mode(rotated):
    t, src, tgt = rotated
    res = evaluate_translator(t, src, tgt)
    assert res["mode"] == "hit_rate" and res["hit_at_1"] == 1.0 and res["n_keys"] == 120


def test_evaluate_translator_paired_mode(rotated):
    t, src, tgt = rotated
    res = evaluate_translator(t, src.vectors[80:], tgt.vectors[80:], paired=True)
    assert res["mode"] == "paired" and res["top1"] == 1.0 and res["foscttm"] == 0.0
    with pytest.raises(DimensionError, match="as many source rows as target rows"):
        evaluate_translator(t, src, tgt.head(100), paired=True)
    with pytest.raises(VecbridgeError, match="not both"):
        evaluate_translator(t, src, tgt, pairs=[("w1", "w1")], paired=True)
    with pytest.raises(VecbridgeError, match="keyed Embeddings"):
        evaluate_translator(t, src.vectors, tgt.vectors)


def test_a_zero_query_ranks_last_under_every_retrieval_method():
    import numpy as np

    from vecbridge.evaluation import paired_metrics
    from vecbridge.retrieval import rank_of

    V = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    M = V.copy()
    M[0] = 0
    for method in ("nn", "csls", "isf"):
        assert rank_of(M, V, np.arange(8), method=method, source_pool=M)[0] == 8
    for retrieval in ("nn", "csls"):
        assert paired_metrics(M, V, retrieval=retrieval)["top1"] == 0.875


def test_retrieval_and_evaluation_arguments_are_checked():
    import numpy as np
    import pytest

    from vecbridge import Embeddings
    from vecbridge.errors import DimensionError, ParameterError, VecbridgeError
    from vecbridge.evaluation import dictionary_precision, hit_rate
    from vecbridge.retrieval import knn_mean_similarity, nearest_neighbors

    V = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    for k in (float("nan"), 0.5, 2.7, 2.0, True, "3", 0):
        with pytest.raises(ParameterError, match="k must be a whole number >= 1"):
            nearest_neighbors(V, V, k=k)
    assert nearest_neighbors(V, V, k=np.int64(2))[0].shape == (6, 2)
    with pytest.raises(DimensionError, match="1 queries and 6 targets"):
        nearest_neighbors(V[:1], V, k=1, exclude_self=True)
    with pytest.raises(DimensionError, match="6 queries and 5 targets"):
        knn_mean_similarity(V, V[:5], k=1, exclude_self=True)
    S = Embeddings([f"w{i}" for i in range(6)], V)
    with pytest.raises(VecbridgeError, match="whole-number cut-offs"):
        dictionary_precision(S, S, [("w1", "w1")], ks=(1.5,))
    with pytest.raises(VecbridgeError, match="single string"):
        hit_rate(S, S, keys="w1")


def test_a_query_mapped_to_zero_is_a_miss_in_precision_and_hit_rate():
    """A mapped zero vector is tied with every target: a miss (as rank_of ranks it last), not a hit for the
    first target row by index order, under every retrieval method."""
    src = Embeddings.from_array(np.array([angle(18), [0.0, 0.0]], dtype=np.float32), keys=["a", "z"])
    for method in ("nn", "csls"):  # (with two queries, the inverted softmax saturates: every target ties)
        res = dictionary_precision(src, TGT, [("a", "twenty"), ("z", "zero")], ks=(1, 6), retrieval=method)
        assert res["p_at_1"] == 0.5 and res["p_at_6"] == 0.5, (method, res)
    zero = Embeddings.from_array(np.zeros((len(TGT), 2), np.float32), keys=TGT.keys)
    assert hit_rate(zero, TGT, ks=(1, 6))["hit_at_6"] == 0.0


def test_paired_metrics_on_a_test_set_that_holds_every_pair_twice():
    """Duplicated test rows tie exactly; ties count against the true match, so a perfect map has top-1 0 and
    mean rank 2 here (it used to read top-1 0.15 from float32 rounding)."""
    rng = np.random.default_rng(1)
    X = np.repeat(rng.normal(size=(20, 384)).astype(np.float32), 2, axis=0)
    m = paired_metrics(X, X.copy())
    assert m["top1"] == 0.0 and m["mean_rank"] == 2.0 and m["mean_cosine"] <= 1.0
