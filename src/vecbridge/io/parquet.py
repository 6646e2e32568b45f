"""Parquet: one key column and one vector column (fixed-size list or list of floats).

pyarrow is imported inside the functions, so ``import vecbridge`` stays light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import FormatError
from ..atomic import atomic_output
from ..progress import progress_bar
from .files import RowBuffer, beyond_float32, to_float32
from .read_report import ReadReport, RowPolicy

KEY_NAMES = ("id", "key", "word", "token", "text")
VECTOR_NAMES = ("vector", "embedding", "embeddings", "emb", "vec")
DEFAULT_COLUMNS = {"key": "key", "vector": "vector"}
BATCH_ROWS = 1 << 15


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("reading and writing parquet needs pyarrow: pip install 'vecbridge[parquet]'") from None
    return pa, pq


def _is_vector_type(pa, t) -> bool:
    if pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        v = t.value_type
        return pa.types.is_floating(v) or pa.types.is_integer(v)
    return False


def _is_key_type(pa, t) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)


def _pick(names: list[str], preferred: tuple[str, ...]) -> str | None:
    lower = {n.lower(): n for n in names}
    for want in preferred:
        if want in lower:
            return lower[want]
    return None


def choose_columns(schema, path: str, key_column: str | None, vector_column: str | None) -> tuple[str, str]:
    """Key and vector column names: given, or found by name and type (see module doc)."""
    pa, _ = _pa()
    names = list(schema.names)
    types = {f.name: f.type for f in schema}
    listing = ", ".join(f"{f.name}: {f.type}" for f in schema)
    if vector_column is None:
        cands = [n for n in names if _is_vector_type(pa, types[n])]
        vector_column = cands[0] if len(cands) == 1 else _pick(cands, VECTOR_NAMES)
        if vector_column is None:
            raise FormatError(
                f"cannot tell the vector column among [{listing}]; expected one list-of-floats column "
                f"(or one named {'/'.join(VECTOR_NAMES)}); name it (--vector-column / vector_column=)",
                path,
            )
    elif vector_column not in types:
        raise FormatError(f"no column {vector_column!r}; the file has [{listing}]", path)
    elif not _is_vector_type(pa, types[vector_column]):
        raise FormatError(
            f"column {vector_column!r} has type {types[vector_column]}; expected a list of floats", path
        )
    if key_column is None:
        others = [n for n in names if n != vector_column]
        key_column = _pick([n for n in others if _is_key_type(pa, types[n])], KEY_NAMES)
        if key_column is None:
            cands = [n for n in others if _is_key_type(pa, types[n])]
            if len(cands) == 1:
                key_column = cands[0]
            else:
                raise FormatError(
                    f"cannot tell the key column among [{listing}]; expected one named "
                    f"{'/'.join(KEY_NAMES)} or a single string/integer column; name it (--key-column / key_column=)",
                    path,
                )
    elif key_column not in types:
        raise FormatError(f"no column {key_column!r}; the file has [{listing}]", path)
    elif not _is_key_type(pa, types[key_column]):
        raise FormatError(f"column {key_column!r} has type {types[key_column]}; expected strings or integers", path)
    return key_column, vector_column


def empty_vectors_error(column: str, path: str | os.PathLike) -> FormatError:
    """The error for a vector column whose lists are empty: 0-dimensional vectors are not embeddings."""
    return FormatError(
        f"vector column {column!r} holds empty lists: its rows hold no values (0-dimensional vectors); name the "
        "column that holds the vectors (--vector-column / vector_column=) or fix the file",
        path,
    )


def read_parquet(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    on_error: str = "raise",
    key_column: str | None = None,
    vector_column: str | None = None,
    progress: bool | None = None,
) -> tuple[list[str], np.ndarray, ReadReport, dict]:
    """Read keys and vectors from parquet, batch by batch (stops after ``limit`` kept rows).

    Rows are reported 0-based. Returns ``(keys, vectors, report, extra_meta)``; the
    extra meta records the column names (``parquet_columns``) for writing back.
    """
    pa, pq = _pa()
    spath = os.fspath(path)
    report = ReadReport(path=spath, format="parquet", unit="row")
    policy = RowPolicy(spath, on_error, report)
    try:
        pf = pq.ParquetFile(spath)
    except (pa.ArrowInvalid, OSError) as e:
        raise FormatError(f"not a readable parquet file: {e}", spath) from None
    schema = pf.schema_arrow
    kc, vc = choose_columns(schema, spath, key_column, vector_column)
    vtype = schema.field(vc).type
    ktype = schema.field(kc).type
    n_total = pf.metadata.num_rows
    dim = vtype.list_size if pa.types.is_fixed_size_list(vtype) else None
    buf: RowBuffer | None = None
    keys: list[str] = []
    r = 0
    total = n_total if limit is None else min(n_total, limit)
    with progress_bar(total, f"reading {Path(spath).name}", progress, unit="rows") as bar:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=[kc, vc]):
            if limit is not None and len(keys) >= limit:
                break
            kcol = batch.column(0)
            vcol = batch.column(1)
            m = batch.num_rows
            klist = kcol.to_pylist()
            if isinstance(vcol, pa.ChunkedArray):  # pragma: no cover - batches hold plain arrays
                vcol = vcol.combine_chunks()
            vnull = np.asarray(vcol.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            if pa.types.is_fixed_size_list(vtype):
                lengths = np.full(m, dim, dtype=np.int64)
                flat = vcol.values.slice(vcol.offset * dim, m * dim)  # null lists keep their slots
                starts = np.arange(m, dtype=np.int64) * dim
            else:
                offsets = np.asarray(vcol.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
                lengths = np.diff(offsets)
                base = offsets[0]
                flat = vcol.values.slice(base, offsets[-1] - base)
                starts = offsets[:-1] - base
                if dim is None:
                    good = lengths[~vnull]
                    if good.size:
                        vals, freq = np.unique(good, return_counts=True)
                        dim = int(vals[np.argmax(freq)])
            raw = flat.to_numpy(zero_copy_only=False)  # as stored (float64 may exceed float32 range)
            values = to_float32(raw)
            if dim is None:
                dim = 1
            if dim == 0:
                raise empty_vectors_error(vc, spath)
            if buf is None:
                buf = RowBuffer(dim, total)
            regular = (not vnull.any()) and bool(np.all(lengths == dim)) and values.size == m * dim
            block = values.reshape(m, dim) if regular else np.zeros((m, dim), dtype=np.float32)
            ok = np.ones(m, dtype=bool)
            problems: dict[int, tuple[str, str]] = {}
            if not regular:
                for j in range(m):
                    if vnull[j]:
                        problems[j] = ("missing", "vector is null")
                    elif lengths[j] != dim:
                        problems[j] = ("ragged", f"vector has {lengths[j]} values, expected {dim}")
                    else:
                        block[j] = values[starts[j] : starts[j] + dim]
            finite = np.isfinite(block).all(axis=1)
            keep = np.zeros(m, dtype=bool)
            used = m
            for j in range(m):
                row = r + j
                k = klist[j]
                if j in problems:
                    reason, msg = problems[j]
                    policy.bad(reason, row, f"key {k!r}: {msg}")
                    continue
                if k is None:
                    policy.bad("missing", row, "key is null")
                    continue
                if not finite[j]:
                    why = beyond_float32(raw[starts[j] : starts[j] + dim]) or "holds NaN, Inf or a null value"
                    policy.bad("non_finite", row, f"key {k!r} {why}")
                    continue
                key = str(k)
                if not policy.accept_key(key, row):
                    continue
                keys.append(key)
                keep[j] = True
                if limit is not None and len(keys) >= limit:
                    used = j + 1
                    break
            buf.append(block[:used][keep[:used]])
            r += used
            bar.update(used)
    report.seen = r
    report.stopped_at_limit = r < n_total
    vectors = buf.finish() if buf is not None else np.empty((0, dim or 1), dtype=np.float32)
    policy.finish(len(keys), stacklevel=4)
    meta = {
        "parquet_columns": {"key": kc, "vector": vc},
        "parquet_key_type": "int" if pa.types.is_integer(ktype) else "string",
    }
    return keys, vectors, report, meta


def write_parquet(
    emb: Embeddings,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    key_column: str | None = None,
    vector_column: str | None = None,
    progress: bool | None = None,
) -> Path:
    """Write a key column and a ``fixed_size_list<float32>`` vector column.

    Column names: the arguments, else those the embeddings were read with
    (``meta["parquet_columns"]``), else ``"key"`` and ``"vector"``. Keys read from
    an integer column are written back as integers when they all are.
    """
    pa, pq = _pa()
    cols: dict[str, Any] = dict(DEFAULT_COLUMNS)
    cols.update(emb.meta.get("parquet_columns") or {})
    kc = key_column or cols["key"]
    vc = vector_column or cols["vector"]
    if kc == vc:
        raise FormatError(f"key and vector columns must differ, both are {kc!r}")
    keys: list[Any] = list(emb.keys)
    ktype = pa.string()
    if emb.meta.get("parquet_key_type") == "int" and _all_int_keys(keys):
        keys = [int(k) for k in keys]
        ktype = pa.int64()
    n, d = emb.vectors.shape
    schema = pa.schema([pa.field(kc, ktype), pa.field(vc, pa.list_(pa.float32(), d))])
    with atomic_output(path, overwrite, compress=False) as f:
        with progress_bar(n, f"writing {Path(path).name}", progress, unit="rows") as bar:
            with pq.ParquetWriter(f, schema) as writer:
                step = max(1, min(BATCH_ROWS * 4, n))
                for s in range(0, max(n, 1), step):
                    vals = pa.array(np.ascontiguousarray(emb.vectors[s : s + step]).reshape(-1), type=pa.float32())
                    vec = pa.FixedSizeListArray.from_arrays(vals, d)
                    table = pa.Table.from_arrays([pa.array(keys[s : s + step], type=ktype), vec], schema=schema)
                    writer.write_table(table)
                    bar.update(table.num_rows)
    return Path(path)


def _all_int_keys(keys: list[str]) -> bool:
    for k in keys:
        try:
            if str(int(k)) != k:
                return False
        except ValueError:
            return False
    return True
