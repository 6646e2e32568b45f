"""make_translator("auto") and `vecbridge fit` with the default method."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings, load_translator, make_translator
from vecbridge.cli.main import main
from vecbridge.io import write_embeddings


def _clustered(n, d, rng):
    c = rng.normal(size=(30, d)) * 2
    return (c[rng.integers(0, 30, n)] + rng.normal(size=(n, d))).astype(np.float32)


@pytest.fixture(scope="module")
def rotated():
    rng = np.random.default_rng(0)
    X = _clustered(600, 16, rng)
    R = np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
    return X, (X @ R + 0.05 * rng.normal(size=X.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def clouds():
    rng = np.random.default_rng(1)
    return _clustered(600, 16, rng), _clustered(600, 16, rng)


def _top1(t, X, Y):
    A, B = t.transform(X), t.transform_target(Y)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    return float(np.mean((A @ B.T).argmax(1) == np.arange(len(X))))


def test_auto_finds_a_planted_rotation_without_pairs_and_reloads_identically(rotated, tmp_path):
    X, Y = rotated
    t = make_translator("auto", effort="quick").fit(X, Y)
    fi = t.fit_info_
    assert fi["auto"] is True and fi["verdict"] == "aligned" and fi["chosen_method"] != "identity"
    assert _top1(t, X, Y) > 0.9
    assert any(c["method"] == "identity" for c in fi["candidates"])
    assert fi["pairless_score"] == fi["confidence"] and fi["verdict_reason"]
    t.save(tmp_path / "m")
    m = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert m["method"] == "auto" and m["fit"]["chosen_method"] == fi["chosen_method"]
    assert m["chosen"]["method"] == t.chosen_.method and "params" in m["chosen"]
    loaded = load_translator(tmp_path / "m")
    assert np.array_equal(loaded.transform(X), t.transform(X))
    assert np.array_equal(loaded.transform_target(Y), t.transform_target(Y))


def test_auto_on_random_clouds_says_not_aligned(clouds):
    X, Y = clouds
    t = make_translator("auto", effort="quick").fit(X, Y)
    assert t.fit_info_["verdict"] == "not aligned"


def test_auto_with_pairs_chooses_a_supervised_method_by_cross_validation(rotated):
    X, Y = rotated
    rows = np.c_[np.arange(300), np.arange(300)]
    t = make_translator("auto", effort="quick").fit(X, Y, known_pairs=rows)
    fi = t.fit_info_
    assert fi["mode"].startswith("supervised")
    scored = [c for c in fi["candidates"] if "cv_top1" in c]
    assert len(scored) >= 3
    assert fi["chosen_method"] == max(scored, key=lambda c: c["cv_top1"])["method"]
    assert fi["chosen_method"] != "identity" and _top1(t, X[300:], Y[300:]) > 0.9


def test_auto_cross_validation_retrieves_samples_among_held_out_targets_and_words_in_the_vocabulary():
    """Samples: a fold's pairs are scored among the fold's targets (what evaluate --paired reports); keyed
    vocabularies: among the first CV_POOL target words too. Decoys equal to the golds placed first in the target
    rows win every tie in the vocabulary's pool and none among the held-out targets."""
    from vecbridge.translators.auto import AutoTranslator
    from vecbridge.translators.base import FitData

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 8)).astype(np.float32)
    Y = np.concatenate([X[:20], X])  # rows 0-19: decoys equal to the targets 20-39 of the first 20 sources
    test = np.c_[np.arange(20), np.arange(20, 40)]
    t = make_translator("identity").fit(X, Y[20:], known_pairs=np.c_[np.arange(40), np.arange(40)])
    as_samples = FitData(X=X, Y=Y)
    keys = [f"w{i}" for i in range(60)]
    as_words = FitData(X=X, Y=Y, src=Embeddings(keys[:40], X), tgt=Embeddings(keys, Y), pairs=None)
    assert AutoTranslator._held_out_top1(t, as_samples, test) == 1.0
    assert AutoTranslator._held_out_top1(t, as_words, test) == 0.0


def test_auto_with_few_pairs_uses_them_as_seeds(rotated):
    X, Y = rotated
    t = make_translator("auto", effort="quick", methods=("selflearn",)).fit(X, Y, known_pairs=np.c_[np.arange(5), np.arange(5)])
    assert t.fit_info_["mode"].startswith("few pairs") and t.fit_info_["chosen_method"] == "selflearn"


class _Judged:
    """Stands for a fitted candidate: only its verdict matters to the choice."""

    def __init__(self, method, verdict, confidence):
        self.method = method
        self.fit_info_ = {"verdict": verdict, "confidence": confidence}


@pytest.mark.parametrize("outcomes, completed, skipped", [
    # the favourite (selflearn on keyed inputs) aligned and confident: nothing else is tried
    ({"selflearn": {"normal": ("aligned", 0.9)}}, ["selflearn"], {"spectral-match", "cluster-match"}),
    # the favourite failed and nothing is aligned: the others are completed in order without a screen,
    # cluster-match first, until one aligns
    ({"selflearn": {"normal": ("not aligned", 0.02)},
      "spectral-match": {"quick": ("uncertain", 0.12), "normal": ("aligned", 0.7)},
      "cluster-match": {"quick": ("not aligned", 0.03), "normal": ("aligned", 0.99)}},
     ["selflearn", "cluster-match"], {"spectral-match"}),
    # the favourite aligned below EARLY_STOP: each other candidate is screened and completed only when its
    # screen leads that map by SCREEN_LEAD
    ({"selflearn": {"normal": ("aligned", 0.3)},
      "spectral-match": {"quick": ("uncertain", 0.45), "normal": ("aligned", 0.7)},
      "cluster-match": {"quick": ("uncertain", 0.35), "normal": ("aligned", 0.99)}},
     ["selflearn", "spectral-match"], {"cluster-match"}),
    # ... and once a completed screen aligns at EARLY_STOP or more, the rest is skipped unscreened
    ({"selflearn": {"normal": ("aligned", 0.3)},
      "spectral-match": {"quick": ("uncertain", 0.45), "normal": ("aligned", 0.7)},
      "cluster-match": {"quick": ("uncertain", 0.41), "normal": ("aligned", 0.6)}},
     ["selflearn", "cluster-match"], {"spectral-match"}),
    # nothing aligned (quick settings can miss what a full fit finds): completed in order until one aligns
    ({"selflearn": {"normal": ("not aligned", 0.0)},
      "spectral-match": {"quick": ("not aligned", 0.0), "normal": ("not aligned", 0.0)},
      "cluster-match": {"quick": ("not aligned", 0.0), "normal": ("aligned", 0.78)}},
     ["selflearn", "cluster-match"], {"spectral-match"}),
    # ... and where none aligns, every one is completed
    ({"selflearn": {"normal": ("not aligned", 0.0)},
      "spectral-match": {"quick": ("not aligned", 0.0), "normal": ("uncertain", 0.11)},
      "cluster-match": {"quick": ("not aligned", 0.0), "normal": ("not aligned", 0.0)}},
     ["selflearn", "cluster-match", "spectral-match"], set()),
])
def test_auto_completes_only_the_screens_that_promise_more(monkeypatch, outcomes, completed, skipped):
    calls, extras = [], {}

    def judged_fit(self, name, data, effort, extra=None):
        calls.append((name, effort))
        extras[name, effort] = extra
        verdict, conf = outcomes.get(name, {}).get(effort, ("not aligned", 0.0))
        return _Judged(name, verdict, conf)

    monkeypatch.setattr(type(make_translator("auto")), "_judged_fit", judged_fit)
    rng = np.random.default_rng(0)
    keys = [f"w{i}" for i in range(50)]
    X = Embeddings(keys, rng.normal(size=(50, 8)).astype(np.float32))
    Y = Embeddings(keys, rng.normal(size=(50, 6)).astype(np.float32))  # other dimension: no identity
    t = make_translator("auto").fit(X, Y, force=True)
    cands = {c["method"]: c for c in t.fit_info_["candidates"]}
    assert [n for n, e in calls if e == "normal"] == completed
    assert {n for n, c in cands.items() if "skipped" in c} == skipped
    assert all("screen" in cands[n] for n, e in calls if e == "quick")
    # a candidate is screened only while the best map so far is aligned
    screened = {n for n, e in calls if e == "quick"}
    assert not screened or outcomes["selflearn"]["normal"][0] == "aligned"
    best = max(completed, key=lambda n: outcomes[n]["normal"][1])
    assert t.fit_info_["chosen_method"] == best
    # on vocabularies cluster-match is not the favourite: completed without its rescue
    assert extras.get(("cluster-match", "normal"), {"rescue_starts": 0}) == {"rescue_starts": 0}
    assert extras[("selflearn", "normal")] is None


@pytest.mark.parametrize("favourite, identity_judged", [(("aligned", 0.9), False), (("aligned", 0.3), True),
                                                         (("not aligned", 0.0), True)])
def test_auto_judges_the_identity_after_the_favourite_unless_it_settled_the_search(monkeypatch, favourite,
                                                                                   identity_judged):
    calls = []

    def judged_fit(self, name, data, effort, extra=None):
        calls.append(name)
        return _Judged(name, *(favourite if name == "selflearn" else ("not aligned", 0.0)))

    monkeypatch.setattr(type(make_translator("auto")), "_judged_fit", judged_fit)
    rng = np.random.default_rng(0)
    keys = [f"w{i}" for i in range(50)]
    X = Embeddings(keys, rng.normal(size=(50, 8)).astype(np.float32))
    Y = Embeddings(keys, rng.normal(size=(50, 8)).astype(np.float32))  # equal dimensions: the identity applies
    t = make_translator("auto").fit(X, Y, force=True)
    assert calls[0] == "selflearn" and ("identity" in calls) == identity_judged
    if identity_judged:
        assert calls[1] == "identity"
    else:
        ident = next(c for c in t.fit_info_["candidates"] if c["method"] == "identity")
        assert "already aligned" in ident["skipped"]


def test_auto_gives_cluster_match_its_rescue_only_as_the_favourite(monkeypatch):
    extras = {}

    def judged_fit(self, name, data, effort, extra=None):
        extras[name, effort] = extra
        return _Judged(name, "not aligned", 0.0)

    monkeypatch.setattr(type(make_translator("auto")), "_judged_fit", judged_fit)
    rng = np.random.default_rng(0)
    make_translator("auto").fit(rng.normal(size=(50, 8)), rng.normal(size=(50, 6)), force=True)  # unkeyed samples
    assert extras[("cluster-match", "normal")] is None  # the favourite: its own defaults, rescue included
    assert extras[("selflearn", "normal")] is None and extras[("spectral-match", "normal")] is None


def _files(tmp_path, X, Y):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    write_embeddings(Embeddings([f"r{i}" for i in range(len(X))], X), a, overwrite=True, progress=False)
    write_embeddings(Embeddings([f"r{i}" for i in range(len(Y))], Y), b, overwrite=True, progress=False)
    return str(a), str(b)


def test_cli_fit_refuses_random_clouds_with_exit_3_unless_forced(clouds, tmp_path, capsys):
    a, b = _files(tmp_path, *clouds)
    out = tmp_path / "m"
    args = ["fit", a, b, "--unsupervised", "-o", str(out), "--param", "effort=quick", "--quiet"]
    assert main(args) == 3
    assert not out.exists() or not any(out.iterdir())
    assert "not align" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["method"] == "auto" and m["fit"]["verdict"] == "not aligned"


def test_cli_fit_default_is_auto_and_reports_the_choice(rotated, tmp_path, capsys):
    a, b = _files(tmp_path, *rotated)
    out = tmp_path / "m"
    assert main(["fit", a, b, "--unsupervised", "-o", str(out), "--param", "effort=quick"]) == 0
    err = capsys.readouterr().err
    assert "chosen by auto" in err and "verdict aligned" in err
    m = json.loads((out / "manifest.json").read_text())
    assert m["method"] == "auto" and m["chosen"]["method"] == m["fit"]["chosen_method"] or m["fit"]["chosen_method"] == "recommended"
