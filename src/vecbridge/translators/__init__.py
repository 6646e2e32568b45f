"""Translation methods, one family per module, all with the :class:`Translator` interface.

``translator_class(name)`` finds a method's class by its registry name
(imported lazily, so heavy optional dependencies load only when used);
``make_translator(name, **params)`` builds one.
"""

from __future__ import annotations

from typing import Any

from .base import FitData, Translator, UnsupervisedTranslator, check_map_output, load_translator, read_manifest
from .registry import ALIASES, REGISTRY, register, translator_class


def make_translator(name: str, **params: Any) -> Translator:
    """Build a translator by method name (``cca`` and ``recommended`` are MultiStep presets).

    Unknown parameter names and values of the wrong type raise :class:`~vecbridge.errors.ParameterError`
    here, before any data is read.
    """
    from .whitening import PRESETS, MultiStep

    if name in PRESETS and name != "orthogonal":
        MultiStep.check_param_names(params)
        return MultiStep.preset(name, **params).check_params()
    cls = translator_class(name)
    cls.check_param_names(params)
    return cls(**params).check_params()


__all__ = ["ALIASES", "Translator", "UnsupervisedTranslator", "FitData", "check_map_output", "load_translator", "read_manifest", "translator_class", "make_translator", "register", "REGISTRY"]
