"""What later commands say about a saved map: the method auto chose (not just "auto") and that map's normalisation,
no "fitted on" caveat and no unknown count of trained test pairs for a map fitted without pairs, and one clear error
(with a hint when SRC and TGT look swapped) for vectors of the wrong dimension."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings, load_translator, make_translator
from vecbridge.cli.main import main
from vecbridge.dictionary import write_dictionary
from vecbridge.evaluation import fitted_without_pairs, method_label, normalisation_label
from vecbridge.io import write_embeddings
from vecbridge.viz.plots import before_after_panels
from vecbridge.viz.report import map_report

N = 300
KEYS = [f"w{i}" for i in range(N)]


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """``sup``: auto (-> procrustes, "unit center unit") fitted on 200 pairs, 12-d -> 20-d; ``free``: auto
    (-> cluster-match) fitted without pairs between two 16-d spaces."""
    d = tmp_path_factory.mktemp("labels")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 12)).astype(np.float32)
    Y = (X @ rng.normal(size=(12, 20)) + 0.01 * rng.normal(size=(N, 20))).astype(np.float32)
    a, b = Embeddings(KEYS, X, {"name": "a"}), Embeddings(KEYS, Y, {"name": "b"})
    write_embeddings(a, d / "a.txt")
    write_embeddings(b, d / "b.txt")
    write_embeddings(Embeddings(KEYS, rng.normal(size=(N, 7)).astype(np.float32)), d / "seven.txt")
    write_dictionary([(k, k) for k in KEYS[200:]], d / "test.tsv")
    sup = make_translator("auto", effort="quick", progress=False).fit(a, b, pairs=[(k, k) for k in KEYS[:200]])
    assert sup.fit_info_["chosen_method"] == "procrustes"
    sup.save(d / "sup")
    Z = rng.normal(size=(N, 16)).astype(np.float32)
    c = Embeddings(KEYS, Z, {"name": "c"})
    c2 = Embeddings(KEYS, Z + 0.01 * rng.normal(size=Z.shape).astype(np.float32), {"name": "c2"})
    write_embeddings(c, d / "c.txt")
    write_embeddings(c2, d / "c2.txt")
    free = make_translator("auto", effort="quick", progress=False, methods=("cluster-match",)).fit(c, c2)
    assert free.fit_info_["n_pairs"] == 0 and free.fit_info_["chosen_method"] == "cluster-match"
    free.save(d / "free")
    return d, (a, b), (c, c2)


def test_evaluate_names_the_method_auto_chose(maps, capsys):
    d = maps[0]
    args = ["evaluate", str(d / "sup"), str(d / "a.txt"), str(d / "b.txt"), "--dictionary", str(d / "test.tsv"),
            "--quiet"]
    capsys.readouterr()
    assert main(args + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "auto" and result["chosen_method"] == "procrustes"  # "method" kept for JSON readers
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(None, 1)[1] for ln in lines if ln.startswith("method ")] == ["procrustes (chosen by auto)"]
    assert not any(ln.startswith("chosen_method") for ln in lines)


def test_a_named_method_has_no_chosen_method(maps, capsys):
    d, (a, b), _ = maps
    make_translator("procrustes").fit(a, b, pairs=[(k, k) for k in KEYS[:200]]).save(d / "proc")
    capsys.readouterr()
    assert main(["evaluate", str(d / "proc"), str(d / "a.txt"), str(d / "b.txt"), "--dictionary",
                 str(d / "test.tsv"), "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "procrustes" and "chosen_method" not in result


def test_report_shows_the_chosen_method_and_its_normalisation(maps, capsys):
    d, (a, b), _ = maps
    tr = load_translator(d / "sup")
    assert method_label(tr) == "procrustes (chosen by auto)" and normalisation_label(tr) == "unit center unit"
    _, tables, notes = map_report(tr, a, b, sample=40)
    row = tables[0][1][0]
    assert row["method"] == "procrustes (chosen by auto)" and row["normalisation"] == "unit center unit"
    assert any("optimistic" in n for n in notes)  # fitted on pairs: the hit rate includes them
    out = d / "sup.html"
    assert main(["report", str(d / "sup"), str(d / "a.txt"), str(d / "b.txt"), "-o", str(out), "--sample", "40",
                 "--quiet"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "procrustes (chosen by auto)" in text and "unit center unit" in text


def test_report_of_a_map_fitted_without_pairs_has_no_fitted_on_note(maps):
    d = maps[0]
    out = d / "free.html"
    assert main(["report", str(d / "free"), str(d / "c.txt"), str(d / "c2.txt"), "-o", str(out), "--sample", "40",
                 "--quiet"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "cluster-match (chosen by auto)" in text
    assert "the keys the map was fitted on" not in text and "optimistic" not in text


def test_plot_title_names_the_chosen_method(maps):
    d, (a, b), _ = maps
    panels, _ = before_after_panels(a, b, load_translator(d / "sup"), sample=30)
    assert "translated by procrustes (chosen by auto)" in panels[-1].title


def test_no_test_pair_was_seen_by_a_map_fitted_without_pairs(maps, capsys):
    d = maps[0]
    capsys.readouterr()
    assert main(["evaluate", str(d / "free"), str(d / "c.txt"), str(d / "c2.txt"), "--shared-keys", "--json",
                 "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["test_pairs_seen_in_training"] == 0
    assert fitted_without_pairs(load_translator(d / "free")) is True
    assert fitted_without_pairs(load_translator(d / "sup")) is False

    class Old:  # a map saved without a record of its pairs: unknown
        fit_info_: dict = {}

    assert fitted_without_pairs(Old()) is None


def test_a_wrong_dimension_is_one_error_at_once(maps, capsys):
    d = maps[0]
    capsys.readouterr()
    assert main(["translate", str(d / "sup"), str(d / "seven.txt"), "-o", str(d / "x.vec"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "warning" not in err and len(err.strip().splitlines()) == 1
    assert "error: IN (" in err and "the vectors are 7-d, but this map takes 12-d source vectors" in err
    assert "swapped" not in err and not (d / "x.vec").exists()
    # the map's target-side vectors given to translate: the same single error, with the hint
    assert main(["translate", str(d / "sup"), str(d / "b.txt"), "-o", str(d / "x.vec"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "warning" not in err and len(err.strip().splitlines()) == 1
    assert "20-d, but this map takes 12-d source vectors" in err and "target-side vectors?" in err


def test_swapped_sides_give_the_swap_hint(maps, capsys):
    d = maps[0]
    capsys.readouterr()
    assert main(["evaluate", str(d / "sup"), str(d / "b.txt"), str(d / "a.txt"), "--dictionary",
                 str(d / "test.tsv"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "warning" not in err and len(err.strip().splitlines()) == 1
    assert "SRC (" in err and "SRC and TGT may be swapped" in err
    # only TGT wrong (and not the source side's size): no swap hint, and TGT named
    assert main(["evaluate", str(d / "sup"), str(d / "a.txt"), str(d / "seven.txt"), "--dictionary",
                 str(d / "test.tsv"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "TGT (" in err and "this map takes 20-d target vectors" in err and "swapped" not in err
