"""The user cache: root selection, keys, atomic entries, and what a killed build leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vecbridge import cache
from vecbridge.cache import CacheEntry, atomic_path, cache_key, cache_root, clear, get_or_build, list_entries
from vecbridge.errors import ParameterError


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("VECBRIDGE_CACHE", str(root))
    return root


def test_root_follows_env_then_xdg(tmp_path, monkeypatch):
    assert cache_root() == tmp_path / "cache"
    monkeypatch.delenv("VECBRIDGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "vecbridge"
    assert cache_root().is_dir()


def test_key_depends_on_params_and_versions_not_order():
    k = cache_key("b", {"a": 1, "b": [1, 2]}, {"pkg": "1.0"})
    assert k == cache_key("b", {"b": (1, 2), "a": 1}, {"pkg": "1.0"})
    assert k != cache_key("b", {"a": 2, "b": [1, 2]}, {"pkg": "1.0"})
    assert k != cache_key("b", {"a": 1, "b": [1, 2]}, {"pkg": "1.1"})
    assert k != cache_key("c", {"a": 1, "b": [1, 2]}, {"pkg": "1.0"})


def test_entry_versions_come_from_installed_packages():
    e = CacheEntry.make("x", {}, packages=["numpy", "surely-not-installed-pkg"])
    assert e.versions["numpy"] == np.__version__
    assert e.versions["surely-not-installed-pkg"] is None


def test_hit_returns_identical_arrays_and_builds_once():
    calls = []
    rng = np.random.default_rng(0)
    data = {"vectors": rng.standard_normal((50, 7)).astype(np.float32), "keys": np.asarray([f"w{i}" for i in range(50)])}

    def build():
        calls.append(1)
        return data

    a = get_or_build("demo", {"n": 50}, build)
    b = get_or_build("demo", {"n": 50}, build)
    assert len(calls) == 1
    assert b["vectors"].dtype == np.float32
    assert np.array_equal(a["vectors"], b["vectors"]) and np.array_equal(b["vectors"], data["vectors"])
    assert b["keys"].tolist() == data["keys"].tolist()
    get_or_build("demo", {"n": 51}, build)  # other parameters: another entry
    assert len(calls) == 2
    assert len(list_entries("demo")) == 2


def test_two_processes_missing_one_entry_build_it_once(tmp_cache, tmp_path):
    # each process appends a line to a log file when it builds; the build sleeps so that the second process
    # arrives while the first still builds, and must wait for it instead of building again
    log = tmp_path / "builds.log"
    script = textwrap.dedent(f"""
        import time
        import numpy as np
        from vecbridge.cache import get_or_build
        def build():
            with open({str(log)!r}, "a") as f:
                f.write("built\\n")
            time.sleep(1.5)
            return {{"x": np.arange(3)}}
        print(get_or_build("race", {{"n": 1}}, build)["x"].tolist())
    """)
    env = {**os.environ, "VECBRIDGE_CACHE": str(tmp_cache)}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == ["[0, 1, 2]", "[0, 1, 2]"]
    assert log.read_text().count("built") == 1
    assert not list((tmp_cache / cache.SCRATCH).glob("*lock*"))  # the lock goes with a complete entry


def test_json_and_dir_entries_round_trip():
    assert get_or_build("j", {}, lambda: {"texts": ["a", "ü"]}, kind="json") == {"texts": ["a", "ü"]}

    def fill(d: Path):
        (d / "f.txt").write_text("hello")

    path = get_or_build("d", {}, fill, kind="dir")
    assert (path / "f.txt").read_text() == "hello"


def test_exception_during_write_leaves_no_entry_and_next_call_rebuilds(monkeypatch):
    real = cache._write_npz

    def half_write(arrays, path):
        Path(path).write_bytes(b"PK\x03\x04 partial")  # a truncated zip
        raise OSError("disk full (injected)")

    monkeypatch.setattr(cache, "_write_npz", half_write)
    with pytest.raises(OSError, match="injected"):
        get_or_build("demo", {}, lambda: {"x": np.ones(3)})
    entry = CacheEntry.make("demo", {})
    assert not entry.is_complete()
    assert not any(entry.folder.iterdir()), "the temporary file must be removed"
    monkeypatch.setattr(cache, "_write_npz", real)
    calls = []
    out = get_or_build("demo", {}, lambda: calls.append(1) or {"x": np.ones(3)})
    assert calls == [1] and np.array_equal(out["x"], np.ones(3))


def test_build_raising_in_dir_kind_leaves_nothing():
    def fill(d: Path):
        (d / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        get_or_build("d", {}, fill, kind="dir")
    entry = CacheEntry.make("d", {}, kind="dir")
    assert not entry.is_complete() and not entry.path.exists()
    assert not any(entry.folder.iterdir())


def test_truncated_data_or_bad_sidecar_is_not_complete():
    get_or_build("demo", {}, lambda: {"x": np.arange(1000.0)})
    entry = CacheEntry.make("demo", {})
    assert entry.is_complete()
    with open(entry.path, "r+b") as f:
        f.truncate(100)
    assert not entry.is_complete()
    calls = []
    out = get_or_build("demo", {}, lambda: calls.append(1) or {"x": np.arange(1000.0)})
    assert calls == [1] and out["x"].shape == (1000,)
    entry.sidecar.write_text("{not json")
    assert not entry.is_complete()


_KILLED_BUILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from vecbridge import cache
    stage = sys.argv[1]
    if stage == "sidecar":
        # the data file is in place; die before the sidecar is written
        def die(obj, path):
            os.kill(os.getpid(), signal.SIGKILL)
        cache.write_json_atomic = die
    else:
        # die in the middle of writing the data file
        def die_writing(arrays, path):
            with open(path, "wb") as f:
                f.write(b"PK partial data")
                f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        cache._write_npz = die_writing
    cache.get_or_build("killed", {"n": 3}, lambda: {"x": np.arange(3.0)})
""")


@pytest.mark.parametrize("stage", ["data", "sidecar"])
def test_killed_build_leaves_no_complete_looking_entry(stage, tmp_cache):
    res = subprocess.run([sys.executable, "-c", _KILLED_BUILD, stage], env=dict(os.environ), capture_output=True)
    assert res.returncode == -9, res.stderr.decode()[-2000:]
    entry = CacheEntry.make("killed", {"n": 3})
    assert not entry.is_complete()
    leftovers = sorted(p.name for p in entry.folder.iterdir())
    assert leftovers, "the killed build should have left something on disk"
    assert not entry.sidecar.exists()
    assert list_entries("killed") == []
    calls = []
    out = get_or_build("killed", {"n": 3}, lambda: calls.append(1) or {"x": np.arange(3.0)})
    assert calls == [1], "the next call must rebuild"
    assert np.array_equal(out["x"], np.arange(3.0))
    assert entry.is_complete()
    side = json.loads(entry.sidecar.read_text())
    assert side["params"] == {"n": 3} and side["size"] == entry.path.stat().st_size
    assert clear("killed") >= 2 and not entry.folder.exists()  # its temporary files too; the empty folder goes


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            raise ValueError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == ["f.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_bad_parameters_are_refused():
    with pytest.raises(cache.CacheError, match="JSON-like"):
        CacheEntry.make("x", {"obj": object()})
    with pytest.raises(cache.CacheError, match="kind"):
        CacheEntry.make("x", {}, kind="pickle")


# -- containment: names that become paths, and what clear may delete (issue 23) ------------------------------
@pytest.mark.parametrize("name", ["../sib", "..", "a/b", "/abs", ".hidden", "", "a\\b"])
def test_builder_names_never_leave_the_cache(tmp_cache, name):
    sibling = tmp_cache.parent / "sib"
    sibling.mkdir()
    (sibling / "f").write_text("keep me")
    with pytest.raises(ParameterError):
        CacheEntry.make(name, {})
    with pytest.raises(ParameterError):
        clear(name)
    with pytest.raises(ParameterError):
        list_entries(name)
    assert (sibling / "f").read_text() == "keep me"


def test_clear_removes_only_what_vecbridge_wrote(tmp_cache):
    get_or_build("demo", {"n": 1}, lambda: {"x": np.ones(2)})
    get_or_build("other", {}, lambda: {"t": 1}, kind="json")
    (tmp_cache / "demo" / "notes.txt").write_text("mine")  # a user's file inside a builder folder
    (tmp_cache / "users-file.txt").write_text("mine too")  # and one in the root
    (tmp_cache / "demo" / ".0123456789abcdef0123.npz.tmp-12-34").write_bytes(b"half")  # a killed build's
    plan = cache.plan_clear()
    unknown = {p.name for p in plan.unknown}
    assert unknown == {"notes.txt", "users-file.txt"}
    assert {e["builder"] for e in plan.entries} == {"demo", "other"} and len(plan.entries) == 3
    assert clear() == 5  # two entries of two files each, one temporary file
    assert (tmp_cache / "demo" / "notes.txt").read_text() == "mine"
    assert (tmp_cache / "users-file.txt").read_text() == "mine too"
    assert not (tmp_cache / "other").exists() and list_entries() == []


def test_sidecar_of_another_entry_or_folder_is_not_vecbridges(tmp_cache):
    get_or_build("demo", {}, lambda: {"x": np.ones(2)})
    entry = CacheEntry.make("demo", {})
    forged = tmp_cache / "demo" / f"{'f' * 20}.meta.json"  # claims a file it is not named after
    forged.write_text(json.dumps({**entry.read_sidecar(), "file": "../../victim"}))
    assert {p.name for p in cache.plan_clear("demo").unknown} == {forged.name}
    clear("demo")
    assert forged.exists()


def _run_cli(argv, monkeypatch, stdin_text=None, tty=False):
    import io

    from vecbridge.cli.main import main

    fake = io.StringIO(stdin_text or "")
    fake.isatty = lambda: tty  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdin", fake)
    try:
        return main(argv)
    except SystemExit as e:  # usage errors leave through argparse
        return e.code


def test_cli_data_clear_asks_refuses_without_a_terminal_and_stays_inside(tmp_cache, tmp_path, monkeypatch, capsys):
    get_or_build("demo", {}, lambda: {"x": np.ones(2)})
    (tmp_path / "sib").mkdir()
    (tmp_path / "sib" / "f").write_text("keep")
    # the case: VECBRIDGE_CACHE=c/inner vecbridge data clear ../sib
    assert _run_cli(["data", "clear", "../sib", "--yes"], monkeypatch) == 2
    assert "not a valid cache builder name" in capsys.readouterr().err
    assert (tmp_path / "sib" / "f").read_text() == "keep"
    # no --yes, no terminal: refused, nothing deleted
    assert _run_cli(["data", "clear"], monkeypatch) == 1
    err = capsys.readouterr().err
    assert "--yes" in err and "not a terminal" in err and "delete  demo" in err
    assert len(list_entries("demo")) == 1
    # a terminal, answered no: nothing deleted
    assert _run_cli(["data", "clear"], monkeypatch, "n\n", tty=True) == 0
    assert len(list_entries("demo")) == 1 and "[y/N]" in capsys.readouterr().err
    # answered yes
    assert _run_cli(["data", "clear", "demo"], monkeypatch, "y\n", tty=True) == 0
    assert list_entries("demo") == []
    get_or_build("demo", {}, lambda: {"x": np.ones(2)})
    assert _run_cli(["data", "clear", "--yes"], monkeypatch) == 0 and list_entries() == []


def test_default_cache_parent_is_never_cleared(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    (home / ".cache").mkdir(parents=True)
    (home / ".cache" / "other-app.db").write_text("precious")
    monkeypatch.delenv("VECBRIDGE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    assert _run_cli(["data", "clear", "..", "--yes"], monkeypatch) == 2
    assert (home / ".cache" / "other-app.db").read_text() == "precious"


def test_cache_env_naming_a_file_is_refused(tmp_path, monkeypatch):
    f = tmp_path / "cfile"
    f.write_text("x")
    monkeypatch.setenv("VECBRIDGE_CACHE", str(f))
    with pytest.raises(cache.CacheError, match=r"VECBRIDGE_CACHE=.*must name a folder"):
        cache_root()


def test_cache_env_is_resolved_before_it_is_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VECBRIDGE_CACHE", "cache2/../cache3")
    assert cache_root() == (tmp_path / "cache3").resolve()
    assert not (tmp_path / "cache2").exists()
