"""Reading and writing edge cases: control bytes in text keys, vocabulary files with counts, streamed keys files,
gensim .kv files, keys with line breaks, format flags, Embeddings' keys, and --overwrite's permission bits."""

from __future__ import annotations

import os
import stat
import sys
import warnings

import numpy as np
import pytest

from vecbridge import Embeddings
from vecbridge.cli.main import main
from vecbridge.errors import FormatError, MissingDependencyError
from vecbridge.io import detect_format, read_embeddings, to_gensim, write_embeddings
from vecbridge.io.read_report import ReadWarning
from vecbridge.stream import partial_dir_for, translate_file

N, D = 300, 8


@pytest.fixture
def mapped(tmp_path):
    """A map fitted on two 300 x 8 arrays, B = A @ R, and A written as a.npy."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N, D)).astype(np.float32)
    r = np.linalg.qr(rng.standard_normal((D, D)))[0]
    b = (a @ r).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    assert main(["fit", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--paired", "--method", "procrustes",
                 "-o", str(tmp_path / "m"), "--quiet"]) == 0
    return tmp_path, a, b


def _vec_with_key(path, bad_key: str, row: int = 0, n: int = 5):
    rows = [f"w{i} " + " ".join([f"0.{i + 1}"] * D) for i in range(n)]
    rows[row] = bad_key + rows[row][len(f"w{row}"):]
    path.write_bytes((f"{n} {D}\n" + "\n".join(rows) + "\n").encode("utf-8"))
    return path


# -- 1: a control byte in a text key --------------------------------------------------------------
@pytest.mark.parametrize("char", ["\x1b", "\x00"])
def test_text_with_control_byte_in_key_is_text(tmp_path, char):
    path = _vec_with_key(tmp_path / "esc.vec", f"w{char}0")
    assert detect_format(path) == "word2vec"
    with pytest.raises(FormatError, match=r"esc\.vec, line 2: key .* control character"):
        read_embeddings(path)
    with pytest.warns(ReadWarning, match="bad_key"):
        emb = read_embeddings(path, on_error="skip")
    assert emb.keys == [f"w{i}" for i in range(1, 5)]
    assert emb.meta["read_report"]["skipped"] == {"bad_key": 1}
    assert emb.meta["read_report"]["first"] == {"bad_key": [2]}
    np.testing.assert_array_equal(emb.vectors[:, 0], np.float32([0.2, 0.3, 0.4, 0.5]))


def test_cli_lenient_skips_the_control_byte_row(mapped, capsys):
    d, _, _ = mapped
    path = _vec_with_key(d / "esc.vec", "w\x1b0")
    out = d / "o.npz"
    assert main(["translate", str(d / "m"), str(path), "-o", str(out)]) == 1
    assert "esc.vec, line 2" in capsys.readouterr().err and not out.exists()
    assert main(["translate", str(d / "m"), str(path), "-o", str(out), "--lenient"]) == 0
    assert read_embeddings(out).keys == [f"w{i}" for i in range(1, 5)]


def test_binary_reading_of_a_text_file_is_an_error(tmp_path, mapped, capsys):
    path = _vec_with_key(tmp_path / "esc.vec", "w\x1b0")
    for on_error in ("raise", "skip"):
        with pytest.raises(FormatError, match="looks like a word2vec text file"):
            read_embeddings(path, "word2vec-binary", on_error=on_error)
    d, _, _ = mapped
    out = d / "o.npz"
    assert main(["translate", str(d / "m"), str(path), "-o", str(out), "--in-format", "word2vec-binary",
                 "--lenient"]) == 1
    assert "word2vec text" in capsys.readouterr().err and not out.exists()


def _binary(path, keys, vecs, header_n):
    with open(path, "wb") as f:
        f.write(f"{header_n} {vecs.shape[1]}\n".encode())
        for k, v in zip(keys, vecs):
            f.write(k.encode() + b" " + v.astype("<f4").tobytes() + b"\n")
    return path


def test_binary_record_count_disagreeing_with_header_is_an_error_even_when_skipping(tmp_path):
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((4, 6)).astype(np.float32)
    path = _binary(tmp_path / "v.bin", ["a", "b", "c", "d"], vecs, 3)
    with pytest.raises(FormatError, match="continues after the 3 records"):
        read_embeddings(path, on_error="skip")
    # a header whose dimension is too large: records out of step, and the file ends before the count
    raw = _binary(tmp_path / "w.bin", ["a", "b", "c", "d"], vecs, 4).read_bytes()
    (tmp_path / "w.bin").write_bytes(b"4 7" + raw[3:])
    with pytest.raises(FormatError, match="out of step"):
        read_embeddings(tmp_path / "w.bin", on_error="skip")
    good = _binary(tmp_path / "g.bin", ["a", "b", "c", "d"], vecs, 4)
    np.testing.assert_array_equal(read_embeddings(good).vectors, vecs)


# -- 2: a vocabulary file with counts as keys file ------------------------------------------------
def test_keys_file_with_counts_warns(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 2), dtype=np.float32))
    (tmp_path / "a.vocab").write_text("k0 100\nk1 50\nk2 7\n")
    with pytest.warns(ReadWarning, match=r"a\.vocab.*'key count'.*keys are whole lines"):
        emb = read_embeddings(tmp_path / "a.npy")
    assert emb.keys == ["k0 100", "k1 50", "k2 7"]  # as documented: keys are whole lines
    (tmp_path / "a.vocab").write_text("k0\nnew york 3\nk2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_embeddings(tmp_path / "a.npy")


def test_streamed_keys_file_with_counts_warns(mapped):
    d, a, _ = mapped
    (d / "a.vocab").write_text("".join(f"k{i} {1000 - i}\n" for i in range(N)))
    with pytest.warns(ReadWarning, match=r"a\.vocab.*'key count'"):
        translate_file(d / "m", d / "a.npy", d / "o.npy", progress=False)


# -- 3: the keys file written by a streamed .npy -> .npy translation ------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_streamed_npy_keys_file_is_utf8_with_newlines(mapped, encoding):
    d, _, _ = mapped
    keys = [f"k{i}" for i in range(N - 1)] + ["café"]
    raw = "\r\n".join(keys).encode(encoding) + b"\r\n"
    if encoding == "utf-8":
        raw = b"\xef\xbb\xbf" + raw
    (d / "a.keys.txt").write_bytes(raw)
    rep = translate_file(d / "m", d / "a.npy", d / "o.npy", encoding=encoding, progress=False)
    assert rep.keys_path == str(d / "o.keys.txt")
    assert (d / "o.keys.txt").read_bytes() == "".join(k + "\n" for k in keys).encode("utf-8")
    assert read_embeddings(d / "o.npy").keys == keys
    # the in-memory writer writes the same bytes
    emb = read_embeddings(d / "a.npy", encoding=encoding)
    write_embeddings(emb, d / "mem.npy")
    assert (d / "mem.keys.txt").read_bytes() == (d / "o.keys.txt").read_bytes()


# -- 4: gensim .kv files ----------------------------------------------------------------------------
def test_kv_files_are_read_by_extension_and_content(mapped, capsys):
    d, a, b = mapped
    keys = [f"w{i}" for i in range(N)]
    to_gensim(Embeddings(keys, a)).save(str(d / "a.kv"))
    to_gensim(Embeddings(keys, b)).save(str(d / "b.model_file"))  # no telling extension: found by content
    assert detect_format(d / "a.kv") == "gensim" and detect_format(d / "b.model_file") == "gensim"
    emb = read_embeddings(d / "b.model_file")
    assert emb.keys == keys and emb.meta["format"] == "gensim"
    np.testing.assert_array_equal(emb.vectors, b)
    assert read_embeddings(d / "a.kv", limit=3).keys == keys[:3]
    assert main(["fit", str(d / "a.kv"), str(d / "b.model_file"), "--shared-keys", "--method", "procrustes",
                 "-o", str(d / "km"), "--quiet"]) == 0
    assert main(["translate", str(d / "km"), str(d / "a.kv"), "-o", str(d / "t.npz"), "--quiet"]) == 0
    assert main(["evaluate", str(d / "km"), str(d / "a.kv"), str(d / "b.model_file"), "--shared-keys",
                 "--json"]) == 0
    assert main(["neighbors", str(d / "a.kv"), "w1", "-k", "2"]) == 0
    t = read_embeddings(d / "t.npz")
    np.testing.assert_allclose(t.vectors, b, atol=1e-4)
    # written through write_embeddings too (one file), and read back exactly
    write_embeddings(t, d / "t.kv")
    assert read_embeddings(d / "t.kv").equals(t)


def test_kv_without_gensim_names_the_extra(tmp_path, monkeypatch):
    to_gensim(Embeddings(["a", "b"], np.eye(2, dtype=np.float32))).save(str(tmp_path / "x.kv"))
    monkeypatch.setitem(sys.modules, "gensim.models", None)
    with pytest.raises(MissingDependencyError, match=r"vecbridge\[gensim\]"):
        read_embeddings(tmp_path / "x.kv")


def test_undetected_format_names_the_commands_own_flag(mapped, capsys):
    d, _, _ = mapped
    (d / "rnd.dat").write_bytes(bytes(range(1, 200)) * 3)
    assert main(["translate", str(d / "m"), str(d / "rnd.dat"), "-o", str(d / "o.npz")]) == 1
    err = capsys.readouterr().err
    assert "--in-format" in err and "--src-format" not in err and "gensim" in err
    assert main(["fit", str(d / "a.npy"), str(d / "rnd.dat"), "--paired", "-o", str(d / "m2")]) == 1
    err = capsys.readouterr().err
    assert "--tgt-format" in err and "--in-format" not in err


# -- 5: a streamed key holding a line break ---------------------------------------------------------
def test_streamed_key_with_line_break_names_file_and_row_and_leaves_no_work_folder(mapped, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d, a, _ = mapped
    keys = [f"k{i}" for i in range(N)]
    keys[3] = "a\nb"
    pq.write_table(pa.table({"key": keys, "vector": pa.array(list(a), type=pa.list_(pa.float32(), D))}),
                   d / "p.parquet")
    out = d / "po.npy"
    assert main(["translate", str(d / "m"), str(d / "p.parquet"), "-o", str(out), "--chunk-rows", "2"]) == 1
    err = capsys.readouterr().err
    assert "p.parquet" in err and "row 3 (0-based)" in err and "line break" in err
    assert not partial_dir_for(out).exists() and not out.exists()
    assert not (d / "po.keys.txt").exists()


# -- 6: a bad format name is a usage error, before any work -----------------------------------------
@pytest.mark.parametrize("flag", ["--in-format", "--format"])
def test_bogus_format_is_exit_2_naming_the_flag(mapped, capsys, flag):
    d, _, _ = mapped
    out = d / "o.npz"
    with pytest.raises(SystemExit) as e:  # argparse's usage error
        main(["translate", str(d / "m"), str(d / "a.npy"), "-o", str(out), flag, "bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"{flag} must be one of" in err and "bogus" in err and not out.exists()


def test_bogus_src_format_of_fit_is_exit_2(mapped, capsys):
    d, _, _ = mapped
    with pytest.raises(SystemExit) as e:
        main(["fit", str(d / "a.npy"), str(d / "b.npy"), "--paired", "-o", str(d / "m2"), "--src-format", "nope"])
    assert e.value.code == 2 and "--src-format must be one of" in capsys.readouterr().err


def test_output_name_without_format_is_refused_before_the_work(mapped, capsys):
    d, _, _ = mapped
    assert main(["translate", str(d / "m"), str(d / "missing.vec"), "-o", str(d / "o.xyz")]) == 2
    assert "--format" in capsys.readouterr().err


# -- 7: Embeddings' keys -----------------------------------------------------------------------------
@pytest.mark.parametrize("keys,match", [
    ("abc", "single str"),
    (b"ab", "bytes"),
    ([b"a"], r"row 0 .*bytes.*decode"),
    (["a", None], r"row 1 .*None"),
    ([1.5], r"row 0 .*float"),
])
def test_embeddings_refuses_odd_keys(keys, match):
    n = 3 if isinstance(keys, str) else len(keys)
    with pytest.raises(TypeError, match=match):
        Embeddings(keys, np.zeros((n, 2), dtype=np.float32))


def test_from_array_refuses_a_single_str_as_keys():
    with pytest.raises(TypeError, match="single str"):
        Embeddings.from_array(np.zeros((3, 2), dtype=np.float32), keys="abc")


def test_embeddings_keys_str_and_integers():
    e = Embeddings(np.array(["x", "y"]), np.zeros((2, 2), dtype=np.float32))
    assert e.keys == ["x", "y"] and all(type(k) is str for k in e.keys)
    assert Embeddings([1, np.int64(2)], np.zeros((2, 2), dtype=np.float32)).keys == ["1", "2"]


# -- 8: small ones ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,name", [("word2vec", "o.vec"), ("glove", "o.txt"), ("word2vec-binary", "o.bin")])
def test_writing_a_control_character_in_a_text_key_is_refused(tmp_path, fmt, name):
    emb = Embeddings(["a", "b", "c\x00d"], np.ones((3, 2), dtype=np.float32))
    with pytest.raises(FormatError, match=r"row 2.*control character"):
        write_embeddings(emb, tmp_path / name, fmt)
    assert not (tmp_path / name).exists()


def test_paired_lenient_message_calls_line_numbers_lines(tmp_path, capsys):
    rows = [f"w{i} {i}.5 1" for i in range(6)]
    rows[4] = "w1 9 9"  # a duplicate key on line 5 (the header is line 1)
    (tmp_path / "s.vec").write_text("6 2\n" + "\n".join(rows) + "\n")
    write_embeddings(Embeddings([f"v{i}" for i in range(6)], np.ones((6, 2), dtype=np.float32)), tmp_path / "t.npy")
    assert main(["fit", str(tmp_path / "s.vec"), str(tmp_path / "t.npy"), "--paired", "--lenient",
                 "-o", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert 'first lines {"duplicate_key": [6]}' in err and "first rows" not in err


def test_keys_file_with_a_trailing_blank_line_says_so(tmp_path, mapped):
    np.save(tmp_path / "k.npy", np.ones((6, 2), dtype=np.float32))
    (tmp_path / "k.keys.txt").write_text("".join(f"k{i}\n" for i in range(6)) + "\n")
    with pytest.raises(FormatError, match=r"holds 7 keys .* line 7 is blank"):
        read_embeddings(tmp_path / "k.npy")
    d, _, _ = mapped
    (d / "a.keys.txt").write_text("".join(f"k{i}\n" for i in range(N)) + "\n")
    with pytest.raises(FormatError, match=rf"line {N + 1} is blank"):
        translate_file(d / "m", d / "a.npy", d / "o.npy", progress=False)


@pytest.mark.parametrize("name", ["o.vec", "o.npy", "o.npz"])
def test_overwrite_keeps_the_permission_bits(tmp_path, name):
    emb = Embeddings(["a", "b"], np.eye(2, dtype=np.float32))
    path = tmp_path / name
    write_embeddings(emb, path)
    os.chmod(path, 0o600)
    write_embeddings(emb, path, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_streamed_overwrite_keeps_the_permission_bits(mapped):
    d, _, _ = mapped
    out = d / "o.npy"
    translate_file(d / "m", d / "a.npy", out, progress=False)
    os.chmod(out, 0o640)
    translate_file(d / "m", d / "a.npy", out, overwrite=True, progress=False)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
