"""Format names and detection from a file's content."""

from __future__ import annotations

import codecs
import gzip
import os
from pathlib import Path

from ..errors import FormatError
from .files import GZIP_MAGIC

#: the embeddings file formats ("fasttext" is an alias of "word2vec": .vec files are word2vec text)
FORMATS = ("word2vec", "glove", "fasttext", "word2vec-binary", "npy", "npz", "parquet")
#: every name ``format=`` accepts: ``FORMATS`` and gensim's ``KeyedVectors.save`` files (a Python pickle, read
#: and written through gensim; load only files you trust)
FORMAT_NAMES = FORMATS + ("gensim",)
CANONICAL = ("word2vec", "glove", "word2vec-binary", "npy", "npz", "parquet", "gensim")
ALIASES = {"fasttext": "word2vec", "word2vec-text": "word2vec", "word2vec_binary": "word2vec-binary", "kv": "gensim",
           "gensim-kv": "gensim"}
TEXT_FORMATS = ("word2vec", "glove")

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
PARQUET_MAGIC = b"PAR1"
FASTTEXT_BIN_MAGIC = (793712314).to_bytes(4, "little")
#: a Python pickle (protocol 2 or later) starts with this byte, then the protocol number
PICKLE_MAGIC = b"\x80"
#: what the start of a gensim ``KeyedVectors.save`` pickle names: the class's module
GENSIM_MARK = b"gensim.models"
BOM = b"\xef\xbb\xbf"

SAMPLE_BYTES = 1 << 16

_EXTENSIONS = {
    ".vec": "word2vec",
    ".w2v": "word2vec",
    ".txt": "word2vec",
    ".bin": "word2vec-binary",
    ".npy": "npy",
    ".npz": "npz",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".kv": "gensim",
    ".gensim": "gensim",
}
_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32)) + b"\x7f"


def canonical_format(name: str) -> str:
    """The canonical name for ``name`` (case-insensitive, aliases resolved)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in CANONICAL:
        raise FormatError(f"unknown format {name!r}; choose one of {', '.join(FORMAT_NAMES)}")
    return key


def format_from_extension(path: str | os.PathLike) -> str | None:
    """The format a file name suggests (``.txt`` -> word2vec text), or None."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _EXTENSIONS.get(Path(name).suffix)


def _is_int(tok: bytes) -> bool:
    return tok.isdigit()


def is_number(tok: bytes | str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def check_regular_file(path: str | os.PathLike) -> None:
    """Refuse what cannot be read as an embeddings file: a missing path (``FileNotFoundError``), a folder, or a
    pipe or device (``FormatError``: readers look at a file's start and then read it again from there)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    if p.is_dir():
        raise FormatError("is a directory; give an embeddings file", p)
    if not p.is_file():
        raise FormatError(
            "not a regular file (pipes and devices are not read, e.g. <(...) in a shell; save it to a file first)", p
        )


def _read_sample(path: str | os.PathLike) -> tuple[bytes, bool, bool]:
    """First bytes of the (decompressed) content, whether gzip, whether the sample is the whole content."""
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES + 1)
    if head[:2] == GZIP_MAGIC:
        with gzip.open(path, "rb") as g:
            try:
                head = g.read(SAMPLE_BYTES + 1)
            except (OSError, EOFError) as e:
                raise FormatError(f"gzip stream cannot be read: {e}", path) from None
        compressed = True
    else:
        compressed = False
    whole = len(head) <= SAMPLE_BYTES
    return head[:SAMPLE_BYTES], compressed, whole


def detect_format(path: str | os.PathLike) -> str:
    """Tell a file's embeddings format from its content.

    Returns one of ``"word2vec"`` (text with an ``N D`` header; fastText .vec
    files are this), ``"glove"`` (text, no header), ``"word2vec-binary"``,
    ``"npy"``, ``"npz"``, ``"parquet"``, ``"gensim"``. Magic bytes identify npy (``\\x93NUMPY``),
    npz (``PK``, a zip), parquet (``PAR1``) and gensim ``KeyedVectors.save`` files (a
    Python pickle naming gensim's classes); text is recognised by its first
    lines (a key holding a control character does not make text binary when the
    lines read as rows); gzip-compressed text and word2vec binary are looked into.
    The file extension only breaks a tie (a 1-dimensional file whose first line could
    be either a header or a row).

    Raises ``FileNotFoundError`` for a missing file; ``FormatError`` for a folder,
    a pipe or device, an empty file, a fastText ``.bin`` model, a pickle of anything
    but gensim vectors, or content that fits no format.
    """
    path = Path(path)
    check_regular_file(path)
    sample, compressed, whole = _read_sample(path)
    if not sample:
        raise FormatError("file is empty", path, 1 if not compressed else None)
    if sample.startswith(NPY_MAGIC) or sample[:4] in ZIP_MAGICS or sample[:4] == PARQUET_MAGIC:
        fmt = "npy" if sample.startswith(NPY_MAGIC) else "parquet" if sample[:4] == PARQUET_MAGIC else "npz"
        if compressed:
            raise FormatError(f"gzip-compressed {fmt} is not supported; decompress it first", path)
        return fmt
    if sample[:1] == PICKLE_MAGIC and sample[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        if GENSIM_MARK not in sample[:1024]:
            raise FormatError("this is a Python pickle that is not a gensim KeyedVectors file; vecbridge reads no "
                              "other pickles", path)
        if compressed:
            raise FormatError("gzip-compressed gensim files are not supported; decompress it first", path)
        return "gensim"
    if sample[:4] == FASTTEXT_BIN_MAGIC:
        raise FormatError(
            "this is a fastText .bin model, not a vectors file; use the model's .vec file, or load it with "
            "gensim.models.fasttext.load_facebook_vectors and convert with vecbridge.io.from_gensim",
            path,
        )
    if sample.startswith(BOM):
        sample = sample[len(BOM) :]
    first, nl, rest = sample.partition(b"\n")
    first_fields = first.split()
    if len(first_fields) == 2 and _is_int(first_fields[0]) and _is_int(first_fields[1]) and int(first_fields[1]) > 0:
        return _after_header(path, int(first_fields[0]), int(first_fields[1]), rest, whole)
    if len(first_fields) >= 2 and all(is_number(t) for t in first_fields[1:]):
        return "glove"
    if len(first_fields) >= 2 and not any(c in _CONTROL for c in first):
        # text rows whose values are not all numbers: still text; the reader names the bad line
        second = rest.partition(b"\n")[0].split()
        if len(second) == len(first_fields):
            return "glove"
    detail = ("cannot tell the format from the content: the first line is neither a 'N D' header nor "
              f"'key v1 v2 ...' (starts {first[:60]!r})")
    err = FormatError(f"{detail}; name the format (format= in Python; on the command line, that input's format "
                      f"option, e.g. --src-format or --in-format), one of {', '.join(FORMAT_NAMES)}", path, 1)
    err.undetected = detail  # for a caller that names its own option (the command line's --IN-format)
    raise err


def _is_printable_line(line: bytes, ends: bool) -> bool:
    """Whether ``line`` reads as a line of text: UTF-8, no control character (NUL included) and, when ``ends``,
    complete (a line cut short by the sample may end inside a character)."""
    if any(c in _CONTROL for c in line):
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(line, final=ends)
    except UnicodeDecodeError:
        return False
    return True


def _text_rows(data: bytes, d: int, whole: bool, lines: int = 5) -> bool:
    """Whether the first (up to ``lines``) complete lines of ``data`` each read as a text row of ``d`` values:
    a key, then ``d`` numbers. Raw float32 records almost never do (their bytes are not digits and spaces)."""
    rows = [ln for ln in data.split(b"\n")[: lines + 1]]
    if not whole or len(rows) > lines:
        rows = rows[:-1]  # the last may be cut short by the sample
    rows = [ln for ln in rows if ln.strip()][:lines]
    if not rows:
        return False
    for ln in rows:
        fields = ln.split()
        if len(fields) != d + 1 or not all(is_number(t) for t in fields[1:]):
            return False
    return True


def _after_header(path: Path, n: int, d: int, rest: bytes, whole: bool) -> str:
    """First line is two integers: word2vec text, word2vec binary, or a 1-d GloVe row.

    Blank lines after the header are passed over (the text reader skips them too). A first data line that
    is printable text ending in a newline means text, whatever its fields (a key holding a space, a value
    that is not a number): the text reader then names the line. The extension only breaks ties.
    """
    data = rest.lstrip(b" \t\r\n")
    if not data:
        return "word2vec"
    line, nl, _ = data.partition(b"\n")
    fields = line.split()
    by_ext = format_from_extension(path)
    if any(c in _CONTROL for c in data[: 4 * d + 256]):
        if (d > 1 or by_ext != "word2vec-binary") and _text_rows(data, d, whole):
            return "word2vec"  # text rows, a key of which holds a control character: the reader names its line
        return "word2vec-binary"  # raw float bytes (text holds no control characters)
    numeric_tail = len(fields) > d and all(is_number(t) for t in fields[-d:])
    if len(fields) == d + 1 and numeric_tail:
        if d != 1:
            return "word2vec"
        # every line has two fields: "N 1" header + rows, or 1-d GloVe whose first key is an integer
        if whole:
            rows = sum(1 for ln in data.split(b"\n") if ln.strip())
            return "word2vec" if rows == n else "glove"
        return by_ext if by_ext in TEXT_FORMATS else "word2vec"
    if len(fields) >= 2 and all(is_number(t) for t in fields[1:]):
        # "7 3" then 1-d rows: GloVe whose first key is an integer; otherwise the header's
        # dimension is contradicted by the rows, which the word2vec reader reports
        return "glove" if len(fields) == 2 else "word2vec"
    if by_ext == "word2vec-binary" and not numeric_tail:
        return "word2vec-binary"  # raw float bytes that happen to hold no control character (a .bin file)
    ends = bool(nl) or whole  # the line ends at a newline or at the end of the file
    if by_ext in TEXT_FORMATS or (len(fields) >= 2 and _is_printable_line(line, ends)):
        return "word2vec"  # text whose first row the reader will name (e.g. a key holding a space)
    sp = data.find(b" ")
    if 0 < sp and len(data) >= sp + 1 + 4 * d:
        return "word2vec-binary"
    return "word2vec"
