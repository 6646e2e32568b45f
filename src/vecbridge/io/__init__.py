"""Reading and writing embeddings files; format detection; gensim conversion.

Formats (names for ``format=``):

========================  ==========================================================
``"word2vec"``            text, header line ``N D``, then ``key v1 ... vD`` per line
``"fasttext"``            alias of ``"word2vec"`` (fastText ``.vec`` files)
``"glove"``               text without header
``"word2vec-binary"``     header ``N D``, then key, space, D little-endian float32
``"npy"``                 2-D array + keys file (``keys_path`` or ``<stem>.keys.txt`` /
                          ``<stem>.vocab`` / ``<stem>.txt``; else row numbers)
``"npz"``                 arrays ``vectors`` (or the only 2-D one) and optional ``keys``
``"parquet"``             key column + list-of-floats vector column
``"gensim"``              gensim ``KeyedVectors.save`` file (``.kv``, ``.gensim``): a
                          Python pickle, read with gensim (``vecbridge[gensim]``);
                          **load only files you trust** (unpickling can run code)
========================  ==========================================================

Text and word2vec binary files may be gzip-compressed (read transparently;
written when the name ends in ``.gz``). Readers are strict by default: a bad
row raises :class:`~vecbridge.errors.FormatError` naming the file and line;
``on_error="skip"`` skips and counts bad rows instead (``meta["read_report"]``).
"""

from __future__ import annotations

import codecs
import errno
import os
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import FormatError, OutputExistsError, ParameterError, VecbridgeError
from .arrays import find_sibling_keys, read_keys
from .detect import FORMAT_NAMES, FORMATS, canonical_format, check_regular_file, detect_format, format_from_extension
from .files import stem_of
from .gensim_kv import from_gensim, to_gensim
from .read_report import SKIP_REASONS, ReadReport, ReadWarning

__all__ = [
    "read_embeddings",
    "write_embeddings",
    "detect_format",
    "to_gensim",
    "from_gensim",
    "read_keys",
    "find_sibling_keys",
    "FORMATS",
    "FORMAT_NAMES",
    "SKIP_REASONS",
    "ReadReport",
    "ReadWarning",
    "OutputExistsError",
]


def read_embeddings(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    limit: int | None = None,
    on_error: str = "raise",
    encoding: str = "utf-8",
    keys_path: str | os.PathLike | None = None,
    key_column: str | None = None,
    vector_column: str | None = None,
    name: str | None = None,
    progress: bool | None = None,
) -> Embeddings:
    """Read an embeddings file into :class:`~vecbridge.Embeddings` (n keys, (n, d) float32).

    Parameters
    ----------
    path : file to read.
    format : one of ``FORMAT_NAMES``; None detects it from the content (:func:`detect_format`). A gensim
        ``.kv`` file is a pickle: read only files you trust.
    limit : read only the first ``limit`` rows (the first ``limit`` good rows when
        skipping) and stop reading the file there.
    on_error : ``"raise"`` (default): a bad row (ragged, non-numeric, NaN/Inf, duplicate
        key, undecodable key, a key holding a control character such as NUL) or a header
        that disagrees with the rows raises ``FormatError`` naming the file and line. ``"skip"``: bad rows are skipped
        (for duplicates the first occurrence is kept), counted per reason in
        ``meta["read_report"]`` (see :class:`ReadReport`), and a one-line
        :class:`ReadWarning` is issued.
    encoding : of the keys in text, word2vec binary and keys files.
    keys_path : npy/npz: file with one key per line (default: a sibling file).
    key_column, vector_column : parquet column names (default: found by name and type).
    name : ``meta["name"]`` (default: the file's stem).
    progress : tqdm progress bar; None shows it when stderr is a terminal.

    Returns
    -------
    Embeddings with ``meta`` holding ``name``, ``source`` (the path), ``format``
    (canonical name) and ``read_report`` (a dict, :meth:`ReadReport.to_dict`), plus
    ``parquet_columns`` for parquet and ``keys_source`` where keys came from a file.
    """
    spath = os.fspath(path)
    check_regular_file(spath)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ParameterError(f"limit must be a non-negative integer, got {limit!r} (--limit / limit=)")
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ParameterError(f"unknown text encoding {encoding!r} (--encoding / encoding=)") from None
    fmt = canonical_format(format) if format is not None else detect_format(spath)
    try:  # the reader runs in this frame, so that its warnings point at read_embeddings' caller
        extra: dict[str, Any] = {}
        if fmt in ("word2vec", "glove"):
            from .text import read_text

            keys, vectors, report = read_text(
                spath, fmt, limit=limit, on_error=on_error, encoding=encoding, progress=progress
            )
        elif fmt == "word2vec-binary":
            from .binary import read_binary

            keys, vectors, report = read_binary(
                spath, limit=limit, on_error=on_error, encoding=encoding, progress=progress
            )
        elif fmt == "npy":
            from .arrays import read_npy

            keys, vectors, report, extra = read_npy(
                spath, limit=limit, on_error=on_error, encoding=encoding, keys_path=keys_path, progress=progress
            )
        elif fmt == "npz":
            from .arrays import read_npz

            keys, vectors, report, extra = read_npz(
                spath, limit=limit, on_error=on_error, encoding=encoding, keys_path=keys_path, progress=progress
            )
        elif fmt == "gensim":
            from .gensim_kv import read_kv

            keys, vectors, report = read_kv(spath, limit=limit, on_error=on_error)
        else:  # parquet
            from .parquet import read_parquet

            keys, vectors, report, extra = read_parquet(
                spath,
                limit=limit,
                on_error=on_error,
                key_column=key_column,
                vector_column=vector_column,
                progress=progress,
            )
    except VecbridgeError:
        raise
    except MemoryError:
        raise FormatError(f"not enough memory to read this {fmt} file (is its header's shape right?)", spath) from None
    except OSError as e:
        if e.errno not in (None, errno.EINVAL):  # the file system's own error (permission, ...), not the content
            raise
        raise _unreadable(fmt, spath, e) from None
    except _CORRUPT_CONTENT as e:
        raise _unreadable(fmt, spath, e) from None
    meta: dict[str, Any] = {
        "name": name if name is not None else stem_of(spath),
        "source": spath,
        "format": fmt,
        "read_report": report.to_dict(),
    }
    meta.update(extra)
    return Embeddings(keys, vectors, meta)


#: what the decoders a reader relies on (zip, zlib, gzip, numpy's header parser, pyarrow) raise for
#: content that is not what its format promises; read_embeddings turns them into a FormatError
_CORRUPT_CONTENT: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, EOFError, struct.error, SyntaxError, tokenize.TokenError, NotImplementedError,
    ValueError, TypeError, RuntimeError, IndexError, KeyError, OverflowError,
)


def _unreadable(fmt: str, path: str, e: BaseException) -> FormatError:
    detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return FormatError(f"not a readable {fmt} file ({type(e).__name__}{': ' + detail[:200] if detail else ''})", path)




def write_embeddings(
    emb: Embeddings,
    path: str | os.PathLike,
    format: str | None = None,
    *,
    overwrite: bool = False,
    key_column: str | None = None,
    vector_column: str | None = None,
    progress: bool | None = None,
) -> Path:
    """Write ``emb`` to ``path``; returns the path written.

    ``format`` defaults to the extension: ``.vec``/``.txt`` word2vec text (``.txt``
    keeps GloVe when ``emb`` was read from GloVe), ``.bin`` word2vec binary, ``.npy``
    (plus ``<stem>.keys.txt``), ``.npz``, ``.parquet``/``.pq``; a trailing ``.gz``
    compresses text and binary. Refuses to replace an existing file unless
    ``overwrite=True`` (:class:`OutputExistsError`); writes a temporary file in the
    same folder and renames it, so an interrupted write leaves nothing under ``path``.
    Text formats write ``%.9g`` floats (float32 round-trips exactly) and refuse keys
    holding whitespace (``FormatError`` naming the key). Parquet uses ``key_column``
    / ``vector_column``, else the names the embeddings were read with, else
    ``"key"`` / ``"vector"``. ``.kv`` / ``.gensim`` (``format="gensim"``) write a gensim ``KeyedVectors``
    file (needs gensim).
    """
    if not isinstance(emb, Embeddings):
        raise TypeError(f"write_embeddings needs an Embeddings, got {type(emb).__name__}")
    path = Path(path)
    if format is None:
        fmt = format_from_extension(path)
        if fmt is None:
            raise FormatError(
                f"cannot tell the format from the file name {path.name!r}; name it (--format / format=, one of "
                f"{', '.join(FORMAT_NAMES)})"
            )
        if fmt == "word2vec" and emb.meta.get("format") == "glove" and path.name.lower().removesuffix(".gz").endswith(
            ".txt"
        ):
            fmt = "glove"
    else:
        fmt = canonical_format(format)
    if path.name.lower().endswith(".gz") and fmt not in ("word2vec", "glove", "word2vec-binary"):
        raise FormatError(f"gzip output is supported for text and word2vec binary only, not {fmt}", path)
    if fmt in ("word2vec", "glove"):
        from .text import write_text

        return write_text(emb, path, fmt, overwrite=overwrite, progress=progress)
    if fmt == "word2vec-binary":
        from .binary import write_binary

        return write_binary(emb, path, overwrite=overwrite, progress=progress)
    if fmt == "npy":
        from .arrays import write_npy

        return write_npy(emb, path, overwrite=overwrite, progress=progress)
    if fmt == "gensim":
        from .gensim_kv import write_kv

        return write_kv(emb, path, overwrite=overwrite)
    if fmt == "npz":
        from .arrays import write_npz

        return write_npz(emb, path, overwrite=overwrite, progress=progress)
    from .parquet import write_parquet

    return write_parquet(
        emb, path, overwrite=overwrite, key_column=key_column, vector_column=vector_column, progress=progress
    )
