"""``vecbridge data``: list, build and inspect the named data sets, encoders and the cache."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import VecbridgeError
from .options import add_command, add_overwrite, add_quiet, check_npy_keys_output, info, parse_params

EXAMPLE = """  vecbridge data list
  vecbridge data build bbc
  vecbridge data build word2vec --param corpus=austen --param dim=200 --param seed=3
  vecbridge data build word2vec -o bbc100.vec          # also write the vectors to a file (.vec .txt .bin .npy .kv ...)
  vecbridge data build sentences --param model=minilm-l6 --param n_unpaired=16000
  vecbridge data encoders
  vecbridge data cache
  vecbridge data clear word2vec --yes   # delete the cached word2vec models (asks without --yes)"""


def add_parser(sub) -> None:
    p = add_command(sub, "data", "List and build real data sets (cached in the user cache directory).", EXAMPLE, run)
    p.add_argument("action", choices=["list", "build", "encoders", "cache", "clear"],
                   help="list data sets | build NAME | list encoders | show cache entries | clear [NAME]")
    p.add_argument("name", nargs="?", help="data set to build (or 'sentences': BBC task encodings of one model); "
                                           "for clear: the cache folder (builder) to clear, default all")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="builder parameter (repeatable)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="build: also write the word vectors (data sets of kind words) to FILE, in the format its "
                        "extension names: .vec/.txt word2vec text, .bin word2vec binary, .npy (+ <stem>.keys.txt), "
                        ".npz, .parquet, .kv gensim KeyedVectors")
    add_overwrite(p, "FILE (-o)")
    p.add_argument("--yes", "-y", action="store_true",
                   help="clear: delete without asking (needed when not run from a terminal)")
    add_quiet(p)


def _summary(obj) -> str:
    n = len(obj) if hasattr(obj, "__len__") else "?"
    dim = getattr(obj, "dim", None)
    return f"{type(obj).__name__} n={n}" + (f" dim={dim}" if dim is not None else "")


def run(args) -> int:
    from .. import datasets
    from ..cache import cache_root, list_entries
    from ..errors import ParameterError

    if args.action in ("list", "encoders", "cache") and (args.name or args.param):
        extra = " ".join([*([args.name] if args.name else []), *(f"--param {p}" for p in args.param or [])])
        raise ParameterError(f"data {args.action} takes no NAME or --param (got {extra})")
    if args.action != "build" and args.output is not None:
        raise ParameterError(f"-o/--output is for 'data build NAME' only (got data {args.action} -o {args.output})")
    if args.action == "build" and not args.name:
        raise ParameterError("data build needs a NAME (see 'vecbridge data list')")
    if args.action == "build":
        check_build_name(args.name)
    if args.action == "list":
        for d in datasets.list_datasets():
            apt = " [apt-get]" if d.needs_apt else ""
            print(f"{d.name:18s} {d.kind:10s} {d.size:34s} {d.licence}{apt}\n{'':30s}{d.description}; from {d.source}")
        print("\nsentence tasks: 'sentences' (BBC halves + test; params model, n_unpaired, n_test, seed)")
        print(f"word tasks: {', '.join(datasets.WORD_TASKS)}")
        return 0
    if args.action == "encoders":
        from ..encoders import list_encoders

        for e in list_encoders():
            print(f"{e.name:18s} {e.dim:4d}-d  {e.model}  [{e.package}; {e.licence}]")
        print("st:/path/to/folder  any local sentence-transformers folder")
        return 0
    if args.action == "cache":
        print(cache_root())
        for e in list_entries():
            what = (f"damaged (its metadata was edited): rebuilt on next use; 'vecbridge data clear {e['builder']}' "
                    "removes it") if e.get("damaged") else json.dumps(e.get("params"))[:100]
            size = e["size"] / 1e6 if isinstance(e.get("size"), (int, float)) else float("nan")
            print(f"  {e['builder']:15s} {size:8.1f} MB  {e['file']}  {what}")
        return 0
    if args.action == "clear":
        return clear_cache(args)
    params = parse_params(args.param)
    check_unknown_params(args.name, params, args.param)
    check_build_params(args.name, params)
    if args.output is not None:
        check_export(args.name, args.output, args.overwrite)  # before any work
    t0 = time.perf_counter()
    if args.name == "sentences":
        model = params.pop("model", None)
        if not model:
            raise VecbridgeError("data build sentences needs --param model=NAME")
        out = datasets.prepare_sentence_encodings(model, progress=False if args.quiet else None, **params)
        summary = f"BBC encodings by {model}: {out}"
    elif args.name in datasets.WORD_TASKS:
        src, tgt, train, test = datasets.word_task(args.name, **params)
        summary = f"word task {args.name}: {src!r} -> {tgt!r}, {len(train)} train / {len(test)} test words"
    else:
        from ..cache import recording_reads

        with recording_reads() as read:
            obj = datasets.load(args.name, **params)
        summary = f"{args.name}: {_summary(obj)}"
    info(args, f"{summary} ({time.perf_counter() - t0:.1f} s; cache {cache_root()})")
    if args.name in datasets.REGISTRY:
        own = [path for builder, path in read if builder == args.name]
        others = list(dict.fromkeys(path for builder, path in read if builder != args.name))
        if own:
            info(args, f"cached file: {own[-1]}")
        elif others:
            info(args, f"not cached itself: built on each load from the cached files {', '.join(others)}")
        else:
            info(args, "not cached: read from its package on each load")
    if args.output is not None:
        from ..apps.wordfiles import write_word_vectors

        path = write_word_vectors(obj, args.output, overwrite=args.overwrite)
        info(args, f"wrote {path} ({len(obj)} words x {obj.dim}-d)")
    return 0


def known_names() -> str:
    from .. import datasets

    return (f"data sets {', '.join(datasets.REGISTRY)}; word tasks {', '.join(datasets.WORD_TASKS)}; "
            "and 'sentences' (see 'vecbridge data list')")


def check_build_name(name: str) -> None:
    """An unknown NAME is a usage error (exit 2) listing the names ``data build`` knows."""
    from .. import datasets
    from ..datasets.registry import DataParameterError

    if name != "sentences" and name not in datasets.WORD_TASKS and name not in datasets.REGISTRY:
        raise DataParameterError(f"unknown data set {name!r}; data build takes one of: {known_names()}")


def check_unknown_params(name: str, params: dict, items: list[str] | None) -> None:
    """A ``--param`` a registry data set does not take: a usage error showing it as typed, with the names it
    takes (and the closest one)."""
    import difflib

    from .. import datasets
    from ..datasets.registry import DataParameterError

    if name not in datasets.REGISTRY:
        return  # word tasks and sentences: their functions say what they take
    takes = sorted(datasets.REGISTRY[name].params)
    typed = {item.partition("=")[0].strip(): item for item in items or []}
    unknown = [k for k in params if k not in takes]
    if not unknown:
        return
    shown = " ".join(f"--param {typed.get(k, k)}" for k in unknown)
    close = [f"--param {m[0]}={typed[k].partition('=')[2] if k in typed else json.dumps(params[k])}"
             for k in unknown if (m := difflib.get_close_matches(k, takes, n=1))]
    raise DataParameterError(f"{shown}: data set {name!r} takes the parameters {', '.join(takes) or 'none'}; "
                             f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among them"
                             + (f" (did you mean {' '.join(close)}?)" if close else ""))


def check_export(name: str, output: str, overwrite: bool) -> None:
    """``-o FILE`` before any build: a data set of word vectors, a file name whose extension names a format, and
    no existing file unless ``--overwrite`` (as every command's outputs), nor, for an ``.npy``, an existing keys
    file where it writes its keys (``<stem>.keys.txt`` beside it)."""
    from .. import datasets
    from ..apps.wordfiles import GENSIM_KV_SUFFIXES
    from ..atomic import check_writable
    from ..errors import ParameterError
    from ..io.detect import format_from_extension

    words = [d.name for d in datasets.list_datasets() if d.kind == "words"]
    if name not in words:
        what = (f"a data set of kind {datasets.REGISTRY[name].kind}" if name in datasets.REGISTRY
                else "a word task (two spaces and a split)" if name in datasets.WORD_TASKS else "sentence encodings")
        raise ParameterError(f"-o {output}: writes word vectors, and {name!r} is {what}; -o takes the data sets of "
                             f"word vectors: {', '.join(words)}")
    if Path(output).suffix.lower() not in GENSIM_KV_SUFFIXES and format_from_extension(output) is None:
        raise ParameterError(f"-o {output}: cannot tell the format from the file name; end it in .vec or .txt "
                             "(word2vec text), .bin (word2vec binary), .npy, .npz, .parquet or .kv (gensim)")
    check_writable(output, overwrite)
    if format_from_extension(output) == "npy":  # and the keys file written beside it
        check_npy_keys_output(output, overwrite)


#: builder parameters that count things: a value below 1 can never work
_COUNTS = {"dim", "n", "n_unpaired", "n_test", "n_train", "limit", "epochs", "window", "min_count", "min_words",
           "max_words", "batch_size"}


def _defaults_of(name: str) -> dict:
    import inspect

    from .. import datasets

    if name == "sentences":
        fn = datasets.prepare_sentence_encodings
    elif name in datasets.WORD_TASKS:
        fn = datasets.word_task
    else:
        try:
            return dict(datasets.dataset_info(name).params)
        except VecbridgeError:
            return {}  # an unknown data set: load() says so
        except Exception:  # noqa: BLE001 - a registry problem is load()'s to report
            return {}
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}


def check_build_params(name: str, params: dict) -> None:
    """Refuse a ``--param`` whose value cannot be of the builder's type (its default's), by the flag's name. A
    list-typed parameter takes ``a,b`` (or one name, or a JSON list) and is put in ``params`` as a list."""
    from ..errors import ParameterError

    defaults = _defaults_of(name)
    for key, value in params.items():
        if key not in defaults:
            continue  # unknown keys: the builder lists what it takes
        default = defaults[key]
        shown = f"--param {key}={json.dumps(value)}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ParameterError(f"{shown}: {key} must be true or false")
        elif isinstance(default, int) or (default is None and key in _COUNTS):
            if value is None and default is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(f"{shown}: {key} must be an integer")
            if value < (1 if key in _COUNTS else 0):
                raise ParameterError(f"{shown}: {key} must be {'a positive' if key in _COUNTS else 'a non-negative'} "
                                     "integer")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"{shown}: {key} must be a number")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ParameterError(f"{shown}: {key} must be text (quote it if it looks like a number)")
        elif isinstance(default, (list, tuple)):
            params[key] = _list_param(key, value, default)


def _list_param(key: str, value, default) -> list:
    """A list-typed ``--param``: a JSON list, or words separated by commas (``en`` or ``en,pt``)."""
    from ..errors import ParameterError

    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise ParameterError(f"--param {key}={json.dumps(value)}: {key} is a list; give it as {key}=a,b or as a "
                             f"JSON list such as {key}='{json.dumps(list(default))}'")
    if all(isinstance(v, str) for v in default):
        if not value or not all(isinstance(v, str) and v for v in value):
            raise ParameterError(f"--param {key}={json.dumps(value)}: {key} is a list of names, such as "
                                 f"{key}={','.join(default)}")
    return value


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def clear_cache(args) -> int:
    """List what ``data clear`` deletes (vecbridge's entries only) and what it leaves; ask unless ``--yes``."""
    from ..cache import clear, plan_clear

    plan = plan_clear(args.name)
    where = plan.root / args.name if args.name else plan.root
    for e in plan.entries:
        print(f"  delete  {e['builder']:15s} {_mb(e['size']):>9s}  {e['paths'][0].name}  {e['what']}", file=sys.stderr)
    for p in plan.unknown:
        print(f"  keep    {p}  (not written by vecbridge: left alone)", file=sys.stderr)
    if not plan.entries:
        info(args, f"nothing of vecbridge's to delete under {where}")
        return 0
    question = f"delete these {len(plan.entries)} cache entries ({_mb(plan.size)}) under {where}?"
    if not args.yes:
        if not sys.stdin.isatty():
            raise VecbridgeError(f"{question[:-1]}: refusing without confirmation, as standard input is not a "
                                 "terminal; pass --yes to delete them")
        print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            info(args, "nothing deleted")
            return 0
    n = clear(args.name, plan=plan)
    info(args, f"removed {len(plan.entries)} cache entries ({n} paths, {_mb(plan.size)}) under {where}"
               + (f"; left {len(plan.unknown)} unknown paths alone" if plan.unknown else ""))
    return 0
