"""``vecbridge evaluate-retrieval``: recall@k, nDCG@10 and MRR of an old index, a migrated index, the query-side
bridge, the two-stage bridge and a full re-index, on queries with relevance labels."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import ParameterError
from .options import (
    add_command,
    add_overwrite,
    add_quiet,
    add_strict_option,
    check_output,
    check_space,
    column_name,
    encoding_name,
    info,
    int_range,
    positive_int,
)

EXAMPLE = """  # texts for the queries; the maps fitted both ways; the documents' new vectors for row (e)
  vecbridge evaluate-retrieval --qrels qrels.tsv --docs-old docs_old.npy --docs-new docs_new.npy \\
      --queries queries.jsonl --encoder minilm-l6 --old-encoder minilm-l3-onnx \\
      --map old2new --bridge new2old --json
  # precomputed query vectors, no new document vectors (rows b, c, d; d re-ranks on the migrated vectors)
  vecbridge evaluate-retrieval --qrels qrels.tsv --docs-old docs.parquet --queries-new q_new.npy \\
      --map old2new --bridge new2old --report report.json"""

#: the largest cut-off accepted
MAX_K = 10000


def encoder_name(text: str) -> str:
    """An argparse type: a bundled encoder name or ``st:/path``."""
    from ..encoders import REGISTRY

    if text.startswith("st:") and len(text) > 3:
        return text
    if text not in REGISTRY:
        raise argparse.ArgumentTypeError(f"must be an encoder name ({', '.join(REGISTRY)}, or st:/path/to/folder), "
                                         f"got {text!r}")
    return text


def add_parser(sub) -> None:
    p = add_command(sub, "evaluate-retrieval",
                    "Score retrieval with relevance labels: old index, migrated index, query-side bridge, two-stage "
                    "bridge and full re-index, in one run.", EXAMPLE, run)
    p.add_argument("--qrels", required=True, metavar="FILE",
                   help="relevance labels: lines 'qid docid grade' (TSV) or 'qid 0 docid grade' (TREC); grade 0 = "
                        "not relevant")
    d = p.add_argument_group("documents")
    d.add_argument("--docs-old", required=True, metavar="FILE",
                   help="the stored documents' old-model vectors, keyed by document id (.npy + keys file, .parquet, "
                        ".npz, .vec, ...)")
    new = d.add_mutually_exclusive_group()
    new.add_argument("--docs-new", metavar="FILE", help="the same documents' new-model vectors (row e, and d's re-ranking)")
    new.add_argument("--doc-texts", metavar="FILE",
                     help="the documents' texts (.jsonl with id/text, or id<TAB>text), encoded with --encoder "
                          "for row (e) and d's re-ranking")
    q = p.add_argument_group("queries")
    q.add_argument("--queries", metavar="FILE",
                   help="query texts (.jsonl with id/text, or id<TAB>text), encoded with --encoder (new model) "
                        "and --old-encoder (old model)")
    q.add_argument("--queries-new", metavar="FILE", help="the queries' new-model vectors, keyed by query id")
    q.add_argument("--queries-old", metavar="FILE", help="the queries' old-model vectors, keyed by query id (row a)")
    q.add_argument("--encoder", type=encoder_name, default=None, metavar="NAME",
                   help="the NEW model (see 'vecbridge data encoders'); e5 models encode queries in query mode and "
                        "documents in passage mode")
    q.add_argument("--old-encoder", type=encoder_name, default=None, metavar="NAME", help="the OLD model, for row (a)")
    q.add_argument("--batch-size", type=positive_int, default=None, help="texts per forward pass (default: the model's)")
    m = p.add_argument_group("maps")
    m.add_argument("--map", metavar="MAP_DIR", help="the map old -> new (row b; d's re-ranking without new vectors)")
    m.add_argument("--bridge", metavar="MAP_DIR", help="the map new -> old, fitted that way (rows c and d)")
    s = p.add_argument_group("scoring")
    s.add_argument("--k", type=int_range(1, MAX_K), nargs="+", default=[1, 10, 100], metavar="K",
                   help="recall cut-offs (default 1 10 100)")
    s.add_argument("--ndcg-k", type=int_range(1, MAX_K), default=10, help="the nDCG cut-off (default 10)")
    s.add_argument("--candidates", type=int_range(1, 10**6), default=200,
                   help="documents the bridge hands to the re-ranking of (d) (default 200)")
    s.add_argument("--rerank-with", choices=["auto", "new", "migrated"], default="auto",
                   help="what (d) re-ranks against: the new vectors when given, else the migrated ones (auto)")
    s.add_argument("--space", choices=["raw", "map"], default="raw",
                   help="where map outputs meet the other side: raw (as 'vecbridge migrate' and the query-side helper "
                        "deploy them, default) or map (the other side through the map's target normalisation)")
    s.add_argument("--ignore-unknown", action="store_true",
                   help="skip (and count) qrels rows naming unknown queries or documents instead of failing")
    r = p.add_argument_group("reading and writing")
    r.add_argument("--encoding", type=encoding_name, default="utf-8", help="text encoding of the qrels and text files")
    r.add_argument("--key-column", type=column_name, default=None, help="Parquet: the id column (default: detected)")
    r.add_argument("--vector-column", type=column_name, default=None, help="Parquet: the vector column (default: detected)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--report", metavar="FILE", default=None, help="also write the JSON result to FILE")
    add_overwrite(p, "the --report file")
    add_quiet(p)
    add_strict_option(p)


def _check_options(args) -> None:
    """Cross-option rules (usage errors, exit code 2), before any file is read."""
    if args.queries and not (args.encoder or args.old_encoder):
        raise ParameterError("--queries gives texts: name the new model (--encoder) and/or the old one (--old-encoder)")
    if args.queries_new and args.queries and args.encoder:
        raise ParameterError("--queries-new and --queries with --encoder both give the new-model queries; keep one")
    if args.queries_old and args.queries and args.old_encoder:
        raise ParameterError("--queries-old and --queries with --old-encoder both give the old-model queries; keep one")
    if args.doc_texts and not args.encoder:
        raise ParameterError("--doc-texts needs --encoder (the new model) to encode them")
    if args.encoder and not (args.queries or args.doc_texts):
        raise ParameterError("--encoder encodes --queries and --doc-texts; give at least one of them")
    if args.old_encoder and not args.queries:
        raise ParameterError("--old-encoder encodes --queries; give --queries")
    if not (args.queries or args.queries_new or args.queries_old):
        raise ParameterError("no queries: give --queries (texts) with --encoder/--old-encoder, or --queries-new / "
                             "--queries-old (vectors)")
    depth = max(max(args.k), args.ndcg_k)
    if args.candidates < depth:
        raise ParameterError(f"--candidates ({args.candidates}) must be at least the deepest cut-off ({depth}, of "
                             "--k / --ndcg-k): the two-stage list is the re-ordered candidate list")


def _encoder(name: str, mode: str):
    from ..encoders import REGISTRY, get_encoder

    entry = REGISTRY.get(name)
    takes_mode = entry is not None and "mode" in entry.options and "mode" not in entry.defaults
    return get_encoder(name, **({"mode": mode} if takes_mode else {}))


def _encoder_dim(name: str) -> int:
    """The width of an encoder's vectors: the registry's, else (``st:`` folders) read from the folder."""
    from ..encoders import REGISTRY

    entry = REGISTRY.get(name)
    return entry.dim if entry is not None else _encoder(name, "query").dim


def _check_dimensions(args, docs_old, docs_new, queries_new, queries_old, old_to_new, new_to_old) -> None:
    """The width of each encoder's vectors against the files and maps they meet, before anything is encoded."""
    from ..errors import DimensionError

    d_old = docs_old.dim
    if args.old_encoder and args.queries:
        d = _encoder_dim(args.old_encoder)
        if d != d_old:
            raise DimensionError(f"--old-encoder {args.old_encoder} makes {d}-d vectors, but --docs-old "
                                 f"({args.docs_old}) is {d_old}-d; the old-model queries must come from the model "
                                 "that made the documents")
    if args.encoder and (args.queries or args.doc_texts):
        d = _encoder_dim(args.encoder)
        meets = []
        if docs_new is not None and not args.doc_texts:
            meets.append((docs_new.dim, f"--docs-new ({args.docs_new})"))
        if queries_new is not None:
            meets.append((queries_new.dim, f"--queries-new ({args.queries_new})"))
        if old_to_new is not None:
            meets.append((getattr(old_to_new, "n_features_out_", None), f"--map ({args.map}) maps into"))
        if new_to_old is not None and args.queries:
            meets.append((getattr(new_to_old, "n_features_in_", None), f"--bridge ({args.bridge}) takes"))
        for width, what in meets:
            if width is not None and width != d:
                raise DimensionError(f"--encoder {args.encoder} makes {d}-d vectors, but {what} {width}-d "
                                     "vectors; the new model must be the one they come from")


def _encode(args, name: str, mode: str, ids, texts, what: str):
    from ..embeddings import Embeddings

    enc = _encoder(name, mode)
    info(args, f"encoding {len(texts)} {what} with {enc.name}")
    vecs = enc.encode(list(texts), batch_size=args.batch_size, normalize=True, progress=False if args.quiet else None)
    return Embeddings(list(ids), vecs, {"name": enc.name})


def _vectors(args, path: str):
    from ..io import read_embeddings

    return read_embeddings(path, key_column=args.key_column, vector_column=args.vector_column,
                           encoding=args.encoding, progress=False if args.quiet else None)


def _map(path: str, flag: str):
    from ..errors import VecbridgeError
    from ..hub import is_hub_folder, load_map

    if is_hub_folder(path):
        raise VecbridgeError(f"{flag} {path} is a hub; give a map folder (vecbridge fit -o MAP_DIR)")
    try:
        return load_map(path)
    except VecbridgeError as e:
        raise VecbridgeError(f"{flag}: {e}") from None


#: how the command names each input in messages, where no file was given for it
CLI_LABELS = {
    "qrels": "--qrels",
    "docs_old": "--docs-old",
    "docs_new": "--docs-new, or --doc-texts with --encoder",
    "queries_old": "--queries-old, or --queries with --old-encoder",
    "queries_new": "--queries-new, or --queries with --encoder",
    "old_to_new": "--map",
    "new_to_old": "--bridge",
}


def run(args) -> int:
    from ..atomic import check_writable, write_json_atomic
    from ..retrieval_eval import evaluate_retrieval, format_table, read_qrels, read_query_texts

    _check_options(args)
    inputs = [args.qrels, args.docs_old, args.docs_new, args.doc_texts, args.queries, args.queries_new,
              args.queries_old, args.map, args.bridge]
    if args.report:
        check_output(args.report, *inputs, what="--report")
        check_writable(args.report, args.overwrite)
    labels = dict(CLI_LABELS)
    notes: list[str] = []
    qrels = read_qrels(args.qrels, encoding=args.encoding, flag="--qrels", notes=notes)
    for note in notes:
        info(args, note)
    old_to_new = _map(args.map, "--map") if args.map else None
    new_to_old = _map(args.bridge, "--bridge") if args.bridge else None
    docs_old = _vectors(args, args.docs_old)
    docs_new = _vectors(args, args.docs_new) if args.docs_new else None
    queries_new = _vectors(args, args.queries_new) if args.queries_new else None
    queries_old = _vectors(args, args.queries_old) if args.queries_old else None
    _check_dimensions(args, docs_old, docs_new, queries_new, queries_old, old_to_new, new_to_old)
    if args.doc_texts:
        ids, texts = read_query_texts(args.doc_texts, encoding=args.encoding, flag="--doc-texts")
        docs_new = _encode(args, args.encoder, "passage", ids, texts, "document texts")
        labels["docs_new"] = f"--doc-texts ({args.doc_texts}) encoded by --encoder {args.encoder}"
    if args.queries:
        ids, texts = read_query_texts(args.queries, encoding=args.encoding, flag="--queries")
        if args.encoder:
            queries_new = _encode(args, args.encoder, "query", ids, texts, "queries")
            labels["queries_new"] = f"--queries ({args.queries}) encoded by --encoder {args.encoder}"
        if args.old_encoder:
            queries_old = _encode(args, args.old_encoder, "query", ids, texts, "queries")
            labels["queries_old"] = f"--queries ({args.queries}) encoded by --old-encoder {args.old_encoder}"
    for key, flag, path in (("docs_old", "--docs-old", args.docs_old), ("docs_new", "--docs-new", args.docs_new),
                            ("queries_new", "--queries-new", args.queries_new),
                            ("queries_old", "--queries-old", args.queries_old), ("qrels", "--qrels", args.qrels),
                            ("old_to_new", "--map", args.map), ("new_to_old", "--bridge", args.bridge)):
        if path and labels[key] == CLI_LABELS[key]:
            labels[key] = f"{flag} ({path})"
    # do the inputs look like the spaces the maps were fitted on? (a warning; an error with --strict)
    if old_to_new is not None:
        check_space(args, old_to_new, docs_old.vectors, "source", labels["docs_old"])
    if new_to_old is not None and queries_new is not None:
        check_space(args, new_to_old, queries_new.vectors, "source", labels["queries_new"])
    from ..compute import Compute

    result = evaluate_retrieval(
        qrels, docs_old, docs_new=docs_new, queries_old=queries_old, queries_new=queries_new,
        old_to_new=old_to_new, new_to_old=new_to_old, ks=args.k, ndcg_k=args.ndcg_k, candidates=args.candidates,
        rerank_with=args.rerank_with, space=args.space, ignore_unknown=args.ignore_unknown,
        compute=Compute(progress=False if args.quiet else None), labels=labels,
    )
    result["inputs"] = {k: v for k, v in (
        ("qrels", args.qrels), ("docs_old", args.docs_old), ("docs_new", args.docs_new), ("doc_texts", args.doc_texts),
        ("queries", args.queries), ("queries_new", args.queries_new), ("queries_old", args.queries_old),
        ("encoder", args.encoder), ("old_encoder", args.old_encoder), ("map", args.map), ("bridge", args.bridge),
    ) if v}
    if notes:
        result["notes"] = notes
    if args.report:
        write_json_atomic(args.report, result)
        info(args, f"wrote {args.report}")
    if args.json:
        print(json.dumps(result))
    else:
        print(format_table(result))
    ign = result["qrels"]["ignored"]
    if ign["unknown_query_rows"] or ign["unknown_document_rows"]:
        print(f"vecbridge evaluate-retrieval: warning: skipped {ign['unknown_query_rows']} qrels rows naming unknown "
              f"queries and {ign['unknown_document_rows']} naming unknown documents (--ignore-unknown); e.g. "
              f"{', '.join(map(repr, ign['examples']))}", file=sys.stderr)
    return 0
