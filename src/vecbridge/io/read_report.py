"""What a reader skipped and why: the strict/skip policy and its report."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError

#: why a row can be skipped with ``on_error="skip"``
SKIP_REASONS = ("ragged", "non_numeric", "non_finite", "duplicate_key", "bad_encoding", "bad_key", "missing")

#: how many line numbers the report keeps per reason
FIRST_N = 5


class ReadWarning(UserWarning):
    """Issued (once per read) when rows were skipped or the file disagreed with its header."""


@dataclass
class ReadReport:
    """Counts of what a read kept and skipped.

    Attributes
    ----------
    path, format : where and how it was read.
    unit : what ``first`` numbers count: ``"line"`` (1-based, text formats),
        ``"record"`` (1-based, word2vec binary, header excluded) or ``"row"``
        (0-based, array and parquet formats).
    rows : rows returned.
    seen : data rows (lines, records) looked at, kept or not.
    header_rows, header_dim : what the header announced (word2vec formats), else None.
    skipped : reason -> count, for the reasons in ``SKIP_REASONS``.
    first : reason -> the first few ``unit`` numbers skipped for it.
    notes : problems with the file as a whole (e.g. the header disagrees with the rows).
    stopped_at_limit : reading stopped at ``limit`` rows, before the end of the file.
    blank_lines : empty lines ignored (text formats).
    """

    path: str
    format: str
    unit: str = "line"
    rows: int = 0
    seen: int = 0
    header_rows: int | None = None
    header_dim: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    first: dict[str, list[int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stopped_at_limit: bool = False
    blank_lines: int = 0

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def add_skip(self, reason: str, where: int) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        lst = self.first.setdefault(reason, [])
        if len(lst) < FIRST_N:
            lst.append(int(where))

    def summary(self) -> str:
        """One line for humans."""
        parts = [f"{self.path}: read {self.rows} rows"]
        if self.skipped:
            detail = ", ".join(
                f"{r}: {c} (first {self.unit}s {', '.join(map(str, self.first.get(r, [])))})"
                for r, c in self.skipped.items()
            )
            parts.append(f"skipped {self.total_skipped} ({detail})")
        parts.extend(self.notes)
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict (what ``Embeddings.meta["read_report"]`` holds)."""
        return {
            "path": self.path,
            "format": self.format,
            "unit": self.unit,
            "rows": self.rows,
            "seen": self.seen,
            "header_rows": self.header_rows,
            "header_dim": self.header_dim,
            "skipped": dict(self.skipped),
            "first": {k: list(v) for k, v in self.first.items()},
            "notes": list(self.notes),
            "stopped_at_limit": self.stopped_at_limit,
            "blank_lines": self.blank_lines,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReadReport:
        return cls(**d)


class RowPolicy:
    """Applies ``on_error``: raise a located :class:`FormatError`, or count the skip."""

    def __init__(self, path: str, on_error: str, report: ReadReport):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.path = path
        self.strict = on_error == "raise"
        self.report = report
        #: key -> where it first occurred (for duplicate messages)
        self.seen_keys: dict[str, int] = {}

    def where(self, n: int) -> str:
        unit = self.report.unit
        return f"{unit} {n}" + (" (0-based)" if unit == "row" else "")

    def bad(self, reason: str, where: int, message: str) -> None:
        """A bad row: raise in strict mode, else count it."""
        if self.strict:
            hint = " (--lenient / on_error='skip' skips such rows and counts them)"
            if self.report.unit == "line":
                raise FormatError(message + hint, self.path, where)
            raise FormatError(f"{self.where(where)}: {message}{hint}", self.path)
        self.report.add_skip(reason, where)

    def file_level(self, message: str, line: int | None = None) -> None:
        """A disagreement about the whole file (e.g. header vs rows): error when strict, note when skipping."""
        if self.strict:
            raise FormatError(message, self.path, line)
        self.report.notes.append(message)

    def accept_key(self, key: str, where: int) -> bool:
        """False (after counting) for a repeated key; raises in strict mode."""
        first = self.seen_keys.setdefault(key, where)
        if first == where:
            return True
        self.bad(
            "duplicate_key",
            where,
            f"duplicate key {key!r} (first seen at {self.where(first)}); keys must be unique",
        )
        return False

    def finish(self, n_rows: int, stacklevel: int = 4) -> None:
        """Set the row count, refuse an empty result, warn once when anything was skipped."""
        self.report.rows = n_rows
        if n_rows == 0 and self.report.total_skipped:
            raise FormatError(
                f"no usable rows: all {self.report.seen} were skipped ({self.report.summary()})",
                self.path,
            )
        if self.report.total_skipped or self.report.notes:
            warnings.warn(self.report.summary(), ReadWarning, stacklevel=stacklevel)
