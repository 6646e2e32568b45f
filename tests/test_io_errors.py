"""Bad input: strict mode names file and line; skip mode counts per reason and warns."""

from __future__ import annotations

import re
import struct
import warnings

import numpy as np
import pytest

from vecbridge import Embeddings, FormatError
from vecbridge.io import ReadWarning, read_embeddings, write_embeddings


def _strict_error(path, fmt=None, **kw) -> FormatError:
    with pytest.raises(FormatError) as info:
        read_embeddings(path, fmt, **kw)
    err = info.value
    assert str(path) in str(err)  # names the file
    return err


def _skip(path, fmt=None, **kw):
    with pytest.warns(ReadWarning) as rec:
        emb = read_embeddings(path, fmt, on_error="skip", **kw)
    assert len(rec) == 1  # one line, once
    assert "\n" not in str(rec[0].message)
    return emb, emb.meta["read_report"]


def _write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


# -- text: each kind of bad row, strict and skip -----------------------------------------------------

BAD_ROWS = {
    # reason: (bad line text, message pattern)
    "ragged": ("bad 1 2 3", r"3 values, expected 2"),
    "non_numeric": ("bad 1 x7", r"'x7' is not a number"),
    "non_finite": ("bad nan 1", r"NaN or Inf"),
}


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
@pytest.mark.parametrize("fmt", ["word2vec", "glove"])
def test_bad_row_strict_and_skip(tmp_path, fmt, reason):
    bad, pattern = BAD_ROWS[reason]
    rows = ["a 1 2", "b 3 4", bad, "c 5 6", bad.replace("bad", "bad2")]
    header = "5 2\n" if fmt == "word2vec" else ""
    path = _write(tmp_path, "v.txt", header + "\n".join(rows) + "\n")
    first_bad = 3 + (fmt == "word2vec")
    err = _strict_error(path, fmt)
    assert err.line == first_bad
    assert f"line {first_bad}" in str(err)
    assert re.search(pattern, str(err))
    assert "on_error='skip'" in str(err)  # says what to do

    emb, report = _skip(path, fmt)
    assert emb.keys == ["a", "b", "c"]
    assert report["skipped"] == {reason: 2}
    assert report["first"][reason] == [first_bad, first_bad + 2]
    # the header's N counts lines of the file, kept or not: no disagreement to report
    assert report["notes"] == []


def test_inf_and_negative_inf(tmp_path):
    path = _write(tmp_path, "v.txt", "a 1 2\nb inf 1\nc 1 -Infinity\n")
    assert _strict_error(path, "glove").line == 2
    emb, report = _skip(path, "glove")
    assert emb.keys == ["a"] and report["skipped"] == {"non_finite": 2}


def test_duplicate_keys(tmp_path):
    path = _write(tmp_path, "v.vec", "4 2\nthe 1 2\nof 3 4\nthe 5 6\nand 7 8\n")
    err = _strict_error(path)
    assert err.line == 4 and "duplicate key 'the'" in str(err) and "line 2" in str(err)
    emb, report = _skip(path)
    assert emb.keys == ["the", "of", "and"]
    assert emb["the"].tolist() == [1, 2]  # first occurrence kept
    assert report["skipped"] == {"duplicate_key": 1} and report["first"]["duplicate_key"] == [4]


def test_mixed_reasons_are_counted_separately(tmp_path):
    rows = ["a 1 2", "b 1", "c x 2", "d nan 2", "a 9 9", "e 1 2 3", "f 1 2"]
    path = _write(tmp_path, "v.txt", "\n".join(rows) + "\n")
    emb, report = _skip(path, "glove")
    assert emb.keys == ["a", "f"]
    assert report["skipped"] == {"ragged": 2, "non_numeric": 1, "non_finite": 1, "duplicate_key": 1}
    assert report["first"]["ragged"] == [2, 6]
    assert report["seen"] == 7 and report["rows"] == 2


def test_warning_is_one_line_with_counts(tmp_path):
    path = _write(tmp_path, "v.txt", "a 1 2\nb 1\nc 2 2\n")
    with pytest.warns(ReadWarning, match=r"v\.txt: read 2 rows; skipped 1 \(ragged: 1 \(first lines 2\)\)"):
        read_embeddings(path, "glove", on_error="skip")


# -- headers ------------------------------------------------------------------------------------------


def test_missing_header(tmp_path):
    path = _write(tmp_path, "v.vec", "a 1 2\nb 3 4\n")
    err = _strict_error(path, "word2vec")
    assert err.line == 1 and "expected a header 'N D'" in str(err) and "format='glove'" in str(err)
    with pytest.raises(FormatError, match="header"):  # a file-level problem: skip mode cannot skip it
        read_embeddings(path, "word2vec", on_error="skip")


def test_header_dimension_disagrees_with_rows(tmp_path):
    rows = "".join(f"w{i} " + " ".join(["0.5"] * 50) + "\n" for i in range(3))
    path = _write(tmp_path, "v.vec", "3 300\n" + rows)
    assert _strict_error(path).line == 2  # detected as word2vec: the header looks like one
    err = _strict_error(path, "word2vec")
    assert err.line == 2 and "50 values, expected 300 (from the header on line 1)" in str(err)
    with pytest.raises(FormatError, match="no usable rows: all 3 were skipped"):
        read_embeddings(path, "word2vec", on_error="skip")


def test_header_promises_more_rows_than_the_file_has(tmp_path):
    rows = "".join(f"w{i} {i} 1\n" for i in range(9))
    path = _write(tmp_path, "v.vec", "10 2\n" + rows)
    err = _strict_error(path)
    assert err.line == 1 and "says 10 rows, but the file has 9" in str(err)
    emb, report = _skip(path)  # reported, not silent
    assert len(emb) == 9
    assert "says 10 rows, but the file has 9" in report["notes"][0]
    assert report["header_rows"] == 10


def test_header_promises_fewer_rows_than_the_file_has(tmp_path):
    rows = "".join(f"w{i} {i} 1\n" for i in range(3))
    path = _write(tmp_path, "v.vec", "2 2\n" + rows)
    err = _strict_error(path)
    assert err.line == 4 and "says 2 rows, but the file has more" in str(err)
    emb, report = _skip(path)
    assert len(emb) == 3 and "has more" in report["notes"][0]
    assert read_embeddings(path, limit=2).keys == ["w0", "w1"]  # stops before the surplus


def test_empty_files(tmp_path):
    path = _write(tmp_path, "empty.vec", "")
    err = _strict_error(path)
    assert "empty" in str(err) and err.line == 1
    for fmt in ("word2vec", "glove", "word2vec-binary"):
        assert "empty" in str(_strict_error(path, fmt))
    blank = _write(tmp_path, "blank.txt", "\n\n")
    assert "no data lines" in str(_strict_error(blank, "glove"))


def test_header_only_with_zero_rows_is_valid(tmp_path):
    path = _write(tmp_path, "z.vec", "0 4\n")
    emb = read_embeddings(path)
    assert len(emb) == 0 and emb.dim == 4


def test_wrong_encoding(tmp_path):
    path = _write(tmp_path, "v.txt", "a 1 2\ncafé 3 4\nnaïve 5 6\n", encoding="latin-1")
    err = _strict_error(path, "glove")
    assert err.line == 2 and "not valid utf-8" in str(err) and "encoding=" in str(err)
    emb, report = _skip(path, "glove")
    assert emb.keys == ["a"] and report["skipped"] == {"bad_encoding": 2}
    ok = read_embeddings(path, "glove", encoding="latin-1")
    assert ok.keys == ["a", "café", "naïve"]


def test_undetectable_content(tmp_path):
    path = _write(tmp_path, "v.txt", "hello\nworld\n")
    err = _strict_error(path)
    assert "format=" in str(err) and "--src-format" in str(err)


def test_fasttext_bin_model_is_refused_with_advice(tmp_path):
    path = _write(tmp_path, "cc.en.300.bin", struct.pack("<ii", 793712314, 12) + b"\0" * 64)
    err = _strict_error(path)
    assert "fastText .bin model" in str(err) and "load_facebook_vectors" in str(err)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.vec"):
        read_embeddings(tmp_path / "nope.vec")


# -- word2vec binary ---------------------------------------------------------------------------------


def _binary(records, n=None, dim=2):
    out = [f"{len(records) if n is None else n} {dim}\n".encode()]
    for key, vec in records:
        out.append(key + b" " + np.asarray(vec, "<f4").tobytes() + b"\n")
    return b"".join(out)


def test_binary_bad_records(tmp_path):
    recs = [(b"a", [1, 2]), (b"b", [np.nan, 1]), (b"a", [3, 4]), (b"caf\xe9", [5, 6]), (b"c", [7, 8])]
    path = _write(tmp_path, "v.bin", _binary(recs))
    err = _strict_error(path)
    assert "record 2" in str(err) and "NaN" in str(err)
    emb, report = _skip(path)
    assert emb.keys == ["a", "c"]
    assert report["unit"] == "record"
    assert report["skipped"] == {"non_finite": 1, "duplicate_key": 1, "bad_encoding": 1}
    assert report["first"] == {"non_finite": [2], "duplicate_key": [3], "bad_encoding": [4]}


def test_binary_truncated(tmp_path):
    data = _binary([(b"a", [1, 2]), (b"b", [3, 4]), (b"c", [5, 6])])
    path = _write(tmp_path, "v.bin", data[:-7])  # cut inside the last record
    err = _strict_error(path)
    assert "says 3 records, but the file ends after 2" in str(err)
    emb, report = _skip(path)
    assert emb.keys == ["a", "b"] and "truncated" in report["notes"][0]


def test_binary_longer_than_header(tmp_path):
    path = _write(tmp_path, "v.bin", _binary([(b"a", [1, 2]), (b"b", [3, 4])], n=1))
    assert "continues after the 1 records" in str(_strict_error(path))


# -- npy / npz / parquet ---------------------------------------------------------------------------


def test_npy_nan_rows_and_duplicate_keys(tmp_path):
    arr = np.arange(10, dtype=np.float32).reshape(5, 2)
    arr[1, 0] = np.inf
    np.save(tmp_path / "m.npy", arr)
    (tmp_path / "m.keys.txt").write_text("a\nb\nc\na\nd\n")
    err = _strict_error(tmp_path / "m.npy")
    assert "row 1 (0-based)" in str(err) and "'b'" in str(err)
    emb, report = _skip(tmp_path / "m.npy")
    assert emb.keys == ["a", "c", "d"] and report["skipped"] == {"non_finite": 1, "duplicate_key": 1}
    assert report["first"] == {"non_finite": [1], "duplicate_key": [3]} and report["unit"] == "row"


def test_npy_keys_count_mismatch(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((3, 2), np.float32))
    (tmp_path / "m.vocab").write_text("a\nb\n")
    for mode in ("raise", "skip"):
        with pytest.raises(FormatError, match=r"holds 2 keys but the array has 3 rows"):
            read_embeddings(tmp_path / "m.npy", on_error=mode)


def test_keys_file_bad_encoding(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((2, 2), np.float32))
    (tmp_path / "m.keys.txt").write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(FormatError) as info:
        read_embeddings(tmp_path / "m.npy")
    assert info.value.line == 2 and "m.keys.txt" in str(info.value)


def test_npy_wrong_shape_or_dtype(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros(4, np.float32))
    assert "expected a 2-D" in str(_strict_error(tmp_path / "v.npy"))
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    assert "dtype" in str(_strict_error(tmp_path / "s.npy"))


def test_npz_object_keys_are_refused(tmp_path):
    np.savez(tmp_path / "o.npz", vectors=np.zeros((2, 2)), keys=np.array(["a", None], dtype=object))
    assert "pickle" in str(_strict_error(tmp_path / "o.npz"))


def test_parquet_ragged_null_and_nan(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    vec = pa.array([[1.0, 2.0], [1.0], None, [np.nan, 1.0], [3.0, 4.0], [5.0, 6.0]], type=pa.list_(pa.float64()))
    pq.write_table(pa.table({"key": ["a", "b", "c", "d", "a", "e"], "vector": vec}), tmp_path / "t.parquet")
    err = _strict_error(tmp_path / "t.parquet")
    assert "row 1 (0-based)" in str(err) and "1 values, expected 2" in str(err)
    emb, report = _skip(tmp_path / "t.parquet")
    assert emb.keys == ["a", "e"]
    assert report["skipped"] == {"ragged": 1, "missing": 1, "non_finite": 1, "duplicate_key": 1}


def test_all_rows_bad_is_an_error_even_when_skipping(tmp_path):
    path = _write(tmp_path, "v.txt", "a 1 x\nb x 1\nc nan 1\n")
    with pytest.raises(FormatError, match="no usable rows: all 3 were skipped"):
        read_embeddings(path, "glove", on_error="skip")


# -- writers ------------------------------------------------------------------------------------------

FORMATS_EXT = [
    ("word2vec", "m.vec"),
    ("glove", "m.txt"),
    ("word2vec-binary", "m.bin"),
    ("npy", "m.npy"),
    ("npz", "m.npz"),
    ("parquet", "m.parquet"),
]


@pytest.fixture
def emb():
    return Embeddings(["a", "b", "c"], np.arange(6, dtype=np.float32).reshape(3, 2))


@pytest.mark.parametrize("fmt,name", FORMATS_EXT)
def test_no_overwrite_without_permission(tmp_path, emb, fmt, name):
    from vecbridge.io import OutputExistsError

    path = tmp_path / name
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists; choose another name or allow overwriting"):
        write_embeddings(emb, path, fmt)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left
    write_embeddings(emb, path, fmt, overwrite=True)
    assert read_embeddings(path, fmt).equals(emb)


def test_npy_refuses_when_only_the_keys_file_exists(tmp_path, emb):
    from vecbridge.io import OutputExistsError

    (tmp_path / "m.keys.txt").write_text("old\n")
    with pytest.raises(OutputExistsError, match="m.keys.txt"):
        write_embeddings(emb, tmp_path / "m.npy")
    assert not (tmp_path / "m.npy").exists()


@pytest.mark.parametrize("fmt,name", FORMATS_EXT)
def test_interrupted_write_leaves_no_file(tmp_path, emb, fmt, name, monkeypatch):
    import vecbridge.io.files as files

    real = files.os.fsync

    def boom(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", boom)  # fails after the data was written, before the rename
    with pytest.raises(KeyboardInterrupt):
        write_embeddings(emb, tmp_path / name, fmt)
    monkeypatch.setattr(files.os, "fsync", real)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_file(tmp_path, emb, monkeypatch):
    import vecbridge.io.text as text

    path = tmp_path / "m.vec"
    path.write_text("old")

    class Bar:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    monkeypatch.setattr(text, "progress_bar", lambda *a, **k: Bar())
    with pytest.raises(KeyboardInterrupt):
        write_embeddings(emb, path, overwrite=True)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.vec"]


@pytest.mark.parametrize("fmt", ["word2vec", "glove", "word2vec-binary"])
@pytest.mark.parametrize("key", ["new york", "tab\there", "", "line\nbreak"])
def test_text_formats_refuse_keys_with_whitespace(tmp_path, fmt, key):
    emb = Embeddings(["ok", key], np.ones((2, 2), np.float32))
    with pytest.raises(FormatError, match=re.escape(repr(key))):
        write_embeddings(emb, tmp_path / "out", fmt)
    assert list(tmp_path.iterdir()) == []


def test_keys_with_spaces_survive_npy_npz_parquet(tmp_path):
    emb = Embeddings(["new york", "a\tb", ""], np.ones((3, 2), np.float32))
    for name in ("m.npz", "m.parquet"):
        assert read_embeddings(write_embeddings(emb, tmp_path / name)).keys == emb.keys
    assert read_embeddings(write_embeddings(emb, tmp_path / "m.npy")).keys == emb.keys
    with pytest.raises(FormatError, match="line break"):
        write_embeddings(Embeddings(["a\nb"], np.ones((1, 2))), tmp_path / "n.npy")


@pytest.mark.parametrize("name", ["m.vec", "m.txt", "m.bin", "m.npy", "m.npz", "m.parquet"])
def test_write_into_missing_folder_creates_it(tmp_path, emb, name):
    out = write_embeddings(emb, tmp_path / "no" / "such" / name)  # one behaviour everywhere: parents are made
    assert out.exists() and read_embeddings(out).keys == emb.keys


def test_unknown_encoding_and_rows_without_values(tmp_path):
    from vecbridge.errors import ParameterError

    np.save(tmp_path / "ok.npy", np.ones((3, 4), np.float32))
    with pytest.raises(ParameterError, match="encoding 'bogus'"):
        read_embeddings(tmp_path / "ok.npy", encoding="bogus")
    np.save(tmp_path / "empty_rows.npy", np.zeros((3, 0), np.float32))
    assert "hold no values" in str(_strict_error(tmp_path / "empty_rows.npy"))


# -- hostile headers and values -------------------------------------------------------------------


def test_huge_header_dimension_costs_no_memory_before_the_rows_refute_it(tmp_path):
    import tracemalloc

    path = _write(tmp_path, "huge.vec", "1000 300000\n" + "".join(f"w{i} 1 2 3\n" for i in range(1000)))
    tracemalloc.start()
    try:
        err = _strict_error(path)
        strict_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        with pytest.raises(FormatError, match="no usable rows: all 1000 were skipped"):
            read_embeddings(path, on_error="skip")
        skip_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.line == 2 and "3 values, expected 300000 (from the header on line 1)" in str(err)
    # 1000 x 300000 float32 would be 1.2 GB; the file is 11 KB
    assert strict_peak < 30e6 and skip_peak < 30e6


def test_rows_that_need_one_by_one_parsing_land_in_order(tmp_path):
    # tabs and repeated spaces leave the one-call parse; the rows must still keep their keys
    path = _write(tmp_path, "v.txt", "a 1 2\nb\t3\t4\nc 5  6\nd 7 x\ne 9 10\n")
    emb, report = _skip(path, "glove")
    assert emb.keys == ["a", "b", "c", "e"]
    assert emb.vectors.tolist() == [[1, 2], [3, 4], [5, 6], [9, 10]]
    assert report["first"] == {"non_numeric": [4]}


@pytest.mark.parametrize("fmt", ["npy", "npz", "parquet", "glove"])
def test_float64_beyond_float32_range_is_named(tmp_path, fmt):
    arr = np.arange(10, dtype=np.float64).reshape(5, 2)
    arr[3, 1] = 1e300
    keys = ["a", "b", "c", "d", "e"]
    if fmt == "npy":
        path = tmp_path / "m.npy"
        np.save(path, arr)
        (tmp_path / "m.keys.txt").write_text("".join(k + "\n" for k in keys))
    elif fmt == "npz":
        path = tmp_path / "m.npz"
        np.savez(path, vectors=arr, keys=np.array(keys))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "m.parquet"
        pq.write_table(pa.table({"key": keys, "vector": pa.array(arr.tolist(), type=pa.list_(pa.float64()))}), path)
    else:
        path = _write(tmp_path, "m.txt", "".join(f"{k} {a:g} {b:g}\n" for k, (a, b) in zip(keys, arr)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's "overflow encountered in cast" must not leak
        err = _strict_error(path)
        emb, report = _skip(path)  # one warning only: the read report
    where = "line 4" if fmt == "glove" else "row 3 (0-based)"
    assert where in str(err) and "beyond float32 range (1e+300)" in str(err) and "NaN" not in str(err)
    assert emb.keys == ["a", "b", "c", "e"] and report["skipped"] == {"non_finite": 1}


def test_parquet_vectors_of_empty_lists_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"key": ["a", "b"], "vector": pa.array([[], []], type=pa.list_(pa.float32()))}), path)
    for mode in ("raise", "skip"):
        with pytest.raises(FormatError) as info:
            read_embeddings(path, on_error=mode)
        assert "e.parquet" in str(info.value) and "vector column 'vector' holds empty lists" in str(info.value)
        assert "--vector-column" in str(info.value)


def test_binary_with_a_wrong_header_dimension_asks_about_it(tmp_path):
    rng = np.random.default_rng(2)
    recs = [(f"w{i}".encode(), rng.standard_normal(16)) for i in range(20)]
    path = _write(tmp_path, "v.bin", _binary(recs, dim=14))  # 16-d records, header says 14
    err = _strict_error(path)
    assert "record 2" in str(err) and "check the header's dimension (line 1 says 14 values per record" in str(err)
    # an undecodable key asks about the encoding and the dimension
    path = _write(tmp_path, "e.bin", _binary([(b"a", [1, 2]), (b"caf\xe9", [3, 4])]))
    err = _strict_error(path)
    assert "not valid utf-8" in str(err) and "--encoding" in str(err) and "header's dimension" in str(err)


def test_a_vectors_file_beside_an_npy_is_not_its_keys_file(tmp_path, emb):
    np.save(tmp_path / "emb.npy", emb.vectors)
    write_embeddings(emb, tmp_path / "emb.txt", "glove")
    err = _strict_error(tmp_path / "emb.npy")
    assert "emb.txt" in str(err) and "looks like a vectors file" in str(err) and "emb.keys.txt" in str(err)
    write_embeddings(emb, tmp_path / "emb.txt", "word2vec", overwrite=True)  # with its "N D" header
    assert "looks like a vectors file" in str(_strict_error(tmp_path / "emb.npy"))
    # keys holding spaces and numbers, or lines "word count", are still a keys file (one key per line)
    for text in ("new york 1\nlos angeles 2\nparis 3\n", "the 10\nof 8\nand 5\n"):
        (tmp_path / "emb.txt").write_text(text)
        assert read_embeddings(tmp_path / "emb.npy").keys == text.splitlines()
