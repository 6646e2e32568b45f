"""Names that become paths: checked, and resolved inside their root, before anything is written or deleted.

A name that comes from a user (a cache builder, a LanceDB table, a Chroma collection, a service map) is
one path component made of letters, digits, ``_``, ``-`` and ``.``, starting with a letter or digit, without
``..``: never a separator, never a way out of the folder it is meant for. :func:`path_within` is the second
check, on the path actually used: resolved (symbolic links followed), it must lie inside its root.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from pathlib import Path

from .errors import ParameterError

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_LANCE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_CHROMA = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]")
MAX_NAME = 255
#: LanceDB keeps a table in the folder ``<name>.lance``, which must fit in ``MAX_NAME`` bytes too
LANCE_SUFFIX = ".lance"
MAX_TABLE = MAX_NAME - len(LANCE_SUFFIX)


def _rule(what: str) -> str:
    return (f"a {what} name is letters, digits, '_', '-' and '.', starting with a letter or digit, "
            "without '/', '\\' or '..'")


def check_name(name: object, what: str = "entry") -> str:
    """``name`` when it is a safe single path component (see the module docstring), else :class:`ParameterError`."""
    if not isinstance(name, str) or not name:
        raise ParameterError(f"the {what} name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME or not _SAFE.fullmatch(name) or ".." in name:
        raise ParameterError(f"{name!r} is not a valid {what} name: {_rule(what)}")
    return name


def check_store_name(name: object, kind: str) -> str:
    """A LanceDB ``table`` / Chroma ``collection`` name, or a ``column`` name, checked before any write.

    Tables: letters, digits, ``_ - .``, not starting with ``.`` or ``-``, no ``..``, at most ``MAX_TABLE`` (249)
    characters, so that LanceDB's folder ``<name>.lance`` fits in a file name. Collections (Chroma's own
    rule): 3 to 512 of those characters, starting and ending with a letter or digit, no ``..``. Columns: any
    non-empty text without ``.`` or control characters (a column never becomes a path by itself).
    """
    if not isinstance(name, str) or not name:
        raise ParameterError(f"the {kind} name must be a non-empty string, got {name!r}")
    if kind == "column":
        if any(ord(c) < 32 for c in name) or "." in name:
            raise ParameterError(f"{name!r} is not a valid column name: {store_name_rule(kind)}")
        return name
    if kind == "collection":
        ok = 3 <= len(name) <= 512 and _CHROMA.fullmatch(name) is not None and ".." not in name
    else:
        ok = len(name) <= MAX_TABLE and _LANCE.fullmatch(name) is not None and ".." not in name
    if not ok:
        size = f" ({len(name)} characters)" if len(name) > MAX_TABLE and kind != "collection" else ""
        raise ParameterError(f"{name!r}{size} is not a valid {kind} name: {store_name_rule(kind)}")
    return name


def store_name_rule(kind: str) -> str:
    """The rule :func:`check_store_name` applies, in words."""
    if kind == "collection":
        return ("3 to 512 letters, digits, '_', '-' or '.', starting and ending with a letter or digit, "
                "without '..' or '/'")
    if kind == "column":
        return "any text without '.' (LanceDB's path to a nested field) or control characters"
    return (f"letters, digits, '_', '-' and '.', not starting with '.' or '-', without '..' or '/', at most "
            f"{MAX_TABLE} characters (LanceDB keeps a table in the folder <name>{LANCE_SUFFIX})")


def path_within(root: str | os.PathLike, *parts: str, what: str = "path") -> Path:
    """``root/parts...``, refused (:class:`ParameterError`) unless it resolves to a path inside ``root``.

    Returns the path as joined (not resolved), so callers see the names they gave.
    """
    root = Path(root)
    path = root.joinpath(*parts)
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise ParameterError(f"the {what} {path} resolves to {real}, outside {real_root}; refusing to use it")
    return path


def file_name_of(*parts: str, sep: str = "__", suffix: str = "") -> str:
    """One file name made of ``parts``: every character other than letters, digits, ``_ - .`` is %-escaped,
    so the result never holds a separator whatever the parts hold (safe names come out unchanged)."""
    name = sep.join(urllib.parse.quote(str(p), safe="_-.") for p in parts)
    if len(name) + len(suffix) > MAX_NAME:  # long names: a prefix and a hash of the whole
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        name = f"{name[: MAX_NAME - len(suffix) - 17]}-{digest}"
    if name in (".", ".."):
        name = urllib.parse.quote(name, safe="").replace(".", "%2E")
    return name + suffix


__all__ = ["check_name", "check_store_name", "store_name_rule", "path_within", "file_name_of"]
