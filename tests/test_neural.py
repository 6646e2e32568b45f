"""Neural adapters: a residual MLP that learns a nonlinear map, a low-rank affine map, numpy inference, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge import load_translator, make_translator
from vecbridge.errors import VecbridgeError
from vecbridge.translators.neural import LowRankAffine, MLPAdapter, reduced_rank_map

torch = pytest.importorskip("torch")


def _unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _p1(t, X, Y):
    P, T = _unit(t.transform(X)), _unit(t.transform_target(Y))
    return float(np.mean((P @ T.T).argmax(axis=1) == np.arange(len(X))))


@pytest.fixture(scope="module")
def nonlinear():
    rng = np.random.default_rng(0)
    n, dx, dy = 1400, 12, 16
    X = rng.standard_normal((n, dx)).astype(np.float32)
    A = rng.standard_normal((dx, dy)) / np.sqrt(dx)
    Y = (np.tanh(2 * X @ A) ** 3 + 0.05 * rng.standard_normal((n, dy))).astype(np.float32)  # saturating
    return X[:1000], Y[:1000], X[1000:], Y[1000:]


def _cos_error(t, X, Y):
    return float(1 - np.mean(np.sum(_unit(t.transform(X)) * _unit(t.transform_target(Y)), axis=1)))


def test_mlp_beats_the_linear_map_on_a_nonlinear_relation(nonlinear):
    X, Y, Xt, Yt = nonlinear
    lin = make_translator("lstsq", bias=True, normalize="unit center unit").fit(X, Y)
    mlp = MLPAdapter(epochs=60, batch_size=32, patience=60, validation=0.1, progress=False).fit(X, Y)
    assert _cos_error(mlp, Xt, Yt) < 0.8 * _cos_error(lin, Xt, Yt)
    assert mlp.fit_info_["hidden"] == 32 and mlp.fit_info_["n_validation_pairs"] == 100


def test_mlp_numpy_inference_save_load_and_rowwise(nonlinear, tmp_path):
    X, Y, Xt, _ = nonlinear
    t = MLPAdapter(epochs=3, loss="infonce", activation="relu", progress=False).fit(X, Y)
    out = t.transform(Xt)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)  # normalised output
    np.testing.assert_allclose(t.transform(Xt[5]), out[5:6], atol=1e-6)
    t.save(tmp_path / "m")
    u = load_translator(tmp_path / "m")
    np.testing.assert_array_equal(u.transform(Xt), out)


def test_mlp_width_must_exceed_dimensions(nonlinear):
    X, Y, _, _ = nonlinear
    with pytest.raises(VecbridgeError, match="must exceed both dimensions"):
        MLPAdapter(hidden=10, progress=False).fit(X, Y)
    with pytest.raises(VecbridgeError, match="loss must be"):
        MLPAdapter(loss="hinge", progress=False).fit(X, Y)


def test_reduced_rank_map_is_exact_for_a_low_rank_truth():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 10))
    W = rng.standard_normal((10, 3)) @ rng.standard_normal((3, 8))
    A, B, b = reduced_rank_map(X, X @ W + 1.5, 3)
    assert A.shape == (10, 3) and B.shape == (3, 8)
    np.testing.assert_allclose(A @ B, W, atol=1e-3)
    np.testing.assert_allclose(b, 1.5, atol=1e-3)


def test_lowrank_trained_and_persisted(nonlinear, tmp_path):
    X, Y, Xt, Yt = nonlinear
    t = LowRankAffine(rank=4, epochs=5, progress=False).fit(X, Y)
    assert t.A_.shape == (12, 4) and t.fit_info_["trained"] is True
    t.save(tmp_path / "lr")
    np.testing.assert_array_equal(load_translator(tmp_path / "lr").transform(Xt), t.transform(Xt))
    with pytest.raises(VecbridgeError, match="rank must be in 1..12"):
        LowRankAffine(rank=40).fit(X, Y)
