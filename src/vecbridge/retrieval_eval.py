"""Retrieval with relevance labels: how much of a full re-index a migration keeps.

A vector store built with an *old* embedding model meets queries encoded by a *new* one. Five ways to
answer them, scored on the same judged queries in one run (:func:`evaluate_retrieval`):

========================  =====================================================================================
``old_index``         (a) old-model queries against the old document vectors (nothing changed)
``migrated_index``    (b) new-model queries against the old document vectors mapped old -> new (document side)
``query_bridge``      (c) new-model queries mapped new -> old (a map fitted that way) against the old vectors
``two_stage_bridge``  (d) the ``candidates`` best of (c), re-ranked by the new-model query against the new
                          model's vectors of those documents (when known) or against their migrated vectors
``reindex``           (e) new-model queries against new-model document vectors (every document re-embedded)
========================  =====================================================================================

A row is ``None`` when its inputs are missing (``result["missing"]`` says which); every row is also given
relative to (e) (``result["retention"]``: row metric / re-index metric).

Metrics, averaged over the judged queries (those with at least one document of grade > 0):

- ``recall_at_k``: the share of the query's relevant documents (grade > 0) among its ``k`` best;
- ``ndcg_at_10``: DCG of the 10 best with gain = grade and discount 1 / log2(rank + 1), divided by the DCG of
  the best possible order of the query's judged documents (the trec_eval convention: linear gains);
- ``mrr``: 1 / rank of the first relevant document within the deepest cut-off (100 by default), else 0.

Search is exact, by cosine, through :func:`vecbridge.neighbors.top_k`.

Relevance labels (qrels) are read by :func:`read_qrels` (TREC ``qid 0 docid grade`` or ``qid docid grade``
lines), query texts by :func:`read_query_texts` (``.jsonl`` with ``id`` and ``text``, or ``id<TAB>text``).
"""

from __future__ import annotations

import codecs
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .compute import Compute, as_compute
from .embeddings import Embeddings
from .errors import DimensionError, FormatError, ParameterError, VecbridgeError
from .io.detect import is_number
from .io.files import split_lines
from .neighbors import top_k, unit_rows_lazy

#: the five rows, in the order they are reported
ROWS = ("old_index", "migrated_index", "query_bridge", "two_stage_bridge", "reindex")
ROW_TITLES = {
    "old_index": "(a) old index",
    "migrated_index": "(b) migrated index",
    "query_bridge": "(c) query-side bridge",
    "two_stage_bridge": "(d) two-stage bridge",
    "reindex": "(e) full re-index",
}
DEFAULT_KS = (1, 10, 100)
DEFAULT_NDCG_K = 10
DEFAULT_CANDIDATES = 200
RERANK_CHOICES = ("auto", "new", "migrated")
SPACES = ("raw", "map")
#: unknown ids named in a message
EXAMPLES = 5

#: how each input is named in messages (command-line flag / Python argument)
LABELS = {
    "qrels": "--qrels / qrels",
    "docs_old": "--docs-old / docs_old",
    "docs_new": "--docs-new / docs_new",
    "queries_old": "--queries-old / queries_old",
    "queries_new": "--queries-new / queries_new",
    "old_to_new": "--map / old_to_new",
    "new_to_old": "--bridge / new_to_old",
}

Qrels = dict[str, dict[str, float]]


# -- reading ------------------------------------------------------------------------------------------
def _grade(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


#: first-line field names that mark a qrels header (BEIR's ``query-id corpus-id score``, TREC-like names)
_QRELS_HEADER_IDS = {"query-id", "query_id", "queryid", "qid", "query", "topic", "topic-id", "topic_id"}
_QRELS_HEADER_GRADES = {"score", "grade", "relevance", "rel", "label", "judgment", "judgement", "relevant"}


def _is_qrels_header(qid: str, did: str, grade: str) -> bool:
    """True for a line of column names: a grade that is no number at all, and a known id or grade column name."""
    try:
        float(grade)
        return False
    except ValueError:
        pass
    return qid.lower() in _QRELS_HEADER_IDS or grade.lower() in _QRELS_HEADER_GRADES


def _text_lines(path: Path, encoding: str, flag: str | None) -> list[tuple[int, str]]:
    """``(line number, line)`` of a text file, split on ``\\n`` only (a lone ``\\r`` stays inside its line; a CRLF's
    ``\\r`` is removed); a UTF-8 byte order mark is dropped. Undecodable bytes are an error naming the line."""
    raw = path.read_bytes()
    codec = codecs.lookup(encoding).name
    try:
        text = raw.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as e:
        lineno = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        shown = f" ({flag})" if flag else ""
        raise FormatError(f"not valid {codec} text{shown}: byte 0x{raw[e.start]:02x} at column {column}; pass "
                          "--encoding (e.g. --encoding latin-1 or cp1252) to read it", path, lineno) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return list(enumerate(split_lines(text), 1))


def read_qrels(path: str | os.PathLike, encoding: str = "utf-8", *, flag: str | None = "--qrels",
               notes: list[str] | None = None) -> Qrels:
    """Relevance labels ``{query_id: {doc_id: grade}}`` from a file of lines

    - ``qid 0 docid grade`` (TREC: four fields, the second ignored), or
    - ``qid docid grade`` (three fields),

    separated by tabs when the line has a tab, else by spaces. A first line of column names (a grade that is
    not a number and a known column name, as BEIR's ``query-id corpus-id score``) is a header and skipped (a
    line is appended to ``notes`` when given); blank lines and ``#`` comments are skipped. ``flag`` names the
    file in messages.
    Grades are non-negative numbers; 0 means judged not relevant. A pair given twice with different grades
    is an error naming both lines.
    """
    path = Path(path)
    if path.is_dir():
        raise VecbridgeError(f"{path} is a folder; give a file of relevance labels")
    out: Qrels = {}
    where: dict[tuple[str, str], int] = {}
    for lineno, line in _text_lines(path, encoding, flag):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [x.strip() for x in line.split("\t")] if "\t" in line else line.split()
        if len(fields) == 4:
            qid, _, did, g = fields
        elif len(fields) == 3:
            qid, did, g = fields
        else:
            raise FormatError(f"expected 'qid docid grade' or 'qid 0 docid grade', got {len(fields)} fields",
                              path, lineno)
        if not out and not where and _is_qrels_header(qid, did, g):
            if notes is not None:
                notes.append(f"{path}: skipped line {lineno} as a header: {line.strip()!r}")
            continue
        grade = _grade(g)
        if grade is None:
            what = "not a finite number" if is_number(g) else "not a number"
            raise FormatError(f"grade {g!r} is {what}; grades are finite numbers >= 0", path, lineno)
        if grade < 0:
            raise FormatError(f"grade {g} is negative; grades are >= 0 (0: judged not relevant)", path, lineno)
        if not qid or not did:
            raise FormatError("empty query or document id", path, lineno)
        seen = where.setdefault((qid, did), lineno)
        docs = out.setdefault(qid, {})
        if seen != lineno and docs[did] != grade:
            raise FormatError(f"query {qid!r}, document {did!r} is graded {docs[did]:g} on line {seen} and "
                              f"{grade:g} here", path, lineno)
        docs[did] = grade
    if not out:
        raise FormatError("no relevance labels (expected lines 'qid docid grade' or 'qid 0 docid grade')", path)
    return out


def write_qrels(qrels: Mapping[str, Mapping[str, float]], path: str | os.PathLike) -> Path:
    """Write ``qid<TAB>docid<TAB>grade`` lines (integers where the grade is whole)."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        for qid, docs in qrels.items():
            for did, g in docs.items():
                f.write(f"{qid}\t{did}\t{int(g) if float(g).is_integer() else g}\n")
    return path


def read_query_texts(path: str | os.PathLike, encoding: str = "utf-8", *,
                     flag: str | None = None) -> tuple[list[str], list[str]]:
    """``(ids, texts)`` from ``.jsonl`` (one object per line with ``id`` (or ``_id``) and ``text``) or from
    lines ``id<TAB>text`` (any other name; a first line ``id<TAB>text`` is a header). Ids must be unique;
    an empty text is an error naming its line. A JSONL id must be a string or a whole number. ``flag`` names
    the file in messages."""
    path = Path(path)
    if path.is_dir():
        raise VecbridgeError(f"{path} is a folder; give a .jsonl or id<TAB>text file")
    ids: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    for lineno, line in _text_lines(path, encoding, flag):
        if not line.strip():
            continue
        if jsonl:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise FormatError(f"not a JSON object ({e.msg})", path, lineno) from None
            if not isinstance(obj, dict):
                raise FormatError("each line must be a JSON object with 'id' and 'text'", path, lineno)
            key = obj.get("id", obj.get("_id"))
            text = obj.get("text")
            if key is None or not isinstance(text, str):
                raise FormatError("each object needs an 'id' (or '_id') and a string 'text'", path, lineno)
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise FormatError(f"'id' must be a string or a whole number, got {json.dumps(key)}", path, lineno)
            key = str(key)
        else:
            key, sep, text = line.partition("\t")
            if not sep:
                raise FormatError("expected 'id<TAB>text' (or use a .jsonl file)", path, lineno)
            if lineno == 1 and key.strip().lower() in ("id", "_id", "qid", "query_id", "query-id") and \
                    text.strip().lower() in ("text", "query", "title"):
                continue
            key = key.strip()
        if not key:
            raise FormatError("empty id", path, lineno)
        if not text.strip():
            raise FormatError(f"id {key!r} has an empty text", path, lineno)
        if key in seen:
            raise FormatError(f"id {key!r} is also on line {seen[key]}; ids must be unique", path, lineno)
        seen[key] = lineno
        ids.append(key)
        texts.append(text)
    if not ids:
        raise FormatError("no texts in the file", path)
    return ids, texts


def write_query_texts(ids: Sequence[str], texts: Sequence[str], path: str | os.PathLike) -> Path:
    """Write ``{"id", "text"}`` lines (``.jsonl``)."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        for k, t in zip(ids, texts):
            f.write(json.dumps({"id": k, "text": t}, ensure_ascii=False) + "\n")
    return path


# -- metrics ------------------------------------------------------------------------------------------
def metric_names(ks: Sequence[int] = DEFAULT_KS, ndcg_k: int = DEFAULT_NDCG_K) -> list[str]:
    return [f"recall_at_{k}" for k in ks] + [f"ndcg_at_{ndcg_k}", "mrr"]


def ranking_metrics(ranked: np.ndarray, relevance: Sequence[Mapping[int, float]],
                    ks: Sequence[int] = DEFAULT_KS, ndcg_k: int = DEFAULT_NDCG_K) -> dict[str, float]:
    """Mean recall@k, nDCG@``ndcg_k`` and MRR of ranked lists.

    ``ranked`` (n_q, depth): document rows, best first (a row may hold -1 for "no document"); ``relevance[i]``:
    ``{document row: grade}`` of query i's judged documents, at least one with grade > 0. MRR looks at the
    whole depth given.
    """
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or ranked.shape[0] != len(relevance):
        raise DimensionError(f"ranked must be (n_queries, depth) with one row per query; got {ranked.shape} "
                             f"for {len(relevance)} queries")
    if len(relevance) == 0:
        raise VecbridgeError("no judged queries to score")
    ks = [int(k) for k in ks]
    discounts = 1.0 / np.log2(np.arange(2, max(ndcg_k, 1) + 2))
    recall = {k: 0.0 for k in ks}
    ndcg = 0.0
    mrr = 0.0
    for row, rel in zip(ranked, relevance):
        relevant = {d for d, g in rel.items() if g > 0}
        if not relevant:
            raise VecbridgeError("every scored query needs a relevant document (grade > 0)")
        gains = np.array([rel.get(int(d), 0.0) for d in row], dtype=np.float64)
        hit = np.array([int(d) in relevant for d in row], dtype=bool)
        for k in ks:
            recall[k] += float(hit[:k].sum()) / len(relevant)
        top = gains[:ndcg_k]
        dcg = float((top * discounts[: len(top)]).sum())
        ideal = np.sort(np.array([g for g in rel.values() if g > 0], dtype=np.float64))[::-1][:ndcg_k]
        ndcg += dcg / float((ideal * discounts[: len(ideal)]).sum())
        first = np.flatnonzero(hit)
        mrr += 1.0 / float(first[0] + 1) if len(first) else 0.0
    n = len(relevance)
    out = {f"recall_at_{k}": recall[k] / n for k in ks}
    out[f"ndcg_at_{ndcg_k}"] = ndcg / n
    out["mrr"] = mrr / n
    return out


# -- evaluation ---------------------------------------------------------------------------------------
def _apply(mapper: Any, X: np.ndarray, space: str) -> np.ndarray:
    """``mapper`` applied to ``X``: in ``"raw"`` space as a store receives it (the target model's own
    coordinates, :meth:`~vecbridge.Translator.to_target_space`, where the map's output is the target's), in
    ``"map"`` space as ``transform`` gives it."""
    if getattr(mapper, "transform", None) is None:  # a plain function of an array
        out = mapper(X)
    elif space == "raw":
        from .stores.migrate import store_function

        out = store_function(mapper)(X)
    else:
        out = mapper.transform(X)
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32))


def _check_mapper(mapper: Any, name: str) -> None:
    if mapper is not None and not (callable(getattr(mapper, "transform", None)) or callable(mapper)):
        raise ParameterError(f"{name} must be a fitted Translator (or a function of an array); "
                             f"got {type(mapper).__name__}")


def _examples(items: Sequence[str]) -> str:
    shown = ", ".join(repr(x) for x in items[:EXAMPLES])
    return shown + (f", ... ({len(items)} in all)" if len(items) > EXAMPLES else "")


def _check_emb(emb: Any, name: str, labels: Mapping[str, str]) -> None:
    if emb is None:
        return
    if not isinstance(emb, Embeddings):
        raise ParameterError(f"{name} must be an Embeddings (keys = ids); got {type(emb).__name__}")
    if len(emb) == 0:
        raise VecbridgeError(f"{labels[name]}: no vectors")


def _rank_by_candidates(Q: np.ndarray, R: np.ndarray, cand: np.ndarray, block: int = 256) -> np.ndarray:
    """Each query's candidate rows re-ordered by cosine of query row i with ``R[cand[i]]`` (ties: earlier
    candidate first)."""
    Qu = unit_rows_lazy(Q)
    Ru = unit_rows_lazy(R)
    out = np.empty_like(cand)
    for a in range(0, len(cand), block):
        c = cand[a:a + block]
        s = np.einsum("qd,qcd->qc", Qu[a:a + block], Ru[c])
        order = np.argsort(-s, axis=1, kind="stable")
        out[a:a + block] = np.take_along_axis(c, order, axis=1)
    return out


def evaluate_retrieval(
    qrels: Mapping[str, Mapping[str, float]],
    docs_old: Embeddings,
    *,
    docs_new: Embeddings | None = None,
    queries_old: Embeddings | None = None,
    queries_new: Embeddings | None = None,
    old_to_new: Any = None,
    new_to_old: Any = None,
    ks: Sequence[int] = DEFAULT_KS,
    ndcg_k: int = DEFAULT_NDCG_K,
    candidates: int = DEFAULT_CANDIDATES,
    rerank_with: str = "auto",
    space: str = "raw",
    ignore_unknown: bool = False,
    compute: Compute | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Score rows (a)-(e) (see the module doc) on the judged queries of ``qrels``; returns a JSON-ready dict.

    Parameters
    ----------
    qrels : ``{query_id: {doc_id: grade}}`` (:func:`read_qrels`).
    docs_old : the stored documents: old-model vectors, keys = document ids.
    docs_new : new-model vectors of the same documents (any order): row (e), and the re-ranking of (d).
    queries_old, queries_new : query vectors of the old / new model, keys = query ids.
    old_to_new : a fitted map old -> new (a :class:`~vecbridge.Translator`, or a function of an array): row
        (b), and (d)'s re-ranking when ``docs_new`` is missing.
    new_to_old : a fitted map new -> old: rows (c) and (d).
    ks : recall cut-offs (default 1, 10, 100); ``ndcg_k``: the nDCG cut-off (10).
    candidates : documents (c) hands to the re-ranking of (d) (200); at least the deepest cut-off.
    rerank_with : ``"auto"`` (the new vectors when given, else the migrated ones), ``"new"`` or ``"migrated"``.
    space : where a map's output meets the other side. ``"raw"`` (default): as ``vecbridge migrate`` and
        ``stores.migrate.query_side`` deploy maps, the mapped vectors, in the other model's own coordinates
        (:meth:`~vecbridge.Translator.to_target_space`), are searched with that model's vectors as they are
        (new-model queries against migrated documents; bridged queries against the stored old vectors).
        ``"map"``: in the map's output space, the other side put there by the map's ``transform_target`` (its
        target normalisation, e.g. ``unit center unit``): the new-model queries of (b) and of (d)'s re-ranking
        against migrated vectors go through ``old_to_new.transform_target`` (a cheap step per query), and the
        old documents searched by (c) through ``new_to_old.transform_target`` (the stored vectors
        re-normalised, not re-embedded). Maps without ``transform_target`` (plain functions) are
        the same in both.
    ignore_unknown : qrels rows that name a query missing from a query set given, or a document missing from
        ``docs_old``, are skipped and counted (``result["qrels"]["ignored"]``) instead of being an error. The
        metrics are then those of the documents the index holds: a relevant document that is not in
        ``docs_old`` is not in recall's denominator nor in the best possible order of nDCG, and a query whose
        relevant documents are all missing is not scored (unlike trec_eval, which counts them as misses).
    compute : backend, threads, memory of the searches (:class:`~vecbridge.compute.Compute`).
    labels : how to name each input in messages (default :data:`LABELS`).

    Returns
    -------
    ``{"rows": {row: {metric: value} | None}, "retention": {row: {metric: value / re-index value} | None},
    "missing": {row: why}, "metrics", "n_queries", "n_documents", "qrels": {...}, "two_stage": {...}, ...}``
    """
    t0 = time.perf_counter()
    names = {**LABELS, **(labels or {})}
    compute = as_compute(compute)
    if isinstance(ks, (int, np.integer)):
        ks = [ks]
    ks = sorted({_check_cutoff(k, "ks") for k in ks})
    if not ks:
        raise ParameterError("ks must hold at least one cut-off, e.g. (1, 10, 100)")
    ndcg_k = _check_cutoff(ndcg_k, "ndcg_k")
    depth = max(max(ks), ndcg_k)
    candidates = _check_cutoff(candidates, "candidates")
    if candidates < depth:
        raise ParameterError(f"candidates ({candidates}) must be at least the deepest cut-off ({depth}): the "
                             "two-stage list is the re-ordered candidate list")
    if space not in SPACES:
        raise ParameterError(f"space must be one of {', '.join(SPACES)}; got {space!r}")
    if rerank_with not in RERANK_CHOICES:
        raise ParameterError(f"rerank_with must be one of {', '.join(RERANK_CHOICES)}; got {rerank_with!r}")
    if docs_old is None:
        raise ParameterError("docs_old (the old-model document vectors) is required")
    for name, emb in (("docs_old", docs_old), ("docs_new", docs_new), ("queries_old", queries_old),
                      ("queries_new", queries_new)):
        _check_emb(emb, name, names)
    _check_mapper(old_to_new, "old_to_new")
    _check_mapper(new_to_old, "new_to_old")
    if not isinstance(qrels, Mapping) or not qrels:
        raise VecbridgeError(f"{names['qrels']}: no relevance labels")
    if queries_old is None and queries_new is None:
        raise ParameterError(f"no queries: give old-model query vectors ({names['queries_old']}) and/or new-model "
                             f"ones ({names['queries_new']})")

    # dimensions, before any search
    d_old = docs_old.dim
    if queries_old is not None and queries_old.dim != d_old:
        raise DimensionError(f"{names['queries_old']} is {queries_old.dim}-d but {names['docs_old']} is {d_old}-d; "
                             "the old-model queries must come from the model that made the documents")
    d_new = queries_new.dim if queries_new is not None else (docs_new.dim if docs_new is not None else None)
    if docs_new is not None and d_new is not None and docs_new.dim != d_new:
        raise DimensionError(f"{names['queries_new']} is {d_new}-d but {names['docs_new']} is {docs_new.dim}-d; "
                             "both must come from the new model")

    # documents
    doc_index = docs_old.index
    if docs_new is not None:
        missing = [k for k in docs_old.keys if k not in docs_new.index]
        extra = [k for k in docs_new.keys if k not in doc_index]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"{len(missing)} documents of {names['docs_old']} are missing from it "
                             f"({_examples(missing)})")
            if extra:
                parts.append(f"it holds {len(extra)} documents that {names['docs_old']} does not ({_examples(extra)})")
            raise VecbridgeError(f"{names['docs_new']} must hold the same documents as {names['docs_old']}: "
                                 + "; ".join(parts))
        new_docs = docs_new.vectors[[docs_new.index[k] for k in docs_old.keys]]
    else:
        new_docs = None

    # relevance labels: every row names a known query and a known document
    query_sets = [(n, e) for n, e in (("queries_old", queries_old), ("queries_new", queries_new)) if e is not None]
    unknown_q: dict[str, None] = {}  # insertion-ordered sets
    unknown_d: dict[str, None] = {}
    n_rows = n_ignored_q = n_ignored_d = 0
    relevance: dict[str, dict[int, float]] = {}
    for qid, docs in qrels.items():
        q_missing = [n for n, e in query_sets if qid not in e.index]
        for did, grade in docs.items():
            n_rows += 1
            if q_missing:
                n_ignored_q += 1
                unknown_q[qid] = None
                continue
            row = doc_index.get(did)
            if row is None:
                n_ignored_d += 1
                unknown_d[did] = None
                continue
            relevance.setdefault(qid, {})[row] = float(grade)
    if (unknown_q or unknown_d) and not ignore_unknown:
        parts = []
        if unknown_q:
            where = " / ".join(names[n] for n, e in query_sets if any(q not in e.index for q in unknown_q))
            parts.append(f"{n_ignored_q} rows name {len(unknown_q)} queries not in {where} ({_examples(list(unknown_q))})")
        if unknown_d:
            parts.append(f"{n_ignored_d} rows name documents not in {names['docs_old']} ({_examples(list(unknown_d))})")
        raise VecbridgeError(f"{names['qrels']}: " + "; ".join(parts) + ". Give matching files, or skip those rows "
                             "with --ignore-unknown / ignore_unknown=True (they are counted in the report)")
    judged = [q for q, rel in relevance.items() if any(g > 0 for g in rel.values())]
    without = [q for q, rel in relevance.items() if not any(g > 0 for g in rel.values())]
    if not judged:
        raise VecbridgeError(f"{names['qrels']}: no query has a relevant document (grade > 0)"
                             + (" among the rows kept" if n_ignored_q or n_ignored_d else ""))
    rel_list = [relevance[q] for q in judged]

    def rows_of(emb: Embeddings) -> np.ndarray:
        return emb.vectors[[emb.index[q] for q in judged]]

    # the rows
    rows: dict[str, dict[str, float] | None] = {r: None for r in ROWS}
    missing_why: dict[str, str] = {}
    reranked_against = None

    def search(Q: np.ndarray, D: np.ndarray, k: int, what: str) -> np.ndarray:
        return top_k(Q, D, k, similarity="cosine", compute=compute, desc=what).indices

    if queries_old is not None:
        rows["old_index"] = ranking_metrics(search(rows_of(queries_old), docs_old.vectors, depth, "old index"),
                                            rel_list, ks, ndcg_k)
    else:
        missing_why["old_index"] = f"needs old-model query vectors ({names['queries_old']})"

    Qn = rows_of(queries_new) if queries_new is not None else None
    migrated = None
    if old_to_new is not None:
        migrated = _apply(old_to_new, docs_old.vectors, space)
        if migrated.shape[0] != len(docs_old):
            raise DimensionError(f"{names['old_to_new']} returned {migrated.shape[0]} rows for {len(docs_old)}")
        if d_new is not None and migrated.shape[1] != d_new:
            raise DimensionError(f"{names['old_to_new']} maps into {migrated.shape[1]}-d, but the new model's vectors "
                                 f"are {d_new}-d; give the map from the old model to the new one")

    def target_side(mapper: Any, X: np.ndarray) -> np.ndarray:
        f = getattr(mapper, "transform_target", None)
        return X if space == "raw" or f is None else np.ascontiguousarray(np.asarray(f(X), dtype=np.float32))

    if Qn is None:
        for r in ("migrated_index", "query_bridge", "two_stage_bridge", "reindex"):
            missing_why[r] = f"needs new-model query vectors ({names['queries_new']})"
    else:
        Qm = target_side(old_to_new, Qn) if migrated is not None else None  # the queries meeting migrated vectors
        if migrated is not None:
            rows["migrated_index"] = ranking_metrics(search(Qm, migrated, depth, "migrated index"), rel_list, ks,
                                                     ndcg_k)
        else:
            missing_why["migrated_index"] = f"needs a map old -> new ({names['old_to_new']})"
        if new_to_old is not None:
            bridged = _apply(new_to_old, Qn, space)
            if bridged.shape[1] != d_old:
                raise DimensionError(f"{names['new_to_old']} maps into {bridged.shape[1]}-d, but {names['docs_old']} "
                                     f"is {d_old}-d; give the map from the new model to the old one")
            cand = search(bridged, target_side(new_to_old, docs_old.vectors), max(candidates, depth), "query bridge")
            rows["query_bridge"] = ranking_metrics(cand[:, :depth], rel_list, ks, ndcg_k)
            use = rerank_with
            if use == "auto":
                use = "new" if new_docs is not None else "migrated"
            R = new_docs if use == "new" else migrated
            if R is None:
                missing_why["two_stage_bridge"] = {
                    "auto": f"needs the new model's document vectors ({names['docs_new']}) or a map old -> new "
                            f"({names['old_to_new']}) to re-rank with",
                    "new": f"re-ranking with the new vectors needs them ({names['docs_new']})",
                    "migrated": f"re-ranking with the migrated vectors needs a map old -> new ({names['old_to_new']})",
                }[rerank_with]
            else:
                reranked = _rank_by_candidates(Qn if use == "new" else Qm, R, cand[:, :candidates])
                rows["two_stage_bridge"] = ranking_metrics(reranked[:, :depth], rel_list, ks, ndcg_k)
                reranked_against = "new vectors" if use == "new" else "migrated vectors"
        else:
            why = f"needs a map new -> old ({names['new_to_old']})"
            missing_why["query_bridge"] = missing_why["two_stage_bridge"] = why
        if new_docs is not None:
            rows["reindex"] = ranking_metrics(search(Qn, new_docs, depth, "re-index"), rel_list, ks, ndcg_k)
        else:
            missing_why["reindex"] = f"needs the new model's document vectors ({names['docs_new']})"
    if all(v is None for v in rows.values()):
        raise ParameterError("nothing to evaluate: give old-model query vectors (row a), or new-model query vectors "
                             "with a map old -> new (b), a map new -> old (c, d) or new-model document vectors (e)")

    metrics = metric_names(ks, ndcg_k)
    base = rows["reindex"]
    retention: dict[str, dict[str, float | None] | None] = {}
    for r in ROWS:
        if r == "reindex":
            continue
        v = rows[r]
        retention[r] = None if v is None or base is None else {
            m: (v[m] / base[m] if base[m] > 0 else None) for m in metrics}
    n_candidates = min(candidates, len(docs_old))
    return {
        "rows": rows,
        "retention": retention,
        "missing": {r: missing_why[r] for r in ROWS if rows[r] is None and r in missing_why},
        "metrics": metrics,
        "ks": ks,
        "ndcg_k": ndcg_k,
        "mrr_depth": min(depth, len(docs_old)),
        "n_queries": len(judged),
        "n_documents": len(docs_old),
        "qrels": {
            "rows": n_rows,
            "queries": len(qrels),
            "judged_queries": len(judged),
            "queries_without_relevant": len(without),
            "relevant_per_query": round(sum(sum(g > 0 for g in r.values()) for r in rel_list) / len(judged), 4),
            "ignored": {"unknown_query_rows": n_ignored_q, "unknown_document_rows": n_ignored_d,
                        "examples": [*unknown_q, *unknown_d][:EXAMPLES]},
        },
        "queries_not_in_qrels": {n: sum(1 for q in e.keys if q not in relevance) for n, e in query_sets},
        "two_stage": {"candidates": n_candidates, "rerank_with": reranked_against},
        "dims": {"old": d_old, "new": d_new},
        "space": space,
        "similarity": "cosine",
        "search": "exact (vecbridge.neighbors.top_k)",
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _check_cutoff(k: Any, what: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"{what} must be whole numbers >= 1; got {k!r}")
    return int(k)


# -- presenting -----------------------------------------------------------------------------------------
def _short(metric: str) -> str:
    return metric.replace("recall_at_", "R@").replace("ndcg_at_", "nDCG@").replace("mrr", "MRR")


def retention_metrics(metrics: Sequence[str]) -> list[str]:
    """The metrics whose retention (row / re-index) :func:`format_table` shows: recall at 10 when it was asked for,
    else at the deepest recall cut-off asked, and nDCG at its cut-off."""
    recalls = [m for m in metrics if m.startswith("recall_at_")]
    recall = ("recall_at_10" if "recall_at_10" in recalls
              else max(recalls, key=lambda m: int(m.rsplit("_", 1)[1])) if recalls else None)
    return [m for m in metrics if m == recall or m.startswith("ndcg_at_")]


def format_table(result: Mapping[str, Any], retention_of: Sequence[str] | None = None) -> str:
    """The rows of :func:`evaluate_retrieval`'s result as a plain-text table (missing rows: ``-``, why below).

    ``retention_of``: the metrics shown again relative to the re-index, ``"... vs (e)"`` (default:
    :func:`retention_metrics` of the cut-offs the result was computed with).
    """
    metrics = list(result["metrics"])
    keep = [m for m in (retention_metrics(metrics) if retention_of is None else retention_of) if m in metrics]
    head = ["row"] + [_short(m) for m in metrics] + [f"{_short(m)} vs (e)" for m in keep]
    lines = [head]
    for r in ROWS:
        v = result["rows"].get(r)
        ret = result["retention"].get(r) if r != "reindex" else ({m: 1.0 for m in keep} if v else None)
        cells = [ROW_TITLES[r]] + [f"{v[m]:.3f}" if v else "-" for m in metrics]
        cells += [f"{ret[m]:.3f}" if ret and ret.get(m) is not None else "-" for m in keep]
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in lines)
    notes = [f"  {ROW_TITLES[r]}: {why}" for r, why in result.get("missing", {}).items()]
    ts = result.get("two_stage") or {}
    tail = [f"{result['n_queries']} judged queries, {result['n_documents']} documents; exact cosine search; "
            f"MRR within the top {result['mrr_depth']}"]
    if ts.get("rerank_with"):
        tail.append(f"two-stage: top {ts['candidates']} of (c) re-ranked against the {ts['rerank_with']}")
    ign = result["qrels"]["ignored"]
    if ign["unknown_query_rows"] or ign["unknown_document_rows"]:
        tail.append(f"skipped qrels rows: {ign['unknown_query_rows']} naming unknown queries, "
                    f"{ign['unknown_document_rows']} naming unknown documents (--ignore-unknown)")
    if result["qrels"]["queries_without_relevant"]:
        tail.append(f"{result['qrels']['queries_without_relevant']} queries without a relevant document not scored")
    return "\n".join([text] + (["not computed:"] + notes if notes else []) + tail)


__all__ = ["DEFAULT_CANDIDATES", "DEFAULT_KS", "DEFAULT_NDCG_K", "LABELS", "ROWS", "ROW_TITLES", "Qrels",
           "evaluate_retrieval", "format_table", "metric_names", "ranking_metrics", "read_qrels", "read_query_texts",
           "retention_metrics", "write_qrels", "write_query_texts"]
