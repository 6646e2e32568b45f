"""Format detection from content, with misleading file names."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge import Embeddings, FormatError
from vecbridge.io import ReadWarning, detect_format, read_embeddings, write_embeddings

WRITE_AS = ["word2vec", "glove", "word2vec-binary", "npy", "npz", "parquet"]
# each format written under a name that suggests another one
MISLEADING = {
    "word2vec": "model.npy",
    "glove": "model.bin",
    "word2vec-binary": "model.txt",
    "npy": "model.parquet",
    "npz": "model.vec",
    "parquet": "model.npz",
}


@pytest.fixture
def emb():
    rng = np.random.default_rng(3)
    return Embeddings([f"w{i}" for i in range(6)], rng.standard_normal((6, 4)).astype(np.float32))


@pytest.mark.parametrize("fmt", WRITE_AS)
def test_detects_content_not_extension(tmp_path, emb, fmt):
    path = tmp_path / MISLEADING[fmt]
    write_embeddings(emb, path, fmt)
    if fmt == "npy":
        (tmp_path / "model.keys.txt").rename(tmp_path / "keys.txt")
    assert detect_format(path) == fmt
    kw = {"keys_path": tmp_path / "keys.txt"} if fmt == "npy" else {}
    back = read_embeddings(path, **kw)
    assert back.meta["format"] == fmt
    assert back.equals(emb)


def test_explicit_format_overrides_detection(tmp_path):
    # "3 1" then 1-d rows: as detected, a word2vec header; read as GloVe it is a row with key "3"
    path = tmp_path / "v.txt"
    path.write_text("3 1\na 0.5\nb 1.5\nc 2.5\n")
    assert detect_format(path) == "word2vec"
    assert read_embeddings(path).keys == ["a", "b", "c"]
    g = read_embeddings(path, format="glove")
    assert g.keys == ["3", "a", "b", "c"] and g.vectors[:, 0].tolist() == [1.0, 0.5, 1.5, 2.5]


def test_one_dimensional_glove_with_integer_first_key(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("7 3\na 0.5\nb 1.5\n")  # header would say 7 rows of dim 3; the rows have 1 value
    assert detect_format(path) == "glove"
    path.write_text("7 1\na 0.5\nb 1.5\n")  # same shape, but 7 != the 2 rows that follow: a GloVe row
    assert detect_format(path) == "glove"


def test_header_with_wrong_dimension_is_still_word2vec(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2 300\na 1 2 3\nb 4 5 6\n")
    assert detect_format(path) == "word2vec"


def test_binary_vs_text_after_header(tmp_path):
    rec = b"a " + np.array([0.1, -2.0, 3.5], "<f4").tobytes() + b"\n"
    (tmp_path / "b.vec").write_bytes(b"1 3\n" + rec)
    assert detect_format(tmp_path / "b.vec") == "word2vec-binary"
    (tmp_path / "t.bin").write_bytes(b"1 3\na 0.1 -2 3.5\n")
    assert detect_format(tmp_path / "t.bin") == "word2vec"
    # binary without newlines between records (as some writers produce)
    recs = b"".join(k + b" " + np.array(v, "<f4").tobytes() for k, v in [(b"a", [1, 2]), (b"b", [3, 4])])
    (tmp_path / "nn").write_bytes(b"2 2\n" + recs)
    assert detect_format(tmp_path / "nn") == "word2vec-binary"
    assert read_embeddings(tmp_path / "nn").vectors.tolist() == [[1, 2], [3, 4]]


def test_text_with_a_bad_first_row_is_still_text(tmp_path):
    path = tmp_path / "v.dat"
    path.write_text("a 1 x\nb 1 2\n")
    assert detect_format(path) == "glove"
    with pytest.raises(FormatError) as info:
        read_embeddings(path)
    assert info.value.line == 1 and "'x' is not a number" in str(info.value)


def test_magic_bytes(tmp_path):
    for magic, fmt in [(b"\x93NUMPY", "npy"), (b"PK\x03\x04", "npz"), (b"PAR1", "parquet")]:
        p = tmp_path / f"f_{fmt}.txt"
        p.write_bytes(magic + b"\x00" * 32)
        assert detect_format(p) == fmt


def test_empty_and_undetectable(tmp_path):
    (tmp_path / "e.vec").write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        detect_format(tmp_path / "e.vec")
    (tmp_path / "w.txt").write_text("just words here\n")
    with pytest.raises(FormatError, match="cannot tell the format"):
        detect_format(tmp_path / "w.txt")


def _w2v_text(tmp_path, name, first_key="w0", blank_after_header=False):
    rng = np.random.default_rng(5)
    emb = Embeddings([f"w{i}" for i in range(6)], rng.standard_normal((6, 4)).astype(np.float32))
    write_embeddings(emb, tmp_path / "clean.vec")
    lines = (tmp_path / "clean.vec").read_bytes().split(b"\n")
    lines[1] = first_key.encode() + lines[1][2:]
    if blank_after_header:
        lines.insert(1, b"")
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines))
    return path, emb


@pytest.mark.parametrize("key", ["new york", "new\tyork"])
@pytest.mark.parametrize("name", ["space.vec", "space.txt", "space"])
def test_text_whose_first_key_holds_whitespace_is_text(tmp_path, key, name):
    """A key holding a space or a tab is not a reason to read text as word2vec binary (garbage keys/values)."""
    path, emb = _w2v_text(tmp_path, name, first_key=key)
    assert detect_format(path) == "word2vec"
    with pytest.raises(FormatError) as info:
        read_embeddings(path)
    assert info.value.line == 2 and "'york' is not a number" in str(info.value)
    assert "key containing a space or a tab" in str(info.value)
    with pytest.warns(ReadWarning):
        lenient = read_embeddings(path, on_error="skip")
    assert lenient.keys == emb.keys[1:] and np.array_equal(lenient.vectors, emb.vectors[1:])
    assert lenient.meta["read_report"]["first"] == {"non_numeric": [2]}


def test_blank_line_after_the_header_is_skipped(tmp_path):
    path, emb = _w2v_text(tmp_path, "blank", blank_after_header=True)
    assert detect_format(path) == "word2vec"
    back = read_embeddings(path)
    assert back.equals(emb) and back.meta["read_report"]["blank_lines"] == 1


def test_text_suffix_favours_text(tmp_path):
    # a key in latin-1 holding a space: not UTF-8, so not printable text by content alone; .vec / .txt decide
    for name in ("v.vec", "v.txt"):
        (tmp_path / name).write_bytes(b"1 3\nnew caf\xe9 1.25 2.5 3.75\n")
        assert detect_format(tmp_path / name) == "word2vec"


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs named pipes")
def test_pipe_is_not_a_regular_file(tmp_path):
    import os

    fifo = tmp_path / "pipe.vec"
    os.mkfifo(fifo)
    for call in (detect_format, read_embeddings):
        with pytest.raises(FormatError, match=r"pipe\.vec: not a regular file \(pipes and devices are not read"):
            call(fifo)
    with pytest.raises(FileNotFoundError, match="no such file"):
        detect_format(tmp_path / "missing.vec")
