"""``vecbridge`` entry point. Each sub-command lives in its own module of this package
and exposes ``add_parser(subparsers)``, which registers the command and sets
``func`` (taking the parsed args, returning an exit code).

Exit codes: 0 done; 1 an error (a one-line message on stderr, never a traceback, for anything vecbridge
or the file system refuses); 2 a usage error: a bad option value (argparse's own code, also used for a
``--param`` the method refuses); 3 a fit refused as not aligned; 4 a quality gate failed; 5 a strict
input check failed; 130 interrupted.

The library's messages name the command-line flag to act on and the Python argument beside it where they
differ (``--overwrite / overwrite=True``), so the same text serves both; the command line shows them with the
flags only (:func:`~vecbridge.cli.options.flags_only`)."""

from __future__ import annotations

import importlib
import sys
import warnings

from ..version import __version__
from ..errors import ParameterError, StrictInputError, VecbridgeError
from .options import ArgumentParser, HelpFormatter, flags_only, param_error_message

#: exit codes (see the module docstring)
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STRICT = 5

# sub-command modules, in the order ``--help`` lists them
COMMAND_MODULES = [
    "fit",
    "translate",
    "evaluate",
    "evaluate_retrieval",
    "neighbors",
    "suggest",
    "diagnose",
    "merge",
    "dimension",
    "update",
    "plot",
    "report",
    "audit",
    "embed",
    "data",
    "migrate",
    "hub",
    "serve",
]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="vecbridge",
        description="Translate embeddings from one vector space into another.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vecbridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"vecbridge {args.command}"
    shown = warnings.showwarning
    warnings.showwarning = _one_line(prog, shown)
    try:
        return _run(args, prog)
    finally:
        warnings.showwarning = shown


def _one_line(prog: str, default):
    """Warnings raised in vecbridge's own code as one line, ``vecbridge CMD: warning: ...``, like its errors
    (not Python's ``FILE:LINE: Category: ...`` with a line of source); others as Python shows them."""

    def show(message, category, filename, lineno, file=None, line=None):
        if "vecbridge" in str(filename) and issubclass(category, UserWarning):
            print(f"{prog}: warning: {flags_only(str(message))}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def _run(args, prog: str) -> int:
    try:
        return int(args.func(args) or 0)
    except ParameterError as e:
        print(f"{prog}: error: {flags_only(param_error_message(e, getattr(args, 'param', None)))}", file=sys.stderr)
        return EXIT_USAGE
    except StrictInputError as e:
        print(f"{prog}: error: {flags_only(str(e))}", file=sys.stderr)
        return EXIT_STRICT
    except VecbridgeError as e:
        print(f"{prog}: error: {flags_only(str(e))}", file=sys.stderr)
        return EXIT_ERROR
    except UnicodeError as e:
        print(f"{prog}: error: {_unicode_message(e)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        if isinstance(e, BrokenPipeError):  # the reader of our output went away (| head)
            return EXIT_ERROR
        print(f"{prog}: error: {_os_message(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _os_message(e: OSError) -> str:
    if e.filename is not None and e.strerror:
        where = f"{e.filename}" + (f" -> {e.filename2}" if e.filename2 else "")
        return f"{where}: {e.strerror}"
    return str(e) or type(e).__name__


def _unicode_message(e: UnicodeError) -> str:
    if isinstance(e, UnicodeDecodeError):
        return (f"a file is not valid {e.encoding} text ({e.reason} at byte {e.start}); save it as UTF-8, or "
                "name its encoding with --encoding where the command reads it (e.g. --encoding latin-1)")
    return str(e)


if __name__ == "__main__":
    sys.exit(main())
