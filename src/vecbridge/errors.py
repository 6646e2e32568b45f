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


class DataError(VecbridgeError):
    """A named data set is unknown, cannot be built, or does not hold what was expected."""


class DataUnavailableError(DataError):
    """A data set's source cannot be reached on this machine (a package or a tool is missing)."""


class EncoderError(VecbridgeError):
    """A text encoder cannot be found, loaded or run."""


class MissingDependencyError(VecbridgeError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""


class OutputExistsError(VecbridgeError, FileExistsError):
    """An output file or folder exists already and overwriting was not asked for."""


class ParameterError(VecbridgeError, ValueError):
    """A method or option was given an unknown parameter or a value of the wrong type or range."""


class CacheError(VecbridgeError):
    """A cache entry could not be written, read or removed."""


class ResumeMismatchError(VecbridgeError):
    """A partial run (stream or store migration) exists for this output but was made with other settings."""


class NotAlignedError(VecbridgeError):
    """A map fitted without pairs was judged "not aligned" and was neither saved nor used (CLI exit code 3)."""


class QualityGateError(VecbridgeError):
    """A migration's estimated retrieval retention is below the threshold; ``report`` holds the measurement."""

    def __init__(self, message: str, report: object = None):
        super().__init__(message)
        self.report = report


class RequestError(VecbridgeError):
    """A client error of the HTTP service: ``status`` (4xx), a message, and the request ``field`` at fault."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class ZeroRowError(VecbridgeError, ValueError):
    """Rows of all zeros were given to a map; ``rows`` holds their indices (0-based)."""

    def __init__(self, message: str, rows=None):
        super().__init__(message)
        self.rows = rows


class StrictInputError(VecbridgeError):
    """With ``--strict``: the input does not look like the space the map was fitted on (CLI exit code 5)."""
