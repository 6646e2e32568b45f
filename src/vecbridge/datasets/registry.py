"""The named data sets: what each is, where it comes from, and how to build it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import VecbridgeError


class DataError(VecbridgeError):
    """A data set is unknown, cannot be fetched, or does not hold what was expected."""


class DataUnavailableError(DataError):
    """A data set's source cannot be reached on this machine (a package or a tool is missing)."""


@dataclass(frozen=True)
class DatasetInfo:
    """One named builder. ``params``: the defaults; ``load(name, **params)`` overrides them."""

    name: str
    kind: str  # corpus | parallel | words | evaluation
    description: str
    size: str
    licence: str
    source: str
    builder: Callable[..., Any]
    params: dict[str, Any] = field(default_factory=dict)
    needs_apt: bool = False
    build_time: str = ""


_REGISTRY: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    _REGISTRY[info.name] = info
    return info


def dataset_info(name: str) -> DatasetInfo:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; choose from {', '.join(_REGISTRY)}") from None


def list_datasets() -> list[DatasetInfo]:
    """Every named data set, in registration order."""
    _ensure_loaded()
    order = {"corpus": 0, "parallel": 1, "words": 2, "evaluation": 3}
    return sorted(_REGISTRY.values(), key=lambda d: order.get(d.kind, 9))


def load(name: str, **params: Any) -> Any:
    """Build (or read from the cache) the data set ``name`` with ``params`` over its defaults.

    Returns a :class:`~vecbridge.datasets.Corpus` (corpora), a
    :class:`~vecbridge.datasets.ParallelCorpus` (aligned verses), an
    :class:`~vecbridge.Embeddings` (word sets) or parsed evaluation data.
    """
    info = dataset_info(name)
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        raise DataError(f"data set {name!r} takes parameters {sorted(info.params) or 'none'}; got unknown {unknown}")
    merged = {**info.params, **params}
    return info.builder(**merged)


def _ensure_loaded() -> None:
    # importing the builder modules registers them
    from . import corpora, evaluation, words  # noqa: F401
