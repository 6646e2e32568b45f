"""The contract every registered translation method keeps (in the spirit of scikit-learn's check_estimator).

Parametrised over the registry, so a new method is checked without writing a test: parameters survive
clone and reload with their types; ``fit`` returns self; a refit leaves no trace of the earlier fit;
``transform`` is a pure row-wise function; save -> load gives bitwise-equal output; unknown or ill-typed
parameters raise the project's own error (never a TypeError).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import vecbridge as vb
from vecbridge import Embeddings
from vecbridge.errors import ParameterError, VecbridgeError
from vecbridge.translators import REGISTRY, load_translator, make_translator
from vecbridge.translators.whitening import PRESETS

#: cheap settings so that every method fits in about a second on the small task below
QUICK = {
    "selflearn": {"vocab_cutoff": 200, "init_vocab": 150, "max_iter": 5, "n_controls": 0},
    "rcsls": {"n_iter": 3, "n_candidates": 200},
    "mlp": {"epochs": 2, "hidden": 40},
    "lowrank": {"rank": 4, "epochs": 2},
    "cluster-match": {"n_runs": 1, "n_finalists": 1, "qap_restarts": 5, "reanchor_clusters": (10,),
                      "reanchor_repeats": 0, "regional_restarts": 1, "regional_passes": 1, "n_sample": 240},
    "spectral-match": {"n_axes": 4, "n_sign_candidates": 2, "rotation_axes": 3, "rotation_restarts": 4,
                       "n_rotation_candidates": 1, "cluster_runs": 1, "n_finalists": 1, "polish_steps": 2},
    "auto": {"effort": "quick"},
    "vec2vec": {"steps": 3, "batch_size": 32, "width": 32, "depth": 1, "latent_dim": 8, "device": "cpu"},
}

METHODS = sorted(set(REGISTRY) | {p for p in PRESETS if p != "orthogonal"})


def _quick(name: str) -> dict:
    cls_params = set(make_translator(name).get_params())
    return {k: v for k, v in QUICK.get(name, {}).items() if k in cls_params}


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(0)
    d = 12
    centres = rng.normal(size=(6, d)) * 3
    X = (centres[rng.integers(0, 6, 240)] + rng.normal(size=(240, d))).astype(np.float32)
    R = np.linalg.qr(rng.normal(size=(d, d)))[0]
    Y = (X @ R + 0.01 * rng.normal(size=X.shape)).astype(np.float32)
    keys = [f"w{i}" for i in range(len(X))]
    return X, Y, Embeddings(keys, X, {"name": "A"}), Embeddings(keys, Y, {"name": "B"})


_FITTED: dict[str, object] = {}


def _fit(name, task):
    """One fit per method on the arrays of ``task``, shared by the tests that only read it."""
    if name not in _FITTED:
        X, Y, _, _ = task
        _FITTED[name] = make_translator(name, **_quick(name)).fit(X, Y)
    t = _FITTED[name]
    return t, t


def _param_types(params):
    return {k: type(v) for k, v in params.items()}


def test_every_registered_method_is_checked():
    assert set(REGISTRY) <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_params_survive_clone_and_reload_with_their_types(name, task, tmp_path):
    X, Y, _, _ = task
    t = make_translator(name, **_quick(name))
    assert t.fit(X, Y) is t, "fit must return self"
    params = t.get_params()
    clone = t.clone()
    assert clone.get_params() == params and _param_types(clone.get_params()) == _param_types(params)
    assert not hasattr(clone, "n_features_in_"), "clone is unfitted"
    t.save(tmp_path / "m")
    loaded = load_translator(tmp_path / "m")
    assert loaded.get_params() == params
    assert _param_types(loaded.get_params()) == _param_types(params)


@pytest.mark.parametrize("name", METHODS)
def test_save_load_gives_bitwise_equal_output(name, task, tmp_path):
    X = task[0]
    t, _ = _fit(name, task)
    out = t.transform(X)
    t.save(tmp_path / "m")
    loaded = load_translator(tmp_path / "m")
    assert np.array_equal(loaded.transform(X), out)
    assert np.array_equal(loaded.transform_target(task[1]), t.transform_target(task[1]))
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["format_version"] >= 2


@pytest.mark.parametrize("name", METHODS)
def test_transform_is_a_pure_row_wise_function(name, task):
    X = task[0]
    t, _ = _fit(name, task)
    out = t.transform(X)
    assert out.dtype == np.float32 and out.shape[0] == len(X)
    assert np.array_equal(t.transform(X), out), "same input, same output"
    one = np.concatenate([t.transform(X[i]) for i in range(0, len(X), 37)])
    np.testing.assert_allclose(one, out[::37], rtol=1e-5, atol=1e-5)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("name", METHODS)
def test_a_refit_leaves_no_trace_of_the_earlier_fit(name, task):
    X, Y, src, tgt = task
    extra = {"keep_seed": False} if name == "selflearn" else {}
    t = make_translator(name, **{**_quick(name), **extra})
    pairs = [(k, k) for k in src.keys[:200]] + [("missing", "w1")]
    t.fit(src, tgt, pairs=pairs) if t.requires_pairs or name == "selflearn" else t.fit(src, tgt)
    assert t.fit_info_["source"]["name"] == "A"
    t.fit(X, Y)
    fresh = make_translator(name, **{**_quick(name), **extra}).fit(X, Y)
    assert t.fit_info_["source"]["name"] is None and t.fit_info_["target"]["name"] is None
    assert "coverage" not in t.fit_info_ and not hasattr(t, "coverage_")
    manifest = t.manifest()
    assert manifest["source"]["name"] is None and "coverage" not in manifest["fit"]
    if name != "vec2vec":  # torch training is seeded but not bitwise reproducible across runs on threads
        assert np.array_equal(t.transform(X), fresh.transform(X))


@pytest.mark.parametrize("name", METHODS)
def test_unknown_and_ill_typed_parameters_raise_the_projects_error(name):
    with pytest.raises(ParameterError, match="no parameter 'bogus'"):
        make_translator(name, bogus=1)
    t = make_translator(name)
    with pytest.raises(ParameterError):
        t.set_params(bogus=1)
    params = t.get_params()
    typed = [k for k, v in params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if typed:
        with pytest.raises(ParameterError, match=typed[0]):
            make_translator(name, **{typed[0]: "abc"})
    flags = [k for k, v in params.items() if isinstance(v, bool)]
    if flags:
        with pytest.raises(ParameterError, match=flags[0]):
            make_translator(name, **{flags[0]: "yes"})


def test_lossless_conversions_are_accepted():
    t = make_translator("lstsq", ridge=1)  # an integer where a float is declared
    assert t.ridge == 1.0 and isinstance(t.ridge, float)
    t = make_translator("cluster-match", **{"n_clusters": 16.0}) if "n_clusters" in make_translator("cluster-match").get_params() else None
    if t is not None:
        assert t.n_clusters == 16 and isinstance(t.n_clusters, int)


def test_pairs_and_known_pairs_have_one_meaning(task):
    X, Y, src, tgt = task
    with pytest.raises(VecbridgeError, match="known_pairs"):
        vb.make_translator("procrustes").fit(X, Y, pairs=[("w1", "w1")])
    rows = np.c_[np.arange(100), np.arange(100)]
    a = vb.make_translator("procrustes").fit(X, Y, known_pairs=rows)
    b = vb.make_translator("procrustes").fit(src, tgt, pairs=[(f"w{i}", f"w{i}") for i in range(100)])
    c = vb.make_translator("procrustes").fit(src, tgt, known_pairs=rows)
    assert np.array_equal(a.W_, b.W_) and np.array_equal(a.W_, c.W_)
    assert c.fit_info_["source"]["name"] == "A"
    with pytest.raises(VecbridgeError, match="out of range"):
        vb.make_translator("procrustes").fit(X, Y, known_pairs=[[0, 999]])


def test_normalisation_statistics_come_from_the_whole_space():
    """Frequent (paired) rows sit off-centre: centring on them alone would leave the whole space off-centre."""
    rng = np.random.default_rng(1)
    d = 8
    X = rng.normal(size=(2000, d)).astype(np.float32)
    X[:200] += 4.0  # the paired, frequent rows are shifted
    R = np.linalg.qr(rng.normal(size=(d, d)))[0]
    Y = (X @ R).astype(np.float32)
    keys = [f"w{i}" for i in range(len(X))]
    src, tgt = Embeddings(keys, X), Embeddings(keys, Y)
    pairs = [(k, k) for k in keys[:200]]
    t = vb.make_translator("procrustes", normalize="center").fit(src, tgt, pairs=pairs)
    np.testing.assert_allclose(t.source_normalizer_.stats_[0][0], X.mean(axis=0), atol=1e-5)
    assert np.abs(t.source_normalizer_.stats_[0][0] - X[:200].mean(axis=0)).max() > 3.0
    np.testing.assert_allclose(t.transform(X[200:]), t.transform_target(Y[200:]), atol=1e-4)


def test_too_few_pairs_are_refused_unless_forced(task):
    X, Y, src, tgt = task
    pairs = [("w1", "w1"), ("w2", "w2"), ("w3", "w3")]
    with pytest.raises(VecbridgeError, match="too few.*self-learning"):
        vb.make_translator("procrustes").fit(src, tgt, pairs=pairs)
    with pytest.raises(VecbridgeError, match="too few"):
        vb.make_translator("lstsq").fit(X[:10], Y[:10])
    t = vb.make_translator("procrustes").fit(src, tgt, pairs=pairs, force=True)
    assert t.fit_info_["n_pairs"] == 3


def test_manifests_of_format_1_still_load(task, tmp_path):
    X, Y, _, _ = task
    t = vb.make_translator("lstsq", ridge=0.5).fit(X, Y)
    t.save(tmp_path / "m")
    mpath = tmp_path / "m" / "manifest.json"
    m = json.loads(mpath.read_text())
    m["format_version"] = 1
    mpath.write_text(json.dumps(m))
    assert np.array_equal(load_translator(tmp_path / "m").transform(X), t.transform(X))


def test_saving_never_replaces_a_folder_that_is_not_a_map(task, tmp_path):
    X, Y, _, _ = task
    t = vb.make_translator("procrustes").fit(X, Y)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("precious")
    with pytest.raises(VecbridgeError, match="does not hold a vecbridge map"):
        t.save(tmp_path / "docs", overwrite=True)
    assert (tmp_path / "docs" / "thesis.txt").read_text() == "precious"
    t.save(tmp_path / "m")
    with pytest.raises(VecbridgeError, match="holds a map already"):
        t.save(tmp_path / "m")
    t.save(tmp_path / "m", overwrite=True)


@pytest.mark.parametrize("name", ["lstsq", "procrustes", "cluster-match", "selflearn", "multistep"])
def test_maps_saved_by_the_previous_version_load_and_translate_identically(name):
    """Maps written by vecbridge before the redesign (format 1; cluster-match's tuple parameter saved as a list)."""
    from pathlib import Path

    base = Path(__file__).parent / "data" / "maps_v1"
    t = load_translator(base / name)
    X = np.load(base / "X.npy")
    assert np.array_equal(t.transform(X), np.load(base / f"{name}.out.npy"))
    for k, v in t.get_params().items():
        default = make_translator(name if name != "multistep" else "multistep").get_params().get(k)
        if isinstance(default, tuple):
            assert isinstance(v, tuple), f"{k} reloads as {type(v).__name__}"
