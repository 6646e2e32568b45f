"""``vecbridge migrate``: move a vector store to a new embedding model without re-embedding."""

from __future__ import annotations

import sys

from .options import (
    HelpFormatter,
    add_command,
    add_device,
    add_quiet,
    add_seed,
    add_strict_option,
    check_space,
    info,
    int_range,
    nonnegative_float,
    positive_int,
    store_name,
)

EXAMPLE = """  # check first (CI): exit 4 when retrieval retention on 500 sampled texts is below 0.8
  vecbridge migrate lancedb ./lancedb docs --map old2new --to-table docs_new \\
      --encoder minilm-l6 --text-column text --min-retention 0.8 --gate-only
  # then migrate (re-run the same command to resume after a crash)
  vecbridge migrate lancedb ./lancedb docs --map old2new --to-table docs_new
  vecbridge migrate lancedb ./lancedb docs --map old2new --to-column vector_minilm
  vecbridge migrate chroma ./chroma docs --map old2new --to-collection docs_new"""


def _common(p) -> None:
    p.add_argument("--map", required=True, metavar="MAP_DIR", help="map from the old model to the new one")
    p.add_argument("--batch-rows", type=positive_int, default=8192, help="rows per batch / commit (default 8192)")
    p.add_argument("--restart", action="store_true", help="ignore a partial run's journal and start again")
    add_device(p)
    p.add_argument("--state", default=None, help="folder for the progress journal (default: STORE/.vecbridge-migrate)")
    g = p.add_argument_group("quality gate (runs before the migration when --encoder is given)")
    g.add_argument("--encoder", "--gate-encoder", dest="gate_encoder", default=None, metavar="NAME",
                   help="the NEW model, to re-embed the sampled texts (see 'vecbridge embed --list' / encoders)")
    g.add_argument("--min-retention", type=nonnegative_float, default=None,
                   help="fail (exit 4) when the metric is below this")
    g.add_argument("--gate-metric", default="overlap_at_k", choices=["overlap_at_k", "recall_at_k", "recall_retention"])
    g.add_argument("--gate-sample", type=int_range(2), default=500, help="calibration rows sampled (default 500)")
    g.add_argument("--gate-k", type=positive_int, default=10, help="k of overlap@k / recall@k (default 10)")
    g.add_argument("--gate-queries", default=None, metavar="FILE", help="query texts, one per line (default: the documents)")
    add_seed(g, 0, "the calibration sample")
    g.add_argument("--gate-only", action="store_true", help="run the gate and stop")
    p.add_argument("--report", default=None, metavar="JSON", help="write the migration / gate report here")
    add_quiet(p)
    add_strict_option(p)


def add_parser(sub) -> None:
    p = add_command(sub, "migrate", "Migrate a vector store to a new embedding model without re-embedding.",
                    EXAMPLE, run)
    stores = p.add_subparsers(dest="store", metavar="STORE")
    stores.required = True
    lp = stores.add_parser("lancedb", help="a LanceDB table (embedded database folder)", formatter_class=HelpFormatter)
    lp.add_argument("db", metavar="DB", help="the LanceDB database folder")
    lp.add_argument("table", metavar="TABLE", help="source table")
    t = lp.add_mutually_exclusive_group(required=True)
    t.add_argument("--to-table", type=store_name("table"), default=None,
                   help="write a new table (all columns, translated vectors)")
    t.add_argument("--to-column", type=store_name("column"), default=None,
                   help="add a new vector column to TABLE (old vectors kept)")
    lp.add_argument("--vector-column", default="vector")
    lp.add_argument("--id-column", default="id")
    lp.add_argument("--text-column", default="text", help="texts for the quality gate (default 'text')")
    _common(lp)
    cp = stores.add_parser("chroma", help="a Chroma collection (persistent client folder)", formatter_class=HelpFormatter)
    cp.add_argument("path", metavar="PATH", help="the Chroma persistent folder")
    cp.add_argument("collection", metavar="COLLECTION", help="source collection (documents are the gate's texts)")
    cp.add_argument("--to-collection", type=store_name("collection"), required=True, help="the new collection")
    _common(cp)


def run(args) -> int:
    from ..errors import QualityGateError
    from ..stores.migrate import GATE_EXIT_CODE
    from ..translators import load_translator

    translator = load_translator(args.map)
    progress = False if args.quiet else None
    out: dict = {}
    if args.min_retention is not None and args.gate_encoder is None:
        print("vecbridge migrate: --min-retention needs --encoder (the new model, to re-embed texts)",
              file=sys.stderr)
        return 2
    if args.gate_only and args.gate_encoder is None:
        print("vecbridge migrate: --gate-only needs --encoder", file=sys.stderr)
        return 2
    if args.gate_encoder is not None:
        queries = None
        if args.gate_queries:
            with open(args.gate_queries, encoding="utf-8") as f:
                queries = [ln.rstrip("\n") for ln in f if ln.strip()]
        gate = dict(k=args.gate_k, metric=args.gate_metric, threshold=args.min_retention, query_texts=queries,
                    seed=args.seed, sample=args.gate_sample, device=args.device)
        try:
            if args.store == "lancedb":
                from ..stores.lancedb import lancedb_quality_gate

                q = lancedb_quality_gate(args.db, args.table, translator, args.gate_encoder,
                                         text_column=args.text_column, vector_column=args.vector_column, **gate)
            else:
                from ..stores.chroma import chroma_quality_gate

                q = chroma_quality_gate(args.path, args.collection, translator, args.gate_encoder, **gate)
        except QualityGateError as e:
            out["quality"] = e.report.to_dict()
            _write_report(args, out)
            print(f"vecbridge migrate: {e}", file=sys.stderr)
            return GATE_EXIT_CODE
        out["quality"] = q.to_dict()
        info(args, f"quality gate passed: {q.metric} = {q.value:.3f} on {q.n_documents} documents "
                   f"(k={q.k}{'' if q.threshold is None else f', threshold {q.threshold}'})")
        if args.gate_only:
            _write_report(args, out)
            return 0
    common = dict(batch_rows=args.batch_rows, resume=not args.restart, device=args.device, state=args.state,
                  progress=progress,
                  check_space=lambda X: check_space(args, translator, X, "source", "the stored vectors"))
    if args.store == "lancedb":
        from ..stores.lancedb import migrate_lancedb

        rep = migrate_lancedb(args.db, args.table, translator, target_table=args.to_table, new_column=args.to_column,
                              vector_column=args.vector_column, id_column=args.id_column, **common)
    else:
        from ..stores.chroma import migrate_chroma

        rep = migrate_chroma(args.path, args.collection, translator, target_collection=args.to_collection, **common)
    rep.quality = out.get("quality")
    out["migration"] = rep.to_dict()
    _write_report(args, out)
    info(args, rep.summary())
    return 0


def _write_report(args, out: dict) -> None:
    if args.report:
        import json

        from ..atomic import write_json_atomic

        write_json_atomic(args.report, json.loads(json.dumps(out, default=str)), indent=2, sort_keys=False)
