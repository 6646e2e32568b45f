"""The leakage audit (vecbridge.audit, `vecbridge audit`): a planted case it must read, defences, the gate, every
bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import make_translator
from vecbridge.audit import (
    AuditReport,
    WordProbe,
    bootstrap_ci,
    build_vocabulary,
    content_words,
    neighbour_recall,
    parse_defence,
    run_audit,
)
from vecbridge.cli.main import main
from vecbridge.errors import DimensionError, EncoderError, OutputExistsError, ParameterError, VecbridgeError
from vecbridge.translators.auto import QUICK_PARAMS

ATTRIBUTES = ["sport", "music", "food"]
WORDS = ["goal match team", "song band album", "bread cheese dinner"]


class LookupEncoder:
    """A stand-in encoder: every text it is asked for has a vector in its table."""

    name = "lookup"

    def __init__(self, table):
        self.table = table

    def encode(self, texts):
        return np.array([self.table[t] for t in texts], dtype=np.float32)


@pytest.fixture(scope="module")
def planted():
    """Texts in clusters, each cluster of one attribute (shifted along that attribute's direction, with that
    attribute's words); LEAKED is the hidden texts' vectors under a random rotation."""
    rng = np.random.default_rng(0)
    d, n_clusters = 16, 24
    U = np.linalg.qr(rng.normal(size=(d, d)))[0][:3]
    attr_of = np.arange(n_clusters) % 3
    centres = rng.normal(size=(n_clusters, d)) * 1.5 + 3 * U[attr_of]
    sizes = rng.dirichlet(np.ones(n_clusters) * 2)
    table = dict(zip(ATTRIBUTES, U))

    def draw(n, tag):
        c = rng.choice(n_clusters, n, p=sizes)
        X = centres[c] + 0.6 * rng.normal(size=(n, d))
        texts = [f"{' '.join(rng.choice(WORDS[attr_of[k]].split(), 2, replace=False))} "
                 f"{['red', 'blue', 'green', 'white'][k % 4]} {tag}{i}" for i, k in enumerate(c)]
        table.update(zip(texts, X))
        return texts, attr_of[c], X

    public, _, _ = draw(600, "p")
    hidden, y, H = draw(400, "h")
    R = np.linalg.qr(rng.normal(size=(d, d)))[0]
    leaked = (H @ R + 0.02 * rng.normal(size=H.shape)).astype(np.float32)
    return {"encoder": LookupEncoder(table), "public": public, "texts": hidden, "truth": [int(k) for k in y],
            "leaked": leaked, "R": R, "H": H}


@pytest.fixture(scope="module")
def planted_report(planted):
    p = planted
    return run_audit(p["leaked"], p["encoder"], p["public"], ATTRIBUTES, truth=p["truth"], texts=p["texts"],
                     method=make_translator("auto", effort="quick"), n_bootstrap=200, max_leak=0.2)


def test_the_audit_finds_a_planted_attribute_through_an_unknown_rotation(planted_report):
    s = planted_report.summary
    assert s["translation"]["verdict"] == "aligned" and "chosen by auto" in s["translation"]["method"]
    a = s["attribute"]
    assert a["chance"] == pytest.approx(1 / 3, abs=1e-3)
    assert a["top1"] > a["chance"] + 0.4  # far above chance ...
    assert a["top1"] > a["ideal"] - 0.05  # ... and close to reading the true texts with the known encoder
    assert a["naive"] < a["chance"] + 0.1  # the rotation hides it from a reader that does not translate
    lo, hi = a["top1_ci"]
    assert lo <= a["top1"] <= hi and hi - lo < 0.2
    w = s["words"]
    assert w["f1"] > w["naive_f1"] + 0.3 and w["f1"] > 0.5 and w["ideal_f1"] is not None
    assert s["nearest"]["word_recall"] > s["nearest"]["random"] + 0.3
    assert s["gate"] == {"max_leak": 0.2, "leak": a["leak"], "failed": True} and planted_report.gate_failed
    assert s["timing"]["audit_seconds"] >= s["timing"]["fit_seconds"]


def test_predictions_and_files(planted_report, planted, tmp_path):
    rows = planted_report.predictions
    assert len(rows) == len(planted["leaked"])
    first = rows[0]
    assert first["attribute"] in ATTRIBUTES and set(first["scores"]) == set(ATTRIBUTES)
    assert first["truth"] == ATTRIBUTES[planted["truth"][0]]
    assert len(first["nearest"]) == 3 and first["nearest"][0]["text"] in planted["public"]
    assert set(first["words"]) <= set(planted_report["words"]["vocabulary"])
    out = planted_report.write(tmp_path / "audit")
    report = json.loads((out / "report.json").read_text())
    assert report["attribute"]["top1"] == planted_report["attribute"]["top1"]
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == len(rows) and json.loads(lines[5])["row"] == 5
    html = (out / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "Attribute inference" in html and "<script" not in html
    with pytest.raises(OutputExistsError, match="not empty"):
        planted_report.write(out)
    planted_report.write(out, overwrite=True)


def test_a_fitted_map_is_used_as_it_is_and_defences_are_reported(planted):
    p = planted
    oracle = make_translator("procrustes").fit(p["H"] @ p["R"], p["H"])  # the attacker holds pairs
    quick = make_translator("spectral-match", **QUICK_PARAMS["spectral-match"], seed=0)
    r = run_audit(p["leaked"], p["encoder"], p["public"], ATTRIBUTES, truth=p["truth"], method=oracle,
                  n_bootstrap=0, defences=[], fit_rows=400)
    assert r["attribute"]["top1"] > 0.8 and r["attribute"]["top1_ci"] is None and r["words"]["f1"] is None
    assert r["attribute"]["ideal"] is None and r["nearest"]["word_recall"] is None  # no texts
    assert r["translation"]["fit_seconds"] == 0
    r = run_audit(p["leaked"][:200], p["encoder"], p["public"], ATTRIBUTES, truth=p["truth"][:200], method=quick,
                  n_bootstrap=0, defences=["rotate", "drop=0.5+noise=0.3"])
    rows = {d["defence"]: d for d in r["defences"]}
    assert list(rows) == ["none", "rotate", "drop=0.5+noise=0.3"]
    assert rows["none"]["utility_recall_at_10"] == 1.0
    assert rows["rotate"]["utility_recall_at_10"] == pytest.approx(1.0)  # a rotation keeps every neighbour
    assert rows["drop=0.5+noise=0.3"]["utility_recall_at_10"] < 0.9
    assert rows["drop=0.5+noise=0.3"]["attribute_naive"] is None  # 8-d against 16-d: no naive reading
    assert rows["rotate"]["attribute_naive"] is not None


def test_a_map_judged_not_aligned_whose_readings_are_far_above_chance_is_noted_as_real(planted):
    """The report's note (report.json / report.html, library users included) says what the CLI warning says."""
    p = planted
    oracle = make_translator("procrustes").fit(p["H"] @ p["R"], p["H"])
    oracle.fit_info_.update({"verdict": "not aligned", "confidence": 0.0, "verdict_reason": "forced by the test"})
    r = run_audit(p["leaked"], p["encoder"], p["public"], ATTRIBUTES, truth=p["truth"], method=oracle,
                  n_bootstrap=0, defences=[], fit_rows=400)
    assert r["translation"]["verdict"] == "not aligned" and r["attribute"]["top1"] > 0.8
    assert "well above chance" in r["notes"][0] and not any("should be near chance" in n for n in r["notes"])


def test_defence_specs():
    d = parse_defence("noise=0.05+rotate")
    assert [s.name for s in d.steps] == ["noise", "rotate"] and str(d) == "noise=0.05+rotate"
    X = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    assert np.allclose(parse_defence("rotate").apply(X) @ parse_defence("rotate").apply(X).T, X @ X.T, atol=1e-4)
    q = parse_defence("quantize=2").apply(X)
    assert all(len(np.unique(q[:, j])) <= 4 for j in range(8))
    assert parse_defence("drop=0.25").apply(X).shape == (50, 6)
    assert np.array_equal(parse_defence("noise=0.1").apply(X, seed=3), parse_defence("noise=0.1").apply(X, seed=3))
    assert neighbour_recall(X, X) == 1.0
    for bad, msg in [("nois=0.1", "unknown defence"), ("noise", "needs a standard deviation"),
                     ("noise=-1", "needs a standard deviation"), ("noise=abc", "got 'abc'"),
                     ("rotate=3", "takes no value"), ("quantize=0", "number of bits"), ("quantize=2.5", "bits"),
                     ("drop=1", "fraction"), ("", "expects a defence"), ("noise=0.1+", "unknown defence")]:
        with pytest.raises(ParameterError, match=msg):
            parse_defence(bad)


def test_words_probe_and_bootstrap():
    assert content_words("The Team's goals, and the GOAL of it") == {"team's", "goals", "goal"}
    assert build_vocabulary(["red apple", "red pear", "green apple", "blue"], 10) == ["apple", "red"]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    Y = np.c_[X[:, 0] > 0.5, X[:, 1] < -0.5]
    probe = WordProbe(seed=0).fit(X, Y)
    assert probe.public_f1_ > 0.7 and probe.predict(X).shape == (300, 2)
    hits = (rng.random(500) < 0.3).astype(float)
    lo, hi = bootstrap_ci(hits, lambda s, n: s[:, 0] / n, 500, seed=0)
    assert lo < hits.mean() < hi and hi - lo < 0.1
    assert bootstrap_ci(np.zeros((0, 1)), lambda s, n: s[:, 0], 10) is None
    assert isinstance(AuditReport({"gate": None}).gate_failed, bool)


def test_bad_inputs_of_the_python_api(planted):
    p = planted
    enc, pub, L = p["encoder"], p["public"], p["leaked"]
    cases = [
        (dict(max_leak=0.2), ParameterError, "--max-leak / max_leak= without --truth"),
        (dict(attributes=[]), VecbridgeError, "--attributes / attributes= is empty"),
        (dict(attributes=["sport"]), VecbridgeError, "at least two"),
        (dict(attributes=["sport", "sport"]), VecbridgeError, "the same"),
        (dict(truth=p["truth"][:-1]), VecbridgeError, "has 399 lines but LEAKED has 400 rows"),
        (dict(truth=["sport"] * 399 + ["chess"]), VecbridgeError, "line 400: 'chess' is neither"),
        (dict(truth=[0] * 399 + [7]), VecbridgeError, "index from 0 to 2"),
        (dict(texts=p["texts"][:10]), VecbridgeError, "--texts / texts= has 10 lines"),
        (dict(leaked=L[:, 0]), DimensionError, "2-D"),
        (dict(leaked=L[:5]), VecbridgeError, "at least 20"),
        (dict(leaked=np.vstack([L[:30], np.zeros((1, 16))])), VecbridgeError, "row 30 is all zeros"),
        (dict(public=pub[:10]), VecbridgeError, "at least 50"),
        (dict(defences=["blur"]), ParameterError, "unknown defence"),
        (dict(text_vectors=np.zeros((400, 5)), texts=p["texts"]), DimensionError, "5-d vectors for the true texts"),
        (dict(method=make_translator("procrustes").fit(np.eye(8), np.eye(8))), DimensionError, "8-d"),
        (dict(method="procrustes"), ParameterError, "needs pairs"),
        (dict(encoder="no-such-encoder"), EncoderError, "unknown encoder"),
        (dict(fit_rows=3), ParameterError, "--fit-rows"),
    ]
    for extra, error, msg in cases:
        kw = dict(leaked=L, encoder=enc, public=pub, attributes=ATTRIBUTES)
        kw.update(extra)
        with pytest.raises(error, match=msg):
            run_audit(kw.pop("leaked"), kw.pop("encoder"), kw.pop("public"), kw.pop("attributes"), **kw)


# -- the command line -------------------------------------------------------------------------------------
TOPIC_WORDS = {
    "sport": "football match team goal player coach league win score season stadium referee",
    "music": "music song band album concert singer guitar record tour chart melody drummer",
    "food": "food recipe cook kitchen dinner bread cheese taste restaurant chef meal soup",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Texts on three topics; LEAKED: their static64 vectors."""
    pytest.importorskip("static_model")  # the static64 encoder's package
    from vecbridge.encoders import get_encoder

    rng = np.random.default_rng(0)
    names = list(TOPIC_WORDS)
    fill = "the a on at today this week in our city people said".split()

    def texts(n):
        y = rng.integers(0, 3, n)
        return [" ".join(list(rng.choice(TOPIC_WORDS[names[k]].split(), 4, replace=False)) + list(rng.choice(fill, 3)))
                for k in y], y

    d = tmp_path_factory.mktemp("audit")
    public, _ = texts(300)
    hidden, y = texts(120)
    (d / "public.txt").write_text("\n".join(public) + "\n")
    (d / "texts.txt").write_text("\n".join(hidden) + "\n")
    (d / "attributes.txt").write_text("\n".join(f"a text about {t}" for t in names) + "\n")
    (d / "truth.txt").write_text("\n".join(f"a text about {names[k]}" if i % 2 else str(k) for i, k in enumerate(y)))
    np.save(d / "leaked.npy", get_encoder("static64").encode(hidden))
    return d


def _args(d, *extra):
    return ["audit", str(d / "leaked.npy"), "--encoder", "static64", "--public", str(d / "public.txt"),
            "--attributes", str(d / "attributes.txt"), "--method", "identity", "--bootstrap", "50", "--quiet", *extra]


def test_cli_writes_the_report_prints_json_and_gates(files, capsys):
    d = files
    out = d / "out"
    code = main(_args(d, "--truth", str(d / "truth.txt"), "--texts", str(d / "texts.txt"), "-o", str(out),
                      "--max-leak", "0", "--defence", "noise=0.02", "--json"))
    captured = capsys.readouterr()
    assert code == 4 and "leak gate failed" in captured.err and "Traceback" not in captured.err
    s = json.loads(captured.out)
    assert {"top1", "chance", "naive", "ideal"} <= set(s["attribute"]) and "f1" in s["words"]
    assert {"method", "verdict"} <= set(s["translation"])
    assert s["attribute"]["top1"] > s["attribute"]["chance"] + 0.3 and s["attribute"]["ideal"] is not None
    assert [r["defence"] for r in s["defences"]] == ["none", "noise=0.02"]
    assert {p.name for p in out.iterdir()} == {"report.json", "predictions.jsonl", "report.html"}
    # a non-empty folder is refused unless --overwrite; the gate passes at 1.0
    assert main(_args(d, "--truth", str(d / "truth.txt"), "-o", str(out))) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(_args(d, "--truth", str(d / "truth.txt"), "-o", str(out), "--overwrite", "--max-leak", "1")) == 0
    text = capsys.readouterr().out
    assert "attribute top-1: translated" in text and "words (F1): translated -" in text  # no --texts: null
    assert json.loads((out / "report.json").read_text())["words"]["f1"] is None


@pytest.mark.parametrize("extra, code, msg", [
    (["--max-leak", "0.2"], 2, "--max-leak without --truth"),
    (["--defence", "noise=lots"], 2, "--defence noise=lots: noise needs"),
    (["--defence", "shuffle"], 2, "unknown defence 'shuffle'"),
    (["--max-leak", "1.5", "--truth", "TRUTH"], 2, "--max-leak must be a number"),
    (["--attributes", "EMPTY"], 1, "--attributes file is empty"),
    (["--truth", "SHORT"], 1, "--truth has 3 lines but LEAKED has 120 rows"),
    (["--truth", "UNKNOWN"], 1, "'a text about chess' is neither a line of --attributes"),
    (["--texts", "SHORT"], 1, "--texts has 3 lines but LEAKED has 120 rows"),
    (["--public", "MISSING"], 1, "no such file"),
    (["--method", "procrustes"], 2, "needs pairs"),
])
def test_cli_bad_inputs_are_clear_errors(files, capsys, tmp_path, extra, code, msg):
    d = files
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "short.txt").write_text("0\n1\n2\n")
    (tmp_path / "unknown.txt").write_text("0\n" * 119 + "a text about chess\n")
    subst = {"EMPTY": tmp_path / "empty.txt", "SHORT": tmp_path / "short.txt", "UNKNOWN": tmp_path / "unknown.txt",
             "TRUTH": d / "truth.txt", "MISSING": tmp_path / "nothing.txt"}
    args = _args(d, *[str(subst.get(a, a)) for a in extra])  # a second --method replaces the first
    try:
        got = main(args)
    except SystemExit as e:  # argparse refuses a bad option value itself
        got = e.code
    assert got == code
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err


def test_cli_never_writes_its_files_over_an_input_and_splits_lines_on_newlines_only(files, capsys, tmp_path):
    import hashlib

    from vecbridge.audit.engine import not_aligned_warning
    from vecbridge.cli.audit import read_lines

    d = files
    od = tmp_path / "od"
    od.mkdir()
    (od / "predictions.jsonl").write_bytes((d / "public.txt").read_bytes())
    before = hashlib.md5((od / "predictions.jsonl").read_bytes()).hexdigest()
    args = _args(d, "-o", str(od), "--overwrite")
    args[args.index("--public") + 1] = str(od / "predictions.jsonl")
    assert main(args) == 1
    assert "also an input" in capsys.readouterr().err
    assert hashlib.md5((od / "predictions.jsonl").read_bytes()).hexdigest() == before
    (tmp_path / "a3.txt").write_bytes(b"sport\r\nmoney\ntech\x0cnews \xe2\x80\xa8 more\n")
    assert read_lines(str(tmp_path / "a3.txt"), "--attributes") == ["sport", "money", "tech\x0cnews \u2028 more"]
    # "not aligned" with readings far above chance says the readings are real, not "near chance"
    assert "well above chance" in not_aligned_warning({"top1": 1.0, "chance": 1 / 3}, 24)
    assert "near chance" in not_aligned_warning({"top1": 0.36, "chance": 1 / 3}, 24)
    assert "near chance" in not_aligned_warning({}, 24)
