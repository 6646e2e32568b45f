"""File plumbing shared by the readers and writers: opening (plain or gzip),
atomic no-clobber output, progress bars and the growable row buffer."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import VecbridgeError

GZIP_MAGIC = b"\x1f\x8b"


class OutputExistsError(VecbridgeError, FileExistsError):
    """A writer was asked to write over an existing file without ``overwrite=True``."""


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


def progress_enabled(progress: bool | None) -> bool:
    """``None`` means: show progress when stderr is an interactive terminal."""
    if progress is None:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return bool(progress)


def progress_bar(progress: bool | None, total: int | None, desc: str, unit: str = "B") -> Any:
    """A tqdm bar (disabled unless :func:`progress_enabled`); ``unit="B"`` scales bytes."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=(unit == "B"),
        unit_divisor=1024 if unit == "B" else 1000,
        disable=not progress_enabled(progress),
        leave=False,
        dynamic_ncols=True,
    )


def check_writable(path: Path, overwrite: bool) -> None:
    """Refuse early when ``path`` exists and ``overwrite`` is False."""
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if path.is_dir():
        raise OutputExistsError(f"{path} is a directory; give a file name to write to")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False, compress: bool | None = None) -> Iterator[IO[bytes]]:
    """Write to a temporary file in the same folder, then move it to ``path``.

    An interrupted write (exception, Ctrl-C) removes the temporary file, so no
    half-written file ever appears under the final name. Without ``overwrite``
    the final move refuses to replace a file that appeared meanwhile.
    ``compress`` (default: the name ends in ``.gz``) wraps the stream in gzip.
    """
    path = Path(path)
    check_writable(path, overwrite)
    if compress is None:
        compress = path.suffix.lower() == ".gz"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            if compress:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                    yield gz  # type: ignore[misc]
            else:
                yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        _publish(tmp, path, overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic and refuses to clobber
    except FileExistsError:
        raise OutputExistsError(f"{path} already exists; pass overwrite=True to replace it") from None
    except OSError:  # file systems without hard links
        if path.exists():
            raise OutputExistsError(f"{path} already exists; pass overwrite=True to replace it") from None
        os.replace(tmp, path)
        return
    tmp.unlink()


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


def stem_of(path: str | os.PathLike) -> str:
    """File name without its format extension (and without ``.gz``)."""
    p = Path(path)
    name = p.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem if "." in name else name
