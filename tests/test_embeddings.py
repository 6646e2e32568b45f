"""The Embeddings container and normalisations."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge import Embeddings
from vecbridge.errors import DimensionError, FormatError, KeyMissingError, VecbridgeError
from vecbridge.normalize import Normalizer, parse_steps


def make(n=5, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return Embeddings([f"w{i}" for i in range(n)], rng.normal(size=(n, d)), {"name": "toy"})


def test_basic_access():
    e = make()
    assert len(e) == 5 and e.dim == 3 and e.vectors.dtype == np.float32
    assert "w2" in e and "zz" not in e
    np.testing.assert_array_equal(e["w2"], e.vectors[2])
    with pytest.raises(KeyMissingError, match="'zz' is not among the 5 keys of toy"):
        e["zz"]


def test_duplicate_keys_and_nonfinite_rows_are_named():
    with pytest.raises(FormatError, match="duplicate key 'a' at rows 0 and 2"):
        Embeddings(["a", "b", "a"], np.zeros((3, 2)))
    v = np.zeros((3, 2))
    v[1, 1] = np.nan
    with pytest.raises(FormatError, match="row 1 \\(key 'b'\\) holds NaN"):
        Embeddings(["a", "b", "c"], v)
    with pytest.raises(DimensionError, match="2 keys for 3 vectors"):
        Embeddings(["a", "b"], np.zeros((3, 2)))


def test_views_and_intersection():
    e = make()
    f = Embeddings(["w4", "x", "w1"], np.ones((3, 3)))
    a, b = e.intersect(f)
    assert a.keys == ["w1", "w4"] and b.keys == ["w1", "w4"]
    rows, missing = e.rows_of(["w3", "q", "w0"])
    assert rows.tolist() == [3, 0] and missing == ["q"]
    with pytest.raises(KeyMissingError, match="1 keys not in toy"):
        e.subset(["w0", "q"])
    assert e.subset(["w0", "q"], strict=False).keys == ["w0"]
    assert e.head(2).keys == ["w0", "w1"]
    assert Embeddings.from_array(np.zeros((2, 4))).keys == ["0", "1"]


def test_normalize_unit_center_unit_recorded():
    e = make(50, 4).normalize("unit center unit")
    assert e.meta["normalization"] == ["unit", "center", "unit"]
    np.testing.assert_allclose(np.linalg.norm(e.vectors, axis=1), 1.0, atol=1e-5)


def test_normalizer_steps_compose_and_are_rowwise():
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(100, 6)) * [1, 2, 3, 4, 5, 6] + 7).astype(np.float32)
    n = Normalizer("standardize").fit(X)
    Z = n.transform(X)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(n.transform(X[5]), Z[5], atol=1e-6)
    c = Normalizer(["center"]).fit(X)
    np.testing.assert_allclose(c.transform(X).mean(0), 0, atol=1e-4)
    # order matters: unit-then-center is not center-then-unit
    a = Normalizer("unit center").fit_transform(X)
    b = Normalizer("center unit").fit_transform(X)
    assert not np.allclose(a, b)
    assert parse_steps("unit,centre std") == ["unit", "center", "standardize"]
    with pytest.raises(VecbridgeError, match="unknown normalisation step 'whiten'"):
        parse_steps("unit whiten")


def test_unit_keeps_zero_rows_zero():
    X = np.zeros((2, 3), dtype=np.float32)
    X[1] = [3, 4, 0]
    Z = Normalizer("unit").fit_transform(X)
    np.testing.assert_allclose(Z, [[0, 0, 0], [0.6, 0.8, 0]], atol=1e-7)


def test_copies_keep_their_own_normalisation_history_and_take_refuses_masks():
    import numpy as np
    import pytest

    from vecbridge import Embeddings
    from vecbridge.errors import DimensionError, FormatError

    e = Embeddings(["a", "b", "c"], np.eye(3, dtype=np.float32))
    for c in (e.copy(), e.take([0, 1]), e.head(2), e.with_vectors(e.vectors)):
        c.meta["normalization"].append("unit")
    assert e.meta["normalization"] == []
    with pytest.raises(DimensionError, match="not a boolean mask"):
        e.take(np.array([True, False, True]))
    with pytest.raises(FormatError, match="real numbers"):
        Embeddings(["a"], np.array([["x", "y"]]))
