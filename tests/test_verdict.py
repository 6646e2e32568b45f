"""The shared verdict (vecbridge.verdict): random clouds are never aligned, a planted rotation is."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.errors import DimensionError
from vecbridge.verdict import ALIGNED_FROM, NOT_ALIGNED_BELOW, judge_map


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
