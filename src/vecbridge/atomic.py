"""Atomic writes: nothing ever appears half-written under its final name.

One helper per shape of output:

- :func:`atomic_path` yields a temporary sibling *path* (file or folder) and renames it onto the final
  name on success, removing it on error;
- :func:`atomic_output` yields an open binary stream (optionally gzip) and publishes it without
  clobbering an existing file unless ``overwrite``;
- :func:`write_json_atomic` / :func:`write_text_atomic` for small documents.

Every temporary name starts with ``.`` and contains ``.tmp-`` so that it is never taken for an entry. It is
made of the final name, or, where that would not fit in a file name (``MAX_NAME`` bytes), of a prefix of it and
a hash of the whole: a final name that fits is always writable.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .containment import MAX_NAME
from .errors import OutputExistsError, VecbridgeError

TMP_MARK = ".tmp-"
#: what ``tempfile.mkstemp`` adds to its prefix: 8 random characters and the suffix ``.part``
_MKSTEMP_ROOM = 8 + len(".part")


def _temporary_stem(name: str, room: int) -> str:
    """``name``, or when ``room`` more bytes would not fit in ``MAX_NAME``, a prefix of it and 16 hex digits of
    its hash (distinct long names keep distinct temporary names)."""
    if len(os.fsencode(name)) + room <= MAX_NAME:
        return name
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    keep = name[: max(0, MAX_NAME - room - len(digest) - 1)]
    while len(os.fsencode(keep)) + room + len(digest) + 1 > MAX_NAME:  # multi-byte characters
        keep = keep[:-1]
    return f"{keep}-{digest}"


def _temporary_sibling(final: Path) -> Path:
    tail = f"{TMP_MARK}{os.getpid()}-{time.monotonic_ns()}"
    return final.with_name(f".{_temporary_stem(final.name, 1 + len(tail))}{tail}")


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path of ``final``; on success rename it onto ``final``, on error remove it.

    Works for files and for folders (a folder replacing an existing one removes the old one first).
    Missing parent folders are created.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(final)
    try:
        try:
            yield tmp
        except OSError as e:
            if e.errno is not None and (e.filename is None or str(e.filename).startswith(str(tmp))):
                raise type(e)(e.errno, e.strerror, str(final)) from None  # the output's name, not the temporary's
            raise
        if tmp.is_dir():
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            os.replace(tmp, final)
        elif tmp.exists():
            keep_mode(tmp, final)
            os.replace(tmp, final)
        else:
            raise VecbridgeError(f"nothing was written to {tmp} (building {final})")
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 1, sort_keys: bool = True) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file, fsync and rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; without ``overwrite`` an existing file is refused."""
    path = Path(path)
    with atomic_output(path, overwrite=overwrite, compress=False) as f:
        f.write(text.encode("utf-8"))


def check_writable(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse early when ``path`` exists (and ``overwrite`` is False) or is a folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; give a file name to write to")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting (--overwrite)")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False, compress: bool | None = None) -> Iterator[IO[bytes]]:
    """Write to a temporary file in the same folder, then move it to ``path``.

    An interrupted write (exception, Ctrl-C) removes the temporary file, so no half-written file ever
    appears under the final name. Missing parent folders are created. Without ``overwrite`` the final
    move refuses to replace a file that appeared meanwhile. ``compress`` (default: the name ends in
    ``.gz``) wraps the stream in gzip.
    """
    path = Path(path)
    check_writable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress is None:
        compress = path.suffix.lower() == ".gz"
    stem = _temporary_stem(path.name, 1 + len(TMP_MARK) + _MKSTEMP_ROOM)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}{TMP_MARK}", suffix=".part", dir=path.parent)
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
        if overwrite:
            keep_mode(tmp, path)  # a replaced file keeps its permission bits
        _publish(tmp, path, overwrite)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if e.errno is not None and (e.filename is None or Path(e.filename) == tmp):
            raise type(e)(e.errno, e.strerror, str(path)) from None  # the output's name, not the temporary file's
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def keep_mode(new: str | os.PathLike, replaced: str | os.PathLike) -> None:
    """Give the file ``new`` the permission bits of ``replaced``, the regular file it is about to replace (so that
    replacing a file, e.g. with ``--overwrite``, keeps who may read and write it); nothing when ``replaced`` is
    not there or not a regular file."""
    try:
        st = os.stat(replaced)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        with contextlib.suppress(OSError):
            os.chmod(new, stat.S_IMODE(st.st_mode))


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
        raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting (--overwrite)") from None
    except OSError:  # file systems without hard links
        if path.exists():
            raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting (--overwrite)") from None
        os.replace(tmp, path)
        return
    tmp.unlink()


__all__ = ["TMP_MARK", "atomic_path", "atomic_output", "check_writable", "keep_mode", "write_json_atomic",
           "write_text_atomic"]
