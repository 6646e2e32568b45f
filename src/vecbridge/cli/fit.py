"""``vecbridge fit``: learn a map from SRC's space into TGT's space and save it."""

from __future__ import annotations

import sys
import time

import numpy as np

from ..dictionary import first_pairs, identical_pairs, numeral_pairs, read_dictionary
from ..errors import ParameterError, VecbridgeError
from ..progress import log_lines
from ..translators import check_map_output, make_translator, translator_class
from ..translators.whitening import PRESETS
from .options import (
    check_device,
    PAIRS_FILE_HELP,
    add_command,
    add_device,
    add_overwrite,
    add_read_options,
    check_output,
    info,
    parse_params,
    positive_int,
    read_input,
    add_seed,
    require_keys,
)

EXAMPLE = """  vecbridge fit a.npy b.npy --unsupervised -o a2b               # no pairs: the method is chosen for you
  vecbridge fit glove.txt w2v.bin --dictionary train.tsv -o glove2w2v
  vecbridge fit a.npy b.npy --paired --method lstsq --param ridge=0.1 -o a2b
  vecbridge fit glove.txt w2v.bin --dictionary train.tsv --seed-pairs 25 -o g2w
  vecbridge fit glove.txt w2v.bin --identical -o g2w"""

#: exit code when the fit is judged not aligned and nothing is saved
EXIT_NOT_ALIGNED = 3


def add_parser(sub) -> None:
    p = add_command(sub, "fit", "Fit a translation map from SRC's space into TGT's space.", EXAMPLE, run)
    p.add_argument("src", metavar="SRC", help="source vectors (any supported format)")
    p.add_argument("tgt", metavar="TGT", help="target vectors (any supported format)")
    p.add_argument("-o", "--output", required=True, metavar="MAP_DIR", help="folder to write the map to")
    p.add_argument("--method", default=None,
                   help="auto (default: chosen from the inputs; what it chooses: docs/defaults.md), lstsq, procrustes, "
                        "multistep, cca, recommended, rcsls, mlp, lowrank, selflearn; without pairs: cluster-match, "
                        "spectral-match, selflearn, vec2vec (each method: the method table in README.md)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--dictionary", metavar="PAIRS.tsv",
                     help=f"source_key<TAB>target_key training pairs ({PAIRS_FILE_HELP})")
    how.add_argument("--paired", action="store_true", help="row i of SRC corresponds to row i of TGT")
    how.add_argument("--shared-keys", action="store_true", help="pair the keys both files share (same vocabulary)")
    how.add_argument("--identical", action="store_true",
                     help="seed dictionary of identical strings (keys both files share), for self-learning")
    how.add_argument("--numerals", action="store_true", help="seed dictionary of shared numerals (7, 1990, 3.5, ...)")
    how.add_argument("--unsupervised", action="store_true",
                     help="SRC and TGT are unpaired samples (no pairs at all); see docs/unsupervised.md")
    p.add_argument("--seed-pairs", type=positive_int, default=None, metavar="N",
                   help="use only the first N pairs (of --dictionary, --paired, --identical, --numerals or "
                        "--shared-keys) as a seed dictionary")
    p.add_argument("--force", action="store_true",
                   help="save the map even when the fit is judged not aligned (otherwise: nothing saved, exit "
                        "code 3), and fit even with fewer pairs than a well-posed fit needs (otherwise: exit code 1)")
    p.add_argument("--normalize", default=None, help='normalisation steps for both sides, e.g. "unit center unit"')
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="a method hyper-parameter (repeatable)")
    add_seed(p, None, "the method, for methods that draw at random")
    add_device(p, what="where the fit searches neighbours (methods auto, selflearn, cluster-match)")
    add_overwrite(p, "an existing map in MAP_DIR")
    add_read_options(p, "src", "tgt")


def build_translator(args):
    """The translator the options ask for, its parameters checked before any data is read."""
    params = parse_params(args.param)
    method = args.method or "auto"
    try:
        cls = translator_class(method) if method not in PRESETS else None
    except VecbridgeError as e:
        raise ParameterError(f"--method {method}: {e}") from None
    if args.normalize is not None:
        from .diagnose import check_normalize

        check_normalize(args.normalize)  # exit 2 naming the flag, before any file is read
        if cls is not None and "normalize" not in cls._param_names():
            raise ParameterError(f"--normalize: method {method!r} takes no normalisation of its own"
                                 + (" (auto normalises every candidate itself; name a method to choose one)"
                                    if method == "auto" else ""))
        params["normalize"] = args.normalize
    translator = make_translator(method, **params)
    if "progress" in translator.get_params() and "progress" not in params:
        # a progress display for the long fits: on a terminal only, never with --quiet
        translator.set_params(progress=False if getattr(args, "quiet", False) else None)
    device = getattr(args, "device", "cpu")
    if device != "cpu":
        if "device" not in translator.get_params():
            raise ParameterError(f"--device {device}: method {method!r} fits on the CPU only; "
                                 "auto, selflearn and cluster-match can use another device")
        check_device(device)
        translator.set_params(device=device)
    if args.seed is not None:
        if "seed" not in translator.get_params():
            info(args, f"note: method {method!r} is deterministic; --seed {args.seed} has no effect")
        else:
            translator.set_params(seed=args.seed).check_params()
    return translator


def fit_pairs(args, src, tgt):
    """``(pairs, known_pairs)`` for ``Translator.fit`` from the pairing flags."""
    if args.unsupervised:
        if args.seed_pairs is not None:
            raise ParameterError("--seed-pairs: with --unsupervised there are no pairs to take the first of; give "
                                 "--dictionary, --identical or --numerals for a few-pair fit")
        return None, None
    if args.paired:
        if len(src) != len(tgt):
            raise VecbridgeError(f"--paired needs as many rows in SRC ({len(src)}) as in TGT ({len(tgt)})")
        n = len(src) if args.seed_pairs is None else min(args.seed_pairs, len(src))
        return None, np.repeat(np.arange(n, dtype=np.int64)[:, None], 2, axis=1)
    if args.shared_keys or args.identical or args.numerals:
        flag = "--shared-keys" if args.shared_keys else "--identical" if args.identical else "--numerals"
        require_keys(flag, args, src, tgt, otherwise="--dictionary, or --unsupervised")
        pairs = numeral_pairs(src, tgt) if args.numerals else identical_pairs(src, tgt)
        if not pairs:
            raise VecbridgeError(f"SRC and TGT share no {'numerals' if args.numerals else 'keys'}; "
                                 "give --dictionary, or fit without pairs (--unsupervised)")
    else:
        pairs = read_dictionary(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
    if args.seed_pairs is not None:
        info(args, f"seed dictionary: the first {min(args.seed_pairs, len(pairs))} of {len(pairs)} pairs")
        pairs = first_pairs(pairs, args.seed_pairs)
    return pairs, None


def refused_as_not_aligned(prog: str, problem: str, force: bool, anyway: str = "Saving it anyway",
                           nothing: str = "Nothing saved", act: str = "save it") -> bool:
    """The gate of every command that fits its own map: say that it is not aligned (``problem``) and whether
    the result is kept anyway (``force``); True when the command must stop with ``EXIT_NOT_ALIGNED``."""
    then = f"{anyway} (--force)." if force else f"{nothing} (exit code {EXIT_NOT_ALIGNED}); pass --force to {act}."
    print(f"{prog}: warning: {problem}. {then}", file=sys.stderr)
    return not force


def held_out_gate(args, translator, src, tgt, pairs, known) -> str | None:
    """The verdict of a fit with pairs (which has no pairless one): the chosen method fitted again on all but a
    fifth of the pairs and judged on that fifth (:meth:`Translator.held_out_verdict`), recorded in the map's
    fit information. Where too few pairs can be held out, the pairless verdict on SRC and TGT (as for a fit
    without pairs; the map saw only the pairs); None when that cannot run either (fewer than 20 rows a side)."""
    inner = getattr(translator, "chosen_", translator)
    info(args, f"checking {inner.method} on held-out pairs (a second fit on the others)")
    v = inner.held_out_verdict(src, tgt, pairs=pairs, known_pairs=known, seed=args.seed or 0)
    if v is None:
        why = too_few_to_hold_out(inner, src, tgt, pairs, known)
        try:
            verdict = pairless_gate(args, translator, src, tgt)
        except VecbridgeError as e:
            print(f"vecbridge fit: warning: {why}, and the pairless verdict cannot run ({e}), so the map is saved "
                  "without a verdict; check it on pairs you trust", file=sys.stderr)
            return None
        info(args, f"{why}: judged instead without pairs, on SRC and TGT, as a fit without pairs is: "
                   f"{verdict} (confidence {translator.fit_info_.get('confidence')})")
        return verdict
    fi = translator.fit_info_
    fi.update(verdict=v["verdict"], confidence=v["confidence"], verdict_reason=v["verdict_reason"],
              verdict_details={k: v[k] for k in ("statistic", "top1", "controls_top1", "n_eval", "n_train")})
    n = v["n_eval"]
    ctrl = v["controls_top1"]
    lucky = f"; random maps reached {min(ctrl):.3f}-{max(ctrl):.3f}" if ctrl else ""
    info(args, f"held-out check: top-1 {v['top1']:.2f} among {n:,} held-out pairs (chance 1/{n:,} = "
               f"{1.0 / max(n, 1):.3f}{lucky}), "
               f"{inner.method} fitted again on the other {v['n_train']:,}: the share whose right target is the "
               f"nearest of those {n:,} targets, not of all of TGT (usually lower: measure it with vecbridge "
               "evaluate)")
    return v["verdict"]


def too_few_to_hold_out(inner, src, tgt, pairs, known) -> str:
    """Why :meth:`Translator.held_out_verdict` gave no verdict, with its numbers (:meth:`Translator.held_out_sizes`:
    a fifth of the pairs held out, at least 10; the rest must be enough for a well-posed fit)."""
    from ..dictionary import pair_rows

    n = len(known) if known is not None else len(pair_rows(src, tgt, pairs)[0])
    held, needed = inner.held_out_sizes(n, src.dim, tgt.dim)
    if n - held < needed:
        return (f"too few pairs for a held-out check of {inner.method}: of {n:,} pairs, {held:,} would be held out "
                f"(a fifth, at least 10), leaving {max(n - held, 0):,} to fit on where {inner.method} needs "
                f"{needed:,} ({src.dim}-d -> {tgt.dim}-d)")
    return (f"too few distinct held-out pairs for a held-out check of {inner.method}: of the {held:,} held out of "
            f"{n:,} pairs, fewer than 10 are left once each source and target row is used once")


def pairless_gate(args, translator, src, tgt) -> str:
    """The verdict of a map fitted without pairs that brings none of its own (the identity): the shared pairless
    verdict on the inputs, as auto judges its identity candidate; recorded in the map's ``fit_info_``."""
    from ..verdict import judge_inputs, rows_kind

    v = judge_inputs(translator, src.vectors, tgt.vectors, rows=rows_kind(src, tgt), seed=int(args.seed or 0),
                     fitted=False).as_dict()
    translator.fit_info_.update(v)
    return v["verdict"]


def run(args) -> int:
    check_output(args.output, args.src, args.tgt, what="MAP_DIR")
    check_map_output(args.output, args.overwrite)  # before any work, not after a long fit
    translator = build_translator(args)
    if args.unsupervised and translator.requires_pairs:
        raise VecbridgeError(f"method {args.method!r} needs pairs; with --unsupervised use auto (the default), "
                             "cluster-match, spectral-match, selflearn or vec2vec")
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    pairs, known = fit_pairs(args, src, tgt)
    t0 = time.perf_counter()
    with log_lines("vecbridge.auto", "vecbridge fit", not getattr(args, "quiet", False)):
        translator.fit(src, tgt, pairs=pairs, known_pairs=known, force=args.force)
    seconds = time.perf_counter() - t0
    fi = translator.fit_info_
    chosen = fi.get("chosen_method")
    if chosen and fi.get("why"):  # what auto tried, before any gate: in every outcome
        info(args, f"auto: {fi.get('mode')}; chose {chosen}: {fi['why']}")
    if hasattr(translator, "coverage_"):
        info(args, f"pairs: {translator.coverage_.summary()}")
    verdict = fi.get("verdict") or ({False: "not aligned", True: "aligned"}.get(fi.get("aligned")))
    if verdict is None and (pairs is not None or known is not None):
        verdict = held_out_gate(args, translator, src, tgt, pairs, known)
    elif verdict is None and not translator.requires_pairs:
        verdict = pairless_gate(args, translator, src, tgt)
    if verdict == "not aligned":
        problem = f"the spaces did not align: {fi.get('verdict_reason') or 'the map is most likely garbage'}"
        if refused_as_not_aligned("vecbridge fit", problem, args.force):
            return EXIT_NOT_ALIGNED
    elif verdict == "uncertain":
        print(f"vecbridge fit: warning: alignment uncertain (confidence {fi.get('confidence')}): "
              f"{str(fi.get('verdict_reason', '')).rstrip('.')}. The map is saved.", file=sys.stderr)
    fi["files"] = {"source": args.src, "target": args.tgt, "dictionary": args.dictionary}
    path = translator.save(args.output, overwrite=args.overwrite)
    method = f"{chosen} (chosen by auto)" if chosen else translator.method
    parts = [f"fitted {method} {src.dim}-d -> {tgt.dim}-d", f"pairs used: {fi.get('n_pairs', 0)}"]
    if fi.get("pairless_score") is not None:
        parts.append(f"pairless score {fi['pairless_score']}")
    if verdict:
        parts.append(f"verdict {verdict}" + (f" (confidence {fi.get('confidence')})" if fi.get("confidence") is not None else ""))
    parts.append(f"{seconds:.1f} s")
    info(args, "; ".join(parts) + f"; saved to {path}")
    return 0
