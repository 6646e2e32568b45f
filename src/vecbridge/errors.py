"""Exceptions raised by vecbridge.

Every error says what was wrong and where (file, line, key) so that the user
can act on it without reading the source.
"""

from __future__ import annotations

import os


class VecbridgeError(Exception):
    """Base class of every error vecbridge raises on purpose."""


class FormatError(VecbridgeError, ValueError):
    """A file or buffer does not hold what its format promises.

    ``path`` and ``line`` (1-based) locate the problem when known.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, line: int | None = None):
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)


class DimensionError(VecbridgeError, ValueError):
    """Vectors of the wrong dimension were given to a map or an index."""


class KeyMissingError(VecbridgeError, KeyError):
    """A key was asked for that the embeddings do not hold."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class ManifestError(VecbridgeError, ValueError):
    """A saved map's manifest or weights cannot be read or do not fit together."""


class NotFittedError(VecbridgeError, RuntimeError):
    """A translator was used before ``fit``."""
