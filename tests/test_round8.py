"""Round 8: --json on a refused merge / dimension, hub spaces as usage errors, the swap hint, resuming with another
--space, data build -o beside a keys file, and the service's field names (long, or written with escapes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings
from vecbridge.cli.main import main
from vecbridge.errors import ParameterError
from vecbridge.io import write_embeddings
from vecbridge.translators.linear import LeastSquares


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test builds into a cache of its own, never the user's."""
    monkeypatch.setenv("VECBRIDGE_CACHE", str(tmp_path / "cache"))


def _vec(path, keys, X):
    write_embeddings(Embeddings(list(keys), np.asarray(X, dtype=np.float32)), path)
    return str(path)


@pytest.fixture(scope="module")
def unrelated(tmp_path_factory):
    """A (400 words, 32-d) and B: 300 of A's words with vectors unrelated to A's (a map cannot align them)."""
    d = tmp_path_factory.mktemp("unrelated")
    rng = np.random.default_rng(0)
    keys = [f"w{i}" for i in range(400)]
    a = _vec(d / "A.vec", keys, rng.normal(size=(400, 32)))
    b = _vec(d / "Bbad.vec", keys[:300], rng.normal(size=(300, 32)))
    return d, a, b


@pytest.fixture(scope="module")
def spaces(tmp_path_factory):
    """A map 16-d -> 10-d (mapA), its source and target files, and a hub of spaces a (16-d), b (10-d), c (8-d)."""
    from vecbridge.hub import Hub
    from vecbridge.hub.pairing import paired_items

    d = tmp_path_factory.mktemp("spaces")
    rng = np.random.default_rng(1)
    n = 600
    C = rng.standard_normal((20, 16)) * np.linspace(2.0, 0.5, 16)
    X = (C[rng.integers(0, 20, n)] + 0.3 * rng.standard_normal((n, 16))).astype(np.float32)
    Y = (X @ rng.standard_normal((16, 10)) + 0.01 * rng.standard_normal((n, 10))).astype(np.float32)
    Z = (X @ rng.standard_normal((16, 8))).astype(np.float32)
    keys = [f"w{i}" for i in range(n)]
    LeastSquares().fit(X, Y).save(d / "mapA")
    hub = Hub(normalize=None, seed=0).fit({"a": X, "b": Y, "c": Z}, paired_items({"a": n, "b": n, "c": n}))
    hub.save(d / "hubH")
    np.save(d / "src.npy", X)
    np.save(d / "tgt.npy", Y)
    _vec(d / "src.vec", keys, X)
    _vec(d / "tgt.vec", keys, Y)
    (d / "dict.tsv").write_text("".join(f"{k}\t{k}\n" for k in keys[:100]), encoding="utf-8")
    return d


# -- 1. --json prints the verdict when the command refuses (exit 3) ----------------------------------------------
def test_merge_json_prints_the_refusing_verdict(unrelated, capsys):
    d, a, b = unrelated
    out = d / "m3.vec"
    assert main(["merge", a, b, "-o", str(out), "--json", "--quiet"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"]["verdict"] == "not aligned" and report["written"] is None
    assert report["method"] == "procrustes" and not out.exists()


def test_dimension_json_prints_the_refusing_verdict(unrelated, capsys):
    d, a, b = unrelated
    out = d / "dimC"
    assert main(["dimension", a, b, "-o", str(out), "--json", "--no-structure", "--quiet"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"]["verdict"] == "not aligned" and report["map"] is None and report["rows"]
    assert not out.exists()


# -- 2. a hub space that is not there, or --from / --to for a map: usage errors naming the flag -------------------
def test_unknown_hub_space_is_a_usage_error_naming_the_flag(spaces, capsys):
    d = spaces
    base = ["translate", str(d / "hubH"), str(d / "src.npy"), "-o", str(d / "h3.npy"), "--quiet"]
    assert main([*base, "--from", "a", "--to", "zz"]) == 2
    err = capsys.readouterr().err
    assert "error: --to: hub " in err and "has no space 'zz'; its spaces: a, b, c" in err and "dst=" not in err
    assert main([*base, "--from", "q", "--to", "b"]) == 2
    assert "error: --from: hub " in capsys.readouterr().err
    assert not (d / "h3.npy").exists()


def test_from_and_to_for_a_map_folder_are_a_usage_error(spaces, capsys):
    d = spaces
    assert main(["translate", str(d / "mapA"), str(d / "src.npy"), "--from", "a", "--to", "b", "-o",
                 str(d / "x.npy"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error: --from and --to: these choose spaces of a hub" in err and "not a hub folder" in err
    assert "src=" not in err and "dst=" not in err


def test_load_map_names_flag_and_argument_for_python_callers(spaces):
    from vecbridge.hub import load_map

    d = spaces
    with pytest.raises(ParameterError, match=r"--to / dst='zz': hub .* has no space 'zz'; its spaces: a, b, c"):
        load_map(d / "hubH", "a", "zz")
    with pytest.raises(ParameterError, match=r"--from / src='a': .*not a hub folder"):
        load_map(d / "mapA", "a")


# -- 3. the swap hint ----------------------------------------------------------------------------------------------
def test_only_the_wrong_file_is_named_when_the_other_is_right(spaces, capsys):
    d = spaces
    assert main(["evaluate", str(d / "mapA"), str(d / "src.vec"), str(d / "src.vec"), "--dictionary",
                 str(d / "dict.tsv"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "TGT (" in err and "swapped" not in err and "Give the map's 10-d target vectors as TGT" in err
    # both wrong, each as wide as the other side: swapped
    assert main(["evaluate", str(d / "mapA"), str(d / "tgt.vec"), str(d / "src.vec"), "--dictionary",
                 str(d / "dict.tsv"), "--quiet"]) == 1
    assert "SRC and TGT may be swapped" in capsys.readouterr().err
    # SRC wrong, TGT the target side's as it should be: SRC alone
    assert main(["evaluate", str(d / "mapA"), str(d / "tgt.vec"), str(d / "tgt.vec"), "--dictionary",
                 str(d / "dict.tsv"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "SRC (" in err and "swapped" not in err and "as SRC" in err


def test_a_hub_suggests_the_from_space_as_wide_as_the_input(spaces, capsys):
    d = spaces
    assert main(["translate", str(d / "hubH"), str(d / "src.npy"), "--from", "b", "--to", "c", "-o",
                 str(d / "y.npy"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "the hub's space b (--from b) is 10-d" in err and "give --from a" in err
    assert "fit a map" not in err and "SRC and TGT" not in err


# -- 4. resuming with another --space ------------------------------------------------------------------------------
@pytest.mark.parametrize("first, then", [("map", "target"), ("target", "map")])
def test_resume_with_another_space_names_the_flag(spaces, tmp_path, first, then, capsys):
    from vecbridge.cli.translate import TargetCoordinates
    from vecbridge.stream import translate_file
    from vecbridge.translators import load_translator

    class Crash(Exception):
        pass

    d = spaces
    t = load_translator(d / "mapA")
    out = tmp_path / "s1.npy"

    def crash(rep):
        raise Crash

    with pytest.raises(Crash):
        translate_file(TargetCoordinates(t) if first == "target" else t, d / "src.npy", out, chunk_rows=50,
                       on_chunk=crash, progress=False)
    assert main(["translate", str(d / "mapA"), str(d / "src.npy"), "-o", str(out), "--chunk-rows", "50",
                 "--space", then, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"made with --space {first}; now --space {then}: re-run with --space {first} to resume" in err
    assert "--restart" in err and "resume=" not in err and "different map" not in err
    assert main(["translate", str(d / "mapA"), str(d / "src.npy"), "-o", str(out), "--space", first,
                 "--quiet"]) == 0
    assert np.load(out).shape == (600, 10)


# -- 5. data build -o FILE.npy refuses an existing keys file before the build ---------------------------------------
def test_data_build_npy_refuses_an_existing_keys_file_before_building(tmp_path, monkeypatch, capsys):
    from vecbridge import datasets

    def no_build(*args, **kwargs):
        raise AssertionError("built before the output was checked")

    monkeypatch.setattr(datasets, "load", no_build)
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "g.keys.txt").write_text("x\n", encoding="utf-8")
    out = tmp_path / "k" / "g.npy"
    assert main(["data", "build", "glove", "--param", "limit=300", "-o", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "g.keys.txt already exists (the keys file written beside" in err and "--overwrite" in err
    assert not out.exists()


# -- 6. the service: long field names cut, a "hub" key written with escapes -----------------------------------------
@pytest.fixture(scope="module")
def client(spaces):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from vecbridge.serve import create_app

    d = spaces
    with TestClient(create_app({"m": str(d / "mapA"), "h": str(d / "hubH")})) as c:
        yield c


def test_a_long_misspelt_field_name_is_cut_in_the_warning(client, spaces):
    X = np.load(spaces / "src.npy")[:2].tolist()
    r = client.post("/translate", json={"map": "m", "vectors": X, "x" * 5000: 1})
    assert r.status_code == 200
    warning = r.json()["warning"]
    assert len(warning) < 300 and '"xxxxx' in warning and "..." in warning


def test_a_hub_key_written_with_an_escape_takes_the_hub_route(client, spaces):
    X = np.load(spaces / "src.npy")[:2].tolist()
    body = b'{"\\u0068ub": "h", "from": "a", "to": "b", "vectors": ' + json.dumps(X).encode() + b"}"
    r = client.post("/translate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["hub"] == "h" and j["from"] == "a" and j["to"] == "b" and j["dim"] == 10
    # an escape elsewhere does not make a map request a hub request
    body = b'{"m\\u0061p": "m", "vectors": ' + json.dumps(X).encode() + b"}"
    r = client.post("/translate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["map"] == "m"
