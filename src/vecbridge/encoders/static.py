"""The static 64-d embedder of ``tokenlearn-static-model`` (Rust; fast, weak: for unit tests and smoke runs)."""

from __future__ import annotations

from pathlib import Path
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
    max_tokens = 512  # the model reads the first 512 tokens of a text
    _tokenizer: Any = None

    def _load(self) -> None:
        try:
            from static_model import get_embeddings
        except ImportError as e:
            raise EncoderError("static64 needs the package tokenlearn-static-model: pip install 'vecbridge[encoders]'") from e
        self._fn = get_embeddings
        self._tokenizer = _model_tokenizer()

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._tokenizer is not None:
            # a character makes at most 4 tokens (a ligature such as U+FDFA), so shorter texts cannot be cut
            long = [t for t in texts if 4 * len(t) > self.max_tokens]
            if long:
                self._truncated += sum(1 for e in self._tokenizer.encode_batch(long) if len(e.ids) > self.max_tokens)
        return np.asarray(self._fn(texts), dtype=np.float32).reshape(len(texts), self.dim)

    @property
    def counts_truncation(self) -> bool:  # type: ignore[override]
        return self._tokenizer is not None


def _model_tokenizer() -> Any:
    """The model's own tokenizer (to count texts cut at 512 tokens), or None where it cannot be read."""
    try:
        import static_model
        import tokenizers

        path = Path(static_model.__file__).parent / "model" / "tokenizer.json"
        return tokenizers.Tokenizer.from_file(str(path)) if path.is_file() else None
    except Exception:  # noqa: BLE001 - only the count of truncated texts depends on it
        return None


def static64(**opts: Any) -> Static64Encoder:
    if opts:
        raise EncoderError(f"static64 takes no options; got {sorted(opts)}")
    return Static64Encoder()
