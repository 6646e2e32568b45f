"""gensim ``KeyedVectors``: conversion to and from :class:`~vecbridge.Embeddings`, and the ``.kv`` files that
``KeyedVectors.save`` writes (format name ``"gensim"``).

A ``.kv`` file is a Python pickle: loading one can run code that the file's author put there, so load only
files you trust. gensim is an optional dependency (``pip install 'vecbridge[gensim]'``), imported inside the
functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_output
from ..embeddings import Embeddings
from ..errors import FormatError
from ..optional import require
from .read_report import ReadReport, RowPolicy


def _gensim_kv():
    return require("gensim.models", "gensim", "gensim conversion (and reading or writing .kv files)").KeyedVectors


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
    keys, vectors = _keys_and_vectors(kv)
    meta: dict[str, Any] = {"format": "gensim"}
    if name is not None:
        meta["name"] = name
    return Embeddings(keys, vectors, meta)


def _keys_and_vectors(kv: Any) -> tuple[list[str], np.ndarray]:
    if not hasattr(kv, "index_to_key") and hasattr(kv, "wv"):
        kv = kv.wv
    keys = [k if isinstance(k, str) else str(k) for k in kv.index_to_key]
    vectors = np.array(kv.vectors[: len(keys)], dtype=np.float32, copy=True)
    if vectors.ndim != 2:
        vectors = vectors.reshape(len(keys), int(kv.vector_size))
    return keys, vectors


def load_kv(path: str | os.PathLike) -> Any:
    """``KeyedVectors.load(path)``, with errors naming the file. The file is a pickle: load only files you trust."""
    KeyedVectors = _gensim_kv()
    spath = os.fspath(path)
    try:
        kv = KeyedVectors.load(spath)
    except FileNotFoundError as e:  # a large array saved beside the .kv file (e.g. x.kv.vectors.npy) is missing
        missing = e.filename or str(e)
        raise FormatError(f"cannot load it as gensim KeyedVectors: {missing} is missing (gensim saves large arrays "
                          "in files beside the .kv file; keep them together)", spath) from None
    except Exception as e:  # noqa: BLE001 - unpickling raises many kinds
        detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise FormatError(f"cannot load it as gensim KeyedVectors ({type(e).__name__}"
                          f"{': ' + detail if detail else ''})", spath) from None
    if not hasattr(kv, "index_to_key") and not hasattr(getattr(kv, "wv", None), "index_to_key"):
        raise FormatError(f"holds a gensim {type(kv).__name__}, not KeyedVectors", spath)
    return kv


def read_kv(
    path: str | os.PathLike, *, limit: int | None = None, on_error: str = "raise"
) -> tuple[list[str], np.ndarray, ReadReport]:
    """Read a gensim ``KeyedVectors.save`` file (``.kv``). Returns ``(keys, vectors (n, d) float32, report)``.

    Rows are reported 0-based. A NaN/Inf row or a repeated key (two keys with the same text) raises, or with
    ``on_error="skip"`` is skipped and counted. The file is a pickle: load only files you trust.
    """
    spath = os.fspath(path)
    report = ReadReport(path=spath, format="gensim", unit="row")
    policy = RowPolicy(spath, on_error, report)
    keys, vectors = _keys_and_vectors(load_kv(spath))
    finite = np.isfinite(vectors).all(axis=1)
    kept: list[int] = []
    out_keys: list[str] = []
    r = 0
    while r < len(keys) and (limit is None or len(out_keys) < limit):
        key = keys[r]
        if not finite[r]:
            policy.bad("non_finite", r, f"key {key!r} holds NaN or Inf")
        elif policy.accept_key(key, r):
            kept.append(r)
            out_keys.append(key)
        r += 1
    report.seen = r
    report.stopped_at_limit = r < len(keys)
    out = vectors if len(kept) == len(keys) else np.ascontiguousarray(vectors[np.asarray(kept, dtype=np.int64)])
    policy.finish(len(out_keys), stacklevel=4)
    return out_keys, out.reshape(len(out_keys), vectors.shape[1]), report


def write_kv(emb: Embeddings, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``emb`` as a gensim ``KeyedVectors.save`` file: one pickle (no arrays beside it), written to a
    temporary file and renamed."""
    kv = to_gensim(emb)
    with atomic_output(path, overwrite, compress=False) as f:
        kv.save(f)
    return Path(path)
