"""Progress bars, one meaning everywhere.

``progress`` is ``True`` (always show), ``False`` (never) or ``None`` (the default: show when stderr is an
interactive terminal, as tqdm's own ``disable=None`` does). ``--quiet`` on the CLI passes ``False``.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from collections.abc import Iterator
from typing import Any


def progress_enabled(progress: bool | None) -> bool:
    """``None`` means: show progress when stderr is an interactive terminal."""
    if progress is None:
        try:
            return bool(sys.stderr.isatty())
        except (AttributeError, ValueError):
            return False
    return bool(progress)


def progress_bar(total: int | None, desc: str, progress: bool | None = None, unit: str = "it", **kwargs: Any) -> Any:
    """A tqdm bar that shows only when :func:`progress_enabled`; ``unit="B"`` scales bytes.

    Extra keyword arguments go to tqdm (``initial``, ``leave``, ...).
    """
    from tqdm.auto import tqdm

    opts: dict[str, Any] = {
        "unit_scale": unit in ("B", "rows"),
        "unit_divisor": 1024 if unit == "B" else 1000,
        "leave": False,
        "dynamic_ncols": True,
    }
    opts.update(kwargs)
    return tqdm(total=total, desc=desc, unit=unit, disable=not progress_enabled(progress), **opts)


class _StderrLines(logging.Handler):
    """Each record as a ``PROG: message`` line on stderr (through tqdm, so that a progress bar stays intact)."""

    def __init__(self, prog: str):
        super().__init__(logging.INFO)
        self.prog = prog

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{self.prog}: {record.getMessage()}"
            try:
                from tqdm.auto import tqdm

                tqdm.write(line, file=sys.stderr)
            except ImportError:
                print(line, file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging's own convention
            self.handleError(record)


@contextmanager
def log_lines(logger: str, prog: str, enabled: bool = True) -> Iterator[None]:
    """While the block runs, print ``logger``'s info messages as ``PROG: message`` lines on stderr, on a
    terminal or not (the command line's running report; ``enabled=False`` with --quiet). The library itself
    configures no handler, so its users see these messages only when they configure logging."""
    if not enabled:
        yield
        return
    log = logging.getLogger(logger)
    handler, level = _StderrLines(prog), log.level
    log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


__all__ = ["progress_enabled", "progress_bar", "log_lines"]
