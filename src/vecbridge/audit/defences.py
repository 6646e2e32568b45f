"""Defences applied to leaked vectors before the attack, and what they cost in retrieval.

A defence is one step or several joined by ``+``, applied left to right:

- ``noise=SIGMA``: add Gaussian noise of standard deviation ``SIGMA`` to every coordinate (for unit-length
  384-d vectors one coordinate is about 0.05 on average, so ``noise=0.05`` is noise as large as the signal);
- ``rotate``: multiply by a random orthogonal matrix (cosines between the vectors are unchanged);
- ``quantize=BITS``: each coordinate rounded to one of ``2**BITS`` evenly spaced levels between that
  dimension's minimum and maximum (1 to 16 bits);
- ``drop=FRACTION``: remove that fraction of the dimensions, chosen at random (0 < FRACTION < 1).

Utility (:func:`neighbour_recall`): for a sample of rows, the share of each row's 10 nearest rows (cosine,
itself excluded) in the undefended vectors that are still among its 10 nearest in the defended ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, VecbridgeError
from ..neighbors import top_k
from ..sampling import sample_rows
from ..verdict import random_orthogonal

#: defence names, each with what its value is ("" when it takes none)
DEFENCES = {
    "noise": "a standard deviation > 0, e.g. noise=0.05",
    "rotate": "",
    "quantize": "a number of bits from 1 to 16, e.g. quantize=4",
    "drop": "a fraction of the dimensions between 0 and 1, e.g. drop=0.5",
}


@dataclass(frozen=True)
class DefenceStep:
    """One step of a defence: ``name`` (a key of :data:`DEFENCES`) and its value (None for ``rotate``)."""

    name: str
    value: float | None = None

    def __str__(self) -> str:
        if self.value is None:
            return self.name
        v = int(self.value) if self.name == "quantize" else self.value
        return f"{self.name}={v:g}"


@dataclass(frozen=True)
class Defence:
    """A chain of :class:`DefenceStep`, applied left to right; ``spec`` is how it was written."""

    spec: str
    steps: tuple[DefenceStep, ...]

    def __str__(self) -> str:
        return "+".join(str(s) for s in self.steps)

    def apply(self, X: np.ndarray, seed: int = 0) -> np.ndarray:
        """The defended copy of ``X`` (n, d) (fewer columns after ``drop``). Deterministic given ``seed``."""
        out = np.asarray(X, dtype=np.float32)
        for i, step in enumerate(self.steps):
            rng = np.random.default_rng([int(seed), i, 7])
            out = _apply_step(step, out, rng)
        zero = np.nonzero(~np.any(out != 0, axis=1))[0]
        if len(zero):
            raise VecbridgeError(f"--defence {self}: row {int(zero[0])} becomes all zeros ({len(zero)} such rows); "
                                 "the defended vectors would be unusable")
        return np.ascontiguousarray(out, dtype=np.float32)


def _apply_step(step: DefenceStep, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, d = X.shape
    if step.name == "noise":
        return X + rng.normal(0.0, float(step.value), size=X.shape).astype(np.float32)
    if step.name == "rotate":
        return X @ random_orthogonal(d, rng)
    if step.name == "quantize":
        levels = 2 ** int(step.value)
        lo = X.min(axis=0)
        width = np.maximum(X.max(axis=0) - lo, np.float32(1e-12)) / levels
        q = np.clip(np.floor((X - lo) / width), 0, levels - 1)
        return (lo + (q + 0.5) * width).astype(np.float32)
    if step.name == "drop":
        keep = max(1, int(round(d * (1.0 - float(step.value)))))
        cols = np.sort(rng.choice(d, keep, replace=False))
        return X[:, cols]
    raise ParameterError(f"--defence: unknown defence {step.name!r}")  # parse_defence lets none through


def parse_defence(spec: str | Defence) -> Defence:
    """``"noise=0.05+rotate"`` -> :class:`Defence`; a bad spec raises :class:`ParameterError` naming ``--defence``."""
    if isinstance(spec, Defence):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ParameterError(f"--defence / defences= expects a defence such as noise=0.05, rotate, quantize=4 or "
                             f"drop=0.5 (several joined by +), got {spec!r}")
    steps = []
    for part in spec.split("+"):
        name, sep, value = (s.strip() for s in part.partition("="))
        name = name.lower()
        if name not in DEFENCES:
            raise ParameterError(f"--defence {spec}: unknown defence {name or part!r}; choose from "
                                 f"{', '.join(DEFENCES)} (several joined by +, e.g. noise=0.05+rotate)")
        want = DEFENCES[name]
        if not want:
            if sep:
                raise ParameterError(f"--defence {spec}: {name} takes no value, got {part.strip()!r}")
            steps.append(DefenceStep(name))
            continue
        if not sep or not value:
            raise ParameterError(f"--defence {spec}: {name} needs {want}")
        steps.append(DefenceStep(name, _value(spec, name, value, want)))
    return Defence(spec, tuple(steps))


def _value(spec: str, name: str, text: str, want: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ParameterError(f"--defence {spec}: {name} needs {want}, got {text!r}") from None
    ok = math.isfinite(v) and {
        "noise": v > 0,
        "quantize": v == int(v) and 1 <= v <= 16,
        "drop": 0 < v < 1,
    }[name]
    if not ok:
        raise ParameterError(f"--defence {spec}: {name} needs {want}, got {text!r}")
    return v


def neighbour_recall(X: np.ndarray, X_defended: np.ndarray, k: int = 10, n_queries: int = 1000,
                     seed: int = 0) -> float:
    """Recall@k of retrieval in the defended space against the undefended space's neighbours (see the
    module doc); ``n_queries`` rows drawn at random ask, every row can answer."""
    n = len(X)
    if n < 2:
        return float("nan")
    k = min(int(k), n - 1)
    q = sample_rows(np.random.default_rng(seed), n, n_queries, sort=True)
    before = top_k(X[q], X, k + 1, similarity="cosine").indices
    after = top_k(X_defended[q], X_defended, k + 1, similarity="cosine").indices
    hits = sum(len(_first_k(before[i], row, k) & _first_k(after[i], row, k)) for i, row in enumerate(q))
    return hits / (len(q) * k)


def _first_k(indices: np.ndarray, row: int, k: int) -> set[int]:
    return set([int(j) for j in indices if j != row][:k])


__all__ = ["DEFENCES", "Defence", "DefenceStep", "parse_defence", "neighbour_recall"]
