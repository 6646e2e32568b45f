"""Vector-store migration: LanceDB (new table, new column) and Chroma, resume after crashes, the quality gate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
lancedb = pytest.importorskip("lancedb")

from vecbridge.errors import ParameterError, VecbridgeError  # noqa: E402
from vecbridge.stores.lancedb import lancedb_quality_gate, migrate_lancedb, search_with_query_map  # noqa: E402
from vecbridge.stores.migrate import (  # noqa: E402
    QualityGateError,
    quality_gate,
    query_side,
    retrieval_retention,
)
from vecbridge.translators.linear import LeastSquares, Procrustes  # noqa: E402

N, D_OLD, D_NEW = 3000, 16, 12


@pytest.fixture(scope="module")
def spaces():
    rng = np.random.default_rng(0)
    old = rng.standard_normal((N, D_OLD)).astype(np.float32)
    A = rng.standard_normal((D_OLD, D_NEW)).astype(np.float32)
    new = old @ A
    return old, new, LeastSquares().fit(old, new)


def make_table(db_path: Path, old: np.ndarray, name: str = "docs"):
    db = lancedb.connect(str(db_path))
    ids = [f"doc-{i}" for i in range(old.shape[0])]
    t = pa.table({"id": ids, "text": [f"text {i}" for i in range(old.shape[0])],
                  "vector": pa.FixedSizeListArray.from_arrays(pa.array(old.reshape(-1)), old.shape[1])})
    db.create_table(name, t)
    return db, ids


def table_vectors(tbl, column: str):
    t = tbl.search().limit(None).to_arrow()
    ids = t["id"].to_pylist()
    col = t[column].combine_chunks()
    return ids, t, np.asarray(col.flatten().to_numpy(), dtype=np.float32).reshape(t.num_rows, -1)


def by_id(ids, X):
    order = np.argsort(np.array([int(k.split("-")[1]) for k in ids]))
    return X[order]


class Crash(Exception):
    pass


def crash_at(k):
    def f(rep):
        if rep.batches == k:
            raise Crash

    return f


def test_lancedb_new_table_exact_and_resumable(tmp_path, spaces):
    old, new, m = spaces
    db, ids = make_table(tmp_path / "db", old)
    with pytest.raises(Crash):
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", batch_rows=400, on_batch=crash_at(3),
                        progress=False)
    assert db.open_table("docs_new").count_rows() == 1200
    rep = migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", batch_rows=400, progress=False)
    assert rep.resumed_from == 1200 and rep.rows_done == N and rep.finished
    got_ids, t, Y = table_vectors(db.open_table("docs_new"), "vector")
    assert sorted(got_ids) == sorted(ids) and len(set(got_ids)) == N  # every id, once
    assert t.schema.field("vector").type == pa.list_(pa.float32(), D_NEW)
    assert set(t.column_names) == {"id", "text", "vector"}
    np.testing.assert_allclose(by_id(got_ids, Y), m.transform(old), atol=1e-4)
    # the source is untouched
    _, _, X = table_vectors(db.open_table("docs"), "vector")
    assert X.shape == (N, D_OLD)
    # a finished migration re-run does nothing; an existing table is never written into
    again = migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", progress=False)
    assert again.finished and db.open_table("docs_new").count_rows() == N
    with pytest.raises(VecbridgeError, match="already exists"):
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", resume=False, progress=False)


def test_lancedb_new_column_keeps_old_vectors(tmp_path, spaces):
    old, new, m = spaces
    db, ids = make_table(tmp_path / "db", old)
    with pytest.raises(Crash):
        migrate_lancedb(tmp_path / "db", "docs", m, new_column="vector_new", batch_rows=500, on_batch=crash_at(2),
                        progress=False)
    rep = migrate_lancedb(tmp_path / "db", "docs", m, new_column="vector_new", batch_rows=500, progress=False)
    assert rep.resumed_from == 1000 and rep.mode == "new column"
    tbl = db.open_table("docs")
    got_ids, t, Y = table_vectors(tbl, "vector_new")
    assert sorted(got_ids) == sorted(ids) and len(got_ids) == N
    assert t["vector_new"].null_count == 0
    np.testing.assert_allclose(by_id(got_ids, Y), m.transform(old), atol=1e-4)
    _, _, X = table_vectors(tbl, "vector")
    np.testing.assert_array_equal(by_id(got_ids, X), old)
    with pytest.raises(VecbridgeError, match="never write in place"):
        migrate_lancedb(tmp_path / "db", "docs", m, new_column="vector", progress=False)


def test_lancedb_wrong_dimension_and_targets(tmp_path, spaces):
    old, new, m = spaces
    make_table(tmp_path / "db", old[:, :5])
    with pytest.raises(VecbridgeError, match="5-d"):
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="x", progress=False)
    with pytest.raises(VecbridgeError, match="exactly one target"):
        migrate_lancedb(tmp_path / "db", "docs", m, progress=False)


def test_lancedb_bad_row_then_restart_after_the_fix(tmp_path, spaces):
    """A row that cannot be migrated stops the run with its id; once it is deleted from the source, --restart
    (resume=False) drops the partial table this migration made and migrates the source as it is now."""
    old, new, m = spaces
    db, ids = make_table(tmp_path / "db", old[:1000])
    db.open_table("docs").update(where="id = 'doc-700'", values={"vector": None})  # a row without a vector
    with pytest.raises(VecbridgeError, match="id 'doc-700'.*--restart"):
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", batch_rows=300, progress=False)
    assert 0 < db.open_table("docs_new").count_rows() < 1000  # the partial target the failed run left
    db.open_table("docs").delete("id = 'doc-700'")
    with pytest.raises(VecbridgeError, match="doc-700"):  # resuming reads the source at its pinned version
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", batch_rows=300, progress=False)
    rep = migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", batch_rows=300, resume=False,
                          progress=False)
    assert rep.finished and rep.rows_done == 999 and rep.resumed_from == 0
    got_ids, _, Y = table_vectors(db.open_table("docs_new"), "vector")
    assert sorted(got_ids) == sorted(i for i in ids if i != "doc-700")
    # a table the user made under that name is never dropped: only a partial run's own
    db.create_table("mine", pa.table({"id": ["a"]}))
    with pytest.raises(VecbridgeError, match="already exists"):
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="mine", resume=False, progress=False)
    assert db.open_table("mine").count_rows() == 1


def test_lancedb_finished_journal_with_its_target_gone(tmp_path, spaces):
    old, new, m = spaces
    db, ids = make_table(tmp_path / "db", old[:500])
    migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", progress=False)
    db.drop_table("docs_new")
    with pytest.raises(VecbridgeError, match="finished.*missing.*--restart"):
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", progress=False)
    rep = migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", resume=False, progress=False)
    assert rep.rows_done == 500 and db.open_table("docs_new").count_rows() == 500
    # rows added to the source after the migration finished: a re-run says so instead of "finished"
    db.open_table("docs").add(pa.table({"id": ["late"], "text": ["t"], "vector": pa.FixedSizeListArray.from_arrays(
        pa.array(old[0]), D_OLD)}))
    with pytest.raises(VecbridgeError, match="holds 501 rows now and held 500"):
        migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", progress=False)


@pytest.mark.parametrize("ids, message", [(["a", None, "c", "d"], "1 rows have no id"),
                                          (["a", "b", "a", "d"], "not unique.*'a'")])
def test_lancedb_new_column_needs_unique_ids_before_it_adds_the_column(tmp_path, spaces, ids, message):
    old, new, m = spaces
    db = lancedb.connect(str(tmp_path / "db"))
    vec = pa.FixedSizeListArray.from_arrays(pa.array(old[:4].reshape(-1)), D_OLD)
    db.create_table("docs", pa.table({"id": pa.array(ids, pa.string()), "vector": vec}))
    with pytest.raises(VecbridgeError, match=message):
        migrate_lancedb(tmp_path / "db", "docs", m, new_column="v2", progress=False)
    assert db.open_table("docs").schema.names == ["id", "vector"]  # nothing added to the source


def test_lancedb_zero_row_is_named_by_id_for_maps_that_normalise_lengths(tmp_path, spaces):
    old, new, m = spaces
    X = old[:200].copy()
    X[42] = 0
    unit = Procrustes(normalize="unit center unit").fit(old[:1000], old[:1000] @ np.eye(D_OLD, dtype=np.float32))
    make_table(tmp_path / "db", X)
    with pytest.raises(VecbridgeError, match="id 'doc-42' is all zeros.*--restart"):
        migrate_lancedb(tmp_path / "db", "docs", unit, target_table="u", progress=False)
    rep = migrate_lancedb(tmp_path / "db", "docs", m, target_table="ls", progress=False)  # no length step: fine
    assert rep.rows_done == 200


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from vecbridge.stores.lancedb import migrate_lancedb
    migrate_lancedb(sys.argv[1], "docs", sys.argv[2], target_table="docs_new", batch_rows=150,
                    on_batch=lambda r: time.sleep(0.1), progress=False)
    """
)


def test_lancedb_migration_killed_at_random_points(tmp_path, spaces):
    old, new, m = spaces
    db, ids = make_table(tmp_path / "db", old)
    m.save(tmp_path / "map")
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    cmd = [sys.executable, str(script), str(tmp_path / "db"), str(tmp_path / "map")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    rng = np.random.default_rng(3)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=float(rng.uniform(2.0, 4.0)))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()
        break
    assert kills >= 1
    final = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
    assert final.returncode == 0, final.stderr.decode()
    got_ids, _, Y = table_vectors(db.open_table("docs_new"), "vector")
    assert sorted(got_ids) == sorted(ids) and len(got_ids) == N  # exactly the input's ids, each once
    np.testing.assert_allclose(by_id(got_ids, Y), m.transform(old), atol=1e-4)


def test_chroma_new_collection_resumes_without_duplicates(tmp_path, spaces):
    chromadb = pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import client, migrate_chroma, query_with_map

    old, new, m = spaces
    cl = client(tmp_path / "chroma", create=True)
    src = cl.create_collection("docs", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    ids = [f"doc-{i}" for i in range(N)]
    for s in range(0, N, 1000):
        src.add(ids=ids[s : s + 1000], embeddings=old[s : s + 1000],
                documents=[f"text {i}" if i % 7 else None for i in range(s, s + 1000)],
                metadatas=[{"i": i} for i in range(s, s + 1000)])
    with pytest.raises(Crash):
        migrate_chroma(cl, "docs", m, target_collection="docs_new", batch_rows=500, on_batch=crash_at(3),
                       state=str(tmp_path / "state"), progress=False)
    # a crash after the store's write but before the journal: the journal is behind, the batch is redone
    jp = next((tmp_path / "state").glob("*.json"))
    j = json.loads(jp.read_text())
    j["rows_done"] = 1000
    jp.write_text(json.dumps(j))
    rep = migrate_chroma(cl, "docs", m, target_collection="docs_new", batch_rows=500, state=str(tmp_path / "state"),
                         progress=False)
    assert rep.resumed_from == 1000 and rep.rows_done == N
    dst = cl.get_collection("docs_new")
    assert dst.count() == N
    got = dst.get(include=["embeddings", "documents", "metadatas"])
    assert sorted(got["ids"]) == sorted(ids)
    Y = np.asarray(got["embeddings"], dtype=np.float32)
    np.testing.assert_allclose(by_id(got["ids"], Y), m.transform(old), atol=1e-4)
    row = got["ids"].index("doc-8")
    assert got["documents"][row] == "text 8" and got["metadatas"][row]["i"] == 8
    assert got["documents"][got["ids"].index("doc-7")] is None
    assert dst.metadata["hnsw:space"] == "cosine" and dst.metadata["vecbridge_migrated_from"] == "docs"
    assert cl.get_collection("docs").count() == N
    # query side: new-model queries mapped back into the old collection find the right document
    new = old @ np.random.default_rng(9).standard_normal((D_OLD, D_OLD)).astype(np.float32)  # invertible
    back = LeastSquares().fit(new, old)
    res = query_with_map(cl, "docs", back, new[[5, 2500]], k=5)  # HNSW is approximate: top 5
    assert "doc-5" in res["ids"][0] and "doc-2500" in res["ids"][1]
    del chromadb


def test_chroma_finished_journal_with_its_collection_gone(tmp_path, spaces):
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import client, migrate_chroma

    old, new, m = spaces
    cl = client(tmp_path / "chroma", create=True)
    cl.create_collection("docs", embedding_function=None).add(ids=[f"d{i}" for i in range(300)], embeddings=old[:300])
    kw = dict(target_collection="docs_new", state=str(tmp_path / "state"), progress=False)
    migrate_chroma(cl, "docs", m, **kw)
    cl.delete_collection("docs_new")
    with pytest.raises(VecbridgeError, match="finished.*missing"):
        migrate_chroma(cl, "docs", m, **kw)
    assert migrate_chroma(cl, "docs", m, resume=False, **kw).rows_done == 300
    assert cl.get_collection("docs_new").count() == 300


def test_query_side_lancedb(tmp_path, spaces):
    old, _, _ = spaces
    new = old @ np.random.default_rng(9).standard_normal((D_OLD, D_OLD)).astype(np.float32)  # invertible
    make_table(tmp_path / "db", old)
    back = LeastSquares().fit(new, old)
    np.testing.assert_allclose(query_side(back, new[:3]), old[:3], atol=1e-3)
    res = search_with_query_map(tmp_path / "db", "docs", back, new[[10, 11]], k=3, columns=["id"])
    assert [r["id"][0].as_py() for r in res] == ["doc-10", "doc-11"]


# -- the quality gate --------------------------------------------------------------------
def test_retrieval_retention_known_values():
    rng = np.random.default_rng(1)
    R = rng.standard_normal((50, 8)).astype(np.float32)
    same = retrieval_retention(R, R, R, k=5, gold=np.arange(50))
    assert same["overlap_at_k"] == 1.0 and same["recall_at_k"] == 1.0 and same["recall_retention"] == 1.0
    noise = rng.standard_normal((50, 8)).astype(np.float32)
    worse = retrieval_retention(R, noise, R, k=5, gold=np.arange(50))
    assert worse["overlap_at_k"] < 0.4 and worse["recall_at_k"] < 0.4


WORDS = ("market bank football election music film police weather school health energy travel "
         "science court phone price team minister album storm").split()


def texts_for(n, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=4, replace=False)) + f" {i}" for i in range(n)]


@pytest.fixture(scope="module")
def static64():
    try:
        from vecbridge.encoders import get_encoder

        enc = get_encoder("static64")
        enc.encode(["probe"], progress=False)
    except Exception as e:  # noqa: BLE001 - the encoder package is an optional extra
        pytest.skip(f"static64 encoder unavailable: {e}")
    return enc


def test_quality_gate_passes_good_map_and_fails_bad_one(tmp_path, static64):
    texts = texts_for(400)
    E = static64.encode(texts, progress=False)
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((64, 64)))
    old = (E @ Q.T).astype(np.float32)  # the "old model": a rotated copy of the new one
    good = Procrustes().fit(old, E)
    rep = quality_gate(good, old, texts, static64, threshold=0.9)
    assert rep.passed and rep.value > 0.95 and rep.metrics["recall_at_k"] > 0.95
    assert rep.metrics["paired"]["mean_cosine"] > 0.99
    bad = Procrustes().fit(old, E[rng.permutation(len(texts))])
    with pytest.raises(QualityGateError) as err:
        quality_gate(bad, old, texts, static64, threshold=0.9)
    assert err.value.report.value < 0.5 and not err.value.report.passed


def test_cli_gate_exit_code_and_migration(tmp_path, static64):
    from vecbridge.cli.main import main

    texts = texts_for(300, seed=5)
    E = static64.encode(texts, progress=False)
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.standard_normal((64, 64)))
    old = (E @ Q.T).astype(np.float32)
    db = lancedb.connect(str(tmp_path / "db"))
    db.create_table("docs", pa.table({"id": [f"doc-{i}" for i in range(300)], "text": texts,
                                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(old.reshape(-1)), 64)}))
    Procrustes().fit(old, E).save(tmp_path / "good")
    Procrustes().fit(old, E[rng.permutation(300)]).save(tmp_path / "bad")
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "docs_new", "--encoder", "static64",
            "--min-retention", "0.8", "--gate-sample", "200", "--quiet"]
    assert main(base + ["--map", str(tmp_path / "bad"), "--report", str(tmp_path / "r.json")]) == 4  # gate: exit 4
    assert json.loads((tmp_path / "r.json").read_text())["quality"]["passed"] is False
    assert "docs_new" not in db.table_names()  # the gate stops the migration before it starts
    assert main(base + ["--map", str(tmp_path / "good"), "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["quality"]["passed"] and report["migration"]["rows_done"] == 300
    assert db.open_table("docs_new").count_rows() == 300
    q = lancedb_quality_gate(tmp_path / "db", "docs", tmp_path / "good", static64, sample=50)
    assert q.n_documents == 50 and q.threshold is None


# -- containment and validation before any write (issue 23) -----------------------------------------------------
@pytest.mark.parametrize("target", ["../../../../victim", "../victim", "a/b", ".hidden", "x..y", ""])
def test_lancedb_bad_target_names_write_nothing_anywhere(tmp_path, spaces, target):
    old, _, m = spaces
    store = tmp_path / "deep" / "er" / "store"
    make_table(store / "db", old[:50])
    victim = tmp_path / "victim.json"
    victim.write_text('{"precious": true}')
    before = sorted(p for p in tmp_path.rglob("*"))
    for kwargs in ({"target_table": target}, {"new_column": target} if target == "" else {"target_table": target}):
        with pytest.raises(ParameterError):
            migrate_lancedb(store / "db", "docs", m, resume=False, progress=False, **kwargs)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # no journal, no table, nothing outside
    assert json.loads(victim.read_text()) == {"precious": True}


def test_lancedb_odd_column_name_keeps_the_journal_inside_the_state_folder(tmp_path, spaces):
    old, _, m = spaces
    make_table(tmp_path / "db", old[:50])
    with pytest.raises(ParameterError, match="column"):
        migrate_lancedb(tmp_path / "db", "docs", m, new_column="../../v", progress=False)
    rep = migrate_lancedb(tmp_path / "db", "docs", m, new_column="v/w x", progress=False)
    assert rep.finished and rep.rows_done == 50
    journals = list((tmp_path / "db" / ".vecbridge-migrate").iterdir())
    assert len(journals) == 1 and "/" not in journals[0].name and journals[0].name.startswith("lancedb__docs__")
    assert not list(tmp_path.glob("*.json"))


def test_lancedb_batch_rows_zero_leaves_no_empty_table(tmp_path, spaces):
    old, _, m = spaces
    db, _ = make_table(tmp_path / "db", old[:50])
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ParameterError, match="--batch-rows"):
            migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", batch_rows=bad, progress=False)
    assert "docs_new" not in db.list_tables().tables and not (tmp_path / "db" / ".vecbridge-migrate").exists()


def test_chroma_bad_names_and_batch_rows_write_nothing(tmp_path, spaces):
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import migrate_chroma

    old, _, m = spaces
    for kwargs in ({"target_collection": "../../victim"}, {"target_collection": "ab"},
                   {"target_collection": "docs_new", "batch_rows": 0}):
        with pytest.raises(ParameterError):
            migrate_chroma(tmp_path / "chroma", "docs", m, progress=False, **kwargs)
    assert not (tmp_path / "chroma").exists() and not list(tmp_path.glob("**/*.json"))
    with pytest.raises(VecbridgeError, match="no such Chroma database"):  # a typo never creates a database
        migrate_chroma(tmp_path / "chroma", "docs", m, target_collection="docs_new", progress=False)
    assert not (tmp_path / "chroma").exists()
    with pytest.raises(VecbridgeError, match="no such LanceDB database"):
        migrate_lancedb(tmp_path / "lance", "docs", m, target_table="docs_new", progress=False)
    assert not (tmp_path / "lance").exists()


def test_cli_migrate_refuses_bad_names_and_sizes_with_flag_names(tmp_path, spaces, capsys):
    from vecbridge.cli.main import main as cli_main

    def main(argv):  # usage errors leave through argparse's SystemExit(2)
        try:
            return cli_main(argv)
        except SystemExit as e:
            return e.code

    old, _, m = spaces
    make_table(tmp_path / "db", old[:50])
    m.save(tmp_path / "map")
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(tmp_path / "map")]
    assert main(base + ["--to-table", "../../../../victim", "--restart"]) == 2
    assert "--to-table must be a valid table name" in capsys.readouterr().err
    assert main(base + ["--to-table", "docs_new", "--batch-rows", "0"]) == 2
    assert "--batch-rows must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["migrate", "chroma", str(tmp_path / "ch"), "docs", "--map", str(tmp_path / "map"),
                 "--to-collection", "../x"]) == 2
    assert "--to-collection must be a valid collection name" in capsys.readouterr().err
    assert not (tmp_path / "db" / ".vecbridge-migrate").exists() and not (tmp_path / "ch").exists()
    assert main(base + ["--to-table", "docs_new", "--quiet", "--report", str(tmp_path / "new" / "dir" / "r.json")]) == 0
    assert json.loads((tmp_path / "new" / "dir" / "r.json").read_text())["migration"]["rows_done"] == 50


def test_migrated_vectors_are_in_the_target_models_own_coordinates(tmp_path):
    """A map normalised with centring outputs vectors centred on the target's mean; what a store holds must be
    the target model's own coordinates, where the vectors it embeds itself live (store_function undoes it)."""
    from vecbridge import load_translator, make_translator
    from vecbridge.normalize import unit_rows
    from vecbridge.stores.migrate import store_function

    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 24)).astype(np.float32)
    R = np.linalg.qr(rng.normal(size=(24, 24)))[0].astype(np.float32)
    Y = unit_rows(X @ R) + 1.5 * unit_rows(rng.normal(size=(1, 24))).astype(np.float32)  # far off-centre
    t = make_translator("procrustes", normalize="unit center unit").fit(X, Y)
    mapped = t.transform(X)
    stored = store_function(t)(X)
    cos = lambda A, B: float(np.mean(np.sum(unit_rows(A) * unit_rows(B), axis=1)))  # noqa: E731
    assert cos(mapped, Y) < 0.9 < 0.999 < cos(stored, Y)
    np.testing.assert_allclose(np.median(np.linalg.norm(stored, axis=1)), np.median(np.linalg.norm(Y, axis=1)), rtol=0.02)
    # the lengths travel with a saved map
    t.save(tmp_path / "m")
    np.testing.assert_array_equal(load_translator(tmp_path / "m").to_target_space(mapped), t.to_target_space(mapped))


def _clustered_pair(seed, n=2000, d=16):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(30, d)) * 2

    def draw():
        return (C[rng.integers(0, 30, n)] + 0.5 * rng.normal(size=(n, d))).astype(np.float32)

    R = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    return draw(), draw() @ R, R, rng


def test_cli_migrate_without_texts_or_map_recovers_a_planted_rotation(tmp_path):
    """No map, no pairs, no texts: only new-model vectors of *other* items of the domain. The map is fitted
    without pairs, saved beside the journal, and reused by the next run."""
    from vecbridge.cli.main import main
    from vecbridge.normalize import unit_rows

    old, sample, R, _ = _clustered_pair(0)
    db, ids = make_table(tmp_path / "db", old)
    np.save(tmp_path / "sample.npy", sample)
    argv = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "docs_new", "--target-sample",
            str(tmp_path / "sample.npy"), "--param", "effort=quick", "--quiet", "--report", str(tmp_path / "r.json")]
    assert main(argv) == 0
    got_ids, _, X = table_vectors(db.open_table("docs_new"), "vector")
    cos = np.sum(unit_rows(by_id(got_ids, X)) * unit_rows(old @ R), axis=1)
    assert float(np.mean(cos)) > 0.99
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["fit"]["reused"] is False and rep["fit"]["verdict"] == "aligned"
    maps = list((tmp_path / "db" / ".vecbridge-migrate").glob("*.map"))
    assert len(maps) == 1 and (maps[0] / "manifest.json").is_file()
    assert main(argv) == 0  # finished: the saved map is reused, nothing is refitted
    assert json.loads((tmp_path / "r.json").read_text())["fit"]["reused"] is True


def test_cli_migrate_without_texts_refuses_a_sample_of_another_space(tmp_path, capsys):
    from vecbridge.cli.main import main

    old, _, _, rng = _clustered_pair(1)
    db, _ = make_table(tmp_path / "db", old)
    np.save(tmp_path / "noise.npy", rng.normal(size=(2000, 16)).astype(np.float32))
    argv = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "docs_new", "--target-sample",
            str(tmp_path / "noise.npy"), "--param", "effort=quick", "--quiet"]
    assert main(argv) == 3
    assert "not aligned" in capsys.readouterr().err
    assert "docs_new" not in db.table_names() and not list((tmp_path / "db").glob(".vecbridge-migrate/*.map"))
    # --target-texts needs the encoder that embeds them
    (tmp_path / "t.txt").write_text("a\nb\n")
    assert main(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "docs_new",
                 "--target-texts", str(tmp_path / "t.txt")]) == 2


def test_chroma_map_fitted_from_a_target_sample_is_saved_and_reused(tmp_path):
    pytest.importorskip("chromadb")
    from vecbridge.normalize import unit_rows
    from vecbridge.stores.chroma import client, fit_chroma_map, migrate_chroma

    old, sample, R, _ = _clustered_pair(0)
    cl = client(tmp_path / "chroma", create=True)
    src = cl.create_collection("docs", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    ids = [f"doc-{i}" for i in range(len(old))]
    src.add(ids=ids, embeddings=old)
    opts = dict(target_collection="docs_new", sample_rows=1500, params={"effort": "quick"}, progress=False)
    t, info = fit_chroma_map(tmp_path / "chroma", "docs", sample, **opts)
    assert info["reused"] is False and info["n_stored_sample"] == 1500 and info["verdict"] == "aligned"
    t2, info2 = fit_chroma_map(tmp_path / "chroma", "docs", lambda: pytest.fail("read on reuse"), **opts)
    assert info2["reused"] is True
    np.testing.assert_array_equal(t2.transform(old[:50]), t.transform(old[:50]))
    migrate_chroma(tmp_path / "chroma", "docs", t2, target_collection="docs_new", progress=False)
    got = cl.get_collection("docs_new").get(ids=ids[:200], include=["embeddings"])
    cos = np.sum(unit_rows(np.asarray(got["embeddings"])) * unit_rows(old[:200] @ R), axis=1)
    assert float(np.mean(cos)) > 0.99


class _PlantedEncoder:
    """The 'new model' of a planted store: the text "text i" embeds as row i of ``new``."""

    def __init__(self, new):
        self.new, self.calls = new, 0

    def encode(self, texts, progress=None):
        self.calls += len(texts)
        return self.new[[int(t.split()[1]) for t in texts]]


def test_the_stored_texts_decide_between_pairs_few_pairs_and_none(tmp_path):
    """With an encoder, a store that keeps texts gives pairs: as many as the smaller dimension or more, a fit
    on pairs; fewer, seeds of a fit without pairs (a target sample needed); no texts, a fit without pairs."""
    from vecbridge.normalize import unit_rows
    from vecbridge.stores.lancedb import fit_lancedb_map, lancedb_sample
    from vecbridge.stores.migrate import store_function

    old, sample, R, _ = _clustered_pair(0)
    make_table(tmp_path / "db", old)
    enc = _PlantedEncoder(old @ R)
    opts = dict(sample_rows=1500, params={"effort": "quick"}, progress=False)

    def recovered(t):
        return float(np.mean(np.sum(unit_rows(store_function(t)(old)) * unit_rows(old @ R), axis=1)))

    t, info = fit_lancedb_map(tmp_path / "db", "docs", None, target_table="a", encoder=enc, pair_rows=200, **opts)
    assert info["mode"] == "pairs" and info["n_pairs"] == 200 == enc.calls and info["n_target_sample"] == 0
    assert recovered(t) > 0.999
    assert "target_sample_unused" not in info
    # a target sample given as well is not used by a fit on pairs, and the result says so instead of counting it
    _, info = fit_lancedb_map(tmp_path / "db", "docs", sample, target_table="a2", encoder=enc, pair_rows=200, **opts)
    assert info["mode"] == "pairs" and info["n_target_sample"] == 0 and info["target_sample_unused"] == len(sample)
    enc.calls = 200
    assert t.fit_info_["migration"]["mode"] == "pairs"
    offsets = info["pair_offsets"]
    assert len(set(offsets)) == 200 and all(0 <= o < len(old) for o in offsets)
    # each pair is the stored row at its offset: the texts there are "text <offset>"
    gate_rows, drawn = lancedb_sample(tmp_path / "db", "docs", ["text"], 1500, seed=0, exclude=offsets)
    assert not set(drawn.tolist()) & set(offsets) and len(drawn) == 1500
    assert gate_rows.column("text").to_pylist() == [f"text {i}" for i in drawn]

    t, info = fit_lancedb_map(tmp_path / "db", "docs", sample, target_table="b", encoder=enc, pair_rows=8, **opts)
    assert info["mode"] == "few pairs" and info["n_pairs"] == 8 and info["verdict"] == "aligned"
    assert recovered(t) > 0.99
    with pytest.raises(VecbridgeError, match="--target-sample"):
        fit_lancedb_map(tmp_path / "db", "docs", None, target_table="c", encoder=enc, pair_rows=8, **opts)
    with pytest.raises(VecbridgeError, match="--pair-rows 0"):
        fit_lancedb_map(tmp_path / "db", "docs", None, target_table="c", encoder=enc, pair_rows=0, **opts)

    # no text column: the encoder has nothing to re-embed
    make_table(tmp_path / "db2", old)
    lancedb.connect(str(tmp_path / "db2")).open_table("docs").drop_columns(["text"])
    t, info = fit_lancedb_map(tmp_path / "db2", "docs", sample, target_table="a", encoder=enc, **opts)
    assert info["mode"] == "no pairs" and info["n_pairs"] == 0
    with pytest.raises(VecbridgeError, match="keeps no texts"):
        fit_lancedb_map(tmp_path / "db2", "docs", None, target_table="b", encoder=enc, **opts)


def test_cli_migrate_fits_on_re_embedded_stored_texts_and_gates_on_other_rows(tmp_path, monkeypatch, capsys):
    import vecbridge.encoders
    from vecbridge.cli.main import main
    from vecbridge.normalize import unit_rows

    old, _, R, _ = _clustered_pair(2)
    db, _ = make_table(tmp_path / "db", old)
    monkeypatch.setattr(vecbridge.encoders, "get_encoder", lambda name, **kw: _PlantedEncoder(old @ R))
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "docs_new"]
    assert main(base) == 2
    assert "--encoder" in capsys.readouterr().err
    assert main(base + ["--encoder", "planted", "--quiet", "--report", str(tmp_path / "r.json")]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["fit"]["mode"] == "pairs" and rep["fit"]["n_pairs"] == 1000 and "pair_offsets" not in rep["fit"]
    assert rep["quality"]["n_documents"] == 500 and rep["quality"]["value"] > 0.9
    got_ids, _, X = table_vectors(db.open_table("docs_new"), "vector")
    assert float(np.mean(np.sum(unit_rows(by_id(got_ids, X)) * unit_rows(old @ R), axis=1))) > 0.999
    manifest = json.loads(next((tmp_path / "db" / ".vecbridge-migrate").glob("*.map/manifest.json")).read_text())
    assert manifest["fit"]["migration"]["mode"] == "pairs"


def test_chroma_fits_on_its_re_embedded_documents(tmp_path):
    pytest.importorskip("chromadb")
    from vecbridge.normalize import unit_rows
    from vecbridge.stores.chroma import client, fit_chroma_map
    from vecbridge.stores.migrate import store_function

    old, _, R, _ = _clustered_pair(3, n=600)
    cl = client(tmp_path / "chroma", create=True)
    src = cl.create_collection("docs", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    src.add(ids=[f"doc-{i}" for i in range(len(old))], embeddings=old,
            documents=[f"text {i}" if i % 3 else "" for i in range(len(old))])  # a third without a document
    enc = _PlantedEncoder(old @ R)
    t, info = fit_chroma_map(tmp_path / "chroma", "docs", None, target_collection="new", encoder=enc, pair_rows=100,
                             progress=False)
    assert info["mode"] == "pairs" and info["n_pairs"] == 100 and all(o % 3 for o in info["pair_offsets"])
    cos = np.sum(unit_rows(store_function(t)(old)) * unit_rows(old @ R), axis=1)
    assert float(np.mean(cos)) > 0.999


def test_chroma_samples_read_only_the_drawn_rows(tmp_path):
    """The gate's and the fit's samples: the rows at the drawn offsets (as a full scan in insertion order finds
    them), with no other row's vector or text read; the gate leaves out rows without a document."""
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import chroma_quality_gate, client, rows_at

    rng = np.random.default_rng(5)
    old = rng.normal(size=(700, 8)).astype(np.float32)
    cl = client(tmp_path / "chroma", create=True)
    src = cl.create_collection("docs", embedding_function=None)
    ids = [f"d{int(i)}" for i in rng.permutation(10_000)[:700]]  # ids not in insertion order
    docs = [f"text {i}" if i % 4 else "" for i in range(700)]
    for s in range(0, 700, 100):  # several inserts
        src.add(ids=ids[s : s + 100], embeddings=old[s : s + 100], documents=docs[s : s + 100])

    reads = []

    class Spy:
        def __init__(self, col):
            self.col = col

        def get(self, **kw):
            r = self.col.get(**kw)
            reads.append((tuple(kw.get("include", ())), len(r["ids"])))
            return r

        def count(self):
            return self.col.count()

    want = np.array([3, 99, 100, 101, 450, 699, 750])  # 750: past the end
    rows = rows_at(Spy(src), want, ["embeddings", "documents"], window=128)
    assert rows["offsets"].tolist() == [3, 99, 100, 101, 450, 699]
    assert rows["ids"] == [ids[i] for i in rows["offsets"]]
    np.testing.assert_array_equal(np.asarray(rows["embeddings"], dtype=np.float32), old[rows["offsets"]])
    assert rows["documents"] == [docs[i] for i in rows["offsets"]]
    assert sum(n for inc, n in reads if inc) == 6  # vectors and texts of the six rows only

    texts_at = {ids[i]: docs[i] for i in range(700)}
    got = rows_at(src, np.arange(700), ["documents"], window=64)
    assert got["documents"] == [texts_at[i] for i in got["ids"]]
    with pytest.raises(VecbridgeError, match="fewer than 2 documents"):
        chroma_quality_gate(tmp_path / "chroma", "docs", None, None, sample=700,
                            exclude=[i for i in range(700) if i % 4])  # only rows without a document left


def test_chroma_gate_passes_a_good_map_on_the_drawn_documents(tmp_path, static64):
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import chroma_quality_gate, client

    texts = texts_for(400)
    E = static64.encode(texts, progress=False)
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((64, 64)))
    old = (E @ Q.T).astype(np.float32)
    src = client(tmp_path / "chroma", create=True).create_collection("docs", embedding_function=None)
    src.add(ids=[f"d{i}" for i in range(400)], embeddings=old,
            documents=[t if i % 5 else "" for i, t in enumerate(texts)])  # a fifth without a document
    rep = chroma_quality_gate(tmp_path / "chroma", "docs", Procrustes().fit(old, E), static64, sample=200, threshold=0.9)
    assert rep.passed and rep.value > 0.95
    assert 140 <= rep.n_documents < 200  # the drawn rows with a document, no others


def test_a_shared_state_folder_never_takes_one_database_journal_for_another(tmp_path, spaces):
    """Database X's unfinished journal in a shared --state folder: migrating database Y to a target of the same
    name neither resumes into Y's own table nor drops it on --restart."""
    from vecbridge.errors import ResumeMismatchError

    old, new, m = spaces
    X = old[:400].copy()
    X[300] = np.nan
    dbx, _ = make_table(tmp_path / "dbx", old[:400])
    dbx.open_table("docs").update(where="id = 'doc-300'", values={"vector": None})
    state = str(tmp_path / "state")
    with pytest.raises(VecbridgeError, match="doc-300"):
        migrate_lancedb(tmp_path / "dbx", "docs", m, target_table="docs_new", batch_rows=100, state=state,
                        progress=False)
    dby, _ = make_table(tmp_path / "dby", old[:400])
    dby.create_table("docs_new", pa.table({"note": ["mine"] * 7}))
    with pytest.raises(ResumeMismatchError, match="database"):
        migrate_lancedb(tmp_path / "dby", "docs", m, target_table="docs_new", batch_rows=100, state=state,
                        progress=False)
    with pytest.raises(VecbridgeError, match="already exists"):
        migrate_lancedb(tmp_path / "dby", "docs", m, target_table="docs_new", batch_rows=100, state=state,
                        resume=False, progress=False)
    assert dby.open_table("docs_new").count_rows() == 7  # the user's table is untouched


# -- the audit of migrate (2026-12): configuration, methods, id types, long names, early refusals, journals ------
def _small_store(tmp_path, rows=200, dim=8, seed=0):
    """A LanceDB table of ``rows`` ``dim``-d vectors with texts "text i", new-model vectors of the same rows (a
    rotation), and a Procrustes map saved as ``tmp_path/map``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, dim)).astype(np.float32)
    R = np.linalg.qr(rng.normal(size=(dim, dim)))[0].astype(np.float32)
    Y = X @ R
    make_table(tmp_path / "db", X)
    np.save(tmp_path / "Y.npy", Y)
    Procrustes().fit(X, Y).save(tmp_path / "map")
    return X, Y


def _cli(argv):
    from vecbridge.cli.main import main

    try:
        return main(argv)
    except SystemExit as e:  # argparse's usage errors
        return e.code


@pytest.mark.parametrize("form", ["configuration", "metadata"])
def test_chroma_target_keeps_the_source_distance_space_and_index_settings(tmp_path, spaces, form):
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import client, migrate_chroma

    old, _, m = spaces
    cl = client(tmp_path / "chroma", create=True)
    if form == "configuration":
        src = cl.create_collection("docs", embedding_function=None, configuration={
            "hnsw": {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": 50}})
        want = {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": 50}
    else:
        src = cl.create_collection("docs", embedding_function=None, metadata={"hnsw:space": "ip", "owner": "me"})
        want = {"space": "ip"}
    src.add(ids=[f"d{i}" for i in range(120)], embeddings=old[:120])
    kw = dict(target_collection="docs_new", batch_rows=50, state=str(tmp_path / "state"), progress=False)
    with pytest.raises(Crash):  # the collection is made once, with the configuration; a resumed run keeps it
        migrate_chroma(cl, "docs", m, on_batch=crash_at(1), **kw)
    assert migrate_chroma(cl, "docs", m, **kw).rows_done == 120
    dst = client(tmp_path / "chroma").get_collection("docs_new")
    hnsw = dst.configuration_json["hnsw"]
    assert {k: hnsw[k] for k in want} == want
    assert dst.metadata["vecbridge_migrated_from"] == "docs"
    if form == "metadata":
        assert dst.metadata["hnsw:space"] == "ip" and dst.metadata["owner"] == "me"


def test_cli_migrate_method_gets_only_the_parameters_it_takes(tmp_path, monkeypatch, capsys):
    """--method: seed and progress go only to methods that take them; a method that needs pairs is refused up
    front, naming the methods that fit without pairs, unless --encoder gives it the stored texts' pairs."""
    import vecbridge.encoders
    from vecbridge.stores.lancedb import fit_lancedb_map
    from vecbridge.stores.migrate import method_translator

    X, Y = _small_store(tmp_path)
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--target-sample", str(tmp_path / "Y.npy"),
            "--sample-rows", "200", "--quiet"]
    quick = ["--param", "n_runs=1", "--param", "qap_restarts=5", "--param", "reanchor_clusters=[20]",
             "--param", "reanchor_repeats=1", "--param", "regional_restarts=1", "--param", "rescue_starts=0"]
    assert _cli(base + ["--to-table", "cm", "--method", "cluster-match", "--force"] + quick) == 0
    manifest = json.loads(next((tmp_path / "db" / ".vecbridge-migrate").glob("*__cm.map/manifest.json")).read_text())
    assert manifest["method"] == "cluster-match" and manifest["params"]["n_runs"] == 1
    capsys.readouterr()
    for method in ("procrustes", "lstsq"):
        assert _cli(base + ["--to-table", "p", "--method", method]) == 2
        err = capsys.readouterr().err
        assert f"--method {method} needs pairs" in err and "cluster-match" in err and "--encoder" in err
        assert len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "db" / ".vecbridge-migrate").glob("*__p.*"))
    assert "p" not in lancedb.connect(str(tmp_path / "db")).list_tables().tables
    # with --encoder, the stored texts' pairs: procrustes fits on them
    monkeypatch.setattr(vecbridge.encoders, "get_encoder", lambda name, **kw: _PlantedEncoder(Y))
    assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "p", "--method", "procrustes",
                 "--encoder", "planted", "--pair-rows", "100", "--sample-rows", "200", "--quiet", "--report",
                 str(tmp_path / "r.json")]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["fit"]["mode"] == "pairs" and rep["fit"]["method"] == "procrustes"
    # too few stored texts for a fit on pairs: the same refusal, before the fit
    with pytest.raises(ParameterError, match="--method procrustes needs pairs, and only 3 .* texts"):
        fit_lancedb_map(tmp_path / "db", "docs", Y, target_table="q", encoder=_PlantedEncoder(Y), pair_rows=3,
                        sample_rows=200, method="procrustes", progress=False)
    assert not list((tmp_path / "db" / ".vecbridge-migrate").glob("*__q.*"))
    # the parameters of each method: the defaults it takes, the user's own values first
    assert "seed" not in method_translator("procrustes", None, seed=3, progress=False).get_params()
    assert method_translator("cluster-match", {"seed": 7}, seed=3, progress=False).seed == 7
    assert method_translator("auto", None, seed=3, progress=False).get_params()["seed"] == 3


@pytest.mark.parametrize("ids", [pa.array([{"a": i} for i in range(20)]), pa.array([[i] for i in range(20)])])
def test_lancedb_new_column_refuses_ids_of_a_nested_type_up_front(tmp_path, spaces, ids):
    from vecbridge.errors import FormatError
    from vecbridge.stores.lancedb import fit_lancedb_map

    old, _, m = spaces
    db = lancedb.connect(str(tmp_path / "db"))
    db.create_table("docs", pa.table({"id": ids, "vector": pa.FixedSizeListArray.from_arrays(
        pa.array(old[:20].reshape(-1)), D_OLD)}))
    with pytest.raises(FormatError, match=r"id column 'id' .*has type (struct|list)<.*strings, integers"):
        migrate_lancedb(tmp_path / "db", "docs", m, new_column="v2", progress=False)
    with pytest.raises(FormatError, match="id column 'id'"):  # before a map is fitted
        fit_lancedb_map(tmp_path / "db", "docs", old[:20], new_column="v2", method="identity", progress=False)
    assert db.open_table("docs").schema.names == ["id", "vector"]
    assert not (tmp_path / "db" / ".vecbridge-migrate").exists()
    # a new table does not write by id: any id column will do
    assert migrate_lancedb(tmp_path / "db", "docs", m, target_table="t", progress=False).rows_done == 20


def test_lancedb_new_column_with_integer_ids(tmp_path, spaces):
    old, _, m = spaces
    db = lancedb.connect(str(tmp_path / "db"))
    vec = pa.FixedSizeListArray.from_arrays(pa.array(old[:30].reshape(-1)), D_OLD)
    db.create_table("docs", pa.table({"id": pa.array(range(30), pa.int64()), "vector": vec}))
    assert migrate_lancedb(tmp_path / "db", "docs", m, new_column="v2", batch_rows=7, progress=False).finished
    t = db.open_table("docs").to_arrow().sort_by("id")
    np.testing.assert_allclose(np.asarray(t["v2"].combine_chunks().flatten()).reshape(30, -1), m.transform(old[:30]),
                               atol=1e-4)


def test_long_target_names_work_up_to_the_limit_and_are_refused_beyond_it(tmp_path, capsys):
    """A name that passes the check works: every file and folder made from it (LanceDB's <name>.lance, the
    journal, the map folder, their temporary names) fits in 255 bytes; a longer name is a usage error."""
    from vecbridge.containment import MAX_TABLE
    from vecbridge.stores.lancedb import fit_lancedb_map

    X, Y = _small_store(tmp_path)
    name = "t" * MAX_TABLE
    assert MAX_TABLE == 249
    t, _ = fit_lancedb_map(tmp_path / "db", "docs", Y, target_table=name, method="identity", progress=False)
    assert migrate_lancedb(tmp_path / "db", "docs", t, target_table=name, progress=False).rows_done == 200
    assert lancedb.connect(str(tmp_path / "db")).open_table(name).count_rows() == 200
    state = tmp_path / "db" / ".vecbridge-migrate"
    assert all(len(p.name.encode()) <= 255 for p in state.iterdir()) and len(list(state.iterdir())) == 2
    assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(tmp_path / "map"), "--to-table",
                 name[:-1], "--quiet"]) == 0
    capsys.readouterr()
    for n in (MAX_TABLE + 1, 255, 300):
        assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(tmp_path / "map"),
                     "--to-table", "t" * n, "--quiet"]) == 2
        assert "at most 249 characters" in capsys.readouterr().err
        with pytest.raises(ParameterError, match=f"\\({n} characters\\).*at most 249"):
            migrate_lancedb(tmp_path / "db", "docs", tmp_path / "map", target_table="t" * n, progress=False)


def test_chroma_collection_names_of_the_longest_kind_work(tmp_path, spaces):
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import client, fit_chroma_map, migrate_chroma

    old, _, m = spaces
    cl = client(tmp_path / "chroma", create=True)
    cl.create_collection("docs", embedding_function=None).add(ids=[f"d{i}" for i in range(40)], embeddings=old[:40])
    name = "c" * 512
    t, _ = fit_chroma_map(tmp_path / "chroma", "docs", old[:40], target_collection=name, method="identity",
                          progress=False)
    assert migrate_chroma(tmp_path / "chroma", "docs", t, target_collection=name, progress=False).rows_done == 40


def test_atomic_writes_take_every_name_that_fits(tmp_path):
    from vecbridge.atomic import write_json_atomic, write_text_atomic

    for name in ("j" * 250 + ".json", "é" * 125 + ".txt", "k" * 255):
        write_json_atomic(tmp_path / name, {"a": 1})
        assert json.loads((tmp_path / name).read_text()) == {"a": 1}
        write_text_atomic(tmp_path / ("x" + name[1:]), "hi")
        assert (tmp_path / ("x" + name[1:])).read_text() == "hi"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_target_equal_to_source_is_refused_before_any_work(tmp_path, capsys):
    X, Y = _small_store(tmp_path)
    common = ["--target-sample", str(tmp_path / "Y.npy"), "--sample-rows", "200", "--method", "selflearn", "--force"]
    assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "docs"] + common) == 2
    assert "is the source table" in capsys.readouterr().err
    assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-column", "vector"] + common) == 2
    assert "is the vector column" in capsys.readouterr().err
    assert not (tmp_path / "db" / ".vecbridge-migrate").exists()
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import client, fit_chroma_map

    client(tmp_path / "chroma", create=True).create_collection("docs", embedding_function=None).add(
        ids=[f"d{i}" for i in range(200)], embeddings=X)
    assert _cli(["migrate", "chroma", str(tmp_path / "chroma"), "docs", "--to-collection", "docs"] + common) == 2
    assert "is the source collection" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="never write in place"):
        fit_chroma_map(tmp_path / "chroma", "docs", Y, target_collection="docs", method="identity", force=True)
    assert not (tmp_path / "chroma" / ".vecbridge-migrate").exists()


def test_a_new_column_and_a_table_named_like_it_keep_separate_journals(tmp_path, spaces):
    from vecbridge.stores.lancedb import fit_lancedb_map

    old, _, m = spaces
    db, _ = make_table(tmp_path / "db", old[:100])
    tc, _ = fit_lancedb_map(tmp_path / "db", "docs", old[:100] @ np.eye(D_OLD, dtype=np.float32), new_column="v9",
                            method="identity", progress=False)
    assert migrate_lancedb(tmp_path / "db", "docs", tc, new_column="v9", progress=False).finished
    tt, info = fit_lancedb_map(tmp_path / "db", "docs", old[:100], target_table="column-v9", method="identity",
                               progress=False)
    assert info["reused"] is False  # not the column's map
    assert migrate_lancedb(tmp_path / "db", "docs", m, target_table="column-v9", progress=False).finished
    db.drop_table("column-v9")
    assert migrate_lancedb(tmp_path / "db", "docs", m, target_table="column-v9", resume=False, progress=False).finished
    state = tmp_path / "db" / ".vecbridge-migrate"
    assert len(list(state.glob("*.json"))) == 2 and len(list(state.glob("*.map"))) == 2
    again = migrate_lancedb(tmp_path / "db", "docs", tc, new_column="v9", progress=False)  # its journal is intact
    assert again.finished and again.resumed_from == 100
    # a column's journal and map under the names of older versions are taken over
    for p in state.glob("lancedb__docs__column-v9.*"):
        p.rename(p.with_name("gone-" + p.name))
    for p in state.glob("lancedb__docs__column%3Av9.*"):
        p.rename(p.with_name(p.name.replace("column%3Av9", "column-v9")))
    _, info = fit_lancedb_map(tmp_path / "db", "docs", lambda: pytest.fail("refitted"), new_column="v9",
                              method="identity", progress=False)
    assert info["reused"] is True
    assert migrate_lancedb(tmp_path / "db", "docs", tc, new_column="v9", progress=False).resumed_from == 100
    assert not list(state.glob("lancedb__docs__column-v9.*"))


def test_a_finished_migration_run_with_another_map_says_what_to_do(tmp_path, spaces):
    from vecbridge.errors import ResumeMismatchError

    old, new, m = spaces
    db, _ = make_table(tmp_path / "db", old[:100])
    other = Procrustes().fit(old[:500], new[:500])
    migrate_lancedb(tmp_path / "db", "docs", m, target_table="docs_new", progress=False)
    with pytest.raises(ResumeMismatchError, match=r"migration to table 'docs_new' finished \(100 rows.*another map.*"
                       r"drop table 'docs_new' and start again with --restart.*another --to-table") as e:
        migrate_lancedb(tmp_path / "db", "docs", other, target_table="docs_new", progress=False)
    assert "partial" not in str(e.value)
    db.drop_table("docs_new")  # as the message says
    assert migrate_lancedb(tmp_path / "db", "docs", other, target_table="docs_new", resume=False,
                           progress=False).rows_done == 100
    migrate_lancedb(tmp_path / "db", "docs", m, new_column="v2", progress=False)
    with pytest.raises(ResumeMismatchError, match="finished.*--to-column"):
        migrate_lancedb(tmp_path / "db", "docs", other, new_column="v2", progress=False)


def test_state_must_be_a_folder(tmp_path, spaces, capsys):
    old, _, m = spaces
    make_table(tmp_path / "db", old[:50])
    m.save(tmp_path / "map")
    np.save(tmp_path / "X.npy", old[:5])
    for state in (tmp_path / "X.npy", tmp_path / "X.npy" / "sub"):
        assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(tmp_path / "map"),
                     "--to-table", "t", "--state", str(state), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "must be a folder" in err and "--state" in err and len(err.strip().splitlines()) == 1
        with pytest.raises(ParameterError, match="must be a folder"):
            migrate_lancedb(tmp_path / "db", "docs", m, target_table="t", state=str(state), progress=False)
    assert "t" not in lancedb.connect(str(tmp_path / "db")).list_tables().tables
    assert np.load(tmp_path / "X.npy").shape == (5, D_OLD)


# -- a map migrate fits on pairs is judged; --strict writes nothing; what a run says (audit round 3) -------------------
def _shuffled_texts_store(tmp_path, old, seed=1):
    """A table whose text column is shuffled against its vectors: row i keeps "text j" for another j."""
    perm = np.random.default_rng(seed).permutation(len(old))
    db = lancedb.connect(str(tmp_path / "shuf"))
    db.create_table("docs", pa.table({"id": [f"doc-{i}" for i in range(len(old))],
                                      "text": [f"text {j}" for j in perm],
                                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(old.reshape(-1)),
                                                                                  old.shape[1])}))
    return db


def test_cli_migrate_judges_a_map_fitted_on_pairs_and_refuses_one_not_aligned(tmp_path, monkeypatch, capsys):
    """Stored texts that are not the texts of their vectors give pairs that carry no map: the map fitted on them
    is judged on held-out pairs (as vecbridge fit does), exit 3, nothing migrated or saved; the same store with
    the right texts is judged aligned, and without --min-retention the gate's figure is not called a pass."""
    import vecbridge.encoders

    old, _, R, _ = _clustered_pair(0)
    monkeypatch.setattr(vecbridge.encoders, "get_encoder", lambda name, **kw: _PlantedEncoder(old @ R))
    db = _shuffled_texts_store(tmp_path, old)
    opts = ["--to-table", "docs_new", "--encoder", "planted", "--pair-rows", "200", "--sample-rows", "1000",
            "--gate-sample", "100", "--report", str(tmp_path / "r.json")]
    assert _cli(["migrate", "lancedb", str(tmp_path / "shuf"), "docs"] + opts) == 3
    err = capsys.readouterr().err
    assert "not aligned" in err and "held-out pairs" in err and "--force" in err and "force=True" not in err
    assert "docs_new" not in db.list_tables().tables
    assert not list((tmp_path / "shuf").glob(".vecbridge-migrate/*.map"))
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["status"] == "not aligned" and rep["fit"]["verdict"] == "not aligned"
    assert rep["fit"]["mode"] == "pairs" and rep["fit"]["verdict_details"]["n_eval"] >= 10 and "migration" not in rep
    # the right texts: judged aligned, migrated; the gate's figure is information without --min-retention
    make_table(tmp_path / "db", old)
    assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs"] + opts) == 0
    err = capsys.readouterr().err
    assert "held-out check: top-1" in err and "verdict aligned" in err and "cross-validated top-1" in err
    assert "passed" not in err and "no threshold set (--min-retention)" in err
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["status"] == "migrated" and rep["fit"]["verdict"] == "aligned" and rep["fit"]["cv_top1"] > 0.9
    assert rep["migration"]["rows_done"] == len(old)
    # a map reused on a re-run warns with the reason saved when it was fitted
    manifest = next((tmp_path / "db" / ".vecbridge-migrate").glob("*.map")) / "manifest.json"
    m = json.loads(manifest.read_text())
    m["fit"].update(verdict="uncertain", verdict_reason="planted reason for the test")
    manifest.write_text(json.dumps(m))
    assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs"] + opts) == 0
    assert "warning: the map is uncertain: planted reason for the test" in capsys.readouterr().err


def test_a_map_fitted_on_too_few_pairs_to_hold_some_out_says_so(tmp_path):
    from vecbridge.stores.lancedb import fit_lancedb_map

    old, _, R, _ = _clustered_pair(0)
    make_table(tmp_path / "db", old)
    with pytest.warns(UserWarning, match="too few pairs for a held-out check of procrustes.*without a verdict"):
        t, info = fit_lancedb_map(tmp_path / "db", "docs", None, target_table="a", encoder=_PlantedEncoder(old @ R),
                                  pair_rows=17, sample_rows=500, method="procrustes", progress=False)
    assert info["mode"] == "pairs" and info["verdict"] is None and info["verdict_reason"].startswith("too few pairs")
    # with a sample of the new model's vectors, the map is judged without pairs on the two samples
    target = (old @ R)[::-1][:1500]
    with pytest.warns(UserWarning, match="too few pairs for a held-out check of procrustes.*judged without pairs"):
        _, info = fit_lancedb_map(tmp_path / "db", "docs", target, target_table="b", encoder=_PlantedEncoder(old @ R),
                                  pair_rows=17, sample_rows=500, method="procrustes", progress=False)
    assert info["verdict"] == "aligned" and "target_sample_unused" not in info  # the sample served the verdict
    # texts whose new vectors belong to other rows: 17 wrong pairs, judged the same way, are not aligned
    shuffled = (old @ R)[np.random.default_rng(1).permutation(len(old))]
    with pytest.warns(UserWarning, match="judged without pairs"):
        _, info = fit_lancedb_map(tmp_path / "db", "docs", target, target_table="c", encoder=_PlantedEncoder(shuffled),
                                  pair_rows=17, sample_rows=500, method="procrustes", progress=False, force=True)
    assert info["verdict"] == "not aligned"


def _two_spaces_store(tmp_path):
    """A table of the *new* model's vectors, a map whose source is the old space (wrong for it) and one whose
    source is the new space (right)."""
    old, _, R, _ = _clustered_pair(2, n=600)
    new = old @ R
    make_table(tmp_path / "db", new)
    Procrustes().fit(old, new).save(tmp_path / "wrong")
    Procrustes().fit(new, old).save(tmp_path / "right")
    return new


def test_strict_space_mismatch_leaves_no_target_and_no_journal(tmp_path, capsys):
    new = _two_spaces_store(tmp_path)
    db = lancedb.connect(str(tmp_path / "db"))
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--strict", "--quiet", "--batch-rows", "200"]
    for target in (["--to-table", "docs_new"], ["--to-column", "v2"]):
        tables, journals = db.list_tables().tables, sorted((tmp_path / "db").glob(".vecbridge-migrate/*"))
        assert _cli(base + ["--map", str(tmp_path / "wrong")] + target) == 5
        assert "do not look like the map's source space" in capsys.readouterr().err
        assert db.list_tables().tables == tables and db.open_table("docs").schema.names == ["id", "text", "vector"]
        assert sorted((tmp_path / "db").glob(".vecbridge-migrate/*")) == journals
        # the corrected command runs at once (no partial migration with another map to restart)
        assert _cli(base + ["--map", str(tmp_path / "right")] + target) == 0
    assert db.open_table("docs_new").count_rows() == len(new) and "v2" in db.open_table("docs").schema.names
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import client

    cl = client(tmp_path / "chroma", create=True)
    cl.create_collection("docs", embedding_function=None).add(ids=[f"d{i}" for i in range(len(new))], embeddings=new)
    base = ["migrate", "chroma", str(tmp_path / "chroma"), "docs", "--to-collection", "docs_new", "--strict", "--quiet"]
    assert _cli(base + ["--map", str(tmp_path / "wrong")]) == 5
    assert [c.name if hasattr(c, "name") else c for c in client(tmp_path / "chroma").list_collections()] == ["docs"]
    assert not (tmp_path / "chroma" / ".vecbridge-migrate").exists()
    assert _cli(base + ["--map", str(tmp_path / "right")]) == 0


def test_cli_migrate_says_how_long_which_map_and_where_the_journal_is(tmp_path, capsys):
    X, Y = _small_store(tmp_path)
    argv = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(tmp_path / "map"), "--to-table", "t",
            "--report", str(tmp_path / "r.json")]
    assert _cli(argv) == 0
    err = capsys.readouterr().err
    journal = tmp_path / "db" / ".vecbridge-migrate" / "lancedb__docs__t.json"
    assert "200 of 200 vectors 8-d -> 8-d in " in err and f"map {tmp_path / 'map'}" in err and str(journal) in err
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["status"] == "migrated" and isinstance(rep["seconds"], float)
    mig = rep["migration"]
    assert isinstance(mig["seconds"], float) and mig["map"] == str(tmp_path / "map") and mig["journal"] == str(journal)
    assert journal.is_file()
    # a map the migration fits itself: a line before the fit, and its folder in the summary
    assert _cli(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "u", "--target-sample",
                 str(tmp_path / "Y.npy"), "--sample-rows", "200", "--method", "identity", "--force"]) == 0
    err = capsys.readouterr().err
    assert "fitting the map without pairs on 200 stored and 200 target vectors with identity (can take minutes)" in err
    assert "map " + str(tmp_path / "db" / ".vecbridge-migrate" / "lancedb__docs__u.map") in err


def test_cli_migrate_interrupted_says_what_is_done_and_resumes(tmp_path, monkeypatch, capsys):
    from vecbridge.stores.lancedb import NewTableWriter

    _small_store(tmp_path)
    write, calls = NewTableWriter.write, []

    def interrupted_after_the_first_batch(self, batch, Y):
        calls.append(batch.start)
        if len(calls) > 1:
            raise KeyboardInterrupt
        write(self, batch, Y)

    monkeypatch.setattr(NewTableWriter, "write", interrupted_after_the_first_batch)
    argv = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(tmp_path / "map"), "--to-table", "t",
            "--batch-rows", "50", "--report", str(tmp_path / "r.json")]
    assert _cli(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted: 50 of 200 rows" in err and "re-run the same command to resume" in err
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["status"] == "interrupted" and rep["migration"]["rows_done"] == 50
    assert rep["migration"]["map"] == str(tmp_path / "map") and not rep["migration"]["finished"]
    monkeypatch.undo()
    assert _cli(argv) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["status"] == "migrated" and rep["migration"]["resumed_from"] == 50
    assert lancedb.connect(str(tmp_path / "db")).open_table("t").count_rows() == 200


def test_auto_keeps_the_warnings_of_candidates_it_did_not_choose_and_shows_none(tmp_path, monkeypatch, recwarn):
    """The cross-validation fits of a candidate warn into its row of fit_info_["candidates"] (and the manifest),
    not on the screen; only the chosen method's own fit may warn."""
    import vecbridge.translators.whitening as whitening
    from vecbridge import load_translator, make_translator

    monkeypatch.setattr(whitening, "MAX_TARGET_CONDITION", 1.0)  # "recommended" always falls back, and says so
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 16)).astype(np.float32)
    Z = X @ np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
    Z[:, :4] = rng.normal(size=(300, 4))  # lstsq fits this best
    t = make_translator("auto").fit(X, Z, known_pairs=np.stack([np.arange(300)] * 2, axis=1))
    assert t.fit_info_["chosen_method"] != "recommended"
    assert not [w for w in recwarn.list if "ill-conditioned" in str(w.message)]
    rows = {c["method"]: c for c in t.fit_info_["candidates"]}
    assert any("ill-conditioned" in m for m in rows["recommended"]["warnings"])
    assert "warnings" not in rows["procrustes"]
    t.save(tmp_path / "m")
    saved = {c["method"]: c for c in load_translator(tmp_path / "m").fit_info_["candidates"]}
    assert saved["recommended"]["warnings"] == rows["recommended"]["warnings"]


# -- migrate audit round 4: a forced map is not forced again silently; every outcome in the report; early refusals -----
def test_a_map_kept_with_force_is_refused_on_a_rerun_without_force(tmp_path, monkeypatch, capsys):
    """A map judged not aligned is saved only with --force (here with --gate-only); the same command without
    --force refuses it (exit 3, nothing migrated) instead of migrating with it and claiming --force."""
    import vecbridge.encoders

    old, _, R, _ = _clustered_pair(0, n=600)
    monkeypatch.setattr(vecbridge.encoders, "get_encoder", lambda name, **kw: _PlantedEncoder(old @ R))
    db = _shuffled_texts_store(tmp_path, old)
    argv = ["migrate", "lancedb", str(tmp_path / "shuf"), "docs", "--to-table", "docs_new", "--encoder", "planted",
            "--pair-rows", "200", "--method", "procrustes", "--gate-sample", "50", "--report", str(tmp_path / "r.json")]
    assert _cli(argv + ["--force", "--gate-only"]) == 0
    err = capsys.readouterr().err
    assert "judged not aligned" in err and "kept with --force" in err and "migrating anyway" not in err
    assert list((tmp_path / "shuf").glob(".vecbridge-migrate/*.map"))
    assert _cli(argv) == 3
    err = capsys.readouterr().err
    assert "fitted for this migration before" in err and "not aligned" in err and "--force" in err
    assert "migrating anyway" not in err and "force=True" not in err and "--restart" in err
    assert "docs_new" not in db.list_tables().tables
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["status"] == "not aligned" and rep["fit"]["reused"] and "migration" not in rep
    assert _cli(argv + ["--force", "--quiet"]) == 0  # forced again: migrated, and the warning says why
    assert "migrating anyway (--force)" in capsys.readouterr().err
    assert db.open_table("docs_new").count_rows() == len(old)


def test_a_failed_run_replaces_the_report_of_an_earlier_one(tmp_path, capsys):
    """A run that fails writes its --report (status error, usage error or input refused, with the message and
    what was asked), so an earlier run's "migrated" is never left behind; a file that is not a report of migrate
    is still never replaced."""
    _small_store(tmp_path)
    report = tmp_path / "r.json"
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(tmp_path / "map"), "--quiet",
            "--report", str(report)]
    assert _cli(base + ["--to-table", "t"]) == 0
    assert json.loads(report.read_text())["status"] == "migrated"
    assert _cli(base + ["--to-table", "t2", "--vector-column", "nosuch"]) == 1
    rep = json.loads(report.read_text())
    assert rep["status"] == "error" and "nosuch" in rep["error"] and "migration" not in rep
    assert rep["inputs"]["target"] == {"table": "t2"} and rep["inputs"]["map"] == str(tmp_path / "map")
    assert _cli(base + ["--to-table", "t3", "--method", "procrustes"]) == 0  # --method is for a fit: not used
    assert _cli(base[:4] + ["--to-table", "t4", "--quiet", "--report", str(report)]) == 2  # no map, nothing to fit
    rep = json.loads(report.read_text())
    assert rep["status"] == "usage error" and "--map MAP_DIR" in rep["error"]
    other = tmp_path / "notes.json"
    other.write_text("keep me")
    assert _cli(base[:-1] + [str(other), "--to-table", "t5", "--vector-column", "nosuch"]) == 1
    assert other.read_text() == "keep me"
    capsys.readouterr()
    # exit 5 (--strict refuses the input): the report says so
    new = _two_spaces_store(tmp_path / "b")
    strict = ["migrate", "lancedb", str(tmp_path / "b" / "db"), "docs", "--strict", "--quiet", "--report", str(report)]
    assert _cli(strict + ["--map", str(tmp_path / "b" / "right"), "--to-table", "ok"]) == 0
    assert json.loads(report.read_text())["status"] == "migrated"
    assert _cli(strict + ["--map", str(tmp_path / "b" / "wrong"), "--to-table", "bad"]) == 5
    rep = json.loads(report.read_text())
    assert rep["status"] == "input refused" and "source space" in rep["error"] and "migration" not in rep
    assert lancedb.connect(str(tmp_path / "b" / "db")).open_table("ok").count_rows() == len(new)


def test_gate_options_without_an_encoder_are_refused_before_any_fit(tmp_path, capsys):
    old, sample, _, _ = _clustered_pair(1, n=300)
    make_table(tmp_path / "db", old)
    np.save(tmp_path / "s.npy", sample)
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "n", "--target-sample",
            str(tmp_path / "s.npy"), "--report", str(tmp_path / "r.json")]
    for extra, words in ((["--min-retention", "0.5"], "--min-retention needs --encoder"),
                         (["--gate-only"], "--gate-only needs --encoder")):
        assert _cli(base + extra) == 2
        err = capsys.readouterr().err
        assert words in err and "fitting" not in err
        assert not (tmp_path / "db" / ".vecbridge-migrate").exists()
        assert json.loads((tmp_path / "r.json").read_text())["status"] == "usage error"


def test_pairs_that_would_take_every_stored_text_leave_the_gate_none_and_say_so(tmp_path, monkeypatch, capsys):
    """--pair-rows as large as the store leaves the gate (which leaves the pairs out) no texts: refused before
    the fit (exit 2, no map saved), in words that name --pair-rows; a saved map fitted on all the texts says how
    to fit it again."""
    import vecbridge.encoders
    from vecbridge.stores.lancedb import fit_lancedb_map

    X, Y = _small_store(tmp_path)  # 200 rows, texts "text i"
    monkeypatch.setattr(vecbridge.encoders, "get_encoder", lambda name, **kw: _PlantedEncoder(Y))
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--to-table", "n", "--encoder", "planted",
            "--method", "procrustes", "--quiet"]
    for rows, words in (("200", "all 200 stored texts"), ("199", "199 of the 200 stored texts")):
        assert _cli(base + ["--pair-rows", rows]) == 2
        err = capsys.readouterr().err
        assert words in err and f"(--pair-rows {rows})" in err and "lower --pair-rows" in err
        assert "--gate-sample" in err and "calibration documents" in err
        assert not (tmp_path / "db" / ".vecbridge-migrate").exists()
    # a map saved with every text in its pairs (fitted in Python) is reused: the gate's error says how to go on
    fit_lancedb_map(tmp_path / "db", "docs", None, target_table="n", encoder=_PlantedEncoder(Y), pair_rows=200,
                    method="procrustes", progress=False)
    assert _cli(base + ["--pair-rows", "100"]) == 1
    err = capsys.readouterr().err
    assert "all 200 stored texts went into the pairs" in err and "--restart --pair-rows 198" in err
    assert _cli(base + ["--pair-rows", "100", "--restart"]) == 0
    assert lancedb.connect(str(tmp_path / "db")).open_table("n").count_rows() == len(X)


def test_store_size_counts_rows_and_says_whether_texts_are_kept(tmp_path, spaces):
    from vecbridge.stores.lancedb import store_size

    old = spaces[0][:37]
    make_table(tmp_path / "db", old)
    assert store_size(tmp_path / "db", "docs") == (37, True)
    assert store_size(tmp_path / "db", "docs", text_column="body") == (37, False)
    with pytest.raises(VecbridgeError, match="nope"):
        store_size(tmp_path / "db", "nope")
    pytest.importorskip("chromadb")
    from vecbridge.stores.chroma import client
    from vecbridge.stores.chroma import store_size as chroma_size

    col = client(tmp_path / "chroma", create=True).create_collection("docs", embedding_function=None)
    col.add(ids=[f"d{i}" for i in range(5)], embeddings=old[:5], documents=[f"t{i}" for i in range(5)])
    assert chroma_size(tmp_path / "chroma", "docs") == (5, True)
