"""Word models on disk for the apps: every :mod:`vecbridge.io` format (gensim ``.kv`` files included) plus
gensim's ``.model`` files.

A ``.model`` is a saved gensim ``Word2Vec``, the only input that can continue training with its own
vocabulary; everything else goes through :func:`vecbridge.io.read_embeddings` /
:func:`vecbridge.io.write_embeddings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..embeddings import Embeddings
from ..errors import FormatError, VecbridgeError

GENSIM_KV_SUFFIXES = (".kv", ".gensim")
GENSIM_MODEL_SUFFIXES = (".model",)


def _load_word2vec(path: Path) -> Any:
    try:
        import gensim.models as gm
    except ImportError as e:  # pragma: no cover - environment
        raise VecbridgeError(f"{path}: reading gensim files needs gensim: pip install 'vecbridge[gensim]'") from e
    try:
        return gm.Word2Vec.load(str(path))
    except Exception as e:  # gensim raises many kinds (unpickling, missing .npy side files)
        raise VecbridgeError(f"{path}: cannot load it as a gensim Word2Vec ({type(e).__name__}: {e})") from None


def read_word_model(path: str | os.PathLike, format: str | None = None, *, keep_model: bool = False,
                    limit: int | None = None, on_error: str = "raise", progress: bool | None = None,
                    encoding: str = "utf-8") -> Any:
    """Read word vectors as :class:`~vecbridge.Embeddings`.

    ``.model`` files load with gensim's ``Word2Vec`` (returned as the model itself when ``keep_model``,
    else its vectors). Other files (gensim ``.kv`` files too): :func:`vecbridge.io.read_embeddings` with
    ``format``, ``limit``, ``on_error``, ``encoding``.
    """
    from ..io import from_gensim

    path = Path(path)
    if not path.exists():
        raise VecbridgeError(f"{path}: no such file")
    if format == "gensim-model" or (format is None and path.suffix.lower() in GENSIM_MODEL_SUFFIXES):
        model = _load_word2vec(path)
        if keep_model:
            return model
        emb = from_gensim(model.wv, name=path.stem)
        return emb.head(limit) if limit else emb
    from ..io import read_embeddings

    return read_embeddings(path, format=format, limit=limit, on_error=on_error, encoding=encoding, progress=progress)


def write_word_vectors(emb: Embeddings, path: str | os.PathLike, format: str | None = None, *,
                       overwrite: bool = False) -> Path:
    """Write ``emb`` with :func:`vecbridge.io.write_embeddings` (``.kv`` / ``.gensim`` or ``format="gensim"``: a
    gensim ``KeyedVectors.save`` file). An existing file is an error unless ``overwrite``."""
    from ..atomic import check_writable
    from ..io import write_embeddings
    from ..io.detect import FORMAT_NAMES, canonical_format

    check_writable(path, overwrite)
    if format is not None:
        try:
            canonical_format(format)
        except FormatError:
            raise FormatError(f"unknown format {format!r}; choose one of {', '.join(FORMAT_NAMES)} (--format / "
                              "format=)") from None
    return write_embeddings(emb, path, format=format, overwrite=overwrite)


__all__ = ["read_word_model", "write_word_vectors"]
