"""What every vector-store migration shares: the resumable batch loop, its journal,
the query-side helper, and the quality gate.

A migration reads a store's vectors in batches (in a fixed, repeatable order),
translates them with a map's pure batch function, and writes them into a new
column, table or collection, never over the old vectors. After each batch is
committed to the store the journal (JSON, rewritten atomically) records how many
rows are done; a re-run continues from there. Writers make a repeated batch
harmless (Chroma upserts by id; a LanceDB table counts its committed rows, and
LanceDB column updates are keyed by id), so a crash between the store's commit
and the journal's update loses and duplicates nothing.

The **document side** moves old vectors into the new model's space (the new
model then embeds queries). The **query side** leaves the index alone and maps
the new model's queries into the old space at query time
(:func:`query_side`; fit that map from new to old).

The **quality gate** (:func:`retrieval_retention`, :func:`quality_gate`) estimates
how much retrieval quality the migration keeps on a calibration sample: the
sample's texts are re-embedded with the new model, and, for queries in the new
space (the re-embedded documents themselves, or query texts), the top-k lists
searched in the migrated vectors are compared with those searched in the
re-embedded ones (``overlap_at_k``), and the true document's recall is counted
(``recall_at_k``). Below a threshold, :class:`QualityGateError` (exit code 4 on
the command line) stops a CI job.

Names are checked before anything is written (:func:`vecbridge.containment.check_store_name`), and the
journal's file name is made of the escaped source and target names inside the state folder, so no name
can place it anywhere else.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, Protocol

import numpy as np

from ..errors import (
    DimensionError,
    ParameterError,
    QualityGateError,
    ResumeMismatchError,
    VecbridgeError,
    ZeroRowError,
)

#: what a migration is doing before long steps (re-embedding texts, fitting a map), at info level: silent unless
#: the application configures logging; ``vecbridge migrate`` prints it to stderr (not with --quiet)
log = logging.getLogger("vecbridge.migrate")
log.addHandler(logging.NullHandler())

JOURNAL_VERSION = 1
DEFAULT_BATCH_ROWS = 8192
#: exit status of ``vecbridge migrate`` when the quality gate fails
GATE_EXIT_CODE = 4


# -- the loop -------------------------------------------------------------------------
@dataclass
class Batch:
    """Rows ``[start, start + n)`` of the source in its scan order."""

    start: int
    ids: list[str]
    X: np.ndarray  # (n, d_in) float32
    extra: Any = None  # store-specific: the other columns (Arrow) / documents and metadatas


class Reader(Protocol):
    def count(self) -> int: ...

    def batches(self, start: int, batch_rows: int) -> Iterator[Batch]: ...


class Writer(Protocol):
    def check_new(self) -> None: ...

    def drop_partial(self) -> None: ...

    def holds(self, rows: int) -> bool: ...

    def ensure_target(self) -> None: ...

    def rows_committed(self, journal_rows: int) -> int: ...

    def write(self, batch: Batch, Y: np.ndarray) -> None: ...

    def finish(self) -> None: ...


@dataclass
class MigrationReport:
    """What a migration did (``quality`` is set when the gate ran). ``seconds``: the time this run spent migrating;
    ``map``: the map's folder where it is known (a map given as a folder, or one a migration fitted and saved);
    ``journal``: the progress journal, which a re-run resumes from."""

    store: str
    source: str
    target: str
    mode: str
    n_rows: int
    dim_in: int
    dim_out: int
    rows_done: int = 0
    resumed_from: int = 0
    batches: int = 0
    finished: bool = False
    quality: dict[str, Any] | None = None
    seconds: float | None = None
    map: str | None = None
    journal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line of what was migrated (rows, dimensions, time, quality), and one of where the map and the
        progress journal are, when known."""
        s = (f"{self.store}: {self.source} -> {self.target} ({self.mode}): {self.rows_done} of {self.n_rows} vectors "
             f"{self.dim_in}-d -> {self.dim_out}-d")
        if self.finished and not self.batches and self.resumed_from:
            s += " (finished by an earlier run: nothing left to do)"
        elif self.resumed_from:
            s += f", resumed after {self.resumed_from}"
        if self.seconds is not None:
            s += f" in {self.seconds:.1f} s"
        if self.quality:
            q = self.quality
            s += f"; quality: {q['metric']} = {q['value']:.3f}"
            if q.get("threshold") is not None:
                s += f" (threshold {q['threshold']}, {'pass' if q['passed'] else 'FAIL'})"
        where = [f"map {self.map}"] if self.map else []
        where += [f"progress journal {self.journal}"] if self.journal else []
        return s + (f"\n  {'; '.join(where)}" if where else "")


def import_store(module: str, store: str) -> ModuleType:
    """The client library ``module`` of a store, imported on first use; an error naming the extra without it."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the environment
        raise VecbridgeError(f"{store} migration needs {module}: pip install 'vecbridge[stores]'") from None


def as_translator(translator: Any) -> Any:
    """``translator`` itself when it is a :class:`~vecbridge.Translator`, else the map saved in that folder."""
    from ..translators import Translator, load_translator

    return translator if isinstance(translator, Translator) else load_translator(translator)


def map_folder(translator: Any) -> str | None:
    """The folder of a map given as one (a path), for reports; None for a Translator object."""
    return str(translator) if isinstance(translator, (str, os.PathLike)) else None


def refuse_existing(kind: str, name: str, advice: str) -> NoReturn:
    """The error for a target that is there already: migrations write only into new tables and collections."""
    raise VecbridgeError(
        f"{kind} {name!r} already exists; a migration never writes into an existing {kind} ({advice})"
    )


#: the option (CLI / Python) that names a migration's target, by :attr:`MigrationReport.mode`
TARGET_OPTIONS = {"new table": "--to-table / target_table=", "new column": "--to-column / new_column=",
                  "new collection": "--to-collection / target_collection="}
#: how to start a migration again after its journal or its source had to be mended
AGAIN = "start again with --restart / resume=False"
#: the end of every error about a stored row that cannot be migrated
FIX_FIRST = (f"fix or delete it in the source first, then {AGAIN} (the partial target this run made is dropped "
             "then, and the source is read as it is at that time)")


def database_id(location: Any) -> str | None:
    """The resolved folder of a store's database (a path, or a connection with a ``uri``), recorded in the
    journal so that a journal in a shared state folder is never taken for another database's; None when it
    cannot be told (a client object without a path)."""
    where = getattr(location, "uri", None) if not isinstance(location, (str, os.PathLike)) else location
    if where is None or "://" in str(where):
        return None if where is None else str(where)
    return str(Path(where).resolve())


def _made_by_this_migration(path: Path, settings: dict[str, Any]) -> bool:
    """Whether the journal at ``path`` is readable, unfinished, and of this very migration: the same store,
    database, source and target (so the partial target it names was made by it)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(old, dict) or settings.get("database") is None or old.get("finished") is not False:
        return False
    return all(old.get(k) == settings.get(k) for k in ("store", "database", "source", "target"))


def write_journal(path: Path, obj: dict[str, Any]) -> None:
    """Rewrite the journal atomically (its folder is created when missing)."""
    from ..atomic import write_json_atomic

    write_json_atomic(path, obj)


def check_state_folder(root: str | os.PathLike) -> Path:
    """``root`` as a path, refused (:class:`ParameterError`, before anything is written) when it, or the
    nearest of its parents that exists, is not a folder: the state folder holds a migration's journals and maps."""
    root = Path(root)
    there = next((p for p in (root, *root.parents) if p.exists()), None)
    if there is not None and not there.is_dir():
        where = "is a file" if there == root else f"lies under the file {there}"
        raise ParameterError(f"the state folder {root} (--state / state=) {where}; it must be a folder (it keeps the "
                             "migration's journal and map): name a folder, or leave --state out")
    return root


def journal_path(root: str | os.PathLike, store: str, source: str, target: str) -> Path:
    """``<root>/<store>__<source>__<target>.json``, the names escaped so that the file stays in ``root``."""
    from ..containment import file_name_of, path_within

    return path_within(check_state_folder(root), file_name_of(store, source, target, suffix=".json"),
                       what="migration journal")


def check_batch_rows(batch_rows: Any) -> int:
    """``batch_rows`` as a positive int, else :class:`ParameterError` (before anything is written)."""
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, (int, np.integer)) or batch_rows < 1:
        raise ParameterError(f"batch_rows must be a positive integer, got {batch_rows!r} (--batch-rows / batch_rows=)")
    return int(batch_rows)


def open_journal(path: Path, settings: dict[str, Any], resume: bool, *, target: str = "the target",
                 elsewhere: str = "migrate into another target") -> dict[str, Any]:
    """The journal of a partial run with these settings, or a fresh one (written). ``target`` names the target
    in messages (``"table 'docs_new'"``), ``elsewhere`` says how to choose another one."""
    if resume and path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ResumeMismatchError(
                f"{path}: unreadable migration journal ({e}); {AGAIN}"
            ) from None
        diffs = [k for k, v in settings.items() if not isinstance(old, dict) or old.get(k) != v]
        if diffs and isinstance(old, dict) and old.get("finished") is True:
            then = f"({diffs[0]}: {old.get(diffs[0])!r} then, {settings[diffs[0]]!r} now)"
            if "database" in diffs:  # a shared --state folder: that journal is another database's
                raise ResumeMismatchError(
                    f"{path} is the journal of a finished migration of another database {then}; give this "
                    "migration a state folder of its own (--state / state=)")
            raise ResumeMismatchError(
                f"the migration to {target} finished ({old.get('rows_done')} rows, {path}) with another "
                f"{', '.join(diffs)} {then}; a finished target is never rewritten: drop {target} and {AGAIN}, "
                f"or {elsewhere}")
        if diffs:
            raise ResumeMismatchError(
                f"a partial migration to the same target ({path}) was made with different {', '.join(diffs)} "
                f"({diffs[0]}: {old.get(diffs[0]) if isinstance(old, dict) else old!r} then, "
                f"{settings[diffs[0]]!r} now); {AGAIN}"
            )
        return old
    fresh = {**settings, "version": JOURNAL_VERSION, "rows_done": 0, "finished": False}
    write_journal(path, fresh)
    return fresh


def run_migration(
    reader: Reader,
    writer: Writer,
    translator: Any,
    journal_path: Path,
    settings: dict[str, Any],
    report: MigrationReport,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    resume: bool = True,
    device: str = "cpu",
    progress: bool | None = None,
    on_batch: Callable[[MigrationReport], None] | None = None,
    check_space: Callable[[np.ndarray], None] | None = None,
    source_rows_now: int | None = None,
) -> MigrationReport:
    """The resumable batch loop shared by the stores (see the module docstring). ``source_rows_now``: the
    source's row count as it is now, where ``reader`` reads a pinned version (default: ``reader.count()``).
    ``check_space`` is called with the first batch of stored vectors before anything is written (no target, no
    journal), so a refusal leaves the store as it was. A :class:`KeyboardInterrupt` leaves with the report so far
    as its ``migration_report`` attribute (the rows committed and recorded in the journal)."""
    t0 = time.perf_counter()
    batch_rows = check_batch_rows(batch_rows)
    report.journal = str(journal_path)
    settings = {**settings, "output": "target model's coordinates"}  # see store_function
    if check_space is not None and not (resume and _journal_finished(journal_path)):
        _check_first_batch(reader, batch_rows, check_space)  # before a partial target is dropped or one is made
    fresh = not (resume and journal_path.exists())
    if fresh:
        if journal_path.exists() and _made_by_this_migration(journal_path, settings):
            writer.drop_partial()  # its own journal shows that this migration made it and did not finish it
        writer.check_new()  # never write into a table / column / collection that was there before
    flag = TARGET_OPTIONS.get(report.mode)
    journal = open_journal(journal_path, settings, resume,
                           target=f"{report.mode.removeprefix('new ')} {report.target!r}",
                           elsewhere=f"choose another {flag}" if flag else "migrate into another target")
    if journal.get("finished"):
        if not writer.holds(int(journal["rows_done"])):
            raise VecbridgeError(
                f"{journal_path} says that this migration finished ({journal['rows_done']} rows), but the target "
                f"{report.target!r} is missing or holds another number of rows; {AGAIN}")
        now = reader.count() if source_rows_now is None else int(source_rows_now)
        if now != int(journal["rows_done"]):
            raise VecbridgeError(
                f"{report.source!r} holds {now} rows now and held {journal['rows_done']} when this migration "
                f"finished, so {report.target!r} does not match it any more; drop {report.target!r} and {AGAIN}, or "
                "migrate into another target")
        report.rows_done = report.resumed_from = int(journal["rows_done"])
        report.finished = True
        report.seconds = round(time.perf_counter() - t0, 2)
        return report
    try:
        _migrate_batches(reader, writer, translator, journal_path, journal, report, batch_rows, device, progress,
                         on_batch)
    except KeyboardInterrupt as e:
        report.seconds = round(time.perf_counter() - t0, 2)
        e.migration_report = report  # type: ignore[attr-defined] - what was done, for the caller's message
        raise
    report.seconds = round(time.perf_counter() - t0, 2)
    return report


def _migrate_batches(reader: Reader, writer: Writer, translator: Any, journal_path: Path, journal: dict[str, Any],
                     report: MigrationReport, batch_rows: int, device: str, progress: bool | None,
                     on_batch: Callable[[MigrationReport], None] | None) -> None:
    """The loop of :func:`run_migration` once the journal is open: each batch translated, written, then
    recorded in the journal (``report.rows_done`` follows the journal)."""
    from ..progress import progress_bar

    writer.ensure_target()  # created after the journal: a crash in between resumes, not refuses
    start = writer.rows_committed(int(journal["rows_done"]))
    report.rows_done = report.resumed_from = start
    transform = store_function(translator, device)
    n = reader.count()
    with progress_bar(n, f"migrating {report.source}", progress, unit="rows", initial=start) as bar:
        for batch in reader.batches(start, batch_rows):
            if not np.isfinite(batch.X).all():
                i = int(np.argmax(~np.isfinite(batch.X).all(axis=1)))
                raise VecbridgeError(
                    f"{report.source}: the vector of id {batch.ids[i]!r} holds NaN or Inf; {FIX_FIRST}")
            try:
                Y = transform(batch.X)
            except ZeroRowError as e:
                rows = list(e.rows) if e.rows is not None and len(e.rows) else [0]
                raise VecbridgeError(
                    f"{report.source}: the vector of id {batch.ids[int(rows[0])]!r} is all zeros ({len(rows)} such "
                    f"rows in this batch), and this map normalises lengths first: a zero vector has no direction to "
                    f"translate; {FIX_FIRST}") from None
            writer.write(batch, Y)
            journal["rows_done"] = batch.start + len(batch.ids)
            write_journal(journal_path, journal)
            report.rows_done = int(journal["rows_done"])
            report.batches += 1
            bar.update(len(batch.ids))
            if on_batch is not None:
                on_batch(report)
    writer.finish()
    journal["finished"] = True
    write_journal(journal_path, journal)
    report.finished = True


def _journal_finished(path: Path) -> bool:
    """Whether the journal at ``path`` (if any) records a finished migration (nothing is read from the store
    then, so its space is not checked again)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and old.get("finished") is True


def _check_first_batch(reader: Reader, batch_rows: int, check_space: Callable[[np.ndarray], None]) -> None:
    """``check_space`` on the finite rows of the source's first batch (rows with NaN or Inf are named by the
    loop itself, by id)."""
    batches = reader.batches(0, batch_rows)
    try:
        first = next(iter(batches), None)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if first is None:
        return
    X = np.asarray(first.X)
    finite = np.isfinite(X).all(axis=1) if X.ndim == 2 else np.zeros(0, bool)
    if finite.any():
        check_space(X[finite])


def check_dim(what: str, got: int, want: int) -> None:
    if got != want:
        raise DimensionError(
            f"{what} holds {got}-d vectors but the map takes {want}-d source vectors (wrong map, or wrong column?)"
        )


# -- query side -----------------------------------------------------------------------
def store_function(translator: Any, device: str = "cpu") -> Callable[[np.ndarray], np.ndarray]:
    """The map's batch function with its output in the target model's own coordinates
    (:meth:`~vecbridge.Translator.to_target_space`), so that migrated vectors sit with the vectors the target
    model embeds itself (a map normalised with centring would otherwise leave them centred on the target's
    mean). Maps whose output is a shared space, or plain functions, are used as they are."""
    from ..stream import batch_function

    f = batch_function(translator, device)
    if not getattr(translator, "output_in_target_space", lambda: False)():
        return f
    return lambda X: translator.to_target_space(f(X))


def query_side(translator: Any, queries: Any, device: str = "cpu") -> np.ndarray:
    """Map the new model's query vectors (n, d_new) into the old index's space (n, d_old).

    ``translator`` is a map fitted from the new model (source) to the old one
    (target), or its folder. Search the old index with the result.
    """
    return store_function(as_translator(translator), device)(np.asarray(queries, dtype=np.float32))


# -- the quality gate -----------------------------------------------------------------
@dataclass
class QualityReport:
    """Retrieval retention on a calibration sample (see :func:`retrieval_retention`)."""

    metric: str
    value: float
    threshold: float | None
    passed: bool
    k: int
    n_documents: int
    n_queries: int
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrieval_retention(
    queries: np.ndarray,
    migrated: np.ndarray,
    reembedded: np.ndarray,
    k: int = 10,
    gold: Sequence[int] | np.ndarray | None = None,
) -> dict[str, Any]:
    """How well an index of migrated vectors answers queries, compared with a re-embedded index.

    Parameters
    ----------
    queries : (n_q, d) query vectors in the new space.
    migrated : (n, d) documents translated from the old space.
    reembedded : (n, d) the same documents (same rows) embedded by the new model.
    k : list length.
    gold : (n_q,) row of each query's true document, when known.

    Returns
    -------
    dict: ``overlap_at_k`` (mean |top-k(migrated) & top-k(reembedded)| / k), and with
    ``gold``: ``recall_at_k`` of the true document in the migrated index and
    ``recall_at_k_reembedded`` in the re-embedded one (the ceiling), and
    ``recall_retention`` (their ratio). Cosine retrieval.
    """
    from ..retrieval import nearest_neighbors

    migrated = np.asarray(migrated, dtype=np.float32)
    reembedded = np.asarray(reembedded, dtype=np.float32)
    if migrated.shape != reembedded.shape:
        raise DimensionError(f"migrated {migrated.shape} and re-embedded {reembedded.shape} documents must match "
                             "row for row")
    k = int(min(k, migrated.shape[0]))
    top_m, _ = nearest_neighbors(queries, migrated, k=k, progress=False)
    top_r, _ = nearest_neighbors(queries, reembedded, k=k, progress=False)
    overlap = np.array([len(set(a) & set(b)) for a, b in zip(top_m.tolist(), top_r.tolist())], dtype=np.float64) / k
    out: dict[str, Any] = {"k": k, "overlap_at_k": float(overlap.mean()), "n_queries": int(top_m.shape[0])}
    if gold is not None:
        g = np.asarray(gold, dtype=np.int64)[:, None]
        rec_m = float((top_m == g).any(axis=1).mean())
        rec_r = float((top_r == g).any(axis=1).mean())
        out.update(recall_at_k=rec_m, recall_at_k_reembedded=rec_r,
                   recall_retention=rec_m / rec_r if rec_r > 0 else None)
    return out


def quality_gate(
    translator: Any,
    old_vectors: np.ndarray,
    texts: Sequence[str],
    encoder: Any,
    *,
    query_texts: Sequence[str] | None = None,
    k: int = 10,
    metric: str = "overlap_at_k",
    threshold: float | None = None,
    device: str = "cpu",
    progress: bool | None = None,
) -> QualityReport:
    """Estimate retrieval retention on a calibration sample and check it against ``threshold``.

    Parameters
    ----------
    translator : the document-side map (old -> new), a Translator or its folder.
    old_vectors : (n, d_old) the sample's stored vectors.
    texts : n texts of the same rows (to re-embed with the new model).
    encoder : the new model: an encoder name for :func:`vecbridge.encoders.get_encoder`,
        an Encoder, or any function ``texts -> (n, d_new) array``.
    query_texts : queries to test with (encoded by ``encoder``); default: the re-embedded
        documents themselves, each query's true document being its own row.
    metric : ``"overlap_at_k"`` (default), ``"recall_at_k"`` or ``"recall_retention"``.
    threshold : fail below it (None: only measure).

    Raises
    ------
    QualityGateError below the threshold (the report is attached as ``.report``).
    """
    from ..evaluation import paired_metrics

    translator = as_translator(translator)
    texts = list(texts)
    old_vectors = np.asarray(old_vectors, dtype=np.float32)
    if len(texts) != old_vectors.shape[0]:
        raise DimensionError(f"{len(texts)} calibration texts for {old_vectors.shape[0]} vectors; they must pair up")
    if len(texts) < 2:
        raise VecbridgeError("the quality gate needs at least 2 calibration documents with texts")
    encode = encode_function(encoder, progress)
    migrated = store_function(translator, device)(old_vectors)
    reembedded = np.asarray(encode(texts), dtype=np.float32)
    check = reembedded.shape[1]
    if check != migrated.shape[1]:
        raise DimensionError(
            f"the new model embeds {check}-d vectors but the map writes {migrated.shape[1]}-d ones; "
            "is it the map's target model?"
        )
    if query_texts is None:
        queries, gold = reembedded, np.arange(len(texts))
    else:
        queries, gold = np.asarray(encode(list(query_texts)), dtype=np.float32), None
    metrics = retrieval_retention(queries, migrated, reembedded, k=k, gold=gold)
    paired = paired_metrics(migrated, reembedded, progress=False)
    metrics["paired"] = {key: paired[key] for key in ("mean_cosine", "top1", "mrr") if key in paired}
    if metric not in metrics or metrics[metric] is None:
        raise VecbridgeError(
            f"metric {metric!r} is not available here (it needs the documents as queries); "
            "choose from "
            f"{[m for m in ('overlap_at_k', 'recall_at_k', 'recall_retention') if metrics.get(m) is not None]}"
        )
    value = float(metrics[metric])
    passed = threshold is None or value >= threshold
    rep = QualityReport(metric, value, threshold, passed, metrics["k"], len(texts), metrics["n_queries"], metrics)
    if not passed:
        raise QualityGateError(
            f"quality gate failed: {metric} = {value:.3f} on {len(texts)} calibration documents is below "
            f"{threshold} (retrieval through the migrated vectors loses too much; re-embed, or fit a better map)",
            rep,
        )
    return rep


def encode_function(encoder: Any, progress: bool | None) -> Callable[[list[str]], np.ndarray]:
    if isinstance(encoder, str):
        from ..encoders import get_encoder

        encoder = get_encoder(encoder)
    if hasattr(encoder, "encode"):
        return lambda texts: encoder.encode(texts, progress=progress)
    if callable(encoder):
        return encoder
    raise VecbridgeError("encoder must be a name, an Encoder or a function texts -> vectors, got "
                         f"{type(encoder).__name__}")


#: stored vectors sampled to fit a map without pairs (``migrate --target-sample``)
FIT_SAMPLE_ROWS = 8000
#: stored texts re-embedded with the new model as pairs for a migration's own fit (``migrate --pair-rows``)
PAIR_ROWS = 1000


@dataclass
class StoredSample:
    """A seeded sample of a store's rows for fitting a migration's map: their vectors, their texts where the
    store keeps them (None per row without one; ``texts`` None when the store keeps none), and each row's
    offset in the store's scan order (so that the quality gate can leave the fitting rows out)."""

    vectors: np.ndarray
    texts: list[str | None] | None = None
    offsets: np.ndarray | None = None


def map_dir_of(root: str | os.PathLike, store: str, source: str, target: str) -> Path:
    """Where a migration keeps the map it fitted itself: ``<root>/<store>__<source>__<target>.map``."""
    from ..containment import file_name_of, path_within

    return path_within(check_state_folder(root), file_name_of(store, source, target, suffix=".map"),
                       what="migration map")


def method_translator(method: str, params: dict[str, Any] | None = None, **defaults: Any) -> Any:
    """The unfitted translator of ``method`` with the user's ``params`` (checked by the method: an unknown name or
    a wrong type is a :class:`ParameterError`), and each of ``defaults`` (``seed=``, ``progress=``...) that the
    method takes and the user did not set: a method without a seed or a progress display is not refused for
    them (as ``vecbridge fit`` does)."""
    from ..translators import make_translator

    params = dict(params or {})
    t = make_translator(method, **params)
    taken = t.get_params()
    extra = {k: v for k, v in defaults.items() if k in taken and k not in params}
    return t.set_params(**extra).check_params() if extra else t


def pairless_methods() -> list[str]:
    """The methods that fit without pairs (``auto`` first), for messages; ``identity`` (a baseline) left out."""
    from ..translators.registry import REGISTRY, translator_class

    names = []
    for n in sorted(REGISTRY):
        try:
            if n not in ("auto", "identity") and not translator_class(n).requires_pairs:
                names.append(n)
        except (ImportError, AttributeError):  # a registered method whose module does not load here
            continue
    return ["auto", *names]


def _needs_pairs(method: str, why: str) -> ParameterError:
    return ParameterError(
        f"--method {method} needs pairs, and {why}; choose a method that fits without pairs "
        f"({', '.join(pairless_methods())}; method= in Python), or give --encoder NAME (the new model) to re-embed "
        "the stored texts as pairs (a store that keeps them: LanceDB --text-column, Chroma documents)")


def _pairs_from_texts(sample: StoredSample, encoder: Any, pair_rows: int, seed: int,
                      progress: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``sample`` whose texts are re-embedded (at most ``pair_rows``, drawn at random among the rows
    with a text) and their new-model vectors."""
    if encoder is None or sample.texts is None or pair_rows <= 0:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    with_text = np.array([i for i, t in enumerate(sample.texts) if isinstance(t, str) and t.strip()], np.int64)
    if not len(with_text):
        return with_text, np.zeros((0, 0), np.float32)
    rows = np.sort(np.random.default_rng(seed + 1).permutation(with_text)[:pair_rows])
    log.info("re-embedding %d stored texts with the new model (pairs for the map's fit) ...", len(rows))
    P = np.asarray(encode_function(encoder, progress)([sample.texts[i] for i in rows]), dtype=np.float32)
    if P.ndim != 2 or len(P) != len(rows):
        raise VecbridgeError(f"the encoder returned {P.shape} for {len(rows)} texts; expected one vector per text")
    return rows, P


def fit_map_in_state(
    old_sample: Any | Callable[[], Any],
    new_sample: Any | Callable[[], Any] | None,
    map_dir: Path,
    *,
    encoder: Any = None,
    pair_rows: int = PAIR_ROWS,
    resume: bool = True,
    force: bool = False,
    seed: int = 0,
    progress: bool | None = None,
    method: str = "auto",
    params: dict[str, Any] | None = None,
    before_fit: Callable[[], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The map old -> new for a migration that has no map yet, fitted from what the store and the user have,
    saved in ``map_dir`` (inside the migration state) so that a resumed run uses the same map. With ``resume``
    and a map already in ``map_dir``, that map is reused.

    ``old_sample``: a sample of the stored rows (a :class:`StoredSample`, or just its vectors). ``new_sample``:
    the new model's vectors of other texts of the same domain, or None. With ``encoder`` (the new model) and
    stored texts, up to ``pair_rows`` of the sampled texts are re-embedded and paired with their stored
    vectors. Which fit follows (``info["mode"]``, also in the map's manifest):

    - ``pairs``: at least as many pairs as the smaller dimension (a well-posed fit on pairs); ``method``
      (default ``auto``: cross-validation among the supervised methods) on the pairs;
    - ``few pairs``: fewer pairs than that: they seed a fit without pairs between the stored sample and
      ``new_sample`` (needed);
    - ``no pairs``: no texts (or no encoder): a fit without pairs between the stored sample and ``new_sample``
      (needed).

    Maps fitted with few or no pairs are judged by the pairless verdict; a map fitted on pairs by the held-out
    check of ``vecbridge fit`` (:meth:`~vecbridge.Translator.held_out_verdict`: the method, for ``auto`` the one
    it chose, fitted again on four fifths of the pairs and judged on the rest), or, with too few pairs for that,
    used without a verdict (a warning says so). Either sample may be a function that reads it (called only when a
    map is fitted). Returns ``(translator, info)``; ``info`` says whether the map was fitted or reused, its
    folder, mode, method, verdict (``verdict_reason``, ``verdict_details``), auto's cross-validated top-1
    (``cv_top1``) and sample sizes. Raises :class:`~vecbridge.errors.NotAlignedError` (nothing saved; its
    ``info`` attribute holds that dict) when the verdict is "not aligned", unless ``force``; so does a reused map
    judged "not aligned" when it was fitted (saved then with ``force``), unless ``force`` is given again.
    ``before_fit`` (optional) is called only when a map is to be fitted (not when one is reused), before the store
    is read or a text embedded: the caller's own checks of a fit that would be wasted.
    """
    from ..errors import NotAlignedError
    from ..translators import load_translator
    from ..translators.base import MANIFEST, as_float32_matrix

    map_dir = Path(map_dir)
    if resume and (map_dir / MANIFEST).is_file():
        t = load_translator(map_dir)
        fi = getattr(t, "fit_info_", {}) or {}
        mig = fi.get("migration") or {}
        info = {"map": str(map_dir), "reused": True, "mode": mig.get("mode", "no pairs"),
                "n_pairs": mig.get("n_pairs", 0), "method": fi.get("chosen_method") or t.method,
                "verdict": fi.get("verdict"), "confidence": fi.get("confidence"),
                "verdict_reason": fi.get("verdict_reason"), "verdict_details": fi.get("verdict_details"),
                "cv_top1": fi.get("cv_top1"), "pair_offsets": mig.get("pair_offsets", [])}
        if info["verdict"] == "not aligned" and not force:  # kept with force when fitted: force it again to use it
            err = NotAlignedError(
                f"the map fitted for this migration before ({map_dir}; {info['mode']}, {info['method']}) was judged "
                f"not aligned: {info['verdict_reason'] or 'no reason recorded'}. It was kept only because it was "
                "forced then; nothing was migrated. Migrate anyway with --force / force=True, or fit a new map "
                "with --restart / resume=False")
            err.info = info  # type: ignore[attr-defined] - the saved map's figures, for a report
            raise err
        return t, info
    # the method and its parameters first: a bad one is refused before the store is read or a text embedded
    t = method_translator(method, params, seed=seed, progress=progress)
    if t.requires_pairs and (encoder is None or int(pair_rows) <= 0):
        raise _needs_pairs(method, "no encoder was given to re-embed stored texts" if encoder is None else
                           "pairs from stored texts are off (--pair-rows 0)")
    if before_fit is not None:
        before_fit()
    got = old_sample() if callable(old_sample) else old_sample
    sample = got if isinstance(got, StoredSample) else StoredSample(got)
    X = as_float32_matrix(sample.vectors, "the stored vectors' sample")
    S = None
    if new_sample is not None:
        S = as_float32_matrix(new_sample() if callable(new_sample) else new_sample,
                              "the target sample (--target-sample)")
    rows, P = _pairs_from_texts(sample, encoder, int(pair_rows), seed, progress)
    if S is not None and len(P) and S.shape[1] != P.shape[1]:
        raise DimensionError(f"the target sample has {S.shape[1]}-d vectors but the encoder gives {P.shape[1]}-d ones; "
                             "both must come from the new model")
    d_new = P.shape[1] if len(P) else (S.shape[1] if S is not None else None)
    well_posed = min(X.shape[1], d_new) if d_new else 0
    mode = "pairs" if len(P) and len(P) >= well_posed else ("few pairs" if len(P) else "no pairs")
    if mode != "pairs" and t.requires_pairs:
        raise _needs_pairs(method, f"only {len(P)} stored texts were re-embedded as pairs (at most --pair-rows, "
                           f"among the sampled rows with a text), fewer than the {well_posed} a fit on pairs needs "
                           "(the smaller dimension)" if len(P) else "the store keeps no texts to re-embed")
    if mode != "pairs" and S is None:
        have = (f"only {len(P)} of the sampled stored rows have a text, fewer than the {well_posed} pairs a fit on "
                "pairs needs (the smaller dimension)" if len(P) else
                "no encoder was given to re-embed stored texts" if encoder is None else
                "pairs from stored texts are off (--pair-rows 0)" if int(pair_rows) <= 0 else
                "the store keeps no texts to re-embed")
        raise VecbridgeError(f"cannot fit the migration's map: {have}; give new-model vectors of other texts of the "
                             "same domain as well (--target-sample FILE or --target-texts FILE)")
    for what, A in (("the stored vectors' sample", X), ("the target sample (--target-sample)", S)):
        if A is None:
            continue
        bad = ~np.isfinite(A).all(axis=1)
        if bad.any():
            raise VecbridgeError(f"{what}: row {int(np.argmax(bad))} holds NaN or Inf ({int(bad.sum())} such rows)")
        if len(A) < 20 and mode != "pairs":
            raise VecbridgeError(f"{what} has {len(A)} rows; a fit without pairs needs thousands (at least 20)")
    known = None
    how = method
    if method == "auto" and mode == "pairs":
        how = "auto (cross-validation among the supervised methods)"
    if mode == "pairs":  # the pairs alone: both sides' normalisation statistics from the same items
        Xf, Y, known = X[rows], P, np.stack([np.arange(len(P))] * 2, axis=1)
        log.info("fitting the map on %d pairs with %s ...", len(P), how)
    else:
        Xf, Y = X, (np.vstack([S, P]) if len(P) else S)
        if len(P):
            known = np.stack([rows, len(S) + np.arange(len(P))], axis=1)
        log.info("fitting the map without pairs%s on %d stored and %d target vectors with %s (can take minutes) ...",
                 f", seeded by {len(P)} re-embedded stored texts" if len(P) else "", len(X), len(S), how)
    t.fit(Xf, Y, known_pairs=known)
    fi = t.fit_info_
    cv_top1 = fi.get("cv_top1", getattr(t, "chosen_", t).fit_info_.get("cv_top1"))
    if cv_top1 is not None:
        fi["cv_top1"] = cv_top1
    if mode == "pairs":  # no pairless verdict: judged on held-out pairs, as vecbridge fit does
        _held_out_check(t, Xf, Y, known, seed, samples=(X, S))
    offsets = [] if sample.offsets is None or not len(rows) else np.asarray(sample.offsets)[rows].astype(int).tolist()
    fi["migration"] = {"mode": mode, "n_pairs": int(len(P)), "pair_offsets": offsets,
                       "pairs_from": f"{len(P)} stored texts re-embedded with the new model" if len(P) else None}
    info = {"map": str(map_dir), "reused": False, "mode": mode, "n_pairs": int(len(P)),
            "method": fi.get("chosen_method") or t.method, "verdict": fi.get("verdict"),
            "confidence": fi.get("confidence"), "verdict_reason": fi.get("verdict_reason"),
            "verdict_details": fi.get("verdict_details"), "cv_top1": cv_top1,
            "n_stored_sample": len(X), "n_target_sample": 0 if S is None or mode == "pairs" else len(S),
            "fit_seconds": fi.get("fit_seconds"), "pair_offsets": offsets}
    judged_on_samples = (fi.get("verdict_details") or {}).get("rows") == "sample"
    if S is not None and mode == "pairs" and not judged_on_samples:
        # enough pairs for a fit on pairs: the map and its statistics come from the pairs, the sample is not used
        info["target_sample_unused"] = fi["migration"]["target_sample_unused"] = int(len(S))
    if fi.get("verdict") == "not aligned" and not force:
        if mode == "pairs":
            what = (f"the map fitted on {len(P)} pairs ({info['method']}; stored texts re-embedded with the new "
                    f"model) was judged not aligned: {fi.get('verdict_reason')}. Nothing was "
                    "migrated or saved; check that the store's texts (LanceDB: --text-column / text_column=; Chroma: "
                    "the documents) are the texts its vectors were embedded from, and that the encoder is the new "
                    "model")
        else:
            what = (f"the map fitted with {mode} ({info['method']}, {len(X)} stored vectors, {len(Y)} target "
                    f"vectors) was judged not aligned: {fi.get('verdict_reason')}. Nothing was migrated or saved; "
                    "check that the target sample comes from the same domain")
        err = NotAlignedError(f"{what}, or migrate anyway with --force / force=True")
        err.info = info  # type: ignore[attr-defined] - the fit's figures, for a report
        raise err
    map_dir.parent.mkdir(parents=True, exist_ok=True)
    t.save(map_dir, overwrite=True)
    return t, info


def _held_out_check(t: Any, X: np.ndarray, Y: np.ndarray, known: np.ndarray, seed: int,
                    samples: tuple[np.ndarray, np.ndarray | None] | None = None) -> None:
    """The verdict of ``t`` (for auto: the method it chose) fitted on the pairs ``known`` of ``X`` and ``Y``:
    :meth:`~vecbridge.Translator.held_out_verdict`, recorded in ``t.fit_info_`` (``verdict``, ``confidence``,
    ``verdict_reason``, ``verdict_details``). Too few pairs to hold some out: the pairless verdict on ``samples``
    (the stored sample and the target sample; as ``vecbridge fit`` judges such a map), said in a warning; no
    verdict where that cannot run (no target sample, or fewer than 20 rows a side)."""
    inner = getattr(t, "chosen_", t)
    fi = t.fit_info_
    log.info("checking %s on held-out pairs (fitted again on the others) ...", inner.method)
    v = inner.held_out_verdict(X, Y, known_pairs=known, seed=seed)
    if v is None:
        n = len(known)
        held, needed = inner.held_out_sizes(n, X.shape[1], Y.shape[1])
        reason = (f"too few pairs for a held-out check of {inner.method}: of {n:,} pairs, {held:,} would be held out "
                  f"(a fifth, at least 10), leaving {max(n - held, 0):,} to fit on where {inner.method} needs "
                  f"{needed:,} ({X.shape[1]}-d -> {Y.shape[1]}-d)")
        from ..verdict import judge_inputs

        try:
            if samples is None or samples[1] is None:
                raise VecbridgeError("it needs a sample of the new model's vectors: --target-sample / target_sample=")
            pv = judge_inputs(t, samples[0], samples[1], rows="sample", seed=seed, fitted=False).as_dict()
        except VecbridgeError as e:
            fi.update(verdict=None, confidence=None, verdict_reason=reason, verdict_details=None)
            warnings.warn(f"{reason}, and the pairless verdict cannot run ({e}), so the map is used without a "
                          "verdict; re-embed more stored texts as pairs (--pair-rows / pair_rows=) to have it judged",
                          stacklevel=3)
            return
        fi.update(pv)
        warnings.warn(f"{reason}, so the map is judged without pairs, on the two samples: {pv['verdict']} "
                      f"(confidence {pv['confidence']}); re-embed more stored texts as pairs (--pair-rows / "
                      "pair_rows=) to have it judged on held-out pairs", stacklevel=3)
        return
    fi.update(verdict=v["verdict"], confidence=v["confidence"], verdict_reason=v["verdict_reason"],
              verdict_details={k: v[k] for k in ("statistic", "top1", "controls_top1", "n_eval", "n_train")})


def state_dir(root: str | os.PathLike) -> Path:
    """Where migrations keep their journals: ``<store folder>/.vecbridge-migrate``."""
    return Path(root) / ".vecbridge-migrate"
