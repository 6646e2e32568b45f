"""Benchmark tasks with fixed splits and seeds.

Word tasks (:func:`word_task`)
    Both spaces are English, so a pair is a word and itself. Candidate words are those in
    *both* vocabularies that are purely alphabetic (``^[a-z]+$``); they are ranked by their
    English frequency in ``wordfreq`` (``zipf_frequency``, ties alphabetical), the top
    ``n_train + n_test`` are kept, and a ``numpy.random.default_rng(seed)`` permutation of
    them gives the test words (first ``n_test``) and the training words (the rest): disjoint.

Sentence tasks (:func:`sentence_task`)
    The BBC sentences are permuted with ``default_rng(seed)``; the first ``n_test`` form the
    paired test set (encoded by both models); of the rest, even positions feed the source
    model's unpaired training set and odd positions the target model's, each cut to
    ``n_unpaired``: the two training sets share no sentence, and a larger ``n_unpaired``
    extends a smaller one (its cached encodings are reused). With ``ood`` the paired test
    set comes from another corpus instead (``n_test`` texts drawn with the same seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import DataError
from .containers import Corpus
from .encoded import encode_texts
from .registry import load

# name -> ((source builder, params), (target builder, params))
WORD_TASKS: dict[str, tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "glove-minilm": (("glove", {"limit": 50000}), ("glove-encoded", {"encoder": "minilm-l6", "n": 20000})),
    "glove-word2vec": (("glove", {"limit": 50000}), ("word2vec", {"corpus": "bbc", "dim": 100, "seed": 1})),
    "word2vec-seeds": (("word2vec", {"corpus": "bbc", "dim": 100, "seed": 1}),
                       ("word2vec", {"corpus": "bbc", "dim": 200, "seed": 2})),
}
WORD_TASKS["minilm-glove"] = (WORD_TASKS["glove-minilm"][1], WORD_TASKS["glove-minilm"][0])
WORD_TASKS["word2vec-glove"] = (WORD_TASKS["glove-word2vec"][1], WORD_TASKS["glove-word2vec"][0])

OOD_SETS = ("austen", "bible", "bible-en-pt", "bible-paraphrase")


def frequent_shared_words(a: Embeddings, b: Embeddings, n: int, lang: str = "en") -> list[str]:
    """The ``n`` most frequent (wordfreq) alphabetic words present in both ``a`` and ``b``."""
    import re

    try:
        from wordfreq import zipf_frequency
    except ImportError as e:
        raise DataError("choosing frequent words needs wordfreq: pip install wordfreq") from e
    alpha = re.compile(r"^[a-z]+$")
    shared = [w for w in a.keys if alpha.match(w) and w in b.index]
    ranked = sorted(shared, key=lambda w: (-zipf_frequency(w, lang), w))
    if len(ranked) < n:
        raise DataError(f"only {len(ranked)} alphabetic words are shared by {a.describe()} and {b.describe()}; "
                        f"asked for {n} (lower n_train / n_test)")
    return ranked[:n]


def word_task(name: str, n_train: int = 5000, n_test: int = 1500, seed: int = 0
              ) -> tuple[Embeddings, Embeddings, list[tuple[str, str]], list[tuple[str, str]]]:
    """``(src, tgt, train_pairs, test_pairs)`` for a named word task (see ``WORD_TASKS`` and the module doc).

    ``src``/``tgt`` are the full spaces (GloVe cut to its 50,000 most frequent words); the
    pairs are ``(word, word)`` identity pairs, train and test disjoint.
    """
    if name not in WORD_TASKS:
        raise DataError(f"unknown word task {name!r}; choose from {', '.join(WORD_TASKS)}")
    (sname, sparams), (tname, tparams) = WORD_TASKS[name]
    src, tgt = load(sname, **sparams), load(tname, **tparams)
    words = frequent_shared_words(src, tgt, n_train + n_test)
    perm = np.random.default_rng(seed).permutation(len(words))
    test = [words[i] for i in perm[:n_test]]
    train = [words[i] for i in perm[n_test:]]
    return src, tgt, [(w, w) for w in train], [(w, w) for w in test]


@dataclass
class SentenceTask:
    """Unpaired training sets (disjoint sentences) and a paired test set; arrays are float32, unit rows."""

    src_model: str
    tgt_model: str
    src_train: np.ndarray  # (n_unpaired, d_src)
    tgt_train: np.ndarray  # (n_unpaired, d_tgt)
    src_test: np.ndarray  # (n_test, d_src)
    tgt_test: np.ndarray  # (n_test, d_tgt); row i is the same unit as src_test row i
    src_train_ids: list[str]
    tgt_train_ids: list[str]
    test_ids: list[str]
    src_train_texts: list[str]
    tgt_train_texts: list[str]
    src_test_texts: list[str]
    tgt_test_texts: list[str]
    info: dict[str, Any] = field(default_factory=dict)


def bbc_split(n_unpaired: int, n_test: int, seed: int = 0, corpus: Corpus | None = None
              ) -> tuple[list[str], list[str], list[str]]:
    """``(test_ids, src_train_ids, tgt_train_ids)`` of BBC sentences (see the module doc)."""
    corpus = corpus or load("bbc")
    perm = np.random.default_rng(seed).permutation(len(corpus))
    rest = perm[n_test:]
    src_rows, tgt_rows = rest[0::2][:n_unpaired], rest[1::2][:n_unpaired]
    if n_test > len(corpus) or len(tgt_rows) < n_unpaired:
        most = (len(corpus) - n_test) // 2
        raise DataError(f"the BBC corpus has {len(corpus)} sentences: with n_test={n_test} at most {most} "
                        f"unpaired per side; asked for {n_unpaired}")
    ids = corpus.ids
    return [ids[i] for i in perm[:n_test]], [ids[i] for i in src_rows], [ids[i] for i in tgt_rows]


def _ood_pairs(ood: str, n_test: int, seed: int) -> tuple[Corpus, Corpus, list[str]]:
    """(source-side corpus, target-side corpus, ids) of an out-of-domain paired test set."""
    if ood == "austen":
        src = tgt = load("austen")
    elif ood in ("bible", "bible-en-pt"):
        bible = load("bible", langs=("en", "pt"), min_words=5, max_words=60)
        src = bible.corpus("en")
        tgt = src if ood == "bible" else bible.corpus("pt")
    elif ood == "bible-paraphrase":
        para = load("bible-paraphrase")
        src, tgt = para.corpus("dr"), para.corpus("web")
    else:
        raise DataError(f"unknown ood test set {ood!r}; choose from {', '.join(OOD_SETS)}")
    if n_test > len(src):
        raise DataError(f"ood set {ood} has {len(src)} texts; asked for n_test={n_test}")
    perm = np.random.default_rng(seed).permutation(len(src))[:n_test]
    return src, tgt, [src.ids[i] for i in perm]


def sentence_task(src_model: str, tgt_model: str, n_unpaired: int = 8000, n_test: int = 2000, seed: int = 0,
                  ood: str | None = None, *, src_opts: dict[str, Any] | None = None,
                  tgt_opts: dict[str, Any] | None = None, batch_size: int | None = None,
                  progress: bool | None = None) -> SentenceTask:
    """Unsupervised sentence-translation task on BBC News (see the module doc).

    ``ood``: None (BBC held-out test), ``"austen"``, ``"bible"`` (English Douay-Rheims verses,
    both models), ``"bible-en-pt"`` (source model on English verses, target model on the same
    verses in Portuguese: a cross-lingual test, meant for e5), ``"bible-paraphrase"`` (source
    on Douay-Rheims, target on WEB English). Only the texts needed are encoded; every
    encoding is cached per (model, corpus, ids).
    """
    bbc = load("bbc")
    test_ids, src_ids, tgt_ids = bbc_split(n_unpaired, n_test if ood is None else 0, seed, bbc)
    kw = {"batch_size": batch_size, "progress": progress}
    src_texts, tgt_texts = bbc.texts_of(src_ids), bbc.texts_of(tgt_ids)
    src_train = encode_texts(src_model, bbc.fingerprint, src_ids, src_texts, encoder_opts=src_opts, **kw)
    tgt_train = encode_texts(tgt_model, bbc.fingerprint, tgt_ids, tgt_texts, encoder_opts=tgt_opts, **kw)
    if ood is None:
        s_corpus = t_corpus = bbc
    else:
        s_corpus, t_corpus, test_ids = _ood_pairs(ood, n_test, seed)
    s_test_texts, t_test_texts = s_corpus.texts_of(test_ids), t_corpus.texts_of(test_ids)
    src_test = encode_texts(src_model, s_corpus.fingerprint, test_ids, s_test_texts, encoder_opts=src_opts, **kw)
    tgt_test = encode_texts(tgt_model, t_corpus.fingerprint, test_ids, t_test_texts, encoder_opts=tgt_opts, **kw)
    info = {"corpus": bbc.fingerprint, "seed": seed, "ood": ood, "test_corpus": [s_corpus.name, t_corpus.name],
            "n_unpaired": n_unpaired, "n_test": n_test}
    return SentenceTask(src_model, tgt_model, src_train, tgt_train, src_test, tgt_test, src_ids, tgt_ids,
                        list(test_ids), src_texts, tgt_texts, s_test_texts, t_test_texts, info)


def prepare_sentence_encodings(model: str, n_unpaired: int = 16000, n_test: int = 2000, seed: int = 0, *,
                               opts: dict[str, Any] | None = None, batch_size: int | None = None,
                               progress: bool | None = None) -> dict[str, int]:
    """Encode (and cache) the BBC test set and *both* training halves with ``model``, so that it can
    later serve as source or target of :func:`sentence_task` with these sizes. Returns the counts."""
    bbc = load("bbc")
    test_ids, src_ids, tgt_ids = bbc_split(n_unpaired, n_test, seed, bbc)
    out = {}
    for part, ids in (("test", test_ids), ("src_train", src_ids), ("tgt_train", tgt_ids)):
        encode_texts(model, bbc.fingerprint, ids, bbc.texts_of(ids), encoder_opts=opts, batch_size=batch_size,
                     progress=progress)
        out[part] = len(ids)
    return out
