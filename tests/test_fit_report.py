"""What `vecbridge fit` tells its user as it goes and at the end: auto's candidates, its choice in every outcome,
the held-out check with its numbers, and errors that name the flag."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from vecbridge import Embeddings, make_translator
from vecbridge.cli.main import main
from vecbridge.dictionary import write_dictionary
from vecbridge.io import write_embeddings


def _write(path, X, prefix="r"):
    write_embeddings(Embeddings([f"{prefix}{i}" for i in range(len(X))], X), path, overwrite=True, progress=False)
    return str(path)


@pytest.fixture
def clouds(tmp_path):
    """Two unrelated gaussian clouds: nothing to align (small, so that every candidate of auto is quick)."""
    rng = np.random.default_rng(0)
    a = _write(tmp_path / "ra.npy", rng.normal(size=(200, 8)).astype(np.float32))
    b = _write(tmp_path / "rb.npy", rng.normal(size=(200, 8)).astype(np.float32))
    return tmp_path, a, b


def _rotated(tmp_path, n, d, n_pairs):
    """A and B = A rotated plus noise, keys aI / bI, and a dictionary of the first ``n_pairs`` pairs."""
    rng = np.random.default_rng(7)
    A = rng.normal(size=(n, d)).astype(np.float32)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    B = (A @ Q + 0.01 * rng.normal(size=(n, d))).astype(np.float32)
    a, b = _write(tmp_path / "a.npy", A, "a"), _write(tmp_path / "b.npy", B, "b")
    write_dictionary([(f"a{i}", f"b{i}") for i in range(n_pairs)], tmp_path / "train.tsv")
    return a, b, str(tmp_path / "train.tsv")


def _only_null_handlers():
    return all(isinstance(h, logging.NullHandler) for h in logging.getLogger("vecbridge.auto").handlers)


def test_auto_says_what_it_tries_and_what_it_chose_even_on_exit_3(clouds, capsys):
    d, a, b = clouds
    args = ["fit", a, b, "--unsupervised", "-o", str(d / "m"), "--param", "effort=quick"]
    capsys.readouterr()
    assert main(args) == 3
    err = capsys.readouterr().err  # stderr is no terminal here: no progress bar, the lines all the same
    lines = err.splitlines()
    for name in ("identity", "selflearn", "cluster-match", "spectral-match"):
        assert f"vecbridge fit: auto: trying {name} ..." in lines
        done = re.compile(rf"vecbridge fit: auto: {name}: (not aligned|uncertain|aligned), confidence [01]\.\d\d "
                          r"\(\d+\.\d s\)")
        assert any(done.fullmatch(x) for x in lines), err
    # the choice, with every candidate's confidence, before the refusal
    chose = next(i for i, x in enumerate(lines) if x.startswith("auto: unsupervised (no pairs); chose "))
    refusal = next(i for i, x in enumerate(lines) if "did not align" in x)
    assert chose < refusal and "cluster-match 0." in lines[chose]
    assert _only_null_handlers()  # the command's handler is gone once it returns

    assert main([*args, "--param", 'methods=["identity"]', "--quiet"]) == 3  # (one candidate: quicker)
    err = capsys.readouterr().err
    assert "auto:" not in err and "did not align" in err


def test_the_library_prints_nothing_but_logs_each_candidate(capsys, caplog):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    Q = np.linalg.qr(rng.normal(size=(8, 8)))[0].astype(np.float32)
    Y = X @ Q
    with caplog.at_level(logging.INFO, logger="vecbridge.auto"):
        make_translator("auto", effort="quick", methods=("procrustes", "lstsq")).fit(
            X, Y, known_pairs=np.c_[np.arange(100), np.arange(100)])
    assert capsys.readouterr().err == "" and _only_null_handlers()
    messages = [r.getMessage() for r in caplog.records if r.name == "vecbridge.auto"]
    for name in ("procrustes", "lstsq"):  # supervised: one line per candidate with its score
        assert any(m.startswith(f"auto: {name}: 3-fold cross-validated top-1 1.000 (") for m in messages), messages


def test_a_paired_fit_reports_the_held_out_check_with_its_numbers(tmp_path, capsys):
    a, b, train = _rotated(tmp_path, 300, 16, 200)
    capsys.readouterr()
    assert main(["fit", a, b, "--dictionary", train, "--method", "procrustes", "-o", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("held-out check: "))
    assert line.startswith("held-out check: top-1 1.00 among 40 held-out pairs (chance 1/40 = 0.025; random maps reached 0.")
    assert "procrustes fitted again on the other 160" in line and "not of all of TGT" in line
    assert "vecbridge evaluate" in line
    # the verdict's reason says what its confidence is not
    from vecbridge import load_translator

    reason = load_translator(tmp_path / "m").fit_info_["verdict_reason"]
    assert "searched among those 40 targets only" in reason and "not a share of words translated" in reason


def test_too_few_pairs_for_the_held_out_check_says_the_numbers(tmp_path, capsys):
    a, b, train = _rotated(tmp_path, 200, 50, 60)
    capsys.readouterr()
    assert main(["fit", a, b, "--dictionary", train, "--method", "procrustes", "-o", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert ("of 60 pairs, 12 would be held out (a fifth, at least 10), leaving 48 to fit on where procrustes needs "
            "50") in err
    assert "hold 10 out" not in err


@pytest.mark.parametrize("method", [["--method", "procrustes"], ["--method", "lstsq"], []])
def test_a_bad_normalize_exits_2_naming_the_flag_before_reading_files(tmp_path, capsys, method):
    missing = str(tmp_path / "missing.npy")  # never read: the flag is refused first
    assert main(["fit", missing, missing + "2", "--paired", *method, "--normalize", "unit bogus",
                 "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "--normalize" in err and "bogus" in err and "missing" not in err
