"""Containers for sentence corpora: texts with ids (and labels), and verse-aligned translations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError


@dataclass
class Corpus:
    """Texts with unique ids, optional labels (one per text) and metadata.

    ``meta["fingerprint"]`` identifies the exact build (builder, parameters, package
    versions); encodings of this corpus are cached under it.
    """

    name: str
    ids: list[str]
    texts: list[str]
    labels: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise DataError(f"corpus {self.name}: {len(self.ids)} ids for {len(self.texts)} texts")
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise DataError(f"corpus {self.name}: {len(self.labels)} labels for {len(self.texts)} texts")
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"Corpus({self.name!r}, n={len(self)})"

    @property
    def fingerprint(self) -> str:
        return str(self.meta.get("fingerprint", self.name))

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.ids)}
        return self._index

    def texts_of(self, ids: Sequence[str]) -> list[str]:
        """Texts for ``ids`` (in that order); an unknown id raises naming it."""
        idx = self.index
        out = []
        for k in ids:
            i = idx.get(k)
            if i is None:
                raise DataError(f"id {k!r} is not in corpus {self.name} ({len(self)} texts)")
            out.append(self.texts[i])
        return out

    def take(self, rows: Sequence[int] | np.ndarray) -> Corpus:
        rows = [int(r) for r in rows]
        labels = [self.labels[r] for r in rows] if self.labels is not None else None
        return Corpus(self.name, [self.ids[r] for r in rows], [self.texts[r] for r in rows], labels, dict(self.meta))

    def sample(self, n: int, seed: int = 0) -> Corpus:
        """``n`` texts drawn without replacement (``numpy.random.default_rng(seed)``)."""
        if n > len(self):
            raise DataError(f"cannot sample {n} texts from corpus {self.name}, which has {len(self)}")
        return self.take(np.random.default_rng(seed).permutation(len(self))[:n])

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ids": self.ids, "texts": self.texts, "labels": self.labels, "meta": self.meta}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Corpus:
        return cls(d["name"], d["ids"], d["texts"], d.get("labels"), d.get("meta") or {})


@dataclass
class ParallelCorpus:
    """The same units (verses) in several languages, aligned by id: ``texts[lang][i]`` is unit ``ids[i]``."""

    name: str
    ids: list[str]
    texts: dict[str, list[str]]
    labels: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for lang, t in self.texts.items():
            if len(t) != len(self.ids):
                raise DataError(f"parallel corpus {self.name}: {len(t)} {lang} texts for {len(self.ids)} ids")

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"ParallelCorpus({self.name!r}, n={len(self)}, langs={list(self.texts)})"

    @property
    def langs(self) -> list[str]:
        return list(self.texts)

    def corpus(self, lang: str) -> Corpus:
        """One language as a :class:`Corpus` (same ids; fingerprint extended by the language)."""
        if lang not in self.texts:
            raise DataError(f"parallel corpus {self.name} has languages {self.langs}; not {lang!r}")
        meta = dict(self.meta)
        meta["fingerprint"] = f"{self.meta.get('fingerprint', self.name)}:{lang}"
        meta["lang"] = lang
        return Corpus(f"{self.name}-{lang}", list(self.ids), list(self.texts[lang]), self.labels, meta)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ids": self.ids, "texts": self.texts, "labels": self.labels, "meta": self.meta}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ParallelCorpus:
        return cls(d["name"], d["ids"], d["texts"], d.get("labels"), d.get("meta") or {})
