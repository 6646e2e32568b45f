"""NumPy formats: ``.npy`` (+ a keys file, one key per line) and ``.npz``
(arrays ``vectors`` and optional ``keys``)."""

from __future__ import annotations

import codecs
import os
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..embeddings import Embeddings
from ..errors import FormatError
from ..atomic import atomic_output, check_writable
from ..progress import progress_bar
from .detect import is_number
from .files import RowBuffer, beyond_float32, to_float32
from .read_report import ReadReport, ReadWarning, RowPolicy

#: sibling key files looked for next to ``<stem>.npy``, in this order
KEY_SUFFIXES = (".keys.txt", ".vocab", ".txt")
#: rows converted per step (progress and bounded temporaries)
BLOCK_ROWS = 1 << 16
#: how much of a sibling keys file is looked at to tell it from a vectors file
SIBLING_SAMPLE_BYTES = 64 << 10
SIBLING_SAMPLE_LINES = 20


def read_keys(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """One key per line (``\\n`` or ``\\r\\n`` endings; the last line's ending is optional).

    Every line is a key, an empty one included, so that line ``i + 1`` names row
    ``i``. Raises ``FormatError`` with the line of undecodable bytes.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise FormatError(
            f"bytes {data[e.start:e.end + 8]!r} are not valid {encoding} ({e.reason}); name the file's "
            "encoding (--encoding / encoding=, e.g. latin-1)",
            path,
            line,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _splits_on_newline_byte(encoding: str) -> bool:
    """Whether ``encoding`` writes a line break as the byte ``\\n`` (utf-8, latin-1, cp1252...; not utf-16)."""
    try:
        return "a\n\r".encode(encoding) == b"a\n\r"
    except (LookupError, UnicodeError):
        return False


def iter_keys(path: str | os.PathLike, encoding: str = "utf-8", start: int = 0) -> Iterator[str]:
    """The keys of a keys file one at a time, from row ``start`` on, without holding the file.

    Lines are split as :func:`read_keys` splits them: on ``\\n`` only (a lone ``\\r`` stays in its key),
    with the ``\\r`` of a CRLF ending and a leading BOM removed. Raises ``FormatError`` with the line of
    undecodable bytes.
    """
    if not _splits_on_newline_byte(encoding):  # e.g. utf-16: decode first, split on "\n" only
        with open(path, encoding=encoding, newline="\n") as t:
            for i, line in enumerate(t):
                if i == 0:
                    line = line.removeprefix("\ufeff")
                if i >= start:
                    yield line.removesuffix("\n").removesuffix("\r")
        return
    with open(path, "rb") as f:
        for i, raw in enumerate(f):  # binary lines end at b"\n" only
            if i < start:
                continue
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise FormatError(
                    f"bytes {raw[e.start:e.end + 8]!r} are not valid {encoding} ({e.reason}); name the file's "
                    "encoding (--encoding / encoding=, e.g. latin-1)",
                    path,
                    i + 1,
                ) from None
            if i == 0:
                line = line.removeprefix("\ufeff")
                if not line:
                    return  # the file is a BOM alone: no key
            yield line.removesuffix("\n").removesuffix("\r")


def count_keys(path: str | os.PathLike, encoding: str = "utf-8") -> int:
    """How many keys :func:`read_keys` finds in ``path`` (lines ending in ``\\n``, plus an unterminated last
    one), counted without holding the file. Raises ``FormatError`` with the line of undecodable bytes."""
    if not _splits_on_newline_byte(encoding):
        return sum(1 for _ in iter_keys(path, encoding))
    n, last, text = 0, b"\n", ""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                n += block.count(b"\n")
                last = block[-1:]
                text = decoder.decode(block)
        text += decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        for _ in iter_keys(path, encoding):  # raises naming the line
            pass
        raise FormatError(f"not valid {encoding} ({e.reason}); name the file's encoding (--encoding / encoding=, "
                          "e.g. latin-1)", path) from None
    if n == 0 and text == "\ufeff":
        return 0  # a BOM alone: no key
    return n + (0 if last == b"\n" else 1)


def keys_path_for(path: str | os.PathLike) -> Path:
    """Where :func:`write_npy` puts the keys of ``<stem>.npy``: ``<stem>.keys.txt``."""
    p = Path(path)
    return p.with_name(p.stem + KEY_SUFFIXES[0])


def find_sibling_keys(path: str | os.PathLike) -> Path | None:
    """``<stem>.keys.txt``, ``<stem>.vocab`` or ``<stem>.txt`` next to ``path``, the first that exists."""
    p = Path(path)
    for suffix in KEY_SUFFIXES:
        cand = p.with_name(p.stem + suffix)
        if cand != p and cand.is_file():
            return cand
    return None


def check_sibling_keys(keys_path: str | os.PathLike, array_path: str | os.PathLike) -> None:
    """Refuse a keys file found beside ``array_path`` that holds vectors rather than keys (e.g. a GloVe
    ``emb.txt`` beside ``emb.npy``): its first lines (after an ``N D`` header) all hold a word followed by
    the same number (two or more) of numbers, as vector rows do. A keys file holds one key per line."""
    with open(keys_path, "rb") as f:
        head = f.read(SIBLING_SAMPLE_BYTES)
    lines = head.split(b"\n")
    if len(head) == SIBLING_SAMPLE_BYTES:
        lines.pop()  # may be cut short
    lines = [ln for ln in lines if ln.strip()][:SIBLING_SAMPLE_LINES]
    if lines and len(lines[0].split()) == 2 and all(t.isdigit() for t in lines[0].split()):
        lines = lines[1:]  # a word2vec "N D" header
    widths = {len(ln.split()) for ln in lines}
    if len(widths) != 1 or widths.pop() < 3 or not all(is_number(t) for ln in lines for t in ln.split()[1:]):
        return
    n_values = len(lines[0].split()) - 1
    raise FormatError(
        f"{keys_path}, found beside the array as its keys file, looks like a vectors file (each of its first "
        f"{len(lines)} lines holds a word and {n_values} numbers), not one key per line; move or rename it (the "
        f"array's keys are then row numbers), or put the keys, one per line, in {keys_path_for(array_path).name} "
        "(looked for first) or pass keys_path=",
        array_path,
    )


#: a line of a word2vec ``-save-vocab`` file (``word count``), which a keys file is not
_COUNTED_KEY = re.compile(r"\S+[ \t]+\d+")
#: keys looked at to tell a vocabulary-with-counts file from a keys file while streaming
COUNTED_SAMPLE = 1000


def warn_counted_keys(keys: Iterable[str], keys_path: str | os.PathLike, sampled: bool = False) -> None:
    """Warn (:class:`ReadWarning`, naming ``keys_path``) when every one of ``keys`` (the first lines of the file,
    when ``sampled``) has the form ``key count``, as a word2vec ``-save-vocab`` file has: keys are whole lines, so
    the counts become part of the keys."""
    keys = list(keys)
    if not keys or not all(_COUNTED_KEY.fullmatch(k) for k in keys):
        return
    name = Path(keys_path).name
    lines = f"each of its first {len(keys)} lines" if sampled else f"every line ({len(keys)})"
    warnings.warn(
        f"{keys_path}: {lines} has the form 'key count' (e.g. {keys[0]!r}), as a vocabulary file with counts (word2vec "
        f"-save-vocab) has, but keys are whole lines, so the keys read are {keys[0]!r}, ...; if the numbers are not "
        f"part of the keys, keep only the first field (e.g. cut -d' ' -f1 {name} > KEYS.txt) and read that",
        ReadWarning,
        stacklevel=3,
    )


def keys_count_error(keys_path: str | os.PathLike, n_keys: int, n_rows: int, array_path: str | os.PathLike,
                     tail: list[str] | None = None) -> FormatError:
    """The error for a keys file of ``n_keys`` keys beside an array of ``n_rows`` rows; ``tail``: its keys after
    the first ``n_rows`` (when more), to say that the extra lines are blank."""
    message = (f"keys file {keys_path} holds {n_keys} keys but the array has {n_rows} rows; each row needs exactly "
               "one key (one per line)")
    if tail and n_keys > n_rows and all(not k.strip() for k in tail):
        first = n_rows + 1
        lines = f"line {first} is" if len(tail) == 1 else f"lines {first}-{n_keys} are"
        message += f": {lines} blank (remove the blank line{'s' if len(tail) > 1 else ''} at the end of the file)"
    return FormatError(message, array_path)


def _check_matrix(arr_shape: tuple[int, ...], dtype: np.dtype, path: str, what: str) -> None:
    if len(arr_shape) != 2:
        raise FormatError(f"{what} has shape {arr_shape}; expected a 2-D (rows, dim) array", path)
    if arr_shape[1] == 0:
        raise FormatError(f"{what} has shape {arr_shape}: its rows hold no values", path)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise FormatError(f"{what} has dtype {dtype}; expected a float (or integer) array", path)


def _rows_into_buffer(
    source, n: int, dim: int, policy: RowPolicy, keys: list[str] | None, limit: int | None, bar
) -> tuple[list[str], np.ndarray]:
    """Copy rows of ``source`` (array-like, sliceable) block by block, skipping non-finite rows
    and duplicate keys per the policy, stopping after ``limit`` kept rows."""
    buf = RowBuffer(dim, n if limit is None else min(n, limit))
    out_keys: list[str] = []
    r = 0
    while r < n and (limit is None or len(out_keys) < limit):
        raw = source[r : r + BLOCK_ROWS]
        block = to_float32(raw)
        finite = np.isfinite(block).all(axis=1)
        keep = np.zeros(block.shape[0], dtype=bool)
        used = block.shape[0]
        for j in range(block.shape[0]):
            row = r + j
            key = keys[row] if keys is not None else str(row)
            if not finite[j]:
                policy.bad("non_finite", row, f"key {key!r} {beyond_float32(raw[j]) or 'holds NaN or Inf'}")
                continue
            if keys is not None and not policy.accept_key(key, row):
                continue
            out_keys.append(key)
            keep[j] = True
            if limit is not None and len(out_keys) >= limit:
                used = j + 1
                break
        buf.append(block[:used][keep[:used]])
        r += used
        bar.update(used)
    policy.report.seen = r
    policy.report.stopped_at_limit = r < n
    return out_keys, buf.finish()


def _resolve_keys(
    path: str, n: int, keys_path: str | os.PathLike | None, encoding: str, policy: RowPolicy
) -> tuple[list[str] | None, str | None]:
    if keys_path is None:
        found = find_sibling_keys(path)
        if found is None:
            return None, None
        check_sibling_keys(found, path)
        keys_path = found
    keys = read_keys(keys_path, encoding)
    if len(keys) != n:
        raise keys_count_error(keys_path, len(keys), n, path, keys[n:])
    warn_counted_keys(keys, keys_path)
    return keys, os.fspath(keys_path)


def read_npy(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    on_error: str = "raise",
    encoding: str = "utf-8",
    keys_path: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> tuple[list[str], np.ndarray, ReadReport, dict]:
    """Read a 2-D ``.npy`` (memory-mapped; only the rows kept are copied) and its keys.

    Keys come from ``keys_path``, else a sibling ``<stem>.keys.txt`` / ``<stem>.vocab`` /
    ``<stem>.txt``, else row numbers ``"0", "1", ...``. Rows are reported 0-based.
    Returns ``(keys, vectors, report, extra_meta)``.
    """
    spath = os.fspath(path)
    report = ReadReport(path=spath, format="npy", unit="row")
    policy = RowPolicy(spath, on_error, report)
    try:
        arr = np.load(spath, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise FormatError(f"not a readable .npy file: {e}", spath) from None
    if not isinstance(arr, np.ndarray):  # np.load opens zip archives as NpzFile
        if hasattr(arr, "close"):
            arr.close()
        raise FormatError("this is an .npz (zip) archive, not a single .npy array; read it as npz", spath)
    _check_matrix(arr.shape, arr.dtype, spath, "the array")
    n, dim = arr.shape
    keys, ksrc = _resolve_keys(spath, n, keys_path, encoding, policy)
    with progress_bar(n if limit is None else min(n, limit), f"reading {Path(spath).name}", progress, unit="rows") as bar:
        out_keys, vectors = _rows_into_buffer(arr, n, dim, policy, keys, limit, bar)
    del arr
    policy.finish(len(out_keys), stacklevel=4)
    return out_keys, vectors, report, ({"keys_source": ksrc} if ksrc else {})


class _NpzMember:
    """Header of one array inside an npz, and a way to read its leading rows."""

    def __init__(self, zf: zipfile.ZipFile, name: str):
        self.zf, self.name = zf, name
        with zf.open(name) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                self.shape, self.fortran, self.dtype = np.lib.format.read_array_header_1_0(fp)
            else:
                self.shape, self.fortran, self.dtype = np.lib.format.read_array_header_2_0(fp)

    def read(self, rows: int | None = None) -> np.ndarray:
        """The array, or only its first ``rows`` rows (streamed; C order only)."""
        with self.zf.open(self.name) as fp:
            if rows is None or self.fortran or self.dtype.hasobject or len(self.shape) == 0:
                return np.lib.format.read_array(fp, allow_pickle=False)
            version = np.lib.format.read_magic(fp)
            (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(fp)
            rows = min(rows, self.shape[0])
            count = rows * int(np.prod(self.shape[1:], dtype=np.int64))
            data = fp.read(count * self.dtype.itemsize)
            return np.frombuffer(data, dtype=self.dtype, count=count).reshape((rows, *self.shape[1:]))


def read_npz(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    on_error: str = "raise",
    encoding: str = "utf-8",
    keys_path: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> tuple[list[str], np.ndarray, ReadReport, dict]:
    """Read an ``.npz``: array ``vectors`` (or its only 2-D array) and optional string array ``keys``.

    Without a ``keys`` array, keys come from ``keys_path`` or a sibling keys file as for
    npy, else row numbers. With ``limit`` only the leading rows are decompressed.
    """
    spath = os.fspath(path)
    report = ReadReport(path=spath, format="npz", unit="row")
    policy = RowPolicy(spath, on_error, report)
    try:
        zf = zipfile.ZipFile(spath)
    except zipfile.BadZipFile as e:
        raise FormatError(f"not a readable .npz (zip) file: {e}", spath) from None
    with zf:
        members = {}
        for info in zf.infolist():
            if info.filename.endswith(".npy"):
                try:
                    members[info.filename[:-4]] = _NpzMember(zf, info.filename)
                except ValueError as e:
                    raise FormatError(f"member {info.filename} is not a readable array: {e}", spath) from None
        if not members:
            raise FormatError("zip archive holds no .npy arrays; not an npz file", spath)
        if "vectors" in members:
            vname = "vectors"
        else:
            two_d = [k for k, m in members.items() if len(m.shape) == 2 and k != "keys"]
            if len(two_d) != 1:
                raise FormatError(
                    f"npz holds arrays {sorted(members)}; expected one named 'vectors' or exactly one 2-D array",
                    spath,
                )
            vname = two_d[0]
        vm = members[vname]
        _check_matrix(vm.shape, vm.dtype, spath, f"array {vname!r}")
        n, dim = vm.shape
        keys: list[str] | None = None
        ksrc = None
        if "keys" in members:
            km = members["keys"]
            if km.dtype.kind not in "US" or len(km.shape) != 1:
                raise FormatError(
                    f"array 'keys' has dtype {km.dtype} and shape {km.shape}; expected a 1-D string array "
                    "(object arrays need pickle, which vecbridge never loads)",
                    spath,
                )
            if km.shape[0] != n:
                raise FormatError(f"array 'keys' holds {km.shape[0]} keys for {n} rows of {vname!r}", spath)
            karr = km.read()
            if karr.dtype.kind == "S":
                keys = [b.decode(encoding) for b in karr.tolist()]
            else:
                keys = karr.tolist()
            ksrc = f"{spath}:keys"
        else:
            keys, ksrc = _resolve_keys(spath, n, keys_path, encoding, policy)
        arr = vm.read(limit)
        with progress_bar(arr.shape[0], f"reading {Path(spath).name}", progress, unit="rows") as bar:
            out_keys, vectors = _rows_into_buffer(arr, n if limit is None else arr.shape[0], dim, policy, keys, limit, bar)
        policy.report.stopped_at_limit = limit is not None and len(out_keys) >= limit and policy.report.seen < n
    policy.finish(len(out_keys), stacklevel=4)
    meta = {"npz_array": vname}
    if ksrc:
        meta["keys_source"] = ksrc
    return out_keys, vectors, report, meta


def _check_line_keys(keys: list[str]) -> None:
    for i, k in enumerate(keys):
        if "\n" in k or "\r" in k:
            raise FormatError(
                f"key {k!r} (row {i}) contains a line break, which a one-key-per-line keys file cannot hold; "
                "write npz or parquet instead"
            )


def write_npy(
    emb: Embeddings, path: str | os.PathLike, *, overwrite: bool = False, progress: bool | None = None
) -> Path:
    """Write ``<path>`` (the float32 matrix) and ``<stem>.keys.txt`` (one key per line, UTF-8)."""
    _check_line_keys(emb.keys)
    path = Path(path)
    kpath = keys_path_for(path)
    check_writable(path, overwrite)
    check_writable(kpath, overwrite)
    with atomic_output(kpath, overwrite, compress=False) as kf:
        kf.write("".join(k + "\n" for k in emb.keys).encode("utf-8"))
    with atomic_output(path, overwrite, compress=False) as f:
        with progress_bar(1, f"writing {path.name}", progress, unit="arrays") as bar:
            np.lib.format.write_array(f, emb.vectors, allow_pickle=False)
            bar.update(1)
    return path


def write_npz(
    emb: Embeddings, path: str | os.PathLike, *, overwrite: bool = False, progress: bool | None = None
) -> Path:
    """Write an uncompressed ``.npz`` with arrays ``vectors`` (float32) and ``keys`` (unicode)."""
    for i, k in enumerate(emb.keys):
        if k.endswith("\x00"):
            raise FormatError(f"key {k!r} (row {i}) ends with NUL, which numpy string arrays drop; write parquet")
    keys = np.array(emb.keys, dtype=str) if emb.keys else np.zeros(0, dtype="<U1")
    with atomic_output(path, overwrite, compress=False) as f:
        with progress_bar(1, f"writing {Path(path).name}", progress, unit="arrays") as bar:
            np.savez(f, vectors=emb.vectors, keys=keys)
            bar.update(1)
    return Path(path)
