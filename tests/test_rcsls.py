"""RCSLS: loss gradient, hub-aware training from Procrustes, early stopping, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge import Embeddings, load_translator
from vecbridge.errors import VecbridgeError
from vecbridge.translators.rcsls import RCSLS, rcsls_loss_and_grad, spectral_projection


def _unit(X):
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    X, Y = _unit(rng.standard_normal((40, 6))), _unit(rng.standard_normal((40, 5)))
    W = rng.standard_normal((6, 5)).astype(np.float32) * 0.3
    loss, grad = rcsls_loss_and_grad(X, Y, W, X, Y, k=3, backend="numpy")
    E = np.zeros_like(W)
    E[2, 1] = 1e-3  # small enough that the neighbour sets do not change
    lp, _ = rcsls_loss_and_grad(X, Y, W + E, X, Y, k=3, backend="numpy")
    lm, _ = rcsls_loss_and_grad(X, Y, W - E, X, Y, k=3, backend="numpy")
    assert (lp - lm) / 2e-3 == pytest.approx(float(grad[2, 1]), rel=1e-2, abs=1e-4)


def test_spectral_projection_clips_singular_values():
    rng = np.random.default_rng(1)
    s = np.linalg.svd(spectral_projection(3 * rng.standard_normal((8, 6))), compute_uv=False)
    assert s.max() <= 1 + 1e-5 and s.min() >= 0


def test_rcsls_lowers_its_loss_and_keeps_precision():
    rng = np.random.default_rng(2)
    n, d = 600, 20
    X = rng.standard_normal((n, d)).astype(np.float32)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    # a map with some non-orthogonal distortion and noise
    Y = (X @ Q @ np.diag(np.linspace(0.6, 1.4, d)) + 0.4 * rng.standard_normal((n, d))).astype(np.float32)
    src = Embeddings([f"s{i}" for i in range(n)], X)
    tgt = Embeddings([f"t{i}" for i in range(n)], Y)
    pairs = [(f"s{i}", f"t{i}") for i in range(400)]
    t = RCSLS(n_iter=15, validation=0.1, progress=False).fit(src, tgt, pairs=pairs)
    hist = [h for h in t.fit_info_["history"] if not h.get("rejected")]
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert t.fit_info_["validation_p1"] is not None and t.fit_info_["n_validation_pairs"] == 40
    P, T = _unit(t.transform(X[400:])), _unit(t.transform_target(Y))
    assert np.mean((P @ T.T).argmax(1) == np.arange(400, n)) > 0.8


def test_rcsls_save_load_and_errors(tmp_path):
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((120, 8)).astype(np.float32), rng.standard_normal((120, 6)).astype(np.float32)
    t = RCSLS(n_iter=3, validation=0, progress=False).fit(X, Y)
    assert t.W_.shape == (8, 6)
    t.save(tmp_path / "m")
    np.testing.assert_array_equal(load_translator(tmp_path / "m").transform(X), t.transform(X))
    with pytest.raises(VecbridgeError, match="validation"):
        RCSLS(validation=0.7).fit(X, Y)
