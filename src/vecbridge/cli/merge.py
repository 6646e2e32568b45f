"""``vecbridge merge``: grow B's vocabulary with A's words, translated into B's space."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# the normalisation a map gets when --normalize is not given and its method takes one (the API's default)
from ..apps.merge import DEFAULT_MAP_NORMALIZE as DEFAULT_NORMALIZE
from ..dictionary import read_dictionary
from ..jsonvalue import json_value
from .options import (
    PAIRS_FILE_HELP,
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
    read_input,
    require_keys,
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
    p.add_argument("--normalize", default=None,
                   help=f'normalisation before the map (default "{DEFAULT_NORMALIZE}" for a method that takes one; '
                        '"none" for raw)')
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="a translator hyper-parameter (repeatable)")
    p.add_argument("--dictionary", metavar="PAIRS.tsv",
                   help=f"a_word<TAB>b_word pairs to fit on (default: shared words; {PAIRS_FILE_HELP})")
    p.add_argument("--confidence", default="cosine", choices=["cosine", "csls"],
                   help="confidence of a translated word: cosine (or CSLS) to its nearest native B word")
    p.add_argument("--space", default="target", choices=["target", "normalized"],
                   help="target: B's vectors unchanged, translated ones de-normalised; normalized: the map's space")
    p.add_argument("--holdout", type=fraction_lower, default=0.1,
                   help="share of shared words held out to check reliability, in [0, 1)")
    add_seed(p, 0, "the held-out draw")
    p.add_argument("--evaluate", action="store_true",
                   help="score analogies, WordSim353, SimLex on native and translated words (needs gensim)")
    p.add_argument("--json", action="store_true",
                   help="print the summary (method, verdict, counts, held-out check, evaluation) as one JSON object")
    p.add_argument("--force", action="store_true",
                   help="fit even on fewer shared words than the method needs to be well-posed, and write the merge "
                        "even when held-out shared words say the map is not aligned (otherwise exit 3)")
    add_overwrite(p, "existing output files")
    p.add_argument("--a-format", default=None, help="format of A (default: detected)")
    p.add_argument("--b-format", default=None, help="format of B (default: detected)")
    p.add_argument("--encoding", type=encoding_name, default=None,
                   help="text encoding of the keys of A and B (default utf-8), e.g. latin-1")
    p.add_argument("--limit", type=positive_int, default=None, help="read only the first N words of each model")
    p.add_argument("--lenient", action="store_true",
                   help="skip bad rows of A and B (ragged, non-numeric, NaN/Inf, duplicate words), counting and "
                        "reporting them, instead of failing")
    add_quiet(p)


def map_options(args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    """``--method``, ``--normalize`` and ``--param`` checked as ``fit`` checks them, before any input is read (a bad
    one: exit 2 naming the flag); returns the normalisation and the parameters to fit the map with.

    A ``--normalize`` given goes to the method (an error for one without a normalisation of its own, such as auto);
    when not given, methods that take one get :data:`DEFAULT_NORMALIZE`. ``--seed`` draws the held-out words here,
    so it is not the method's seed.
    """
    from .diagnose import check_normalize
    from .fit import build_translator

    if args.normalize is not None:
        check_normalize(args.normalize)
    translator = build_translator(argparse.Namespace(**{**vars(args), "seed": None}))
    params = parse_params(args.param)
    if args.normalize is not None or "normalize" in params or "normalize" not in translator.get_params():
        return args.normalize, params
    return DEFAULT_NORMALIZE, params


def _read_model(path: str, fmt: str | None, args: argparse.Namespace, name: str):
    """A or B: gensim's own files (.kv, .model) through gensim, every other format as every command reads it."""
    from ..apps.wordfiles import GENSIM_KV_SUFFIXES, GENSIM_MODEL_SUFFIXES, read_word_model

    if fmt in ("gensim", "kv", "gensim-model") or (
            fmt is None and Path(path).suffix.lower() in GENSIM_KV_SUFFIXES + GENSIM_MODEL_SUFFIXES):
        return read_word_model(path, fmt, limit=args.limit)
    return read_input(path, fmt, args, name=name)


def method_label(translator: Any) -> tuple[str, bool]:
    """The method a fitted map uses, and whether auto chose it (``fit_info_["chosen_method"]``)."""
    chosen = (getattr(translator, "fit_info_", None) or {}).get("chosen_method")
    return (str(chosen), True) if chosen else (str(translator.method), False)


def verdict_summary(v: dict[str, Any] | None, measured_on: str, n_held_out: int, n_fit: int | None,
                    why_none: str | None = None) -> dict[str, Any]:
    """The verdict of a command's own map as its text and JSON report it: ``verdict`` ("aligned", "uncertain",
    "not aligned", or None when none could be formed), ``confidence``, ``reason``, and what it was measured on
    (``measured_on``, ``n_held_out`` of them, the check map fitted on ``n_fit`` others)."""
    if v is None:
        return {"verdict": None, "confidence": None, "reason": why_none, "measured_on": measured_on,
                "n_held_out": int(n_held_out), "n_fit": n_fit}
    return {"verdict": v["verdict"], "confidence": v.get("confidence"), "reason": v.get("verdict_reason"),
            "measured_on": measured_on, "n_held_out": int(n_held_out), "n_fit": n_fit}


def verdict_line(method: str, by_auto: bool, summary: dict[str, Any]) -> str:
    """``method lstsq; verdict aligned (confidence 0.97) on 800 held-out shared words (...)``: one line of text."""
    shown = f"{method} (chosen by auto)" if by_auto else method
    n, what = summary["n_held_out"], summary["measured_on"]
    if summary["verdict"] is None:
        return f"method {shown}; no verdict ({summary['reason'] or f'{n:,} {what}'})"
    conf = summary["confidence"]
    fit = f", the check map fitted on the other {summary['n_fit']:,}" if summary.get("n_fit") is not None else ""
    return (f"method {shown}; verdict {summary['verdict']}"
            + (f" (confidence {conf:.2f})" if conf is not None else "") + f" on {n:,} {what}{fit}")


def _evaluation_lines(evaluation: dict[str, Any]) -> list[str]:
    lines = ["evaluation: score, then covered/selected items (covered: every word of the item is in the merged "
             "model, for analogies among the candidate answers); native = items with no translated word, "
             "translated = items with at least one, all = every item, so native + translated = all"]
    for row in evaluation["rows"]:
        cells = [f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "group"]
        lines.append(f"  {row['group']}: " + "  ".join(cells))
    return lines


def _print_json(method: str, by_auto: bool, summary: dict[str, Any], info_: dict[str, Any],
                evaluation: dict[str, Any] | None, written: dict[str, Any] | None) -> None:
    """``--json``: the summary as one JSON object on stdout; ``written`` null when nothing was written (exit 3)."""
    print(json.dumps(json_value({"method": method, "chosen_by_auto": by_auto, "verdict": summary, "info": info_,
                                "evaluation": evaluation["rows"] if evaluation is not None else None,
                                "written": {k: str(p) for k, p in written.items()} if written is not None else None})))


def run(args) -> int:
    from ..apps.merge import evaluate_merged, merge_embeddings, merge_output_paths, write_merged
    from ..atomic import check_writable

    paths = merge_output_paths(args.output, args.format)
    for p in paths.values():  # fail before any work
        check_output(p, args.a, args.b, args.dictionary, what="output")
        check_writable(p, args.overwrite)
    normalize, params = map_options(args)
    a = _read_model(args.a, args.a_format, args, "a")
    b = _read_model(args.b, args.b_format, args, "b")
    require_keys("merge", args, a, b, names=("A", "B"), paired_hint=False,
                 otherwise="the keys, one per line, in a keys file beside the array (<stem>.keys.txt)")
    pairs = (read_dictionary(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
             if args.dictionary else None)
    result = merge_embeddings(a, b, method=args.method, normalize=normalize, pairs=pairs,
                              params=params, confidence=args.confidence, space=args.space,
                              holdout=args.holdout, seed=args.seed, force=args.force,
                              progress=False if args.quiet else None)
    i = result.info
    h = i.get("holdout", {})
    measured_on = "held-out dictionary pairs" if args.dictionary else "held-out shared words"
    held = h.get("n_test_pairs", 0)
    why_none = (f"{held} {measured_on} (--holdout {args.holdout}), at least 10 are needed"
                if h.get("verdict") is None else None)
    summary = verdict_summary(h if h.get("verdict") is not None else None, measured_on, held,
                              h.get("n_train_pairs"), why_none)
    method, by_auto = method_label(result.translator)
    if summary["verdict"] is None:
        print(f"vecbridge merge: warning: no verdict on the map: {why_none}; check the merge before trusting it",
              file=sys.stderr)
    if summary["verdict"] == "not aligned":
        from .fit import EXIT_NOT_ALIGNED, refused_as_not_aligned

        problem = f"the map from A to B did not align on the {measured_on}: " + h["verdict_reason"]
        if refused_as_not_aligned("vecbridge merge", problem, args.force, anyway="Writing the merge anyway",
                                  nothing="Nothing written", act="write it"):
            if args.json:  # the verdict the exit code follows, and nothing written
                _print_json(method, by_auto, summary, i, None, None)
            return EXIT_NOT_ALIGNED
    if i["n_translated"] == 0:
        kept_out = i.get("n_a_paired_but_kept_out", 0)
        print(f"vecbridge merge: warning: A ({args.a}) adds no word to B ({args.b}): every word of A is already in B"
              + (f" or paired by --dictionary ({kept_out} such words are kept out)" if kept_out else "")
              + f", so the merge is B's {i['n_native']} words unchanged (0 translated words)", file=sys.stderr)
    evaluation = evaluate_merged(result) if args.evaluate else None
    written = write_merged(result, args.output, args.format, overwrite=args.overwrite, evaluation=evaluation)
    if args.json:
        _print_json(method, by_auto, summary, i, evaluation, written)
    info(args, f"merged {i['n_native']} native + {i['n_translated']} translated words "
               f"({method}{' (chosen by auto)' if by_auto else ''}, "
               f"fitted on {result.translator.fit_info_['n_pairs']} pairs)")
    if h:
        hit = "n/a" if h.get("hit_at_1") is None else f"{h['hit_at_1']:.3f}"
        info(args, f"held-out check: {h['n_test_pairs']} {measured_on} translated as if new, "
                   f"hit@1 {hit} (nearest native word is the right one)")
    info(args, verdict_line(method, by_auto, summary))
    if evaluation is not None:
        for line in _evaluation_lines(evaluation):
            info(args, line)
    info(args, "wrote " + ", ".join(str(p) for p in written.values()))
    return 0
