"""The Ray Data path: translate datasets with ``map_batches`` and fit linear maps
from sufficient statistics reduced over the dataset's blocks.

The translator's batch function is pure (same rows in, same rows out, no batch
statistics), so it runs unchanged on any block of any worker. Batches travel as
Arrow tables: the columns other than the vectors (ids, texts) pass through
untouched, and the translated vectors are written as
``fixed_size_list<float32>[d_out]`` (Ray's tensor columns are read too).

Start Ray yourself (``ray.init(...)`` or a cluster address); these functions
only build and run datasets::

    import ray, vecbridge.distributed.ray_data as rd
    ray.init(num_cpus=8)
    ds = ray.data.read_parquet("s3://bucket/docs/")
    rd.translate_dataset(ds, "maps/old2new").write_parquet("s3://bucket/docs_new/")
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from ..errors import DimensionError, FormatError, VecbridgeError
from ..optional import require
from .moments import (LinearMoments, check_linear_options, fit_normalizer_from_batches,
                      linear_translator_from_moments)


def _ray():
    require("ray.data", "distributed", "the Ray path")
    return require("ray", "distributed", "the Ray path")


def check_vector_columns(ds: Any, columns: dict[str, str]) -> None:
    """On the driver, before any task runs: each of ``columns`` (name -> what it holds, e.g. ``"source"``) is in
    ``ds``'s schema and, where the schema tells, holds vectors of one length. Raises :class:`FormatError` /
    :class:`DimensionError` naming the column."""
    schema = ds.schema()
    if schema is None:
        return  # an empty dataset, or one whose schema is known only once it runs: the tasks check each batch
    names = list(schema.names)
    types = dict(zip(names, schema.types))
    for column, what in columns.items():
        if column not in types:
            raise FormatError(f"no column {column!r} (the {what} vectors) in the dataset; it has "
                              f"{', '.join(map(repr, names)) or 'no columns'}")
        t = types[column]
        if "VariableShaped" in type(t).__name__:
            raise DimensionError(f"column {column!r} (the {what} vectors) holds vectors of different lengths; every "
                                 "vector must have one length")
        shape = getattr(t, "shape", None)
        if shape is not None and len(shape) != 1:
            raise DimensionError(f"column {column!r} (the {what} vectors) holds tensors of shape {tuple(shape)}, "
                                 "not vectors")


def unwrapped(e: BaseException) -> BaseException:
    """The :class:`VecbridgeError` a Ray task failed with, when one is the cause of ``e`` (Ray wraps it, with its
    own advice, in a ``RayTaskError``); else ``e``."""
    seen: set[int] = set()
    todo = [e]
    while todo:
        x = todo.pop(0)
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        wrapper = any(c.__module__.startswith("ray") for c in type(x).__mro__)
        if isinstance(x, VecbridgeError) and not wrapper:
            return x
        todo.extend([getattr(x, "cause", None), x.__cause__, x.__context__])
    return e


def _current_context() -> Any:
    import ray.data

    return ray.data.DataContext.get_current()


def _iter_batches(ds: Any, **kwargs: Any):
    """``ds.iter_batches(**kwargs)``, a task's :class:`VecbridgeError` raised as itself."""
    ctx = getattr(ds, "context", None)  # this dataset's own copy of Ray Data's settings
    if ctx is not None and ctx is not _current_context() and hasattr(ctx, "raise_original_map_exception"):
        ctx.raise_original_map_exception = True  # the task's own error, not Ray's UserCodeException wrapping it
    try:
        yield from ds.iter_batches(**kwargs)
    except Exception as e:  # noqa: BLE001 - re-raised, unwrapped where the cause is ours
        cause = unwrapped(e)
        if cause is e:
            raise
        raise cause.with_traceback(None) from None


def column_vectors(table: Any, column: str) -> np.ndarray:
    """The (n, d) float32 matrix of an Arrow table's vector column (list, fixed-size list or Ray tensor)."""
    import pyarrow as pa

    from ..stream import vectors_from_arrow

    if column not in table.column_names:
        raise FormatError(f"no column {column!r} in the dataset; it has {table.column_names}")
    col = table.column(column)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if isinstance(col.type, pa.ExtensionType):
        X = np.asarray(col.to_numpy(), dtype=np.float32)
        if X.ndim != 2:
            raise DimensionError(f"column {column!r} holds tensors of shape {X.shape[1:]}, expected vectors")
        return X
    X, bad = vectors_from_arrow(col, None, column, 0)
    if bad:
        i = min(bad)
        raise FormatError(f"column {column!r}: the vector in row {i} of a batch is {bad[i]}; clean the dataset first")
    return X


def _translate_batch(table: Any, *, translator: Any, vector_column: str, output_column: str, device: str) -> Any:
    import pyarrow as pa

    from ..stream import batch_function

    X = column_vectors(table, vector_column)
    Y = batch_function(translator, device)(X)
    vec = pa.FixedSizeListArray.from_arrays(pa.array(Y.reshape(-1), type=pa.float32()), Y.shape[1])
    if output_column in table.column_names:
        return table.set_column(table.column_names.index(output_column), output_column, vec)
    return table.append_column(output_column, vec)


def translate_dataset(
    ds: Any,
    translator: Any,
    *,
    vector_column: str = "vector",
    output_column: str | None = None,
    batch_size: int | None = 8192,
    device: str = "cpu",
    **map_batches_args: Any,
) -> Any:
    """``ds`` with ``vector_column`` translated (in place of it, or into ``output_column``).

    Parameters
    ----------
    ds : ``ray.data.Dataset`` with a vector column of (n, d_in) vectors.
    translator : a fitted Translator or the folder of a saved map (loaded here, then
        shipped to the workers with the task).
    batch_size : rows per ``map_batches`` call.
    device : ``"cpu"`` (numpy) or a torch device (``"cuda"``; pass ``num_gpus=1`` too).
    map_batches_args : passed to ``Dataset.map_batches`` (``num_cpus``, ``num_gpus``, ``concurrency``...).

    Returns
    -------
    a lazy ``ray.data.Dataset``; nothing runs until it is consumed or written.
    """
    from ..translators import Translator, load_translator

    _ray()
    if not isinstance(translator, Translator):
        translator = load_translator(translator)
    fn = functools.partial(_translate_batch, translator=translator, vector_column=vector_column,
                           output_column=output_column or vector_column, device=device)
    return ds.map_batches(fn, batch_format="pyarrow", batch_size=batch_size, **map_batches_args)


def translate_parquet(
    translator: Any,
    input: str | os.PathLike | list[str],
    output_dir: str | os.PathLike,
    *,
    vector_column: str = "vector",
    output_column: str | None = None,
    batch_size: int | None = 8192,
    device: str = "cpu",
) -> int:
    """Read Parquet file(s) or folder(s) with Ray Data, translate, write Parquet files under ``output_dir``.

    The pipeline streams: blocks are read, translated and written without the whole dataset
    being held in memory (or spilled) first. Files already in ``output_dir`` are left alone;
    returns the number of rows in the files this call wrote.
    """
    import pyarrow.parquet as pq

    ray = _ray()
    paths = [os.fspath(p) for p in input] if isinstance(input, list) else os.fspath(input)
    out = os.fspath(output_dir)
    before = set(os.listdir(out)) if os.path.isdir(out) else set()
    ds = translate_dataset(ray.data.read_parquet(paths), translator, vector_column=vector_column,
                           output_column=output_column, batch_size=batch_size, device=device)
    ds.write_parquet(out)
    new = sorted(f for f in os.listdir(out) if f not in before and f.endswith(".parquet"))
    return sum(pq.ParquetFile(os.path.join(out, f)).metadata.num_rows for f in new)


def _reduce(ds: Any, fn, x_column: str, y_column: str, batch_size: int | None) -> dict[str, np.ndarray]:
    """Sum of ``fn(X, Y) -> dict of arrays`` over all batches of ``ds``."""

    def partial(table):
        X, Y = column_vectors(table, x_column), column_vectors(table, y_column)
        return {k: np.asarray(v)[None] for k, v in fn(X, Y).items()}

    total: dict[str, np.ndarray] | None = None
    parts = ds.select_columns([x_column, y_column]).map_batches(partial, batch_format="pyarrow",
                                                                batch_size=batch_size)
    for batch in _iter_batches(parts, batch_format="numpy", batch_size=None):
        s = {k: np.asarray(v).sum(axis=0) for k, v in batch.items()}
        if total is not None and any(total[k].shape != s[k].shape for k in total):
            raise DimensionError(f"the vectors of columns {x_column!r} / {y_column!r} change length from one part "
                                 "of the dataset to another; every vector of a column must have one length")
        total = s if total is None else {k: total[k] + s[k] for k in total}
    if total is None:
        raise VecbridgeError("the dataset is empty; nothing to fit")
    return total


def _gather(ds: Any, fn, x_column: str, y_column: str, batch_size: int | None) -> dict[str, np.ndarray]:
    """``fn(X, Y) -> dict of (n,) arrays`` (one value per row) over all batches of ``ds``, each array
    concatenated: one value per row of the dataset comes to the driver."""

    def per_row(table):
        X, Y = column_vectors(table, x_column), column_vectors(table, y_column)
        return {k: np.asarray(v) for k, v in fn(X, Y).items()}

    parts: dict[str, list[np.ndarray]] = {}
    rows = ds.select_columns([x_column, y_column]).map_batches(per_row, batch_format="pyarrow",
                                                               batch_size=batch_size)
    for batch in _iter_batches(rows, batch_format="numpy", batch_size=None):
        for k, v in batch.items():
            parts.setdefault(k, []).append(np.asarray(v))
    if not parts:
        raise VecbridgeError("the dataset is empty; nothing to fit")
    return {k: np.concatenate(v) for k, v in parts.items()}


def fit_linear_dataset(
    ds: Any,
    method: str = "lstsq",
    *,
    x_column: str = "x",
    y_column: str = "y",
    ridge: float = 0.0,
    bias: bool = False,
    scale: bool = False,
    normalize: str | None = None,
    batch_size: int | None = 8192,
):
    """Fit a linear map over a Ray dataset of pairs (one row: a source and a target vector).

    Each block contributes ``n``, sums, ``X^T X`` and ``X^T Y`` (see :mod:`.moments`); the
    driver adds them and solves. One pass, plus one per ``center``/``standardize`` step
    of ``normalize``, plus one per run of ``unit`` steps: for each ``unit`` step the
    length of every row entering it comes to the driver (one float32 per pair and side,
    ``8 n`` bytes per step; the vectors never do), so that the normalisers keep the exact
    median lengths ``to_target_space`` gives back. Equal to the in-memory fit to float
    tolerance, in the target's own coordinates too.
    """
    check_linear_options(method, ridge, bias, scale)
    _ray()
    check_vector_columns(ds, {x_column: "source", y_column: "target"})
    nx, ny = fit_normalizer_from_batches(
        normalize, [], reduce=lambda fn: _reduce(ds, fn, x_column, y_column, batch_size),
        gather=lambda fn: _gather(ds, fn, x_column, y_column, batch_size),
    )
    def moments(X, Y):
        return LinearMoments.of(nx.transform(X), ny.transform(Y)).to_arrays()

    total = LinearMoments.from_arrays(_reduce(ds, moments, x_column, y_column, batch_size))
    return linear_translator_from_moments(total, method, ridge=ridge, bias=bias, scale=scale, normalize=normalize,
                                          normalizers=(nx, ny), fit_info={"pairs_from": "ray dataset"})
