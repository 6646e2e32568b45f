"""The static 64-d embedder of ``tokenlearn-static-model`` (Rust; fast, weak: for unit tests and smoke runs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import EncoderError
from .interface import Encoder


class Static64Encoder(Encoder):
    """A bag-of-token static model, 64-d, ~5,000 sentences/s on 2 cores."""

    name = "static64"
    dim = 64
    packages = ("tokenlearn-static-model",)
    sort_by_length = False
    default_batch_size = 512

    def _load(self) -> None:
        try:
            from static_model import get_embeddings
        except ImportError as e:
            raise EncoderError("static64 needs the package tokenlearn-static-model: pip install 'vecbridge[encoders]'") from e
        self._fn = get_embeddings

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._fn(texts), dtype=np.float32).reshape(len(texts), self.dim)


def static64(**opts: Any) -> Static64Encoder:
    if opts:
        raise EncoderError(f"static64 takes no options; got {sorted(opts)}")
    return Static64Encoder()
