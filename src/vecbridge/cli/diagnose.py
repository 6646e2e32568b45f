"""``vecbridge diagnose``: how isomorphic are two spaces (eigenvector similarity, RSA, linear CKA)."""

from __future__ import annotations

import json

from ..dictionary import read_dictionary
from ..errors import ParameterError, VecbridgeError
from ..jsonvalue import json_value
from .options import (
    PAIRS_FILE_HELP,
    add_command,
    add_read_options,
    add_seed,
    info,
    int_range,
    positive_int,
    read_input,
    require_keys,
)

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
    how.add_argument("--dictionary", metavar="PAIRS.tsv",
                     help=f"source_key<TAB>target_key pairs ({PAIRS_FILE_HELP})")
    how.add_argument("--paired", action="store_true", help="row i of SRC corresponds to row i of TGT")
    p.add_argument("-n", "--sample", type=int_range(2), default=1000,
                   help="items compared (a random sample of the pairs; the N most frequent rows when unpaired)")
    p.add_argument("-k", "--neighbors", type=positive_int, default=10,
                   help="k of the k-NN graphs (each needs more than k items)")
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


def _check_items(args, n_items: int, what: str, more: str = "") -> None:
    """A k-NN graph of ``n_items`` items needs ``k < n_items``: else an option error naming -k/--neighbors."""
    k = args.neighbors
    if n_items <= k:
        raise ParameterError(f"-k/--neighbors {k}: a {k}-NN graph needs more than {k} items, but {what}; give -k "
                             f"{max(1, n_items - 1)} or fewer{more}")


def run(args) -> int:
    from ..diagnostics import MIN_VERDICT_ITEMS, diagnose, format_report
    from ..dictionary import pair_rows

    check_normalize(args.normalize)
    if args.neighbors >= args.sample:
        raise ParameterError(f"-k {args.neighbors}: a {args.neighbors}-NN graph needs more than -n / --sample "
                             f"{args.sample} items")
    dictionary = (read_dictionary(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
                  if args.dictionary else None)
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    labels = (f"SRC ({args.src})", f"TGT ({args.tgt})")
    if args.shared_keys:
        require_keys("--shared-keys", args, src, tgt)
    # how many items each k-NN graph gets, checked against -k before any work
    for label, emb in zip(labels, (src, tgt)):
        _check_items(args, len(emb), f"{label} holds only {len(emb)} rows")
    if args.paired:
        if len(src) != len(tgt):
            raise VecbridgeError(f"--paired needs as many rows in SRC ({len(src)}) as in TGT ({len(tgt)}); give two "
                                 "files of the same items in the same order, or pair by key (--shared-keys, "
                                 "--dictionary)")
    elif args.dictionary or args.shared_keys:
        if dictionary is not None:
            pairs, where = dictionary, f"--dictionary {args.dictionary}"
        else:
            pairs, where = [(key, key) for key in src.keys if key in tgt.index], "--shared-keys (keys both files hold)"
        _, _, cov = pair_rows(src, tgt, pairs)
        if cov.n_used < 3:
            raise VecbridgeError(f"{where}: too few usable pairs for paired diagnostics (3 at least): {cov.summary()}")
        detail = f" ({cov.summary()})" if cov.n_missing or cov.repeated else ""
        _check_items(args, cov.n_used, f"only {cov.n_used} pairs of {where} are usable{detail}", ", or more pairs")
    if args.paired:
        report = diagnose(src.vectors, tgt.vectors, paired=True, n=args.sample, k=args.neighbors, seed=args.seed,
                          normalize=args.normalize, labels=labels)
        report["source"]["name"], report["target"]["name"] = src.describe(), tgt.describe()
    else:
        report = diagnose(src, tgt, pairs=dictionary, paired=args.shared_keys, n=args.sample, k=args.neighbors,
                          seed=args.seed, normalize=args.normalize, labels=labels)
    if args.json:
        print(json.dumps(json_value(report), indent=2, allow_nan=False))
    else:
        print(format_report(report))
    if "coverage" in report and report["coverage"]["n_used"] < report["coverage"]["n_pairs"]:
        c = report["coverage"]
        info(args, f"note: {c['n_pairs'] - c['n_used']} pairs skipped (keys missing), e.g. {c['examples_missing'][:2]}")
    p = report.get("paired")
    if p and p["n"] < MIN_VERDICT_ITEMS:
        more = ("a larger -n/--sample" if p["n_pairs_available"] >= MIN_VERDICT_ITEMS
                else "more pairs" if "coverage" in report else "more rows")
        info(args, f"note: no verdict: only {p['n']} paired items were compared ({p['n_pairs_available']} usable); "
                   f"a verdict needs at least {MIN_VERDICT_ITEMS}: give {more}")
    return 0
