"""Migrate a LanceDB table (embedded, local folder) to a new embedding space without re-embedding.

Two targets, never in place:

- a **new table** (``target_table=``): every column of the source, with the
  vector column holding the translated vectors. Batches are appended; each
  append is one atomic LanceDB commit, so the target's row count is exactly the
  number of rows done and a re-run continues from there;
- a **new column** of the same table (``new_column=``): added (nullable) once,
  then filled by id with ``merge_insert`` updates, which are idempotent, so a
  repeated batch after a crash changes nothing. The old vector column is kept.

The source is read at the version it had when the migration started (recorded in
the journal), in its stable scan order, so rows written meanwhile neither shift
the batches nor get half-migrated: migrate them in a later run.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, ParameterError, VecbridgeError
from ..sampling import sample_rows_except
from .migrate import (
    DEFAULT_BATCH_ROWS,
    FIT_SAMPLE_ROWS,
    FIX_FIRST,
    database_id,
    Batch,
    MigrationReport,
    QualityReport,
    StoredSample,
    as_translator,
    check_batch_rows,
    check_dim,
    fit_map_in_state,
    import_store,
    journal_path,
    map_dir_of,
    map_folder,
    quality_gate,
    query_side,
    refuse_existing,
    run_migration,
    state_dir,
)


def connect(db: Any):
    """A LanceDB connection from the folder of an existing database (or an existing connection).

    A missing folder is an error (LanceDB itself would create an empty database there).
    """
    if hasattr(db, "open_table"):
        return db
    if not Path(db).is_dir():
        raise VecbridgeError(f"{db}: no such LanceDB database (a folder made by lancedb.connect)")
    return import_store("lancedb", "LanceDB").connect(str(db))


def open_store_table(conn: Any, name: str, what: str = "table"):
    try:
        return conn.open_table(name)
    except (ValueError, FileNotFoundError):
        raise VecbridgeError(f"no {what} {name!r} in the LanceDB database {getattr(conn, 'uri', conn)}") from None


def store_size(db: Any, table: str, text_column: str = "text") -> tuple[int, bool]:
    """``(rows, holds texts)`` of ``table``: its row count, and whether it has the column ``text_column``."""
    tbl = open_store_table(connect(db), table)
    return int(tbl.count_rows()), text_column in tbl.schema.names


def _exists(conn: Any, name: str) -> bool:
    try:
        conn.open_table(name)
        return True
    except (ValueError, FileNotFoundError):
        return False


def vector_dim(schema: Any, column: str, where: str) -> int:
    import pyarrow as pa

    if column not in schema.names:
        raise FormatError(f"{where} has no column {column!r}; its columns: {schema.names}")
    t = schema.field(column).type
    if not pa.types.is_fixed_size_list(t):
        raise FormatError(f"{where}: column {column!r} has type {t}; expected a fixed-size list of floats")
    return int(t.list_size)


def check_id_type(schema: Any, id_column: str, table: str) -> None:
    """A new column is written by id (``merge_insert``), so the ids must be values that compare as a whole:
    strings, integers and other scalars (binary, dates and times, decimals, numbers), not lists or structs."""
    import pyarrow as pa

    t = schema.field(id_column).type
    kinds = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
             pa.types.is_large_binary, pa.types.is_fixed_size_binary, pa.types.is_temporal, pa.types.is_decimal,
             pa.types.is_floating, pa.types.is_boolean, getattr(pa.types, "is_string_view", lambda _: False))
    if not any(k(t) for k in kinds):
        raise FormatError(f"table {table!r}, id column {id_column!r} (--id-column / id_column=) has type {t}; a new "
                          "column is written by id, so ids must be strings, integers or other scalars. Name another "
                          "id column, or migrate into a new table instead (--to-table / target_table=)")


def check_target(table: str, target_table: str | None = None, new_column: str | None = None,
                 vector_column: str = "vector") -> None:
    """The target of migrating ``table``, checked before any work (a map fitted, a journal written): exactly one
    of a new table and a new column, a valid name, never the source itself (:class:`ParameterError`)."""
    from ..containment import check_store_name

    if (target_table is None) == (new_column is None):
        raise ParameterError("give exactly one target: a new table (--to-table / target_table=) "
                             "or a new column (--to-column / new_column=)")
    if target_table is not None:
        check_store_name(target_table, "table")
        if target_table == table:
            raise ParameterError(f"the target table {target_table!r} is the source table: migrations never write in "
                                 "place; name a new table (--to-table / target_table=)")
    else:
        check_store_name(new_column, "column")
        if new_column == vector_column:
            raise ParameterError(f"the new column {new_column!r} is the vector column: migrations never write in "
                                 "place; name a new column (--to-column / new_column=)")


class LanceReader:
    """Batches of a table at a pinned version, in scan order."""

    def __init__(self, conn: Any, table: str, version: int, id_column: str, vector_column: str,
                 columns: list[str] | None):
        self.tbl = open_store_table(conn, table)
        self.tbl.checkout(version)
        self.id_column, self.vector_column = id_column, vector_column
        self.columns = columns

    def count(self) -> int:
        return int(self.tbl.count_rows())

    def batches(self, start: int, batch_rows: int) -> Iterator[Batch]:
        from ..stream import vectors_from_arrow

        q = self.tbl.search().limit(None).offset(start)
        if self.columns is not None:
            q = q.select(self.columns)
        pos = start
        for rb in q.to_batches(batch_rows):
            for s in range(0, rb.num_rows, batch_rows):
                part = rb.slice(s, batch_rows)
                X, bad = vectors_from_arrow(part.column(self.vector_column), None, self.vector_column, pos)
                if bad:
                    i = min(bad)
                    ids = part.column(self.id_column)
                    raise VecbridgeError(f"the vector of id {ids[i].as_py()!r} is {bad[i]}; {FIX_FIRST}")
                ids = [str(v) for v in part.column(self.id_column).to_pylist()]
                yield Batch(pos, ids, X, extra=part)
                pos += part.num_rows


class NewTableWriter:
    def __init__(self, conn: Any, name: str, schema: Any, vector_column: str, dim_out: int):
        import pyarrow as pa

        self.conn, self.name, self.vector_column = conn, name, vector_column
        fields = [pa.field(vector_column, pa.list_(pa.float32(), dim_out)) if f.name == vector_column else f
                  for f in schema]
        self.schema = pa.schema(fields)
        self.tbl = None

    def check_new(self) -> None:
        if _exists(self.conn, self.name):
            refuse_existing("table", self.name, "choose another target name or drop it")

    def drop_partial(self) -> None:
        if _exists(self.conn, self.name):
            self.conn.drop_table(self.name)

    def holds(self, rows: int) -> bool:
        return _exists(self.conn, self.name) and int(open_store_table(self.conn, self.name).count_rows()) == rows

    def ensure_target(self) -> None:
        if not _exists(self.conn, self.name):
            self.conn.create_table(self.name, schema=self.schema)
        self.tbl = self.conn.open_table(self.name)

    def rows_committed(self, journal_rows: int) -> int:
        return int(self.tbl.count_rows())  # appends are atomic: the table holds a prefix of the scan

    def write(self, batch: Batch, Y: np.ndarray) -> None:
        import pyarrow as pa

        vec = pa.FixedSizeListArray.from_arrays(pa.array(Y.reshape(-1), type=pa.float32()), Y.shape[1])
        part = batch.extra
        cols = [vec if f.name == self.vector_column else part.column(f.name) for f in self.schema]
        self.tbl.add(pa.Table.from_arrays(cols, schema=self.schema))

    def finish(self) -> None:
        pass


class NewColumnWriter:
    def __init__(self, conn: Any, table: str, column: str, id_column: str, dim_out: int):
        import pyarrow as pa

        self.conn, self.table, self.column, self.id_column = conn, table, column, id_column
        self.field = pa.field(column, pa.list_(pa.float32(), dim_out))
        self.tbl = None

    def check_new(self) -> None:
        tbl = open_store_table(self.conn, self.table)
        if self.column in tbl.schema.names:
            raise VecbridgeError(
                f"table {self.table!r} already has a column {self.column!r}; a migration never overwrites a column "
                "(choose another name or drop it)"
            )
        # the new column is written by id: every row needs an id of its own, or its vector would be lost
        import pyarrow.compute as pc

        ids = tbl.search().select([self.id_column]).limit(None).to_arrow().column(self.id_column)
        where = f"table {self.table!r}, id column {self.id_column!r} (--id-column / id_column=)"
        if ids.null_count:
            raise VecbridgeError(f"{where}: {ids.null_count} rows have no id; a new column is written by id, so "
                                 "their vectors would be lost. Give them ids, or migrate into a new table instead")
        if pc.count_distinct(ids).as_py() != len(ids):
            counts = pc.value_counts(ids)
            dup = [v["values"] for v in counts.filter(pc.greater(counts.field("counts"), 1)).to_pylist()[:3]]
            raise VecbridgeError(f"{where}: ids are not unique (for example {dup}); a new column is written by id. "
                                 "Make them unique, or migrate into a new table instead")

    def drop_partial(self) -> None:
        tbl = open_store_table(self.conn, self.table)
        if self.column in tbl.schema.names:
            tbl.drop_columns([self.column])

    def holds(self, rows: int) -> bool:
        return self.column in open_store_table(self.conn, self.table).schema.names

    def ensure_target(self) -> None:
        self.tbl = open_store_table(self.conn, self.table)
        if self.column not in self.tbl.schema.names:
            self.tbl.add_columns(self.field)
            self.tbl = open_store_table(self.conn, self.table)

    def rows_committed(self, journal_rows: int) -> int:
        return journal_rows  # updates by id are idempotent: redoing a batch is harmless

    def write(self, batch: Batch, Y: np.ndarray) -> None:
        import pyarrow as pa

        vec = pa.FixedSizeListArray.from_arrays(pa.array(Y.reshape(-1), type=pa.float32()), Y.shape[1])
        ids = batch.extra.column(self.id_column)
        data = pa.table({self.id_column: ids, self.column: vec})
        self.tbl.merge_insert(self.id_column).when_matched_update_all().execute(data)

    def finish(self) -> None:
        pass


def _state_root(conn: Any, state: str | None) -> Path:
    """Where this database's migrations keep their journals and maps."""
    return Path(state) if state is not None else state_dir(getattr(conn, "uri", "."))


def _target_key(target_table: str | None, new_column: str | None) -> str:
    """The target's part of the journal's and the map's file names: the table's name, or ``column:<name>`` for a
    new column (``:`` is in no table name, so a table never shares a column's journal)."""
    return target_table if target_table is not None else f"column:{new_column}"


def _journal_path(conn: Any, source: str, target: str, state: str | None) -> Path:
    return journal_path(_state_root(conn, state), "lancedb", source, target)


def _adopt_legacy_column_state(root: Path, table: str, new_column: str) -> None:
    """Journals and maps of new columns written before ``column:<name>`` named them (``column-<name>``, a name a
    table ``column-<name>`` shares) are renamed to the new names when their journal shows that they are this
    column's (its target is ``<table>.<column>``) and nothing has the new name yet."""
    old_j = journal_path(root, "lancedb", table, f"column-{new_column}")
    new_j = journal_path(root, "lancedb", table, _target_key(None, new_column))
    if new_j.exists() or not old_j.is_file():
        return
    try:
        old = json.loads(old_j.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(old, dict) or old.get("store") != "lancedb" or old.get("target") != f"{table}.{new_column}":
        return
    old_m = map_dir_of(root, "lancedb", table, f"column-{new_column}")
    new_m = map_dir_of(root, "lancedb", table, _target_key(None, new_column))
    if old_m.is_dir() and not new_m.exists():
        os.replace(old_m, new_m)
    os.replace(old_j, new_j)


def migrate_lancedb(
    db: Any,
    table: str,
    translator: Any,
    *,
    target_table: str | None = None,
    new_column: str | None = None,
    vector_column: str = "vector",
    id_column: str = "id",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    resume: bool = True,
    device: str = "cpu",
    state: str | None = None,
    progress: bool | None = None,
    on_batch: Callable[[MigrationReport], None] | None = None,
    check_space: Callable[[np.ndarray], None] | None = None,
) -> MigrationReport:
    """Translate a LanceDB table's vectors into a new table or a new column (see the module docstring).

    Parameters
    ----------
    db : folder of the database (``lancedb.connect`` path) or a connection.
    table : source table; ``vector_column`` holds (d_in,) float vectors, ``id_column`` unique ids.
    translator : map old -> new (a Translator or its folder).
    target_table / new_column : exactly one: the new table's name, or the new column's name.
    batch_rows : rows per batch (one commit each).
    resume : continue a partial migration to the same target (default); False starts again
        (a partial new table must be dropped first).
    state : folder for the journal (default ``<db>/.vecbridge-migrate``).
    on_batch : called after each committed batch (tests use it to interrupt).
    check_space : called with the first batch of stored vectors before anything is written (the CLI checks
        that they look like the map's source space, :meth:`vecbridge.Translator.check_input`).

    Returns
    -------
    :class:`MigrationReport`
    """
    from ..stream import map_fingerprint

    # names and sizes first: nothing is written (journal, table, column) before they are known to be good
    check_target(table, target_table, new_column, vector_column)
    batch_rows = check_batch_rows(batch_rows)
    folder = map_folder(translator)
    translator = as_translator(translator)
    conn = connect(db)
    src = open_store_table(conn, table)
    schema = src.schema
    d_in = vector_dim(schema, vector_column, f"table {table!r}")
    check_dim(f"table {table!r}, column {vector_column!r}", d_in, int(translator.n_features_in_))
    if id_column not in schema.names:
        raise FormatError(f"table {table!r} has no id column {id_column!r}; its columns: {schema.names} (--id-column / id_column=)")
    if new_column is not None:
        check_id_type(schema, id_column, table)
    d_out = int(translator.n_features_out_)
    target = target_table if target_table is not None else f"{table}.{new_column}"
    if new_column is not None:
        _adopt_legacy_column_state(_state_root(conn, state), table, new_column)
    jpath = _journal_path(conn, table, _target_key(target_table, new_column), state)
    version = int(src.version)
    if resume and jpath.exists():  # the version a partial run of this migration pinned (not another database's)
        try:
            old = json.loads(jpath.read_text(encoding="utf-8"))
            if old.get("database") == database_id(db):
                version = int(old["source_version"])
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass
    settings = {"store": "lancedb", "database": database_id(db), "source": table, "target": target,
                "source_version": version,
                "vector_column": vector_column, "id_column": id_column, "map": map_fingerprint(translator),
                "dim_in": d_in, "dim_out": d_out}
    if target_table is not None:
        writer: Any = NewTableWriter(conn, target_table, schema, vector_column, d_out)
        columns = None
        mode = "new table"
    else:
        writer = NewColumnWriter(conn, table, new_column, id_column, d_out)
        columns = [id_column, vector_column]
        mode = "new column"
    reader = LanceReader(conn, table, version, id_column, vector_column, columns)
    report = MigrationReport("lancedb", table, target, mode, reader.count(), d_in, d_out)
    report.map = folder
    return run_migration(reader, writer, translator, jpath, settings, report, batch_rows=batch_rows,
                         resume=resume, device=device, progress=progress, on_batch=on_batch, check_space=check_space,
                         source_rows_now=int(src.count_rows()))


def fit_lancedb_map(
    db: Any,
    table: str,
    target_sample: Any,
    *,
    target_table: str | None = None,
    new_column: str | None = None,
    vector_column: str = "vector",
    text_column: str = "text",
    id_column: str = "id",
    sample_rows: int = FIT_SAMPLE_ROWS,
    state: str | None = None,
    seed: int = 0,
    **fit_options: Any,
) -> tuple[Any, dict[str, Any]]:
    """The map for migrating ``table`` when there is none yet: fitted from ``sample_rows`` stored vectors (a
    seeded sample), their texts in ``text_column`` where the table keeps them and ``fit_options`` has an
    ``encoder`` (the new model: pairs), and ``target_sample`` (the new model's vectors of other texts of the
    same domain, or None), as :func:`~vecbridge.stores.migrate.fit_map_in_state` says; saved beside the
    migration's journal and reused on resume. The target is checked first (:func:`check_target`; for a new
    column, the type of ``id_column`` too), so a migration that would be refused fits nothing. ``fit_options``:
    ``encoder``, ``pair_rows``, ``resume``, ``force``, ``progress``, ``method``, ``params``. Pass the translator
    it returns to :func:`migrate_lancedb` (and ``info["pair_offsets"]`` as ``exclude`` to
    :func:`lancedb_quality_gate`)."""
    from ..stream import vectors_from_arrow

    check_target(table, target_table, new_column, vector_column)  # before the fit: it writes the map
    conn = connect(db)
    root = _state_root(conn, state)
    if new_column is not None:  # a new column is written by id: ids that cannot be are refused before the fit
        schema = open_store_table(conn, table).schema
        if id_column not in schema.names:
            raise FormatError(f"table {table!r} has no id column {id_column!r}; its columns: {schema.names} "
                              "(--id-column / id_column=)")
        check_id_type(schema, id_column, table)
        _adopt_legacy_column_state(root, table, new_column)
    map_dir = map_dir_of(root, "lancedb", table, _target_key(target_table, new_column))

    def stored() -> StoredSample:
        names = set(open_store_table(conn, table).schema.names)
        texts_kept = fit_options.get("encoder") is not None and text_column in names
        t, offsets = lancedb_sample(conn, table, [vector_column] + ([text_column] if texts_kept else []),
                                    int(sample_rows), seed)
        X, bad = vectors_from_arrow(t.column(vector_column), None, vector_column, 0)
        texts = t.column(text_column).to_pylist() if texts_kept else None
        if len(bad):
            warnings.warn(f"{len(bad)} sampled rows without a usable vector were left out of the fit", stacklevel=2)
            keep = np.setdiff1d(np.arange(len(X)), sorted(bad))
            X, offsets = X[keep], offsets[keep]
            texts = None if texts is None else [texts[i] for i in keep]
        return StoredSample(X, texts, offsets)

    return fit_map_in_state(stored, target_sample, map_dir, seed=seed, **fit_options)


def lancedb_sample(db: Any, table: str, columns: list[str], size: int, seed: int = 0,
                   exclude: Any = None) -> tuple[Any, np.ndarray]:
    """A seeded random sample of ``size`` rows (Arrow table, scan order) of ``columns``, none of the row
    offsets in ``exclude``, and the offsets drawn."""
    src = open_store_table(connect(db), table)
    rows = sample_rows_except(np.random.default_rng(seed), int(src.count_rows()), size, exclude)
    return src.take_offsets([int(r) for r in rows]).select(columns).to_arrow(), rows


def lancedb_quality_gate(
    db: Any,
    table: str,
    translator: Any,
    encoder: Any,
    *,
    text_column: str = "text",
    vector_column: str = "vector",
    sample: int = 500,
    k: int = 10,
    metric: str = "overlap_at_k",
    threshold: float | None = None,
    query_texts: list[str] | None = None,
    seed: int = 0,
    device: str = "cpu",
    exclude: Any = None,
) -> QualityReport:
    """The quality gate (:func:`~vecbridge.stores.migrate.quality_gate`) on a sample of a table's rows and texts
    (none of the row offsets in ``exclude``: the rows a map was fitted on)."""
    from ..stream import vectors_from_arrow

    t, _ = lancedb_sample(db, table, [vector_column, text_column], sample, seed, exclude)
    X, bad = vectors_from_arrow(t.column(vector_column), None, vector_column, 0)
    texts = t.column(text_column).to_pylist()
    keep = np.array([i not in bad and isinstance(s, str) and s != "" for i, s in enumerate(texts)], dtype=bool)
    if not keep.all():
        warnings.warn(f"quality gate: {int((~keep).sum())} sampled rows without a text or vector were left out",
                      stacklevel=2)
    return quality_gate(translator, X[keep], [s for s, ok in zip(texts, keep) if ok], encoder,
                        query_texts=query_texts, k=k, metric=metric, threshold=threshold, device=device)


def search_with_query_map(db: Any, table: str, translator: Any, queries: np.ndarray, k: int = 10,
                          vector_column: str = "vector", columns: list[str] | None = None) -> list[Any]:
    """Query side: map new-model queries (n, d_new) into the old space and search the old index.

    Returns one Arrow table of the ``k`` nearest rows per query (LanceDB's ``_distance`` included).
    """
    tbl = open_store_table(connect(db), table)
    Q = query_side(translator, queries)
    out = []
    for q in Q:
        s = tbl.search(q, vector_column_name=vector_column).limit(k)
        if columns is not None:
            s = s.select(columns)
        out.append(s.to_arrow())
    return out
