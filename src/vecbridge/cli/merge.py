"""``vecbridge merge``: grow B's vocabulary with A's words, translated into B's space."""

from __future__ import annotations

import json
import sys

from ..dictionary import read_dictionary
from .options import (
    add_command,
    add_overwrite,
    add_quiet,
    add_seed,
    check_output,
    encoding_name,
    fraction_lower,
    info,
    parse_params,
    positive_int,
)

EXAMPLE = """  vecbridge merge w2v_news.vec glove.txt -o merged.vec
  vecbridge merge a.kv b.kv -o merged.kv --confidence csls --evaluate
  vecbridge merge a.bin b.bin -o merged.bin --dictionary a2b.tsv --method lstsq"""


def add_parser(sub) -> None:
    p = add_command(
        sub, "merge",
        "Merge model A into B's space: A-only words are translated and added, with provenance.",
        EXAMPLE, run,
    )
    p.add_argument("a", metavar="A", help="model whose extra words are brought over (any format, .kv, .model)")
    p.add_argument("b", metavar="B", help="model whose space and vectors the merged model keeps")
    p.add_argument("-o", "--output", required=True, metavar="MERGED",
                   help="merged model; format from the name (.vec/.txt text, .bin binary, .kv gensim, .npy, ...)")
    p.add_argument("--format", default=None, help="output format, overriding the file name (or 'gensim')")
    p.add_argument("--method", default="procrustes", help="translator (default procrustes; lstsq across dimensions)")
    p.add_argument("--normalize", default="unit center unit", help='normalisation before the map ("none" for raw)')
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="a translator hyper-parameter (repeatable)")
    p.add_argument("--dictionary", metavar="PAIRS.tsv", help="a_word<TAB>b_word pairs to fit on (default: shared words)")
    p.add_argument("--confidence", default="cosine", choices=["cosine", "csls"],
                   help="confidence of a translated word: cosine (or CSLS) to its nearest native B word")
    p.add_argument("--space", default="target", choices=["target", "normalized"],
                   help="target: B's vectors unchanged, translated ones de-normalised; normalized: the map's space")
    p.add_argument("--holdout", type=fraction_lower, default=0.1,
                   help="share of shared words held out to check reliability, in [0, 1)")
    add_seed(p, 0, "the held-out draw")
    p.add_argument("--evaluate", action="store_true",
                   help="score analogies, WordSim353, SimLex on native and translated words (needs gensim)")
    p.add_argument("--force", action="store_true",
                   help="fit even on fewer shared words than the method needs to be well-posed, and write the merge "
                        "even when held-out shared words say the map is not aligned (otherwise exit 3)")
    add_overwrite(p, "existing output files")
    p.add_argument("--a-format", default=None, help="format of A (default: detected)")
    p.add_argument("--b-format", default=None, help="format of B (default: detected)")
    p.add_argument("--encoding", type=encoding_name, default=None,
                   help="text encoding of the keys of A and B (default utf-8), e.g. latin-1")
    p.add_argument("--limit", type=positive_int, default=None, help="read only the first N words of each model")
    add_quiet(p)


def run(args) -> int:
    from ..apps.merge import evaluate_merged, merge_embeddings, merge_output_paths, write_merged
    from ..apps.wordfiles import read_word_model
    from ..atomic import check_writable

    paths = merge_output_paths(args.output)
    params = parse_params(args.param)
    for p in paths.values():  # fail before any work
        check_output(p, args.a, args.b, args.dictionary, what="output")
        check_writable(p, args.overwrite)
    progress = False if args.quiet else None
    enc = {"encoding": args.encoding} if args.encoding else {}
    a = read_word_model(args.a, args.a_format, limit=args.limit, progress=progress, **enc)
    b = read_word_model(args.b, args.b_format, limit=args.limit, progress=progress, **enc)
    normalize = None if str(args.normalize).lower() == "none" else args.normalize
    pairs = (read_dictionary(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
             if args.dictionary else None)
    result = merge_embeddings(a, b, method=args.method, normalize=normalize, pairs=pairs,
                              params=params, confidence=args.confidence, space=args.space,
                              holdout=args.holdout, seed=args.seed, force=args.force,
                              progress=progress)
    verdict = result.info.get("holdout", {}).get("verdict")
    if verdict is None:
        held = result.info.get("holdout", {}).get("n_test_pairs", 0)
        print(f"vecbridge merge: warning: no verdict on the map: {held} held-out shared words (--holdout "
              f"{args.holdout}), at least 10 are needed; check the merge before trusting it", file=sys.stderr)
    if verdict == "not aligned":
        from .fit import EXIT_NOT_ALIGNED, refused_as_not_aligned

        problem = ("the map from A to B did not align on the held-out shared words: "
                   + result.info["holdout"]["verdict_reason"])
        if refused_as_not_aligned("vecbridge merge", problem, args.force, anyway="Writing the merge anyway",
                                  nothing="Nothing written", act="write it"):
            return EXIT_NOT_ALIGNED
    evaluation = evaluate_merged(result) if args.evaluate else None
    written = write_merged(result, args.output, args.format, overwrite=args.overwrite, evaluation=evaluation)
    i = result.info
    info(args, f"merged {i['n_native']} native + {i['n_translated']} translated words "
               f"({args.method}, fitted on {result.translator.fit_info_['n_pairs']} pairs)")
    if "holdout" in i:
        h = i["holdout"]
        info(args, f"held-out check: {h['n_test_pairs']} shared words translated as if new, "
                   f"hit@1 {h['hit_at_1']:.3f} (nearest native word is the right one)")
    if evaluation is not None:
        for row in evaluation["rows"]:
            info(args, json.dumps(row))
    info(args, "wrote " + ", ".join(str(p) for p in written.values()))
    return 0
