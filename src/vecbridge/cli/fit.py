"""``vecbridge fit``: learn a map from SRC's space into TGT's space and save it."""

from __future__ import annotations

import inspect
import sys
import time

from ..dictionary import read_dictionary
from ..errors import VecbridgeError
from ..translators import make_translator
from .options import add_command, add_read_options, info, parse_params, read_input

EXAMPLE = """  vecbridge fit glove.txt w2v.bin --dictionary train.tsv --method procrustes \\
      --normalize "unit center unit" -o glove2w2v
  vecbridge fit a.npy b.npy --paired --method lstsq --param ridge=0.1 -o a2b
  vecbridge fit glove.txt w2v.bin --method selflearn --dictionary train.tsv --seed-pairs 25 -o g2w
  vecbridge fit glove.txt w2v.bin --method selflearn --identical -o g2w
  vecbridge fit minilm.npy e5.npy --unsupervised --seed 1 -o minilm2e5"""

#: the method ``--unsupervised`` uses when ``--method`` is not given
DEFAULT_UNSUPERVISED = "spectral-match"


def add_parser(sub) -> None:
    p = add_command(sub, "fit", "Fit a translation map from SRC's space into TGT's space.", EXAMPLE, run)
    p.add_argument("src", metavar="SRC", help="source vectors (any supported format)")
    p.add_argument("tgt", metavar="TGT", help="target vectors (any supported format)")
    p.add_argument("-o", "--output", required=True, metavar="MAP_DIR", help="folder to write the map to")
    p.add_argument("--method", default=None,
                   help="lstsq, procrustes (default), multistep, cca, recommended, ...; with --unsupervised: "
                        f"{DEFAULT_UNSUPERVISED} (default; encoders that share their main axes, e.g. MiniLM-L3 -> L6), "
                        "cluster-match (encoders of different families, e.g. MiniLM <-> e5), vec2vec")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--dictionary", metavar="PAIRS.tsv", help="source_key<TAB>target_key training pairs")
    how.add_argument("--paired", action="store_true", help="row i of SRC corresponds to row i of TGT")
    how.add_argument("--shared-keys", action="store_true", help="pair the keys both files share (same vocabulary)")
    how.add_argument("--identical", action="store_true",
                     help="seed dictionary of identical strings (keys both files share), e.g. for --method selflearn")
    how.add_argument("--numerals", action="store_true", help="seed dictionary of shared numerals (7, 1990, 3.5, ...)")
    how.add_argument("--unsupervised", action="store_true",
                     help="SRC and TGT are unpaired samples (no pairs at all); see docs/unsupervised.md")
    p.add_argument("--seed-pairs", type=int, default=None, metavar="N",
                   help="use only the first N pairs (of --dictionary, --identical or --numerals) as the seed "
                        "dictionary, e.g. --method selflearn --seed-pairs 25")
    p.add_argument("--force", action="store_true",
                   help="save the map even when an unsupervised/self-learning fit reports it did not align "
                        "(otherwise: warning, nothing saved, exit code 3)")
    p.add_argument("--normalize", default=None, help='normalisation steps for both sides, e.g. "unit center unit"')
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="a method hyper-parameter (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="random seed, for methods that use one")
    p.add_argument("--overwrite", action="store_true", help="replace an existing map in MAP_DIR")
    add_read_options(p, "src", "tgt")


def build_translator(args):
    params = parse_params(args.param)
    if args.normalize is not None:
        params["normalize"] = args.normalize
    translator = make_translator(args.method, **params)
    if args.seed is not None:
        if "seed" not in inspect.signature(type(translator).__init__).parameters:
            info(args, f"note: method {args.method!r} is deterministic; --seed {args.seed} has no effect")
        else:
            translator.set_params(seed=args.seed)
    return translator


def run(args) -> int:
    if args.method is None:
        args.method = DEFAULT_UNSUPERVISED if getattr(args, "unsupervised", False) else "procrustes"
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    translator = build_translator(args)
    t0 = time.perf_counter()
    if getattr(args, "unsupervised", False):
        if translator.supervised:
            raise VecbridgeError(f"method {args.method!r} needs pairs; with --unsupervised use "
                                 f"{DEFAULT_UNSUPERVISED}, cluster-match or vec2vec")
        translator.fit(src, tgt)
    elif args.paired:
        if len(src) != len(tgt):
            raise VecbridgeError(f"--paired needs as many rows in SRC ({len(src)}) as in TGT ({len(tgt)})")
        translator.fit(src.vectors, tgt.vectors)
        translator.fit_info_["source"] = {"name": src.name, "normalization": src.meta.get("normalization", [])}
        translator.fit_info_["target"] = {"name": tgt.name, "normalization": tgt.meta.get("normalization", [])}
    else:
        pairs = read_dictionary(args.dictionary) if args.dictionary else None
        identical = getattr(args, "identical", False) or (args.shared_keys and getattr(args, "seed_pairs", None))
        if identical or getattr(args, "numerals", False):
            from ..translators.selflearn import identical_pairs, numeral_pairs

            pairs = (identical_pairs if identical else numeral_pairs)(src, tgt)
            if not pairs:
                raise VecbridgeError(f"SRC and TGT share no {'keys' if identical else 'numerals'}; "
                                     "give --dictionary, or fit without pairs (--unsupervised)")
        if getattr(args, "seed_pairs", None) is not None:
            if args.seed_pairs < 1:
                raise VecbridgeError(f"--seed-pairs must be >= 1, got {args.seed_pairs}")
            if pairs is None:
                raise VecbridgeError("--seed-pairs needs --dictionary, --identical, --numerals or --shared-keys")
            info(args, f"seed dictionary: the first {min(args.seed_pairs, len(pairs))} of {len(pairs)} pairs")
            pairs = pairs[: args.seed_pairs]
        translator.fit(src, tgt, pairs=pairs)
        if hasattr(translator, "coverage_"):
            info(args, f"pairs: {translator.coverage_.summary()}")
    translator.fit_info_["fit_seconds"] = round(time.perf_counter() - t0, 3)
    if translator.fit_info_.get("aligned") is False:
        fi = translator.fit_info_
        print(
            f"vecbridge fit: warning: the spaces did not align (confidence {fi.get('confidence')}; "
            f"{fi.get('confidence_measure', 'see the method')}): the map is likely garbage. "
            + ("Saving it anyway (--force)." if args.force else "Nothing saved (exit code 3); pass --force to save it."),
            file=sys.stderr,
        )
        if not args.force:
            return 3
    translator.fit_info_["files"] = {"source": args.src, "target": args.tgt, "dictionary": args.dictionary}
    path = translator.save(args.output, overwrite=args.overwrite)
    info(
        args,
        f"fitted {translator.method} {src.dim}-d -> {tgt.dim}-d on {translator.fit_info_['n_pairs']} pairs "
        f"in {translator.fit_info_['fit_seconds']:.2f}s; saved to {path}",
    )
    return 0
