"""``vecbridge update``: update a word model with new text (warm start or alignment)."""

from __future__ import annotations

import json

from .options import add_command, info

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
    p.add_argument("--lockf", type=float, default=0.0, help="warmstart: lock factor of old words, 0 fixed .. 1 free")
    p.add_argument("--old-words", default="keep", choices=["keep", "replace"],
                   help="align: old words keep their old vectors (keep) or take aligned new ones (replace)")
    p.add_argument("--anchors", type=int, default=2000, help="align: anchor candidates (frequent in both)")
    p.add_argument("--stable-fraction", type=float, default=0.5, help="align: share of candidates kept as anchors")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--min-count", type=int, default=3, help="minimum count of a word in the new corpus")
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--sg", action="store_true", help="skip-gram (default CBOW)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="training threads (1 = reproducible)")
    p.add_argument("--report", metavar="REPORT.json",
                   help="write drift, neighbours of new words and structure scores (old vs updated) as JSON")
    p.add_argument("--save-model", metavar="PATH.model", help="also save the trained gensim model")
    p.add_argument("--model-format", default=None, help="format of MODEL (default: from its name or content)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no summaries on stderr")


def run(args) -> int:
    from pathlib import Path

    from ..apps.update import compare_updates, read_corpus, update_word_model
    from ..apps.wordfiles import read_word_model, write_word_vectors
    from ..errors import VecbridgeError

    outs = [Path(p) for p in (args.output, args.report, args.save_model) if p]
    if not args.overwrite:
        for p in outs:
            if p.exists():
                raise VecbridgeError(f"{p} already exists; refusing to overwrite it (pass --overwrite)")
    old = read_word_model(args.model, args.model_format, keep_model=args.strategy == "warmstart")
    sentences = read_corpus(args.corpus)
    common = dict(epochs=args.epochs, min_count=args.min_count, window=args.window, sg=int(args.sg),
                  seed=args.seed, workers=args.workers)
    if args.strategy == "warmstart":
        result = update_word_model(old, sentences, "warmstart", lockf=args.lockf, **common)
    else:
        result = update_word_model(old, sentences, "align", old_words=args.old_words, n_candidates=args.anchors,
                                   stable_fraction=args.stable_fraction, **common)
    write_word_vectors(result.embeddings, args.output, args.format, overwrite=args.overwrite)
    if args.save_model:
        result.model.save(args.save_model)
    i = result.info
    info(args, f"{args.strategy}: {len(result.embeddings)} words ({i['n_new_words']} new, "
               f"{i.get('n_old_updated', 0)} old words updated, drift {i.get('drift')}) -> {args.output}")
    if args.report:
        from ..apps.update import _model_embeddings

        old_emb = _model_embeddings(old) if not hasattr(old, "keys") else old
        report = {"info": i, **compare_updates(old_emb, {args.strategy: result})}
        tmp = Path(args.report)
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        info(args, f"report: {args.report}")
    return 0
