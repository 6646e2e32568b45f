"""The one interface every text encoder implements."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EncoderError
from ..normalize import unit_rows
from ..progress import progress_bar


def set_offline_env() -> None:
    """Forbid hub downloads in this process (set before loading transformers / sentence-transformers)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def check_texts(texts: Any) -> list[str]:
    """A list of str from a str or a sequence of str; anything else raises with the offending position."""
    if isinstance(texts, str):
        return [texts]
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise EncoderError(f"text {i} is a {type(t).__name__}, not a str: {t!r}")
    return out


class Encoder:
    """A text encoder: ``encode(texts) -> float32 (n, dim)``, L2-normalised unless asked otherwise.

    Subclasses set ``name``, ``dim``, ``packages`` (distributions whose versions identify the
    weights) and implement ``_load()`` (called once, lazily) and ``_encode_batch(texts)``.
    ``sort_by_length`` batches texts of similar length together (less padding) and restores
    the input order afterwards.

    ``max_tokens``: the longest input the model reads, in tokens; a longer text is cut there (None: no limit
    known). After each :meth:`encode`, ``last_truncated`` holds how many of its texts were cut, or None where
    the encoder cannot count them; subclasses that can count add to ``_truncated`` in ``_encode_batch``.
    """

    name: str = "encoder"
    dim: int = 0
    packages: tuple[str, ...] = ()
    sort_by_length: bool = True
    default_batch_size: int = 64
    max_tokens: int | None = None
    counts_truncation: bool = False

    def __init__(self) -> None:
        self._loaded = False
        self.last_truncated: int | None = None
        self._truncated = 0

    # -- identity -----------------------------------------------------------
    @property
    def options(self) -> dict[str, Any]:
        """Options that change the vectors (part of cache keys)."""
        return {}

    @property
    def cache_id(self) -> dict[str, Any]:
        """What identifies this encoder's outputs: name, options and package versions."""
        from ..cache import package_versions

        return {"name": self.name, "options": self.options, "versions": package_versions(self.packages)}

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}{opts})"

    # -- work ---------------------------------------------------------------
    def load(self) -> Encoder:
        """Load weights now (otherwise done on the first ``encode``)."""
        if not self._loaded:
            self._load()
            self._loaded = True
        return self

    def _load(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_batch(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, texts: str | Sequence[str], batch_size: int | None = None, normalize: bool = True,
               progress: bool | None = None) -> np.ndarray:
        """Encode texts.

        Parameters
        ----------
        texts : str or sequence of n str
        batch_size : texts per forward pass (default: the encoder's own)
        normalize : scale rows to unit L2 length
        progress : True shows a tqdm bar (sentences per second), False hides it, None shows it
            on a terminal only

        Returns
        -------
        float32 array of shape (n, dim) (``(1, dim)`` for a single str). Texts longer than ``max_tokens``
        are cut there; ``last_truncated`` then says how many were (None: not counted by this encoder).
        """
        items = check_texts(texts)
        bs = self.default_batch_size if batch_size is None else int(batch_size)
        if bs < 1:
            raise EncoderError(f"batch_size must be >= 1, got {bs}")
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        self._truncated = 0
        self.last_truncated = None
        if not items:
            return out
        self.load()
        order = np.argsort([-len(t) for t in items], kind="stable") if self.sort_by_length else np.arange(len(items))
        bar = progress_bar(len(items), self.name, progress, unit="sent")
        try:
            for start in range(0, len(items), bs):
                rows = order[start:start + bs]
                vecs = np.asarray(self._encode_batch([items[i] for i in rows]), dtype=np.float32)
                if vecs.shape != (len(rows), self.dim):
                    raise EncoderError(f"{self.name} returned shape {vecs.shape} for {len(rows)} texts; "
                                       f"expected ({len(rows)}, {self.dim})")
                out[rows] = vecs
                bar.update(len(rows))
        finally:
            bar.close()
        self.last_truncated = self._truncated if self.counts_truncation else None
        return unit_rows(out) if normalize else out
