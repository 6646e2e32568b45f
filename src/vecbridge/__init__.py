"""vecbridge: translate embeddings from one vector space into another.

The top level stays light (numpy only); methods, readers and encoders import
their heavy dependencies when used.
"""

from __future__ import annotations

from .version import __version__

from .embeddings import Embeddings
from .errors import DimensionError, FormatError, KeyMissingError, ManifestError, NotFittedError, VecbridgeError
from .translators import Translator, load_translator, make_translator

__all__ = [
    "__version__",
    "Embeddings",
    "Translator",
    "load_translator",
    "make_translator",
    "VecbridgeError",
    "FormatError",
    "DimensionError",
    "KeyMissingError",
    "ManifestError",
    "NotFittedError",
    "Hub",
    "load_hub",
]


def __getattr__(name: str):
    """``vecbridge.Hub`` / ``vecbridge.load_hub``, imported on first use (docs/hub.md)."""
    if name in ("Hub", "load_hub"):
        import importlib

        return getattr(importlib.import_module(f"{__name__}.hub"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
