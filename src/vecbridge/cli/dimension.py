"""``vecbridge dimension``: map a space into another dimension, scored against PCA of the source."""

from __future__ import annotations

import json
import sys

from .options import (
    add_command,
    add_overwrite,
    add_read_options,
    add_seed,
    check_output,
    fraction_open,
    info,
    read_input,
    require_keys,
)
from .merge import DEFAULT_NORMALIZE, map_options

EXAMPLE = """  vecbridge dimension w2v_300d.vec w2v_100d.vec -o w2v_300_to_100 --json
  vecbridge dimension minilm_words.npy glove.txt -o minilm_to_glove --method procrustes --retrieval csls"""


def add_parser(sub) -> None:
    p = add_command(
        sub, "dimension",
        "Map SRC into TGT's dimension on shared words; hit rate on held-out words and structure scores vs PCA.",
        EXAMPLE, run,
    )
    p.add_argument("src", metavar="SRC", help="the space to map (any supported format)")
    p.add_argument("tgt", metavar="TGT", help="a space of the wanted dimension sharing words with SRC")
    p.add_argument("-o", "--output", required=True, metavar="MAP_DIR", help="folder to write the fitted map to")
    p.add_argument("--method", default="lstsq", help="translator (default lstsq)")
    p.add_argument("--normalize", default=None,
                   help=f'normalisation before the map (default "{DEFAULT_NORMALIZE}" for a method that takes one; '
                        '"none" for raw)')
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="a translator hyper-parameter (repeatable)")
    p.add_argument("--test-fraction", type=fraction_open, default=0.2, help="share of shared words held out of the fit")
    p.add_argument("--retrieval", default="nn", choices=["nn", "csls"])
    p.add_argument("--no-structure", action="store_true", help="skip the analogy / WordSim353 / SimLex scores")
    add_seed(p, 0, "the held-out draw")
    p.add_argument("--json", action="store_true", help="print the result rows as one JSON object")
    p.add_argument("--force", action="store_true",
                   help="fit even on fewer shared words than the method needs to be well-posed, and save the map "
                        "even when held-out shared words say the map is not aligned (otherwise exit 3)")
    add_overwrite(p, "an existing map in MAP_DIR")
    add_read_options(p, "src", "tgt")


def run(args) -> int:
    from ..apps.dimension import change_dimension
    from ..translators.base import check_map_output

    check_output(args.output, args.src, args.tgt, what="MAP_DIR")
    check_map_output(args.output, args.overwrite)  # before any work
    normalize, params = map_options(args)
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    require_keys("dimension", args, src, tgt, paired_hint=False,
                 otherwise="the keys, one per line, in a keys file beside the array (<stem>.keys.txt)")
    result = change_dimension(
        src, tgt, method=args.method, normalize=normalize, params=params, test_fraction=args.test_fraction,
        retrieval=args.retrieval, structure_data={} if args.no_structure else None, seed=args.seed,
        force=args.force, progress=False if args.quiet else None,
    )
    from ..dictionary import identical_pairs
    from .fit import EXIT_NOT_ALIGNED, refused_as_not_aligned
    from .merge import method_label, verdict_line, verdict_summary

    translator = result.translator
    method, by_auto = method_label(translator)
    inner = getattr(translator, "chosen_", translator)  # auto: the method it chose, checked as fit checks it
    pairs = identical_pairs(src, tgt)
    v = inner.held_out_verdict(src, tgt, pairs=pairs, seed=args.seed or 0)
    measured_on = "held-out shared words"
    if v is None:
        why = _no_verdict_reason(inner, src, tgt, len(pairs))
        summary = verdict_summary(None, measured_on, 0, None, why)
        print(f"vecbridge dimension: warning: no verdict on the map: {why}; the map is saved without one, so check "
              "it before trusting it", file=sys.stderr)
    else:
        summary = verdict_summary(v, measured_on, v["n_eval"], v.get("n_train"))
        translator.fit_info_.update(verdict=v["verdict"], confidence=v["confidence"],
                                    verdict_reason=v["verdict_reason"])
        problem = f"the map did not align on {v['n_eval']:,} {measured_on}: {v['verdict_reason']}"
        if v["verdict"] == "not aligned" and refused_as_not_aligned("vecbridge dimension", problem, args.force):
            if args.json:  # the verdict the exit code follows, and no map saved
                print(json.dumps({"rows": result.rows, "info": result.info, "method": method,
                                  "chosen_by_auto": by_auto, "verdict": summary, "map": None}))
            return EXIT_NOT_ALIGNED
    path = translator.save(args.output, overwrite=args.overwrite)
    if args.json:
        print(json.dumps({"rows": result.rows, "info": result.info, "method": method, "chosen_by_auto": by_auto,
                          "verdict": summary, "map": str(path)}))
    else:
        for row in result.rows:
            print("  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        i = result.info
        print(f"hit@k: {i['n_test']:,} held-out shared words (of {i['n_shared']:,}; the map fitted on the other "
              f"{i['n_train']:,}), {i['retrieval']} retrieval among all {len(tgt):,} target words")
        print(verdict_line(method, by_auto, summary))
    info(args, f"map {src.dim}-d -> {tgt.dim}-d saved to {path}")
    return 0


def _no_verdict_reason(inner, src, tgt, n: int) -> str:
    """Why :meth:`~vecbridge.Translator.held_out_verdict` formed no verdict on ``n`` shared words (its rule: a
    fifth held out, at least 10 and at most 2,000, and enough left for a well-posed fit)."""
    held = max(10, min(2000, int(n * 0.2)))
    needed = max(2, inner.min_pairs(src.dim, tgt.dim))
    if n - held < needed:
        m = n
        while m - max(10, min(2000, int(m * 0.2))) < needed:
            m += 1
        return (f"SRC and TGT share {n:,} words, too few to hold {held:,} out (a fifth, at least 10) and still fit "
                f"{inner.method} on the rest, which needs {needed:,} ({src.dim}-d -> {tgt.dim}-d); inputs that "
                f"share at least {m:,} words get one")
    return (f"of the {held:,} shared words held out of {n:,}, fewer than 10 are distinct words on both sides "
            "(each source and each target row is used once)")
