"""Streaming translation: same result as the in-memory path, flat chunks, resume after a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from vecbridge.errors import FormatError  # noqa: E402
from vecbridge.errors import OutputExistsError  # noqa: E402
from vecbridge.stream import (  # noqa: E402
    ResumeMismatchError,
    chunk_rows_for,
    partial_dir_for,
    translate_file,
)
from vecbridge.translators.linear import LeastSquares, Procrustes  # noqa: E402

N, D_IN, D_OUT = 5003, 12, 7


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D_IN)).astype(np.float32)
    Y = (X @ rng.standard_normal((D_IN, D_OUT)) + 0.5).astype(np.float32)
    return X, Y


@pytest.fixture(scope="module")
def lstsq(data):
    X, Y = data
    return LeastSquares(bias=True, normalize="unit center").fit(X, Y)


def write_parquet(path: Path, X: np.ndarray, row_group_size: int = 1500, key_name: str = "id") -> list[str]:
    keys = [f"doc-{i}" for i in range(X.shape[0])]
    table = pa.table({
        key_name: keys,
        "text": [f"text {i}" for i in range(X.shape[0])],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), X.shape[1]),
    })
    pq.write_table(table, str(path), row_group_size=row_group_size)
    return keys


def read_out(path: Path, column: str = "vector") -> tuple[pa.Table, np.ndarray]:
    t = pq.read_table(str(path))
    col = t[column].combine_chunks()
    return t, np.asarray(col.flatten().to_numpy(), dtype=np.float32).reshape(t.num_rows, -1)


def test_parquet_to_parquet_matches_in_memory_and_keeps_columns(tmp_path, data, lstsq):
    X, _ = data
    keys = write_parquet(tmp_path / "in.parquet", X)
    rep = translate_file(lstsq, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=700, progress=False)
    table, Yo = read_out(tmp_path / "out.parquet")
    assert table.column_names == ["id", "text", "vector"]
    assert table["id"].to_pylist() == keys
    assert table["text"].to_pylist()[17] == "text 17"
    assert table.schema.field("vector").type == pa.list_(pa.float32(), D_OUT)
    np.testing.assert_allclose(Yo, lstsq.transform(X), rtol=0, atol=1e-6)
    assert (rep.rows_read, rep.rows_written, rep.resumed_from) == (N, N, 0)
    assert rep.chunks == -(-N // 700)
    assert not partial_dir_for(tmp_path / "out.parquet").exists()
    meta = json.loads(table.schema.metadata[b"vecbridge.translated_by"])
    assert meta["dim_out"] == D_OUT and meta["method"] == "lstsq"


def test_npy_paths_carry_keys(tmp_path, data, lstsq):
    X, _ = data
    np.save(tmp_path / "in.npy", X)
    (tmp_path / "in.keys.txt").write_text("".join(f"w{i}\n" for i in range(N)), encoding="utf-8")
    translate_file(lstsq, tmp_path / "in.npy", tmp_path / "out.npy", chunk_rows=1000, progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), lstsq.transform(X), atol=1e-6)
    assert (tmp_path / "out.keys.txt").read_text(encoding="utf-8").split("\n")[:3] == ["w0", "w1", "w2"]
    # npy -> parquet takes the keys file as the key column
    translate_file(lstsq, tmp_path / "in.npy", tmp_path / "o.parquet", chunk_rows=999, progress=False)
    table, Yo = read_out(tmp_path / "o.parquet")
    assert table["key"].to_pylist()[-1] == f"w{N - 1}"
    np.testing.assert_allclose(Yo, lstsq.transform(X), atol=1e-6)
    # parquet -> npy writes <stem>.keys.txt
    write_parquet(tmp_path / "p.parquet", X)
    rep = translate_file(lstsq, tmp_path / "p.parquet", tmp_path / "p_out.npy", chunk_rows=2048, progress=False)
    assert Path(rep.keys_path).read_text(encoding="utf-8").splitlines() == [f"doc-{i}" for i in range(N)]
    np.testing.assert_allclose(np.load(tmp_path / "p_out.npy"), lstsq.transform(X), atol=1e-6)


def test_readers_agree_with_io(tmp_path, data, lstsq):
    """The file written by streaming reads back with vecbridge.io to the in-memory result."""
    from vecbridge.io import read_embeddings

    X, _ = data
    write_parquet(tmp_path / "in.parquet", X, key_name="word")
    translate_file(lstsq, tmp_path / "in.parquet", tmp_path / "out.parquet", progress=False)
    emb = read_embeddings(tmp_path / "out.parquet")
    assert emb.keys[:2] == ["doc-0", "doc-1"]
    np.testing.assert_allclose(emb.vectors, lstsq.transform(X), atol=1e-6)


class Crash(Exception):
    pass


@pytest.mark.parametrize("out_name", ["out.parquet", "out.npy"])
@pytest.mark.parametrize("crash_after", [1, 3, 7])
def test_resume_after_crash_keeps_every_row_once(tmp_path, data, lstsq, out_name, crash_after):
    X, _ = data
    keys = write_parquet(tmp_path / "in.parquet", X, row_group_size=1234)
    out = tmp_path / out_name

    def crash(rep):
        if rep.chunks == crash_after:
            raise Crash

    with pytest.raises(Crash):
        translate_file(lstsq, tmp_path / "in.parquet", out, chunk_rows=600, on_chunk=crash, progress=False)
    assert not out.exists()
    journal = json.loads((partial_dir_for(out) / "journal.json").read_text())
    assert journal["rows_read"] == 600 * crash_after
    rep = translate_file(lstsq, tmp_path / "in.parquet", out, chunk_rows=600, progress=False)
    assert rep.resumed_from == 600 * crash_after
    if out_name.endswith(".parquet"):
        table, Yo = read_out(out)
        got = table["id"].to_pylist()
    else:
        Yo = np.load(out)
        got = (tmp_path / "out.keys.txt").read_text(encoding="utf-8").splitlines()
    assert got == keys  # every id, once, in order
    np.testing.assert_allclose(Yo, lstsq.transform(X), atol=1e-6)


def test_unjournaled_part_is_redone(tmp_path, data, lstsq):
    """A part written after the journal's last entry (a crash between the two) is discarded."""
    X, _ = data
    write_parquet(tmp_path / "in.parquet", X)
    out = tmp_path / "out.parquet"
    with pytest.raises(Crash):
        translate_file(lstsq, tmp_path / "in.parquet", out, chunk_rows=1000,
                       on_chunk=lambda r: (_ for _ in ()).throw(Crash) if r.chunks == 2 else None, progress=False)
    work = partial_dir_for(out)
    (work / "part-000002.parquet").write_bytes(b"garbage from a killed write")
    translate_file(lstsq, tmp_path / "in.parquet", out, chunk_rows=1000, progress=False)
    table, _ = read_out(out)
    assert table.num_rows == N and len(set(table["id"].to_pylist())) == N


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from vecbridge.stream import translate_file
    translate_file(sys.argv[1], sys.argv[2], sys.argv[3], chunk_rows=int(sys.argv[4]),
                   on_chunk=lambda r: time.sleep(0.08), progress=False)
    """
)


@pytest.mark.parametrize("out_name", ["killed.parquet", "killed.npy"])
def test_sigkill_at_random_points_then_resume(tmp_path, data, lstsq, out_name):
    X, _ = data
    keys = write_parquet(tmp_path / "in.parquet", X, row_group_size=777)
    lstsq.save(tmp_path / "map")
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    out = tmp_path / out_name
    cmd = [sys.executable, str(script), str(tmp_path / "map"), str(tmp_path / "in.parquet"), str(out), "250"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    rng = np.random.default_rng(7)
    kills = 0
    for _ in range(3):
        if out.exists() and not partial_dir_for(out).exists():
            break  # the last killed run had finished (killed while the interpreter shut down)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=float(rng.uniform(0.8, 2.0)))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()
        break
    assert kills >= 1  # the run takes longer than the kill window
    if not out.exists() or partial_dir_for(out).exists():
        final = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
        assert final.returncode == 0, final.stderr.decode()
    published = out.stat().st_mtime_ns
    again = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()  # a finished OUT: done, and never replaced
    assert out.stat().st_mtime_ns == published
    if out_name.endswith(".parquet"):
        table, Yo = read_out(out)
        got = table["id"].to_pylist()
    else:
        Yo = np.load(out)
        got = (tmp_path / "killed.keys.txt").read_text(encoding="utf-8").splitlines()
    assert got == keys
    np.testing.assert_allclose(Yo, lstsq.transform(X), atol=1e-6)
    assert not partial_dir_for(out).exists()


def test_never_overwrites_without_permission(tmp_path, data, lstsq):
    X, _ = data
    write_parquet(tmp_path / "in.parquet", X)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        translate_file(lstsq, tmp_path / "in.parquet", out, progress=False)
    assert out.read_bytes() == b"precious"
    translate_file(lstsq, tmp_path / "in.parquet", out, overwrite=True, progress=False)
    assert pq.read_metadata(str(out)).num_rows == N


def test_resume_with_another_map_is_refused(tmp_path, data, lstsq):
    X, Y = data
    write_parquet(tmp_path / "in.parquet", X)
    out = tmp_path / "out.parquet"
    with pytest.raises(Crash):
        translate_file(lstsq, tmp_path / "in.parquet", out, chunk_rows=1000,
                       on_chunk=lambda r: (_ for _ in ()).throw(Crash), progress=False)
    other = LeastSquares(ridge=1.0).fit(X, Y)
    with pytest.raises(ResumeMismatchError, match="map"):
        translate_file(other, tmp_path / "in.parquet", out, chunk_rows=1000, progress=False)
    rep = translate_file(other, tmp_path / "in.parquet", out, resume=False, progress=False)
    assert rep.resumed_from == 0
    _, Yo = read_out(out)
    np.testing.assert_allclose(Yo, other.transform(X), atol=1e-5)


def test_bad_rows_raise_with_row_and_key_or_are_counted(tmp_path, data, lstsq):
    X, _ = data
    Xb = X[:50].copy()
    Xb[31, 2] = np.nan
    write_parquet(tmp_path / "in.parquet", Xb)
    with pytest.raises(FormatError, match=r"row 31 .*doc-31.*NaN"):
        translate_file(lstsq, tmp_path / "in.parquet", tmp_path / "out.parquet", progress=False)
    rep = translate_file(lstsq, tmp_path / "in.parquet", tmp_path / "out.parquet", on_error="skip",
                         resume=False, progress=False)
    assert rep.skipped == {"non_finite": 1} and rep.rows_written == 49
    table, _ = read_out(tmp_path / "out.parquet")
    assert "doc-31" not in table["id"].to_pylist() and table.num_rows == 49


def test_wrong_dimension_is_reported(tmp_path, lstsq):
    np.save(tmp_path / "in.npy", np.zeros((10, D_IN + 1), np.float32))
    with pytest.raises(Exception, match=f"{D_IN + 1}-d.*{D_IN}-d"):
        translate_file(lstsq, tmp_path / "in.npy", tmp_path / "o.npy", progress=False)


def test_torch_device_path_matches_numpy(tmp_path, data):
    pytest.importorskip("torch")
    X, Y = data
    t = Procrustes(scale=True, normalize="unit center unit").fit(X[:, :D_OUT], Y)
    np.save(tmp_path / "in.npy", X[:, :D_OUT])
    translate_file(t, tmp_path / "in.npy", tmp_path / "out.npy", device="cpu-torch", chunk_rows=1024, progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), t.transform(X[:, :D_OUT]), atol=2e-6)


def test_chunk_rows_budget_is_bounded():
    assert chunk_rows_for(768, 768, 128) * 4 * (4 * 768) <= 128 * (1 << 20) + 4 * 4 * 768 * 1024
    assert chunk_rows_for(4, 4, 10_000) == 1 << 20
    assert chunk_rows_for(100_000, 100_000, 1) == 1024


def test_cli_translate_streams_parquet(tmp_path, data, lstsq, capsys):
    from vecbridge.cli.main import main

    X, _ = data
    write_parquet(tmp_path / "in.parquet", X)
    lstsq.save(tmp_path / "map")
    rc = main(["translate", str(tmp_path / "map"), str(tmp_path / "in.parquet"), "-o", str(tmp_path / "o.parquet"),
               "--chunk-rows", "2000"])
    assert rc == 0
    assert "resumed" not in capsys.readouterr().err
    _, Yo = read_out(tmp_path / "o.parquet")
    np.testing.assert_allclose(Yo, lstsq.transform(X), atol=1e-6)
    rc = main(["translate", str(tmp_path / "map"), str(tmp_path / "in.parquet"), "-o", str(tmp_path / "o.parquet")])
    assert rc == 0 and "already complete" in capsys.readouterr().err  # the same run again: done
    lstsq2 = LeastSquares(ridge=1.0).fit(X, X[:, ::-1].copy())
    lstsq2.save(tmp_path / "map2")
    rc = main(["translate", str(tmp_path / "map2"), str(tmp_path / "in.parquet"), "-o", str(tmp_path / "o.parquet"),
               "--quiet"])
    assert rc == 1 and "already exists" in capsys.readouterr().err  # another map, no --overwrite


# -- keys: split alike everywhere, checked at every row, read in their encoding -------------------------

KEYS_FILES = [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbfa\r\nb\r\n", b"a\rb\nc", b"a\n\n", b"\n", b"a\r\n\r\nb", b"x\r"]


@pytest.mark.parametrize("content", KEYS_FILES)
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "utf-8-sig"])
def test_key_readers_split_alike(tmp_path, content, encoding):
    from vecbridge.io.arrays import count_keys, iter_keys, read_keys

    path = tmp_path / "k.txt"
    path.write_bytes(content)
    keys = read_keys(path, encoding)
    assert list(iter_keys(path, encoding)) == keys and count_keys(path, encoding) == len(keys)
    assert list(iter_keys(path, encoding, start=1)) == keys[1:]


def test_npy_keys_with_a_lone_cr_keep_their_rows(tmp_path, data, lstsq):
    """A lone \\r is part of its key (as read_keys reads it), not a line break that shifts every later key."""
    X, _ = data
    np.save(tmp_path / "in.npy", X[:50])
    keys = [f"w{i}" for i in range(50)]
    keys[3] = "a\rb"
    (tmp_path / "in.keys.txt").write_bytes("".join(k + "\n" for k in keys).encode())
    translate_file(lstsq, tmp_path / "in.npy", tmp_path / "out.parquet", chunk_rows=7, progress=False)
    table, Yo = read_out(tmp_path / "out.parquet")
    assert table["key"].to_pylist() == keys
    np.testing.assert_allclose(Yo, lstsq.transform(X[:50]), atol=1e-6)
    # CRLF endings are stripped as read_keys strips them
    (tmp_path / "in.keys.txt").write_bytes("".join(k + "\r\n" for k in keys).encode())
    translate_file(lstsq, tmp_path / "in.npy", tmp_path / "crlf.parquet", chunk_rows=7, progress=False)
    assert read_out(tmp_path / "crlf.parquet")[0]["key"].to_pylist() == keys


def _parquet_with_keys(path: Path, X: np.ndarray, keys: list) -> None:
    pq.write_table(pa.table({"key": keys, "vector": pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)),
                                                                                      X.shape[1])}), str(path))


def test_repeated_or_null_key_is_refused_at_any_row(tmp_path, data, lstsq):
    X, _ = data
    keys = [f"k{i}" for i in range(2500)]
    keys[2211] = "k3"
    _parquet_with_keys(tmp_path / "dup.parquet", X[:2500], keys)
    out = tmp_path / "out.parquet"
    with pytest.raises(FormatError, match=r"dup\.parquet: row 2211 \(0-based\): duplicate key 'k3' \(first seen at "
                                          r"row 3 \(0-based\)\); keys must be unique"):
        translate_file(lstsq, tmp_path / "dup.parquet", out, chunk_rows=500, progress=False)
    with pytest.raises(FormatError, match="row 2211"):  # the .npy output too
        translate_file(lstsq, tmp_path / "dup.parquet", tmp_path / "out.npy", chunk_rows=500, progress=False)
    rep = translate_file(lstsq, tmp_path / "dup.parquet", out, chunk_rows=500, on_error="skip", resume=False,
                         progress=False)
    assert rep.skipped == {"duplicate_key": 1} and rep.rows_written == 2499
    table, Yo = read_out(out)
    assert table["key"].to_pylist() == keys[:2211] + keys[2212:]  # the first row with the key is kept
    np.testing.assert_allclose(Yo, lstsq.transform(np.delete(X[:2500], 2211, axis=0)), atol=1e-6)
    keys[2211] = None
    _parquet_with_keys(tmp_path / "null.parquet", X[:2500], keys)
    with pytest.raises(FormatError, match=r"row 2211 \(0-based\): the key is null"):
        translate_file(lstsq, tmp_path / "null.parquet", tmp_path / "n.parquet", chunk_rows=500, progress=False)
    # .npy input: the keys file is checked the same way
    np.save(tmp_path / "in.npy", X[:40])
    (tmp_path / "in.keys.txt").write_text("".join(f"w{i}\n" for i in range(39)) + "w5\n")
    with pytest.raises(FormatError, match=r"row 39 \(0-based\): duplicate key 'w5' \(first seen at row 5"):
        translate_file(lstsq, tmp_path / "in.npy", tmp_path / "o.parquet", chunk_rows=8, progress=False)


def test_repeated_key_is_refused_after_a_resume(tmp_path, data, lstsq):
    """The keys of the rows done before a crash are kept in the work folder: a resumed run still sees them."""
    X, _ = data
    keys = [f"k{i}" for i in range(3000)]
    keys[2900] = "k10"
    _parquet_with_keys(tmp_path / "dup.parquet", X[:3000], keys)
    out = tmp_path / "out.parquet"

    def crash(rep):
        if rep.chunks == 2:
            raise Crash

    with pytest.raises(Crash):
        translate_file(lstsq, tmp_path / "dup.parquet", out, chunk_rows=500, on_chunk=crash, progress=False)
    with pytest.raises(FormatError, match=r"row 2900 \(0-based\): duplicate key 'k10' \(first seen at row 10 "):
        translate_file(lstsq, tmp_path / "dup.parquet", out, chunk_rows=500, progress=False)
    # the same crash and resume while skipping: the row is left out once, every other row is there once
    with pytest.raises(Crash):
        translate_file(lstsq, tmp_path / "dup.parquet", out, chunk_rows=500, on_error="skip", resume=False,
                       on_chunk=crash, progress=False)
    rep = translate_file(lstsq, tmp_path / "dup.parquet", out, chunk_rows=500, on_error="skip", progress=False)
    assert rep.resumed_from == 1000 and rep.skipped == {"duplicate_key": 1}
    assert read_out(out)[0]["key"].to_pylist() == keys[:2900] + keys[2901:]


def test_partial_run_without_kept_keys_is_not_resumed(tmp_path, data, lstsq):
    X, _ = data
    write_parquet(tmp_path / "in.parquet", X[:3000])
    out = tmp_path / "out.parquet"
    with pytest.raises(Crash):
        translate_file(lstsq, tmp_path / "in.parquet", out, chunk_rows=500, progress=False,
                       on_chunk=lambda r: (_ for _ in ()).throw(Crash))
    jpath = partial_dir_for(out) / "journal.json"
    journal = json.loads(jpath.read_text())
    del journal["seen_bytes"]  # as written by an older version
    jpath.write_text(json.dumps(journal))
    with pytest.raises(ResumeMismatchError, match="older vecbridge.*--restart"):
        translate_file(lstsq, tmp_path / "in.parquet", out, chunk_rows=500, progress=False)
    assert translate_file(lstsq, tmp_path / "in.parquet", out, resume=False, progress=False).rows_written == 3000


def test_npy_keys_file_is_read_in_the_given_encoding(tmp_path, data, lstsq):
    from vecbridge.cli.main import main

    X, _ = data
    np.save(tmp_path / "lat.npy", X[:5])
    keys = ["a", "café", "b", "naïve", "c"]
    (tmp_path / "lat.keys.txt").write_bytes("".join(k + "\n" for k in keys).encode("latin-1"))
    with pytest.raises(FormatError, match=r"lat\.keys\.txt, line 2: .*not valid utf-8.*--encoding"):
        translate_file(lstsq, tmp_path / "lat.npy", tmp_path / "o.parquet", progress=False)
    assert not partial_dir_for(tmp_path / "o.parquet").exists()  # refused before any work
    translate_file(lstsq, tmp_path / "lat.npy", tmp_path / "o.parquet", encoding="latin-1", progress=False)
    assert read_out(tmp_path / "o.parquet")[0]["key"].to_pylist() == keys
    lstsq.save(tmp_path / "map")
    assert main(["translate", str(tmp_path / "map"), str(tmp_path / "lat.npy"), "-o", str(tmp_path / "lat_out.npy"),
                 "--encoding", "latin-1", "--quiet"]) == 0
    assert (tmp_path / "lat_out.keys.txt").read_bytes().decode("utf-8").splitlines() == keys  # written as UTF-8


def test_translate_never_writes_over_the_keys_file_it_reads(tmp_path, data, lstsq, capsys):
    from vecbridge.cli.main import main

    X, _ = data
    lstsq.save(tmp_path / "map")
    np.save(tmp_path / "src.npy", X[:20])
    (tmp_path / "src.keys.txt").write_text("".join(f"w{i}\n" for i in range(20)))
    before = (tmp_path / "src.keys.txt").read_bytes()
    for out, extra in (("src.keys.txt", ["--format", "word2vec"]), ("src.keys.txt", ["--format", "parquet"])):
        rc = main(["translate", str(tmp_path / "map"), str(tmp_path / "src.npy"), "-o", str(tmp_path / out),
                   "--overwrite", "--quiet", *extra])
        assert rc == 1 and "is the keys file of the input" in capsys.readouterr().err
    # an .npz without keys inside reads src2.keys.txt; an .npy output would write its keys there
    np.savez(tmp_path / "src2.npz", vectors=X[:20])
    (tmp_path / "src2.keys.txt").write_bytes(before)
    rc = main(["translate", str(tmp_path / "map"), str(tmp_path / "src2.npz"), "-o", str(tmp_path / "src2.npy"),
               "--overwrite", "--quiet"])
    assert rc == 1 and "would replace" in capsys.readouterr().err
    assert (tmp_path / "src.keys.txt").read_bytes() == before and (tmp_path / "src2.keys.txt").read_bytes() == before
    assert main(["translate", str(tmp_path / "map"), str(tmp_path / "src.npy"), "-o", str(tmp_path / "t.vec"),
                 "--quiet"]) == 0


def test_float64_beyond_float32_range_is_named_when_streaming(tmp_path, data, lstsq):
    import warnings

    X, _ = data
    A = X[:30].astype(np.float64)
    A[17, 4] = -1e300
    np.save(tmp_path / "big.npy", A)
    vec = pa.array(A.tolist(), type=pa.list_(pa.float64()))
    pq.write_table(pa.table({"key": [f"k{i}" for i in range(30)], "vector": vec}), str(tmp_path / "big.parquet"))
    for name in ("big.npy", "big.parquet"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(FormatError, match=r"row 17 \(0-based.*beyond float32 range \(-1e\+300\)"):
                translate_file(lstsq, tmp_path / name, tmp_path / f"o_{name}.parquet", progress=False)


def test_parquet_of_empty_lists_is_refused_when_streaming(tmp_path, lstsq):
    pq.write_table(pa.table({"key": ["a", "b"], "vector": pa.array([[], []], type=pa.list_(pa.float32()))}),
                   str(tmp_path / "e.parquet"))
    with pytest.raises(FormatError, match=r"e\.parquet: vector column 'vector' holds empty lists"):
        translate_file(lstsq, tmp_path / "e.parquet", tmp_path / "o.parquet", progress=False)


def test_a_run_killed_after_publishing_is_done_only_for_the_same_map_and_keys(tmp_path, data, lstsq, monkeypatch):
    """A run killed after publishing OUT (before removing its work folder) counts as done for a re-run with the
    same map, input and keys file; another map, or an edited keys file, is refused (it used to report success
    over the old map's output)."""
    import vecbridge.stream as stream

    X, Y = data
    np.save(tmp_path / "in.npy", X[:300])
    (tmp_path / "in.keys.txt").write_text("".join(f"w{i}\n" for i in range(300)))
    out = tmp_path / "k.npy"

    def killed(work):
        raise Crash

    monkeypatch.setattr(stream, "_remove_work", killed)
    with pytest.raises(Crash):
        translate_file(lstsq, tmp_path / "in.npy", out, chunk_rows=64, progress=False)
    monkeypatch.undo()
    other = LeastSquares(ridge=1.0).fit(X, Y)
    with pytest.raises(OutputExistsError, match="already exists"):
        translate_file(other, tmp_path / "in.npy", out, chunk_rows=64, progress=False)
    rep = translate_file(lstsq, tmp_path / "in.npy", out, chunk_rows=64, progress=False)
    assert rep.rows_written == 300
    np.testing.assert_allclose(np.load(out), lstsq.transform(X[:300]), atol=1e-5)
    assert translate_file(lstsq, tmp_path / "in.npy", out, progress=False).already_done
    (tmp_path / "in.keys.txt").write_text("".join(f"v{i}\n" for i in range(300)))
    with pytest.raises(OutputExistsError, match="already exists"):
        translate_file(lstsq, tmp_path / "in.npy", out, progress=False)
