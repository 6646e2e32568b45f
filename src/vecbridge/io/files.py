"""File plumbing shared by the readers: opening (plain or gzip) and the growable row buffer.

Atomic output lives in :mod:`vecbridge.atomic`, progress bars in :mod:`vecbridge.progress`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


@contextlib.contextmanager
def open_input(path: str | os.PathLike) -> Iterator[tuple[IO[bytes], int | None]]:
    """Open ``path`` for binary reading, decompressing gzip transparently.

    Yields ``(stream, size)`` where ``size`` is the byte count the stream will
    yield when known (plain files), else None (gzip).
    """
    if is_gzip(path):
        raw = open(path, "rb")
        try:
            with io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=1 << 20) as f:
                yield f, None
        finally:
            raw.close()
    else:
        with open(path, "rb", buffering=1 << 20) as f:
            yield f, os.path.getsize(path)


class RowBuffer:
    """A float32 (capacity, dim) buffer filled block by block.

    Grows in place with ``ndarray.resize`` (realloc, which the OS can often do
    without copying) by a factor 1.5, and shrinks to the rows filled at the end,
    so the peak stays near the final matrix's size instead of the twice-or-more
    that a Python list of rows or a list of blocks plus a final concatenate cost.
    """

    def __init__(self, dim: int, capacity: int):
        self.dim = int(dim)
        self.n = 0
        self._buf = np.empty((max(int(capacity), 1), self.dim), dtype=np.float32)

    def append(self, block: np.ndarray) -> None:
        m = block.shape[0]
        if m == 0:
            return
        need = self.n + m
        if need > self._buf.shape[0]:
            new_cap = max(need, int(self._buf.shape[0] * 1.5) + 1)
            self._buf.resize((new_cap, self.dim), refcheck=False)
        self._buf[self.n : need] = block
        self.n = need

    def finish(self) -> np.ndarray:
        """The filled rows as one C-contiguous (n, dim) array (the buffer is handed over)."""
        buf = self._buf
        self._buf = np.empty((0, self.dim), dtype=np.float32)
        if buf.shape[0] != self.n:
            buf.resize((self.n, self.dim), refcheck=False)
        return buf


def to_float32(values) -> np.ndarray:
    """``values`` as a float32 array, without numpy's overflow warning: a finite value beyond float32 range
    (e.g. 1e300 read as float64) becomes Inf there, and the reader names it with :func:`beyond_float32`."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float32)


def beyond_float32(row) -> str | None:
    """Why ``row`` (numbers as read, before the float32 cast) turns non-finite in float32, when the cause is a
    finite value beyond float32 range; None when the row holds NaN or Inf itself."""
    raw = np.asarray(row)
    if raw.dtype.kind != "f" or raw.dtype.itemsize <= 4:
        return None
    with np.errstate(over="ignore"):
        big = np.isfinite(raw) & ~np.isfinite(raw.astype(np.float32))
    if not big.any():
        return None
    value = float(raw.reshape(-1)[big.reshape(-1)][0])
    return (f"holds a value beyond float32 range ({value:g}), which float32 vectors cannot hold (largest "
            f"{float(np.finfo(np.float32).max):g}); scale the vectors down or fix the value")


def stem_of(path: str | os.PathLike) -> str:
    """File name without its format extension (and without ``.gz``)."""
    p = Path(path)
    name = p.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem if "." in name else name


def split_lines(text: str) -> list[str]:
    """The lines of decoded ``text``, split on ``\\n`` only: a lone ``\\r`` (or a form feed, U+2028) stays inside
    its line, a CRLF's ``\\r`` is removed, and a final line ending adds no empty line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
