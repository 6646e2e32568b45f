"""Conversion to and from gensim ``KeyedVectors`` (gensim imported inside the functions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..embeddings import Embeddings


def _gensim_kv():
    try:
        from gensim.models import KeyedVectors
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("gensim conversion needs gensim: pip install 'vecbridge[gensim]'") from None
    return KeyedVectors


def to_gensim(emb: Embeddings) -> Any:
    """A new ``gensim.models.KeyedVectors`` holding a copy of ``emb``'s (n, d) float32 vectors,
    keys in the same order (``kv.index_to_key == emb.keys``)."""
    KeyedVectors = _gensim_kv()
    kv = KeyedVectors(vector_size=emb.dim, count=0, dtype=np.float32)
    if len(emb):
        kv.add_vectors(list(emb.keys), emb.vectors.copy())
    return kv


def from_gensim(kv: Any, name: str | None = None) -> Embeddings:
    """Embeddings from a gensim ``KeyedVectors`` (or a model with ``.wv``): keys in
    ``kv.index_to_key`` order (non-string keys become ``str(key)``), vectors copied to
    float32 (n, d). ``name`` goes to ``meta["name"]``."""
    if not hasattr(kv, "index_to_key") and hasattr(kv, "wv"):
        kv = kv.wv
    keys = [str(k) for k in kv.index_to_key]
    vectors = np.array(kv.vectors[: len(keys)], dtype=np.float32, copy=True)
    if vectors.ndim != 2:
        vectors = vectors.reshape(len(keys), int(kv.vector_size))
    meta: dict[str, Any] = {"format": "gensim"}
    if name is not None:
        meta["name"] = name
    return Embeddings(keys, vectors, meta)
