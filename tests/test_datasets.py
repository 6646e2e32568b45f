"""Data sets, cached encodings and benchmark tasks, on small samples (real data: marked realdata)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from vecbridge import datasets as D
from vecbridge.datasets import encoded as encoded_mod
from vecbridge.datasets.debian import apt_available
from vecbridge.datasets.segmentation import split_sentences, tokenize_words
from vecbridge.encoders.static import Static64Encoder
from vecbridge.errors import ParameterError


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory):
    """One temporary cache per module: builders run once here, never in the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VECBRIDGE_CACHE", str(tmp_path_factory.mktemp("vbcache")))
    yield
    mp.undo()


needs_apt = pytest.mark.skipif(not apt_available(), reason="apt-get/dpkg not available: Debian-packaged data "
                                                            "(janeaustenr, wordnet-base) cannot be fetched here")


# -- text helpers ---------------------------------------------------------------------------
def test_sentence_splitter_handles_abbreviations_initials_and_quotes():
    text = ('Mr. Smith met Dr. Jones in the U.S. capital. They talked! "Was it fun?" she asked. '
            "J. R. R. Tolkien wrote it. Prices rose 3.5% in 2004. Then they fell.")
    assert split_sentences(text) == [
        "Mr. Smith met Dr. Jones in the U.S. capital.", "They talked!", '"Was it fun?" she asked.',
        "J. R. R. Tolkien wrote it.", "Prices rose 3.5% in 2004.", "Then they fell.",
    ]
    assert tokenize_words("Don't STOP, 2 go!") == ["don't", "stop", "go"]


def test_unknown_names_and_parameters_are_explained():
    with pytest.raises(D.DataError, match="unknown data set 'nope'"):
        D.load("nope")
    with pytest.raises(D.DataError, match="unknown.*colour") as e:
        D.load("bbc", colour=1)
    assert isinstance(e.value, ParameterError)  # a usage error: exit 2
    with pytest.raises(D.DataError, match="unknown word task"):
        D.word_task("nope")
    kinds = {d.name: d.kind for d in D.list_datasets()}
    assert kinds["bbc"] == "corpus" and kinds["glove"] == "words" and kinds["analogies"] == "evaluation"
    for d in D.list_datasets():
        assert d.size and d.licence and d.source


def test_registry_is_a_lazy_table():
    # listing the data sets imports none of the builder modules; every entry names a function that exists
    import subprocess
    import sys

    code = ("import sys, vecbridge.datasets as D; D.list_datasets(); D.dataset_info('bbc'); "
            "print(sorted(m for m in ('corpora', 'words', 'debian') "
            "if 'vecbridge.datasets.' + m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for info in D.list_datasets():
        assert callable(D.registry.builder_of(info.name)), info.builder
    with pytest.raises(D.DataError, match="builder must be 'module:function'"):
        D.register(D.DatasetInfo("x", "corpus", "d", "s", "l", "src", "no_colon"))
    with pytest.raises(D.DataError, match="kind must be one of"):
        D.register(D.DatasetInfo("x", "novel", "d", "s", "l", "src", "m:f"))
    assert "x" not in D.REGISTRY


def test_missing_apt_is_reported(monkeypatch):
    from vecbridge.datasets import debian

    monkeypatch.setattr(debian.shutil, "which", lambda name: None)
    with pytest.raises(D.DataUnavailableError, match="apt-get download"):
        debian.fetch_deb("wordnet-base")


# -- corpora --------------------------------------------------------------------------------
@pytest.mark.realdata
def test_bbc_sentences_topics_and_cache_hit():
    bbc = D.load("bbc")
    assert len(bbc) > 30000
    assert set(bbc.labels) == {"business", "entertainment", "politics", "sports", "tech"}
    assert len(set(bbc.ids)) == len(bbc) and len(set(bbc.texts)) == len(bbc)
    counts = [len(t.split()) for t in bbc.texts[:2000]]
    assert min(counts) >= 5 and max(counts) <= 60
    assert bbc.meta["dropped"]["duplicate"] > 0  # reported, not silently dropped
    again = D.load("bbc")
    assert again.texts == bbc.texts and again.fingerprint == bbc.fingerprint
    assert D.load("bbc", min_words=8).fingerprint != bbc.fingerprint


@pytest.mark.realdata
def test_bible_verses_are_aligned_across_languages():
    bible = D.load("bible")
    assert bible.langs == ["en", "pt", "la"] and len(bible) > 35000
    i = bible.ids.index("GEN.1.1")
    assert "beginning" in bible.texts["en"][i] and "princípio" in bible.texts["pt"][i]
    assert "principio" in bible.texts["la"][i]
    en = bible.corpus("en")
    assert en.ids == bible.ids and en.fingerprint.endswith(":en")
    web = D.load("bible-web")
    j = web.index["GEN.1.1"]
    assert web.texts[j] == "In the beginning God created the heavens and the earth."
    assert not any("{" in t for t in web.texts[:500])
    para = D.load("bible-paraphrase")
    from vecbridge.datasets.corpora import NEW_TESTAMENT

    assert {k.split(".")[0] for k in para.ids} <= NEW_TESTAMENT
    assert para.ids[0] == "MAT.1.1" and len(para) > 7000


@pytest.mark.realdata
@needs_apt
def test_austen_from_debian_package():
    austen = D.load("austen")
    assert len(austen) > 20000
    assert len(set(austen.labels)) == 6 and "Emma" in set(austen.labels)
    assert not any("_" in t for t in austen.texts[:3000])
    assert any(t.startswith("Mr. ") or " Mr. " in t for t in austen.texts), "Mr. must not end a sentence"


@pytest.mark.realdata
@needs_apt
def test_wordnet_glosses_from_debian_package():
    wn = D.load("wordnet")
    assert len(wn) > 100000
    i = wn.index["n00001740"]
    assert wn.labels[i] == "entity" and "distinct existence" in wn.texts[i]


# -- word sets and evaluation files ------------------------------------------------------------
@pytest.mark.realdata
def test_glove_and_evaluation_files():
    glove = D.load("glove", limit=1000)
    assert glove.vectors.shape == (1000, 50) and glove.keys[0] == "the"
    an = D.load("analogies")
    assert len(an) == 19544 and len(set(an.sections)) == 14
    assert an.questions[0] == ("athens", "greece", "baghdad", "iraq")
    assert an.by_section()["capital-common-countries"][0] == an.questions[0]
    ws = D.load("wordsim353")
    assert len(ws) == 353 and ws[0] == ("love", "sex", 6.77)
    assert len(D.load("simlex999")) == 999


@pytest.mark.realdata
def test_glove_encoded_small_sample():
    emb = D.load("glove-encoded", encoder="static64", n=300)
    assert emb.vectors.shape == (300, 64)
    assert all(re.fullmatch("[a-z]+", w) for w in emb.keys) and emb.keys[0] == "the"
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.realdata
def test_word2vec_is_deterministic_by_seed():
    from vecbridge.cache import clear

    params = {"corpus": "lee", "dim": 16, "seed": 3, "epochs": 2, "min_count": 3}
    a = D.load("word2vec", **params)
    clear("word2vec")
    b = D.load("word2vec", **params)  # trained again from scratch
    assert a.keys == b.keys and np.array_equal(a.vectors, b.vectors)
    c = D.load("word2vec", **{**params, "seed": 4})
    assert not np.allclose(a.vectors, c.vectors)
    assert a.dim == 16 and len(a) > 1000


# -- cached encodings ----------------------------------------------------------------------
class CountingStatic(Static64Encoder):
    """static64 that counts the texts it encodes and can fail on demand."""

    def __init__(self, fail_after: int | None = None):
        super().__init__()
        self.seen = 0
        self.fail_after = fail_after

    def _encode_batch(self, texts):
        if self.fail_after is not None and self.seen + len(texts) > self.fail_after:
            raise RuntimeError("killed (injected)")
        self.seen += len(texts)
        return super()._encode_batch(texts)


def test_encoded_blocks_are_reused_and_an_interrupted_build_resumes(monkeypatch):
    monkeypatch.setattr(encoded_mod, "BLOCK", 10)
    ids = [f"s{i}" for i in range(30)]
    texts = [f"sentence number {i} about topic {i % 4}" for i in range(30)]
    enc = CountingStatic(fail_after=20)
    with pytest.raises(RuntimeError, match="injected"):
        D.encode_texts(enc, "toy:1", ids, texts, progress=False)
    assert enc.seen == 20
    enc2 = CountingStatic()
    full = D.encode_texts(enc2, "toy:1", ids, texts, progress=False)
    assert enc2.seen == 10, "only the block that was not finished is encoded again"
    enc3 = CountingStatic()
    again = D.encode_texts(enc3, "toy:1", ids, texts, progress=False)
    assert enc3.seen == 0 and np.array_equal(full, again) and again.dtype == np.float32
    enc4 = CountingStatic()
    D.encode_texts(enc4, "toy:1", ids[:20], texts[:20], progress=False)  # a prefix: all cached
    assert enc4.seen == 0
    D.encode_texts(enc4, "toy:2", ids[:20], texts[:20], progress=False)  # another corpus: encoded
    assert enc4.seen == 20


# -- tasks ------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_sentence_task_halves_are_disjoint_and_cached():
    t = D.sentence_task("static64", "minilm-l3-onnx", n_unpaired=40, n_test=20, seed=0, progress=False)
    assert t.src_train.shape == (40, 64) and t.tgt_train.shape == (40, 384)
    assert t.src_test.shape == (20, 64) and t.tgt_test.shape == (20, 384)
    assert t.src_train.dtype == np.float32
    s, g, te = set(t.src_train_ids), set(t.tgt_train_ids), set(t.test_ids)
    assert len(s) == 40 and not (s & g) and not (s & te) and not (g & te)
    assert not set(t.src_train_texts) & set(t.tgt_train_texts)
    assert t.src_test_texts == t.tgt_test_texts
    again = D.sentence_task("static64", "minilm-l3-onnx", n_unpaired=40, n_test=20, seed=0, progress=False)
    assert np.array_equal(again.tgt_train, t.tgt_train) and np.array_equal(again.src_test, t.src_test)
    bigger = D.sentence_task("static64", "static64", n_unpaired=60, n_test=20, seed=0, progress=False)
    assert bigger.src_train_ids[:40] == t.src_train_ids  # a larger task extends a smaller one
    other = D.sentence_task("static64", "static64", n_unpaired=40, n_test=20, seed=1, progress=False)
    assert other.test_ids != t.test_ids
    with pytest.raises(D.DataError, match="at most"):
        D.bbc_split(30000, 2000)


@pytest.mark.realdata
def test_ood_bible_and_cross_lingual_e5_tiny():
    t = D.sentence_task("static64", "static64", n_unpaired=10, n_test=10, ood="bible", progress=False)
    assert all(re.fullmatch(r"[1-3A-Z]{3}\.\d+\.\d+", k) for k in t.test_ids)
    np.testing.assert_allclose(t.src_test, t.tgt_test)  # same model, same English verses
    x = D.sentence_task("e5-small", "e5-small", n_unpaired=5, n_test=12, ood="bible-en-pt", progress=False)
    assert x.src_test_texts != x.tgt_test_texts
    sims = x.src_test @ x.tgt_test.T  # English verse i vs Portuguese verse j
    assert np.mean(np.argmax(sims, axis=1) == np.arange(12)) >= 0.75
    with pytest.raises(D.DataError, match="unknown ood"):
        D.sentence_task("static64", "static64", n_unpaired=5, n_test=5, ood="klingon")


@pytest.mark.realdata
@needs_apt
def test_ood_austen_tiny():
    t = D.sentence_task("static64", "minilm-l3-onnx", n_unpaired=5, n_test=8, ood="austen", progress=False)
    assert t.info["test_corpus"] == ["austen", "austen"] and t.tgt_test.shape == (8, 384)


@pytest.mark.realdata
def test_word_task_splits(monkeypatch):
    from vecbridge.datasets import tasks

    small = {"corpus": "lee", "dim": 20, "seed": 1, "epochs": 2, "min_count": 3}
    monkeypatch.setitem(tasks.WORD_TASKS, "toy", (("glove", {"limit": 20000}), ("word2vec", small)))
    src, tgt, train, test = D.word_task("toy", n_train=300, n_test=100, seed=0)
    assert src.dim == 50 and tgt.dim == 20
    assert len(train) == 300 and len(test) == 100
    tr, te = {w for w, _ in train}, {w for w, _ in test}
    assert not tr & te and all(a == b for a, b in train + test)
    assert all(w in src and w in tgt for w in tr | te)
    _, _, train2, test2 = D.word_task("toy", n_train=300, n_test=100, seed=0)
    assert test2 == test and train2 == train
    _, _, _, test3 = D.word_task("toy", n_train=300, n_test=100, seed=1)
    assert test3 != test and {w for w, _ in test3} <= tr | te  # same words, another split
    with pytest.raises(D.DataError, match="shared"):
        D.word_task("toy", n_train=100000, n_test=10)


def test_declared_word_tasks():
    assert {"glove-minilm", "minilm-glove", "glove-word2vec", "word2vec-seeds"} <= set(D.WORD_TASKS)
    (s, sp), (t, tp) = D.WORD_TASKS["word2vec-seeds"]
    assert s == t == "word2vec" and sp["seed"] != tp["seed"] and sp["dim"] != tp["dim"]


# -- CLI --------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_cli_data_list_and_build(capsys):
    from vecbridge.cli.main import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "bbc" in out and "glove" in out and "word2vec-seeds" in out
    assert main(["data", "encoders"]) == 0
    assert "minilm-l6-int8" in capsys.readouterr().out
    assert main(["data", "build", "glove", "--param", "limit=500"]) == 0
    assert "n=500 dim=50" in capsys.readouterr().err
    assert main(["data", "build", "nope"]) == 2  # an unknown name is a usage error
    capsys.readouterr()
    assert main(["data", "build"]) == 2 and "needs a NAME" in capsys.readouterr().err
    assert main(["data", "list", "extra"]) == 2 and "takes no NAME" in capsys.readouterr().err


# -- bad --param values are usage errors (exit 2) ---------------------------------------------------
@pytest.mark.parametrize("corpus", ["wordsim353", "analogies", "glove", "nosuch"])
def test_word2vec_refuses_a_corpus_it_cannot_train_on(corpus, capsys):
    from vecbridge.cli.main import main
    from vecbridge.errors import ParameterError

    with pytest.raises(ParameterError, match=r"--param corpus=.*bbc, austen, wordnet, bible-web, lee"):
        D.load("word2vec", corpus=corpus)
    assert main(["data", "build", "word2vec", "--param", f"corpus={corpus}"]) == 2
    assert "--param corpus=" in capsys.readouterr().err


def test_unknown_param_and_unknown_encoder_are_usage_errors(capsys):
    from vecbridge.cli.main import main

    assert main(["data", "build", "wordsim353", "--param", "bogus=1"]) == 2
    assert "--param bogus" in capsys.readouterr().err
    assert main(["data", "build", "glove-encoded", "--param", "encoder=nosuch"]) == 2
    assert "--param encoder=nosuch" in capsys.readouterr().err


def test_min_words_above_max_words_is_refused(capsys):
    from vecbridge.cli.main import main
    from vecbridge.errors import ParameterError

    with pytest.raises(ParameterError, match="min_words must be at most max_words"):
        D.load("bbc", min_words=100, max_words=5)
    assert main(["data", "build", "bbc", "--param", "min_words=100", "--param", "max_words=5"]) == 2
    assert "--param min_words=100" in capsys.readouterr().err


def test_an_empty_corpus_is_refused_and_never_cached():
    from vecbridge.cache import list_entries
    from vecbridge.datasets import corpora

    def build():
        return D.Corpus("empty", [], [], None, {"dropped": {"too_short": 7}})

    with pytest.raises(D.DataError, match="holds no texts; dropped: too_short 7"):
        corpora._cached("emptytest", {"min_words": 3}, {}, build, D.Corpus)
    assert list_entries("emptytest") == []
