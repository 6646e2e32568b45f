"""``vecbridge embed``: encode texts with a bundled encoder and write the vectors."""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import FormatError, ParameterError, VecbridgeError
from .options import (
    add_command,
    add_overwrite,
    add_quiet,
    check_npy_keys_output,
    check_output,
    encoding_name,
    info,
    positive_int,
)

EXAMPLE = """  vecbridge embed --model minilm-l6 texts.txt -o vectors.parquet
  vecbridge embed --model e5-small --mode query questions.csv --text-column question --id-column qid -o q.npz
  vecbridge embed --model st:/models/my-sbert notes.parquet -o notes.vec"""

#: the longest input each bundled encoder reads, in tokens (longer texts are cut there), for ``embed --help``
TOKEN_LIMITS = "minilm-l3-onnx 128, minilm-l6 and minilm-l6-int8 256, static64 512"


def add_parser(sub) -> None:
    p = add_command(sub, "embed", "Encode texts (one per line, or a Parquet/CSV column) into vectors.", EXAMPLE, run)
    p.add_argument("input", metavar="TEXTS", help=".txt (one text per line), .csv/.tsv or .parquet")
    p.add_argument("-o", "--output", required=True, help="output file; its extension picks the format "
                   "(.parquet, .npz, .npy, .vec, .txt, .bin)")
    p.add_argument("--encoder", "--model", "-m", dest="model", default="minilm-l6",
                   help="encoder name (see 'vecbridge data encoders') or st:/path/to/sentence-transformers/folder; "
                        f"a text longer than the model reads is truncated ({TOKEN_LIMITS} tokens), and the "
                        "summary says how many were")
    p.add_argument("--mode", choices=["query", "passage"], default=None, help="e5 models only: the text prefix")
    p.add_argument("--text-column", default="text", help="column holding the texts (CSV/Parquet)")
    p.add_argument("--id-column", default=None,
                   help="column holding ids (CSV/Parquet); default: row numbers from 0 (tables) or line numbers "
                        "from 1 (.txt)")
    p.add_argument("--encoding", type=encoding_name, default="utf-8",
                   help="text encoding of a .txt/.csv/.tsv input (default utf-8), e.g. latin-1, cp1252")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="texts per forward pass (default: the model's)")
    p.add_argument("--no-normalize", action="store_true", help="keep the model's raw vector lengths")
    p.add_argument("--format", default=None, help="output format (default: from the extension)")
    add_overwrite(p, "OUTPUT")
    add_quiet(p)


def _decoded(path: Path, encoding: str) -> str:
    """The whole file as text; an undecodable byte is a :class:`FormatError` naming the line and ``--encoding``."""
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        hint = " (e.g. --encoding latin-1 or cp1252)" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else ""
        raise FormatError(
            f"byte {raw[e.start:e.start + 1]!r} is not valid {encoding} text ({e.reason}); "
            f"name the file's encoding with --encoding / encoding={hint}", path, line,
        ) from None
    return text.removeprefix("\ufeff")


def _allow_large_fields() -> None:
    """Let the csv module read fields of any length (its default limit is 131,072 characters)."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # a C long is smaller than sys.maxsize on some platforms
            limit //= 2


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_texts(path: str | Path, text_column: str = "text", id_column: str | None = None,
               encoding: str = "utf-8") -> tuple[list[str], list[str], int]:
    """``(ids, texts, n_skipped_empty)`` from a text file, a CSV/TSV or a Parquet file.

    Empty texts are skipped (and counted); ids keep their original line/row numbers. ``encoding``: of
    text and CSV/TSV files. A CSV/TSV row with more or fewer fields than the header, an empty or null id,
    and a Parquet cell that is not a string (a list, a number) are errors naming the line or row.
    """
    path = Path(path)
    if not path.exists():
        raise VecbridgeError(f"{path}: no such file")
    if path.is_dir():
        raise VecbridgeError(f"{path} is a folder; give a file of texts")
    suffix = path.suffix.lower()
    ids: list[str] = []
    texts: list[str] = []
    skipped = 0
    seen: dict[str, str] = {}  # id -> where it was first read

    def add(key: Any, text: str, where: str, line: int | None = None) -> None:
        if key is None:
            raise FormatError(f"{where}the id is null; every text needs an id (--id-column {id_column})", path, line)
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise FormatError(f"{where}the id is a {type(key).__name__} ({_describe(key)}), not a string or a "
                              f"whole number (--id-column {id_column})", path, line)
        key = str(key)
        if not key.strip():
            raise FormatError(f"{where}the id is empty; every text needs an id (--id-column {id_column})", path, line)
        if key in seen:
            raise FormatError(f"{where}duplicate id {key!r} (first at {seen[key]}); ids must be unique "
                              f"(--id-column {id_column})", path, line)
        seen[key] = where.removesuffix(": ") if line is None else f"line {line}"
        ids.append(key)
        texts.append(text)

    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError as e:
            raise VecbridgeError("reading Parquet needs pyarrow: pip install 'vecbridge[parquet]'") from e
        try:
            table = pq.read_table(path)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds for a file that is not Parquet
            raise FormatError(f"not a readable Parquet file ({type(e).__name__}: {e})", path) from None
        if text_column not in table.column_names:
            raise FormatError(f"no column {text_column!r}; columns are {table.column_names} (use --text-column)", path)
        col = table.column(text_column).to_pylist()
        if id_column is not None and id_column not in table.column_names:
            raise FormatError(f"no column {id_column!r}; columns are {table.column_names} (use --id-column)", path)
        id_col = table.column(id_column).to_pylist() if id_column else list(range(len(col)))
        for row_no, (k, t) in enumerate(zip(id_col, col)):
            where = f"row {row_no} (0-based): "
            if t is not None and not isinstance(t, str):
                raise FormatError(f"{where}the text is a {type(t).__name__} ({_describe(t)}), not a string; "
                                  f"--text-column {text_column} must name a column of strings", path)
            if t is None or not t.strip():
                skipped += 1
                continue
            add(k, t, where)
    elif suffix in (".csv", ".tsv"):
        kind = suffix[1:].upper()
        _allow_large_fields()
        with io.StringIO(_decoded(path, encoding), newline="") as f:
            # TSV has no quoting: a text that starts with a quote mark is text (csv's quoting would swallow the
            # following lines into it, or drop the marks)
            reader = (csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if suffix == ".tsv" else csv.reader(f))

            def next_row() -> tuple[list[str] | None, int]:
                """The next record and the line it starts on (a record may span lines inside quotes)."""
                start = reader.line_num + 1
                try:
                    return next(reader), start
                except StopIteration:
                    return None, start
                except csv.Error as e:
                    raise FormatError(f"not readable as {kind} ({e})", path, reader.line_num) from None

            fields: list[str] = []
            while not fields:  # blank lines before the header
                row, _ = next_row()
                if row is None:
                    break
                fields = row
            for name, flag in ((text_column, "--text-column"), (id_column, "--id-column")):
                if name is None:
                    continue
                if name not in fields:
                    raise FormatError(f"no column {name!r}; columns are {fields} (use {flag})", path, reader.line_num)
                if fields.count(name) > 1:
                    raise FormatError(f"the header names column {name!r} {fields.count(name)} times; which one is "
                                      f"meant? Rename the others", path, reader.line_num)
            ti = fields.index(text_column)
            ii = fields.index(id_column) if id_column is not None else None
            sep = "a tab" if suffix == ".tsv" else 'a comma (quote such a field: "a, b")'
            row_no = 0
            while True:
                row, line = next_row()
                if row is None:
                    break
                if not row:  # a blank line: an empty text
                    skipped += 1
                    continue
                if len(row) != len(fields):
                    more = (f"; a field holding {sep} splits in two" if len(row) > len(fields)
                            else f"; its {text_column!r} field is missing" if ti >= len(row) else "")
                    raise FormatError(f"{len(row)} field{'s' if len(row) != 1 else ''} where the header has "
                                      f"{len(fields)} ({', '.join(fields)}){more}", path, line)
                t = row[ti]
                if not t.strip():
                    skipped += 1
                    row_no += 1
                    continue
                add(row[ii] if ii is not None else row_no, t, "", line)
                row_no += 1
    else:
        from ..io.files import split_lines

        for line_no, t in enumerate(split_lines(_decoded(path, encoding)), 1):  # a lone \r splits no text
            if not t.strip():
                skipped += 1
                continue
            ids.append(str(line_no))
            texts.append(t)
    return ids, texts, skipped


def lone_carriage_returns(texts: list[str]) -> tuple[int, int]:
    """``(characters, texts)``: how many lone ``\\r`` (old Mac line endings; not part of ``\\r\\n``) the texts hold,
    and in how many texts."""
    n_chars = n_texts = 0
    for t in texts:
        if "\r" in t:
            n = t.count("\r") - t.count("\r\n")
            if n:
                n_chars += n
                n_texts += 1
    return n_chars, n_texts


def check_encoder_options(args) -> None:
    """``--model`` / ``--mode`` as usage errors (exit code 2), before any file is read."""
    from ..encoders import REGISTRY, option_names

    name = args.model
    if name.startswith("st:"):
        if args.mode:
            raise ParameterError(f"--mode is for e5 encoders only; {name} is a sentence-transformers folder")
        return
    if name not in REGISTRY:
        raise ParameterError(f"--model {name!r} is not an encoder; choose from {', '.join(REGISTRY)} or "
                             "st:/path/to/sentence-transformers/folder")
    if args.mode:
        fixed = REGISTRY[name].defaults.get("mode")
        if fixed is not None:
            base = "e5-small-enpt" if "enpt" in name else "e5-small"
            raise ParameterError(f"--mode {args.mode}: the encoder {name} is always in {fixed} mode; give "
                                 f"--model {base} --mode {args.mode}")
        if "mode" not in option_names(name):
            takes = [n for n in REGISTRY if "mode" in option_names(n)]
            raise ParameterError(f"--mode is for e5 encoders only ({', '.join(takes)}); the encoder {name} takes "
                                 "no mode")


def check_embed_output(args) -> str:
    """``-o`` and ``--format`` before any encoding: the format (returned), no folder, no existing file (nor the
    ``<stem>.keys.txt`` an ``.npy`` writes beside it) unless ``--overwrite``."""
    from ..atomic import check_writable
    from ..io.detect import FORMATS, canonical_format, format_from_extension

    out = Path(args.output)
    if out.is_dir():
        raise VecbridgeError(f"-o {args.output} is a folder; give the file to write (e.g. {out / 'vectors.parquet'})")
    if args.format is not None:
        try:
            fmt = canonical_format(args.format)
        except FormatError:
            raise ParameterError(f"--format {args.format!r} is not a format; choose one of {', '.join(FORMATS)}") \
                from None
    else:
        fmt = format_from_extension(out)
        if fmt is None:
            raise ParameterError(f"-o {args.output}: cannot tell the format from the file name; end it in .parquet, "
                                 ".npz, .npy, .vec, .txt or .bin, or name it with --format")
    if out.name.lower().endswith(".gz") and fmt not in ("word2vec", "glove", "word2vec-binary"):
        raise ParameterError(f"-o {args.output}: gzip output is for text and word2vec binary only, not {fmt}")
    check_writable(out, args.overwrite)
    if fmt == "npy":  # and the keys file written beside it
        check_npy_keys_output(out, args.overwrite, f"-o {args.output}")
    return fmt


def run(args) -> int:
    from ..embeddings import Embeddings
    from ..encoders import get_encoder
    from ..io import write_embeddings

    check_encoder_options(args)
    check_output(args.output, args.input)
    fmt = check_embed_output(args)  # before any encoding
    opts = {"mode": args.mode} if args.mode else {}
    encoder = get_encoder(args.model, **opts)
    ids, texts, skipped = read_texts(args.input, args.text_column, args.id_column, encoding=args.encoding)
    if not texts:
        raise VecbridgeError(f"{args.input}: no non-empty texts to encode ({skipped} empty skipped)")
    if skipped:
        info(args, f"{args.input}: skipped {skipped} empty texts")
    if Path(args.input).suffix.lower() not in (".csv", ".tsv", ".parquet", ".pq"):
        n_cr, n_texts = lone_carriage_returns(texts)
        if n_cr:
            print(f"vecbridge embed: warning: {args.input}: {n_cr} lone carriage returns (\\r, old Mac line endings) "
                  f"in {n_texts} of the {len(texts)} texts; lines end at \\n only, so each of those texts holds "
                  "several lines (convert the file, e.g. tr '\\r' '\\n', to encode one text per line)",
                  file=sys.stderr)
    t0 = time.perf_counter()
    vecs = encoder.encode(texts, batch_size=args.batch_size, normalize=not args.no_normalize,
                          progress=False if args.quiet else True)
    secs = time.perf_counter() - t0
    cut, limit = encoder.last_truncated, encoder.max_tokens
    if cut:
        print(f"vecbridge embed: warning: {cut} of the {len(texts)} texts are longer than {limit} tokens, the most "
              f"{encoder.name} reads; they were truncated there (their vectors miss the rest)", file=sys.stderr)
    emb = Embeddings(ids, vecs, {"name": encoder.name, "source": f"{args.input} encoded by {encoder.name}"})
    out = write_embeddings(emb, args.output, format=fmt, overwrite=args.overwrite)
    if cut is not None and limit:
        truncated = f"; {cut} truncated at {limit} tokens" if cut else f"; none over the {limit}-token limit"
    else:
        truncated = f"; texts over {limit} tokens truncated (not counted)" if limit else ""
    info(args, f"encoded {len(texts)} texts with {encoder.name} ({encoder.dim}-d) in {secs:.1f} s "
               f"({len(texts) / max(secs, 1e-9):.0f} sentences/s){truncated} -> {out}")
    return 0
