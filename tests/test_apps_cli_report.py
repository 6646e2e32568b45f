"""What dimension, merge, data and neighbors tell a user: the verdict and method their exit code depends on,
warnings when no verdict (or no new word) is possible, data build -o, and usage errors in command-line terms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings
from vecbridge.cli.main import main
from vecbridge.io import read_embeddings, write_embeddings


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test builds into a cache of its own, never the user's."""
    monkeypatch.setenv("VECBRIDGE_CACHE", str(tmp_path / "cache"))


def low_rank_pair(n=300, d_tgt=12, d_src=40, noise=0.01, seed=0):
    """Target n x d_tgt; source: the same words lifted into d_src dimensions by a random linear map, plus noise."""
    rng = np.random.default_rng(seed)
    T = rng.normal(size=(n, d_tgt)).astype(np.float32)
    S = T @ rng.normal(size=(d_tgt, d_src)).astype(np.float32) + noise * rng.normal(size=(n, d_src)).astype(np.float32)
    keys = [f"w{i}" for i in range(n)]
    return Embeddings(keys, S, {"name": "big"}), Embeddings(keys, T, {"name": "small"})


def rotated_pair(n=150, n_b=120, d=16, seed=0):
    """A = X (n words); B = X Q + noise on A's first n_b words."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Y = (X @ Q + 0.02 * rng.normal(size=(n, d))).astype(np.float32)
    keys = [f"w{i}" for i in range(n)]
    return Embeddings(keys, X, {"name": "A"}), Embeddings(keys[:n_b], Y[:n_b], {"name": "B"})


def write_two(tmp_path, a, b, names=("a.vec", "b.vec")):
    write_embeddings(a, tmp_path / names[0])
    write_embeddings(b, tmp_path / names[1])
    return str(tmp_path / names[0]), str(tmp_path / names[1])


# -- dimension ---------------------------------------------------------------------------------------------------
def test_dimension_shows_method_verdict_and_what_it_was_measured_on(tmp_path, capsys):
    src, tgt = write_two(tmp_path, *low_rank_pair(), names=("src.vec", "tgt.vec"))
    base = ["dimension", src, tgt, "--no-structure", "--quiet"]
    assert main([*base, "-o", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "method lstsq; verdict aligned (confidence " in out
    assert "held-out shared words, the check map fitted on the other" in out
    assert "hit@k: 60 held-out shared words (of 300; the map fitted on the other 240)" in out
    assert main([*base, "-o", str(tmp_path / "j"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "lstsq" and report["chosen_by_auto"] is False
    v = report["verdict"]
    assert v["verdict"] == "aligned" and 0 < v["confidence"] <= 1 and v["reason"]
    assert v["measured_on"] == "held-out shared words" and v["n_held_out"] >= 10 and v["n_fit"] > 0


def test_dimension_warns_when_too_few_shared_words_for_a_verdict(tmp_path, capsys):
    # 20 shared words: enough to fit a 12-d -> 8-d least squares (12 pairs) on 16, but a verdict holds 10 out
    src, tgt = write_two(tmp_path, *low_rank_pair(n=20, d_tgt=8, d_src=12), names=("src.vec", "tgt.vec"))
    argv = ["dimension", src, tgt, "-o", str(tmp_path / "m"), "--no-structure", "--quiet", "--json"]
    assert main(argv) == 0 and (tmp_path / "m").exists()
    captured = capsys.readouterr()
    assert "vecbridge dimension: warning: no verdict on the map: SRC and TGT share 20 words" in captured.err
    assert "which needs 12 (12-d -> 8-d)" in captured.err
    v = json.loads(captured.out)["verdict"]
    assert v["verdict"] is None and "share 20 words" in v["reason"]


# -- merge -------------------------------------------------------------------------------------------------------
def test_merge_shows_method_and_verdict_in_text_and_json(tmp_path, capsys):
    a, b = write_two(tmp_path, *rotated_pair())
    assert main(["merge", a, b, "-o", str(tmp_path / "m.vec")]) == 0
    err = capsys.readouterr().err
    assert "method procrustes; verdict aligned (confidence " in err
    assert "on 12 held-out shared words, the check map fitted on the other 108" in err
    assert main(["merge", a, b, "-o", str(tmp_path / "j.vec"), "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert captured.err == ""
    assert report["method"] == "procrustes" and report["chosen_by_auto"] is False
    assert report["verdict"]["verdict"] == "aligned" and report["verdict"]["n_held_out"] == 12
    assert report["info"]["n_translated"] == 30 and report["written"]["model"] == str(tmp_path / "j.vec")


def test_merge_warns_when_a_adds_no_word_to_b(tmp_path, capsys):
    a_all, b = rotated_pair(n=150, n_b=150)
    a = a_all.head(100)  # every word of A is in B
    a_path, b_path = write_two(tmp_path, a, b)
    assert main(["merge", a_path, b_path, "-o", str(tmp_path / "m.vec")]) == 0
    err = capsys.readouterr().err
    assert f"vecbridge merge: warning: A ({a_path}) adds no word to B ({b_path})" in err
    assert "the merge is B's 150 words unchanged (0 translated words)" in err
    assert len(read_embeddings(tmp_path / "m.vec")) == 150


def test_merge_evaluation_groups_split_the_items_so_counts_add_up():
    from vecbridge.apps.merge import evaluate_merged, merge_embeddings

    a, b = rotated_pair(n=40, n_b=30)
    r = merge_embeddings(a, b, holdout=0.0, force=True)
    data = {"analogies": [("w0", "w1", "w2", "w3"),      # native, covered
                          ("w0", "w1", "w2", "nosuch"),  # no translated word, one missing: native, uncovered
                          ("w0", "w1", "w2", "w35")],    # translated
            "wordsim353": [("w0", "w1", 5.0), ("w2", "nosuch", 3.0), ("w3", "w36", 4.0), ("w4", "w5", 1.0)],
            "simlex999": []}
    ev = evaluate_merged(r, data)
    for task, n in (("analogies", "n_questions"), ("wordsim353", "n_pairs")):
        assert ev["native"][task][n] + ev["translated"][task][n] == ev["all"][task][n]
    assert ev["native"]["analogies"]["n_questions"] == 2 and ev["native"]["analogies"]["n_covered"] == 1
    assert ev["native"]["wordsim353"]["n_pairs"] == 3 and ev["native"]["wordsim353"]["n_covered"] == 2


# -- data build --------------------------------------------------------------------------------------------------
TINY_BUILDER = '''
import numpy as np
from vecbridge.cache import CacheEntry
from vecbridge.embeddings import Embeddings


def build_tiny(n=5):
    entry = CacheEntry.make("tiny-words", {"n": int(n)}, versions={})
    with entry.building() as needed:
        if needed:
            keys = [f"t{i}" for i in range(int(n))]
            entry.store({"keys": np.asarray(keys), "vectors": np.eye(int(n), 3, dtype=np.float32)})
    d = entry.load()
    return Embeddings(d["keys"].tolist(), d["vectors"], {"name": "tiny"})
'''


@pytest.fixture
def tiny_words(tmp_path, monkeypatch):
    """A data set of word vectors that builds in milliseconds, cached as the real ones are."""
    from vecbridge.datasets import REGISTRY, DatasetInfo

    pkg = tmp_path / "pkgs" / "vbtiny_report"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "build.py").write_text(TINY_BUILDER)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setitem(REGISTRY, "tiny-words", DatasetInfo(
        "tiny-words", "words", "a few unit vectors", "5 x 3", "none", "the test", "vbtiny_report.build:build_tiny",
        {"n": 5}))
    return "tiny-words"


def test_data_build_output_writes_a_file_and_never_overwrites_without_the_flag(tmp_path, capsys, tiny_words):
    out = tmp_path / "out" / "tiny.vec"
    assert main(["data", "build", tiny_words, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    emb = read_embeddings(out)
    assert emb.keys == [f"t{i}" for i in range(5)] and emb.dim == 3
    cached = str(tmp_path / "cache" / "tiny-words")
    assert f"cached file: {cached}" in err and f"wrote {out} (5 words x 3-d)" in err
    stamp = out.stat().st_mtime_ns
    assert main(["data", "build", tiny_words, "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp
    assert main(["data", "build", tiny_words, "--param", "n=4", "-o", str(out), "--overwrite"]) == 0
    assert len(read_embeddings(out)) == 4
    assert main(["data", "build", tiny_words, "-o", str(tmp_path / "t.npy")]) == 0  # any format by extension
    assert read_embeddings(tmp_path / "t.npy").keys[0] == "t0"


def test_data_build_output_is_refused_before_any_work(tmp_path, capsys, tiny_words):
    assert main(["data", "build", "analogies", "-o", str(tmp_path / "a.vec")]) == 2
    assert "-o " in capsys.readouterr().err
    assert main(["data", "build", tiny_words, "-o", str(tmp_path / "t.xyz")]) == 2
    assert "cannot tell the format from the file name" in capsys.readouterr().err
    assert main(["data", "list", "-o", str(tmp_path / "l.vec")]) == 2
    assert not list(tmp_path.glob("*.vec")) and not list(tmp_path.glob("*.xyz"))


def test_data_build_unknown_param_shows_it_as_typed(capsys):
    from vecbridge import datasets as D
    from vecbridge.errors import ParameterError

    assert main(["data", "build", "word2vec", "--param", "dimm=100"]) == 2
    err = capsys.readouterr().err
    assert "--param dimm=100:" in err and "--param dimm=:" not in err
    assert "corpus, dim, epochs" in err and "did you mean --param dim=100?" in err
    with pytest.raises(ParameterError, match="--param dimm=100: "):
        D.load("word2vec", dimm=100)


def test_data_build_unknown_name_is_a_usage_error_listing_the_names(capsys):
    assert main(["data", "build", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown data set 'nosuch'" in err and "word2vec" in err and "glove" in err and "sentences" in err


def test_data_list_gives_word2vec_size_as_built():
    from vecbridge.datasets import REGISTRY

    assert REGISTRY["word2vec"].size.startswith("10,071 x dim on bbc")


# -- neighbors ---------------------------------------------------------------------------------------------------
def test_neighbors_across_spaces_says_what_to_give_on_the_command_line(tmp_path, capsys):
    big, small = low_rank_pair(n=30)
    emb, target = write_two(tmp_path, small, big, names=("small.vec", "big.vec"))
    assert main(["neighbors", emb, "w1", "--target", target]) == 1
    err = capsys.readouterr().err
    assert "holds 12-d vectors and --target" in err and "40-d" in err
    assert "--map MAP_DIR, a map from EMB's space into TGT's" in err and "transform_target" not in err
