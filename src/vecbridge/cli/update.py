"""``vecbridge update``: update a word model with new text (warm start or alignment)."""

from __future__ import annotations

from .options import (
    add_command,
    add_overwrite,
    add_quiet,
    add_seed,
    check_output,
    encoding_name,
    fraction_upper,
    info,
    positive_int,
    unit_interval,
)

EXAMPLE = """  vecbridge update old.kv new_texts.txt --strategy warmstart -o new.kv --lockf 0
  vecbridge update old.vec corpus_dir/ --strategy align -o new.vec --report update.json
  vecbridge update old.model new.txt --strategy warmstart --lockf 0.5 -o new.kv --save-model new.model"""


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
    p.add_argument("--lockf", type=unit_interval, default=0.0, help="warmstart: lock factor of old words, 0 fixed .. 1 free")
    p.add_argument("--old-words", default="keep", choices=["keep", "replace"],
                   help="align: old words keep their old vectors (keep) or take aligned new ones (replace)")
    p.add_argument("--anchors", type=positive_int, default=2000, help="align: anchor candidates (frequent in both)")
    p.add_argument("--stable-fraction", type=fraction_upper, default=0.5, help="align: share of candidates kept as anchors")
    p.add_argument("--epochs", type=positive_int, default=5, help="training passes over the new corpus")
    p.add_argument("--min-count", type=positive_int, default=3, help="minimum count of a word in the new corpus")
    p.add_argument("--window", type=positive_int, default=5, help="context window (words each side)")
    p.add_argument("--sg", action="store_true", help="skip-gram (default CBOW)")
    add_seed(p, 0)
    p.add_argument("--workers", type=positive_int, default=1, help="training threads (1 = reproducible)")
    p.add_argument("--report", metavar="REPORT.json",
                   help="write drift, neighbours of new words and structure scores (old vs updated) as JSON")
    p.add_argument("--save-model", metavar="PATH.model", help="also save the trained gensim model")
    p.add_argument("--model-format", default=None, help="format of MODEL (default: from its name or content)")
    p.add_argument("--encoding", type=encoding_name, default=None,
                   help="text encoding of CORPUS and of MODEL's keys (default: UTF-8; a corpus file that is not "
                        "UTF-8 is read as Latin-1)")
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
    enc = {"encoding": args.encoding} if args.encoding else {}
    old = read_word_model(args.model, args.model_format, keep_model=args.strategy == "warmstart", **enc)
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
    info(args, f"{args.strategy}: {len(result.embeddings)} words ({i['n_new_words']} new, "
               f"{i.get('n_old_updated', 0)} old words updated, drift {i.get('drift')}) -> {args.output}")
    if args.report:
        old_emb = model_embeddings(old) if not hasattr(old, "keys") else old
        report = {"info": i, **compare_updates(old_emb, {args.strategy: result})}
        write_json_atomic(args.report, _jsonable(report), indent=2, sort_keys=False)
        info(args, f"report: {args.report}")
    return 0


def _jsonable(obj):
    """``json.dumps(default=str)`` in value form: anything JSON cannot hold becomes its text."""
    import json

    return json.loads(json.dumps(obj, default=str))
