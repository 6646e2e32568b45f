"""Does a migrated LanceDB table keep its ANN recall? Exact against approximate search on translated vectors.

Non-orthogonal maps are reported to cost ANN indexes recall (they change the geometry the index quantises).
This measures it on BBC News sentences, MiniLM-L3 (old model) -> MiniLM-L6 (new model):

- documents: the old model's vectors of 6,000 sentences (the 4,000 + 2,000 of
  ``vecbridge.datasets.tasks.sentence_task(..., n_unpaired=4000, n_test=2000, seed=0)``), migrated with
  ``vecbridge.stores.lancedb.migrate_lancedb`` into a new table by each map;
- maps, fitted on 1,000 of the paired test sentences (normalisation ``unit center unit``): Procrustes
  (orthogonal) and least squares (not orthogonal); and, as the baseline, the new model's own vectors of
  6,000 sentences (a re-index);
- the index: LanceDB's default index type (IVF_PQ) with its default partitions and sub-vectors, metric cosine
  (the vectors are compared by cosine), built with ``table.create_index(metric="cosine")``; searched with the
  default ``nprobes`` and ``refine_factor``;
- queries: the new model's vectors of the other 1,000 test sentences; recall@10 of the ANN search against the
  exact search (``bypass_vector_index``) on the same table.

Rows go to ``benchmarks/results/ann_recall.jsonl``; the table into docs/migration.md (``ann`` section).
Run: ``python benchmarks/ann_recall.py``; ``--render`` only renders.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DOCS, append_row, markdown_table, provenance, read_rows, today, write_section  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ann_recall.jsonl"
K = 10


def table_of(db, name: str, X: np.ndarray):
    import pyarrow as pa

    t = pa.table({"id": [f"d{i}" for i in range(len(X))],
                  "vector": pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1).astype(np.float32)), X.shape[1])})
    return db.create_table(name, t)


def recall(tbl, queries: np.ndarray) -> tuple[float, float, float]:
    """(ANN recall@K against exact search, seconds per exact query, seconds per ANN query)."""
    hits, t_exact, t_ann = 0, 0.0, 0.0
    for q in queries:
        t0 = time.perf_counter()
        exact = tbl.search(q).metric("cosine").bypass_vector_index().limit(K).to_arrow()["id"].to_pylist()
        t1 = time.perf_counter()
        ann = tbl.search(q).metric("cosine").limit(K).to_arrow()["id"].to_pylist()
        t2 = time.perf_counter()
        hits += len(set(exact) & set(ann))
        t_exact += t1 - t0
        t_ann += t2 - t1
    return hits / (K * len(queries)), t_exact / len(queries), t_ann / len(queries)


def run() -> None:
    import lancedb

    from vecbridge import make_translator
    from vecbridge.datasets.tasks import sentence_task
    from vecbridge.stores.lancedb import migrate_lancedb

    st = sentence_task("minilm-l3-onnx", "minilm-l6", n_unpaired=4000, n_test=2000, seed=0)
    docs_old = np.vstack([st.src_train, st.src_test]).astype(np.float32)
    docs_new = np.vstack([st.tgt_train, st.tgt_test]).astype(np.float32)
    queries = st.tgt_test[1000:].astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        db = lancedb.connect(tmp)
        table_of(db, "old", docs_old)
        rows = []
        native = table_of(db, "native", docs_new)
        cases = [("re-index (the new model's own vectors)", None, native)]
        for method in ("procrustes", "lstsq"):
            t = make_translator(method, normalize="unit center unit").fit(st.src_test[:1000], st.tgt_test[:1000])
            sv = np.linalg.svd(np.asarray(t.W_, dtype=np.float64), compute_uv=False)
            dev = float(sv[0] / sv[-1])  # 1 for an orthogonal map
            migrate_lancedb(tmp, "old", t, target_table=f"migrated_{method}", progress=False, state=tmp + "/state")
            cases.append((f"migrated, {method} (1,000 pairs)", dev, db.open_table(f"migrated_{method}")))
        for label, dev, tbl in cases:
            t0 = time.perf_counter()
            tbl.create_index(metric="cosine")
            build = time.perf_counter() - t0
            details = getattr(tbl.list_indices()[0], "index_details", {}) or {}
            r, te, ta = recall(tbl, queries)
            row = {"case": label, "condition_number": None if dev is None else round(dev, 2),
                   "ann_recall_at_10": round(r, 4), "index_build_s": round(build, 2),
                   "exact_ms_per_query": round(1000 * te, 2), "ann_ms_per_query": round(1000 * ta, 2),
                   "n_documents": len(docs_old), "n_queries": len(queries), "index": "IVF_PQ (LanceDB defaults)",
                   "index_details": {"compression": details.get("compression"), "metric": details.get("metric_type")},
                   "lancedb": lancedb.__version__, "date": today()}
            append_row(RESULTS, row)
            rows.append(row)
            print(row, flush=True)


def render() -> None:
    rows = read_rows(RESULTS)
    latest = {}
    for r in rows:
        latest[r["case"]] = r
    rows = list(latest.values())
    body = ("### The ANN question\n\nRecall@10 of LanceDB's approximate search against its exact search on the "
            "same table (BBC News, MiniLM-L3 -> MiniLM-L6, 6,000 documents, 1,000 new-model queries; index "
            f"{rows[0]['index'] if rows else ''}, metric cosine, default nprobes; LanceDB "
            f"{rows[0]['lancedb'] if rows else ''}). *condition number*: largest over smallest singular value of the map "
            "(1 for an orthogonal map).\n\n"
            + provenance(rows, "python benchmarks/ann_recall.py") + "\n\n"
            + markdown_table(["documents", "map's condition number", "ANN recall@10", "index build s",
                              "exact ms / query", "ANN ms / query"],
                             [[r["case"], "" if r.get("condition_number") is None
                               else "singular" if r["condition_number"] > 1e6 else r["condition_number"],
                               r["ann_recall_at_10"], r["index_build_s"], r["exact_ms_per_query"],
                               r["ann_ms_per_query"]] for r in rows]))
    write_section(DOCS / "migration.md", "ann", body)


if __name__ == "__main__":
    if sys.argv[1:] != ["--render"]:
        run()
    render()
