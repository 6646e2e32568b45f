"""Migrate a Chroma collection (persistent client, local folder) into a new collection.

The new collection gets the same ids, documents and metadata, the source's
collection metadata and index configuration (distance space, HNSW / SPANN
settings: :func:`index_configuration`), and the translated vectors; the
source is never changed. Rows are read with ``get(offset=, limit=)`` in
Chroma's insertion order (samples with :func:`rows_at`, which reads only the
drawn rows' vectors and texts) and written with ``upsert`` by id, so a batch
redone after a crash overwrites itself and nothing is duplicated. Chroma has no
table versions: do not add to the source while a migration runs (rows added
later can be migrated by a later run into the same target).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, VecbridgeError
from ..sampling import sample_rows_except as draw
from .migrate import (
    DEFAULT_BATCH_ROWS,
    FIT_SAMPLE_ROWS,
    Batch,
    MigrationReport,
    QualityReport,
    StoredSample,
    as_translator,
    check_batch_rows,
    check_dim,
    database_id,
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


def client(path: Any, *, create: bool = False):
    """A Chroma ``PersistentClient`` for the folder of a database (or the client itself), telemetry off.

    A missing folder is an error unless ``create`` (Chroma itself would create an empty database there).
    """
    if hasattr(path, "get_collection"):
        return path
    if not create and not Path(path).is_dir():
        raise VecbridgeError(f"{path}: no such Chroma database (a folder made by chromadb.PersistentClient)")
    chromadb = import_store("chromadb", "Chroma")
    return chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))


def get_store_collection(cl: Any, name: str):
    try:
        return cl.get_collection(name, embedding_function=None)
    except Exception as e:  # chromadb raises NotFoundError / ValueError depending on the version
        if "not exist" in str(e).lower() or "not found" in str(e).lower() or type(e).__name__ == "NotFoundError":
            raise VecbridgeError(f"no collection {name!r} in this Chroma database") from None
        raise


def store_size(path: Any, collection: str) -> tuple[int, bool]:
    """``(rows, holds texts)`` of ``collection``: Chroma keeps a document beside every row it was given one for."""
    return int(get_store_collection(client(path), collection).count()), True


def _exists(cl: Any, name: str) -> bool:
    try:
        get_store_collection(cl, name)
        return True
    except VecbridgeError:
        return False


#: the index settings Chroma takes when a collection is created (``configuration={"hnsw": {...}}`` or
#: ``{"spann": {...}}``), copied from the source; the others are Chroma's own state
INDEX_SETTINGS = {
    "hnsw": ("space", "ef_construction", "max_neighbors", "ef_search", "num_threads", "batch_size",
             "sync_threshold", "resize_factor"),
    "spann": ("space", "search_nprobe", "write_nprobe", "ef_construction", "ef_search", "max_neighbors"),
}


def index_configuration(col: Any) -> dict[str, Any] | None:
    """The index configuration of ``col`` as ``create_collection(configuration=...)`` takes it: its distance
    space and the HNSW / SPANN settings that can be set at creation (None when the client has none to tell).
    A collection made with the older metadata form (``{"hnsw:space": "cosine"}``) reports it here too."""
    cfg = getattr(col, "configuration_json", None)
    if not isinstance(cfg, dict):
        return None
    out = {}
    for index, keys in INDEX_SETTINGS.items():
        got = cfg.get(index)
        if isinstance(got, dict):
            out[index] = {k: got[k] for k in keys if got.get(k) is not None}
    return out or None


def check_target(collection: str, target_collection: str) -> None:
    """The target collection checked before any work (a map fitted, a journal written): a valid name, never the
    source itself (:class:`ParameterError`)."""
    from ..containment import check_store_name

    check_store_name(target_collection, "collection")
    if target_collection == collection:
        raise ParameterError(f"the target collection {target_collection!r} is the source collection: migrations "
                             "never write in place; name a new collection (--to-collection / target_collection=)")


class ChromaReader:
    def __init__(self, col: Any):
        self.col = col

    def count(self) -> int:
        return int(self.col.count())

    def batches(self, start: int, batch_rows: int) -> Iterator[Batch]:
        n = self.count()
        for s in range(start, n, batch_rows):
            r = self.col.get(offset=s, limit=batch_rows, include=["embeddings", "documents", "metadatas"])
            if not r["ids"]:
                break
            X = np.asarray(r["embeddings"], dtype=np.float32)
            yield Batch(s, list(r["ids"]), X, extra={"documents": r.get("documents"), "metadatas": r.get("metadatas")})


ID_BATCH = 5000  # ids per ``get(ids=...)`` call (well under SQLite's limit on query variables)


def rows_at(col: Any, offsets: Any, include: list[str], *, window: int = DEFAULT_BATCH_ROWS) -> dict[str, Any]:
    """The rows at ``offsets`` (in Chroma's insertion order, as :class:`ChromaReader` reads them) without reading
    the others' vectors or texts: ids only for each window of ``window`` rows that holds a wanted offset, then the
    wanted rows by id. Returns ``{"offsets", "ids", <each of include>}`` in increasing offset order; offsets past
    the collection's end are left out (``offsets`` then holds fewer)."""
    want = np.unique(np.asarray(offsets, dtype=np.int64))
    found, ids = [], []
    for w in np.unique(want // window):
        start = int(w) * window
        got = col.get(offset=start, limit=window, include=[])["ids"]
        for o in want[(want >= start) & (want < start + window)]:
            if o - start < len(got):
                found.append(int(o))
                ids.append(got[int(o) - start])
    out: dict[str, Any] = {"offsets": np.asarray(found, dtype=np.int64), "ids": ids, **{f: [] for f in include}}
    for c in range(0, len(ids), ID_BATCH):
        chunk = ids[c : c + ID_BATCH]
        r = col.get(ids=chunk, include=include)
        where = {i: k for k, i in enumerate(r["ids"])}  # Chroma does not promise the order of ``ids``
        for f in include:
            vals = r.get(f)
            out[f].extend(vals[where[i]] if vals is not None and i in where else None for i in chunk)
    return out


class ChromaWriter:
    def __init__(self, cl: Any, name: str, metadata: dict[str, Any], max_batch: int,
                 configuration: dict[str, Any] | None = None):
        self.cl, self.name, self.metadata, self.max_batch = cl, name, metadata, max_batch
        self.configuration = configuration
        self.col = None

    def check_new(self) -> None:
        if _exists(self.cl, self.name):
            refuse_existing("collection", self.name, "choose another name or delete it")

    def drop_partial(self) -> None:
        if _exists(self.cl, self.name):
            self.cl.delete_collection(self.name)

    def holds(self, rows: int) -> bool:
        return _exists(self.cl, self.name) and int(self.cl.get_collection(self.name).count()) == rows

    def ensure_target(self) -> None:
        if _exists(self.cl, self.name):  # a resumed run: the collection this migration created
            self.col = get_store_collection(self.cl, self.name)
            return
        extra = {} if self.configuration is None else {"configuration": self.configuration}
        self.col = self.cl.create_collection(self.name, metadata=self.metadata, embedding_function=None, **extra)

    def rows_committed(self, journal_rows: int) -> int:
        return journal_rows  # upserts by id: a redone batch overwrites itself

    def write(self, batch: Batch, Y: np.ndarray) -> None:
        docs = batch.extra.get("documents") or [None] * len(batch.ids)
        metas = batch.extra.get("metadatas") or [None] * len(batch.ids)
        # Chroma wants each list all-or-nothing: group rows by which fields they carry
        groups: dict[tuple[bool, bool], list[int]] = {}
        for i in range(len(batch.ids)):
            groups.setdefault((docs[i] is not None, bool(metas[i])), []).append(i)
        for (has_doc, has_meta), rows in groups.items():
            for s in range(0, len(rows), self.max_batch):
                idx = rows[s : s + self.max_batch]
                kw: dict[str, Any] = {"ids": [batch.ids[i] for i in idx], "embeddings": Y[idx]}
                if has_doc:
                    kw["documents"] = [docs[i] for i in idx]
                if has_meta:
                    kw["metadatas"] = [metas[i] for i in idx]
                self.col.upsert(**kw)

    def finish(self) -> None:
        pass


def _state_root(path: Any, state: str | None) -> Path:
    """Where migrations of this database keep their journals and maps (give ``state`` for a client)."""
    return Path(state) if state is not None else state_dir(path if not hasattr(path, "get_collection") else ".")


def migrate_chroma(
    path: Any,
    collection: str,
    translator: Any,
    *,
    target_collection: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    resume: bool = True,
    device: str = "cpu",
    state: str | None = None,
    progress: bool | None = None,
    on_batch: Callable[[MigrationReport], None] | None = None,
    check_space: Callable[[np.ndarray], None] | None = None,
) -> MigrationReport:
    """Translate a Chroma collection's vectors into ``target_collection`` (see the module docstring).

    Parameters
    ----------
    path : folder of a persistent Chroma database, or a client.
    collection : source collection; target_collection : the new one (must not exist on a fresh run).
    translator : map old -> new (a Translator or its folder).
    state : folder for the journal (default ``<path>/.vecbridge-migrate``; give one for a client).
    """
    from ..stream import map_fingerprint

    # names and sizes first: nothing is written (journal, collection) before they are known to be good
    check_target(collection, target_collection)
    batch_rows = check_batch_rows(batch_rows)
    folder = map_folder(translator)
    translator = as_translator(translator)
    cl = client(path)
    src = get_store_collection(cl, collection)
    n = int(src.count())
    d_in = int(translator.n_features_in_)
    if n:
        first = src.get(limit=1, include=["embeddings"])["embeddings"]
        check_dim(f"collection {collection!r}", int(np.asarray(first).shape[1]), d_in)
    d_out = int(translator.n_features_out_)
    fp = map_fingerprint(translator)
    meta = {k: v for k, v in (src.metadata or {}).items()}
    meta.update({"vecbridge_migrated_from": collection, "vecbridge_map": fp})
    root = _state_root(path, state)
    jpath = journal_path(root, "chroma", collection, target_collection)
    settings = {"store": "chroma", "database": database_id(path), "source": collection, "target": target_collection,
                "map": fp,
                "dim_in": d_in, "dim_out": d_out}
    max_batch = int(getattr(cl, "get_max_batch_size", lambda: 5000)())
    writer = ChromaWriter(cl, target_collection, meta, max_batch, index_configuration(src))
    report = MigrationReport("chroma", collection, target_collection, "new collection", n, d_in, d_out)
    report.map = folder
    return run_migration(ChromaReader(src), writer, translator, jpath, settings, report,
                         batch_rows=min(batch_rows, max_batch), resume=resume, device=device, progress=progress,
                         on_batch=on_batch, check_space=check_space)


def fit_chroma_map(
    path: Any,
    collection: str,
    target_sample: Any,
    *,
    target_collection: str,
    sample_rows: int = FIT_SAMPLE_ROWS,
    state: str | None = None,
    seed: int = 0,
    **fit_options: Any,
) -> tuple[Any, dict[str, Any]]:
    """The map for migrating ``collection`` when there is none yet (as
    :func:`vecbridge.stores.lancedb.fit_lancedb_map`): fitted from ``sample_rows`` stored vectors, their
    documents where the collection keeps them and ``fit_options`` has an ``encoder`` (pairs), and
    ``target_sample``; saved beside the journal, reused on resume. Pass it to :func:`migrate_chroma`. The target
    is checked first (:func:`check_target`), so a migration that would be refused fits nothing."""
    check_target(collection, target_collection)
    root = _state_root(path, state)
    map_dir = map_dir_of(root, "chroma", collection, target_collection)

    def stored() -> StoredSample:
        col = get_store_collection(client(path), collection)
        rows = rows_at(col, draw(np.random.default_rng(seed), int(col.count()), int(sample_rows)),
                       ["embeddings", "documents"])
        X = np.asarray(rows["embeddings"], dtype=np.float32) if rows["ids"] else np.zeros((0, 0), np.float32)
        texts = rows["documents"]
        with_docs = fit_options.get("encoder") is not None and any(isinstance(t, str) and t for t in texts)
        return StoredSample(X, texts if with_docs else None, rows["offsets"])

    return fit_map_in_state(stored, target_sample, map_dir, seed=seed, **fit_options)


def chroma_quality_gate(
    path: Any,
    collection: str,
    translator: Any,
    encoder: Any,
    *,
    sample: int = 500,
    k: int = 10,
    metric: str = "overlap_at_k",
    threshold: float | None = None,
    query_texts: list[str] | None = None,
    seed: int = 0,
    device: str = "cpu",
    exclude: Any = None,
) -> QualityReport:
    """The quality gate on a seeded sample of a collection's documents (rows without a document are left out;
    so are the row offsets in ``exclude``, the rows a map was fitted on)."""
    col = get_store_collection(client(path), collection)
    rows = rows_at(col, draw(np.random.default_rng(seed), int(col.count()), sample, exclude), ["embeddings", "documents"])
    with_text = [i for i, t in enumerate(rows["documents"]) if isinstance(t, str) and t]
    X = [np.asarray(rows["embeddings"][i], dtype=np.float32) for i in with_text]
    texts = [rows["documents"][i] for i in with_text]
    if len(texts) < 2:
        raise VecbridgeError(f"collection {collection!r}: the sample holds fewer than 2 documents with text; "
                             "the quality gate needs the texts to re-embed")
    return quality_gate(translator, np.vstack(X), texts, encoder, query_texts=query_texts, k=k, metric=metric,
                        threshold=threshold, device=device)


def query_with_map(path: Any, collection: str, translator: Any, queries: np.ndarray, k: int = 10) -> dict[str, Any]:
    """Query side: map new-model queries (n, d_new) into the old space and query the old collection."""
    col = get_store_collection(client(path), collection)
    return col.query(query_embeddings=query_side(translator, queries), n_results=k)
