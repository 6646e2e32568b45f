"""Translation methods, one family per module, all with the :class:`Translator` interface.

``translator_class(name)`` finds a method's class by its registry name
(imported lazily, so heavy optional dependencies load only when used);
``make_translator(name, **params)`` builds one.
"""

from __future__ import annotations

from .base import FitData, Translator, UnsupervisedTranslator, check_map_output, load_translator, read_manifest
from .factory import make_translator
from .registry import ALIASES, REGISTRY, register, translator_class

__all__ = ["ALIASES", "Translator", "UnsupervisedTranslator", "FitData", "check_map_output", "load_translator", "read_manifest", "translator_class", "make_translator", "register", "REGISTRY"]
