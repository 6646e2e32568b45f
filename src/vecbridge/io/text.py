"""word2vec text (``N D`` header; fastText .vec) and GloVe text (no header).

Reading goes chunk by chunk over the raw bytes: each chunk's values are parsed
by one ``np.fromstring`` call on the joined value fields when every line of the
chunk has the expected number of fields, and line by line (to name the bad
line) otherwise. Rows land in a preallocated float32 buffer (exactly ``N`` rows
from the header; estimated from the file size for GloVe, grown in place).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import IO

import numpy as np

from ..embeddings import Embeddings
from ..errors import FormatError
from .detect import BOM
from ..atomic import atomic_output
from ..progress import progress_bar
from .files import RowBuffer, beyond_float32, open_input
from .read_report import ReadReport, RowPolicy

#: bytes per chunk of lines (``readlines`` hint)
CHUNK_BYTES = 8 << 20
#: first chunk is small: it fixes the GloVe dimension and the bytes-per-line estimate
FIRST_CHUNK_BYTES = 256 << 10
#: largest buffer allocated up front from a header alone (gzip: file size unknown)
MAX_BLIND_BYTES = 2 << 30
#: how floats are written: 9 significant digits make every float32 round-trip exactly
FLOAT_FORMAT = "%.9g"
#: characters that a key in a text format cannot hold: ASCII whitespace (fields are split on it) and the other
#: control characters (NUL, ESC, ...; no word holds one, and other tools stop at them or misread them)
_BAD_KEY_CHARS = re.compile("[ \x00-\x1f\x7f]")
#: the control bytes a key read from a text file may not hold (whitespace split the fields already)
_CONTROL_KEY_BYTES = re.compile(rb"[\x00-\x1f\x7f]")


def _parse_values(blob: bytes, dtype=np.float32) -> np.ndarray | None:
    """Whitespace-separated numbers -> float32 (or ``dtype``) array, or None when a token is not a number."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # numpy < 2.3 warns instead of raising
            return np.fromstring(blob, dtype=dtype, sep=" ")
    except (ValueError, DeprecationWarning):
        return None


def _first_bad_token(rest: bytes) -> bytes:
    for tok in rest.split():
        parsed = _parse_values(tok)
        if parsed is None or parsed.size != 1:
            return tok
    return b""


class _TextChunkReader:
    """Turns chunks of raw lines into checked rows; keeps the policy's counts."""

    def __init__(self, path: str, dim: int | None, dim_origin: str, policy: RowPolicy, encoding: str):
        self.path = path
        self.dim = dim
        self.dim_origin = dim_origin
        self.policy = policy
        self.encoding = encoding

    def chunk(self, lines: list[bytes], first_lineno: int, limit_left: int | None):
        """Parse ``lines`` (line ``first_lineno`` first).

        Returns ``(keys, vectors (k, dim) float32, linenos, used)``: ``linenos``
        are the line numbers of the chunk's non-blank lines, of which the first
        ``used`` were consumed (all, unless ``limit_left`` accepted rows were
        reached first).
        """
        policy = self.policy
        keys_b: list[bytes] = []
        rests: list[bytes] = []
        linenos: list[int] = []
        for i, ln in enumerate(lines):
            parts = ln.split(None, 1)
            if not parts:
                continue
            keys_b.append(parts[0])
            rests.append(parts[1].rstrip() if len(parts) == 2 else b"")
            linenos.append(first_lineno + i)
        m = len(rests)
        if self.dim is None:
            self.dim = self._guess_dim(rests)
        dim = self.dim
        counts = np.fromiter((r.count(b" ") + 1 if r else 0 for r in rests), dtype=np.int64, count=m)
        # rows are parsed (and memory taken) only for lines holding ``dim`` values, so that a header claiming
        # a huge dimension costs nothing before its rows contradict it
        ok = np.zeros(m, dtype=bool)
        fast = np.flatnonzero(counts == dim)
        fast_values: np.ndarray | None = None
        if fast.size:
            parsed = _parse_values(b" ".join([rests[i] for i in fast]))
            if parsed is not None and parsed.size == fast.size * dim:
                fast_values = parsed.reshape(-1, dim)
                ok[fast] = True
        problems: list[tuple[int, str, str]] = []  # (row in chunk, reason, message)
        slow: dict[int, np.ndarray] = {}  # rows parsed one by one (tabs, repeated spaces, a bad token)
        for i in np.flatnonzero(~ok):
            parsed = _parse_values(rests[i])
            if parsed is None:
                tok = _first_bad_token(rests[i])
                msg = f"value {tok[:40]!r} is not a number"
                n_fields = len(rests[i].split())
                if n_fields > dim:
                    msg += (f" ({n_fields} fields after the key {keys_b[i][:40]!r}, expected {dim}: a key containing "
                            "a space or a tab shows up this way)")
                problems.append((i, "non_numeric", msg))
            elif parsed.size != dim:
                problems.append((i, "ragged", self._ragged_message(parsed.size, keys_b[i])))
            else:
                slow[int(i)] = parsed
                ok[i] = True
        parsed_rows = ok.copy()  # the lines ``values`` holds, in order
        if not slow and fast_values is not None:
            values = fast_values  # the usual chunk: the lines were parsed at once, no copy
        else:
            values = np.empty((int(ok.sum()), dim), dtype=np.float32)  # one row per parsed line
            at = np.cumsum(ok) - 1  # row of values that each parsed line goes to
            if fast_values is not None:
                values[at[fast]] = fast_values
            for i, v in slow.items():
                values[at[i]] = v
        finite = np.zeros(m, dtype=bool)
        finite[parsed_rows] = np.isfinite(values).all(axis=1)
        for i in np.flatnonzero(ok & ~finite):
            why = beyond_float32(_parse_values(rests[i], np.float64)) or "holds NaN or Inf"
            problems.append((i, "non_finite", why))
            ok[i] = False
        problems.sort()
        # walk the rows in order: decode keys, drop duplicates, stop at the limit
        keys: list[str] = []
        keep = np.zeros(m, dtype=bool)
        p = 0
        used = m
        control = bool(_CONTROL_KEY_BYTES.search(b" ".join(keys_b)))  # rare: only then is each key looked at
        for i in range(m):
            while p < len(problems) and problems[p][0] == i:
                _, reason, msg = problems[p]
                policy.bad(reason, linenos[i], msg)
                p += 1
            if not ok[i]:
                continue
            if control and (bad := _CONTROL_KEY_BYTES.search(keys_b[i])):
                policy.bad(
                    "bad_key",
                    linenos[i],
                    f"key {keys_b[i][:40]!r} holds the control character {bad.group()!r}, which no key of a text "
                    "file holds (a damaged line?); fix or remove the line",
                )
                continue
            try:
                key = keys_b[i].decode(self.encoding)
            except UnicodeDecodeError as e:
                policy.bad(
                    "bad_encoding",
                    linenos[i],
                    f"key {keys_b[i][:40]!r} is not valid {self.encoding} ({e.reason}); "
                    "name the file's encoding (--encoding / encoding=, e.g. latin-1)",
                )
                continue
            if not policy.accept_key(key, linenos[i]):
                continue
            keys.append(key)
            keep[i] = True
            if limit_left is not None and len(keys) >= limit_left:
                used = i + 1
                break
        return keys, values[keep[parsed_rows]], linenos, used

    def _guess_dim(self, rests: list[bytes]) -> int:
        """GloVe: the most common number of values among the first lines."""
        counts = [len(r.split()) for r in rests[:1000]]
        if not counts:
            raise FormatError("no data lines", self.path)
        vals, freq = np.unique(counts, return_counts=True)
        dim = int(vals[np.argmax(freq)])
        if dim == 0:
            raise FormatError("lines hold a key but no values; is this a word list rather than vectors?", self.path, 1)
        self.dim_origin = f"most of the first {len(counts)} lines"
        return dim

    def _ragged_message(self, got: int, key: bytes) -> str:
        return (
            f"row {key[:40]!r} has {got} values, expected {self.dim} (from {self.dim_origin}); "
            "a key containing spaces also shows up this way"
        )


def parse_header(line: bytes, path: str) -> tuple[int, int]:
    """``(rows, dim)`` of a word2vec header line ``b"N D"`` (text and binary), else a FormatError naming ``path``."""
    fields = line.split()
    if len(fields) != 2 or not (fields[0].isdigit() and fields[1].isdigit()):
        raise FormatError(
            f"expected a header 'N D' (number of rows, dimension), found {line.rstrip()[:60]!r}; "
            "if the file has no header (GloVe), read it with format='glove'",
            path,
            1,
        )
    n, d = int(fields[0]), int(fields[1])
    if d < 1:
        raise FormatError(f"header says dimension {d}; it must be at least 1", path, 1)
    return n, d


def read_text(
    path: str | os.PathLike,
    fmt: str,
    *,
    limit: int | None = None,
    on_error: str = "raise",
    encoding: str = "utf-8",
    progress: bool | None = None,
) -> tuple[list[str], np.ndarray, ReadReport]:
    """Read word2vec text (``fmt="word2vec"``) or GloVe text (``fmt="glove"``).

    Returns ``(keys, vectors (n, d) float32, report)``.
    """
    spath = os.fspath(path)
    report = ReadReport(path=spath, format=fmt, unit="line")
    policy = RowPolicy(spath, on_error, report)
    with open_input(path) as (f, size):
        bar = progress_bar(size, f"reading {Path(spath).name}", progress, unit="B")
        with bar:
            return _read_stream(f, size, fmt, spath, limit, policy, encoding, bar)


def _read_stream(
    f: IO[bytes], size: int | None, fmt: str, path: str, limit: int | None, policy: RowPolicy, encoding: str, bar
) -> tuple[list[str], np.ndarray, ReadReport]:
    report = policy.report
    first = f.readline()
    if not first:
        raise FormatError("file is empty", path, 1)
    if first.startswith(BOM):
        first = first[len(BOM) :]
    bar.update(len(first))
    pending: list[bytes] = []
    lineno = 0  # lines consumed so far
    n_header: int | None = None
    if fmt == "word2vec":
        n_header, dim = parse_header(first, path)
        report.header_rows, report.header_dim = n_header, dim
        lineno = 1
        reader = _TextChunkReader(path, dim, "the header on line 1", policy, encoding)
    else:
        pending = [first]
        reader = _TextChunkReader(path, None, "", policy, encoding)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")

    keys: list[str] = []
    buf: RowBuffer | None = None
    data_lines = 0  # non-blank lines consumed (kept or skipped)
    hint = FIRST_CHUNK_BYTES
    stopped = limit == 0
    while not stopped:
        lines = pending + f.readlines(hint)
        pending = []
        hint = CHUNK_BYTES
        if not lines:
            break
        left = None if limit is None else limit - len(keys)
        ck, cv, linenos, used = reader.chunk(lines, lineno + 1, left)
        report.blank_lines += len(lines) - len(linenos)
        if buf is None and reader.dim is not None:
            nbytes = sum(map(len, lines))
            buf = RowBuffer(reader.dim, _capacity(n_header, limit, size, nbytes, len(lines), reader.dim))
        if n_header is not None and data_lines + used > n_header:
            over = linenos[n_header - data_lines]
            policy.file_level(
                f"the header on line 1 says {n_header} rows, but the file has more (row {n_header + 1} is on "
                f"line {over}); fix the header's row count",
                over,
            )
        data_lines += used
        keys.extend(ck)
        if buf is not None:
            buf.append(cv)
        lineno += len(lines)
        bar.update(sum(map(len, lines)))
        if limit is not None and len(keys) >= limit:
            # stopped early only if rows remain (if not, the end-of-file checks still apply)
            stopped = used < len(linenos) or _more_rows(f)
            break
    report.seen = data_lines
    report.stopped_at_limit = stopped
    if not stopped:
        if data_lines == 0 and n_header is None:
            raise FormatError("file holds no data lines", path, 1)
        if n_header is not None and data_lines < n_header:
            policy.file_level(
                f"the header on line 1 says {n_header} rows, but the file has {data_lines} data lines "
                "(truncated file, or a wrong header)",
                1,
            )
    dim = reader.dim if reader.dim is not None else max(1, len(first.split()) - 1)  # limit=0 on GloVe
    vectors = buf.finish() if buf is not None else np.empty((0, dim), dtype=np.float32)
    policy.finish(len(keys), stacklevel=5)
    return keys, vectors, report


def _more_rows(f: IO[bytes]) -> bool:
    """Whether a non-blank line remains (reads past blank lines only)."""
    for ln in iter(f.readline, b""):
        if ln.strip():
            return True
    return False


def _capacity(n_header: int | None, limit: int | None, size: int | None, nbytes: int, nlines: int, dim: int) -> int:
    if n_header is not None:
        cap = n_header
        # guard a bogus header: each value needs at least 2 bytes; unknown size (gzip): start at most
        # at 2 GiB and grow
        cap = min(cap, size // (2 * dim) + 1) if size is not None else min(cap, MAX_BLIND_BYTES // (4 * dim))
    elif size is not None and nlines:
        cap = int(size / (nbytes / nlines) * 1.02) + 16
    else:
        cap = 1 << 16
    if limit is not None:
        cap = min(cap, limit)
    return max(cap, 1)


# -- writing -------------------------------------------------------------------------------------


def check_text_keys(keys: list[str], fmt: str) -> None:
    """Keys must be non-empty and free of whitespace and other control characters (NUL, ESC, ...) to survive a
    text (or word2vec binary) file; raises ``FormatError`` naming the first bad key and its row (0-based)."""
    if all(keys) and not _BAD_KEY_CHARS.search("".join(keys)):
        return  # the usual case, checked at once
    for i, k in enumerate(keys):
        bad = _BAD_KEY_CHARS.search(k)
        if k and not bad:
            continue
        if not k:
            what = "is empty"
        elif bad.group() in " \t\n\r\x0b\x0c":
            what = "contains whitespace"
        else:
            what = f"contains the control character {bad.group()!r}"
        raise FormatError(
            f"key {k!r} (row {i}, 0-based) {what}, which the {fmt} format cannot represent (fields are separated "
            "by whitespace, and readers refuse control characters); replace it (e.g. spaces by '_') or write npy, "
            "npz or parquet instead"
        )


def write_text(
    emb: Embeddings, path: str | os.PathLike, fmt: str, *, overwrite: bool = False, progress: bool | None = None
) -> Path:
    """Write word2vec text (with ``N D`` header) or GloVe text; floats as ``%.9g`` (exact for float32)."""
    check_text_keys(emb.keys, fmt)
    n, d = emb.vectors.shape
    line_fmt = "%s " + " ".join([FLOAT_FORMAT] * d) + "\n"
    block = max(1, (1 << 20) // max(d, 1))
    with atomic_output(path, overwrite) as f, progress_bar(n, f"writing {Path(path).name}", progress, unit="rows") as bar:
        if fmt == "word2vec":
            f.write(f"{n} {d}\n".encode())
        for s in range(0, n, block):
            rows = emb.vectors[s : s + block].tolist()
            text = "".join([line_fmt % (k, *r) for k, r in zip(emb.keys[s : s + block], rows)])
            f.write(text.encode("utf-8"))
            bar.update(len(rows))
    return Path(path)
