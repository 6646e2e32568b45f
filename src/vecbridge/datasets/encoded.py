"""Encodings of corpus texts, computed once per (model, corpus, sentence ids) and reused.

Ids are encoded in blocks of ``BLOCK`` consecutive ids of the list asked for; each block is
one cache entry keyed by the encoder (name, options, package versions), the corpus
fingerprint and a hash of the block's ids. A longer list that starts with the same ids
(``n_unpaired=16000`` after ``8000``) reuses the finished blocks, and a killed build keeps
every block finished before the kill.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..cache import CacheEntry, hash_strings
from ..embeddings import Embeddings
from ..encoders import Encoder, get_encoder
from ..errors import DataError
from .containers import Corpus

BLOCK = 1000


def encode_texts(model: str | Encoder, corpus_fingerprint: str, ids: Sequence[str], texts: Sequence[str], *,
                 encoder_opts: dict[str, Any] | None = None, batch_size: int | None = None,
                 progress: bool | None = None) -> np.ndarray:
    """Unit-length float32 encodings (len(ids), dim) of ``texts`` (named by ``ids``), cached per block."""
    if len(ids) != len(texts):
        raise DataError(f"{len(ids)} ids for {len(texts)} texts")
    enc = model if isinstance(model, Encoder) else get_encoder(model, **(encoder_opts or {}))
    cid = enc.cache_id
    parts = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(ids), unit="sent", desc=f"{enc.name} {corpus_fingerprint.split(':')[0]}",
               disable=None if progress is None else not progress)
    try:
        for start in range(0, len(ids), BLOCK):
            block_ids = list(ids[start:start + BLOCK])
            entry = CacheEntry.make(
                "encoded", {"encoder": cid, "corpus": corpus_fingerprint, "ids": hash_strings(block_ids),
                            "n": len(block_ids)}, versions={},
            )
            with entry.building() as needed:
                if needed:
                    vecs = enc.encode(list(texts[start:start + BLOCK]), batch_size=batch_size, normalize=True,
                                      progress=False)
                    entry.store({"vectors": vecs, "ids": np.asarray(block_ids)},
                                extra={"encoder": enc.name, "corpus": corpus_fingerprint})
            stored = entry.load()
            if stored["ids"].tolist() != block_ids:  # a hash collision or a tampered file
                raise DataError(f"{entry.path}: cached ids do not match the ids asked for; delete the file")
            parts.append(stored["vectors"])
            bar.update(len(block_ids))
    finally:
        bar.close()
    if not parts:
        return np.zeros((0, enc.dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(parts).astype(np.float32, copy=False))


def encode_corpus(model: str | Encoder, corpus: Corpus, ids: Sequence[str] | None = None, *,
                  encoder_opts: dict[str, Any] | None = None, batch_size: int | None = None,
                  progress: bool | None = None) -> Embeddings:
    """``Embeddings`` (keys = ids, rows = unit-length encodings) of the corpus texts named by ``ids`` (all by default)."""
    ids = list(corpus.ids if ids is None else ids)
    vecs = encode_texts(model, corpus.fingerprint, ids, corpus.texts_of(ids), encoder_opts=encoder_opts,
                        batch_size=batch_size, progress=progress)
    name = model.name if isinstance(model, Encoder) else model
    return Embeddings(ids, vecs, {"name": name, "source": f"{corpus.name} encoded by {name}",
                                  "corpus": corpus.fingerprint})
