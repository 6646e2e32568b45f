"""``vecbridge evaluate``: score a saved map on held-out data."""

from __future__ import annotations

import json

from ..dictionary import read_dictionary
from ..errors import VecbridgeError
from ..translators import load_translator
from .options import add_command, add_read_options, read_input

EXAMPLE = """  vecbridge evaluate glove2w2v glove.txt w2v.bin --dictionary test.tsv --retrieval csls --json
  vecbridge evaluate a2b a_test.npy b_test.npy --paired --json"""


def add_parser(sub) -> None:
    p = add_command(sub, "evaluate", "Evaluate a saved map on held-out pairs.", EXAMPLE, run)
    p.add_argument("map", metavar="MAP_DIR")
    p.add_argument("src", metavar="SRC", help="source vectors (the whole vocabulary searched from)")
    p.add_argument("tgt", metavar="TGT", help="target vectors (the whole vocabulary searched in)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--dictionary", metavar="TEST.tsv", help="held-out source_key<TAB>target_key pairs: P@k")
    how.add_argument("--paired", action="store_true", help="row i of SRC matches row i of TGT: top-1, rank, cosine")
    how.add_argument("--shared-keys", action="store_true", help="hit rate of same-vocabulary mapping on shared keys")
    p.add_argument("--retrieval", default="nn", choices=["nn", "csls", "isf"], help="neighbour retrieval rule")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    add_read_options(p, "src", "tgt")


def run(args) -> int:
    from ..evaluation import evaluate_translator

    translator = load_translator(args.map)
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    if args.paired and len(src) != len(tgt):
        raise VecbridgeError(f"--paired needs as many rows in SRC ({len(src)}) as in TGT ({len(tgt)})")
    pairs = read_dictionary(args.dictionary) if args.dictionary else None
    result = evaluate_translator(
        translator, src, tgt, pairs=pairs, paired=args.paired, retrieval=args.retrieval,
        progress=False if args.quiet else None,
    )
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(k) for k in result)
        for k, v in result.items():
            print(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return 0
