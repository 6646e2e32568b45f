"""Updating a word model: gensim 4 warm start (with its pitfalls) and Procrustes alignment on stable anchors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("gensim")
from gensim.models import KeyedVectors, Word2Vec  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402

from vecbridge import Embeddings, VecbridgeError  # noqa: E402
from vecbridge.apps.update import (  # noqa: E402
    compare_updates,
    intersect_vectors,
    neighbour_overlap,
    read_corpus,
    size_lockf,
    stable_anchors,
    tokenize,
    train_word2vec,
    update_align,
    update_warmstart,
    update_word_model,
)
from vecbridge.cli.main import main  # noqa: E402
from vecbridge.io import read_embeddings, write_embeddings  # noqa: E402


@pytest.fixture(scope="module")
def lee():
    """Gensim's Lee corpus (300 news documents): old text = first 150, new text = the rest."""
    sents = read_corpus(datapath("lee_background.cor"))
    return sents[:150], sents[150:]


@pytest.fixture(scope="module")
def old_model(lee):
    return train_word2vec(lee[0], vector_size=32, min_count=3, epochs=10, seed=3)


@pytest.fixture(scope="module")
def old_emb(old_model):
    return Embeddings(list(old_model.wv.index_to_key), old_model.wv.vectors, {"name": "lee-old"})


def test_tokenize_and_read_corpus(tmp_path):
    assert tokenize("Don't stop: 3 U.S. cafés!") == ["don't", "stop", "3", "u", "s", "cafés"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("One two three.\n\nfour five\n", encoding="utf-8")
    (tmp_path / "d" / "b.txt").write_bytes("caf\xe9 six\n".encode("latin-1"))
    assert read_corpus(tmp_path / "d") == [["one", "two", "three"], ["four", "five"], ["café", "six"]]
    assert read_corpus(tmp_path / "d", min_tokens=3) == [["one", "two", "three"]]
    with pytest.raises(VecbridgeError, match="no such"):
        read_corpus(tmp_path / "missing.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VecbridgeError, match="no \\*.txt"):
        read_corpus(tmp_path / "empty")


def test_gensim_lockf_pitfall_and_our_intersection(tmp_path, lee, old_emb):
    """intersect_word2vec_format fails on gensim's length-1 vectors_lockf; sized, it equals intersect_vectors."""
    new_sents = lee[1]
    path = tmp_path / "old.vec"
    write_embeddings(old_emb, path)

    def fresh():
        m = Word2Vec(vector_size=32, min_count=3, seed=0, workers=1)
        m.build_vocab(new_sents)
        return m

    m1 = fresh()
    assert len(m1.wv.vectors_lockf) == 1  # the pitfall: not one entry per word
    try:
        m1.wv.intersect_word2vec_format(str(path), lockf=0.0)
    except IndexError:
        pass
    else:  # pragma: no cover - a future gensim may size it itself
        pytest.skip("this gensim sizes vectors_lockf itself")
    m2, m3 = fresh(), fresh()
    size_lockf(m2.wv)
    m2.wv.intersect_word2vec_format(str(path), lockf=0.0)
    n = intersect_vectors(m3.wv, old_emb, lockf=0.0)
    assert n == sum(1 for k in m3.wv.index_to_key if k in old_emb.index) > 100
    np.testing.assert_allclose(m3.wv.vectors, m2.wv.vectors, atol=1e-6)
    np.testing.assert_array_equal(m3.wv.vectors_lockf, m2.wv.vectors_lockf)
    assert set(np.unique(m3.wv.vectors_lockf)) == {0.0, 1.0}


def test_warmstart_from_vectors_lockf_0_and_1(lee, old_emb):
    r0 = update_warmstart(old_emb, lee[1], lockf=0.0, epochs=3, seed=1)
    assert r0.info["path"].startswith("new model")
    assert r0.info["n_old_updated"] == 0 and r0.info["drift"] is None and r0.info["n_old_unchanged"] == len(old_emb)
    # old words keep their vectors exactly; old words absent from the new text too
    np.testing.assert_array_equal(r0.embeddings.vectors[: len(old_emb)], old_emb.vectors)
    assert r0.embeddings.keys[: len(old_emb)] == old_emb.keys
    new = r0.new_words
    assert len(new) > 50 and not any(w in old_emb.index for w in new)
    assert r0.origin.count("new") == len(new)
    r1 = update_warmstart(old_emb, lee[1], lockf=1.0, epochs=3, seed=1)
    assert r1.info["drift"] < 0.999  # free old words move
    assert r1.info["drift"] > 0.3  # ... but start from, and stay near, their old vectors
    with pytest.raises(VecbridgeError, match="lockf"):
        update_warmstart(old_emb, lee[1], lockf=2.0)


def test_warmstart_full_model_vocab_update_sizes_lockf(lee, old_model):
    before = old_model.wv.vectors.copy()
    n_old = len(old_model.wv)
    r = update_warmstart(old_model, lee[1], lockf=0.0, epochs=3, seed=1)
    m = r.model
    assert r.info["path"] == "build_vocab(update=True)"
    assert len(m.wv) > n_old
    # the pitfall: build_vocab(update=True) does not grow vectors_lockf; we size it so new words get 1
    assert len(m.wv.vectors_lockf) == len(m.wv)
    assert (m.wv.vectors_lockf[:n_old] == 0).all() and (m.wv.vectors_lockf[n_old:] == 1).all()
    np.testing.assert_array_equal(m.wv.vectors[:n_old], before)  # locked
    np.testing.assert_array_equal(old_model.wv.vectors, before)  # the caller's model is untouched
    assert len(old_model.wv) == n_old
    assert m.syn1neg.shape[0] == len(m.wv)
    assert len(r.new_words) == len(m.wv) - n_old
    # new words trained: gensim starts them with lengths about 0.1; a wrapped lock array would keep them there
    assert np.median(np.linalg.norm(m.wv.vectors[n_old:], axis=1)) > 0.2


def test_warmstart_refuses_models_without_syn1neg(lee):
    hs = Word2Vec(lee[0][:50], vector_size=8, min_count=2, hs=1, negative=0, epochs=1, seed=0, workers=1)
    with pytest.raises(VecbridgeError, match="syn1neg"):
        update_warmstart(hs, lee[1])


def test_neighbour_overlap_and_anchors():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(60, 10)).astype(np.float32)
    assert np.allclose(neighbour_overlap(A, A, k=5), 1.0)
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert np.allclose(neighbour_overlap(A, A @ Q, k=5), 1.0)  # rotation keeps neighbourhoods
    B = A.copy()
    B[:10] = rng.normal(size=(10, 10))  # ten words change meaning
    ov = neighbour_overlap(A, B, k=5)
    assert ov[:10].mean() < ov[10:].mean()
    keys = [f"w{i}" for i in range(60)]
    anchors, info = stable_anchors(Embeddings(keys, A), Embeddings(keys, B), stable_fraction=0.5, k=5)
    assert info["n_anchors"] == 30 and sum(int(w[1:]) < 10 for w in anchors) <= 2


def test_align_keeps_old_vectors_and_rotates_new_ones(lee, old_emb):
    r = update_align(old_emb, lee[1], epochs=5, seed=2, n_candidates=500)
    np.testing.assert_array_equal(r.embeddings.vectors[: len(old_emb)], old_emb.vectors)
    assert r.info["n_old_updated"] == 0 and r.info["drift"] is None
    assert r.info["anchors"]["n_anchors"] == 250
    # anchors fit better than the other shared words: the new corpus moves some words
    assert r.info["anchor_cosine"] > r.info["aligned_drift"] > 0.0
    rr = update_align(old_emb, lee[1], epochs=5, seed=2, n_candidates=500, old_words="replace")
    assert rr.info["n_old_updated"] > 100
    assert rr.info["drift"] == pytest.approx(r.info["aligned_drift"], abs=0.05)
    np.testing.assert_array_equal(rr.embeddings.subset(r.new_words).vectors, r.embeddings.subset(r.new_words).vectors)
    # reproducible with one worker and a seed
    r2 = update_align(old_emb, lee[1], epochs=5, seed=2, n_candidates=500)
    assert r2.embeddings.equals(r.embeddings)
    with pytest.raises(VecbridgeError, match="strategy"):
        update_word_model(old_emb, lee[1], "finetune")


def test_compare_updates(lee, old_emb):
    res = {"warmstart": update_warmstart(old_emb, lee[1], epochs=2, seed=1),
           "align": update_align(old_emb, lee[1], epochs=2, seed=1, n_candidates=300)}
    data = {"analogies": [("a", "b", "c", "d")], "wordsim353": [("year", "years", 8.0), ("police", "man", 3.0),
                                                                ("government", "minister", 6.0), ("x", "y", 1.0)]}
    rep = compare_updates(old_emb, res, structure_data=data, n_probe=4, k=3)
    assert [r["model"] for r in rep["rows"]] == ["old", "warmstart", "align"]
    assert len(rep["probe_words"]) == 4 and all(w not in old_emb.index for w in rep["probe_words"])
    for name in ("warmstart", "align"):
        assert set(rep["neighbours"][name]) == set(rep["probe_words"])
        assert all(len(v) == 3 for v in rep["neighbours"][name].values())
    assert rep["neighbours"]["old"] == {}
    assert rep["rows"][0]["ws353_n"] == "3/4"


@pytest.mark.realdata
def test_cli_update_both_strategies(tmp_path, lee, old_emb, capsys):
    old = tmp_path / "old.vec"
    write_embeddings(old_emb, old)
    corpus = tmp_path / "new.txt"
    corpus.write_text("\n".join(" ".join(s) for s in lee[1]), encoding="utf-8")
    out = tmp_path / "new.kv"
    rc = main(["update", str(old), str(corpus), "--strategy", "align", "-o", str(out), "--epochs", "2",
               "--anchors", "300", "--report", str(tmp_path / "r.json"), "--quiet"])
    assert rc == 0
    kv = KeyedVectors.load(str(out))
    assert kv.index_to_key[: len(old_emb)] == old_emb.keys and len(kv) > len(old_emb)
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["info"]["strategy"] == "align" and rep["rows"][0]["model"] == "old"
    rc = main(["update", str(old), str(corpus), "--strategy", "align", "-o", str(out)])
    assert rc == 1 and "already exists" in capsys.readouterr().err
    # warm start from a full gensim model, saving the continued model too
    mpath = tmp_path / "old.model"
    train_word2vec(lee[0], vector_size=16, min_count=3, epochs=2, seed=0).save(str(mpath))
    out2 = tmp_path / "warm.vec"
    rc = main(["update", str(mpath), str(corpus), "--strategy", "warmstart", "--lockf", "0.5", "-o", str(out2),
               "--epochs", "1", "--save-model", str(tmp_path / "warm.model"), "--quiet"])
    assert rc == 0
    assert len(read_embeddings(out2)) == len(Word2Vec.load(str(tmp_path / "warm.model")).wv)


@pytest.mark.parametrize("bad, words", [
    ({"epochs": 0}, "--epochs / epochs="), ({"window": -1}, "--window / window="),
    ({"min_count": 1.5}, "--min-count / min_count="), ({"seed": -2}, "--seed / seed="),
    ({"lockf": 2.0}, "--lockf / lockf="), ({"n_candidates": 0}, "--anchors / n_candidates="),
    ({"window": 10**19}, "--window / window="), ({"workers": 100000}, "--workers / workers="),
    ({"workers": 257}, "--workers / workers="),
])
def test_training_settings_are_checked_before_training(bad, words):
    from vecbridge.apps.update import update_word_model
    from vecbridge.errors import ParameterError

    strategy = "align" if "n_candidates" in bad else "warmstart"
    with pytest.raises(ParameterError, match=re.escape(words)):
        update_word_model(Embeddings(["a"], np.ones((1, 3), np.float32)), [["a", "b"]], strategy, **bad)


@pytest.mark.parametrize("flag, value, words", [
    ("--window", "10000000000000000000", "--window must be an integer from 1 to 10000, got 10000000000000000000"),
    ("--window", "0", "--window must be an integer from 1 to 10000, got 0"),
    ("--workers", "100000", "--workers must be an integer from 1 to 256, got 100000"),
])
def test_cli_window_and_workers_are_bounded_at_the_flag(tmp_path, capsys, flag, value, words):
    """A huge --window hung gensim's worker threads (an OverflowError there); a huge --workers could not start them."""
    with pytest.raises(SystemExit) as e:
        main(["update", str(tmp_path / "old.vec"), str(tmp_path / "new.txt"), "--strategy", "align",
              "-o", str(tmp_path / "new.vec"), flag, value])
    assert e.value.code == 2 and words in capsys.readouterr().err


def test_window_and_workers_are_bounded_in_the_training_functions_too(old_emb):
    from vecbridge.errors import ParameterError

    with pytest.raises(ParameterError, match=re.escape("window must be an integer from 1 to 10000, got "
                                                       "10000000000000000000 (--window / window=)")):
        train_word2vec([["a", "b"]], window=10**19)
    with pytest.raises(ParameterError, match=re.escape("workers must be an integer from 1 to 256")):
        update_warmstart(old_emb, [["a", "b"]], workers=100000)
    with pytest.raises(ParameterError, match=re.escape("(--window / window=)")):
        update_align(old_emb, [["a", "b"]], window=10**19)


def test_update_word_model_refuses_a_setting_of_the_other_strategy(old_emb):
    from vecbridge.errors import ParameterError

    with pytest.raises(ParameterError, match="strategy 'align' takes no setting 'lockf'; it is a setting of strategy "
                                             "'warmstart'"):
        update_word_model(old_emb, [["a", "b"]], "align", lockf=0.5)
    with pytest.raises(ParameterError, match="'warmstart' takes no setting 'old_words'"):
        update_word_model(old_emb, [["a", "b"]], "warmstart", old_words="replace")
    with pytest.raises(ParameterError, match="takes no setting 'nope'; its settings: epochs"):
        update_word_model(old_emb, [["a", "b"]], "warmstart", nope=1)


def test_cli_update_lenient_and_notes_for_options_of_the_other_strategy(tmp_path, lee, old_emb, old_model, capsys):
    old = tmp_path / "old.vec"
    write_embeddings(old_emb, old)
    lines = old.read_text(encoding="utf-8").splitlines()
    key, _, *rest = lines[5].split(" ")
    lines[5] = " ".join([key, "nan", *rest])  # a NaN in the row of the fifth word
    old.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = tmp_path / "new.txt"
    corpus.write_text("\n".join(" ".join(s) for s in lee[1]), encoding="utf-8")
    common = [str(old), str(corpus), "--epochs", "1"]
    # the reader's message points to --lenient, and update takes it
    assert main(["update", *common, "--strategy", "align", "-o", str(tmp_path / "a.vec")]) == 1
    assert "--lenient" in capsys.readouterr().err
    assert main(["update", *common, "--strategy", "align", "-o", str(tmp_path / "a.vec"), "--lenient",
                 "--anchors", "300", "--lockf", "0.7"]) == 0
    err = capsys.readouterr().err
    assert '"skipped": {"non_finite": 1}' in err
    assert "note: --lockf 0.7 applies to --strategy warmstart; with --strategy align it has no effect" in err
    emb = read_embeddings(tmp_path / "a.vec")
    assert emb.keys[: len(old_emb) - 1] == [k for k in old_emb.keys if k != key]  # the NaN row was skipped
    # warmstart: the align options are named in one note, with the values given
    assert main(["update", *common, "--strategy", "warmstart", "-o", str(tmp_path / "w.vec"), "--lenient",
                 "--old-words", "replace", "--anchors", "5"]) == 0
    err = capsys.readouterr().err
    assert ("note: --old-words replace and --anchors 5 apply to --strategy align; with --strategy warmstart they "
            "have no effect") in err
    # a gensim model is loaded whole: --lenient has no effect there, and a note says so
    old_model.save(str(tmp_path / "old.model"))
    assert main(["update", str(tmp_path / "old.model"), str(corpus), "--epochs", "1", "--strategy", "align",
                 "--anchors", "300", "-o", str(tmp_path / "k.vec"), "--lenient"]) == 0
    assert f"note: --lenient skips bad rows of vector files; {tmp_path / 'old.model'} is a gensim model" in \
        capsys.readouterr().err
    # a gensim .kv file is read row by row, as the other vector files: --lenient skips its NaN row and says so
    from vecbridge.io import to_gensim

    kv = to_gensim(old_emb)
    kv.vectors[3] = np.nan
    kv.save(str(tmp_path / "old.kv"))
    assert main(["update", str(tmp_path / "old.kv"), str(corpus), "--epochs", "1", "--strategy", "align",
                 "--anchors", "300", "-o", str(tmp_path / "k2.vec"), "--lenient"]) == 0
    assert '"skipped": {"non_finite": 1}' in capsys.readouterr().err
    # no note when the options fit the strategy, or with --quiet
    assert main(["update", *common, "--strategy", "warmstart", "-o", str(tmp_path / "w2.vec"), "--lenient",
                 "--lockf", "0.5", "--quiet"]) == 0
    assert "note" not in capsys.readouterr().err


def test_cli_warmstart_from_a_trained_model_says_which_settings_it_keeps(tmp_path, lee, old_model, capsys):
    """A trained gensim model goes on training with its own window / sg / workers: flags that differ get a note."""
    model = tmp_path / "old.model"
    old_model.save(str(model))
    corpus = tmp_path / "new.txt"
    corpus.write_text("\n".join(" ".join(s) for s in lee[1]), encoding="utf-8")
    own = (old_model.window, old_model.sg, old_model.workers)
    args = ["update", str(model), str(corpus), "--epochs", "1", "--strategy", "warmstart"]
    assert main([*args, "-o", str(tmp_path / "w.vec"), "--window", str(own[0] + 2)]) == 0
    err = capsys.readouterr().err
    assert "goes on training with its own settings" in err and f"--window {own[0] + 2} had no effect" in err
    same = ["--window", str(own[0]), "--workers", str(own[2])] + (["--sg"] if own[1] else [])
    assert main([*args, "-o", str(tmp_path / "w2.vec"), *same]) == 0
    assert "its own settings" not in capsys.readouterr().err
