"""``make_translator``: a translator by method name, its parameters checked before any data is read."""

from __future__ import annotations

from typing import Any

from ..errors import ParameterError, VecbridgeError
from .base import Translator, close_name
from .registry import ALIASES, REGISTRY, translator_class
from .whitening import PRESETS, MultiStep


def make_translator(name: str, **params: Any) -> Translator:
    """Build a translator by method name (``cca`` and ``recommended`` are MultiStep presets).

    Unknown parameter names and values of the wrong type raise :class:`~vecbridge.errors.ParameterError`
    here, before any data is read.
    """
    if not isinstance(name, str):
        raise ParameterError(f"the method must be a name (a string), got {name!r}")
    if name in PRESETS and name != "orthogonal":
        MultiStep.check_param_names(params, method=name)
        return MultiStep.preset(name, **params).check_params()
    try:
        cls = translator_class(name)
    except VecbridgeError as e:
        raise ParameterError(f"{e}{close_name(name, [*REGISTRY, *ALIASES, *PRESETS])}") from None
    cls.check_param_names(params, method=name)
    return cls(**params).check_params()


__all__ = ["make_translator"]
