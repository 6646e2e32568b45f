"""``vecbridge data``: list, build and inspect the named data sets, encoders and the cache."""

from __future__ import annotations

import json
import time

from ..errors import VecbridgeError
from .options import add_command, info, parse_params

EXAMPLE = """  vecbridge data list
  vecbridge data build bbc
  vecbridge data build word2vec --param corpus=austen --param dim=200 --param seed=3
  vecbridge data build sentences --param model=minilm-l6 --param n_unpaired=16000
  vecbridge data encoders
  vecbridge data cache"""


def add_parser(sub) -> None:
    p = add_command(sub, "data", "List and build real data sets (cached in the user cache directory).", EXAMPLE, run)
    p.add_argument("action", choices=["list", "build", "encoders", "cache", "clear"],
                   help="list data sets | build NAME | list encoders | show cache entries | clear [NAME]")
    p.add_argument("name", nargs="?", help="data set to build (or 'sentences': BBC task encodings of one model)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="builder parameter (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summaries")


def _summary(obj) -> str:
    n = len(obj) if hasattr(obj, "__len__") else "?"
    dim = getattr(obj, "dim", None)
    return f"{type(obj).__name__} n={n}" + (f" dim={dim}" if dim is not None else "")


def run(args) -> int:
    from .. import datasets
    from ..cache import cache_root, clear, list_entries

    if args.action == "list":
        for d in datasets.list_datasets():
            apt = " [apt-get]" if d.needs_apt else ""
            print(f"{d.name:18s} {d.kind:10s} {d.size:34s} {d.licence}{apt}\n{'':30s}{d.description}; from {d.source}")
        print(f"\nsentence tasks: 'sentences' (BBC halves + test; params model, n_unpaired, n_test, seed)")
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
            print(f"  {e['builder']:15s} {e['size'] / 1e6:8.1f} MB  {e['file']}  {json.dumps(e.get('params'))[:100]}")
        return 0
    if args.action == "clear":
        n = clear(args.name)
        info(args, f"removed {n} cache paths under {cache_root()}" + (f"/{args.name}" if args.name else ""))
        return 0
    if not args.name:
        raise VecbridgeError("data build needs a NAME (see 'vecbridge data list')")
    params = parse_params(args.param)
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
        summary = f"{args.name}: {_summary(datasets.load(args.name, **params))}"
    info(args, f"{summary} ({time.perf_counter() - t0:.1f} s; cache {cache_root()})")
    return 0
