"""The registry of translation methods: name -> ``"module:Class"``, imported on first use (so heavy optional
dependencies load only when a method that needs them is used)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import VecbridgeError

if TYPE_CHECKING:  # pragma: no cover
    from .base import Translator

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
    "auto": "auto:AutoTranslator",
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
    if not isinstance(name, str):
        raise VecbridgeError(f"the method must be a name (a string), got {name!r}")
    key = ALIASES.get(name, name)
    if key not in REGISTRY:
        raise VecbridgeError(f"unknown method {name!r}; available: {', '.join(sorted(REGISTRY))}")
    module, _, cls = REGISTRY[key].partition(":")
    mod = importlib.import_module(module if "." in module else f"{__package__}.{module}")
    return getattr(mod, cls)
