"""``vecbridge diagnose``: how isomorphic are two spaces (eigenvector similarity, RSA, linear CKA)."""

from __future__ import annotations

import json

from ..dictionary import read_dictionary
from .options import add_command, add_read_options, add_seed, info, int_range, positive_int, read_input, require_keys

EXAMPLE = """  vecbridge diagnose glove.txt w2v.bin --shared-keys
  vecbridge diagnose glove.txt w2v.bin --dictionary pairs.tsv --json
  vecbridge diagnose en.vec it.vec            # unpaired: only what needs no pairs"""


def add_parser(sub) -> None:
    p = add_command(
        sub, "diagnose",
        "Isomorphism diagnostics of two spaces: eigenvector similarity of k-NN graphs, RSA, linear CKA.",
        EXAMPLE, run,
    )
    p.add_argument("src", metavar="SRC", help="source vectors (any supported format)")
    p.add_argument("tgt", metavar="TGT", help="target vectors (any supported format)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--shared-keys", action="store_true", help="pair the keys both files share")
    how.add_argument("--dictionary", metavar="PAIRS.tsv", help="source_key<TAB>target_key pairs")
    how.add_argument("--paired", action="store_true", help="row i of SRC corresponds to row i of TGT")
    p.add_argument("-n", "--sample", type=int_range(2), default=1000,
                   help="items compared (a random sample of the pairs; the N most frequent rows when unpaired)")
    p.add_argument("-k", "--neighbors", type=positive_int, default=10, help="k of the k-NN graphs")
    add_seed(p, 0, "the pair sample")
    p.add_argument("--normalize", default="unit center unit",
                   help='normalisation of each whole space before comparing ("none" to compare raw vectors)')
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_read_options(p, "src", "tgt")


def check_normalize(steps: str | None) -> None:
    """Refuse a ``--normalize`` value that names an unknown step (exit 2), before any input is read."""
    from ..errors import ParameterError, VecbridgeError
    from ..normalize import parse_steps

    try:
        parse_steps(steps)
    except VecbridgeError as e:
        raise ParameterError(f"--normalize {steps!r}: {e}") from None


def run(args) -> int:
    from ..diagnostics import diagnose, format_report
    from ..errors import ParameterError, VecbridgeError

    check_normalize(args.normalize)
    if args.neighbors >= args.sample:
        raise ParameterError(f"-k {args.neighbors}: a {args.neighbors}-NN graph needs more than -n / --sample "
                             f"{args.sample} items")
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    if args.shared_keys:
        require_keys("--shared-keys", args, src, tgt)
    if args.paired:
        if len(src) != len(tgt):
            raise VecbridgeError(f"--paired needs as many rows in SRC ({len(src)}) as in TGT ({len(tgt)}); give two "
                                 "files of the same items in the same order, or pair by key (--shared-keys, "
                                 "--dictionary)")
        report = diagnose(src.vectors, tgt.vectors, paired=True, n=args.sample, k=args.neighbors, seed=args.seed,
                          normalize=args.normalize)
        report["source"]["name"], report["target"]["name"] = src.describe(), tgt.describe()
    else:
        pairs = (read_dictionary(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
                 if args.dictionary else None)
        report = diagnose(src, tgt, pairs=pairs, paired=args.shared_keys, n=args.sample, k=args.neighbors,
                          seed=args.seed, normalize=args.normalize)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    if "coverage" in report and report["coverage"]["n_used"] < report["coverage"]["n_pairs"]:
        c = report["coverage"]
        info(args, f"note: {c['n_pairs'] - c['n_used']} pairs skipped (keys missing), e.g. {c['examples_missing'][:2]}")
    return 0
