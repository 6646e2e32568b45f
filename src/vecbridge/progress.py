"""Progress bars, one meaning everywhere.

``progress`` is ``True`` (always show), ``False`` (never) or ``None`` (the default: show when stderr is an
interactive terminal, as tqdm's own ``disable=None`` does). ``--quiet`` on the CLI passes ``False``.
"""

from __future__ import annotations

import sys
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


__all__ = ["progress_enabled", "progress_bar"]
