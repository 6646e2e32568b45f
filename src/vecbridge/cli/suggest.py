"""``vecbridge suggest-pairs``: which source items to pair by hand for few-pair mode."""

from __future__ import annotations

from ..errors import ParameterError, VecbridgeError
from .options import (
    add_command,
    add_overwrite,
    add_read_options,
    add_seed,
    check_output,
    info,
    positive_int,
    read_input,
)

EXAMPLE = """  vecbridge suggest-pairs store_old.npy -k 25 -o to_label.txt
  vecbridge suggest-pairs old.parquet -k 10 --among have_text.txt --seed 1"""


def add_parser(sub) -> None:
    p = add_command(sub, "suggest-pairs",
                    "List K source keys that, embedded by both models, make the best few-pair dictionary.", EXAMPLE,
                    run)
    p.add_argument("src", metavar="SRC", help="the source vectors")
    p.add_argument("-k", type=positive_int, default=25, help="how many items (default 25)")
    p.add_argument("--among", metavar="FILE", help="pick only among these keys (one per line)")
    add_seed(p, 0)
    p.add_argument("-o", "--output", metavar="FILE", help="write the keys here (default: standard output)")
    add_overwrite(p, "FILE")
    add_read_options(p, "src")


def _read_keys(path: str, encoding: str) -> list[str]:
    try:
        with open(path, encoding=encoding) as fh:
            return [line.rstrip("\r\n") for line in fh if line.strip() and not line.startswith("#")]
    except OSError as e:
        raise VecbridgeError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise VecbridgeError(f"--among {path}: not valid {encoding} text ({e.reason} at byte {e.start}); name its "
                             "encoding with --encoding (e.g. --encoding latin-1)") from None


def run(args) -> int:
    from ..atomic import check_writable, write_text_atomic
    from ..dictionary import keys_to_pair

    if args.output:  # fail before any work
        check_output(args.output, args.src, args.among, what="FILE")
        check_writable(args.output, args.overwrite)
    src = read_input(args.src, args.src_format, args)
    among = _read_keys(args.among, args.encoding or "utf-8") if args.among else None
    if among is not None and not among:
        raise VecbridgeError(f"--among {args.among}: the file lists no keys")
    if among is not None:
        distinct = list(dict.fromkeys(among))
        missing = [a for a in distinct if a not in src.index]
        if missing:
            raise VecbridgeError(f"--among {args.among}: {len(missing)} of its {len(distinct)} distinct keys are not "
                                 f"in SRC ({args.src}), e.g. {missing[0]!r}; list keys that SRC holds")
        among = distinct
    n_pool = len(among) if among is not None else len(src)
    if args.k > n_pool:
        raise ParameterError(f"-k {args.k}: more than the {n_pool} items that may be picked"
                             + (f" (the keys of --among {args.among})" if among is not None else f" ({args.src})"))
    keys = keys_to_pair(src, args.k, among=among, seed=args.seed)
    text = "".join(f"{k}\n" for k in keys)
    if args.output:
        write_text_atomic(args.output, text, overwrite=args.overwrite)
        info(args, f"wrote {len(keys)} keys to {args.output}: embed these items with the target model too, "
                   "and pass the pairs with --dictionary")
    else:
        print(text, end="")
    return 0
