"""The shared verdict (vecbridge.verdict): random clouds are never aligned, a planted rotation is."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.errors import DimensionError
from vecbridge.clustering import euclidean_kmeans
from vecbridge.verdict import ALIGNED_FROM, MIN_MARGIN_SD, NOT_ALIGNED_BELOW, _decide, groups_rotated, judge_map


def _clustered(n, d, rng):
    c = rng.normal(size=(30, d)) * 2
    return (c[rng.integers(0, 30, n)] + rng.normal(size=(n, d))).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", ["gaussian", "clustered"])
def test_two_unrelated_random_clouds_are_not_aligned(seed, kind):
    rng = np.random.default_rng(seed)
    make = (lambda: rng.normal(size=(800, 40)).astype(np.float32)) if kind == "gaussian" else (lambda: _clustered(800, 40, rng))
    v = judge_map(make(), make(), n_eval=800)
    assert v.verdict == "not aligned"
    assert 0.0 <= v.confidence < ALIGNED_FROM


def test_a_map_that_pairs_the_clusters_of_unrelated_clouds_is_not_aligned():
    # spectral-match between two unrelated clouds of 30 clusters (1,500 x 50) finds a map that leads the
    # random and refined controls by 4 spreads (confidence 0.06 on this draw): it pairs clusters, no rows.
    # Judged "uncertain" before the grouped control
    from vecbridge import Embeddings, make_translator

    rng = np.random.default_rng(0)
    X, Y = _clustered(1500, 50, rng), _clustered(1500, 50, rng)
    keys = [f"r{i}" for i in range(1500)]
    fi = make_translator("spectral-match").fit(Embeddings(keys, X), Embeddings(keys, Y)).fit_info_
    assert fi["verdict"] == "not aligned" and fi["confidence"] < NOT_ALIGNED_BELOW
    # the decision itself: a small lead is not aligned however many spreads it is; a clear lead with a small
    # margin is uncertain (a planted rotation in few dimensions, where random starts find part of the map)
    assert _decide(NOT_ALIGNED_BELOW - 0.01, 20.0, "ranked") == "not aligned"
    assert _decide(NOT_ALIGNED_BELOW + 0.01, 1.0, "ranked") == "uncertain"
    assert _decide(ALIGNED_FROM, MIN_MARGIN_SD, "ranked") == "aligned"


@pytest.mark.parametrize("seed", [0, 1])
def test_samples_of_the_same_clusters_without_row_counterparts_are_not_aligned(seed):
    # both sides drawn around the same 30 centres, each row on its own: the identity lays the clusters on each
    # other and no row on its counterpart. Against random and refined maps it leads by 9-14 spreads ("aligned",
    # confidence 0.28-0.31); the grouped control keeps where the groups lie and beats it
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(30, 40)) * 2
    X, Y = ((C[rng.integers(0, 30, 1000)] + rng.normal(size=(1000, 40))).astype(np.float32) for _ in range(2))
    assert judge_map(X, Y, n_eval=1000, n_grouped=0).verdict == "aligned"
    v = judge_map(X, Y, n_eval=1000)
    assert v.verdict == "not aligned" and v.confidence < NOT_ALIGNED_BELOW
    assert sum("rotated about its centre" in k for k in v.controls_kind) == 2


def test_groups_rotated_keeps_where_groups_lie_and_moves_rows_inside_them():
    rng = np.random.default_rng(0)
    A = _clustered(300, 12, rng)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    # one row per group: nothing to turn
    assert np.allclose(groups_rotated(A, len(A), np.random.default_rng(1)), A, atol=1e-6)
    # one group of rows centred on the origin: the whole set turned, every cosine between rows kept
    B = A - A.mean(0)
    Z = groups_rotated(B, 1, np.random.default_rng(1))
    Bu = B / np.linalg.norm(B, axis=1, keepdims=True)
    assert np.allclose(Z @ Z.T, Bu @ Bu.T, atol=1e-5) and np.abs(Z - Bu).max() > 0.5
    # groups of about 15 rows: unit rows, moved inside their groups, each group's centre nearly kept
    Z = groups_rotated(A, 20, np.random.default_rng(1))
    assert np.allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5) and np.abs(Z - A).max() > 0.1
    _, labels = euclidean_kmeans(A, 20, np.random.default_rng(1), iters=15)
    for g in np.unique(labels):
        cz, ca = Z[labels == g].mean(0), A[labels == g].mean(0)
        assert cz @ ca / (np.linalg.norm(cz) * np.linalg.norm(ca)) > 0.95


def test_a_planted_rotation_is_aligned_and_the_numbers_are_documented():
    rng = np.random.default_rng(0)
    X = _clustered(800, 40, rng)
    R = np.linalg.qr(rng.normal(size=(40, 40)))[0].astype(np.float32)
    Y = X @ R + 0.3 * rng.normal(size=X.shape).astype(np.float32)
    v = judge_map(X @ R, Y, n_eval=800)
    assert v.verdict == "aligned" and v.confidence >= ALIGNED_FROM and v.margin_sd > 3
    d = v.as_dict()
    assert set(d) >= {"verdict", "confidence", "verdict_reason", "pairless_score", "verdict_details"}
    assert 0.0 <= d["confidence"] <= 1.0 and d["verdict_reason"]
    # the same spaces without the map (a wrong rotation) are not aligned
    assert judge_map(X, Y, n_eval=800).confidence < NOT_ALIGNED_BELOW + 0.05


def test_the_verdict_is_deterministic_and_checks_its_input():
    rng = np.random.default_rng(3)
    X, Y = _clustered(300, 20, rng), _clustered(300, 20, rng)
    assert judge_map(X, Y, seed=4).as_dict() == judge_map(X, Y, seed=4).as_dict()
    with pytest.raises(DimensionError):
        judge_map(X, Y[:, :10])


def _disjoint_samples(seed, n=900, d=20):
    """Two samples of *different* points of one clustered distribution, the second rotated: no row has a
    counterpart, as with sentences of two different text samples encoded by two models."""
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(30, d)) * 2

    def draw():
        return (C[rng.integers(0, 30, n)] + rng.normal(size=(n, d))).astype(np.float32)

    R = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    return draw(), draw() @ R, R, rng


@pytest.mark.parametrize("seed", [0, 1])
def test_on_unpaired_samples_the_right_map_is_aligned_and_wrong_ones_are_not(seed):
    X, Y, R, rng = _disjoint_samples(seed)
    right = judge_map(X @ R, Y, rows="sample", seed=seed)
    assert right.verdict == "aligned" and right.rows == "sample" and right.margin_sd >= 3
    # the ranked statistic (mutual matches) cannot see it: no row has a counterpart
    assert judge_map(X @ R, Y, seed=seed).confidence < right.confidence
    assert judge_map(X, Y, rows="sample", seed=seed).verdict == "not aligned"  # the wrong rotation
    other = (rng.normal(size=(30, 20))[rng.integers(0, 30, 900)] * 2 + rng.normal(size=(900, 20))).astype(np.float32)
    assert judge_map(other, Y, rows="sample", seed=seed).verdict == "not aligned"  # unrelated clusters


@pytest.mark.parametrize("seed", [0, 1])
def test_a_right_map_of_noisy_source_rows_is_not_called_garbage(seed):
    """Noise on the source rows (as large as the audit's noise defence) keeps every map from the target's own
    k-NN similarity; given the source rows, the ceiling is lowered by as much, so the right map still leads
    its controls clearly and a wrong one does not."""
    X, Y, R, rng = _disjoint_samples(seed)
    noisy = X + 2.0 * rng.normal(size=X.shape).astype(np.float32)
    right = judge_map(noisy @ R, Y, rows="sample", seed=seed, inputs=(noisy, Y))
    assert right.verdict != "not aligned" and right.margin_sd >= 3
    # without the source rows the ceiling is the target's own, out of the noisy map's reach
    assert judge_map(noisy @ R, Y, rows="sample", seed=seed).verdict == "not aligned"
    assert right.knn_similarity < judge_map(X @ R, Y, rows="sample", seed=seed, inputs=(X, Y)).knn_similarity
    assert judge_map(noisy, Y, rows="sample", seed=seed, inputs=(noisy, Y)).verdict == "not aligned"  # wrong map


def test_on_structureless_samples_nothing_is_aligned_and_confidence_is_zero():
    rng = np.random.default_rng(5)
    v = judge_map(rng.normal(size=(900, 20)), rng.normal(size=(900, 20)), rows="sample")
    assert v.verdict == "not aligned" and v.confidence == 0.0
    d = v.as_dict()["verdict_details"]
    assert d["rows"] == "sample" and len(d["controls"]) == 5 and "ceiling" in d


def test_rows_kind_and_bad_rows():
    from vecbridge import Embeddings
    from vecbridge.errors import VecbridgeError
    from vecbridge.verdict import rows_kind

    e = Embeddings(["a", "b"], np.eye(2, dtype=np.float32))
    assert rows_kind(e, e) == "ranked" and rows_kind(e.vectors, e) == "sample" and rows_kind(None, None) == "sample"
    rows_only = Embeddings(["0", "1"], np.eye(2, dtype=np.float32), {"format": "npy"})  # a .npy without keys
    assert rows_kind(rows_only, e) == "sample"
    with pytest.raises(VecbridgeError, match="rows must be one of"):
        judge_map(np.eye(30), np.eye(30), rows="sorted")


def test_pairless_methods_judge_arrays_as_samples():
    from vecbridge import make_translator

    from vecbridge.translators.auto import QUICK_PARAMS

    X, Y, R, _ = _disjoint_samples(2, n=600)
    t = make_translator("spectral-match", seed=0, **QUICK_PARAMS["spectral-match"]).fit(X, Y)
    assert t.fit_info_["verdict_details"]["rows"] == "sample"
    assert t.fit_info_["verdict"] in ("aligned", "uncertain", "not aligned")


def test_a_map_into_a_subspace_is_judged_inside_it():
    """Rows mapped into a subspace (an 8-d sample into 20-d) can sit on the target's densest directions without
    any correspondence; judged in the whole space the sample statistic would reward that. Inside the map's range
    the controls share the projection: a right map into a subspace is not refused, a wrong one is."""
    from vecbridge.verdict import spans_target

    X, Y, R, rng = _disjoint_samples(4)
    S = X[:, :8]  # an 8-d source: the first 8 coordinates of the distribution Y is drawn from (rotated)
    right = S @ R[:8]
    wrong = S @ np.linalg.qr(rng.normal(size=(20, 20)))[0][:8].astype(np.float32)
    assert not spans_target(right, Y) and not spans_target(wrong, Y) and spans_target(X @ R, Y)
    good, bad = judge_map(right, Y, rows="sample"), judge_map(wrong, Y, rows="sample")
    assert good.rows == bad.rows == "sample"
    assert good.verdict != "not aligned" and bad.verdict == "not aligned", (good.confidence, bad.confidence)


def test_the_ceiling_is_lowered_only_for_a_more_diffuse_source_and_never_inside_a_maps_range():
    """The spreads compared are the inputs' own (no map can change them); the ceiling is only ever lowered."""
    from vecbridge.normalize import unit_rows
    from vecbridge.verdict import judge_sample, onto_map_range, sample_ceiling, self_knn

    X, Y, R, rng = _disjoint_samples(4)
    noisy = X + 2.0 * rng.normal(size=X.shape).astype(np.float32)
    B, S, T = unit_rows(Y[:300] @ R.T), unit_rows(noisy[:300]), unit_rows(Y[:300])
    ratio = self_knn(S) / self_knn(T)
    assert ratio < 1 and sample_ceiling(B, S, T) == pytest.approx(self_knn(B) * np.sqrt(ratio))
    assert sample_ceiling(B, unit_rows(X[:300, :2]), T) == pytest.approx(self_knn(B))  # a tighter source: no change
    assert sample_ceiling(B) == pytest.approx(self_knn(B))
    # a map into a subspace chose the range it is judged in: there the ceiling is the target's own
    Sn = noisy[:, :8]
    mapped, target = onto_map_range(Sn @ R[:8], Y)
    held = slice(len(Y) - len(Y) // 3, len(Y))
    v = judge_map(Sn @ R[:8], Y, rows="sample", inputs=(Sn, Y))
    assert v.knn_similarity == pytest.approx(self_knn(unit_rows(target)[held]), abs=1e-6)
    with pytest.raises(Exception, match="one to one"):
        judge_sample(mapped, target, inputs=(Sn[:10], Y))


class _Rotation:
    """A fitted map as judge_translator sees one: ``_transform`` applies R, the target side is left as is."""

    def __init__(self, R):
        self.R = R

    def _transform(self, X):
        return X @ self.R

    def _transform_target(self, Y):
        return Y


def test_a_map_fitted_on_too_few_rows_per_dimension_is_uncertain_at_most():
    """With fewer than SAMPLE_ROWS_PER_DIM rows per side per dimension, a map fitted on the samples fits their
    density whether or not it is right (on BBC News at 2,000 sentences, 384-d, maps at chance reached the
    confidence of right ones): the verdict cannot confirm it, so "aligned" becomes "uncertain" and says why."""
    from vecbridge.verdict import SAMPLE_ROWS_PER_DIM, cap_small_sample, judge_translator

    X, Y, R, _ = _disjoint_samples(0, n=300, d=40)  # 300 rows < 10 x 40
    assert 300 < SAMPLE_ROWS_PER_DIM * 40
    raw = judge_map(X @ R, Y, rows="sample", seed=0, inputs=(X, Y))
    assert raw.verdict == "aligned"  # the statistic alone would confirm it
    v = judge_translator(_Rotation(R), X, Y, rows="sample", seed=0)
    assert v.verdict == "uncertain" and abs(v.confidence - raw.confidence) < 1e-4
    assert "300 rows per side" in v.reason and "400" in v.reason and v.as_dict()["verdict_details"]["note"]
    # a map that saw none of the rows (the identity in auto) is not capped, nor are ranked rows
    assert judge_translator(_Rotation(R), X, Y, rows="sample", seed=0, fitted=False).verdict == "aligned"
    ranked = judge_map(X @ R, X @ R, n_eval=300)
    assert cap_small_sample(ranked, 300, 40) is ranked
    # with enough rows per dimension the verdict stands
    X2, Y2, R2, _ = _disjoint_samples(0, n=900, d=20)
    assert judge_translator(_Rotation(R2), X2, Y2, rows="sample", seed=0).verdict == "aligned"


def test_the_controls_of_rotations_are_computed_once_per_pair_of_samples(monkeypatch):
    """The controls do not depend on rotations of either side: every map that only rotates, judged on the same
    samples, gets the controls computed on the rows in their own spaces (equal to those computed on the rotated
    rows, to float tolerance), computed once; a map that is not a rotation gets its own."""
    import vecbridge.verdict as verdict

    X, Y, R, rng = _disjoint_samples(3)
    Q = np.linalg.qr(rng.normal(size=(20, 20)))[0].astype(np.float32)  # a wrong rotation
    calls = []
    real = verdict.self_learn
    monkeypatch.setattr(verdict, "self_learn", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(verdict, "_CONTROLS", verdict.OrderedDict())

    right = verdict.judge_translator(_Rotation(R), X, Y, rows="sample", seed=0)
    first = len(calls)
    assert first == 1 + verdict.SAMPLE_CONTROLS  # the map's own refinement and the controls
    wrong = verdict.judge_translator(_Rotation(Q), X, Y, rows="sample", seed=0)
    both = _Rotation(R @ Q)  # both sides rotated: source by R Q, target by Q
    both._transform_target = lambda Z: Z @ Q
    rotated_both = verdict.judge_translator(both, X, Y, rows="sample", seed=0)
    assert len(calls) == first + 2  # the controls came from the first judgement
    assert right.verdict == "aligned" == rotated_both.verdict and wrong.verdict == "not aligned"
    assert wrong.controls == right.controls == rotated_both.controls
    assert abs(rotated_both.confidence - right.confidence) < 1e-4
    # the same numbers as controls computed on the rotated rows themselves
    direct = judge_map(X @ R, Y, rows="sample", seed=0, inputs=(X, Y))
    np.testing.assert_allclose(right.controls, direct.controls, atol=1e-5)
    assert right.verdict == direct.verdict and abs(right.confidence - direct.confidence) < 1e-4
    # another seed computes its own
    before = len(calls)
    verdict.judge_translator(_Rotation(R), X, Y, rows="sample", seed=1)
    assert len(calls) == before + 1 + verdict.SAMPLE_CONTROLS
    # what counts as a rotation
    assert verdict.rotation_of(_Rotation(R), X, Y) and verdict.rotation_of(_Rotation(np.eye(20)), X, Y)
    assert not verdict.rotation_of(_Rotation(1.5 * R), X, Y)
    bent = _Rotation(R)
    bent._transform = lambda A: np.tanh(A @ R)
    assert not verdict.rotation_of(bent, X, Y)
    assert not verdict.rotation_of(_Rotation(R), X[:10], Y)  # too few rows to tell
    flat = Y.copy()
    flat[:, 0] = 0  # target rows in a subspace (normalised sentence vectors can be): the identity still counts
    assert verdict.rotation_of(_Rotation(R), X, flat)


def test_held_out_pairs_verdict_is_neither_fooled_by_luck_nor_by_a_lucky_control():
    """Few held-out pairs: a map at chance that hits a few rows by luck is not "aligned" or "uncertain" (40 pairs),
    and a perfect map on 10 pairs in 8 dimensions stays "aligned" when one random control hits half of them."""
    from vecbridge.verdict import judge_pairs

    rng = np.random.default_rng(0)
    for seed in range(10):
        A = rng.normal(size=(40, 16)).astype(np.float32)
        B = rng.normal(size=(40, 16)).astype(np.float32)
        assert judge_pairs(A, B, seed=seed)["verdict"] == "not aligned"
    for seed in range(10):
        A = rng.normal(size=(10, 8)).astype(np.float32)
        v = judge_pairs(A, A, seed=seed)
        assert v["top1"] == 1.0 and v["verdict"] == "aligned", v


def test_held_out_check_of_a_keyed_fit_uses_the_same_normalisation_rows_as_the_map(monkeypatch):
    """The command line's held-out gate refits the method on most of the pairs: with two Embeddings and key
    pairs it must take its statistics from the same rows as the map it judges (the items both sides hold), not
    from each whole side, which two vocabularies without shared keys would make a different map."""
    from vecbridge import Embeddings, make_translator
    from vecbridge.translators.base import Translator

    rng = np.random.default_rng(0)
    n, d, p = 2000, 16, 300
    Z = rng.normal(size=(n, d)).astype(np.float32)
    R = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    X, Y = Z + 3.0, Z @ R - 2.0
    order = np.argsort(Z[:, 0])[::-1][:p]  # the paired words are off-centre: their mean is not the space's
    src = Embeddings([f"s{i}" for i in range(n)], X, {"name": "src"})
    tgt = Embeddings([f"t{i}" for i in range(n)], Y, {"name": "tgt"})  # no shared keys (two languages)
    pairs = [(f"s{i}", f"t{i}") for i in order]
    t = make_translator("procrustes", normalize="center").fit(src, tgt, pairs=pairs)
    assert t.fit_info_["normalization_rows"]["source"] == p
    seen = []
    fit = Translator.fit

    def spy(self, *args, **kwargs):
        out = fit(self, *args, **kwargs)
        seen.append(self)
        return out

    monkeypatch.setattr(Translator, "fit", spy)
    v = t.held_out_verdict(src, tgt, pairs=pairs)
    check = seen[-1]
    train = check.fit_info_["normalization_rows"]["source"]
    assert train == v["n_train"] < p  # the training pairs' items, not the 2,000 rows of each side
    assert not np.allclose(check.source_normalizer_.stats_[0][0], X.mean(0), atol=0.1)
    assert v["verdict"] == "aligned"


def test_the_sample_verdict_moves_smoothly_with_the_controls_seed_and_keeps_a_tiny_right_map():
    """Where random starts come close to the target's own k-NN similarity (50 rows, 16 measured), the confidence
    is measured over at least the margin asked: the exactly right map is never called garbage, the verdict does
    not change with the controls' seed (it jumped between 0 and 1), and unrelated clouds stay "not aligned"."""
    rng = np.random.default_rng(1)
    c = rng.normal(size=(30, 16)) * 2
    X = (c[rng.integers(0, 30, 50)] + 0.4 * rng.normal(size=(50, 16))).astype(np.float32)
    R = np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
    right = [judge_map(X @ R, X @ R, rows="sample", seed=s) for s in range(6)]
    assert {v.verdict for v in right} == {"aligned"}  # judged on its own (a fit on 50 rows is capped afterwards)
    other = (c[rng.integers(0, 30, 50)] + 0.4 * rng.normal(size=(50, 16))).astype(np.float32)
    clouds = rng.normal(size=(50, 16)).astype(np.float32)
    for s in range(3):
        assert judge_map(clouds, other, rows="sample", seed=s).verdict == "not aligned"
        wrong = np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
        assert judge_map(X @ wrong, X @ R, rows="sample", seed=s).verdict == "not aligned"


def test_sample_reasons_speak_of_closeness_to_the_target_not_of_matched_rows():
    rng = np.random.default_rng(5)
    v = judge_map(rng.normal(size=(900, 20)), rng.normal(size=(900, 20)), rows="sample")
    assert "random starts" in v.reason and "matches rows" not in v.reason and f"{MIN_MARGIN_SD:g} needed" in v.reason


def test_a_sample_map_refused_for_too_little_of_the_way_says_so_not_that_it_lacked_the_margin():
    from vecbridge.verdict import SAMPLE_NOT_ALIGNED_BELOW, Verdict

    v = Verdict("not aligned", 0.35, 10.1, 0.45, 0.55, [0.40, 0.401], ["refined"] * 2, 3000, "sample")
    assert f"below the {SAMPLE_NOT_ALIGNED_BELOW:.2f} needed" in v.reason and "10.1 spreads" in v.reason
    v = Verdict("not aligned", 0.05, 1.2, 0.41, 0.55, [0.40, 0.401], ["refined"] * 2, 3000, "sample")
    assert f"{MIN_MARGIN_SD:g} needed" in v.reason and "1.2 spreads" in v.reason
