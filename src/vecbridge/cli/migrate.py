"""``vecbridge migrate``: move a vector store to a new embedding model without re-embedding."""

from __future__ import annotations

import sys
import time
import warnings
from contextlib import contextmanager

from ..errors import ParameterError, StrictInputError, VecbridgeError
from .options import (
    check_device,
    HelpFormatter,
    add_command,
    add_device,
    add_quiet,
    add_seed,
    add_strict_option,
    check_output,
    check_space,
    flags_only,
    info,
    int_range,
    nonnegative_float,
    param_error_message,
    parse_params,
    positive_int,
    store_name,
)

EXAMPLE = """  # check first (CI): exit 4 when retrieval retention on 500 sampled texts is below 0.8
  vecbridge migrate lancedb ./lancedb docs --map old2new --to-table docs_new \\
      --encoder minilm-l6 --text-column text --min-retention 0.8 --gate-only
  # then migrate (re-run the same command to resume after a crash)
  vecbridge migrate lancedb ./lancedb docs --map old2new --to-table docs_new
  vecbridge migrate lancedb ./lancedb docs --map old2new --to-column vector_minilm
  vecbridge migrate chroma ./chroma docs --map old2new --to-collection docs_new
  # no map yet, a store that keeps its texts: 1,000 of them re-embedded, the map fitted on those pairs
  vecbridge migrate lancedb ./lancedb docs --to-table docs_new --encoder minilm-l6
  # a store that kept no texts: no map and no pairs, only new-model vectors of other texts of the domain
  vecbridge migrate lancedb ./lancedb docs --to-table docs_new --target-sample new_model_sample.npy
  vecbridge migrate chroma ./chroma docs --to-collection docs_new --target-texts domain.txt --encoder minilm-l6"""


def _common(p) -> None:
    m = p.add_argument_group("the map (one of; or none, with --encoder, to fit on re-embedded stored texts)")
    src = m.add_mutually_exclusive_group()
    src.add_argument("--map", default=None, metavar="MAP_DIR", help="map from the old model to the new one")
    src.add_argument("--target-sample", default=None, metavar="FILE",
                     help="no map, no texts: new-model vectors of other texts of the same domain (.npy or any "
                          "vector file vecbridge reads); a map is fitted without pairs from them and a sample of "
                          "the stored vectors, judged (exit 3 when not aligned), saved beside the journal, and "
                          "reused on resume")
    src.add_argument("--target-texts", default=None, metavar="FILE",
                     help="as --target-sample, from texts of the same domain (one per line) embedded with --encoder")
    m.add_argument("--sample-rows", type=int_range(20), default=8000,
                   help="stored vectors sampled for that fit (default 8000)")
    m.add_argument("--pair-rows", type=int_range(0), default=1000,
                   help="with --encoder and a store that keeps texts: sampled stored texts re-embedded as pairs "
                        "for that fit (default 1000; 0: none). As many pairs as the smaller dimension or more: a "
                        "fit on pairs, judged on held-out pairs as 'vecbridge fit' judges one (exit 3 when not "
                        "aligned); fewer: they seed the fit without pairs (--target-sample then needed)")
    m.add_argument("--method", default="auto", metavar="NAME",
                   help="method of that fit (default auto: it chooses; see 'vecbridge fit --help')")
    m.add_argument("--param", action="append", default=None, metavar="KEY=VALUE", help="a parameter of that method")
    m.add_argument("--force", action="store_true", help="migrate even with a fitted map judged not aligned")
    p.add_argument("--batch-rows", type=positive_int, default=8192, help="rows per batch / commit (default 8192)")
    p.add_argument("--restart", action="store_true", help="ignore a partial run's journal and start again")
    add_device(p)
    p.add_argument("--state", default=None, help="folder for the progress journal (default: STORE/.vecbridge-migrate)")
    g = p.add_argument_group("quality gate (runs before the migration when --encoder is given)")
    g.add_argument("--encoder", "--gate-encoder", dest="gate_encoder", default=None, metavar="NAME",
                   help="the NEW model, to re-embed the sampled texts (see 'vecbridge data encoders')")
    g.add_argument("--min-retention", type=nonnegative_float, default=None,
                   help="fail (exit 4) when the metric is below this (without it the figure is only reported)")
    g.add_argument("--gate-metric", default="overlap_at_k", choices=["overlap_at_k", "recall_at_k", "recall_retention"])
    g.add_argument("--gate-sample", type=int_range(2), default=500, help="calibration rows sampled (default 500)")
    g.add_argument("--gate-k", type=positive_int, default=10, help="k of overlap@k / recall@k (default 10)")
    g.add_argument("--gate-queries", default=None, metavar="FILE",
                   help="query texts, one per line (default: the documents)")
    add_seed(g, 0, "the calibration sample and the stored vectors sampled for a fit")
    g.add_argument("--gate-only", action="store_true", help="run the gate and stop")
    p.add_argument("--report", default=None, metavar="JSON",
                   help="write the migration / gate report here (JSON: status, seconds, the fit, the gate, the "
                        "migration with its map and progress journal). A report of an earlier run of migrate is "
                        "replaced without --overwrite (re-running the command resumes that run)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a --report file that exists and is not a report of vecbridge migrate (one of an "
                        "earlier migrate run is replaced without it)")
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
    lp.add_argument("--text-column", default="text",
                    help="texts (default 'text'): re-embedded by --encoder for the quality gate and, with no "
                         "map, as pairs for the fit")
    _common(lp)
    cp = stores.add_parser("chroma", help="a Chroma collection (persistent client folder)",
                           formatter_class=HelpFormatter)
    cp.add_argument("path", metavar="PATH", help="the Chroma persistent folder")
    cp.add_argument("collection", metavar="COLLECTION", help="source collection (documents are the gate's texts)")
    cp.add_argument("--to-collection", type=store_name("collection"), required=True, help="the new collection")
    _common(cp)


def run(args) -> int:
    """The command: the library's errors and warnings in the flags' words
    (:func:`~vecbridge.cli.options.flags_only`), and Ctrl-C answered with what was done and how to go on (exit 130,
    the report written with status "interrupted"). The --report, once checked, is written in every outcome: an
    error leaves one saying so (status "error", "usage error" or "input refused", with the message), never an
    earlier run's."""
    out: dict = {"inputs": _inputs(args)}
    t0 = time.perf_counter()
    checked: list[bool] = []  # non-empty once the --report may be written
    try:
        with _flag_words():
            return _run(args, out, t0, checked)
    except KeyboardInterrupt as e:
        return _interrupted(args, out, t0, getattr(e, "migration_report", None), bool(checked))
    except VecbridgeError as e:
        if e.args and isinstance(e.args[0], str) and flags_only(e.args[0]) != e.args[0]:
            e.args = (flags_only(e.args[0]), *e.args[1:])
        if checked:
            _failed(args, out, t0, e)
        raise
    except (OSError, UnicodeError) as e:
        if checked:
            _failed(args, out, t0, e)
        raise


def _inputs(args) -> dict:
    """What the command was asked to migrate, where to, and from what, for the report."""
    if args.store == "lancedb":
        where = {"db": args.db, "table": args.table, "vector_column": args.vector_column}
        target = {"table": args.to_table} if args.to_table is not None else {"column": args.to_column}
    else:
        where = {"path": args.path, "collection": args.collection}
        target = {"collection": args.to_collection}
    return {"store": args.store, **where, "target": target, "map": args.map, "target_sample": args.target_sample,
            "target_texts": args.target_texts, "encoder": args.gate_encoder}


def _failed(args, out: dict, t0: float, e: BaseException) -> None:
    """The report of a run that failed with ``e`` (status "usage error" for exit 2, "input refused" for exit 5,
    "error" otherwise), with the message in the flags' words; a report that cannot be written is only said."""
    if isinstance(e, ParameterError):
        status, message = "usage error", param_error_message(e, getattr(args, "param", None))
    elif isinstance(e, OSError) and e.filename is not None and e.strerror:
        status, message = "error", f"{e.filename}: {e.strerror}"
    else:
        status, message = ("input refused" if isinstance(e, StrictInputError) else "error"), str(e)
    out["error"] = flags_only(message) or type(e).__name__
    try:
        _write_report(args, out, status, t0)
    except (OSError, VecbridgeError) as w:  # the error itself matters more than the report
        print(f"vecbridge migrate: the --report could not be written: {w}", file=sys.stderr)


def _usage(args, out: dict, t0: float, message: str) -> int:
    """A usage error found by the command itself: said, written in the report, exit code 2."""
    print(f"vecbridge migrate: {message}", file=sys.stderr)
    out["error"] = message
    _write_report(args, out, "usage error", t0)
    return 2


def _run(args, out: dict, t0: float, checked: list) -> int:
    from ..errors import NotAlignedError, QualityGateError
    from ..progress import log_lines
    from ..stores.migrate import GATE_EXIT_CODE
    from ..translators import load_translator
    from .fit import EXIT_NOT_ALIGNED

    progress = False if args.quiet else None
    check_device(args.device)
    if args.report:  # before any work: never an input (the map's own files included), never a file unasked
        from pathlib import Path

        from ..atomic import check_writable

        store = Path(args.db if args.store == "lancedb" else args.path)
        maps = [Path(args.map) / name for name in ("manifest.json", "weights.safetensors")] if args.map else []
        check_output(args.report, args.target_sample, args.target_texts, args.gate_queries, *maps, what="--report")
        for folder, what in ((store, "the store"), (args.state, "the --state folder")):
            if folder is not None and Path(args.report).resolve().is_relative_to(Path(folder).resolve()):
                raise ParameterError(f"--report {args.report} is inside {what} {folder}; write it elsewhere")
        # a report of an earlier run of migrate is replaced (re-running the command resumes it); any other file
        # only with --overwrite
        check_writable(args.report, args.overwrite or _is_migrate_report(args.report))
    checked.append(True)  # from here on, every outcome is written in the --report
    # the target first: one the migration would refuse (the source itself) stops it before a map is fitted
    if args.store == "lancedb":
        from ..stores.lancedb import check_target

        check_target(args.table, args.to_table, args.to_column, args.vector_column)
    else:
        from ..stores.chroma import check_target

        check_target(args.collection, args.to_collection)
    if args.target_texts is not None and args.gate_encoder is None:
        return _usage(args, out, t0, "--target-texts needs --encoder (the new model, to embed them)")
    if args.map is None and args.target_sample is None and args.target_texts is None and args.gate_encoder is None:
        return _usage(args, out, t0, "give the map (--map MAP_DIR), or what to fit one from: --encoder NAME (the "
                                     "new model, to re-embed a sample of the stored texts) and/or --target-sample "
                                     "FILE / --target-texts FILE (new-model vectors of other texts of the domain)")
    # before any fit: the gate's own options need the encoder (--target-texts has one: it embeds them)
    if args.min_retention is not None and args.gate_encoder is None:
        return _usage(args, out, t0, "--min-retention needs --encoder (the new model, to re-embed texts)")
    if args.gate_only and args.gate_encoder is None:
        return _usage(args, out, t0, "--gate-only needs --encoder")
    exclude = None
    if args.map is not None:
        translator = load_translator(args.map)
    else:
        try:
            with log_lines("vecbridge.migrate", "vecbridge migrate", not args.quiet), \
                    log_lines("vecbridge.auto", "vecbridge migrate", not args.quiet):
                translator, out["fit"] = _fit_map(args, progress)
        except NotAlignedError as e:
            got = getattr(e, "info", None) or {}
            drop = ("pair_offsets",) if got.get("reused") else ("pair_offsets", "map")  # a fresh one is not saved
            fit = {k: v for k, v in got.items() if k not in drop}
            out["fit"] = {**fit, "verdict": "not aligned", "error": flags_only(str(e))}
            _write_report(args, out, "not aligned", t0)
            print(f"vecbridge migrate: {flags_only(str(e))} (exit code {EXIT_NOT_ALIGNED})", file=sys.stderr)
            return EXIT_NOT_ALIGNED
        exclude = out["fit"].pop("pair_offsets", None)
        _say_fit(args, out["fit"])
    if not _gate_runs(args):
        args.gate_encoder = None  # --encoder embedded the target texts; the gate runs only when asked for
    if args.gate_encoder is not None:
        if exclude:  # the rows the map was fitted on are left out of the gate: some must be left
            _check_gate_room(args, len(exclude), out["fit"])
        queries = None
        if args.gate_queries:
            with open(args.gate_queries, encoding="utf-8") as f:
                queries = [ln.rstrip("\n") for ln in f if ln.strip()]
        gate = dict(k=args.gate_k, metric=args.gate_metric, threshold=args.min_retention, query_texts=queries,
                    seed=args.seed, sample=args.gate_sample, device=args.device, exclude=exclude)
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
            _write_report(args, out, "quality gate failed", t0)
            print(f"vecbridge migrate: {e}", file=sys.stderr)
            return GATE_EXIT_CODE
        out["quality"] = q.to_dict()
        if q.threshold is None:  # measured, not judged: no threshold to pass
            info(args, f"quality: {q.metric} {q.value:.3f} on {q.n_documents} documents (k={q.k}); no threshold "
                       "set (--min-retention)")
        else:
            info(args, f"quality gate passed: {q.metric} = {q.value:.3f} on {q.n_documents} documents "
                       f"(k={q.k}, threshold {q.threshold})")
        if args.gate_only:
            _write_report(args, out, "quality gate only", t0)
            return 0
    common = dict(batch_rows=args.batch_rows, resume=not args.restart, device=args.device, state=args.state,
                  progress=progress,
                  check_space=lambda X: check_space(args, translator, X, "source", "the stored vectors"))
    the_map = args.map if args.map is not None else out["fit"]["map"]
    try:
        if args.store == "lancedb":
            from ..stores.lancedb import migrate_lancedb

            rep = migrate_lancedb(args.db, args.table, translator, target_table=args.to_table,
                                  new_column=args.to_column, vector_column=args.vector_column,
                                  id_column=args.id_column, **common)
        else:
            from ..stores.chroma import migrate_chroma

            rep = migrate_chroma(args.path, args.collection, translator, target_collection=args.to_collection,
                                 **common)
    except KeyboardInterrupt as e:
        done = getattr(e, "migration_report", None)
        if done is not None:
            done.map = the_map
        raise
    rep.map = the_map
    rep.quality = out.get("quality")
    out["migration"] = rep.to_dict()
    _write_report(args, out, "migrated", t0)
    info(args, rep.summary())
    return 0


def _say_fit(args, f: dict) -> None:
    """What the migration's own fit gave (or which saved map it reuses), and its warnings."""
    chosen = " (chosen by auto)" if args.method == "auto" else ""
    verdict = f"verdict {f['verdict']}" + (f" (confidence {f['confidence']})" if f.get("confidence") is not None
                                           else "")
    if f["reused"]:
        info(args, f"using the map fitted for this migration before: {f['map']} ({f['mode']}, {f['method']}, "
                   f"{verdict if f['verdict'] else 'no verdict'})")
    elif f["mode"] == "pairs":
        cv = f"; cross-validated top-1 {f['cv_top1']:.3f}" if f.get("cv_top1") is not None else ""
        info(args, f"fitted on pairs: {f['method']}{chosen}{cv} on {f['n_pairs']} stored texts re-embedded with "
                   f"{args.gate_encoder}; saved in {f['map']}")
        d = f.get("verdict_details") or {}
        if f["verdict"] and d:
            n = d["n_eval"]
            chance = max(sum(d["controls_top1"]) / len(d["controls_top1"]) if d["controls_top1"] else 0.0, 1 / n)
            info(args, f"held-out check: top-1 {d['top1']:.2f} among {n:,} held-out pairs (chance {chance:.3f}), "
                       f"{f['method']} fitted again on the other {d['n_train']:,}: {verdict}")
        if f.get("target_sample_unused"):
            info(args, f"the target sample ({f['target_sample_unused']} vectors) was not used: "
                       f"{f['n_pairs']} pairs are enough for a fit on pairs")
    else:
        seeds = f", seeded by {f['n_pairs']} re-embedded stored texts" if f["mode"] == "few pairs" else ""
        info(args, f"fitted without pairs{seeds}: {f['method']}{chosen} on {f['n_stored_sample']} stored and "
                   f"{f['n_target_sample']} target vectors; {verdict}; saved in {f['map']}")
    if f["verdict"] == "uncertain":
        print(f"vecbridge migrate: warning: the map is uncertain: {f.get('verdict_reason') or 'no reason recorded'}",
              file=sys.stderr)
    elif f["verdict"] == "not aligned":  # a fresh fit or a reused map passes here only with --force given now
        going_on = "kept with --force" if args.gate_only else "migrating anyway (--force)"
        if not args.force:  # not reached from the command (the library refuses the map then): no --force to claim
            going_on = "kept when it was fitted" if args.gate_only else "migrating with it"
        print(f"vecbridge migrate: warning: the map was judged not aligned: {f.get('verdict_reason')}; {going_on}",
              file=sys.stderr)


def _gate_runs(args) -> bool:
    """Whether the quality gate runs: with --encoder, except where it only embedded --target-texts (the gate runs
    then only when asked for: --min-retention or --gate-only)."""
    if args.gate_encoder is None:
        return False
    return args.target_texts is None or args.min_retention is not None or args.gate_only


def _store_rows(args) -> tuple[int, bool]:
    """The source's rows, and whether it can keep texts (LanceDB: the --text-column is there)."""
    if args.store == "lancedb":
        from ..stores.lancedb import store_size

        return store_size(args.db, args.table, args.text_column)
    from ..stores.chroma import store_size as chroma_size

    return chroma_size(args.path, args.collection)


def _pairs_leave_no_gate(args) -> None:
    """Before a fit whose pairs would take all the stored texts but one or none: the gate, which leaves the pairs
    out, would have fewer than the 2 it needs, after the fit (which can take minutes) and its map saved."""
    if not _gate_runs(args) or args.pair_rows <= 0:
        return
    n, texts = _store_rows(args)
    most = min(args.pair_rows, args.sample_rows, n)  # pairs are drawn among the sampled rows with a text
    if texts and n >= 2 and n - most < 2:
        what = f"all {n}" if most == n else f"{most} of the {n}"
        raise ParameterError(
            f"{what} stored texts would go into the pairs (--pair-rows {args.pair_rows}), and the quality gate leaves "
            f"them out: it would have fewer than the 2 calibration documents it needs; lower --pair-rows (to at most "
            f"{n - 2}) to leave some for the quality gate (--gate-sample)")


def _check_gate_room(args, n_pairs: int, fit: dict) -> None:
    """After the fit: the pairs it used (left out of the gate) leave the gate at least 2 rows, else an error that
    says so (the map is saved and would be reused: fitting it on fewer pairs needs --restart)."""
    n, _ = _store_rows(args)
    if n >= 2 and n - n_pairs < 2:
        what = f"all {n}" if n_pairs >= n else f"{n_pairs} of the {n}"
        raise VecbridgeError(
            f"{what} stored texts went into the pairs of the map (--pair-rows), and the quality gate leaves them "
            f"out: it has fewer than the 2 calibration documents it needs. The map is saved in {fit.get('map')} and "
            f"reused as it is; fit it again on fewer pairs, to leave some for the quality gate (--gate-sample): "
            f"--restart --pair-rows {max(n - 2, 0)} or fewer")


def _interrupted(args, out: dict, t0: float, rep, checked: bool = True) -> int:
    """Ctrl-C: say what was done and how to go on, write the report (status "interrupted"); exit code 130."""
    if rep is not None:
        out["migration"] = rep.to_dict()
        print(f"vecbridge migrate: interrupted: {rep.rows_done} of {rep.n_rows} rows of {rep.source!r} are in "
              f"{rep.target!r} and recorded in the progress journal {rep.journal}; re-run the same command to resume "
              "from there", file=sys.stderr)
    else:
        kept = ""
        fit = out.get("fit")
        if fit and fit.get("map"):
            kept = f"; the map fitted for it is saved in {fit['map']} and reused when the same command runs again"
        print(f"vecbridge migrate: interrupted before the migration started: nothing was migrated{kept}",
              file=sys.stderr)
    try:
        if checked:  # never a --report that was not checked yet (an input, a file unasked)
            _write_report(args, out, "interrupted", t0)
    except (OSError, VecbridgeError) as e:  # the exit code and message above matter more than the report
        print(f"vecbridge migrate: the --report could not be written: {e}", file=sys.stderr)
    return 130


@contextmanager
def _flag_words():
    """While the command runs, warnings are shown in the command line's words
    (:func:`~vecbridge.cli.options.flags_only`)."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        shown(flags_only(str(message)), category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _target_vectors(args, progress):
    """The new model's sample: --target-sample read, or --target-texts embedded with --encoder."""
    import numpy as np

    if args.target_sample is not None:
        from ..io import read_embeddings

        return read_embeddings(args.target_sample, progress=progress).vectors
    from ..stores.migrate import encode_function

    with open(args.target_texts, encoding="utf-8") as f:
        texts = [ln.rstrip("\n") for ln in f if ln.strip()]
    if len(texts) < 20:
        raise ParameterError(f"--target-texts {args.target_texts}: {len(texts)} texts; a fit without pairs needs "
                             "thousands (at least 20)")
    return np.asarray(encode_function(args.gate_encoder, progress)(texts), dtype=np.float32)


def _fit_map(args, progress):
    opts = dict(sample_rows=args.sample_rows, state=args.state, resume=not args.restart, force=args.force,
                seed=args.seed, progress=progress, method=args.method, params=parse_params(args.param))
    opts.update(encoder=args.gate_encoder, pair_rows=args.pair_rows,
                before_fit=lambda: _pairs_leave_no_gate(args))  # only when a map is fitted, not reused
    Y = None
    if args.target_sample is not None or args.target_texts is not None:
        Y = lambda: _target_vectors(args, progress)  # noqa: E731 (read only when a map is fitted)
    if args.store == "lancedb":
        from ..stores.lancedb import fit_lancedb_map

        return fit_lancedb_map(args.db, args.table, Y, target_table=args.to_table, new_column=args.to_column,
                               vector_column=args.vector_column, text_column=args.text_column,
                               id_column=args.id_column, **opts)
    from ..stores.chroma import fit_chroma_map

    return fit_chroma_map(args.path, args.collection, Y, target_collection=args.to_collection, **opts)


REPORT_KIND = "vecbridge migrate report"


def _is_migrate_report(path: str) -> bool:
    """Whether ``path`` is a JSON report written by ``vecbridge migrate`` (its ``kind`` says so)."""
    import json
    from pathlib import Path

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("kind") == REPORT_KIND


def _write_report(args, out: dict, status: str, t0: float) -> None:
    """The --report (when asked for): ``status`` (migrated, not aligned, quality gate failed, quality gate only,
    interrupted, usage error, input refused, error), the command's seconds, and ``out`` (``inputs``: what was
    asked; ``error``: the message of a run that failed)."""
    if args.report:
        import json

        from ..atomic import write_json_atomic

        doc = {"kind": REPORT_KIND, "status": status, "seconds": round(time.perf_counter() - t0, 2),
               **json.loads(json.dumps(out, default=str))}
        write_json_atomic(args.report, doc, indent=2, sort_keys=False)
