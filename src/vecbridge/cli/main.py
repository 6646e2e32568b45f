"""``vecbridge`` entry point. Each sub-command lives in its own module of this package
and exposes ``add_parser(subparsers)``, which registers the command and sets
``func`` (taking the parsed args, returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import VecbridgeError

# sub-command modules, in the order ``--help`` lists them
COMMAND_MODULES = [
    "fit",
    "translate",
    "evaluate",
    "neighbors",
    "suggest",
    "diagnose",
    "merge",
    "dimension",
    "update",
    "plot",
    "report",
    "embed",
    "data",
    "migrate",
    "serve",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vecbridge",
        description="Translate embeddings from one vector space into another.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    try:
        return int(args.func(args) or 0)
    except VecbridgeError as e:
        print(f"vecbridge {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
