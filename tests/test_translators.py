"""Supervised translators: recovery of known maps, and the estimator contract for every method."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings, load_translator, make_translator
from vecbridge.errors import DimensionError, ManifestError, NotFittedError, VecbridgeError
from vecbridge.translators import REGISTRY, translator_class
from vecbridge.translators.linear import LeastSquares, Procrustes, procrustes_map
from vecbridge.translators.whitening import MAX_TARGET_CONDITION, PRESETS, MultiStep, multistep_maps


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    return Q * np.sign(np.diag(R))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------- recovery
@pytest.mark.parametrize("d", [2, 17, 64])
def test_procrustes_recovers_orthogonal_map(rng, d):
    X = rng.normal(size=(400, d)).astype(np.float32)
    Q = random_orthogonal(d, rng)
    t = Procrustes().fit(X, (X @ Q).astype(np.float32))
    np.testing.assert_allclose(t.W_, Q, atol=1e-5)
    np.testing.assert_allclose(t.transform(X), X @ Q, atol=1e-5)


@pytest.mark.parametrize("dx,dy", [(40, 25), (25, 40)])
def test_procrustes_semi_orthogonal_different_dims(rng, dx, dy):
    # a semi-orthogonal ground truth: orthonormal columns (dx > dy: a projection) or rows (dx < dy: an embedding).
    # A projection is only identifiable from the trace objective when the source is isotropic (X^T X = n I).
    n = 500
    X = (np.linalg.qr(rng.normal(size=(n, dx)))[0] * np.sqrt(n)).astype(np.float32)
    Q = random_orthogonal(max(dx, dy), rng)[:dx, :dy]
    Y = (X @ Q).astype(np.float32)
    t = Procrustes().fit(X, Y)
    assert t.W_.shape == (dx, dy)
    gram = t.W_.T @ t.W_ if dx >= dy else t.W_ @ t.W_.T
    np.testing.assert_allclose(gram, np.eye(min(dx, dy)), atol=1e-5)
    np.testing.assert_allclose(t.W_, Q, atol=1e-5)
    np.testing.assert_allclose(t.transform(X), Y, atol=1e-4)


def test_procrustes_scale(rng):
    X = rng.normal(size=(300, 10)).astype(np.float32)
    Q = random_orthogonal(10, rng)
    t = Procrustes(scale=True).fit(X, (2.5 * X @ Q).astype(np.float32))
    assert t.scale_ == pytest.approx(2.5, rel=1e-5)
    np.testing.assert_allclose(t.transform(X), 2.5 * X @ Q, atol=1e-4)


@pytest.mark.parametrize("dx,dy", [(30, 30), (30, 12), (12, 30)])
def test_least_squares_recovers_linear_map_with_bias(rng, dx, dy):
    X = rng.normal(size=(400, dx)).astype(np.float32)
    A = rng.normal(size=(dx, dy))
    b = rng.normal(size=dy)
    Y = (X @ A + b).astype(np.float32)
    t = LeastSquares(bias=True).fit(X, Y)
    np.testing.assert_allclose(t.W_, A, atol=1e-5)
    np.testing.assert_allclose(t.b_, b, atol=1e-5)
    np.testing.assert_allclose(LeastSquares().fit(X, X @ A).W_, A, atol=1e-5)


def test_ridge_shrinks(rng):
    X = rng.normal(size=(100, 20)).astype(np.float32)
    Y = X @ rng.normal(size=(20, 5))
    w0 = np.linalg.norm(LeastSquares().fit(X, Y).W_)
    w1 = np.linalg.norm(LeastSquares(ridge=100.0).fit(X, Y).W_)
    assert w1 < w0


def test_least_squares_rank_deficient_falls_back_to_pinv(rng):
    X = rng.normal(size=(5, 20)).astype(np.float32)  # fewer pairs than dimensions
    Y = rng.normal(size=(5, 3)).astype(np.float32)
    t = LeastSquares().fit(X, Y, force=True)
    assert np.isfinite(t.W_).all()
    np.testing.assert_allclose(t.transform(X), Y, atol=1e-3)


def test_multistep_orthogonal_preset_equals_procrustes(rng):
    X = rng.normal(size=(300, 16)).astype(np.float32)
    Y = rng.normal(size=(300, 16)).astype(np.float32)
    a = MultiStep.preset("orthogonal").fit(X, Y).transform(X)
    b = Procrustes().fit(X, Y).transform(X)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_multistep_cca_is_canonical_correlation(rng):
    # in shared output, CCA makes the two sides' projections whitened and diagonally correlated
    n, d = 2000, 6
    Z = rng.normal(size=(n, d))
    X = (Z @ rng.normal(size=(d, d)) + 0.1 * rng.normal(size=(n, d))).astype(np.float32)
    Y = (Z @ rng.normal(size=(d, d)) + 0.1 * rng.normal(size=(n, d))).astype(np.float32)
    t = MultiStep.preset("cca", output="shared").fit(X, Y)
    A, B = t.transform(X), t.transform_target(Y)
    np.testing.assert_allclose(A.T @ A, np.eye(d), atol=1e-3)
    np.testing.assert_allclose(B.T @ B, np.eye(d), atol=1e-3)
    C = A.T @ B
    np.testing.assert_allclose(C - np.diag(np.diag(C)), 0, atol=1e-3)


def test_multistep_recovers_rotation_in_target_space(rng):
    X = rng.normal(size=(500, 12)).astype(np.float32)
    Q = random_orthogonal(12, rng)
    for name in ("cca", "recommended"):
        t = make_translator(name).fit(X, (X @ Q).astype(np.float32))
        np.testing.assert_allclose(t.transform(X), X @ Q, atol=1e-4)


def test_multistep_target_output_falls_back_when_the_target_side_is_ill_conditioned(rng):
    """A target direction with next to no variance and no source counterpart makes Tx pinv(Tz) explode (seen on
    MiniLM-L3 -> MiniLM-L6 words: P@1 0.000); output="target" then fits the orthogonal map, says so and warns."""
    n, d = 800, 12
    X = rng.normal(size=(n, d)).astype(np.float32)
    Y = X @ random_orthogonal(d, rng) + 0.2 * rng.normal(size=(n, d)).astype(np.float32)
    X = np.hstack([X, rng.normal(size=(n, 1))]).astype(np.float32)  # a source direction with no counterpart
    Y = np.hstack([Y, 1e-8 * rng.normal(size=(n, 1))]).astype(np.float32)  # next to no variance
    with pytest.warns(UserWarning, match="ill-conditioned"):
        t = make_translator("recommended").fit(X, Y)
    assert t.fit_info_["final"] == "orthogonal" and t.fit_info_["target_condition"] > MAX_TARGET_CONDITION
    ortho = make_translator("procrustes").fit(X, Y)
    np.testing.assert_allclose(t.transform(X), ortho.transform(X), atol=1e-4)
    shared = make_translator("recommended", output="shared").fit(X, Y)  # no inverse needed: kept as configured
    assert shared.fit_info_["final"] == "as configured"
    assert make_translator("cca").fit(X, Y).fit_info_["final"] == "as configured"  # no re-weighting to explode
    # what the fallback prevents: the pseudo-inverse route retrieves the right row for almost no one
    Tx, Tz = multistep_maps(X.astype(np.float64), Y.astype(np.float64), dim_reduction=None, **PRESETS["recommended"])
    raw = X @ (Tx @ np.linalg.pinv(Tz))

    def top1(A):
        S = (A / np.linalg.norm(A, axis=1, keepdims=True)) @ (Y / np.linalg.norm(Y, axis=1, keepdims=True)).T
        return float((S.argmax(1) == np.arange(n)).mean())

    assert top1(t.transform(X)) > 0.95 > 0.5 > top1(raw)


def test_multistep_target_output_kept_when_well_conditioned(rng):
    X = rng.normal(size=(500, 12)).astype(np.float32)
    Y = (X @ random_orthogonal(12, rng) + 0.1 * rng.normal(size=(500, 12))).astype(np.float32)
    t = make_translator("recommended").fit(X, Y)
    assert t.fit_info_["final"] == "as configured" and t.fit_info_["target_condition"] < 100


def test_multistep_dim_reduction_and_different_dims(rng):
    X = rng.normal(size=(400, 20)).astype(np.float32)
    Y = rng.normal(size=(400, 8)).astype(np.float32)
    t = MultiStep(dim_reduction=5, output="shared").fit(X, Y)
    assert t.transform(X).shape == (400, 5)
    assert t.transform_target(Y).shape == (400, 5)
    assert MultiStep().fit(X, Y).transform(X).shape == (400, 8)
    with pytest.raises(VecbridgeError, match="dim_reduction"):
        MultiStep(dim_reduction=50).fit(X, Y)


# ---------------------------------------------------------------- fitting from a dictionary
def test_fit_from_dictionary_counts_missing_pairs(rng):
    src = Embeddings([f"s{i}" for i in range(50)], rng.normal(size=(50, 8)), {"name": "A"})
    Q = random_orthogonal(8, rng)
    tgt = Embeddings([f"t{i}" for i in range(50)], src.vectors @ Q, {"name": "B"})
    pairs = [(f"s{i}", f"t{i}") for i in range(40)] + [("nope", "t1"), ("s1", "nope"), ("x", "y")]
    t = Procrustes().fit(src, tgt, pairs=pairs)
    cov = t.fit_info_["coverage"]
    assert (cov["n_pairs"], cov["n_used"]) == (43, 40)
    assert (cov["missing_source_only"], cov["missing_target_only"], cov["missing_both"]) == (1, 1, 1)
    np.testing.assert_allclose(t.W_, Q, atol=1e-5)
    m = t.manifest()
    assert m["direction"] == "A -> B" and m["fit"]["n_pairs"] == 40


def test_fit_from_dictionary_with_several_gold_translations(rng):
    src = Embeddings(["a", "b"], rng.normal(size=(2, 4)))
    tgt = Embeddings(["x", "y", "z"], rng.normal(size=(3, 4)))
    t = LeastSquares().fit(src, tgt, pairs=[("a", "x"), ("a", "y"), ("b", "z")], force=True)
    assert t.fit_info_["n_pairs"] == 3


def test_fit_on_shared_keys_when_no_pairs(rng):
    src = Embeddings(["a", "b", "c", "d"], rng.normal(size=(4, 3)))
    tgt = Embeddings(["d", "c", "x"], rng.normal(size=(3, 3)))
    t = LeastSquares().fit(src, tgt, force=True)
    assert t.fit_info_["pairs_from"] == "shared keys" and t.fit_info_["n_pairs"] == 2


def test_no_usable_pairs_is_an_error(rng):
    src = Embeddings(["a"], rng.normal(size=(1, 3)))
    tgt = Embeddings(["b"], rng.normal(size=(1, 3)))
    with pytest.raises(VecbridgeError, match="no usable pairs"):
        Procrustes().fit(src, tgt, pairs=[("a", "c")])


def test_paired_rows_must_match(rng):
    with pytest.raises(DimensionError, match="as many rows"):
        Procrustes().fit(rng.normal(size=(5, 3)), rng.normal(size=(6, 3)))


# ---------------------------------------------------------------- the contract, for every method
SUPERVISED = ["lstsq", "procrustes", "multistep"]


def _fitted(name, rng, dx=12, dy=9, normalize="unit center unit"):
    X = rng.normal(size=(200, dx)).astype(np.float32)
    Y = (X @ rng.normal(size=(dx, dy)) + 0.1 * rng.normal(size=(200, dy))).astype(np.float32)
    t = make_translator(name, normalize=normalize)
    assert t.fit(X, Y) is t
    return t, X, Y


def test_registry_covers_supervised_methods():
    for name in SUPERVISED:
        assert name in REGISTRY
        assert translator_class(name).method == name


@pytest.mark.parametrize("name", SUPERVISED)
def test_contract_transform_is_pure_and_rowwise(name, rng):
    t, X, _ = _fitted(name, rng)
    full = t.transform(X)
    assert full.dtype == np.float32 and full.shape[0] == X.shape[0]
    np.testing.assert_allclose(t.transform(X[3]), full[3:4], atol=1e-6)  # a single 1-D row works
    np.testing.assert_allclose(t.transform(X[:7]), full[:7], atol=1e-6)  # no batch statistics
    np.testing.assert_array_equal(t.transform(X), full)  # same input, same output


@pytest.mark.parametrize("name", SUPERVISED)
def test_contract_save_load_identical(name, rng, tmp_path):
    t, X, Y = _fitted(name, rng)
    t.save(tmp_path / "map")
    u = load_translator(tmp_path / "map")
    assert type(u) is type(t) and u.get_params() == t.get_params()
    np.testing.assert_array_equal(u.transform(X), t.transform(X))
    np.testing.assert_array_equal(u.transform_target(Y), t.transform_target(Y))
    m = json.loads((tmp_path / "map" / "manifest.json").read_text())
    assert m["method"] == name and m["source"]["dim"] == 12 and m["target"]["dim"] == 9
    assert m["source"]["normalization"] == ["unit", "center", "unit"]
    assert m["fit"]["n_pairs"] == 200


@pytest.mark.parametrize("name", SUPERVISED)
def test_contract_wrong_dimension_and_unfitted(name, rng):
    t, X, _ = _fitted(name, rng)
    with pytest.raises(DimensionError, match="12-d source vectors, got 5-d"):
        t.transform(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(NotFittedError):
        make_translator(name).transform(X)


def test_save_refuses_to_overwrite(rng, tmp_path):
    t, X, _ = _fitted("procrustes", rng)
    t.save(tmp_path / "m")
    with pytest.raises(VecbridgeError, match="refusing to overwrite"):
        t.save(tmp_path / "m")
    t.save(tmp_path / "m", overwrite=True)
    assert load_translator(tmp_path / "m").transform(X).shape == (200, 9)


def test_load_bad_manifest_is_clear(rng, tmp_path):
    t, _, _ = _fitted("lstsq", rng)
    t.save(tmp_path / "m")
    (tmp_path / "m" / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="manifest.json.*not valid JSON"):
        load_translator(tmp_path / "m")
    (tmp_path / "m" / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ManifestError, match="not a vecbridge map"):
        load_translator(tmp_path / "m")
    with pytest.raises(ManifestError, match="no manifest"):
        load_translator(tmp_path / "elsewhere")


def test_load_corrupt_weights_is_clear(rng, tmp_path):
    t, _, _ = _fitted("procrustes", rng)
    t.save(tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(ManifestError, match="weights"):
        load_translator(tmp_path / "m")


def _edited(tmp_path, t, name, manifest_edit=None, weights_edit=None):
    """``t`` saved to ``tmp_path/name`` with its manifest and weights edited in place; returns the folder."""
    from safetensors.numpy import load_file, save_file

    d = t.save(tmp_path / name)
    if manifest_edit is not None:
        m = json.loads((d / "manifest.json").read_text())
        manifest_edit(m)
        (d / "manifest.json").write_text(json.dumps(m))
    if weights_edit is not None:
        w = load_file(str(d / "weights.safetensors"))
        weights_edit(w)
        save_file(w, str(d / "weights.safetensors"))
    return d


@pytest.mark.parametrize("name, manifest_edit, weights_edit, message", [
    # weights of another shape: the output would be 5-d where the manifest promises 9-d
    ("narrower", None, lambda w: w.update(W_=w["W_"][:, :5].copy()), "weights give 5-d output"),
    ("wider-input", None, lambda w: w.update(W_=np.ones((11, 9), np.float32)), "fails on 12-d input"),
    ("no-W", None, lambda w: w.pop("W_"), "fails on 12-d input"),
    ("params-null", lambda m: m.update(params=None), None, "'params' is NoneType"),
    ("state-null", lambda m: m.update(state=None), None, "'state' is NoneType"),
    ("method-list", lambda m: m.update(method=["procrustes"]), None, "must be a method name"),
    ("source-dim-9", lambda m: m["source"].update(dim=9, fingerprint=None), None, "fails on 9-d input"),
    ("target-dim-7", lambda m: m["target"].update(dim=7, fingerprint=None), None, "do not fit together"),
    ("fingerprint-dim", lambda m: m["target"].update(dim=7), None, "fingerprint is of 9 dimensions"),
    ("dim-zero", lambda m: m["source"].update(dim=0), None, "positive integer"),
    ("dim-bool", lambda m: m["target"].update(dim=True), None, "integer"),
    ("state-shadows-a-method", lambda m: m["state"].update(transform=1), None, "not a fitted attribute"),
    ("fingerprint-key", lambda m: m["source"]["fingerprint"].pop("log_length_median"), None, "log_length_median"),
    ("fingerprint-width", lambda m: m["target"]["fingerprint"].update(unit_mean=[0.0]), None, "list of 9 numbers"),
])
def test_load_refuses_a_manifest_and_weights_that_do_not_fit(rng, tmp_path, name, manifest_edit, weights_edit,
                                                             message):
    t, X, _ = _fitted("procrustes", rng)
    d = _edited(tmp_path, t, name, manifest_edit, weights_edit)
    with pytest.raises(ManifestError, match=message) as e:
        load_translator(d)
    assert str(d) in str(e.value)


def test_load_accepts_the_manifest_file_itself(rng, tmp_path):
    t, X, _ = _fitted("lstsq", rng)
    d = t.save(tmp_path / "m")
    np.testing.assert_array_equal(load_translator(d / "manifest.json").transform(X), t.transform(X))


def test_unknown_method_and_param():
    with pytest.raises(VecbridgeError, match="unknown method"):
        make_translator("nonsense")
    with pytest.raises(VecbridgeError, match="no parameter"):
        Procrustes().set_params(bogus=1)


def test_transform_embeddings_keeps_keys(rng):
    src = Embeddings(["a", "b", "c"], rng.normal(size=(3, 4)), {"name": "A"})
    t = Procrustes().fit(src.vectors, src.vectors, force=True)
    out = t.transform(src)
    assert isinstance(out, Embeddings) and out.keys == ["a", "b", "c"]
    np.testing.assert_allclose(out.vectors, src.vectors, atol=1e-5)


def test_procrustes_map_function_is_pure(rng):
    X = rng.normal(size=(50, 6)).astype(np.float32)
    Xc = X.copy()
    procrustes_map(X, X)
    np.testing.assert_array_equal(X, Xc)


def test_normalizer_inverse_undoes_centring_and_scaling_exactly_and_unit_steps_in_direction():
    from vecbridge.normalize import Normalizer, unit_rows

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(500, 12)) * rng.uniform(0.5, 3, 12) + 4).astype(np.float32)
    for steps in ("center", "standardize", "center standardize"):
        n = Normalizer(steps).fit(X)
        np.testing.assert_allclose(n.inverse_transform(n.transform(X)), X, atol=1e-4)
    n = Normalizer("unit center unit").fit(X)
    back = n.inverse_transform(n.transform(X))
    assert float(np.mean(np.sum(unit_rows(back) * unit_rows(X), axis=1))) > 0.99
    assert np.median(np.linalg.norm(back, axis=1)) == pytest.approx(np.median(np.linalg.norm(X, axis=1)), rel=0.02)
    # a normaliser saved before lengths were kept still inverts, less closely (unit lengths)
    old = Normalizer.from_state(n.steps, {k: v for k, v in n.state_arrays("t").items() if not k.endswith("length")}, "t", 12)
    assert float(np.mean(np.sum(unit_rows(old.inverse_transform(n.transform(X))) * unit_rows(X), axis=1))) > 0.9


@pytest.mark.parametrize("X, message", [
    ([], "empty"), (np.zeros((10, 0)), "empty"), ([[1.0, 2.0], [3.0]], "differ in length"),
    (np.ones((5, 3), complex), "real numbers"),
])
def test_fit_refuses_inputs_numpy_would_mangle_by_name(X, message):
    with pytest.raises(VecbridgeError, match=f"X .*{message}|X is {message}"):
        make_translator("lstsq").fit(X, X, force=True)


@pytest.mark.parametrize("pairs", [[None], [("a", "b", "c")], ["ab"]])
def test_key_pairs_that_are_not_pairs_are_named(rng, pairs):
    from vecbridge.errors import ParameterError

    E = Embeddings([f"k{i}" for i in range(30)], rng.normal(size=(30, 4)))
    with pytest.raises(ParameterError, match=r"pairs\[0\] must be a \(source_key, target_key\) pair"):
        make_translator("lstsq").fit(E, E, pairs=pairs, force=True)


def test_method_name_must_be_a_string():
    with pytest.raises(VecbridgeError, match="must be a name"):
        make_translator(["lstsq"])


def test_repeated_pairs_count_once(rng):
    """Fifty copies of one pair are one pair: refused as too few (as one pair is), and counted."""
    from vecbridge import Embeddings, make_translator
    from vecbridge.errors import VecbridgeError

    X = rng.standard_normal((100, 8)).astype(np.float32)
    Y = (X @ random_orthogonal(8, rng)).astype(np.float32)
    keys = [f"k{i}" for i in range(100)]
    S, T = Embeddings(keys, X), Embeddings(keys, Y)
    with pytest.raises(VecbridgeError, match=r"1 distinct \(49 repeated pairs kept once\) pairs are too few"):
        make_translator("procrustes").fit(S, T, pairs=[("k1", "k1")] * 50)
    with pytest.raises(VecbridgeError, match=r"1 distinct \(49 repeated pairs kept once\) pairs are too few"):
        make_translator("procrustes").fit(X, Y, known_pairs=np.array([[1, 1]] * 50))
    pairs = [(f"k{i}", f"k{i}") for i in range(30)]
    t = make_translator("procrustes").fit(S, T, pairs=pairs + pairs[:5])
    assert t.coverage_.n_used == 30 and t.coverage_.repeated == 5
    assert "5 repeated pairs kept once" in t.coverage_.summary()
    u = make_translator("procrustes").fit(S, T, pairs=pairs)
    np.testing.assert_allclose(t.transform(X), u.transform(X), atol=1e-6)


def test_negative_ridge_is_a_parameter_error():
    from vecbridge import make_translator
    from vecbridge.errors import ParameterError

    with pytest.raises(ParameterError, match="parameter 'ridge' must be >= 0"):
        make_translator("lstsq", ridge=-1.0).fit(np.eye(4, dtype=np.float32), np.eye(4, dtype=np.float32))
