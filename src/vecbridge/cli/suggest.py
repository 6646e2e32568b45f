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
    p.add_argument("--among", metavar="FILE",
                   help="pick only among these keys (one per line; a line starting with # is a comment unless SRC "
                        "holds it as a key, e.g. a hashtag; comment lines are counted in a note)")
    add_seed(p, 0)
    p.add_argument("-o", "--output", metavar="FILE", help="write the keys here (default: standard output)")
    add_overwrite(p, "FILE")
    add_read_options(p, "src")


def _read_keys(path: str, encoding: str, src) -> tuple[list[str], list[int]]:
    """The keys listed in ``path`` (one per line; ASCII whitespace around a key and blank lines ignored) and the
    numbers of the lines read as comments: a line starting with ``#`` is a key when SRC holds it (hashtags such
    as ``#ai``), else a comment."""
    from ..dictionary import read_lines
    from ..errors import FormatError

    try:
        lines = read_lines(path, encoding, what="file of keys (one per line)")
    except FormatError as e:
        raise VecbridgeError(f"--among {e}") from None
    keys, comments = [], []
    for lineno, line in lines:
        key = line.strip(" \t\n\r\x0b\x0c")
        if not key:
            continue
        if key.startswith("#") and key not in src.index:
            comments.append(lineno)
            continue
        keys.append(key)
    return keys, comments


def run(args) -> int:
    from ..atomic import check_writable, write_text_atomic
    from ..dictionary import keys_to_pair, vector_groups

    if args.output:  # fail before any work
        check_output(args.output, args.src, args.among, what="FILE")
        check_writable(args.output, args.overwrite)
    src = read_input(args.src, args.src_format, args)
    among, comments = _read_keys(args.among, args.encoding or "utf-8", src) if args.among else (None, [])
    # lines starting with # that SRC does not hold are comments: counted and said, never dropped silently
    said = ""
    if comments:
        n, where = len(comments), ", ".join(map(str, comments[:3])) + (", ..." if len(comments) > 3 else "")
        said = (f"; {n} line{'s' if n != 1 else ''} of it starting with # (line{'s' if n != 1 else ''} {where}) "
                f"{'are not keys' if n != 1 else 'is not a key'} of SRC and {'were' if n != 1 else 'was'} read as "
                f"comment{'s' if n != 1 else ''}")
    if among is not None and not among:
        raise VecbridgeError(f"--among {args.among}: the file lists no keys{said}")
    if comments:
        info(args, f"note: --among {args.among}{said}")
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
                             + (f" (the keys of --among {args.among}{said})" if among is not None
                                else f" ({args.src})"))
    rows = [src.index[a] for a in among] if among is not None else slice(None)
    n_distinct = int(vector_groups(src.vectors[rows]).max()) + 1
    if args.k > n_distinct:
        raise ParameterError(f"-k {args.k}: the {n_pool} items that may be picked"
                             + (f" (the keys of --among {args.among})" if among is not None else f" ({args.src})")
                             + f" hold only {n_distinct} distinct vectors ({n_pool - n_distinct} repeat another "
                             f"item's vector, and pairing two of those tells the models nothing more); give -k "
                             f"{n_distinct} or fewer")
    keys = keys_to_pair(src, args.k, among=among, seed=args.seed)
    text = "".join(f"{k}\n" for k in keys)
    if args.output:
        write_text_atomic(args.output, text, overwrite=args.overwrite)
        info(args, f"wrote {len(keys)} keys to {args.output}: embed these items with the target model too, "
                   "and pass the pairs with --dictionary")
    else:
        print(text, end="")
    return 0
