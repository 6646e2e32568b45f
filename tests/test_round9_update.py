"""``vecbridge update``: honest drift counts, anchors and outputs checked before training, no partial outputs,
line-wise corpus decoding, notes only for options the user gave."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("gensim")
from gensim.models import Word2Vec  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402

from vecbridge import Embeddings  # noqa: E402
from vecbridge.apps import update as upd  # noqa: E402
from vecbridge.apps.update import (  # noqa: E402
    read_corpus,
    train_word2vec,
    update_align,
    update_warmstart,
)
from vecbridge.cli.main import main  # noqa: E402
from vecbridge.errors import ParameterError, VecbridgeError  # noqa: E402
from vecbridge.io import read_embeddings, write_embeddings  # noqa: E402


# the Lee corpus and the old model, as test_update.py builds them
from test_update import lee, old_emb, old_model  # noqa: E402,F401


@pytest.fixture()
def files(tmp_path, lee, old_emb, old_model):
    old_vec = tmp_path / "old.npy"
    write_embeddings(old_emb, old_vec)
    model = tmp_path / "old.model"
    old_model.save(str(model))
    corpus = tmp_path / "new.txt"
    corpus.write_text("\n".join(" ".join(s) for s in lee[1]), encoding="utf-8")
    return {"vec": old_vec, "model": model, "corpus": corpus, "dir": tmp_path}


def brute_force_drift(old: Embeddings, new: Embeddings) -> tuple[int, int, float | None]:
    """Old words whose vector changed, those whose vector did not, and the changed ones' mean cosine."""
    changed, same, cos = 0, 0, []
    for k in old.keys:
        a, b = old[k].astype(np.float64), new[k].astype(np.float64)
        if np.array_equal(old[k], new[k]):
            same += 1
        else:
            changed += 1
            cos.append(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    return changed, same, (float(np.mean(cos)) if cos else None)


# -- 1. counts and drift over the old words whose vectors changed -------------------------------------------------
@pytest.mark.parametrize("lockf", [0.0, 0.5])
def test_drift_counts_only_old_words_whose_vectors_changed(lee, old_emb, old_model, lockf):
    for old in (old_emb, old_model):  # bare vectors (intersect path) and a trained model (vocabulary update)
        r = update_warmstart(old, lee[1], lockf=lockf, epochs=1, seed=1)
        n_changed, n_same, drift = brute_force_drift(old_emb, r.embeddings)
        assert r.info["n_old_updated"] == n_changed and r.info["n_old_unchanged"] == n_same
        assert n_changed + n_same == len(old_emb)
        assert r.origin.count("old-updated") == n_changed and r.origin.count("old-kept") == n_same
        if drift is None:
            assert r.info["drift"] is None
        else:
            assert r.info["drift"] == pytest.approx(drift, abs=1e-6)
    if lockf == 0.0:
        assert r.info["n_old_updated"] == 0  # frozen: nothing counted as updated


def test_cli_reports_the_brute_force_counts(files, old_emb, capsys):
    out = files["dir"] / "m.npy"
    assert main(["update", str(files["model"]), str(files["corpus"]), "--strategy", "warmstart", "--lockf", "0.5",
                 "--epochs", "1", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    n_changed, n_same, drift = brute_force_drift(old_emb, read_embeddings(out))
    assert 0 < n_changed and 0 < n_same  # the case of the finding: words the new text never touched
    assert f"{n_changed} old words changed, drift {drift:.5f}" in err and f"{n_same} old words unchanged" in err
    out0 = files["dir"] / "m0.npy"
    assert main(["update", str(files["vec"]), str(files["corpus"]), "--strategy", "warmstart", "--lockf", "0",
                 "--epochs", "1", "-o", str(out0)]) == 0
    err = capsys.readouterr().err
    assert brute_force_drift(old_emb, read_embeddings(out0))[0] == 0
    assert "no old vector changed" in err and f"{len(old_emb)} old words unchanged" in err


# -- 2. anchors: checked before training ---------------------------------------------------------------------------
@pytest.mark.parametrize("extra, flag", [(["--anchors", "2"], "--anchors 2"),
                                         (["--stable-fraction", "0.001"], "--stable-fraction 0.001")])
def test_too_few_anchors_is_refused_before_training(files, monkeypatch, capsys, extra, flag):
    def no_training(*a, **k):
        raise AssertionError("trained before checking the anchors")

    monkeypatch.setattr(upd, "train_word2vec", no_training)
    monkeypatch.setattr(upd, "read_corpus", no_training)
    rc = main(["update", str(files["vec"]), str(files["corpus"]), "--strategy", "align", "-o",
               str(files["dir"] / "a.vec"), *extra])
    err = capsys.readouterr().err
    dim = read_embeddings(files["vec"]).dim
    assert rc == 2 and flag in err and f"needs at least {dim}" in err and "--force" not in err and "selflearn" not in err
    assert not (files["dir"] / "a.vec").exists()


def test_anchor_check_in_the_library(old_emb, lee):
    from vecbridge.apps.update import check_anchor_settings

    assert check_anchor_settings(100, 2000, 0.5) == 1000
    with pytest.raises(ParameterError, match=re.escape("raise --anchors / n_candidates= to 200 or more")):
        check_anchor_settings(100, 150, 0.5)
    with pytest.raises(ParameterError, match="--anchors 2 with --stable-fraction 0.5 keeps at most 2"):
        update_align(old_emb, lee[1], n_candidates=2)


def test_too_few_shared_words_after_training_is_said_in_updates_words(lee):
    """The anchor settings allow enough, but the new text shares too few words with the old model."""
    rng = np.random.default_rng(0)
    words = sorted({w for s in lee[1] for w in s})[:40]
    old = Embeddings(words + [f"zz{i}" for i in range(200)], rng.normal(size=(240, 32)).astype(np.float32))
    with pytest.raises(VecbridgeError) as e:
        update_align(old, lee[1], epochs=1, min_count=1)
    msg = str(e.value)
    assert "shares" in msg and "needs at least 32" in msg and "--strategy warmstart" in msg
    assert "--force" not in msg and "selflearn" not in msg


# -- 3. outputs checked before any work ----------------------------------------------------------------------------
def test_outputs_are_checked_before_any_work(files, monkeypatch, capsys):
    def no_work(*a, **k):
        raise AssertionError("read or trained before checking the outputs")

    monkeypatch.setattr(upd, "read_corpus", no_work)
    monkeypatch.setattr(upd, "update_word_model", no_work)
    d = files["dir"]
    base = ["update", str(files["vec"]), str(files["corpus"]), "--strategy", "warmstart"]
    assert main([*base, "-o", str(d / "x.vec"), "--format", "bogus"]) == 2
    assert "--format bogus" in capsys.readouterr().err
    assert main([*base, "-o", str(d / "out.foo")]) == 2
    assert "-o " + str(d / "out.foo") in capsys.readouterr().err
    (d / "out.keys.txt").write_text("mine\n")
    assert main([*base, "-o", str(d / "out.npy")]) == 1
    assert f"{d / 'out.keys.txt'} already exists" in capsys.readouterr().err
    assert (d / "out.keys.txt").read_text() == "mine\n" and not (d / "out.npy").exists()
    (d / "afile").write_text("a file\n")
    assert main([*base, "-o", str(d / "y.vec"), "--save-model", str(d / "afile" / "x.model")]) == 1
    err = capsys.readouterr().err
    assert "--save-model" in err and "afile" in err and not (d / "y.vec").exists()


# -- 4. no output left behind when a later step fails ----------------------------------------------------------------
def test_a_failed_save_leaves_no_output(files, monkeypatch, capsys):
    d = files["dir"]

    def failing_save(self, *a, **k):
        raise OSError(28, "No space left on device", str(d / "sub" / "x.model"))

    monkeypatch.setattr(Word2Vec, "save", failing_save)
    before = set(d.rglob("*"))
    assert main(["update", str(files["vec"]), str(files["corpus"]), "--strategy", "warmstart", "--epochs", "1",
                 "-o", str(d / "new.npy"), "--save-model", str(d / "sub" / "x.model")]) == 1
    assert "No space left" in capsys.readouterr().err
    assert set(d.rglob("*")) == before  # neither -o, its keys file, nor the folder made for --save-model


def test_a_failed_report_leaves_no_output(files, monkeypatch, capsys):
    d = files["dir"]

    def failing(*a, **k):
        raise VecbridgeError("the report failed")

    monkeypatch.setattr(upd, "compare_updates", failing)
    assert main(["update", str(files["vec"]), str(files["corpus"]), "--strategy", "warmstart", "--epochs", "1",
                 "-o", str(d / "new.vec"), "--report", str(d / "r.json"), "--save-model", str(d / "n.model")]) == 1
    assert "the report failed" in capsys.readouterr().err
    assert not any(p.name.startswith(("new.vec", "r.json", "n.model")) for p in d.iterdir())


def test_all_outputs_written_when_all_goes_well(files, capsys):
    d = files["dir"]
    assert main(["update", str(files["vec"]), str(files["corpus"]), "--strategy", "warmstart", "--epochs", "1",
                 "-o", str(d / "new.npy"), "--report", str(d / "r.json"), "--save-model", str(d / "m" / "n.model"),
                 "--quiet"]) == 0
    rep = json.loads((d / "r.json").read_text())
    new = read_embeddings(d / "new.npy")
    assert rep["info"]["n_new_words"] == len(new) - len(read_embeddings(files["vec"]))
    assert set(Word2Vec.load(str(d / "m" / "n.model")).wv.index_to_key) <= set(new.keys)


# -- 5. a stray byte decodes only itself as Latin-1, with a warning ------------------------------------------------
def test_corpus_with_a_stray_byte_stays_utf8_and_warns(tmp_path):
    f = tmp_path / "c.txt"
    f.write_bytes("un café noir\n".encode() + b"bad \xff byte " + "café\n".encode() + b"plain line\n"
                  + "again été\n".encode("latin-1"))
    with pytest.warns(UserWarning) as w:
        sents = read_corpus(f)
    assert sents == [["un", "café", "noir"], ["bad", "ÿ", "byte", "café"], ["plain", "line"], ["again", "été"]]
    msg = str(w[0].message)
    assert str(f) in msg and "2 lines" in msg and "line 2" in msg and "Latin-1" in msg


def test_corpus_warning_reaches_the_command_line(files, capsys):
    f = files["dir"] / "bad.txt"
    f.write_bytes(files["corpus"].read_bytes() + b"\nstray \xff here\n")
    assert main(["update", str(files["vec"]), str(f), "--strategy", "warmstart", "--epochs", "1",
                 "-o", str(files["dir"] / "w.vec")]) == 0
    err = capsys.readouterr().err
    assert f"vecbridge update: warning: {f}: 1 line (the first: line" in err and "--encoding)" in err


# -- 6. notes only for options given, --seed included --------------------------------------------------------------
def test_notes_only_for_given_options_and_for_seed(files, old_model, capsys):
    args = ["update", str(files["model"]), str(files["corpus"]), "--epochs", "1", "--strategy", "warmstart"]
    assert main([*args, "-o", str(files["dir"] / "a.npy")]) == 0
    assert "had no effect" not in capsys.readouterr().err  # nothing given: no note (no "CBOW (no --sg)")
    seed = int(old_model.seed) + 1
    assert main([*args, "-o", str(files["dir"] / "b.npy"), "--seed", str(seed),
                 "--window", str(old_model.window + 4)]) == 0
    err = capsys.readouterr().err
    assert f"--window {old_model.window + 4}, --seed {seed} had no effect" in err and "CBOW (no" not in err
    # the note tells the truth: the seed changed nothing
    assert read_embeddings(files["dir"] / "a.npy").equals(read_embeddings(files["dir"] / "b.npy"))
    # bare vectors: --seed does apply, and no note
    assert main(["update", str(files["vec"]), str(files["corpus"]), "--epochs", "1", "--strategy", "warmstart",
                 "--seed", "7", "-o", str(files["dir"] / "c.npy")]) == 0
    assert "had no effect" not in capsys.readouterr().err
