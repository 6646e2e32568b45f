"""``vecbridge evaluate``: score a saved map on held-out data."""

from __future__ import annotations

import json
import sys

from ..dictionary import read_dictionary
from ..errors import VecbridgeError
from .options import (
    PAIRS_FILE_HELP,
    add_command,
    add_read_options,
    add_strict_option,
    check_space,
    read_input,
    require_keys,
)

EXAMPLE = """  vecbridge evaluate glove2w2v glove.txt w2v.bin --dictionary test.tsv --retrieval csls --json
  vecbridge evaluate a2b a_test.npy b_test.npy --paired --json"""


def add_parser(sub) -> None:
    p = add_command(sub, "evaluate", "Evaluate a saved map on held-out pairs.", EXAMPLE, run)
    p.add_argument("map", metavar="MAP_DIR", help="a map folder, or a hub folder (with --from / --to)")
    p.add_argument("--from", dest="from_space", default=None, metavar="SPACE", help="a hub's space of SRC")
    p.add_argument("--to", dest="to_space", default=None, metavar="SPACE", help="a hub's space of TGT")
    p.add_argument("src", metavar="SRC", help="source vectors (the whole vocabulary searched from)")
    p.add_argument("tgt", metavar="TGT", help="target vectors (the whole vocabulary searched in)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--dictionary", metavar="TEST.tsv",
                     help=f"held-out source_key<TAB>target_key pairs: P@k ({PAIRS_FILE_HELP})")
    how.add_argument("--paired", action="store_true", help="row i of SRC matches row i of TGT: top-1, rank, cosine")
    how.add_argument("--shared-keys", action="store_true", help="hit rate of same-vocabulary mapping on shared keys")
    p.add_argument("--retrieval", default="nn", choices=["nn", "csls", "isf"], help="neighbour retrieval rule")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    add_read_options(p, "src", "tgt")
    add_strict_option(p)


def run(args) -> int:
    from ..evaluation import evaluate_translator, fitted_without_pairs, method_label

    from ..hub import load_map

    translator = load_map(args.map, args.from_space, args.to_space)  # a map folder, or a hub with --from / --to
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    if args.paired and len(src) != len(tgt):
        raise VecbridgeError(f"--paired needs as many rows in SRC ({len(src)}) as in TGT ({len(tgt)})")
    check_space(args, translator, src.vectors, "source", f"SRC ({args.src})")
    check_space(args, translator, tgt.vectors, "target", f"TGT ({args.tgt})")
    pairs = (read_dictionary(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
             if args.dictionary else None)
    if args.shared_keys:
        require_keys("--shared-keys", args, src, tgt)
        if not any(k in tgt.index for k in src.keys):
            raise VecbridgeError(f"--shared-keys: SRC ({args.src}) and TGT ({args.tgt}) share no key, so there is "
                                 "nothing to score; give the test pairs with --dictionary")
    result = evaluate_translator(
        translator, src, tgt, pairs=pairs, paired=args.paired, retrieval=args.retrieval,
        progress=False if args.quiet else None,
    )
    if result.get("n_covered") == 0:
        what = f"--dictionary {args.dictionary}" if args.dictionary else "--shared-keys"
        raise VecbridgeError(f"{what}: no test pair has its source word in SRC and its target word in TGT "
                             f"({result.get('n_missing_source')} source and {result.get('n_missing_target')} target "
                             "words missing), so there is nothing to score")
    counter = getattr(translator, "count_trained_pairs", None)
    if counter is not None:
        if pairs is not None:
            seen = counter(pairs=pairs)
        elif args.paired:
            # a fit on paired files hashed their row keys (files), a fit on arrays their rows: count both ways
            both = (counter(X=src.vectors), counter(pairs=list(zip(src.keys, tgt.keys))))
            counts = [c for c in both if c is not None]
            seen = max(counts) if counts else None
        else:
            seen = counter(pairs=[(k, k) for k in src.keys if k in tgt.index])
        if seen is None and fitted_without_pairs(translator):
            seen = 0  # a map fitted on no pairs keeps no record of them, and none of the test pairs can be one
        result["test_pairs_seen_in_training"] = seen  # None only where the map kept no record of its pairs
        if seen:
            print(f"vecbridge evaluate: warning: {seen} of the test pairs were training pairs of this map; the "
                  "figures are not held-out (evaluate on pairs the fit did not see)", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        # the method that made the figures: "procrustes (chosen by auto)" for an auto map (JSON: method and
        # chosen_method apart)
        result["method"] = method_label(translator)
        result.pop("chosen_method", None)
        width = max(len(k) for k in result)
        for k, v in result.items():
            print(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return 0
