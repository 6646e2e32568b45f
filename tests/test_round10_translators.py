"""Round 10: translator parameter checks, minimum-norm least squares, degenerate pairs, saved-map checks."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import vecbridge as vb
from vecbridge.errors import ManifestError, ParameterError, VecbridgeError
from vecbridge.translators.linear import lstsq_map


def _data(n=60, d=8, seed=2):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) + 0.7).astype(np.float32)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Y = (X @ Q + 0.01 * rng.standard_normal((n, d))).astype(np.float32)
    return X, Y


# 1. minimum-norm least squares ------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 4, 7])
def test_lstsq_fewer_pairs_than_dimensions_is_the_minimum_norm_solution(k):
    X, Y = _data()
    t = vb.make_translator("lstsq").fit(X[:k], Y[:k], force=True)
    ref = np.linalg.pinv(X[:k].astype(np.float64)) @ Y[:k].astype(np.float64)
    assert np.allclose(t.W_, ref, atol=1e-4)


def test_lstsq_minimum_norm_with_bias_and_dependent_columns():
    X, Y = _data()
    Xs, Ys = X[:5].astype(np.float64), Y[:5].astype(np.float64)
    t = vb.make_translator("lstsq", bias=True).fit(X[:5], Y[:5], force=True)
    mx, my = Xs.mean(0), Ys.mean(0)
    W = np.linalg.pinv(Xs - mx) @ (Ys - my)
    assert np.allclose(t.W_, W, atol=1e-4) and np.allclose(t.b_, my - mx @ W, atol=1e-4)
    Xd = X.copy()
    Xd[:, 1] = Xd[:, 0]  # exactly singular X^T X
    t = vb.make_translator("lstsq").fit(Xd, Y)
    assert np.allclose(t.W_, np.linalg.pinv(Xd.astype(np.float64)) @ Y, atol=1e-4)


def test_lstsq_full_rank_and_ridge_keep_the_closed_form():
    X, Y = _data()
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    W, _ = lstsq_map(X, Y)
    assert np.allclose(W, np.linalg.solve(X64.T @ X64, X64.T @ Y64), atol=1e-6)
    W, _ = lstsq_map(X[:4], Y[:4], ridge=0.5)
    A = X64[:4].T @ X64[:4] + 0.5 * np.eye(8)
    assert np.allclose(W, np.linalg.solve(A, X64[:4].T @ Y64[:4]), atol=1e-6)


# 2. seeds ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rcsls", "mlp", "lowrank", "selflearn", "cluster-match", "spectral-match",
                                  "vec2vec", "auto"])
def test_a_negative_seed_is_a_parameter_error_for_every_method(name):
    with pytest.raises(ParameterError, match="seed must be >= 0"):
        vb.make_translator(name, seed=-1)


def test_a_negative_seed_set_later_is_refused_and_nothing_changes():
    t = vb.make_translator("rcsls")
    with pytest.raises(ParameterError, match="seed"):
        t.set_params(seed=-2, k=5)
    assert t.seed == 0 and t.k == 10


# 3. / 4. ranges checked before any data is read -------------------------------------------------------------
@pytest.mark.parametrize("name, params, what", [
    ("mlp", {"n_blocks": -1}, "n_blocks"), ("mlp", {"lr": -1.0}, "lr"), ("mlp", {"hidden": 0}, "hidden"),
    ("cluster-match", {"reanchor_clusters": ("a",)}, "reanchor_clusters"),
    ("rcsls", {"lr": 0.0}, "lr"), ("rcsls", {"n_iter": 0}, "n_iter"), ("rcsls", {"n_candidates": 0}, "n_candidates"),
    ("rcsls", {"patience": -1}, "patience"), ("spectral-match", {"n_axes": 0}, "n_axes"),
    ("spectral-match", {"n_axes": -1}, "n_axes"), ("spectral-match", {"n_axes": 100}, "n_axes"),
    ("selflearn", {"max_iter": 0}, "max_iter"), ("selflearn", {"csls_k": -1}, "csls_k"),
    ("multistep", {"dim_reduction": 0}, "dim_reduction"), ("auto", {"time_budget": -1.0}, "time_budget"),
    ("lstsq", {"ridge": np.float32("nan")}, "ridge"), ("lstsq", {"normalize": "foo"}, "normalize"),
])
def test_out_of_range_values_are_refused_at_construction(name, params, what):
    with pytest.raises(ParameterError, match=f"'?{what}'?[ :]"):
        vb.make_translator(name, **params)


def test_csls_k_zero_is_plain_cosine_and_accepted():
    assert vb.make_translator("selflearn", csls_k=0).csls_k == 0


def test_vec2vec_unknown_device_is_a_parameter_error():
    pytest.importorskip("torch")
    X, Y = _data(n=40)
    t = vb.make_translator("vec2vec", device="tpu", steps=2, latent_dim=8, width=8)
    with pytest.raises(ParameterError, match="tpu"):
        t.fit(X, Y)


# 5. auto's methods ------------------------------------------------------------------------------------------
def test_auto_refuses_unknown_methods_with_a_suggestion():
    with pytest.raises(ParameterError, match="'bogus'"):
        vb.make_translator("auto", methods=("procrustes", "bogus"))
    with pytest.raises(ParameterError, match="did you mean 'procrustes'"):
        vb.make_translator("auto", methods=("procrustess",))


def test_auto_resolves_aliases_and_presets():
    t = vb.make_translator("auto", methods=("orthogonal", "linear", "cca", "whitening"))
    assert t.methods == ("procrustes", "lstsq", "cca", "recommended")
    X, Y = _data(n=120)
    t = vb.make_translator("auto", effort="quick", methods=("cca", "orthogonal"))
    t.fit(X, Y, known_pairs=np.stack([np.arange(120)] * 2, 1))
    assert sorted(c["method"] for c in t.fit_info_["candidates"]) == ["cca", "procrustes"]


# 6. degenerate pairs ----------------------------------------------------------------------------------------
def test_all_zero_source_pairs_are_refused():
    X, Y = _data()
    for name in ("procrustes", "lstsq"):
        with pytest.raises(VecbridgeError, match="every paired source vector is zero"):
            vb.make_translator(name).fit(np.zeros_like(X), Y)


def test_normalisation_that_leaves_nothing_is_refused():
    X, Y = _data()
    with pytest.raises(VecbridgeError, match="after the normalisation 'unit center unit'"):
        vb.make_translator("procrustes", normalize="unit center unit").fit(X[:1], Y[:1], force=True)


# 7. edited saved maps ---------------------------------------------------------------------------------------
@pytest.fixture()
def saved(tmp_path):
    X, Y = _data()
    t = vb.make_translator("lstsq", normalize="unit center unit", bias=True).fit(X, Y)
    t.save(tmp_path / "m")
    return tmp_path


def _edit(base, name, manifest=None, arrays=None):
    p = base / name
    shutil.copytree(base / "m", p)
    m = json.loads((p / "manifest.json").read_text())
    if manifest:
        manifest(m)
    (p / "manifest.json").write_text(json.dumps(m))
    if arrays:
        a = load_file(str(p / "weights.safetensors"))
        arrays(a)
        save_file(a, str(p / "weights.safetensors"))
    return p


@pytest.mark.parametrize("name, manifest, arrays, words", [
    ("method", lambda m: m.__setitem__("method", "bogus"), None, "unknown method 'bogus'"),
    ("step", lambda m: m["source"].__setitem__("normalization", ["foo"]), None, "unknown normalisation step"),
    ("version", lambda m: m.__setitem__("format_version", True), None, "format_version"),
    ("b", None, lambda a: a.__setitem__("b_", np.zeros(1, np.float32)), "'b_' has shape (1,)"),
    ("int", None, lambda a: a.__setitem__("W_", a["W_"].astype(np.int64)), "'W_' is int64"),
    ("f16", None, lambda a: a.__setitem__("W_", a["W_"].astype(np.float16)), "'W_' is float16"),
    ("extra", None, lambda a: a.__setitem__("extra_", np.zeros(3, np.float32)), "'extra_'"),
    ("missing", None, lambda a: a.pop("W_"), "lack the array 'W_'"),
])
def test_edited_maps_are_manifest_errors_naming_the_folder(saved, name, manifest, arrays, words):
    p = _edit(saved, name, manifest, arrays)
    with pytest.raises(ManifestError) as e:
        vb.load_translator(p)
    assert str(p) in str(e.value) and words in str(e.value)


# 8. small ---------------------------------------------------------------------------------------------------
def test_misspelt_parameter_suggests_the_close_name_and_the_method_as_typed():
    with pytest.raises(ParameterError, match="did you mean 'ridge'"):
        vb.make_translator("lstsq", rigde=0.1)
    with pytest.raises(ParameterError, match="method 'recommended' has no parameter 'bogus'"):
        vb.make_translator("recommended", bogus=1)


def test_set_params_coerces_as_make_translator_does():
    a = vb.make_translator("lstsq", ridge=3)
    b = vb.make_translator("lstsq").set_params(ridge=3)
    assert type(a.ridge) is type(b.ridge) is float
    with pytest.raises(ParameterError, match="ridge"):
        vb.make_translator("lstsq").set_params(ridge="abc")


def test_pairs_with_arrays_says_what_to_give():
    X, Y = _data()
    with pytest.raises(VecbridgeError, match="known_pairs"):
        vb.make_translator("procrustes").fit(X, Y, pairs={"a": "b"})


def test_round_trip_still_loads(saved):
    X, _ = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        u = vb.load_translator(saved / "m")
    assert u.transform(X).shape == (60, 8)
