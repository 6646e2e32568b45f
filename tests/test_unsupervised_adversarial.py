"""The adversarial vec2vec model: trains end to end on CPU on a small setting, saves, loads, is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vecbridge.errors import VecbridgeError  # noqa: E402
from vecbridge.translators import load_translator, make_translator  # noqa: E402
from vecbridge.translators.adversarial import train_vec2vec, vec2vec_translate  # noqa: E402

SMALL = dict(latent_dim=16, width=32, depth=1, steps=60, batch_size=64, device="cpu")


def data(seed=0, n=300, dx=12, dy=10):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(2 * n, 6)).astype(np.float32)
    A = np.tanh(Z[:n] @ rng.normal(size=(6, dx))).astype(np.float32)
    B = np.tanh(Z[n:] @ rng.normal(size=(6, dy))).astype(np.float32)
    return A, B


def test_trains_transforms_saves_and_loads(tmp_path):
    A, B = data()
    tr = make_translator("vec2vec", seed=0, **SMALL).fit(A, B)
    out = tr.transform(A[:5])
    assert out.shape == (5, 10) and out.dtype == np.float32 and np.isfinite(out).all()
    info = tr.fit_info_["training"]
    assert info["steps"] == 60 and info["device"] == "cpu"
    assert set(info["last_losses"]) == {"rec", "cycle", "vsp", "adv", "latent_adv", "disc"}
    assert "score" in tr.fit_info_["selection"]
    np.testing.assert_allclose(tr.transform(A[2]), out[2:3], atol=1e-6)  # one row works, no batch statistics
    tr.save(tmp_path / "v")
    back = load_translator(tmp_path / "v")
    np.testing.assert_array_equal(back.transform(A[:5]), out)


def test_training_lowers_reconstruction_loss():
    A, B = data()
    _, short = train_vec2vec([A, B], **{**SMALL, "steps": 2})
    _, long = train_vec2vec([A, B], **{**SMALL, "steps": 80})
    assert long["last_losses"]["rec"] < short["last_losses"]["rec"]


def test_deterministic_with_seed():
    A, B = data()
    w1, _ = train_vec2vec([A, B], seed=3, **SMALL)
    w2, _ = train_vec2vec([A, B], seed=3, **SMALL)
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)


def test_more_than_two_spaces():
    A, B = data()
    C = np.random.default_rng(5).normal(size=(200, 7)).astype(np.float32)
    w, info = train_vec2vec([A, B, C], **SMALL)
    assert info["spaces"] == 3 and info["dims"] == [12, 10, 7]
    assert vec2vec_translate(w, C[:4], 2, 0, depth=1).shape == (4, 12)
    assert vec2vec_translate(w, A[:4], 0, 2, depth=1).shape == (4, 7)


def test_errors():
    A, B = data()
    with pytest.raises(VecbridgeError, match="at least two"):
        train_vec2vec([A])
    with pytest.raises(VecbridgeError, match="loss weights"):
        train_vec2vec([A, B], loss_weights={"bogus": 1.0}, **SMALL)
    with pytest.raises(VecbridgeError, match="few-pair"):
        make_translator("vec2vec", **SMALL).fit(A, B, known_pairs=[[0, 0]])
