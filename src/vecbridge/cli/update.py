"""``vecbridge update``: update a word model with new text (warm start or alignment)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..apps.update import MAX_WINDOW, MAX_WORKERS
from .options import (
    add_command,
    add_overwrite,
    add_quiet,
    add_seed,
    check_npy_keys_output,
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
#: training options whose default (None in the parser) is filled in after run has seen whether they were given
TRAINING_DEFAULTS = {"window": 5, "workers": 1, "seed": 0}


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
    p.add_argument("--window", type=int_range(1, MAX_WINDOW), default=None,
                   help=f"context window (words each side, 1 to {MAX_WINDOW}; default {TRAINING_DEFAULTS['window']})")
    p.add_argument("--sg", action="store_true", help="skip-gram (default CBOW)")
    add_seed(p, TRAINING_DEFAULTS["seed"], what="training (a gensim .model given to warmstart keeps its own)")
    p.add_argument("--workers", type=int_range(1, MAX_WORKERS), default=None,
                   help=f"training threads (1 = reproducible, the default; at most {MAX_WORKERS})")
    p.set_defaults(seed=None)  # None: not given (a trained gensim model keeps its own); filled in by run
    p.add_argument("--report", metavar="REPORT.json",
                   help="write drift, neighbours of new words and structure scores (old vs updated) as JSON")
    p.add_argument("--save-model", metavar="PATH.model", help="also save the trained gensim model")
    p.add_argument("--model-format", default=None, help="format of MODEL (default: from its name or content)")
    p.add_argument("--encoding", type=encoding_name, default=None,
                   help="text encoding of CORPUS and of MODEL's keys (default: UTF-8; a byte of a corpus file that "
                        "is not UTF-8 is read as Latin-1, with a warning naming the file and line)")
    p.add_argument("--lenient", action="store_true",
                   help="skip bad rows of MODEL (ragged, non-numeric, NaN/Inf, duplicate keys), counting and "
                        "reporting them, instead of failing")
    add_overwrite(p, "existing output files")
    add_quiet(p)


def run(args) -> int:
    from ..apps.update import (
        check_anchor_settings,
        compare_updates,
        model_embeddings,
        read_corpus,
        update_word_model,
    )
    from ..apps.wordfiles import read_word_model, write_word_vectors

    given = _training_options(args)
    written = _check_outputs(args)  # before any work
    _strategy_options(args)
    enc = {"encoding": args.encoding} if args.encoding else {}
    old = read_word_model(args.model, args.model_format, keep_model=args.strategy == "warmstart",
                          on_error="skip" if args.lenient else "raise", progress=False if args.quiet else None, **enc)
    read = (getattr(old, "meta", None) or {}).get("read_report")  # None: a gensim file
    if read and any(int(v) for v in (read.get("skipped") or {}).values()):
        info(args, f"{args.model}: {json.dumps(read)}")
    elif args.lenient and read is None:
        info(args, f"note: --lenient skips bad rows of vector files; {args.model} is a gensim model, loaded whole, "
                   "so it has no effect")
    if args.strategy == "align" and getattr(old, "dim", None):
        check_anchor_settings(old.dim, args.anchors, args.stable_fraction)  # before reading the corpus and training
    sentences = read_corpus(args.corpus, encoding=args.encoding)
    common = dict(epochs=args.epochs, min_count=args.min_count, window=args.window, sg=int(args.sg),
                  seed=args.seed, workers=args.workers)
    if args.strategy == "warmstart":
        result = update_word_model(old, sentences, "warmstart", lockf=args.lockf, **common)
    else:
        result = update_word_model(old, sentences, "align", old_words=args.old_words, n_candidates=args.anchors,
                                   stable_fraction=args.stable_fraction, **common)
    i = result.info
    _own_settings_note(args, given, i.get("model_settings"))
    report = None
    if args.report:  # computed before anything is written: a failure here leaves no output behind
        old_emb = model_embeddings(old) if not hasattr(old, "keys") else old
        report = _jsonable({"info": i, **compare_updates(old_emb, {args.strategy: result})})
    with _no_partial_outputs(written):
        write_word_vectors(result.embeddings, args.output, args.format, overwrite=args.overwrite)
        if args.save_model:
            Path(args.save_model).parent.mkdir(parents=True, exist_ok=True)
            result.model.save(args.save_model)
        if report is not None:
            from ..atomic import write_json_atomic

            write_json_atomic(args.report, report, indent=2, sort_keys=False)
    drift = i.get("drift")
    changed = (f"{i.get('n_old_updated', 0)} old words changed, drift {drift:.5f} (their mean cosine to the old "
               "vectors)" if drift is not None else "no old vector changed")
    info(args, f"{args.strategy}: {len(result.embeddings)} words ({i['n_new_words']} new; {changed}; "
               f"{i.get('n_old_unchanged', 0)} old words unchanged) -> {args.output}")
    if args.report:
        info(args, f"report: {args.report}")
    return 0


def _training_options(args) -> set[str]:
    """The training options the user gave (``--window``, ``--workers``, ``--seed``, ``--sg``); the others get
    their defaults."""
    given = {k for k in TRAINING_DEFAULTS if getattr(args, k) is not None} | ({"sg"} if args.sg else set())
    for k, default in TRAINING_DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, default)
    return given


def _own_settings_note(args, given: set[str], own: dict | None) -> None:
    """A trained gensim model goes on with its own settings: a note for each option the user gave that differs."""
    if not own:
        return
    differ = [("--sg" if k == "sg" else f"--{k} {getattr(args, k)}") for k in ("window", "sg", "workers", "seed")
              if k in given and int(getattr(args, k)) != own.get(k)]
    if differ:
        info(args, f"note: {args.model} is a trained gensim model, which goes on training with its own settings "
                   f"(window {own['window']}, {'skip-gram' if own['sg'] else 'CBOW'}, workers {own['workers']}, "
                   f"seed {own.get('seed')}): {', '.join(differ)} had no effect")


def _check_outputs(args) -> list[Path]:
    """Check every output before any work: not an input, not existing (without ``--overwrite``), a known
    format (``--format`` or the name of ``-o``), the keys file an ``.npy`` writes beside it, and folders that
    can be created. Returns the paths the command may write (for the clean-up after a failure)."""
    from ..apps.wordfiles import GENSIM_KV_SUFFIXES
    from ..atomic import check_writable
    from ..errors import FormatError, ParameterError, VecbridgeError
    from ..io.detect import FORMATS, canonical_format, format_from_extension

    flags = {"-o": args.output, "--report": args.report, "--save-model": args.save_model}
    outs = {flag: p for flag, p in flags.items() if p}
    for flag, p in outs.items():
        check_output(p, args.model, args.corpus, what=flag)
        check_writable(p, args.overwrite)
        _check_folder(flag, p)
    if len({Path(p).resolve() for p in outs.values()}) < len(outs):
        raise VecbridgeError("-o, --report and --save-model must name three different files")
    if args.format is not None:
        if args.format.strip().lower() in ("gensim", "kv"):
            fmt = "gensim"
        else:
            try:
                fmt = canonical_format(args.format)
            except FormatError:
                raise ParameterError(f"--format {args.format}: unknown format; choose one of {', '.join(FORMATS)}, "
                                     "gensim") from None
    elif Path(args.output).suffix.lower() in GENSIM_KV_SUFFIXES:
        fmt = "gensim"
    else:
        fmt = format_from_extension(args.output)
        if fmt is None:
            raise ParameterError(f"-o {args.output}: cannot tell the format from the file name; end it in .vec or "
                                 ".txt (word2vec text), .bin (word2vec binary), .npy, .npz, .parquet or .kv (gensim), "
                                 "or name it with --format")
    written = [Path(p) for p in outs.values()]
    if fmt == "npy":  # and the keys file written beside it
        written.append(check_npy_keys_output(args.output, args.overwrite, f"-o {args.output}"))
    return written


def _check_folder(flag: str, path: str) -> None:
    """The folder of an output exists or can be created: its nearest existing ancestor is a writable folder."""
    from ..errors import VecbridgeError

    parent = Path(path).absolute().parent
    missing = []
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise VecbridgeError(f"{flag} {path}: cannot create the folder {missing[-1] if missing else parent}, "
                             f"since {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VecbridgeError(f"{flag} {path}: the folder {parent} is not writable")


@contextlib.contextmanager
def _no_partial_outputs(paths: list[Path]) -> Iterator[None]:
    """On a failure inside the block, remove what the block wrote: the files beside ``paths`` (a gensim save
    adds ``<name>.*.npy``) and the folders it created, keeping everything that was there before."""
    before = {p: set(_written_beside(p)) for p in paths}
    folders = []
    for p in paths:
        d = p.absolute().parent
        while not d.exists() and d != d.parent:
            folders.append(d)
            d = d.parent
    try:
        yield
    except BaseException:
        for p, had in before.items():
            for f in _written_beside(p):
                if f not in had:
                    with contextlib.suppress(OSError):
                        f.unlink()
        for d in sorted(set(folders), key=lambda d: len(d.parts), reverse=True):  # deepest first, only when empty
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def _written_beside(path: Path) -> list[Path]:
    """``path`` and the files named ``<name>.*`` beside it (gensim's arrays saved apart, temporary files)."""
    folder = path.absolute().parent
    if not folder.is_dir():
        return []
    name = path.name
    return [f for f in folder.iterdir() if f.is_file() and (f.name == name or f.name.startswith(name + ".")
                                                            or f.name.startswith("." + name))]


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
