"""``vecbridge embed``: encode texts with a bundled encoder and write the vectors."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from ..errors import FormatError, VecbridgeError
from .options import add_command, add_overwrite, add_quiet, check_output, encoding_name, info, positive_int

EXAMPLE = """  vecbridge embed --model minilm-l6 texts.txt -o vectors.parquet
  vecbridge embed --model e5-small --mode query questions.csv --text-column question --id-column qid -o q.npz
  vecbridge embed --model st:/models/my-sbert notes.parquet -o notes.vec"""


def add_parser(sub) -> None:
    p = add_command(sub, "embed", "Encode texts (one per line, or a Parquet/CSV column) into vectors.", EXAMPLE, run)
    p.add_argument("input", metavar="TEXTS", help=".txt (one text per line), .csv/.tsv or .parquet")
    p.add_argument("-o", "--output", required=True, help="output file; its extension picks the format "
                   "(.parquet, .npz, .npy, .vec, .txt, .bin)")
    p.add_argument("--encoder", "--model", "-m", dest="model", default="minilm-l6",
                   help="encoder name (see 'vecbridge data encoders') or st:/path/to/sentence-transformers/folder")
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


def read_texts(path: str | Path, text_column: str = "text", id_column: str | None = None,
               encoding: str = "utf-8") -> tuple[list[str], list[str], int]:
    """``(ids, texts, n_skipped_empty)`` from a text file, a CSV/TSV or a Parquet file.

    Empty texts are skipped (and counted); ids keep their original line/row numbers. ``encoding``: of
    text and CSV/TSV files.
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

    def add(key: Any, text: str, where: str) -> None:
        if key is None:
            raise FormatError(f"{where}: the id is null; every text needs an id (--id-column {id_column})", path)
        key = str(key)
        if key in seen:
            raise FormatError(f"{where}: duplicate id {key!r} (first at {seen[key]}); ids must be unique "
                              f"(--id-column {id_column})", path)
        seen[key] = where
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
            if t is None or not str(t).strip():
                skipped += 1
                continue
            add(k, str(t), f"row {row_no} (0-based)")
    elif suffix in (".csv", ".tsv"):
        with io.StringIO(_decoded(path, encoding), newline="") as f:
            # TSV has no quoting: a text that starts with a quote mark is text (csv's quoting would swallow the
            # following lines into it, or drop the marks)
            reader = (csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if suffix == ".tsv"
                      else csv.DictReader(f))
            fields = reader.fieldnames or []
            if text_column not in fields:
                raise FormatError(f"no column {text_column!r}; columns are {fields} (use --text-column)", path, 1)
            if id_column is not None and id_column not in fields:
                raise FormatError(f"no column {id_column!r}; columns are {fields} (use --id-column)", path, 1)
            try:
                for row_no, row in enumerate(reader):
                    t = row.get(text_column)
                    if t is None or not t.strip():
                        skipped += 1
                        continue
                    add(row[id_column] if id_column else row_no, t, f"line {reader.line_num}")
            except csv.Error as e:
                raise FormatError(f"not readable as {suffix[1:].upper()} ({e})", path, reader.line_num) from None
    else:
        from ..io.files import split_lines

        for line_no, t in enumerate(split_lines(_decoded(path, encoding)), 1):  # a lone \r splits no text
            if not t.strip():
                skipped += 1
                continue
            ids.append(str(line_no))
            texts.append(t)
    return ids, texts, skipped


def run(args) -> int:
    from ..embeddings import Embeddings
    from ..encoders import get_encoder
    from ..io import write_embeddings

    check_output(args.output, args.input)
    opts = {"mode": args.mode} if args.mode else {}
    encoder = get_encoder(args.model, **opts)
    ids, texts, skipped = read_texts(args.input, args.text_column, args.id_column, encoding=args.encoding)
    if not texts:
        raise VecbridgeError(f"{args.input}: no non-empty texts to encode ({skipped} empty skipped)")
    if skipped:
        info(args, f"{args.input}: skipped {skipped} empty texts")
    t0 = time.perf_counter()
    vecs = encoder.encode(texts, batch_size=args.batch_size, normalize=not args.no_normalize,
                          progress=False if args.quiet else True)
    secs = time.perf_counter() - t0
    emb = Embeddings(ids, vecs, {"name": encoder.name, "source": f"{args.input} encoded by {encoder.name}"})
    out = write_embeddings(emb, args.output, format=args.format, overwrite=args.overwrite)
    info(args, f"encoded {len(texts)} texts with {encoder.name} ({encoder.dim}-d) in {secs:.1f} s "
               f"({len(texts) / max(secs, 1e-9):.0f} sentences/s) -> {out}")
    return 0
