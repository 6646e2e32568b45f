"""Chunked, resumable translation of Parquet and ``.npy`` files of any size.

:func:`translate_file` reads the input a chunk of rows at a time (pyarrow's
``ParquetFile.iter_batches`` for Parquet, a read-only memory map for ``.npy``),
applies the map's pure batch function, and writes the result, so memory stays
flat however many rows there are. Progress survives a crash:

- the work happens in a hidden folder beside the output,
  ``.<OUT name>.vecbridge-partial/``, holding numbered part files
  (``part-000000.parquet``, ...) or, for ``.npy`` output, the output array
  itself (written in place through a memory map), ``journal.json``, and the
  keys read so far (``keys-seen.jsonl``: a repeated key is refused, or skipped,
  at any row, also after a resume);
- the journal records the input (path, size, modification time), the map (a
  fingerprint of its weights and manifest), the columns, and how many rows are
  done. It is rewritten atomically (temporary file, fsync, rename) after each
  chunk has been written, so it never claims a row that is not on disk;
- a re-run with the same input, map and output continues after the last
  journalled chunk (parts written after it are discarded and redone), so no
  row is lost or written twice;
- at the end the parts are joined into OUT (written to a temporary name and
  renamed), and the folder is removed. An existing OUT is never replaced
  without ``overwrite=True`` (a replaced OUT keeps its permission bits);
- a run stopped by a bad row of the input (a ``FormatError`` naming the file and
  row) removes the folder too: a mended input is another input, never resumed;
- beside OUT a small completion record, ``.<OUT name>.vecbridge-done.json``,
  keeps what was done (input, map, rows, OUT's size and time), so a re-run of a
  finished translation says it is done and returns (the report's
  ``already_done``) instead of refusing.

Everything is checked before the first file is written: the options (a bad
``chunk_rows`` never reaches the journal), OUT differing from IN, the formats and
the map's dimension; missing parent folders of OUT are then created.

Parquet output keeps every column of a Parquet input as it is (the key column,
texts, metadata) and replaces the vector column by the translated vectors as
``fixed_size_list<float32>[d_out]``. Column detection follows
:func:`vecbridge.io.parquet.choose_columns`. ``.npy`` output writes the float32
matrix and, when keys are known, ``<stem>.keys.txt`` (as
:func:`vecbridge.io.write_embeddings` does).
"""

from __future__ import annotations

import codecs
import contextlib
import filecmp
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_json_atomic
from .errors import DimensionError, FormatError, ParameterError, ResumeMismatchError, VecbridgeError
from .io.files import beyond_float32, to_float32
from .progress import progress_bar

JOURNAL = "journal.json"
#: the keys read so far, in the work folder (see :class:`SeenKeys`)
SEEN_KEYS = "keys-seen.jsonl"
JOURNAL_VERSION = 1
PARTIAL_SUFFIX = ".vecbridge-partial"
DONE_SUFFIX = ".vecbridge-done.json"
#: formats :func:`translate_file` streams; others go through the in-memory readers
STREAM_FORMATS = ("parquet", "npy")
#: default working memory for one chunk (input + output floats, both as float32)
DEFAULT_MEMORY_MB = 128.0
MIN_CHUNK_ROWS = 1024
MAX_CHUNK_ROWS = 1 << 20


@dataclass
class StreamReport:
    """What :func:`translate_file` did.

    ``rows_read``: input rows seen in total (over all runs); ``rows_written``:
    rows in OUT; ``skipped``: rows left out by ``on_error="skip"``, per reason
    (``missing`` vector, ``non_finite`` values, ``ragged`` length, ``null_key``,
    ``duplicate_key``: a key an earlier row holds);
    ``resumed_from``: rows already done when this run started (0 for a fresh run);
    ``chunks``: chunks written by this run; ``already_done``: OUT was complete from an
    earlier run with the same input and map, and nothing was done.
    """

    input: str
    output: str
    input_format: str
    output_format: str
    n_rows: int
    dim_in: int
    dim_out: int
    chunk_rows: int
    rows_read: int = 0
    rows_written: int = 0
    resumed_from: int = 0
    chunks: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    first_skipped: list[str] = field(default_factory=list)
    key_column: str | None = None
    vector_column: str | None = None
    keys_path: str | None = None
    already_done: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.already_done:
            return (f"{self.output} is already complete ({self.rows_written} of {self.n_rows} rows translated from "
                    f"{self.input} with this map); nothing to do (--overwrite / overwrite=True translates again)")
        s = (
            f"translated {self.rows_written} of {self.n_rows} rows {self.dim_in}-d -> {self.dim_out}-d "
            f"into {self.output}"
        )
        if self.resumed_from:
            s += f" (resumed after row {self.resumed_from})"
        if any(self.skipped.values()):
            s += f"; skipped {sum(self.skipped.values())} rows {self.skipped}"
        return s


# -- small helpers ---------------------------------------------------------------------
def stream_format(path: str | os.PathLike, fmt: str | None = None) -> str | None:
    """``"parquet"`` / ``"npy"`` when ``path`` (or ``fmt``) is a format this module streams, else None."""
    from .io.detect import canonical_format, detect_format, format_from_extension

    if fmt is not None:
        f = canonical_format(fmt)
    else:
        f = format_from_extension(path)
        if f is None and Path(path).is_file():
            try:
                f = detect_format(path)
            except (FormatError, OSError):
                return None
    return f if f in STREAM_FORMATS else None


def chunk_rows_for(dim_in: int, dim_out: int, memory_budget_mb: float = DEFAULT_MEMORY_MB) -> int:
    """Rows per chunk so that one chunk's input and output floats take about ``memory_budget_mb``.

    The reader, the converted float32 copy, the normalised copy and the output
    each hold a chunk, so the budget is divided by four such copies.
    """
    per_row = 4 * (2 * dim_in + 2 * dim_out)
    rows = int(memory_budget_mb * (1 << 20) / max(per_row, 1))
    return int(min(MAX_CHUNK_ROWS, max(MIN_CHUNK_ROWS, rows)))


def map_fingerprint(translator: Any) -> str:
    """A short stable hash of a translator's weights and parameters (to check a resume)."""
    h = hashlib.sha256()
    h.update(type(translator).__name__.encode())
    try:
        h.update(json.dumps(translator.get_params(), sort_keys=True, default=str).encode())
    except Exception:  # noqa: BLE001 - parameters that do not serialise still leave the weights
        pass
    arrays = translator._state_arrays() if hasattr(translator, "_state_arrays") else {}
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    for name in ("n_features_in_", "n_features_out_", "scale_"):
        h.update(f"{name}={getattr(translator, name, None)}".encode())
    return h.hexdigest()[:32]


def output_space(translator: Any) -> str:
    """The space a streamed run writes (its journal records it, so that a resume keeps it): ``"map"``, the map's
    output space, or ``"target"``, the target model's own coordinates (``vecbridge translate --space target``,
    whose translator says so with ``output_space = "target"``)."""
    space = getattr(translator, "output_space", None)
    return space if isinstance(space, str) else "map"


def _input_signature(path: Path, keys_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Path, size and modification time of the input (and of the keys file it is read with, when it has one):
    a run is resumed, or taken for done, only over the same files."""
    st = path.stat()
    sig: dict[str, Any] = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if keys_path is not None:
        sig["keys"] = _input_signature(Path(keys_path))
    return sig


def _source_signature(source: Any) -> dict[str, Any]:
    return _input_signature(source.path, getattr(source, "keys_path", None))


def partial_dir_for(output: str | os.PathLike) -> Path:
    """The hidden working folder of a streaming run that writes ``output``."""
    out = Path(output)
    return out.parent / f".{out.name}{PARTIAL_SUFFIX}"


def done_record_for(output: str | os.PathLike) -> Path:
    """The completion record a finished streaming run leaves beside ``output``."""
    out = Path(output)
    return out.parent / f".{out.name}{DONE_SUFFIX}"


def _output_signature(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def check_stream_options(chunk_rows: Any, memory_budget_mb: Any, on_error: Any) -> None:
    """Refuse a bad option before anything is written (so it never reaches the journal)."""
    if chunk_rows is not None and (isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer))
                                   or chunk_rows < 1):
        raise ParameterError(f"chunk_rows must be a positive integer, got {chunk_rows!r} (--chunk-rows / chunk_rows=)")
    try:
        budget_ok = float(memory_budget_mb) > 0 and np.isfinite(float(memory_budget_mb))
    except (TypeError, ValueError):
        budget_ok = False
    if not budget_ok:
        raise ParameterError(f"memory_budget_mb must be a positive number, got {memory_budget_mb!r}")
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


# -- readers ---------------------------------------------------------------------------
@dataclass
class Chunk:
    """Rows ``[start, start + n)`` of the input: ``X`` (n, d) float32 and, for Parquet, the other columns."""

    start: int
    X: np.ndarray
    batch: Any = None  # pyarrow RecordBatch without the vector column (Parquet input)
    keys: list[str] | None = None  # keys from a keys file (.npy input)
    bad: dict[int, str] = field(default_factory=dict)  # row within the chunk -> reason (missing / ragged)
    raw: Any = None  # the vectors as stored (arrow column or array rows), to say why a row is not finite


def vectors_from_arrow(col: Any, dim: int | None, path: str, start: int) -> tuple[np.ndarray, dict[int, str]]:
    """An arrow list / fixed-size-list array of n vectors -> ((n, d) float32, {row: reason} of unusable rows).

    Null vectors and vectors of the wrong length become zero rows reported as
    ``missing`` / ``ragged`` (the caller raises or skips them). A finite value beyond float32
    range becomes Inf, without numpy's overflow warning (see :func:`vecbridge.io.files.beyond_float32`).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    bad: dict[int, str] = {}
    t = col.type
    if pa.types.is_fixed_size_list(t):
        d = t.list_size
        flat = col.values.slice(col.offset * d, n * d)
        X = to_float32(flat.to_numpy(zero_copy_only=False)).reshape(n, d)
        if col.null_count:
            nulls = np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))
            X = X.copy()
            X[nulls] = 0
            bad.update({int(i): "missing" for i in nulls})
        return X, bad
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
    nulls = col.is_null().to_numpy(zero_copy_only=False)
    lengths = np.where(nulls, -1, np.nan_to_num(lengths, nan=-1)).astype(np.int64)
    d = dim
    if d is None:
        good = lengths[lengths >= 0]
        if good.size == 0:
            raise FormatError(f"rows {start}..{start + n - 1}: no vector to tell the dimension from", path)
        vals, freq = np.unique(good, return_counts=True)
        d = int(vals[np.argmax(freq)])
    if (lengths == d).all():
        flat = pc.list_flatten(col)
        return to_float32(flat.to_numpy(zero_copy_only=False)).reshape(n, d), bad
    X = np.zeros((n, d), dtype=np.float32)
    offsets = col.offsets.to_numpy(zero_copy_only=False)
    values = to_float32(col.values.to_numpy(zero_copy_only=False))
    for i in range(n):
        if lengths[i] < 0:
            bad[i] = "missing"
        elif lengths[i] != d:
            bad[i] = "ragged"
        else:
            X[i] = values[offsets[i] : offsets[i] + d]
    return X, bad


class ParquetSource:
    """Chunks of a Parquet file: the vector column as float32, the other columns as arrow arrays."""

    format = "parquet"

    def __init__(self, path: Path, key_column: str | None = None, vector_column: str | None = None):
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .io.parquet import choose_columns

        self.path = path
        try:
            # pre_buffer=False: with pre-buffering pyarrow keeps every column chunk it has read
            # until the reader closes, so memory would grow with the file instead of staying flat
            self.pf = pq.ParquetFile(str(path), pre_buffer=False, memory_map=False)
        except (pa.ArrowInvalid, OSError) as e:
            raise FormatError(f"not a readable parquet file: {e}", path) from None
        schema = self.pf.schema_arrow
        self.schema = schema
        self.key_column, self.vector_column = choose_columns(schema, str(path), key_column, vector_column)
        vtype = schema.field(self.vector_column).type
        self.n_rows = int(self.pf.metadata.num_rows)
        self.dim = vtype.list_size if pa.types.is_fixed_size_list(vtype) else self._peek_dim()
        if self.dim == 0:
            from .io.parquet import empty_vectors_error

            raise empty_vectors_error(self.vector_column, path)
        self.other_columns = [n for n in schema.names if n != self.vector_column]

    def _peek_dim(self) -> int:
        for batch in self.pf.iter_batches(batch_size=1024, columns=[self.vector_column]):
            if batch.num_rows:
                import pyarrow.compute as pc

                lengths = pc.list_value_length(batch.column(0)).drop_null().to_numpy()
                if lengths.size:
                    vals, freq = np.unique(lengths, return_counts=True)
                    return int(vals[np.argmax(freq)])
        raise FormatError(f"column {self.vector_column!r} holds no vector to tell the dimension from", self.path)

    def chunks(self, start: int, chunk_rows: int) -> Iterator[Chunk]:
        import pyarrow as pa

        md = self.pf.metadata
        groups: list[int] = []
        skip, acc = 0, 0
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if acc + n > start:  # the group holds rows not done yet
                if not groups:
                    skip = start - acc  # its rows that are done already
                groups.append(g)
            acc += n
        if not groups:
            return
        pending: list[Any] = []
        n_pending = 0
        pos = start
        for batch in self.pf.iter_batches(batch_size=chunk_rows, row_groups=groups):
            if skip:
                if batch.num_rows <= skip:
                    skip -= batch.num_rows
                    continue
                batch = batch.slice(skip)
                skip = 0
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= chunk_rows:
                table = pa.Table.from_batches(pending)
                head, rest = table.slice(0, chunk_rows), table.slice(chunk_rows)
                yield self._chunk(pos, head)
                pos += chunk_rows
                pending = rest.to_batches() if rest.num_rows else []
                n_pending = rest.num_rows
        if n_pending:
            yield self._chunk(pos, pa.Table.from_batches(pending))

    def _chunk(self, pos: int, table: Any) -> Chunk:
        table = table.combine_chunks()
        vcol = table.column(self.vector_column)
        X, bad = vectors_from_arrow(vcol, self.dim, str(self.path), pos)
        others = table.select(self.other_columns)
        batch = others.to_batches()[0] if others.num_rows else None
        return Chunk(pos, X, batch=batch, bad=bad, raw=vcol)

    def key_at(self, chunk: Chunk, i: int) -> str:
        if chunk.batch is None:
            return str(chunk.start + i)
        return str(chunk.batch.column(self.key_column)[i].as_py())

    def keys_of(self, chunk: Chunk) -> list[str | None] | None:
        """The chunk's keys (None for a null key)."""
        if chunk.batch is None:
            return None
        return [None if k is None else str(k) for k in chunk.batch.column(self.key_column).to_pylist()]


class NpySource:
    """Chunks of a 2-D ``.npy`` read through a memory map; keys from a sibling keys file when there is one."""

    format = "npy"

    def __init__(self, path: Path, keys_path: str | os.PathLike | None = None, encoding: str = "utf-8"):
        from .io.arrays import (COUNTED_SAMPLE, check_sibling_keys, count_keys, find_sibling_keys, iter_keys,
                                keys_count_error, warn_counted_keys)

        self.path = path
        self.encoding = encoding
        try:
            self.arr = np.load(str(path), mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as e:
            raise FormatError(f"not a readable .npy file: {e}", path) from None
        if self.arr.ndim != 2:
            raise FormatError(f"expected a 2-D array (rows, dim), got shape {self.arr.shape}", path)
        if not np.issubdtype(self.arr.dtype, np.number):
            raise FormatError(f"expected a numeric array, got dtype {self.arr.dtype}", path)
        self.n_rows, self.dim = (int(s) for s in self.arr.shape)
        kp = Path(keys_path) if keys_path is not None else find_sibling_keys(path)
        if keys_path is None and kp is not None:
            check_sibling_keys(kp, path)
        self.keys_path = kp
        self.key_column, self.vector_column = None, None
        if kp is not None:
            n_keys = count_keys(kp, encoding)
            if n_keys != self.n_rows:
                tail = list(iter_keys(kp, encoding, self.n_rows)) if 0 < n_keys - self.n_rows <= 100 else None
                raise keys_count_error(kp, n_keys, self.n_rows, path, tail)
            sample = []
            for k in iter_keys(kp, encoding):
                sample.append(k)
                if len(sample) >= COUNTED_SAMPLE:
                    break
            warn_counted_keys(sample, kp, sampled=len(sample) < n_keys)

    def chunks(self, start: int, chunk_rows: int) -> Iterator[Chunk]:
        from .io.arrays import iter_keys

        keys_iter = iter_keys(self.keys_path, self.encoding, start) if self.keys_path is not None else None
        for s in range(start, self.n_rows, chunk_rows):
            e = min(s + chunk_rows, self.n_rows)
            with np.errstate(over="ignore"):  # a float64 beyond float32 range: Inf, named by _check_chunk
                X = np.array(self.arr[s:e], dtype=np.float32)
            keys = [next(keys_iter) for _ in range(e - s)] if keys_iter is not None else None
            yield Chunk(s, X, keys=keys, raw=self.arr[s:e])

    def key_at(self, chunk: Chunk, i: int) -> str:
        return chunk.keys[i] if chunk.keys is not None else str(chunk.start + i)

    def keys_of(self, chunk: Chunk) -> list[str | None] | None:
        """The chunk's keys from the keys file (None without one: the keys are row numbers)."""
        return chunk.keys


def open_source(path: str | os.PathLike, fmt: str | None = None, *, key_column: str | None = None,
                vector_column: str | None = None, keys_path: str | os.PathLike | None = None,
                encoding: str = "utf-8"):
    """A chunked reader (``ParquetSource`` / ``NpySource``) for ``path``; ``encoding``: of an .npy's keys file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p}")
    f = stream_format(p, fmt)
    if f == "parquet":
        return ParquetSource(p, key_column, vector_column)
    if f == "npy":
        return NpySource(p, keys_path, encoding)
    raise FormatError("streaming reads Parquet or .npy input only; read other formats with read_embeddings", p)


# -- writers ---------------------------------------------------------------------------
class ParquetParts:
    """Numbered Parquet part files in the work folder, joined into OUT at the end."""

    def __init__(self, work: Path, source: Any, dim_out: int, vector_column: str, key_column: str | None):
        import pyarrow as pa

        self.work = work
        self.dim_out = dim_out
        self.vector_column = vector_column
        self.key_column = key_column
        vfield = pa.field(vector_column, pa.list_(pa.float32(), dim_out))
        if isinstance(source, ParquetSource):
            fields = [source.schema.field(n) for n in source.other_columns]
            pos = source.schema.names.index(source.vector_column)
            fields.insert(pos, vfield)
        else:
            fields = [pa.field(key_column or "key", pa.string()), vfield]
        self.schema = pa.schema(fields)

    def part_path(self, i: int) -> Path:
        return self.work / f"part-{i:06d}.parquet"

    def write(self, i: int, chunk: Chunk, Y: np.ndarray, keep: np.ndarray | None) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = Y.shape[0]
        vec = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(Y).reshape(-1), type=pa.float32()),
                                                self.dim_out)
        arrays = []
        for f in self.schema:
            if f.name == self.vector_column:
                arrays.append(vec)
            elif chunk.batch is not None:
                col = chunk.batch.column(f.name)
                arrays.append(col.filter(pa.array(keep)) if keep is not None else col)
            else:
                keys = chunk.keys if chunk.keys is not None else [str(chunk.start + j) for j in range(len(keep) if keep is not None else n)]
                if keep is not None:
                    keys = [k for k, ok in zip(keys, keep) if ok]
                arrays.append(pa.array(keys, type=pa.string()))
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        tmp = self.part_path(i).with_suffix(".tmp")
        pq.write_table(table, str(tmp), compression="none")
        os.replace(tmp, self.part_path(i))
        return n

    def finalize(self, n_parts: int, output: Path, overwrite: bool, metadata: dict[str, str],
                 compression: str | None) -> None:
        import pyarrow.parquet as pq

        from .atomic import atomic_output

        schema = self.schema.with_metadata({**(self.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}})
        with atomic_output(output, overwrite, compress=False) as f:
            with pq.ParquetWriter(f, schema, compression=compression or "none") as writer:
                for i in range(n_parts):
                    part = pq.read_table(str(self.part_path(i)), memory_map=False, pre_buffer=False)
                    writer.write_table(part.replace_schema_metadata(schema.metadata))


class NpyOutput:
    """The output ``.npy`` written in place through a memory map (plus a keys file appended per chunk)."""

    def __init__(self, work: Path, n_rows: int, dim_out: int, with_keys: bool):
        self.work = work
        self.path = work / "out.npy"
        self.keys_file = work / "keys.txt" if with_keys else None
        self.n_rows, self.dim_out = n_rows, dim_out
        self.arr = None

    def open(self, fresh: bool) -> None:
        if fresh or not self.path.exists():
            self.arr = np.lib.format.open_memmap(str(self.path), mode="w+", dtype=np.float32,
                                                 shape=(self.n_rows, self.dim_out))
        else:
            self.arr = np.load(str(self.path), mmap_mode="r+")
            if self.arr.shape != (self.n_rows, self.dim_out):
                raise ResumeMismatchError(f"{self.path} has shape {self.arr.shape}, expected {(self.n_rows, self.dim_out)}")

    def truncate_keys(self, nbytes: int) -> None:
        if self.keys_file is not None and self.keys_file.exists():
            with open(self.keys_file, "r+b") as f:
                f.truncate(nbytes)

    def write(self, start: int, Y: np.ndarray, keys: list[str] | None) -> int:
        """Rows ``start...`` of the output, and their keys (checked by the caller: no line break)."""
        self.arr[start : start + Y.shape[0]] = Y
        self.arr.flush()
        if self.keys_file is not None:
            with open(self.keys_file, "ab") as f:
                f.write("".join(k + "\n" for k in keys or []).encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        return Y.shape[0]

    def keys_bytes(self) -> int:
        return self.keys_file.stat().st_size if self.keys_file is not None and self.keys_file.exists() else 0

    def finalize(self, output: Path, overwrite: bool, source_keys: Path | None,
                 encoding: str = "utf-8") -> Path | None:
        """Move the array to ``output`` and the keys beside it (``<stem>.keys.txt``): the keys gathered per chunk,
        or those of the input's keys file (``source_keys``, read in ``encoding``), written as the in-memory writer
        writes them: UTF-8, one per line, ``\\n`` endings, no byte-order mark. A replaced file keeps its
        permission bits."""
        from .io.arrays import keys_path_for
        from .atomic import check_writable, keep_mode

        self.arr.flush()
        del self.arr
        self.arr = None
        kout = keys_path_for(output)
        check_writable(output, overwrite)
        keys_src = self.keys_file
        if keys_src is None and source_keys is not None:
            keys_src = self.work / "keys-out.txt"
            _write_keys_utf8(source_keys, encoding, keys_src)
        if keys_src is not None:
            if keys_src == self.keys_file and not keys_src.exists() and kout.exists():
                pass  # moved there by an earlier run killed before it moved the array
            elif keys_src != self.keys_file and kout.exists() and filecmp.cmp(keys_src, kout, shallow=False):
                pass  # written there by an earlier run killed before it moved the array
            else:
                check_writable(kout, overwrite)
                keep_mode(keys_src, kout)
                os.replace(keys_src, kout)
        keep_mode(self.path, output)
        os.replace(self.path, output)
        return kout if keys_src is not None else None


def _write_keys_utf8(source: Path, encoding: str, dest: Path) -> None:
    """The keys of the keys file ``source`` (read as :func:`vecbridge.io.arrays.iter_keys` reads them) into
    ``dest`` as UTF-8 with ``\\n`` endings, synced to disk."""
    from .io.arrays import iter_keys

    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "wb") as f:
        block: list[str] = []
        for k in iter_keys(source, encoding):
            block.append(k + "\n")
            if len(block) >= 65536:
                f.write("".join(block).encode("utf-8"))
                block = []
        f.write("".join(block).encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest)


def _check_line_keys(keys: list[str | None] | None, chunk: Chunk, source: Any) -> None:
    """Refuse a key holding a line break before it reaches the keys file written beside an ``.npy`` (one key per
    line), naming the input file and the row (and the keys file's line, for an ``.npy`` input)."""
    for i, k in enumerate(keys or []):
        if k is not None and ("\n" in k or "\r" in k):
            row = chunk.start + i
            where = f"row {row} (0-based)"
            kp = getattr(source, "keys_path", None)
            if kp is not None:
                where += f", line {row + 1} of its keys file {kp}"
            raise FormatError(f"{where}: the key {k!r} holds a line break, which the keys file written beside an "
                              ".npy output (one key per line) cannot hold; write Parquet output instead (OUT ending "
                              "in .parquet), or fix the key", source.path)


# -- the driver ------------------------------------------------------------------------
def translate_file(
    translator: Any,
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    key_column: str | None = None,
    vector_column: str | None = None,
    output_vector_column: str | None = None,
    keys_path: str | os.PathLike | None = None,
    encoding: str = "utf-8",
    chunk_rows: int | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_MB,
    on_error: str = "raise",
    overwrite: bool = False,
    resume: bool = True,
    device: str = "cpu",
    compression: str | None = "none",
    progress: bool | None = None,
    on_chunk: Callable[[StreamReport], None] | None = None,
) -> StreamReport:
    """Translate a Parquet or ``.npy`` file of any size, in chunks, resumably.

    Parameters
    ----------
    translator : a fitted :class:`~vecbridge.Translator`, or the folder of a saved map.
    input : Parquet (key column + vector column, other columns kept) or a 2-D ``.npy``
        (keys from ``keys_path`` or a sibling ``<stem>.keys.txt``, else row numbers).
    output : ``.parquet`` / ``.pq`` or ``.npy`` (``output_format`` overrides the extension).
    encoding : text encoding of an ``.npy`` input's keys file (default UTF-8).
    key_column, vector_column : Parquet input columns (default: detected as
        :func:`vecbridge.io.read_embeddings` does). ``output_vector_column``: name of the
        translated column (default: the input's vector column, ``"vector"`` for .npy input).
    chunk_rows : rows per chunk (default: from ``memory_budget_mb``, see :func:`chunk_rows_for`).
        A resumed run keeps the chunk size of the first run.
    on_error : ``"raise"`` (default): a null, ragged or NaN/Inf vector, a null key, or a key that an
        earlier row holds (at any row: the keys seen are kept) raises ``FormatError`` naming the file,
        row (0-based) and key. ``"skip"``: such rows are left out (of a repeated key, the first row is
        kept) and counted in ``report.skipped`` (Parquet output only). With ``.npy`` output, a key holding a
        line break (which the keys file beside it cannot hold) raises ``FormatError`` naming the file and row.
    overwrite : replace an existing OUT (else :class:`~vecbridge.errors.OutputExistsError`, unless OUT
        is the complete result of an earlier run with the same input and map: then the report of that
        run is returned with ``already_done`` set). Missing parent folders of OUT are created.
    resume : continue a partial run for this OUT (default). False discards it and starts again.
    device : ``"cpu"`` (numpy), ``"auto"`` (a CUDA GPU through torch when one is present,
        else numpy), or a torch device name (``"cuda"``, ``"cuda:1"``, ``"cpu-torch"``);
        see :mod:`vecbridge.distributed.torch_backend`.
    compression : Parquet codec of OUT (``"none"`` by default: float vectors hardly
        compress; ``"zstd"`` / ``"snappy"`` for columns of text).
    progress : tqdm bar over rows; None shows it when stderr is a terminal.
    on_chunk : called with the report after each chunk is safely on disk (tests use it
        to interrupt a run).

    Returns
    -------
    :class:`StreamReport`
    """
    from .errors import OutputExistsError
    from .translators import Translator, load_translator

    check_stream_options(chunk_rows, memory_budget_mb, on_error)
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ParameterError(f"unknown text encoding {encoding!r} (--encoding / encoding=)") from None
    in_path, out_path = Path(input), Path(output)
    if out_path.resolve() == in_path.resolve() or (out_path.exists() and in_path.exists()
                                                    and os.path.samefile(out_path, in_path)):
        raise VecbridgeError(f"input and output are the same file ({in_path}); write the result to another file")
    if not isinstance(translator, Translator):
        translator = load_translator(translator)
    source = open_source(in_path, input_format, key_column=key_column, vector_column=vector_column,
                         keys_path=keys_path, encoding=encoding)
    out_fmt = stream_format(out_path, output_format)
    if out_fmt is None:
        raise FormatError(
            f"streaming writes .parquet or .npy; got {out_path.name!r} (another extension, or --format / "
            "output_format=)",
            out_path,
        )
    if out_fmt == "npy" and on_error == "skip":
        raise VecbridgeError("--lenient / on_error='skip' needs Parquet output (an .npy output has one row per "
                             "input row)")
    if out_path.is_dir():
        raise OutputExistsError(f"{out_path} is a folder; give a file name to write to")
    if out_path.exists() and not overwrite:
        done = _finished_earlier(out_path, source, translator, out_fmt)
        if done is None:
            done = _completed_before(out_path, source, translator, out_fmt)
        if done is not None:  # finished by an earlier run (perhaps killed just before tidying up)
            return done
        raise OutputExistsError(f"{out_path} already exists; choose another name or allow replacing it "
                                "(--overwrite / overwrite=True)")
    d_in = int(translator.n_features_in_)
    if source.dim != d_in:
        raise DimensionError(
            f"{in_path}: vectors are {source.dim}-d but the map takes {d_in}-d source vectors "
            "(wrong map or wrong column?)"
        )
    d_out = int(translator.n_features_out_)
    transform = batch_function(translator, device)
    out_vc = output_vector_column or source.vector_column or "vector"
    key_col = source.key_column if isinstance(source, ParquetSource) else "key"

    work = partial_dir_for(out_path)
    if out_fmt == "npy" and not overwrite and not work.exists():
        from .io.arrays import keys_path_for

        kout = keys_path_for(out_path)  # the keys file written beside an .npy: refused now, not after the work
        if kout.exists() and kout.resolve() != Path(getattr(source, "keys_path", None) or kout).resolve():
            raise OutputExistsError(f"{kout} already exists (the keys file written beside {out_path}); choose "
                                    "another name or allow replacing it (--overwrite / overwrite=True)")
    settings = {
        "version": JOURNAL_VERSION,
        "input": _source_signature(source),
        "input_format": source.format,
        "output_format": out_fmt,
        "map": map_fingerprint(translator),
        "space": output_space(translator),
        "key_column": source.key_column,
        "vector_column": source.vector_column,
        "output_vector_column": out_vc,
        "on_error": on_error,
        "n_rows": source.n_rows,
        "dim_in": d_in,
        "dim_out": d_out,
    }
    journal = _open_journal(work, settings, resume, chunk_rows)
    jrows = journal.get("chunk_rows")
    if jrows is None or isinstance(jrows, bool) or not isinstance(jrows, int) or jrows < 1:
        if journal["rows_read"]:  # written by an older version that did not check it
            raise ResumeMismatchError(f"the partial run in {work} records chunk_rows={jrows!r}, which cannot work; "
                                      "start again with --restart / resume=False")
        journal["chunk_rows"] = int(chunk_rows or chunk_rows_for(d_in, d_out, memory_budget_mb))
    rows = int(journal["chunk_rows"])
    seen = None  # the keys of the rows kept so far (none to check when the keys are row numbers)
    if isinstance(source, ParquetSource) or source.keys_path is not None:
        if "seen_bytes" not in journal:
            if journal["rows_read"]:
                raise ResumeMismatchError(f"the partial run in {work} was made by an older vecbridge, which did not "
                                          "keep the keys it had read (to refuse a repeated key); start again with "
                                          "--restart / resume=False")
            journal["seen_bytes"] = 0
        seen = SeenKeys(work / SEEN_KEYS)
        seen.load(journal["seen_bytes"])
    report = StreamReport(
        input=str(in_path), output=str(out_path), input_format=source.format, output_format=out_fmt,
        n_rows=source.n_rows, dim_in=d_in, dim_out=d_out, chunk_rows=rows,
        rows_read=journal["rows_read"], rows_written=journal["rows_written"], resumed_from=journal["rows_read"],
        skipped=dict(journal["skipped"]), first_skipped=list(journal["first_skipped"]),
        key_column=source.key_column, vector_column=source.vector_column,
    )
    if out_fmt == "parquet":
        writer = ParquetParts(work, source, d_out, out_vc, key_col)
        # parts written after the last journal entry are not trusted: they are redone
        for stray in work.glob("part-*"):
            idx = stray.name.split("-", 1)[1].split(".", 1)[0]
            if not idx.isdigit() or int(idx) >= journal["parts"] or stray.suffix == ".tmp":
                stray.unlink()
    else:
        has_keys = isinstance(source, ParquetSource)
        writer = NpyOutput(work, source.n_rows, d_out, with_keys=has_keys)
        writer.open(fresh=journal["rows_read"] == 0)
        writer.truncate_keys(journal["keys_bytes"])

    with progress_bar(source.n_rows, f"translating {in_path.name}", progress, unit="rows",
                      initial=journal["rows_read"]) as bar, _discard_on_bad_input(work):
        for chunk in source.chunks(journal["rows_read"], rows):
            n = chunk.X.shape[0]
            keep = _check_chunk(chunk, source, on_error, report, seen)
            if out_fmt == "npy":
                _check_line_keys(source.keys_of(chunk), chunk, source)
            X = chunk.X if keep is None else chunk.X[keep]
            Y = transform(X) if X.shape[0] else np.empty((0, d_out), dtype=np.float32)
            if out_fmt == "parquet":
                report.rows_written += writer.write(journal["parts"], chunk, Y, keep)
                journal["parts"] += 1
            else:
                keys = None
                if writer.keys_file is not None:
                    keys = [source.key_at(chunk, i) for i in range(n)]
                report.rows_written += writer.write(chunk.start, Y, keys)
                journal["keys_bytes"] = writer.keys_bytes()
            if seen is not None:
                journal["seen_bytes"] = seen.flush()
            report.rows_read += n
            report.chunks += 1
            journal.update(rows_read=report.rows_read, rows_written=report.rows_written,
                           skipped=report.skipped, first_skipped=report.first_skipped)
            write_json_atomic(work / JOURNAL, journal)
            bar.update(n)
            if on_chunk is not None:
                on_chunk(report)

    if report.rows_read != source.n_rows:  # pragma: no cover - a reader bug, never expected
        raise VecbridgeError(f"read {report.rows_read} rows of {source.n_rows}; the partial run is kept in {work}")
    meta = {
        "vecbridge.translated_by": json.dumps({
            "method": getattr(translator, "method", type(translator).__name__),
            "map": settings["map"],
            "source": str(in_path.name),
            "dim_in": d_in,
            "dim_out": d_out,
        }),
    }
    # "publishing" is journalled first: a run killed between publishing OUT and removing the
    # work folder is recognised by the next run (OUT is then complete), see _finished_earlier
    journal["published"] = True
    write_json_atomic(work / JOURNAL, journal)
    if out_fmt == "parquet":
        writer.finalize(journal["parts"], out_path, overwrite, meta, compression)
    else:
        kp = writer.finalize(out_path, overwrite, getattr(source, "keys_path", None), encoding)
        report.keys_path = str(kp) if kp is not None else None
    _write_done_record(out_path, settings, report)
    _remove_work(work)
    return report


@contextlib.contextmanager
def _discard_on_bad_input(work: Path) -> Iterator[None]:
    """Remove the work folder when the input turns out to be unusable (a ``FormatError`` naming its file and row):
    a resume would meet the same row, and a mended input is another input, which is never resumed. Other failures
    (an interruption, a full disk) keep it, to resume."""
    try:
        yield
    except FormatError:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _write_done_record(out_path: Path, settings: dict[str, Any], report: StreamReport) -> None:
    record = {"settings": settings, "report": report.to_dict(), "output": _output_signature(out_path)}
    write_json_atomic(done_record_for(out_path), record)


def _completed_before(out_path: Path, source: Any, translator: Any, out_fmt: str) -> StreamReport | None:
    """The report of an earlier run that wrote this very OUT from this input with this map, else None."""
    try:
        rec = json.loads(done_record_for(out_path).read_text(encoding="utf-8"))
        settings, rep, sig = rec["settings"], rec["report"], rec["output"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        same = (settings.get("input") == _source_signature(source)
                and settings.get("map") == map_fingerprint(translator)
                and settings.get("output_format") == out_fmt
                and sig == _output_signature(out_path))
    except (OSError, AttributeError):
        return None
    if not same:
        return None
    try:
        report = StreamReport(**{k: v for k, v in rep.items() if k in StreamReport.__dataclass_fields__})
    except TypeError:
        return None
    report.already_done, report.chunks, report.resumed_from = True, 0, report.rows_read
    return report


def _remove_work(work: Path) -> None:
    """Remove the work folder: renamed first (atomic), so that it is either whole or gone."""
    trash = work.with_name(work.name + ".done")
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(work, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _finished_earlier(out_path: Path, source: Any, translator: Any, out_fmt: str) -> StreamReport | None:
    """The report of a run that published OUT from this input with this map and output format, but was stopped
    before removing its work folder; else None."""
    work = partial_dir_for(out_path)
    try:
        j = json.loads((work / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    try:
        same = (j.get("input") == _source_signature(source) and j.get("map") == map_fingerprint(translator)
                and j.get("output_format") == out_fmt)
    except (OSError, AttributeError):
        return None
    if not j.get("published") or not same:
        return None
    report = StreamReport(
        input=str(source.path), output=str(out_path), input_format=j["input_format"], output_format=j["output_format"],
        n_rows=j["n_rows"], dim_in=j["dim_in"], dim_out=j["dim_out"], chunk_rows=j["chunk_rows"],
        rows_read=j["rows_read"], rows_written=j["rows_written"], resumed_from=j["rows_read"],
        skipped=j["skipped"], first_skipped=j["first_skipped"], key_column=j["key_column"],
        vector_column=j["vector_column"],
    )
    _write_done_record(out_path, j, report)
    _remove_work(work)
    return report


def _open_journal(work: Path, settings: dict[str, Any], resume: bool, chunk_rows: int | None) -> dict[str, Any]:
    fresh = {**settings, "chunk_rows": chunk_rows, "rows_read": 0, "rows_written": 0, "parts": 0,
             "keys_bytes": 0, "seen_bytes": 0, "skipped": {}, "first_skipped": []}
    jpath = work / JOURNAL
    if work.exists() and resume and jpath.exists():
        try:
            old = json.loads(jpath.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ResumeMismatchError(
                f"{jpath}: cannot read the progress journal ({e}); start again with --restart / resume=False"
            ) from None
        diffs = [k for k, v in settings.items() if old.get(k) != v and not (k == "space" and k not in old)]
        if "space" in diffs:  # the other space has another map fingerprint too: name the flag, not the hashes
            raise ResumeMismatchError(
                f"a partial run in {work} was made with --space {old['space']}; now --space {settings['space']}: "
                f"re-run with --space {old['space']} to resume, or start again with --restart / resume=False"
            )
        if diffs:
            raise ResumeMismatchError(
                f"a partial run in {work} was made with different {', '.join(diffs)} "
                f"(e.g. {diffs[0]}: {old.get(diffs[0])!r} then, {settings[diffs[0]]!r} now); "
                "discard it and start again with --restart / resume=False"
            )
        return old
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    write_json_atomic(jpath, fresh)
    return fresh


class SeenKeys:
    """The keys of the rows kept so far (key -> row), to refuse a repeated key at any row, however far apart.

    Kept in memory (one entry per key) and on disk in the work folder (``keys-seen.jsonl``, one JSON
    ``[key, row]`` per line, appended after each chunk), so that a resumed run knows the keys of the
    rows done before it; the journal records how many bytes of it are trusted.
    """

    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[str, int] = {}
        self._new: list[tuple[str, int]] = []

    def load(self, nbytes: int) -> None:
        """The keys journalled: the first ``nbytes`` of the file (lines after them are dropped)."""
        if not self.path.exists():
            if nbytes:
                raise ResumeMismatchError(f"{self.path} (the keys read by the partial run) is missing; start again "
                                          "with --restart / resume=False")
            return
        with open(self.path, "r+b") as f:
            f.truncate(nbytes)
            f.seek(0)
            for line in f:
                key, row = json.loads(line)
                self.rows.setdefault(key, int(row))

    def add(self, key: str, row: int) -> None:
        self.rows[key] = row
        self._new.append((key, row))

    def flush(self) -> int:
        """Append the keys added since the last flush (synced to disk); returns the file's size."""
        if self._new:
            with open(self.path, "ab") as f:
                f.write("".join(json.dumps([k, r]) + "\n" for k, r in self._new).encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            self._new = []
        return self.path.stat().st_size if self.path.exists() else 0


def _not_finite_why(chunk: Chunk, i: int) -> str:
    """What is wrong with row ``i`` of ``chunk``, whose vector is not finite as float32."""
    raw = chunk.raw
    if raw is not None:
        row = raw[i] if isinstance(raw, np.ndarray) else raw[i].values
        if row is not None:
            why = beyond_float32(row if isinstance(row, np.ndarray) else row.to_numpy(zero_copy_only=False))
            if why:
                return why
    return "holds NaN or Inf"


def _check_chunk(chunk: Chunk, source: Any, on_error: str, report: StreamReport,
                 seen: SeenKeys | None = None) -> np.ndarray | None:
    """None when every row is usable; else the boolean mask of rows kept (``on_error="skip"``).

    A row is unusable for its vector (null, ragged, NaN/Inf) or, with ``seen``, for its key: null, or the
    key of an earlier row kept (anywhere in the input). The keys of the rows kept are added to ``seen``.
    """
    bad = dict(chunk.bad)
    finite = np.isfinite(chunk.X).all(axis=1)
    if not finite.all():
        for i in np.flatnonzero(~finite):
            bad.setdefault(int(i), "non_finite")
    keys = source.keys_of(chunk) if seen is not None else None
    first_seen: dict[int, int] = {}  # row in chunk -> row that holds its key first
    if keys is not None:
        for i, k in enumerate(keys):
            if i in bad:
                continue
            if k is None:
                bad[i] = "null_key"
            elif k in seen.rows:
                bad[i] = "duplicate_key"
                first_seen[i] = seen.rows[k]
            else:
                seen.add(k, chunk.start + i)
    if not bad:
        return None
    first = min(bad)
    if on_error == "raise":
        row, reason = chunk.start + first, bad[first]
        if reason == "null_key":
            what = f"row {row} (0-based): the key is null; every row needs a key"
        elif reason == "duplicate_key":
            what = (f"row {row} (0-based): duplicate key {keys[first]!r} (first seen at row {first_seen[first]} "
                    "(0-based)); keys must be unique")
        else:
            vec = {"missing": "is null", "ragged": "has the wrong length"}.get(reason) or _not_finite_why(chunk, first)
            what = f"row {row} (0-based, key {source.key_at(chunk, first)!r}): the vector {vec}"
        raise FormatError(f"{what}; fix the file, or skip and count such rows with --lenient / on_error='skip'",
                          source.path)
    keep = np.ones(chunk.X.shape[0], dtype=bool)
    for i, reason in sorted(bad.items()):
        keep[i] = False
        report.skipped[reason] = report.skipped.get(reason, 0) + 1
        if len(report.first_skipped) < 5:
            report.first_skipped.append(f"row {chunk.start + i} ({source.key_at(chunk, i)!r}): {reason}")
    return keep


def batch_function(translator: Any, device: str = "cpu") -> Callable[[np.ndarray], np.ndarray]:
    """The map's pure batch function ``(n, d_in) float32 -> (n, d_out) float32`` on ``device``.

    ``"cpu"`` is ``translator.transform``; other devices go through
    :func:`vecbridge.distributed.torch_backend.torch_batch_function` (linear maps).
    """
    if device in (None, "cpu", "numpy"):
        return translator.transform
    from .distributed.torch_backend import resolve_device, torch_batch_function

    dev = resolve_device(device)
    if dev is None:
        return translator.transform
    return torch_batch_function(translator, dev)
