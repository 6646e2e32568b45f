"""Optional dependencies: imported where used, with an error that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra that provides it.

    >>> np = require("numpy", "core", "arrays")
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"{purpose} needs {top}, which is not installed: pip install 'vecbridge[{extra}]' ({e})"
        ) from None


def available(module: str) -> bool:
    """True when ``module`` can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


__all__ = ["require", "available"]
