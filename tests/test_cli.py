"""The core CLI commands end to end on small files: fit, evaluate --json, translate, neighbors, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings, load_translator
from vecbridge.cli.main import main
from vecbridge.dictionary import write_dictionary
from vecbridge.io import read_embeddings, write_embeddings


@pytest.fixture
def spaces(tmp_path):
    """Two 'languages': B is a rotation of A plus a little noise, with different key spellings."""
    rng = np.random.default_rng(7)
    n, d = 300, 16
    A = rng.normal(size=(n, d)).astype(np.float32)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    B = (A @ Q + 0.01 * rng.normal(size=(n, d))).astype(np.float32)
    src = Embeddings([f"a{i}" for i in range(n)], A, {"name": "A"})
    tgt = Embeddings([f"b{i}" for i in range(n)], B, {"name": "B"})
    write_embeddings(src, tmp_path / "a.txt", format="word2vec")
    write_embeddings(tgt, tmp_path / "b.npy")
    write_dictionary([(f"a{i}", f"b{i}") for i in range(200)] + [("a0", "missing")], tmp_path / "train.tsv")
    write_dictionary([(f"a{i}", f"b{i}") for i in range(200, 300)], tmp_path / "test.tsv")
    return tmp_path, Q


def test_fit_evaluate_translate_neighbors(spaces, capsys):
    d, Q = spaces
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "train.tsv"),
                 "-o", str(d / "map"), "--quiet"]) == 0
    t = load_translator(d / "map")
    np.testing.assert_allclose(t.W_, Q, atol=1e-2)
    manifest = json.loads((d / "map" / "manifest.json").read_text())
    assert manifest["fit"]["coverage"]["missing_target_only"] == 1 and manifest["fit"]["n_pairs"] == 200

    capsys.readouterr()
    assert main(["evaluate", str(d / "map"), str(d / "a.txt"), str(d / "b.npy"), "--dictionary",
                 str(d / "test.tsv"), "--retrieval", "csls", "--json", "--quiet"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)  # exactly one JSON object
    assert set(["p_at_1", "p_at_5", "p_at_10", "coverage"]) <= set(result)
    assert result["p_at_1"] == 1.0 and result["coverage"] == 1.0

    assert main(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(d / "a_in_b.vec"), "--quiet"]) == 0
    translated = read_embeddings(d / "a_in_b.vec")
    assert translated.keys[:3] == ["a0", "a1", "a2"] and translated.dim == 16
    # refuses to overwrite the user's file
    assert main(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(d / "a_in_b.vec"), "--quiet"]) == 2

    capsys.readouterr()
    assert main(["neighbors", str(d / "a.txt"), "a5", "--map", str(d / "map"), "--target", str(d / "b.npy"),
                 "-k", "3", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("b5\t")


def test_evaluate_paired_json(spaces, capsys):
    d, _ = spaces
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--paired", "--method", "lstsq",
                 "--param", "bias=true", "-o", str(d / "m"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(d / "m"), str(d / "a.txt"), str(d / "b.npy"), "--paired", "--json", "--quiet"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["top1"] == 1.0 and r["mean_rank"] == 1.0 and r["foscttm"] == 0.0 and r["mean_cosine"] > 0.99


def test_cli_errors_are_clear(spaces, capsys, tmp_path):
    d, _ = spaces
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nx 1 2 3\ny 1 oops 3\n")
    assert main(["fit", str(bad), str(d / "b.npy"), "--shared-keys", "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "bad.txt" in err and "line 3" in err
    assert main(["evaluate", str(tmp_path / "nomap"), str(d / "a.txt"), str(d / "b.npy"), "--paired"]) == 2
    assert "no manifest" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one of --dictionary / --paired / ... is required
        main(["fit", str(d / "a.txt"), str(d / "b.npy"), "-o", str(tmp_path / "m2")])


def test_every_command_help_has_an_example(capsys):
    import argparse

    from vecbridge.cli.main import COMMAND_MODULES, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) == len(COMMAND_MODULES)  # one command per module
    for name in sub.choices:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert "example:" in capsys.readouterr().out, name
