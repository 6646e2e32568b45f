"""The demo end to end on the real data it uses: the default command aligns two word2vec models of one
corpus without pairs, and refuses two unrelated random clouds."""

from __future__ import annotations

import pytest


@pytest.mark.realdata
@pytest.mark.slow
def test_demo_aligns_word2vec_models_and_refuses_random_clouds(tmp_path):
    from vecbridge.demo import run

    out = run(tmp_path, quiet=True)
    w = out["word2vec"]
    assert w["exit_code"] == 0 and w["verdict"] in ("aligned", "uncertain")
    assert w["top1"] >= 0.5
    r = out["random"]
    assert r["exit_code"] == 3 and not r["saved"]
