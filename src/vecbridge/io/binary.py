"""word2vec binary: an ``N D`` text header line, then per row the key's bytes, a
space, ``D`` little-endian float32 values and (usually) a newline."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..embeddings import Embeddings
from ..errors import FormatError
from ..atomic import atomic_output
from ..progress import progress_bar
from .files import RowBuffer, open_input
from .read_report import ReadReport, RowPolicy
from .text import MAX_BLIND_BYTES, parse_header, check_text_keys

READ_BYTES = 8 << 20
#: a key longer than this (no space found) means the file is not word2vec binary
MAX_KEY_BYTES = 1 << 16
_SKIP = b"\n\r"
#: a byte that no key holds (whitespace separates fields; the other control characters are not text)
_CONTROL_BYTE = re.compile(rb"[\x00-\x1f\x7f]")


def read_binary(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    on_error: str = "raise",
    encoding: str = "utf-8",
    progress: bool | None = None,
) -> tuple[list[str], np.ndarray, ReadReport]:
    """Read word2vec binary. Returns ``(keys, vectors (n, d) float32, report)``.

    Bad rows are located by record number (1-based, header excluded) and byte offset.
    """
    spath = os.fspath(path)
    report = ReadReport(path=spath, format="word2vec-binary", unit="record")
    policy = RowPolicy(spath, on_error, report)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    with open_input(path) as (f, size), progress_bar(size, f"reading {Path(spath).name}", progress, unit="B") as bar:
        header = f.readline()
        if not header:
            raise FormatError("file is empty", spath, 1)
        n_header, dim = parse_header(header, spath)
        report.header_rows, report.header_dim = n_header, dim
        rec = 4 * dim
        dim_hint = (f"check the header's dimension (line 1 says {dim} values per record; a wrong one shifts every "
                    "record after the first)")
        cap = min(n_header, MAX_BLIND_BYTES // rec) if size is None else min(n_header, size // (rec + 2) + 1)
        buf = RowBuffer(dim, cap if limit is None else min(cap, limit))
        keys: list[str] = []
        data = b""
        pos = 0
        offset = len(header)  # file offset of data[0]
        eof = False
        r = 0  # records consumed
        batch = max(1, READ_BYTES // rec)
        while r < n_header and (limit is None or len(keys) < limit):
            # gather a batch of complete records from the buffer
            starts: list[int] = []
            keys_b: list[bytes] = []
            while r + len(starts) < n_header:
                while pos < len(data) and data[pos] in _SKIP:
                    pos += 1
                sp = data.find(b" ", pos, pos + MAX_KEY_BYTES)
                if sp < 0 or sp + 1 + rec > len(data):
                    if eof:
                        break
                    if len(data) - pos > MAX_KEY_BYTES and sp < 0:
                        raise FormatError(
                            f"record {r + len(starts) + 1} (byte offset {offset + pos}): no space after a key "
                            f"within {MAX_KEY_BYTES} bytes; not a word2vec binary file?",
                            spath,
                        )
                    if starts:
                        break  # process what we have, then read more
                    more = f.read(READ_BYTES)
                    bar.update(len(more))
                    offset += pos
                    data = data[pos:] + more
                    pos = 0
                    eof = not more
                    continue
                keys_b.append(data[pos:sp])
                starts.append(sp + 1)
                pos = sp + 1 + rec
                if len(starts) >= batch:
                    break
            if not starts:
                break  # end of data
            raw = b"".join([data[s : s + rec] for s in starts])
            if r == 0 and _looks_like_text(raw):
                raise FormatError(
                    "the records hold text (digits and spaces), not float32 bytes: this looks like a word2vec "
                    "text file (.vec); read it as text (--in-format word2vec / format='word2vec', or leave the "
                    "format out to detect it)",
                    spath,
                )
            block = np.frombuffer(raw, dtype="<f4").reshape(len(starts), dim).astype(np.float32, copy=False)
            finite = np.isfinite(block).all(axis=1)
            keep = np.zeros(len(starts), dtype=bool)
            for j, kb in enumerate(keys_b):
                where = r + j + 1
                if _CONTROL_BYTE.search(kb):  # float bytes read as a key: the records are out of step
                    policy.bad(
                        "bad_encoding",
                        where,
                        f"key {kb[:40]!r} (byte offset {offset + starts[j] - len(kb) - 1}) holds control bytes, "
                        f"which no key has; {dim_hint}",
                    )
                    continue
                try:
                    key = kb.decode(encoding)
                except UnicodeDecodeError as e:
                    policy.bad(
                        "bad_encoding",
                        where,
                        f"key {kb[:40]!r} (byte offset {offset + starts[j] - len(kb) - 1}) is not valid {encoding} "
                        f"({e.reason}); name the file's encoding (--encoding / encoding=, e.g. latin-1), or "
                        f"{dim_hint}",
                    )
                    continue
                if not finite[j]:
                    policy.bad("non_finite", where, f"key {kb[:40]!r} holds NaN or Inf")
                    continue
                if not policy.accept_key(key, where):
                    continue
                keys.append(key)
                keep[j] = True
                if limit is not None and len(keys) >= limit:
                    keep[j + 1 :] = False
                    keys_b = keys_b[: j + 1]
                    break
            buf.append(block[keep])
            r += len(keys_b)
        report.seen = r
        report.stopped_at_limit = limit is not None and len(keys) >= limit and r < n_header
        # records have no end mark: a count that disagrees with the header means records out of step, so it is
        # an error even when bad rows are skipped; only a file cut short whose records were all in step (no key
        # of control or undecodable bytes) is read up to the cut with on_error="skip", with a note
        if not report.stopped_at_limit:
            if r < n_header:
                message = f"the header says {n_header} records, but the file ends after {r} (truncated file?)"
                if report.skipped.get("bad_encoding"):
                    raise FormatError(f"{message[:-1]}, or records out of step: {dim_hint})", spath, 1)
                policy.file_level(message, 1)
            elif (data[pos:] + (b"" if eof else f.read(4096))).strip(b"\n\r\t "):
                raise FormatError(
                    f"the file continues after the {n_header} records the header announces (byte offset "
                    f"{offset + pos}): a wrong row count or dimension in the header, or not word2vec binary; "
                    f"{dim_hint}",
                    spath,
                    1,
                )
    vectors = buf.finish()
    policy.finish(len(keys), stacklevel=4)
    return keys, vectors, report


#: the bytes of numbers written as text ("-0.125 3e-05"), and the spaces and line ends between them
_NUMBER_TEXT = b"0123456789.+-eE \t\r\n"


def _looks_like_text(raw: bytes) -> bool:
    """Whether the first records' value bytes (up to 4 KiB of them) are numbers written as text: every byte a
    digit, sign, point, exponent letter or space, with spaces among them. Float32 bytes (16 or more) never are
    in practice."""
    head = raw[:4096]
    return len(head) >= 16 and b" " in head and not head.translate(None, _NUMBER_TEXT)


def write_binary(
    emb: Embeddings, path: str | os.PathLike, *, overwrite: bool = False, progress: bool | None = None
) -> Path:
    """Write word2vec binary (key, space, little-endian float32 values, newline per row)."""
    check_text_keys(emb.keys, "word2vec-binary")
    n, d = emb.vectors.shape
    le = emb.vectors.astype("<f4", copy=False)
    block = 65536
    with atomic_output(path, overwrite) as f, progress_bar(n, f"writing {Path(path).name}", progress, unit="rows") as bar:
        f.write(f"{n} {d}\n".encode())
        for s in range(0, n, block):
            parts = []
            for k, row in zip(emb.keys[s : s + block], le[s : s + block]):
                parts.append(k.encode("utf-8") + b" ")
                parts.append(row.tobytes())
                parts.append(b"\n")
            f.write(b"".join(parts))
            bar.update(min(block, n - s))
    return Path(path)
