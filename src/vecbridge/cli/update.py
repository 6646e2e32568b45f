"""``vecbridge update``: update a word model with new text (warm start or alignment)."""

from __future__ import annotations

import json

from ..apps.update import MAX_WINDOW, MAX_WORKERS
from .options import (
    add_command,
    add_overwrite,
    add_quiet,
    add_seed,
    check_output,
    encoding_name,
    fraction_upper,
    info,
    int_range,
    positive_int,
    unit_interval,
)

EXAMPLE = """  vecbridge update old.kv new_texts.txt --strategy warmstart -o new.kv --lockf 0
  vecbridge update old.vec corpus_dir/ --strategy align -o new.vec --report update.json
  vecbridge update old.model new.txt --strategy warmstart --lockf 0.5 -o new.kv --save-model new.model"""

#: options of one strategy only: flag -> (dest, strategy, default); given with the other strategy, a note says so
STRATEGY_OPTIONS = {"--lockf": ("lockf", "warmstart", 0.0), "--old-words": ("old_words", "align", "keep"),
                    "--anchors": ("anchors", "align", 2000), "--stable-fraction": ("stable_fraction", "align", 0.5)}


def add_parser(sub) -> None:
    p = add_command(
        sub, "update",
        "Update word vectors with a new corpus, keeping them usable with what was built on the old ones.",
        EXAMPLE, run,
    )
    p.add_argument("model", metavar="MODEL",
                   help="old vectors (any format or .kv), or a gensim Word2Vec .model (continues its own vocabulary)")
    p.add_argument("corpus", metavar="CORPUS", help="text file (one sentence a line) or a folder of .txt files")
    p.add_argument("--strategy", required=True, choices=["warmstart", "align"],
                   help="warmstart: continue training from the old vectors; align: train anew, rotate into the old space")
    p.add_argument("-o", "--output", required=True, metavar="NEW", help="updated vectors (format from the name)")
    p.add_argument("--format", default=None, help="output format, overriding the file name (or 'gensim')")
    p.add_argument("--lockf", type=unit_interval, default=None,
                   help="warmstart: lock factor of old words, 0 fixed .. 1 free (default 0)")
    p.add_argument("--old-words", default=None, choices=["keep", "replace"],
                   help="align: old words keep their old vectors (keep, default) or take aligned new ones (replace)")
    p.add_argument("--anchors", type=positive_int, default=None,
                   help="align: anchor candidates (frequent in both; default 2000)")
    p.add_argument("--stable-fraction", type=fraction_upper, default=None,
                   help="align: share of candidates kept as anchors (default 0.5)")
    p.add_argument("--epochs", type=positive_int, default=5, help="training passes over the new corpus")
    p.add_argument("--min-count", type=positive_int, default=3, help="minimum count of a word in the new corpus")
    p.add_argument("--window", type=int_range(1, MAX_WINDOW), default=5,
                   help=f"context window (words each side, 1 to {MAX_WINDOW})")
    p.add_argument("--sg", action="store_true", help="skip-gram (default CBOW)")
    add_seed(p, 0)
    p.add_argument("--workers", type=int_range(1, MAX_WORKERS), default=1,
                   help=f"training threads (1 = reproducible; at most {MAX_WORKERS})")
    p.add_argument("--report", metavar="REPORT.json",
                   help="write drift, neighbours of new words and structure scores (old vs updated) as JSON")
    p.add_argument("--save-model", metavar="PATH.model", help="also save the trained gensim model")
    p.add_argument("--model-format", default=None, help="format of MODEL (default: from its name or content)")
    p.add_argument("--encoding", type=encoding_name, default=None,
                   help="text encoding of CORPUS and of MODEL's keys (default: UTF-8; a corpus file that is not "
                        "UTF-8 is read as Latin-1)")
    p.add_argument("--lenient", action="store_true",
                   help="skip bad rows of MODEL (ragged, non-numeric, NaN/Inf, duplicate keys), counting and "
                        "reporting them, instead of failing")
    add_overwrite(p, "existing output files")
    add_quiet(p)


def run(args) -> int:
    from pathlib import Path

    from ..apps.update import compare_updates, model_embeddings, read_corpus, update_word_model
    from ..apps.wordfiles import read_word_model, write_word_vectors
    from ..atomic import check_writable, write_json_atomic

    outs = [p for p in (args.output, args.report, args.save_model) if p]
    for p in outs:  # before any work
        check_output(p, args.model, args.corpus, what="output")
        check_writable(p, args.overwrite)
    if len({Path(p).resolve() for p in outs}) < len(outs):
        from ..errors import VecbridgeError

        raise VecbridgeError("-o, --report and --save-model must name three different files")
    _strategy_options(args)
    enc = {"encoding": args.encoding} if args.encoding else {}
    old = read_word_model(args.model, args.model_format, keep_model=args.strategy == "warmstart",
                          on_error="skip" if args.lenient else "raise", progress=False if args.quiet else None, **enc)
    read = (getattr(old, "meta", None) or {}).get("read_report")  # None: a gensim file
    if read and any(int(v) for v in (read.get("skipped") or {}).values()):
        info(args, f"{args.model}: {json.dumps(read)}")
    elif args.lenient and read is None:
        info(args, f"note: --lenient skips bad rows of files read row by row; {args.model} is a gensim file, "
                   "loaded whole, so it has no effect")
    sentences = read_corpus(args.corpus, encoding=args.encoding)
    common = dict(epochs=args.epochs, min_count=args.min_count, window=args.window, sg=int(args.sg),
                  seed=args.seed, workers=args.workers)
    if args.strategy == "warmstart":
        result = update_word_model(old, sentences, "warmstart", lockf=args.lockf, **common)
    else:
        result = update_word_model(old, sentences, "align", old_words=args.old_words, n_candidates=args.anchors,
                                   stable_fraction=args.stable_fraction, **common)
    write_word_vectors(result.embeddings, args.output, args.format, overwrite=args.overwrite)
    if args.save_model:
        Path(args.save_model).parent.mkdir(parents=True, exist_ok=True)
        result.model.save(args.save_model)
    i = result.info
    own = i.get("model_settings")
    if own:
        given = {"window": args.window, "sg": int(args.sg), "workers": args.workers}
        differ = [f"--{k} {given[k]}" if k != "sg" else ("--sg" if given[k] else "CBOW (no --sg)")
                  for k in ("window", "sg", "workers") if given[k] != own[k]]
        if differ:
            info(args, f"note: {args.model} is a trained gensim model, which goes on training with its own settings "
                       f"(window {own['window']}, {'skip-gram' if own['sg'] else 'CBOW'}, workers {own['workers']}): "
                       f"{', '.join(differ)} had no effect")
    info(args, f"{args.strategy}: {len(result.embeddings)} words ({i['n_new_words']} new, "
               f"{i.get('n_old_updated', 0)} old words updated, drift {i.get('drift')}) -> {args.output}")
    if args.report:
        old_emb = model_embeddings(old) if not hasattr(old, "keys") else old
        report = {"info": i, **compare_updates(old_emb, {args.strategy: result})}
        write_json_atomic(args.report, _jsonable(report), indent=2, sort_keys=False)
        info(args, f"report: {args.report}")
    return 0


def _strategy_options(args) -> None:
    """A note for options of the other strategy (they have no effect); then the defaults of the unset ones."""
    ignored = [f"{flag} {getattr(args, dest)}" for flag, (dest, strategy, _) in STRATEGY_OPTIONS.items()
               if strategy != args.strategy and getattr(args, dest) is not None]
    if ignored:
        other = "align" if args.strategy == "warmstart" else "warmstart"
        named = ", ".join(ignored[:-1]) + " and " + ignored[-1] if len(ignored) > 1 else ignored[0]
        info(args, f"note: {named} appl{'y' if len(ignored) > 1 else 'ies'} to --strategy {other}; with --strategy "
                   f"{args.strategy} {'they have' if len(ignored) > 1 else 'it has'} no effect")
    for dest, _, default in STRATEGY_OPTIONS.values():
        if getattr(args, dest) is None:
            setattr(args, dest, default)


def _jsonable(obj):
    """``json.dumps(default=str)`` in value form: anything JSON cannot hold becomes its text."""
    return json.loads(json.dumps(obj, default=str))
