"""The demo end to end on the real data it uses (GloVe 6B 50d -> word2vec trained on BBC News)."""

from __future__ import annotations

import json

import pytest

from vecbridge import load_translator


@pytest.mark.realdata
@pytest.mark.slow
def test_demo_runs_and_procrustes_csls_beats_least_squares(tmp_path):
    from vecbridge.demo import run

    out = run(tmp_path, quiet=True)
    rows = {r["method"]: r for r in out["results"]}
    assert rows["Procrustes"]["coverage"] == 1.0
    # the classic finding the demo shows: orthogonality + CSLS beat the plain translation matrix
    assert rows["Procrustes"]["csls_p1"] > rows["least squares"]["nn_p1"]
    t = load_translator(out["map"])
    manifest = json.loads((tmp_path / "glove-to-word2vec-bbc" / "manifest.json").read_text())
    assert manifest["fit"]["n_pairs"] == 5000 and manifest["source"]["dim"] == 50 and manifest["target"]["dim"] == 100
    assert t.transform([1.0] * 50).shape == (1, 100)
