"""Which rows of several spaces are the same item: the ``items`` of :meth:`vecbridge.hub.Hub.fit`.

``items[name]`` is an int64 array, one entry per row of that space: the id of the item the row stands for,
or -1 for a row that stands for no known item. Two ways to build them:

- :func:`paired_items`: row i of every space is item i (all spaces must have the same number of rows);
- :func:`read_table` + :func:`table_items`: a multi-column dictionary, a TSV file whose header row names
  the spaces (one column per space) and whose every other row is one item: the key of that item in each
  space, or an empty cell where a space lacks it. Keys missing from a space's vectors, and keys that
  appear in two rows of one column, are counted and reported (never silently dropped).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import FormatError, VecbridgeError
from .core import check_space_name


def paired_items(sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Row i of every space is item i; ``sizes``: name -> row count (all equal)."""
    counts = set(sizes.values())
    if len(counts) != 1:
        listed = ", ".join(f"{n}: {c}" for n, c in sizes.items())
        raise VecbridgeError(f"--paired needs as many rows in every space (row i is the same item everywhere); "
                             f"got {listed}")
    return {n: np.arange(c, dtype=np.int64) for n, c in sizes.items()}


def read_table(path: str | os.PathLike, encoding: str = "utf-8") -> tuple[list[str], list[list[str]]]:
    """``(space names, rows)`` of a multi-column dictionary (see the module doc). Errors name file and line."""
    try:
        with open(path, encoding=encoding) as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise FormatError("no such file", path) from None
    except UnicodeDecodeError as e:
        raise FormatError(f"not valid {encoding} text ({e.reason} at byte {e.start})", path) from None
    body = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")]
    if not body:
        raise FormatError("the dictionary is empty; its first line must name the spaces (tab-separated)", path)
    head_line, head = body[0]
    names = [c.strip() for c in head.split("\t")]
    if len(names) < 2:
        raise FormatError("the header must name at least two spaces, separated by tabs", path, head_line)
    for n in names:
        try:
            check_space_name(n)
        except VecbridgeError as e:
            raise FormatError(f"header: {e}", path, head_line) from None
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FormatError(f"header: the space {dup!r} names two columns", path, head_line)
    rows = []
    for lineno, line in body[1:]:
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) > len(names):
            raise FormatError(f"{len(cells)} cells for {len(names)} columns ({', '.join(names)})", path, lineno)
        cells += [""] * (len(names) - len(cells))
        if sum(bool(c) for c in cells) == 0:
            continue
        rows.append(cells)
    if not rows:
        raise FormatError("the dictionary has a header but no rows", path)
    return names, rows


def table_items(columns: Sequence[str], rows: Sequence[Sequence[str]], spaces: Mapping[str, Embeddings],
                ignore_columns: Sequence[str] = ()) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(items, report)`` from a multi-column dictionary for the given keyed spaces.

    Every column must be a space of ``spaces`` or listed in ``ignore_columns`` (e.g. hub spaces whose vectors
    were not given). ``report``: per space the keys found, missing from its vectors, and repeated.
    """
    unknown = [c for c in columns if c not in spaces and c not in ignore_columns]
    if unknown:
        raise VecbridgeError(f"the dictionary has a column {unknown[0]!r}, which is not a space given with --name "
                             f"(spaces: {', '.join(spaces)})")
    items = {n: np.full(len(e), -1, dtype=np.int64) for n, e in spaces.items()}
    report: dict[str, Any] = {"rows": len(rows)}
    for c, name in enumerate(columns):
        if name not in spaces:
            continue
        index = spaces[name].index
        found = missing = repeated = 0
        example = None
        for r, cells in enumerate(rows):
            key = cells[c]
            if not key:
                continue
            row = index.get(key)
            if row is None:
                missing += 1
                example = example or key
            elif items[name][row] >= 0:
                repeated += 1
            else:
                items[name][row] = r
                found += 1
        report[name] = {"found": found, "missing": missing, "repeated": repeated,
                        **({"first_missing": example} if example else {})}
    return items, report


__all__ = ["paired_items", "read_table", "table_items"]
