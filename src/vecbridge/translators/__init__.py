"""Translation methods, one family per module, all with the :class:`Translator` interface.

``translator_class(name)`` finds a method's class by its registry name
(imported lazily, so heavy optional dependencies load only when used);
``make_translator(name, **params)`` builds one.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import VecbridgeError
from .base import Translator, load_translator, read_manifest

# registry name -> "module:Class"; modules are imported on first use
REGISTRY: dict[str, str] = {
    "identity": "linear:Identity",
    "lstsq": "linear:LeastSquares",
    "procrustes": "linear:Procrustes",
    "multistep": "whitening:MultiStep",
    "selflearn": "selflearn:SelfLearning",
    "rcsls": "rcsls:RCSLS",
    "mlp": "neural:MLPAdapter",
    "lowrank": "neural:LowRankAffine",
    "cluster-match": "matching:ClusterMatching",
    "spectral-match": "spectral:SpectralMatching",
    "vec2vec": "adversarial:Vec2Vec",
}
ALIASES: dict[str, str] = {
    "least-squares": "lstsq",
    "linear": "lstsq",
    "ridge": "lstsq",
    "orthogonal": "procrustes",
    "artetxe": "multistep",
    "whitening": "multistep",
}


def register(name: str, target: str) -> None:
    """Add a method: ``register("mymethod", "mypkg.module:Class")`` (absolute) or ``"module:Class"``."""
    REGISTRY[name] = target


def translator_class(name: str) -> type[Translator]:
    key = ALIASES.get(name, name)
    if key not in REGISTRY:
        raise VecbridgeError(f"unknown method {name!r}; available: {', '.join(sorted(REGISTRY))}")
    module, _, cls = REGISTRY[key].partition(":")
    mod = importlib.import_module(module if "." in module else f"{__name__}.{module}")
    return getattr(mod, cls)


def make_translator(name: str, **params: Any) -> Translator:
    """Build a translator by method name; for ``cca`` and ``recommended`` the MultiStep preset."""
    from .whitening import PRESETS, MultiStep

    if name in PRESETS and name != "orthogonal":
        return MultiStep.preset(name, **params)
    return translator_class(name)(**params)


__all__ = ["Translator", "load_translator", "read_manifest", "translator_class", "make_translator", "register", "REGISTRY"]
