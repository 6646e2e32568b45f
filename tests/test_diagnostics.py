"""Isomorphism diagnostics: known values on constructed spaces, the report and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings
from vecbridge.diagnostics import (
    diagnose,
    eigenvector_similarity,
    format_report,
    knn_graph_laplacian_spectrum,
    linear_cka,
    rsa,
)
from vecbridge.errors import DimensionError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 16)).astype(np.float32)
    Q = np.linalg.qr(rng.standard_normal((16, 16)))[0]
    return X, (X @ Q).astype(np.float32), rng.standard_normal((300, 16)).astype(np.float32)


def test_rotation_is_perfectly_isomorphic(data):
    X, Xr, R = data
    assert rsa(X, Xr) == pytest.approx(1.0, abs=1e-6)
    assert linear_cka(X, Xr) == pytest.approx(1.0, abs=1e-6)
    assert eigenvector_similarity(X, Xr) == pytest.approx(0.0, abs=1e-6)
    assert abs(rsa(X, R)) < 0.05 and linear_cka(X, R) < 0.2
    assert eigenvector_similarity(X, R) >= 0


def test_eigenvector_similarity_grows_with_distortion(data):
    X, _, _ = data
    rng = np.random.default_rng(1)
    mild = X + 0.3 * rng.standard_normal(X.shape)
    strong = np.tanh(3 * X) ** 3 + rng.standard_normal(X.shape)
    assert rsa(X, mild) > rsa(X, strong)


def test_laplacian_spectrum_properties(data):
    lam = knn_graph_laplacian_spectrum(data[0], k=5)
    assert lam.shape == (300,) and abs(lam[-1]) < 1e-8 and np.all(np.diff(lam) <= 1e-9)


def test_diagnose_paired_and_unpaired(data):
    X, Xr, _ = data
    a = Embeddings([f"w{i}" for i in range(300)], X, {"name": "a"})
    b = Embeddings([f"w{i}" for i in range(300)], Xr, {"name": "b"})
    rep = diagnose(a, b, paired=True, n=200)
    assert rep["paired"]["rsa"] == pytest.approx(1.0, abs=1e-4) and rep["verdict"] == "near-isomorphic"
    assert rep["paired"]["n"] == 200 and rep["coverage"]["n_used"] == 300
    un = diagnose(a, b, n=200)
    assert "paired" not in un and un["unpaired"]["n"] == 200 and un["verdict"].startswith("unknown")
    assert "verdict:" in format_report(rep)
    with pytest.raises(DimensionError):
        rsa(X, X[:10])


def test_cli_diagnose_json(data, tmp_path, capsys):
    from vecbridge.cli.main import main

    X, Xr, _ = data
    for name, M in (("a.txt", X), ("b.txt", Xr)):
        with open(tmp_path / name, "w") as fh:
            for i, v in enumerate(M):
                fh.write(f"w{i} " + " ".join(f"{x:.6f}" for x in v) + "\n")
    assert main(["diagnose", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--shared-keys", "--json",
                 "-n", "150", "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["paired"]["linear_cka"] > 0.99 and rep["verdict"] == "near-isomorphic"


def test_cli_diagnose_paired_needs_as_many_rows_and_a_known_normalisation(data, tmp_path, capsys):
    from vecbridge.cli.main import main

    X, Xr, _ = data
    for name, M in (("a.txt", X), ("b.txt", Xr[:200])):
        with open(tmp_path / name, "w") as fh:
            for i, v in enumerate(M):
                fh.write(f"w{i} " + " ".join(f"{x:.6f}" for x in v) + "\n")
    a, b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
    capsys.readouterr()
    assert main(["diagnose", a, b, "--paired", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vecbridge diagnose: error: --paired needs as many rows in SRC (300) as in TGT (200)")
    assert len(err.strip().splitlines()) == 1
    assert main(["diagnose", a, str(tmp_path / "missing.txt"), "--normalize", "bogus"]) == 2
    assert "--normalize 'bogus': unknown normalisation step" in capsys.readouterr().err
    assert main(["diagnose", a, b, "--shared-keys", "-n", "150", "--normalize", "none", "--json", "--quiet"]) == 0
