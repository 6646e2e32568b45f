"""Retrieval evaluation with relevance labels: metrics by hand, the five rows, the command's inputs and errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vecbridge import Embeddings, make_translator
from vecbridge.cli.main import main
from vecbridge.errors import DimensionError, FormatError, ParameterError, VecbridgeError
from vecbridge.io import write_embeddings
from vecbridge.retrieval_eval import (
    ROWS,
    evaluate_retrieval,
    format_table,
    ranking_metrics,
    read_qrels,
    read_query_texts,
    write_qrels,
    write_query_texts,
)

# -- metrics -----------------------------------------------------------------------------------------------
# Query A: relevant d0 (grade 2) and d3 (grade 1), ranked d1, d0, d2 -> recall@1 0, recall@3 1/2,
#   DCG@3 = 2 / log2(3), ideal DCG@3 = 2 / log2(2) + 1 / log2(3), first relevant at rank 2 (RR 1/2).
# Query B: relevant d2, ranked first -> all 1.
# Query C: relevant d4, not in its top 3 -> all 0.
NDCG_A = (2 / math.log2(3)) / (2 + 1 / math.log2(3))
BY_HAND = {"recall_at_1": 1 / 3, "recall_at_3": (0.5 + 1 + 0) / 3, "ndcg_at_3": (NDCG_A + 1) / 3,
           "mrr": (0.5 + 1 + 0) / 3}
RANKINGS = {"A": [1, 0, 2, 3, 4, 5], "B": [2, 0, 1, 3, 4, 5], "C": [0, 1, 2, 3, 4, 5]}
QRELS = {"A": {"d0": 2, "d3": 1}, "B": {"d2": 1}, "C": {"d4": 1}}


def test_metrics_by_hand():
    ranked = np.array([RANKINGS[q][:3] for q in "ABC"])
    relevance = [{0: 2.0, 3: 1.0}, {2: 1.0}, {4: 1.0}]
    got = ranking_metrics(ranked, relevance, ks=(1, 3), ndcg_k=3)
    assert got.keys() == BY_HAND.keys()
    for k, v in BY_HAND.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    assert NDCG_A == pytest.approx(0.47963, abs=1e-5)


def _hand_vectors():
    """One-hot documents d0..d5 and queries whose cosine order is RANKINGS (weights 6, 5, 4, ...)."""
    docs = Embeddings([f"d{i}" for i in range(6)], np.eye(6, dtype=np.float32))
    Q = np.zeros((3, 6), dtype=np.float32)
    for r, q in enumerate("ABC"):
        Q[r, RANKINGS[q]] = np.arange(6, 0, -1)
    return docs, Embeddings(list("ABC"), Q)


def test_metrics_end_to_end_by_hand():
    docs, queries = _hand_vectors()
    res = evaluate_retrieval(QRELS, docs, queries_old=queries, ks=(1, 3), ndcg_k=3, candidates=3)
    for k, v in BY_HAND.items():
        assert res["rows"]["old_index"][k] == pytest.approx(v, abs=1e-6), k
    assert all(res["rows"][r] is None for r in ROWS if r != "old_index")
    assert "queries_new" in res["missing"]["reindex"] and res["retention"]["old_index"] is None
    assert res["n_queries"] == 3 and res["n_documents"] == 6 and res["mrr_depth"] == 3


# -- the five rows -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted():
    """Old space: 300 documents, 40-d; queries are noisy copies of 120 of them. New space: a rotation of the old."""
    rng = np.random.default_rng(3)
    n, d, nq = 300, 40, 120
    X = rng.normal(size=(n, d)).astype(np.float32)
    rel = rng.choice(n, nq, replace=False)
    Qo = (X[rel] + 2.5 * rng.normal(size=(nq, d))).astype(np.float32)
    R = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    doc_ids = [f"doc{i}" for i in range(n)]
    q_ids = [f"q{j}" for j in range(nq)]
    qrels = {q_ids[j]: {doc_ids[int(rel[j])]: 1} for j in range(nq)}
    return {
        "qrels": qrels, "R": R, "rel": rel,
        "docs_old": Embeddings(doc_ids, X), "docs_new": Embeddings(doc_ids[::-1], (X @ R)[::-1]),  # another order
        "queries_old": Embeddings(q_ids, Qo), "queries_new": Embeddings(q_ids, Qo @ R),
    }


def test_planted_rotation_every_row_equals_the_reindex(planted):
    p = planted
    res = evaluate_retrieval(p["qrels"], p["docs_old"], docs_new=p["docs_new"], queries_old=p["queries_old"],
                             queries_new=p["queries_new"], old_to_new=lambda A: A @ p["R"],
                             new_to_old=lambda A: A @ p["R"].T)
    e = res["rows"]["reindex"]
    assert 0.2 < e["recall_at_1"] < 0.95  # not trivial
    for r in ROWS:
        for m in res["metrics"]:
            assert res["rows"][r][m] == pytest.approx(e[m], abs=1e-6), (r, m)
        if r != "reindex":
            assert all(v == pytest.approx(1.0, abs=1e-5) for v in res["retention"][r].values())
    assert res["metrics"] == ["recall_at_1", "recall_at_10", "recall_at_100", "ndcg_at_10", "mrr"]
    assert res["missing"] == {} and res["two_stage"] == {"candidates": 200, "rerank_with": "new vectors"}


def test_fitted_procrustes_maps_recover_the_rotation(planted):
    p = planted
    X, Y = p["docs_old"].vectors, p["docs_old"].vectors @ p["R"]
    fwd = make_translator("procrustes").fit(X, Y)
    back = make_translator("procrustes").fit(Y, X)
    res = evaluate_retrieval(p["qrels"], p["docs_old"], docs_new=p["docs_new"], queries_new=p["queries_new"],
                             old_to_new=fwd, new_to_old=back)
    for r in ("migrated_index", "query_bridge", "two_stage_bridge"):
        assert res["retention"][r]["recall_at_10"] == pytest.approx(1.0, abs=0.02), r
    assert res["rows"]["old_index"] is None and "old-model query" in res["missing"]["old_index"]


def test_two_stage_reranks_against_the_new_vectors_when_given(planted):
    p = planted
    rng = np.random.default_rng(5)
    d = p["R"].shape[0]
    bad_bridge = p["R"].T + 0.6 * rng.normal(size=(d, d)).astype(np.float32) / np.sqrt(d)  # (c) is imperfect
    junk = rng.normal(size=(d, d)).astype(np.float32)  # a useless old -> new map
    kw = dict(queries_new=p["queries_new"], new_to_old=lambda A: A @ bad_bridge, old_to_new=lambda A: A @ junk,
              candidates=len(p["docs_old"]))  # every document is a candidate: re-ranking = the re-ranker's search
    with_new = evaluate_retrieval(p["qrels"], p["docs_old"], docs_new=p["docs_new"], **kw)
    assert with_new["two_stage"]["rerank_with"] == "new vectors"
    assert with_new["rows"]["two_stage_bridge"] == pytest.approx(with_new["rows"]["reindex"], abs=1e-6)
    assert with_new["rows"]["query_bridge"]["mrr"] < with_new["rows"]["reindex"]["mrr"] - 0.05
    migrated = evaluate_retrieval(p["qrels"], p["docs_old"], docs_new=p["docs_new"], rerank_with="migrated", **kw)
    assert migrated["two_stage"]["rerank_with"] == "migrated vectors"
    assert migrated["rows"]["two_stage_bridge"] == pytest.approx(migrated["rows"]["migrated_index"], abs=1e-6)
    without = evaluate_retrieval(p["qrels"], p["docs_old"], **kw)  # no new vectors: auto falls back to migrated
    assert without["two_stage"]["rerank_with"] == "migrated vectors" and without["rows"]["reindex"] is None
    # the default 200 candidates: re-ranked by the new model, better than the bridge alone
    top200 = evaluate_retrieval(p["qrels"], p["docs_old"], docs_new=p["docs_new"], **{**kw, "candidates": 200})
    assert top200["rows"]["two_stage_bridge"]["mrr"] > top200["rows"]["query_bridge"]["mrr"]
    text = format_table(top200)
    assert "(d) two-stage bridge" in text and "re-ranked against the new vectors" in text


def test_space_map_compares_in_the_maps_output_space(planted):
    # one space, a common offset (so centring matters), maps fitted with "unit center unit": in the map's output
    # space (b), (c) and (d) against migrated vectors all search the same centred vectors; as deployed ("raw")
    # the centred map outputs meet uncentred vectors and rank differently
    p = planted
    offset = 0.8 * np.ones(p["R"].shape[0], dtype=np.float32)
    docs = Embeddings(p["docs_old"].keys, p["docs_old"].vectors + offset)
    queries = Embeddings(p["queries_old"].keys, p["queries_old"].vectors + offset)
    fwd = make_translator("procrustes", normalize="unit center unit").fit(docs.vectors, docs.vectors)
    back = make_translator("procrustes", normalize="unit center unit").fit(docs.vectors, docs.vectors)
    kw = dict(queries_new=queries, old_to_new=fwd, new_to_old=back, rerank_with="migrated")
    mapped = evaluate_retrieval(p["qrels"], docs, space="map", **kw)
    rows = mapped["rows"]
    for r in ("query_bridge", "two_stage_bridge"):
        assert rows[r] == pytest.approx(rows["migrated_index"], abs=1e-6), r
    raw = evaluate_retrieval(p["qrels"], docs, **kw)
    assert raw["space"] == "raw" and mapped["space"] == "map"
    assert raw["rows"]["query_bridge"] != pytest.approx(rows["query_bridge"], abs=1e-3)
    with pytest.raises(ParameterError, match="space must be one of raw, map"):
        evaluate_retrieval(p["qrels"], docs, space="nope", **kw)


def test_raw_space_searches_what_a_store_holds(planted):
    # a target off its centre and a map fitted with "unit center unit": as deployed ("raw"), the migrated
    # documents are the target model's own coordinates (what `vecbridge migrate` writes), not the map's centred
    # output, which would meet the uncentred new-model queries and rank worse
    from vecbridge.stores.migrate import store_function

    p = planted
    offset = 2.0 * np.ones(p["R"].shape[0], dtype=np.float32)
    X = p["docs_old"].vectors
    fwd = make_translator("procrustes", normalize="unit center unit").fit(X, X @ p["R"] + offset)
    queries = Embeddings(p["queries_new"].keys, p["queries_new"].vectors + offset)
    row = lambda mapper: evaluate_retrieval(p["qrels"], p["docs_old"], queries_new=queries,  # noqa: E731
                                            old_to_new=mapper)["rows"]["migrated_index"]
    assert row(fwd) == pytest.approx(row(store_function(fwd)), abs=1e-9)
    assert row(fwd)["mrr"] > row(fwd.transform)["mrr"] + 0.05, (row(fwd), row(fwd.transform))


def test_python_errors(planted):
    p = planted
    with pytest.raises(DimensionError, match="queries_old is 8-d but .*docs_old is 40-d"):
        evaluate_retrieval(p["qrels"], p["docs_old"], queries_old=Embeddings(["q0"], np.ones((1, 8))))
    with pytest.raises(VecbridgeError, match="1 rows name 1 queries not in .*'nope'"):
        evaluate_retrieval({**p["qrels"], "nope": {"doc0": 1}}, p["docs_old"], queries_old=p["queries_old"])
    res = evaluate_retrieval({**p["qrels"], "nope": {"doc0": 1}, "q0": {"doc0": 0, "ghost": 1}}, p["docs_old"],
                             queries_old=p["queries_old"], ignore_unknown=True)
    assert res["qrels"]["ignored"] == {"unknown_query_rows": 1, "unknown_document_rows": 1,
                                       "examples": ["nope", "ghost"]}
    assert res["qrels"]["queries_without_relevant"] == 1 and res["n_queries"] == 119
    with pytest.raises(ParameterError, match="candidates \\(50\\) must be at least the deepest cut-off \\(100\\)"):
        evaluate_retrieval(p["qrels"], p["docs_old"], queries_old=p["queries_old"], candidates=50)
    with pytest.raises(ParameterError, match="ks must be whole numbers >= 1"):
        evaluate_retrieval(p["qrels"], p["docs_old"], queries_old=p["queries_old"], ks=(0, 10))
    with pytest.raises(VecbridgeError, match="same documents"):
        evaluate_retrieval(p["qrels"], p["docs_old"], docs_new=Embeddings(["doc0"], np.ones((1, 40))),
                           queries_new=p["queries_new"])
    with pytest.raises(DimensionError, match="new_to_old maps into 7-d"):
        evaluate_retrieval(p["qrels"], p["docs_old"], queries_new=p["queries_new"], new_to_old=lambda A: A[:, :7])
    with pytest.raises(ParameterError, match="nothing to evaluate"):
        evaluate_retrieval(p["qrels"], p["docs_old"], queries_new=p["queries_new"])


# -- reading ---------------------------------------------------------------------------------------------
def test_read_qrels_and_texts(tmp_path):
    (tmp_path / "trec.txt").write_text("q1 0 d1 2\nq1 0 d2 0\n\nq2 0 d1 1\n")
    assert read_qrels(tmp_path / "trec.txt") == {"q1": {"d1": 2.0, "d2": 0.0}, "q2": {"d1": 1.0}}
    (tmp_path / "beir.tsv").write_text("query-id\tcorpus-id\tscore\nq 1\td 1\t1\n")
    assert read_qrels(tmp_path / "beir.tsv") == {"q 1": {"d 1": 1.0}}
    for text, msg in (("q1 d1\n", "line 1: expected"), ("q1 d1 1\nq1 d1 x\n", "line 2: grade 'x'"),
                      ("q1 d1 -1\n", "negative"), ("q1 d1 1\nq1 d1 2\n", "graded 1 on line 1 and 2 here"), ("", "no relevance")):
        (tmp_path / "bad.tsv").write_text(text)
        with pytest.raises(FormatError, match=msg):
            read_qrels(tmp_path / "bad.tsv")
    write_query_texts(["a", "b"], ["first text", "second"], tmp_path / "q.jsonl")
    assert read_query_texts(tmp_path / "q.jsonl") == (["a", "b"], ["first text", "second"])
    (tmp_path / "q.tsv").write_text("id\ttext\nx\thello world\ny\tbye\n")
    assert read_query_texts(tmp_path / "q.tsv") == (["x", "y"], ["hello world", "bye"])
    (tmp_path / "dup.tsv").write_text("x\ta\nx\tb\n")
    with pytest.raises(FormatError, match="line 2: id 'x' is also on line 1"):
        read_query_texts(tmp_path / "dup.tsv")


# -- the command --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(planted, tmp_path_factory):
    p = planted
    d = tmp_path_factory.mktemp("retrieval")
    write_embeddings(p["docs_old"], d / "docs_old.npy")
    write_embeddings(p["docs_new"], d / "docs_new.parquet")
    write_embeddings(p["queries_old"], d / "q_old.npy")
    write_embeddings(p["queries_new"], d / "q_new.npy")
    write_embeddings(Embeddings(p["queries_new"].keys, p["queries_new"].vectors[:, :8]), d / "q_8d.npy")
    write_qrels(p["qrels"], d / "qrels.tsv")
    X = p["docs_old"].vectors
    make_translator("procrustes").fit(X, X @ p["R"]).save(d / "old2new")
    make_translator("procrustes").fit(X @ p["R"], X).save(d / "new2old")
    return d


def _run(d, *extra, capsys):
    capsys.readouterr()
    try:
        code = main(["evaluate-retrieval", "--qrels", str(d / "qrels.tsv"), "--docs-old", str(d / "docs_old.npy"),
                     "--quiet", *extra])
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_cli_json_and_report(files, capsys):
    d = files
    code, out, err = _run(d, "--docs-new", str(d / "docs_new.parquet"), "--queries-new", str(d / "q_new.npy"),
                          "--queries-old", str(d / "q_old.npy"), "--map", str(d / "old2new"), "--bridge",
                          str(d / "new2old"), "--json", "--report", str(d / "report.json"), capsys=capsys)
    assert code == 0, err
    res = json.loads(out)  # exactly one JSON object
    assert set(res) >= {"rows", "retention", "missing", "metrics", "n_queries", "n_documents", "qrels", "two_stage",
                        "inputs"}
    assert list(res["rows"]) == list(ROWS) and set(res["retention"]) == set(ROWS) - {"reindex"}
    assert res["rows"]["old_index"].keys() == set(res["metrics"]) and res["n_queries"] == 120
    for r in ROWS:
        assert res["rows"][r]["recall_at_10"] == pytest.approx(res["rows"]["reindex"]["recall_at_10"], abs=0.02)
    assert json.loads((d / "report.json").read_text())["rows"] == res["rows"]
    # the report is not overwritten without --overwrite
    code, _, err = _run(d, "--queries-old", str(d / "q_old.npy"), "--report", str(d / "report.json"), capsys=capsys)
    assert code == 1 and "already exists" in err
    # rows without their inputs are null, with the reason
    code, out, _ = _run(d, "--queries-new", str(d / "q_new.npy"), "--bridge", str(d / "new2old"), "--json",
                        capsys=capsys)
    res = json.loads(out)
    assert res["rows"]["old_index"] is None and res["rows"]["reindex"] is None and res["rows"]["migrated_index"] is None
    assert res["rows"]["query_bridge"] is not None and res["rows"]["two_stage_bridge"] is None
    assert "--docs-new" in res["missing"]["two_stage_bridge"] and "--map" in res["missing"]["migrated_index"]
    # the plain table
    code, out, _ = _run(d, "--queries-old", str(d / "q_old.npy"), capsys=capsys)
    assert code == 0 and out.splitlines()[1].startswith("(a) old index") and "not computed:" in out


@pytest.mark.parametrize("extra, code, message", [
    (["--queries-old", "Q_OLD", "--k", "0"], 2, "--k must be an integer from 1 to 10000, got 0"),
    (["--queries-old", "Q_OLD", "--candidates", "50"], 2, "--candidates (50) must be at least the deepest cut-off (100"),
    (["--queries-old", "Q_OLD", "--ndcg-k", "x"], 2, "--ndcg-k must be an integer from 1 to 10000, got 'x'"),
    (["--queries", "Q_TEXT"], 2, "--queries gives texts: name the new model (--encoder)"),
    (["--queries-new", "Q_8D", "--docs-new", "DOCS_NEW"], 1, "--queries-new (Q_8D) is 8-d but --docs-new (DOCS_NEW) is 40-d"),
    (["--queries-old", "Q_OLD", "--qrels", "QRELS_UNKNOWN"], 1, "not in --queries-old (Q_OLD) ('nope', 'gone')"),
    (["--queries-old", "Q_OLD", "--qrels", "QRELS_BADDOC"], 1, "rows name documents not in --docs-old"),
    (["--queries", "EMPTY", "--encoder", "static64"], 1, "no texts in the file"),
    (["--queries-old", "Q_OLD", "--encoder", "nope"], 2, "--encoder must be an encoder name"),
    (["--queries-old", "Q_OLD", "--map", "MISSING"], 1, "MISSING"),
    ([], 2, "no queries"),
])
def test_cli_errors(files, capsys, extra, code, message):
    d = files
    (d / "unknown.tsv").write_text("q0\tdoc5\t1\nnope\tdoc1\t1\ngone\tdoc2\t1\n")
    (d / "baddoc.tsv").write_text("q0\tdoc5\t1\nq1\tghost\t1\n")
    (d / "empty.jsonl").write_text("")
    (d / "q.jsonl").write_text('{"id": "q0", "text": "a"}\n')
    names = {"Q_OLD": d / "q_old.npy", "Q_8D": d / "q_8d.npy", "DOCS_NEW": d / "docs_new.parquet",
             "QRELS_UNKNOWN": d / "unknown.tsv", "QRELS_BADDOC": d / "baddoc.tsv", "EMPTY": d / "empty.jsonl",
             "Q_TEXT": d / "q.jsonl", "MISSING": d / "no_such_map"}
    args = [str(names.get(a, a)) for a in extra]
    got, _, err = _run(d, *args, capsys=capsys)
    expected = message
    for k, v in names.items():
        expected = expected.replace(k, str(v))
    assert got == code, err
    last = err.strip().splitlines()[-1]  # the message is one line (argparse's usage lines come before it)
    assert expected in last and last.startswith("vecbridge evaluate-retrieval: error: "), err
    if "usage:" not in err:
        assert len(err.strip().splitlines()) == 1, err


def test_cli_ignore_unknown_counts_the_rows(files, capsys):
    d = files
    (d / "unknown.tsv").write_text("q0\tdoc5\t1\nnope\tdoc1\t1\nq1\tghost\t1\n")
    code, out, err = _run(d, "--queries-old", str(d / "q_old.npy"), "--qrels", str(d / "unknown.tsv"),
                          "--ignore-unknown", "--json", capsys=capsys)
    assert code == 0
    res = json.loads(out)
    assert res["qrels"]["ignored"]["unknown_query_rows"] == 1 and res["qrels"]["ignored"]["unknown_document_rows"] == 1
    assert res["n_queries"] == 1 and "skipped 1 qrels rows" in err


# -- the labelled tasks --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bbc-headlines", "bible-verses"])
def test_retrieval_tasks_are_labelled_and_round_trip(name, tmp_path):
    from vecbridge import datasets
    from vecbridge.errors import DataUnavailableError

    try:
        task = datasets.retrieval_task(name, n_pool=500)
    except DataUnavailableError as e:
        pytest.skip(str(e))
    assert len(task.qrels) == len(task.queries) and set(task.qrels) == set(task.queries.ids)
    docs = set(task.documents.ids)
    assert all(len(rel) == 1 and set(rel) <= docs for rel in task.qrels.values())
    assert len(set(task.queries.texts) & set(task.documents.texts)) == 0  # written differently
    assert not set(task.pool_old.ids) & set(task.pool_new.ids) and len(task.pool_old) == len(task.pool_new) == 500
    paths = task.write(tmp_path)
    assert read_qrels(paths["qrels"]) == task.qrels
    assert read_query_texts(paths["queries"]) == (task.queries.ids, task.queries.texts)
    if name == "bible-verses":
        assert len(task.documents) == 5000 and len(task.queries) == 1000
        assert not {k.split(".")[0] for k in task.pool_old.ids} & {k.split(".")[0] for k in task.documents.ids}
    with pytest.raises(datasets.DataError, match="unknown retrieval task"):
        datasets.retrieval_task("nope")


# -- reading: encodings, BOM, line ends, headers, ids -------------------------------------------------
def test_undecodable_qrels_name_file_line_and_encoding_flag(tmp_path):
    p = tmp_path / "q.tsv"
    p.write_bytes(b"q1\td1\t1\nq2\td\xe9\t1\n")
    with pytest.raises(FormatError, match=r"q\.tsv, line 2: not valid utf-8 text \(--qrels\).*--encoding"):
        read_qrels(p)
    assert read_qrels(p, encoding="latin-1")["q2"] == {"d\xe9": 1.0}
    t = tmp_path / "t.tsv"
    t.write_bytes(b"a\tcaf\xe9\n")
    with pytest.raises(FormatError, match=r"line 1: not valid utf-8 text \(--queries\)"):
        read_query_texts(t, flag="--queries")


def test_a_utf8_bom_is_stripped(tmp_path):
    p = tmp_path / "q.tsv"
    p.write_bytes(b"\xef\xbb\xbfq1\td1\t1\n")
    assert read_qrels(p) == {"q1": {"d1": 1.0}}
    j = tmp_path / "q.jsonl"
    j.write_bytes(b'\xef\xbb\xbf{"id": "a", "text": "x"}\n')
    assert read_query_texts(j) == (["a"], ["x"])


def test_a_lone_cr_stays_inside_its_line(tmp_path):
    t = tmp_path / "t.tsv"
    t.write_bytes(b"a\tone\rtwo\r\nb\tthree\r\n")
    assert read_query_texts(t) == (["a", "b"], ["one\rtwo", "three"])
    p = tmp_path / "q.tsv"
    p.write_bytes(b"q1\td1\t1\r\nq2\td2\t2\r\n")
    assert read_qrels(p) == {"q1": {"d1": 1.0}, "q2": {"d2": 2.0}}


@pytest.mark.parametrize("grade", ["nan", "inf", "1e400", "abc", "-inf"])
def test_a_bad_first_grade_is_not_taken_for_a_header(tmp_path, grade):
    p = tmp_path / "q.tsv"
    p.write_text(f"q1\td1\t{grade}\nq2\td2\t1\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"line 1: grade"):
        read_qrels(p)
    p.write_text(f"q2\td2\t1\nq1\td1\t{grade}\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"line 2: grade"):
        read_qrels(p)


def test_a_real_header_is_skipped_and_reported(tmp_path):
    p = tmp_path / "q.tsv"
    p.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    notes: list[str] = []
    assert read_qrels(p, notes=notes) == {"q1": {"d1": 1.0}}
    assert len(notes) == 1 and "line 1" in notes[0] and "header" in notes[0]


@pytest.mark.parametrize("key", ["1.0", "true", "[1]", '{"a": 1}'])
def test_jsonl_ids_must_be_strings_or_integers(tmp_path, key):
    j = tmp_path / "q.jsonl"
    j.write_text(f'{{"id": "a", "text": "x"}}\n{{"id": {key}, "text": "y"}}\n', encoding="utf-8")
    with pytest.raises(FormatError, match=r"line 2: 'id' must be a string or a whole number"):
        read_query_texts(j)
    j.write_text('{"id": 7, "text": "y"}\n', encoding="utf-8")
    assert read_query_texts(j) == (["7"], ["y"])
