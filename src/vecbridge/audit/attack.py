"""The attack's pieces: translate leaked vectors into a known space, then read them.

- :func:`fit_translation`: an unsupervised map from the leaked vectors to the public texts' vectors (``auto``
  by default), with its verdict;
- :func:`rank_attributes`: zero-shot attribute inference, attribute descriptions ranked by cosine;
- :func:`nearest_texts`: the nearest public texts of each vector;
- :class:`WordProbe`: a bag-of-words probe, a multi-output ridge regression from known-space vectors to the
  presence of each vocabulary word, its threshold chosen on a held-out part of the public texts.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..datasets.segmentation import tokenize_words
from ..encoders import Encoder
from ..errors import DimensionError, EncoderError, ParameterError, VecbridgeError
from ..neighbors import top_k
from ..normalize import unit_rows
from ..sampling import sample_rows
from ..translators import Translator, make_translator
from ..verdict import judge_inputs

#: words that carry no content (left out of the probe's vocabulary and of word overlaps)
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing don't down during each even ever every few for from further had has have
having he her here hers herself him himself his how however i if in into is it it's its itself just least less
let like made make many may me might more most much must my myself near neither no nor not now of off often on
once one only or other others our ours ourselves out over own per rather said same say says she should since so
some such than that that's the their theirs them themselves then there these they this those though through thus
to too two under until up upon us very was we were what when where whether which while who whom whose why will
with within without would yet you your yours yourself yourselves also shall unto thee thou thy thine ye hath
saith also mr mrs ms its new year years last first three get got go going went told tell
""".split())


def content_words(text: str) -> set[str]:
    """The text's distinct lower-case words of 3 letters or more that are not stop words."""
    return {w for w in tokenize_words(text) if len(w) >= 3 and w not in STOP_WORDS}


def build_vocabulary(texts: Sequence[str], size: int) -> list[str]:
    """The ``size`` content words found in the most texts (ties: alphabetical); words in one text only are
    left out."""
    df: Counter[str] = Counter()
    for t in texts:
        df.update(content_words(t))
    ranked = sorted((w for w, c in df.items() if c >= 2), key=lambda w: (-df[w], w))
    return ranked[: int(size)]


def word_matrix(texts: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """(n, V) bool: does text i contain vocabulary word j."""
    index = {w: j for j, w in enumerate(vocabulary)}
    out = np.zeros((len(texts), len(vocabulary)), dtype=bool)
    for i, t in enumerate(texts):
        cols = [index[w] for w in content_words(t) if w in index]
        out[i, cols] = True
    return out


# -- encoders -------------------------------------------------------------------------------------------
def encoder_in_mode(encoder: Any, mode: str) -> Any:
    """The encoder in ``mode`` ("query" / "passage") where it has modes (e5), else the encoder itself. A
    copy shares the loaded model."""
    opts = getattr(encoder, "options", None)
    if isinstance(opts, dict) and "mode" in opts and opts["mode"] != mode:
        if hasattr(encoder, "load"):
            encoder.load()
        other = copy.copy(encoder)
        other.mode = mode
        return other
    return encoder


def encoder_name(encoder: Any) -> str:
    return str(getattr(encoder, "name", None) or type(encoder).__name__)


def encode(encoder: Any, texts: Sequence[str], what: str, progress: bool | None = None) -> np.ndarray:
    """(n, d) float32 vectors of ``texts``; an encoder that returns something else is an :class:`EncoderError`."""
    texts = list(texts)
    if isinstance(encoder, Encoder):
        vecs = encoder.encode(texts, progress=progress)
    else:
        vecs = encoder.encode(texts)
    vecs = np.asarray(vecs, dtype=np.float32)
    if vecs.ndim != 2 or len(vecs) != len(texts):
        raise EncoderError(f"encoder {encoder_name(encoder)} returned shape {vecs.shape} for the {len(texts)} "
                           f"texts of {what}")
    if not np.isfinite(vecs).all():
        raise EncoderError(f"encoder {encoder_name(encoder)} returned NaN or infinite values for {what}")
    return vecs


# -- translation ------------------------------------------------------------------------------------------
@dataclass
class Translation:
    """A fitted map from the leaked space into the known space and what is known about it."""

    translator: Translator
    method: str
    verdict: str | None
    confidence: float | None
    fit_seconds: float
    fit_rows: tuple[int, int]
    candidates: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "verdict": self.verdict, "confidence": self.confidence,
                "reason": self.reason, "fit_seconds": round(self.fit_seconds, 2),
                "fit_rows": {"leaked": self.fit_rows[0], "public": self.fit_rows[1]},
                "candidates": self.candidates}


def make_attack_translator(method: str | Translator, seed: int) -> Translator:
    """An unfitted translator for ``method`` (a registry name, or a translator to copy), seeded, quiet."""
    if isinstance(method, Translator):
        t = method.clone()
    else:
        t = make_translator(method)
    if t.requires_pairs:
        raise ParameterError(f"--method / method={t.method!r} needs pairs; the audit fits without pairs: use auto "
                             "(the default), cluster-match, spectral-match or selflearn")
    params = t.get_params()
    if "seed" in params:
        t.set_params(seed=int(seed))
    if "progress" in params:
        t.set_params(progress=False)
    return t


def fit_translation(leaked: np.ndarray, public: np.ndarray, method: str | Translator = "auto", *,
                    fit_rows: int | None = None, seed: int = 0) -> Translation:
    """Fit ``method`` without pairs from ``leaked`` (n, d_l) to ``public`` (m, d_k) (at most ``fit_rows`` rows
    of each, drawn at random), or take an already fitted translator as it is; judge it with the verdict."""
    if isinstance(method, Translator) and hasattr(method, "n_features_in_"):
        t = method
        if t.n_features_in_ != leaked.shape[1] or t.n_features_out_ != public.shape[1]:
            raise DimensionError(f"the map takes {t.n_features_in_}-d vectors to {t.n_features_out_}-d, but LEAKED "
                                 f"is {leaked.shape[1]}-d and the encoder's space {public.shape[1]}-d")
        X, Y, seconds = leaked, public, 0.0
    else:
        t = make_attack_translator(method, seed)
        rng = np.random.default_rng(seed)
        cap = len(leaked) + len(public) if fit_rows is None else int(fit_rows)
        X = leaked[sample_rows(rng, len(leaked), cap, sort=True)]
        Y = public[sample_rows(rng, len(public), cap, sort=True)]
        t0 = time.perf_counter()
        t.fit(X, Y, force=True)
        seconds = time.perf_counter() - t0
    fi = getattr(t, "fit_info_", {}) or {}
    verdict, confidence, reason = fi.get("verdict"), fi.get("confidence"), fi.get("verdict_reason")
    if verdict is None:  # a method that does not judge its own fit, or a map fitted on pairs
        v = judge_inputs(t, X, Y, rows="sample", seed=int(seed))
        verdict, confidence, reason = v.verdict, round(v.confidence, 4), v.reason
    label = fi.get("chosen_method") or t.method
    if fi.get("chosen_method"):
        label = f"{label} (chosen by auto)"
    return Translation(t, label, verdict, None if confidence is None else float(confidence), seconds,
                       (len(X), len(Y)), list(fi.get("candidates") or []), reason)


# -- reading the vectors ----------------------------------------------------------------------------------
def rank_attributes(vectors: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """(n, n_attributes) cosines of each row to each attribute description's vector."""
    return unit_rows(np.asarray(vectors, dtype=np.float32)) @ unit_rows(np.asarray(attributes, dtype=np.float32)).T


def nearest_texts(vectors: np.ndarray, texts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, cosines)``, each (n, k): the ``k`` nearest rows of ``texts`` for each row of ``vectors``."""
    res = top_k(vectors, texts, int(k), similarity="cosine", desc="nearest public texts")
    return res.indices, res.values


class WordProbe:
    """Which vocabulary words a text contains, predicted from its vector (see the module doc).

    ``fit(X, Y)``: X (m, d) known-space vectors of public texts, Y (m, V) bool word presence. A share
    ``held_out`` of the rows (drawn with ``seed``) is kept aside to choose the ridge strength and the one
    score threshold (the largest micro-averaged F1 there); ``public_f1_`` is that held-out F1.
    """

    RIDGES = (0.01, 0.1, 1.0)  # times (rows / dimensions)
    QUANTILES = np.linspace(0.50, 0.995, 60)

    def __init__(self, held_out: float = 0.2, seed: int = 0):
        self.held_out = held_out
        self.seed = seed

    def fit(self, X: np.ndarray, Y: np.ndarray) -> WordProbe:
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        m, d = X.shape
        if m < 10 or Y.shape[1] == 0:
            raise VecbridgeError(f"the word probe needs at least 10 public texts and one vocabulary word; got {m} "
                                 f"texts and {Y.shape[1]} words")
        perm = np.random.default_rng(self.seed).permutation(m)
        n_val = max(2, int(round(m * self.held_out)))
        val, train = perm[:n_val], perm[n_val:]
        best = None
        for r in self.RIDGES:
            W, b, mu = self._solve(X[train], Y[train], r * len(train) / d)
            S = (X[val] - mu) @ W + b
            thr, f1 = self._threshold(S, Y[val] > 0.5)
            if best is None or f1 > best[0]:
                best = (f1, r, W, b, mu, thr)
        self.public_f1_, self.ridge_, self.W_, self.b_, self.mu_, self.threshold_ = best
        return self

    @staticmethod
    def _solve(X: np.ndarray, Y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mu, b = X.mean(axis=0), Y.mean(axis=0)
        Xc = X - mu
        G = Xc.T @ Xc + lam * np.eye(X.shape[1])
        return np.linalg.solve(G, Xc.T @ (Y - b)), b, mu

    def _threshold(self, S: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
        best = (float("inf"), -1.0)
        for t in np.unique(np.quantile(S, self.QUANTILES)):
            pred = S > t
            tp = float(np.sum(pred & truth))
            f1 = 2 * tp / max(float(pred.sum() + truth.sum()), 1.0)
            if f1 > best[1]:
                best = (float(t), f1)
        return best

    def scores(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float64) - self.mu_) @ self.W_ + self.b_).astype(np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n, V) bool: the words predicted present."""
        return self.scores(X) > self.threshold_


__all__ = ["STOP_WORDS", "content_words", "build_vocabulary", "word_matrix", "encoder_in_mode", "encoder_name",
           "encode", "Translation", "make_attack_translator", "fit_translation", "rank_attributes",
           "nearest_texts", "WordProbe"]
