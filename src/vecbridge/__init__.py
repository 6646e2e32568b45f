"""vecbridge: translate embeddings from one vector space into another.

The top level stays light (numpy only); methods, readers and encoders import
their heavy dependencies when used.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
]
