"""Options and small helpers shared by several sub-commands.

Every numeric option is checked where it enters, by an argparse ``type=`` function of this module, so that
a bad value is refused before any work with a message in flag names (``--chunk-rows must be a positive
integer, got 0``) and exit code 2, argparse's own code for usage errors.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ParameterError, VecbridgeError

#: the largest seed every random source vecbridge feeds accepts (numpy's legacy RandomState, gensim)
MAX_SEED = 2**32 - 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose messages start with the flag: ``--chunk-rows must be ...``, not ``argument --chunk-rows: ...``."""

    def error(self, message: str):  # noqa: D102 - argparse's
        m = re.match(r"argument ([^:]+): (must .*)$", message, re.S)
        if m:
            message = f"{m.group(1)} {m.group(2)}"
        super().error(message)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the example blocks as written."""


# -- argparse types -----------------------------------------------------------------------
def _int_of(text: str, what: str) -> int:
    s = str(text).strip()
    if not re.fullmatch(r"[+-]?\d[\d_]*", s):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return int(s)


def _float_of(text: str, what: str) -> float:
    try:
        v = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return v


def int_range(lo: int | None = None, hi: int | None = None, what: str | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[lo, hi]`` (either end open when None)."""
    if what is None:
        if lo is not None and hi is not None:
            what = f"an integer from {lo} to {hi}"
        elif lo == 1:
            what = "a positive integer"
        elif lo == 0:
            what = "a non-negative integer"
        elif lo is not None:
            what = f"an integer >= {lo}"
        else:
            what = "an integer"

    def parse(text: str) -> int:
        v = _int_of(text, what)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {what}, got {v}")
        return v

    parse.__name__ = "integer"
    return parse


def float_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
                what: str | None = None) -> Callable[[str], float]:
    """An argparse type: a finite number in the interval from ``lo`` to ``hi`` (open ends as asked)."""
    if what is None:
        if lo is not None and hi is not None:
            what = f"a number {'>' if lo_open else '>='} {lo:g} and {'<' if hi_open else '<='} {hi:g}"
        elif lo == 0 and lo_open:
            what = "a positive number"
        elif lo == 0:
            what = "a non-negative number"
        elif lo is not None:
            what = f"a number {'>' if lo_open else '>='} {lo:g}"
        else:
            what = "a finite number"

    def parse(text: str) -> float:
        v = _float_of(text, what)
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        if hi is not None and (v > hi or (hi_open and v == hi)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return v

    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
nonnegative_int = int_range(0)
seed_int = int_range(0, MAX_SEED, what=f"an integer from 0 to {MAX_SEED}")
port_number = int_range(1, 65535, what="a port number from 1 to 65535")
positive_float = float_range(0, lo_open=True)
nonnegative_float = float_range(0)
fraction_open = float_range(0, 1, lo_open=True, hi_open=True)  # (0, 1)
fraction_upper = float_range(0, 1, lo_open=True)  # (0, 1]
fraction_lower = float_range(0, 1, hi_open=True)  # [0, 1)
unit_interval = float_range(0, 1)  # [0, 1]


def encoding_name(text: str) -> str:
    """An argparse type: a text encoding Python knows (``utf-8``, ``latin-1``, ``cp1252``, ...)."""
    try:
        return codecs.lookup(text).name
    except LookupError:
        raise argparse.ArgumentTypeError(
            f"must be a text encoding Python knows (e.g. utf-8, latin-1, cp1252), got {text!r}"
        ) from None


def input_format(text: str) -> str:
    """An argparse type: a format name the readers know (``word2vec``, ``glove``, ``npy``, ``gensim``, ...)."""
    from ..io.detect import FORMAT_NAMES, canonical_format

    try:
        canonical_format(text)
    except VecbridgeError:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(FORMAT_NAMES)}, got {text!r}") from None
    return text


input_format.__name__ = "format"


def output_format(text: str) -> str:
    """An argparse type: a format name the writers know (the same names as :func:`input_format`)."""
    return input_format(text)


output_format.__name__ = "format"


@contextlib.contextmanager
def format_flag(flag: str | None) -> Iterator[None]:
    """Within the block, a file whose format cannot be told from its content is an error that names ``flag``
    (the command's own ``--NAME-format``), not the library's ``format=``."""
    from ..errors import FormatError

    try:
        yield
    except FormatError as e:
        detail = getattr(e, "undetected", None)
        if detail is None or flag is None:
            raise
        from ..io.detect import FORMAT_NAMES

        raise FormatError(f"{detail}; name the format with {flag} (one of {', '.join(FORMAT_NAMES)})", e.path,
                          e.line) from None


def column_name(text: str) -> str:
    if not text or not text.strip():
        raise argparse.ArgumentTypeError("must be a column name, got an empty string")
    return text


def store_name(kind: str) -> Callable[[str], str]:
    """An argparse type checking a LanceDB table / column or Chroma collection name.

    See :func:`vecbridge.containment.check_store_name`.
    """

    def parse(text: str) -> str:
        from ..containment import check_store_name, store_name_rule

        try:
            return check_store_name(text, kind)
        except ParameterError:
            raise argparse.ArgumentTypeError(
                f"must be a valid {kind} name ({store_name_rule(kind)}), got {text!r}"
            ) from None

    parse.__name__ = f"{kind} name"
    return parse


# -- options shared by commands: declared here once, with one meaning ------------------------------------
def add_overwrite(p: argparse.ArgumentParser, what: str = "the output") -> None:
    """``--overwrite``: replace an existing output of this command (never an input, and never a folder that
    does not hold what the command writes)."""
    p.add_argument("--overwrite", action="store_true", help=f"replace {what} if it exists")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars, notes or summaries on stderr (warnings and errors still show)."""
    p.add_argument("--quiet", action="store_true", help="no progress bars, notes or summaries on stderr")


def add_seed(p: argparse.ArgumentParser, default: int | None = 0, what: str = "the random draws") -> None:
    """``--seed``: the seed of every random draw the command makes (same seed, same result)."""
    shown = "" if default is None else f" (default {default})"
    p.add_argument("--seed", type=seed_int, default=default, help=f"random seed of {what}{shown}")


def check_device(device: str) -> None:
    """``--device``: one of the names it takes (cpu, cpu-torch, auto, cuda, cuda:N, mps) and there (a GPU that torch
    sees), before any work; else a usage error naming the flag."""
    from ..compute import Compute

    if device == "cpu":
        return
    try:
        Compute.for_device(device).resolve_backend()
    except VecbridgeError as e:
        raise ParameterError(f"--device {device}: {e}") from None


def add_device(p: argparse.ArgumentParser, default: str = "cpu", what: str = "where maps are applied") -> None:
    """``--device``: where the command computes (``what``): cpu (numpy), auto (a GPU through torch when present),
    cuda, ...; each command checks it before any work (:func:`check_device`)."""
    p.add_argument("--device", default=default,
                   help=f"{what}: cpu (numpy, default), auto (a GPU through torch when present), "
                        "cuda, cuda:N, mps; an unavailable device is an error, never ignored")


# -- commands and their inputs --------------------------------------------------------------
def add_command(sub, name: str, help: str, example: str, func) -> argparse.ArgumentParser:
    """Register a sub-command whose ``--help`` ends with an example."""
    p = sub.add_parser(name, help=help, description=help, epilog=f"example:\n{example}", formatter_class=HelpFormatter)
    p.set_defaults(func=func)
    return p


#: positional argument (dest) of each input name, where it is not the name itself
_INPUT_DEST = {"in": "input"}


def add_read_options(p: argparse.ArgumentParser, *names: str) -> None:
    """Reading options: per input ``--NAME-format``, ``--NAME-encoding``, ``--NAME-key-column``,
    ``--NAME-vector-column``; ``--encoding`` / ``--key-column`` / ``--vector-column`` for every input at once;
    plus ``--limit``, ``--lenient`` and ``--quiet``."""
    g = p.add_argument_group("reading the inputs")
    for n in names:
        g.add_argument(f"--{n}-format", type=input_format, default=None,
                       help=f"format of {n.upper()} (default: detected from content): word2vec, glove, "
                            "word2vec-binary, npy, npz, parquet, gensim")
    g.add_argument("--encoding", type=encoding_name, default=None,
                   help="text encoding of keys in text/binary/npy key files (default utf-8), e.g. latin-1")
    g.add_argument("--key-column", type=column_name, default=None, help="Parquet: the key column (default: detected)")
    g.add_argument("--vector-column", type=column_name, default=None,
                   help="Parquet: the vector column (default: detected)")
    if len(names) > 1:
        for n in names:
            g.add_argument(f"--{n}-encoding", type=encoding_name, default=None, help=f"encoding of {n.upper()} only")
            g.add_argument(f"--{n}-key-column", type=column_name, default=None, help=f"key column of {n.upper()} only")
            g.add_argument(f"--{n}-vector-column", type=column_name, default=None,
                           help=f"vector column of {n.upper()} only")
    g.add_argument("--limit", type=positive_int, default=None,
                   help="read only the first N rows of each file (frequency order)")
    g.add_argument(
        "--lenient", action="store_true",
        help="skip bad rows (ragged, non-numeric, NaN/Inf, duplicate keys), counting and reporting them, "
             "instead of failing",
    )
    add_quiet(g)
    p.set_defaults(_read_inputs=names)


def _input_name(path: str, args: argparse.Namespace) -> str | None:
    names = getattr(args, "_read_inputs", ()) or ()
    for n in names:
        if getattr(args, _INPUT_DEST.get(n, n), None) == path:
            return n
    return names[0] if len(names) == 1 else None


def read_settings(args: argparse.Namespace, name: str | None) -> dict[str, Any]:
    """``encoding`` / ``key_column`` / ``vector_column`` for input ``name``: its own flag, else the shared one."""
    out: dict[str, Any] = {}
    for opt in ("encoding", "key_column", "vector_column"):
        v = getattr(args, f"{name}_{opt}", None) if name else None
        if v is None:
            v = getattr(args, opt, None)
        if v is not None:
            out[opt] = v
    return out


def require_keys(flag: str, args: argparse.Namespace, src: Any, tgt: Any, otherwise: str = "--dictionary",
                 names: tuple[str, str] = ("SRC", "TGT"), paired_hint: bool = True) -> None:
    """``flag`` pairs rows by key: refuse inputs without keys (an array without a keys file would pair row numbers).
    ``names``: the inputs as the command's usage names them (their paths are ``args.<name lower>``);
    ``paired_hint``: the command has ``--paired`` to suggest."""
    from ..errors import VecbridgeError

    for name, emb in zip(names, (src, tgt)):
        if not emb.has_keys:
            hint = f"give --paired if row i of {names[0]} is row i of {names[1]}, or " if paired_hint else "give "
            raise VecbridgeError(f"{flag} needs keys, but {name} ({getattr(args, name.lower())}) has none (an array "
                                 f"without a keys file: its keys would be row numbers); {hint}{otherwise}")


def read_input(path: str, fmt: str | None, args: argparse.Namespace, name: str | None = None):
    """Read one embeddings file with the shared options; reports skipped rows on stderr."""
    from ..io import read_embeddings

    if name is None:
        name = _input_name(path, args)
    with format_flag(f"--{name}-format" if name else None):
        emb = read_embeddings(
            path, format=fmt, limit=args.limit, on_error="skip" if args.lenient else "raise",
            progress=False if args.quiet else None, **read_settings(args, name),
        )
    if len(emb) == 0:
        from ..errors import VecbridgeError

        raise VecbridgeError(f"{path}: holds no vectors (a header and no rows?)")
    report = emb.meta.get("read_report")
    skipped = sum(int(v) for v in ((report or {}).get("skipped") or {}).values())
    if skipped and getattr(args, "paired", False):
        from ..errors import VecbridgeError

        unit = report.get("unit") or "row"
        where = {"line": "first lines", "record": "first records"}.get(unit, "first rows (0-based)")
        raise VecbridgeError(
            f"{path}: --lenient skipped {skipped} bad rows ({json.dumps(report['skipped'])}, {where} "
            f"{json.dumps(report.get('first'))}), and --paired pairs row i of each "
            "file with row i of the other, so every later pair would be shifted; mend or remove those rows (the "
            "same rows in every file) and run again")
    if report and not args.quiet and skipped:
        info(args, f"{path}: {json.dumps(report)}")
    return emb


# -- --param KEY=VALUE ----------------------------------------------------------------------
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["ridge=0.1", "bias=true"]`` -> ``{"ridge": 0.1, "bias": True}``.

    Values are JSON (numbers, ``true``/``false``, ``null``, lists, quoted strings), else plain strings.
    A malformed item, a key given twice or a non-finite number raises :class:`ParameterError` naming the
    ``--param``; whether the method knows the key and takes that type is checked by the method itself.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"--param expects KEY=VALUE, got {item!r}")
        if not _KEY.fullmatch(key):
            raise ParameterError(f"--param {item}: {key!r} is not a parameter name (letters, digits, _)")
        if key in out:
            raise ParameterError(f"--param {key} is given twice")
        try:
            parsed = json.loads(value, parse_constant=_no_constant)
        except (json.JSONDecodeError, RecursionError):
            parsed = value
        except ValueError as e:
            raise ParameterError(f"--param {item}: {e}") from None
        if isinstance(parsed, float) and not math.isfinite(parsed):  # 1e999
            raise ParameterError(f"--param {item}: the number is out of range")
        out[key] = parsed
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed; give a finite number")


def param_error_message(e: ParameterError, items: Iterable[str] | None) -> str:
    """A method's parameter error in CLI terms: prefixed with the ``--param KEY=VALUE`` it concerns."""
    msg = str(e)
    if msg.startswith("--param"):
        return msg
    for item in items or []:
        key = item.partition("=")[0].strip()
        if key and re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", msg):
            return f"--param {item}: {msg}"
    return msg


# -- outputs -----------------------------------------------------------------------------------
#: how a pairs file is read, for the help of every --dictionary that takes source<TAB>target pairs
PAIRS_FILE_HELP = ("one pair a line, tab- or space-separated; a line starting with '# ', or a '#' line not of two "
                   "fields, is a comment, counted in a warning ('#tag<TAB>#tag' is a pair)")


def check_npy_keys_output(output: str | os.PathLike, overwrite: bool, shown: str | None = None) -> Path:
    """The keys file that an ``.npy`` output ``output`` writes beside it, refused before any work when it is a folder
    or exists without ``--overwrite``; ``shown``: how the output is named in messages (e.g. ``-o out.npy``)."""
    from ..errors import OutputExistsError
    from ..io.arrays import keys_path_for

    keys = keys_path_for(output)
    shown = shown or str(output)
    if keys.is_dir():
        raise OutputExistsError(f"{keys} is a folder, and {shown} writes its keys there; choose another name")
    if keys.exists() and not overwrite:
        raise OutputExistsError(f"{keys} already exists (the keys file written beside {shown}); choose another name "
                                "or allow overwriting (--overwrite)")
    return keys


def check_output(output: str | os.PathLike | None, *inputs: str | os.PathLike | None, what: str = "OUT") -> None:
    """Refuse an output that is one of the inputs (before any work); ``what`` names it in the message.

    The keys file read with an ``.npy`` / ``.npz`` input (``<stem>.keys.txt``, ``.vocab`` or ``.txt`` beside it)
    is an input too, and so is an input that the keys file written beside an ``.npy`` output would replace.
    """
    if output is None:
        return
    out = Path(output)
    out_keys = _npy_keys_file(out)
    for i in inputs:
        if i is None:
            continue
        p = Path(i)
        if _same_file(out, p):
            raise VecbridgeError(f"{what} {out} is also an input; write the result to another file")
        if p.is_dir() and out.resolve().is_relative_to(p.resolve()):  # a file of an input folder (a map, a hub)
            raise VecbridgeError(f"{what} {out} is inside the input folder {p}; write the result elsewhere")
        keys = _keys_file_read_with(p)
        if keys is not None and _same_file(out, keys):
            raise VecbridgeError(f"{what} {out} is the keys file of the input {p} (read with it), so writing it "
                                 "would destroy that input's keys; write the result to another file")
        for held in (p, keys):
            if out_keys is not None and held is not None and _same_file(out_keys, held):
                raise VecbridgeError(f"{what} {out} would replace {out_keys} (the keys file written beside an .npy), "
                                     f"which is read as an input ({p}); write the result to another file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _keys_file_read_with(path: Path) -> Path | None:
    """The keys file that reading ``path`` (an .npy or .npz file) would take from beside it, else None."""
    from ..io.arrays import find_sibling_keys
    from ..io.detect import detect_format, format_from_extension

    if not path.is_file():
        return None
    fmt = format_from_extension(path)
    if fmt is None:
        try:
            fmt = detect_format(path)
        except (VecbridgeError, OSError):
            return None
    if fmt == "npz":
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                if "keys.npy" in zf.namelist():
                    return None  # its keys are inside
        except (zipfile.BadZipFile, OSError):
            return None
    return find_sibling_keys(path) if fmt in ("npy", "npz") else None


def _npy_keys_file(output: Path) -> Path | None:
    """The keys file written beside ``output`` when it is an .npy (by its extension), else None."""
    from ..io.arrays import keys_path_for
    from ..io.detect import format_from_extension

    return keys_path_for(output) if format_from_extension(output) == "npy" else None


@contextlib.contextmanager
def parents_for(output: str | os.PathLike) -> Iterator[None]:
    """Create the missing parent folders of ``output`` for the block; on an error remove those it created."""
    made: list[Path] = []
    p = Path(output).parent
    while not p.exists() and p != p.parent:
        made.append(p)
        p = p.parent
    for d in reversed(made):
        d.mkdir(exist_ok=True)
    try:
        yield
    except BaseException:
        for d in made:  # deepest first; only while still empty
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def info(args: argparse.Namespace, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


# -- does the input look like the map's space? ------------------------------------------------------
def add_strict_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true",
                   help="fail (exit code 5) when the input does not look like the map's source space "
                        "(default: a warning); see docs/reliability.md")


def _map_dims(translator: Any) -> dict[str, int | None]:
    """The dimension of the map's source and target sides (from the fitted map, else its fingerprints)."""
    fps = (getattr(translator, "fit_info_", None) or {}).get("fingerprints") or {}
    out: dict[str, int | None] = {}
    for side, attr in (("source", "n_features_in_"), ("target", "n_features_out_")):
        d = getattr(translator, attr, None)
        if d is None:
            d = (fps.get(side) or {}).get("dim")
        out[side] = int(d) if d is not None else None
    return out


def check_dimension(args: argparse.Namespace, translator: Any, vectors: Any, side: str = "source",
                    what: str = "IN") -> None:
    """Fail at once (:class:`~vecbridge.errors.DimensionError`, exit code 1) when ``vectors`` are not as wide as
    the map's ``side`` space, with a hint at what the input may be: SRC and TGT swapped (only where SRC is as wide
    as the map's target side and TGT as its source side), a file of the map's other side, or, for a hub, the
    ``--from`` / ``--to`` space(s) as wide as the input."""
    from ..errors import DimensionError

    shape = getattr(vectors, "shape", None)
    if not shape:
        return
    dims = _map_dims(translator)
    other = "target" if side == "source" else "source"
    d, want, d_other = int(shape[-1]), dims.get(side), dims.get(other)
    if want is None or d == want:
        return
    if _hub_route(translator) is not None:
        raise DimensionError(_hub_dimension_message(translator, d, side, what))
    message = f"{what}: the vectors are {d}-d, but this map takes {want}-d {side} vectors"
    if d == d_other:
        src_d, tgt_d = dims["source"], dims["target"]
        message += f"; they have the size of its {other} vectors ({d_other}-d)"
        if getattr(args, "src", None) is not None and getattr(args, "tgt", None) is not None:
            this, that = ("SRC", "TGT") if side == "source" else ("TGT", "SRC")
            that_d = _input_width(args, that.lower())
            if that_d == want:  # each file is as wide as the other side: swapped
                message += (f", and {that} has the size of its {side} vectors ({want}-d): SRC and TGT may be swapped "
                            f"(give the map's {src_d}-d source vectors as SRC, then its {tgt_d}-d target vectors "
                            "as TGT)")
            else:
                message += (f": is {this} a file of the map's {other} side? Give the map's {want}-d {side} vectors "
                            f"as {this}")
        else:
            message += (f": are these {other}-side vectors? This map translates {src_d}-d source vectors into its "
                        f"{tgt_d}-d target space (to translate the other way, fit a map with SRC and TGT swapped)")
    else:
        message += " (vectors of another model?)"
    raise DimensionError(message)


def _input_width(args: argparse.Namespace, name: str) -> int | None:
    """The width of input ``name`` (``src`` / ``tgt``) of the command, from its first row; None when unreadable."""
    from ..io import read_embeddings

    path = getattr(args, name, None)
    if path is None:
        return None
    try:
        emb = read_embeddings(path, format=getattr(args, f"{name}_format", None), limit=1, progress=False,
                              on_error="skip" if getattr(args, "lenient", False) else "raise",
                              **read_settings(args, name))
        return int(emb.dim)
    except Exception:  # noqa: BLE001 - only a hint depends on it
        return None


def _hub_route(translator: Any) -> tuple[Any, str, str] | None:
    """A hub's map (:class:`~vecbridge.hub.HubMap`): the hub and its ``--from`` and ``--to`` spaces; else None."""
    hub, src, dst = (getattr(translator, a, None) for a in ("_hub", "_src", "_dst"))
    if hub is None or not isinstance(getattr(hub, "spaces_", None), dict):
        return None
    return hub, src, dst


def _hub_dimension_message(translator: Any, d: int, side: str, what: str) -> str:
    """``check_dimension`` for a hub's map: the space chosen is not as wide as the input; name the spaces that are."""
    hub, src, dst = _hub_route(translator)
    flag, chosen = ("--from", src) if side == "source" else ("--to", dst)
    want = hub.spaces_[chosen].dim
    message = f"{what}: the vectors are {d}-d, but the hub's space {chosen} ({flag} {chosen}) is {want}-d"
    fits = [n for n, sp in hub.spaces_.items() if sp.dim == d]
    other_flag, other = ("--to", dst) if side == "source" else ("--from", src)
    also = f" (and another {other_flag} than {other})" if other in fits else ""
    if len(fits) == 1:
        return (message + f"; its space {fits[0]} is {d}-d: if these are vectors of {fits[0]}, give {flag} {fits[0]}"
                + also)
    if fits:
        return (message + f"; its spaces {', '.join(fits)} are {d}-d: give the one these vectors are of with "
                f"{flag} SPACE" + also)
    spaces = ", ".join(f"{n} ({sp.dim}-d)" for n, sp in hub.spaces_.items())
    return message + f", and none of its spaces is {d}-d (its spaces: {spaces}); vectors of another model?"


def check_space(args: argparse.Namespace, translator: Any, vectors: Any, side: str = "source", what: str = "IN") -> None:
    """Fail with exit code 1 when ``vectors`` are not as wide as the map's ``side`` space (:func:`check_dimension`);
    otherwise warn (or, with ``--strict``, fail with exit code 5) when they do not look like that space
    (:meth:`vecbridge.Translator.check_input`); silent for maps without a fingerprint."""
    from ..errors import StrictInputError

    check_dimension(args, translator, vectors, side, what)
    check_input = getattr(translator, "check_input", None)
    if check_input is None:
        return
    result = check_input(vectors, side)
    if result.matches is False:
        message = f"{what}: {result.reason}"
        if getattr(args, "strict", False):
            raise StrictInputError(message)
        print(f"vecbridge {args.command}: warning: {message}; pass --strict to make this an error", file=sys.stderr)


#: ``--flag / python_name=VALUE`` and ``python_name=VALUE (CLI: --flag)`` in the library's messages, which name
#: both so that one text serves Python and the command line
_BOTH_NAMES = re.compile(r"(--[a-z][-a-z0-9]*) / [a-z_][a-z0-9_]*=(?:True|False|None|'[^']*'|[-+0-9.e]+)?")
_CLI_AFTER = re.compile(r"\b[a-z_][a-z0-9_]*=(?:True|False|None|'[^']*'|[-+0-9.e]+)? \(CLI: (--[a-z][-a-z0-9]*)\)")


def flags_only(message: str) -> str:
    """A library message in the command line's words: ``--restart / resume=False`` -> ``--restart``,
    ``force=True (CLI: --force)`` -> ``--force``."""
    message = _CLI_AFTER.sub(r"\1", _BOTH_NAMES.sub(r"\1", message))
    return re.sub(r"; [a-z_][a-z0-9_]*= in Python", "", message)
