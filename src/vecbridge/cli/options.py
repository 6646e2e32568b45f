"""Options and small helpers shared by several sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import VecbridgeError


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the example blocks as written."""


def add_command(sub, name: str, help: str, example: str, func) -> argparse.ArgumentParser:
    """Register a sub-command whose ``--help`` ends with an example."""
    p = sub.add_parser(name, help=help, description=help, epilog=f"example:\n{example}", formatter_class=HelpFormatter)
    p.set_defaults(func=func)
    return p


def add_read_options(p: argparse.ArgumentParser, *names: str) -> None:
    """``--NAME-format`` per input, plus ``--limit`` and ``--lenient``."""
    for n in names:
        p.add_argument(f"--{n}-format", default=None, help=f"format of {n.upper()} (default: detected from content)")
    p.add_argument("--limit", type=int, default=None, help="read only the first N rows of each file (frequency order)")
    p.add_argument(
        "--lenient", action="store_true",
        help="skip bad rows (ragged, non-numeric, NaN/Inf, duplicate keys), counting and reporting them, instead of failing",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or summaries on stderr")


def read_input(path: str, fmt: str | None, args: argparse.Namespace):
    """Read one embeddings file with the shared options; reports skipped rows on stderr."""
    from ..io import read_embeddings

    emb = read_embeddings(
        path, format=fmt, limit=args.limit, on_error="skip" if args.lenient else "raise",
        progress=False if args.quiet else None,
    )
    report = emb.meta.get("read_report")
    if report and not args.quiet and any(v for k, v in report.items() if k.startswith("skipped")):
        info(args, f"{path}: {json.dumps(report)}")
    return emb


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["ridge=0.1", "bias=true"]`` -> ``{"ridge": 0.1, "bias": True}`` (JSON values, else strings)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise VecbridgeError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def info(args: argparse.Namespace, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)
