"""Property-based tests that look for trouble (hypothesis): the readers, normalisation, the service's requests.

Each property runs a few dozen examples (no deadline) so that the whole file takes seconds:

- readers: any bytes, under any format name or extension, give a clean vecbridge error or a correct read;
  embeddings written and read back are the same;
- normalisation: any finite input gives finite output (or an error naming the row), and a map whose
  normalisation starts with unit length gives the same output for a row and that row times any positive
  finite factor;
- the service: any JSON body gets a 2xx or a 4xx answer with a JSON error naming what is wrong, never a 500.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vecbridge import Embeddings
from vecbridge.errors import VecbridgeError
from vecbridge.io import read_embeddings, write_embeddings
from vecbridge.normalize import Normalizer, unit_rows

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.filterwarnings("ignore::vecbridge.io.ReadWarning")


# -- readers ------------------------------------------------------------------------------------------------
def _seed_files() -> list[bytes]:
    """Small valid files of every format: mutating them reaches deep into each reader."""
    seeds = [b"3 2\na 1 2\nb 3 4\nc 5 6\n", b"a 1 2\nb 3 4\n",
             b"2 2\na \x00\x00\x80?\x00\x00\x00@\nb \x00\x00\x80?\x00\x00\x00@\n"]
    buf = io.BytesIO()
    np.save(buf, np.ones((3, 2), np.float32))
    seeds.append(buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, vectors=np.ones((3, 2), np.float32), keys=np.array(["a", "b", "c"]))
    seeds.append(buf.getvalue())
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.table({"key": ["a", "b"], "vector": [[1.0, 2.0], [3.0, 4.0]]}), buf)
        seeds.append(buf.getvalue())
    except ImportError:  # pragma: no cover - parquet is an extra
        pass
    return seeds


SEEDS = _seed_files()


@st.composite
def mutated_files(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for pos, insert, delete in draw(st.lists(st.tuples(st.integers(0, 400), st.binary(max_size=8),
                                                       st.integers(0, 8)), max_size=4)):
        pos = min(pos, len(data))
        data[pos:pos + delete] = insert
    return bytes(data)


FORMAT_AND_NAME = st.sampled_from([
    (None, "f.vec"), (None, "f.bin"), (None, "f.npy"), (None, "f.npz"), (None, "f.parquet"), (None, "f.vec.gz"),
    ("word2vec", "f.vec"), ("glove", "f.txt"), ("word2vec-binary", "f.bin"), ("npy", "f.npy"), ("npz", "f.npz"),
    ("parquet", "f.parquet"), ("word2vec", "f.vec.gz"),
])


@FAST
@given(data=st.one_of(st.binary(max_size=300), mutated_files()), how=FORMAT_AND_NAME,
       lenient=st.booleans())
def test_any_bytes_read_cleanly_or_fail_with_a_vecbridge_error(data, how, lenient):
    fmt, name = how
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        try:
            emb = read_embeddings(path, format=fmt, on_error="skip" if lenient else "raise", progress=False)
        except VecbridgeError as e:
            assert str(e)  # a message, naming the file
            return
    assert emb.vectors.dtype == np.float32 and emb.vectors.ndim == 2
    assert len(emb.keys) == emb.vectors.shape[0] == len(set(emb.keys))
    assert np.isfinite(emb.vectors).all()


KEYS = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                                      blacklist_characters="\x85\ufeff"), min_size=1, max_size=8),
                min_size=1, max_size=12, unique=True)
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@FAST
@given(keys=KEYS, dim=st.integers(1, 6), data=st.data(),
       name=st.sampled_from(["m.vec", "m.txt", "m.bin", "m.npy", "m.npz", "m.parquet", "m.vec.gz"]))
def test_written_embeddings_read_back_the_same(keys, dim, data, name):
    assume(not any(k.isspace() or k != k.strip() for k in keys))
    X = data.draw(arrays(np.float32, (len(keys), dim), elements=FLOAT32))
    emb = Embeddings(keys, X, {"name": "p"})
    with tempfile.TemporaryDirectory() as d:
        try:
            path = write_embeddings(emb, Path(d) / name)
        except VecbridgeError:  # a key the format cannot hold is refused by name, never mangled
            return
        back = read_embeddings(path, progress=False)
    assert back.keys == list(keys)
    np.testing.assert_array_equal(back.vectors, X)


# -- normalisation (any finite input -> finite output) -------------------------------------------------------
MAGNITUDES = st.sampled_from([1e-38, 1e-30, 1e-25, 1e-10, 1.0, 1e10, 1e25, 1e30, 3e38])
STEPS = st.sampled_from(["unit", "center", "standardize", "unit center", "unit center unit", "center unit",
                         "standardize unit"])


@st.composite
def finite_matrices(draw, max_rows=8, max_dim=6):
    n, d = draw(st.integers(1, max_rows)), draw(st.integers(1, max_dim))
    base = draw(arrays(np.float32, (n, d), elements=st.floats(-1, 1, width=32)))
    scale = np.array([draw(MAGNITUDES) for _ in range(n)], dtype=np.float64)[:, None]
    X = (base.astype(np.float64) * scale).astype(np.float32)
    assume(np.isfinite(X).all())
    return X


@FAST
@given(X=finite_matrices(), steps=STEPS)
def test_normalisation_of_finite_input_is_finite(X, steps):
    try:
        Y = Normalizer(steps).fit(X).transform(X)
    except VecbridgeError as e:  # e.g. a row it cannot normalise: refused by name
        assert "row" in str(e)
        return
    assert Y.shape == X.shape and np.isfinite(Y).all()


@FAST
@given(X=finite_matrices(), factor=MAGNITUDES)
def test_unit_length_ignores_a_positive_factor(X, factor):
    with np.errstate(over="ignore"):
        scaled = (X.astype(np.float64) * factor).astype(np.float32)
    assume(np.isfinite(scaled).all() and (np.abs(scaled) > 0).sum() == (np.abs(X) > 0).sum())  # no underflow to 0
    tiny = np.finfo(np.float32).tiny  # below it float32 is subnormal: the scaling itself loses relative precision
    assume(all((np.abs(a[a != 0]) >= tiny).all() for a in (X, scaled)))
    U, V = unit_rows(X), unit_rows(scaled)
    assert np.isfinite(U).all() and np.isfinite(V).all()
    np.testing.assert_allclose(U, V, atol=1e-5)
    norms = np.linalg.norm(U, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-4) | (norms == 0))


# -- the service's request validation ------------------------------------------------------------------------
D_IN = 4


@pytest.fixture(scope="module")
def service():
    """A service of two maps; the service tests skip (the others run) where the 'serve' extra is missing."""
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from vecbridge.serve import create_app
    from vecbridge.translators.linear import LeastSquares, Procrustes

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, D_IN)).astype(np.float32)
    maps = {"lin": LeastSquares(bias=True).fit(X, X @ rng.standard_normal((D_IN, 3))),
            "unit": Procrustes(normalize="unit").fit(X, X @ np.linalg.qr(rng.standard_normal((D_IN, D_IN)))[0])}
    app = create_app(maps, max_rows=50, max_body_bytes=256 * 1024)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, maps


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)
NUMBER = st.one_of(st.floats(), st.integers(-(10**400), 10**400), st.sampled_from([1e38, 3.5e38, -1e39, 1e-45]))
ROW = st.lists(NUMBER, min_size=0, max_size=D_IN + 2)


def _body(doc) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def request_bodies(draw) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return _body(draw(JSON))
    if kind == 1:
        return _body({"map": draw(st.sampled_from(["lin", "unit", "nope", 3, None])),
                      "vectors": draw(st.lists(ROW, max_size=4) | ROW | JSON)})
    if kind == 2:  # deep nesting
        depth = draw(st.integers(1, 3000))
        return b'{"map": "lin", "vectors": ' + b"[" * depth + b"]" * depth + b"}"
    return draw(st.binary(max_size=60))


@FAST
@given(body=request_bodies(), in_path=st.booleans())
def test_any_body_gets_a_client_error_or_an_answer_never_a_500(service, body, in_path):
    client, _ = service
    url = "/maps/lin/translate" if in_path else "/translate"
    r = client.post(url, content=body, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 404, 413, 422), (r.status_code, r.text[:300])
    doc = r.json()
    if r.status_code == 200:
        Y = np.asarray(doc["vectors"], dtype=np.float64)
        assert Y.shape == (doc["n"], doc["dim"]) and np.isfinite(Y).all()
    else:
        assert isinstance(doc["error"], str) and doc["error"] and "field" in doc


@FAST
@given(rows=st.lists(st.lists(st.floats(-1, 1).filter(lambda v: abs(v) > 1e-3), min_size=D_IN, max_size=D_IN),
                     min_size=1, max_size=5),
       factor=st.sampled_from([1e-30, 1e-25, 1e25, 1e30]))
def test_extreme_but_finite_rows_do_not_collapse(service, rows, factor):
    """The issue's case: x * 1e25 and x * 1e-25 through a unit-normalised map give the map's output for x."""
    client, maps = service
    X = np.asarray(rows, dtype=np.float32)
    r = client.post("/translate", json={"map": "unit", "vectors": (X.astype(np.float64) * factor).tolist()})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.asarray(r.json()["vectors"], np.float32), maps["unit"].transform(X), atol=1e-5)


def test_numbers_beyond_float_range_name_the_value(service):
    client, _ = service
    for value, words in ((10**400, "too large"), (3.5e38, "too large for float32")):
        body = b'{"map": "lin", "vectors": [[0, 0, 0, 0], [0, 0, ' + str(value).encode() + b", 0]]}"
        r = client.post("/translate", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422 and words in r.json()["error"] and r.json()["field"] == "vectors[1][2]"
    r = client.post("/translate", content=b'{"map": "lin", "vectors": [[0, 0, NaN, 0]]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "vector 0" in r.json()["error"] and r.json()["field"] == "vectors[0][2]"
    deep = b'{"map": "lin", "vectors": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = client.post("/translate", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]


def test_normalizer_refuses_rows_that_would_give_nan_statistics():
    import pytest

    from vecbridge.errors import VecbridgeError
    from vecbridge.normalize import Normalizer

    with pytest.raises(VecbridgeError, match="got none"):
        Normalizer("center").fit(np.zeros((0, 4)))
    with pytest.raises(VecbridgeError, match="row 0 .* NaN or Inf"):
        Normalizer("center").fit(np.array([[np.nan, 1.0], [1.0, 2.0]]))
    with pytest.raises(VecbridgeError, match="names such as 'unit'"):
        Normalizer(["unit", 3])
