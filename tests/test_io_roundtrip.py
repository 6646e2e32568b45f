"""Round trips of every embeddings format, limit, gzip, gensim and parquet columns."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vecbridge import Embeddings
from vecbridge.io import FORMATS, detect_format, from_gensim, read_embeddings, to_gensim, write_embeddings

EXT = {
    "word2vec": ".vec",
    "fasttext": ".vec",
    "glove": ".txt",
    "word2vec-binary": ".bin",
    "npy": ".npy",
    "npz": ".npz",
    "parquet": ".parquet",
}

# keys without whitespace or control characters (the text formats split on whitespace);
# U+FEFF is left out because a leading one is read as a byte-order mark
KEY_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\ufeff")
KEYS = st.text(KEY_CHARS, min_size=1, max_size=8)
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def embeddings(draw) -> Embeddings:
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 6))
    keys = draw(st.lists(KEYS, min_size=n, max_size=n, unique=True))
    vecs = draw(arrays(np.float32, (n, d), elements=FLOAT32))
    return Embeddings(keys, vecs)


def _roundtrip(emb: Embeddings, fmt: str) -> Embeddings:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"emb{EXT[fmt]}"
        write_embeddings(emb, path, fmt)
        return read_embeddings(path, fmt, progress=False)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(emb=embeddings())
def test_roundtrip_is_exact(fmt, emb):
    back = _roundtrip(emb, fmt)
    assert back.keys == emb.keys
    assert back.vectors.dtype == np.float32
    assert back.vectors.shape == emb.vectors.shape
    # bit-exact, including subnormals, the extremes of float32 and negative zero
    assert np.array_equal(back.vectors.view(np.uint32), emb.vectors.view(np.uint32))


@pytest.fixture
def emb():
    rng = np.random.default_rng(7)
    keys = ["the", "of", "café", "naïve", "東京", "a_b", "x-y", "1", "2.5", "e"]
    vecs = rng.standard_normal((len(keys), 5)).astype(np.float32) * np.float32(10) ** rng.integers(-30, 30, (10, 1))
    return Embeddings(keys, vecs.astype(np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
def test_meta_and_detection_after_write(tmp_path, emb, fmt):
    path = tmp_path / f"model{EXT[fmt]}"
    write_embeddings(emb, path, fmt)
    canonical = "word2vec" if fmt == "fasttext" else fmt
    assert detect_format(path) == canonical
    back = read_embeddings(path)  # detected
    assert back.equals(emb)
    assert back.meta["name"] == "model"
    assert back.meta["source"] == str(path)
    assert back.meta["format"] == canonical
    report = back.meta["read_report"]
    assert report["rows"] == len(emb) and report["skipped"] == {}
    assert read_embeddings(path, name="other").meta["name"] == "other"


@pytest.mark.parametrize("fmt", ["word2vec", "glove", "word2vec-binary"])
def test_gzip_roundtrip(tmp_path, emb, fmt):
    path = tmp_path / f"model{EXT[fmt]}.gz"
    write_embeddings(emb, path, fmt)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert detect_format(path) == fmt
    back = read_embeddings(path)
    assert back.equals(emb)
    assert back.meta["name"] == "model"
    assert read_embeddings(path, limit=3).equals(emb.head(3))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("limit", [0, 1, 4, 10, 50])
def test_limit_reads_top_rows(tmp_path, emb, fmt, limit):
    path = tmp_path / f"model{EXT[fmt]}"
    write_embeddings(emb, path, fmt)
    back = read_embeddings(path, fmt, limit=limit)
    assert back.equals(emb.head(limit))
    assert back.meta["read_report"]["stopped_at_limit"] == (limit < len(emb))


def test_limit_stops_reading_before_bad_rows(tmp_path):
    # the bad lines come after the limit: a reader that stops there never sees them
    good = "".join(f"w{i} {i}.5 1\n" for i in range(5))
    path = tmp_path / "v.txt"
    path.write_text("8 2\n" + good + "bad 1 2 3 4\nw0 nan 1\n")
    with pytest.raises(Exception):
        read_embeddings(path)
    back = read_embeddings(path, limit=5)
    assert back.keys == [f"w{i}" for i in range(5)]
    assert back.vectors[:, 0].tolist() == [0.5, 1.5, 2.5, 3.5, 4.5]


def test_limit_with_skip_counts_only_good_rows(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("a 1 2\nb 1\nc 3 4\nd 5 6\n")
    with pytest.warns(UserWarning, match="ragged"):
        back = read_embeddings(path, "glove", limit=2, on_error="skip")
    assert back.keys == ["a", "c"]


def test_text_file_variants(tmp_path):
    """CRLF endings, the C tool's trailing space, tabs, a BOM, blank lines and gensim's float spellings."""
    path = tmp_path / "v.vec"
    path.write_bytes(b"\xef\xbb\xbf3 2\r\nthe 1.0 -2 \r\nof\t3e-2\t+4.5\n\nand .5  6E1\n\n")
    back = read_embeddings(path)
    assert back.meta["format"] == "word2vec"
    assert back.keys == ["the", "of", "and"]
    np.testing.assert_array_equal(back.vectors, np.array([[1, -2], [0.03, 4.5], [0.5, 60]], np.float32))
    assert back.meta["read_report"]["blank_lines"] == 2


def test_glove_larger_than_first_estimate(tmp_path, monkeypatch):
    """GloVe without a header: the row buffer grows when the size estimate is short."""
    import vecbridge.io.text as text

    monkeypatch.setattr(text, "FIRST_CHUNK_BYTES", 64)
    monkeypatch.setattr(text, "CHUNK_BYTES", 256)
    rng = np.random.default_rng(1)
    n = 500
    vecs = rng.standard_normal((n, 3)).astype(np.float32)
    # short lines first, long lines later: the estimate from the first chunk is too small
    keys = [f"k{i}" if i < 50 else f"key_{'x' * 40}_{i}" for i in range(n)]
    emb = Embeddings(keys, vecs)
    path = tmp_path / "g.txt"
    write_embeddings(emb, path, "glove")
    assert read_embeddings(path, "glove").equals(emb)


def test_row_buffer_grows_and_trims():
    from vecbridge.io.files import RowBuffer

    buf = RowBuffer(2, capacity=3)
    for i in range(5):
        buf.append(np.full((2, 2), i, np.float32))
    out = buf.finish()
    assert out.shape == (10, 2) and out.flags.c_contiguous
    assert out[:, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_fasttext_alias_reads_word2vec_text(tmp_path, emb):
    path = tmp_path / "crawl.vec"
    write_embeddings(emb, path, "fasttext")
    assert path.read_text(encoding="utf-8").startswith(f"{len(emb)} {emb.dim}\n")
    assert read_embeddings(path, "fasttext").equals(emb)
    assert read_embeddings(path, "FastText").meta["format"] == "word2vec"


def test_floats_written_with_nine_digits(tmp_path):
    emb = Embeddings(["a"], np.array([[0.1, 1 / 3, 1e-45, -3.4028235e38]], np.float32))
    path = tmp_path / "a.txt"
    write_embeddings(emb, path, "glove")
    assert path.read_text() == "a 0.100000001 0.333333343 1.40129846e-45 -3.40282347e+38\n"
    assert read_embeddings(path).equals(emb)


def test_format_from_extension_on_write(tmp_path, emb):
    for ext, fmt in [(".vec", "word2vec"), (".txt", "word2vec"), (".bin", "word2vec-binary"), (".pq", "parquet")]:
        path = write_embeddings(emb, tmp_path / f"m{ext}")
        assert detect_format(path) == fmt
    glove = read_embeddings(write_embeddings(emb, tmp_path / "g.txt", "glove"))
    assert detect_format(write_embeddings(glove, tmp_path / "g2.txt")) == "glove"  # keeps the GloVe flavour
    with pytest.raises(Exception, match="--format / format="):
        write_embeddings(emb, tmp_path / "m.unknown")


def test_unknown_format_name(tmp_path, emb):
    path = write_embeddings(emb, tmp_path / "m.vec")
    with pytest.raises(Exception, match="unknown format 'csv'.*word2vec"):
        read_embeddings(path, "csv")


def test_on_error_value_is_checked(tmp_path, emb):
    path = write_embeddings(emb, tmp_path / "m.vec")
    with pytest.raises(ValueError, match="on_error"):
        read_embeddings(path, on_error="ignore")


# -- gensim ---------------------------------------------------------------------------------------


def test_gensim_roundtrip(emb):
    kv = to_gensim(emb)
    assert kv.index_to_key == emb.keys
    assert kv.vectors.dtype == np.float32
    np.testing.assert_array_equal(kv["café"], emb["café"])
    back = from_gensim(kv, name="kv")
    assert back.equals(emb)
    assert back.meta["name"] == "kv"
    kv.vectors[0, 0] += 1  # a copy, not a view
    assert back.vectors[0, 0] == emb.vectors[0, 0]


def test_gensim_reads_our_files_and_we_read_its(tmp_path, emb):
    from gensim.models import KeyedVectors

    for fmt, binary in [("word2vec", False), ("word2vec-binary", True)]:
        ours = write_embeddings(emb, tmp_path / f"ours{EXT[fmt]}", fmt)
        assert from_gensim(KeyedVectors.load_word2vec_format(str(ours), binary=binary)).equals(emb)
        theirs = tmp_path / f"theirs{EXT[fmt]}"
        to_gensim(emb).save_word2vec_format(str(theirs), binary=binary)
        assert detect_format(theirs) == fmt
        assert read_embeddings(theirs).equals(emb)
    glove = write_embeddings(emb, tmp_path / "g.txt", "glove")
    assert from_gensim(KeyedVectors.load_word2vec_format(str(glove), no_header=True)).equals(emb)


def test_from_gensim_model_and_int_keys():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(3)
    kv.add_vectors([10, 20], np.eye(2, 3, dtype=np.float32))
    e = from_gensim(kv)
    assert e.keys == ["10", "20"] and e.dim == 3


# -- parquet columns ------------------------------------------------------------------------------


def _write_table(path, columns: dict):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)


def test_parquet_list_double_column_found_by_type(tmp_path):
    import pyarrow as pa

    path = tmp_path / "t.parquet"
    _write_table(
        path,
        {
            "word": pa.array(["a", "b", "c"]),
            "count": pa.array([5, 3, 1]),
            "embedding": pa.array([[1.0, 2.0], [3.5, -1e-3], [0.0, 7.0]], type=pa.list_(pa.float64())),
        },
    )
    back = read_embeddings(path)
    assert back.keys == ["a", "b", "c"]
    np.testing.assert_array_equal(back.vectors, np.array([[1, 2], [3.5, -1e-3], [0, 7]], np.float32))
    assert back.meta["parquet_columns"] == {"key": "word", "vector": "embedding"}
    # written back under the same names, as fixed_size_list<float32>
    out = write_embeddings(back, tmp_path / "out.parquet")
    import pyarrow.parquet as pq

    schema = pq.read_schema(out)
    assert schema.names == ["word", "embedding"]
    assert schema.field("embedding").type == pa.list_(pa.float32(), 2)
    assert read_embeddings(out).equals(back)


def test_parquet_custom_columns(tmp_path):
    import pyarrow as pa

    path = tmp_path / "t.parquet"
    _write_table(
        path,
        {
            "doc_uid": pa.array(["x1", "x2"]),
            "title": pa.array(["one", "two"]),
            "v_a": pa.array([[1.0, 2.0], [3.0, 4.0]], type=pa.list_(pa.float32(), 2)),
            "v_b": pa.array([[9.0], [8.0]], type=pa.list_(pa.float64())),
        },
    )
    with pytest.raises(Exception, match="vector_column="):
        read_embeddings(path)
    with pytest.raises(Exception, match="key_column="):
        read_embeddings(path, vector_column="v_a")
    back = read_embeddings(path, key_column="doc_uid", vector_column="v_b")
    assert back.keys == ["x1", "x2"] and back.vectors.tolist() == [[9.0], [8.0]]
    out = write_embeddings(back, tmp_path / "o.parquet")
    import pyarrow.parquet as pq

    assert pq.read_schema(out).names == ["doc_uid", "v_b"]
    renamed = write_embeddings(back, tmp_path / "r.parquet", key_column="id", vector_column="vec")
    assert pq.read_schema(renamed).names == ["id", "vec"]
    with pytest.raises(Exception, match="no column 'nope'"):
        read_embeddings(path, key_column="nope", vector_column="v_a")


def test_parquet_int_keys_written_back_as_int(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    _write_table(path, {"id": pa.array([7, 3]), "vector": pa.array([[1.0], [2.0]], type=pa.list_(pa.float32(), 1))})
    back = read_embeddings(path)
    assert back.keys == ["7", "3"]
    out = write_embeddings(back, tmp_path / "o.parquet")
    assert pq.read_schema(out).field("id").type == pa.int64()
    assert read_embeddings(out).equals(back)


def test_npy_keys_sources(tmp_path, emb):
    from vecbridge.io import read_keys

    path = tmp_path / "m.npy"
    write_embeddings(emb, path)
    assert (tmp_path / "m.keys.txt").is_file()
    assert read_keys(tmp_path / "m.keys.txt") == emb.keys
    assert read_embeddings(path).meta["keys_source"] == str(tmp_path / "m.keys.txt")
    # an explicit keys file wins; a .vocab sibling is found; without keys, row numbers
    other = tmp_path / "other_keys"
    other.write_text("\n".join(f"k{i}" for i in range(len(emb))) + "\n")
    assert read_embeddings(path, keys_path=other).keys == [f"k{i}" for i in range(len(emb))]
    (tmp_path / "m.keys.txt").rename(tmp_path / "m.vocab")
    assert read_embeddings(path).keys == emb.keys
    (tmp_path / "m.vocab").unlink()
    plain = read_embeddings(path)
    assert plain.keys == [str(i) for i in range(len(emb))]
    np.testing.assert_array_equal(plain.vectors, emb.vectors)


def test_plain_numpy_files(tmp_path):
    arr = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "a.npy", arr)
    e = read_embeddings(tmp_path / "a.npy")
    assert e.vectors.dtype == np.float32 and e.keys == ["0", "1", "2", "3"]
    np.savez_compressed(tmp_path / "b.npz", weights=arr, scale=np.ones(3))
    e = read_embeddings(tmp_path / "b.npz", limit=2)
    assert e.vectors.tolist() == arr[:2].tolist() and e.meta["npz_array"] == "weights"


def test_read_keys_line_endings(tmp_path):
    from vecbridge.io import read_keys

    p = tmp_path / "k.txt"
    p.write_bytes(b"a\r\nb c\n\nd")
    assert read_keys(p) == ["a", "b c", "", "d"]
    p.write_bytes(b"")
    assert read_keys(p) == []


def test_progress_bar_shows_when_asked(tmp_path, emb, capsys):
    path = write_embeddings(emb, tmp_path / "m.vec", progress=True)
    read_embeddings(path, progress=True)
    assert "m.vec" in capsys.readouterr().err
    read_embeddings(path, progress=False)
    assert capsys.readouterr().err == ""


def test_binary_file_whose_float_bytes_look_like_text_reads_back(tmp_path):
    """A 1-d word2vec .bin row whose 4 float bytes are printable ('1 1\\n0 <bytes>\\n') is not text."""
    from vecbridge import Embeddings
    from vecbridge.io import read_embeddings, write_embeddings

    e = Embeddings(["0"], np.array([[5.8583216e16]], dtype=np.float32))
    got = read_embeddings(write_embeddings(e, tmp_path / "m.bin"))
    assert got.keys == ["0"] and np.array_equal(got.vectors, e.vectors)
