"""Fingerprints of a vector space, so that a saved map can tell when it is given vectors of another space.

A map learned from model A's space into model B's space silently produces nonsense when it is fed B's
vectors (the sides swapped) or a third model's. :func:`space_fingerprint` summarises the vectors a map saw
on each side with a few robust statistics, small enough for the manifest:

- the length profile: median and spread of the log row lengths;
- the per-dimension mean and the per-dimension spread (standard deviation) of the unit-length rows.

Embedding models have a characteristic mean direction and a characteristic pattern of which coordinates
vary most; two models, or two sides of a map, differ in both. :func:`compare_to_fingerprint` checks a
batch of input vectors against a fingerprint by correlating those per-dimension profiles, and says why
when they do not match. Two training runs of the same architecture with different seeds, or a model and
its quantised copy, may be indistinguishable this way: the check catches different models and swapped
sides, not every change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .normalize import unit_rows
from .sampling import sample_rows

#: fewer input rows than this are not checked (the profiles would be too noisy)
MIN_ROWS = 64
#: at most this many rows are summarised (a fixed-seed sample of larger inputs)
MAX_ROWS = 20000
#: profile correlations below this mean "another space"
MIN_PROFILE_CORRELATION = 0.7
#: the profiles are compared only where one of them varies across dimensions this many times more than sampling
#: noise would make it (:func:`informative_profiles`)
PROFILE_SIGNAL = 10.0
#: a median length this many times larger or smaller than the fingerprint's means "another space"
MAX_LENGTH_RATIO = 4.0


def _sample(X: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    return X[sample_rows(np.random.default_rng(seed), len(X), n, sort=True)]


def _profiles(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    with np.errstate(over="ignore", under="ignore"):
        lengths = np.linalg.norm(X.astype(np.float64), axis=1)
    U = unit_rows(X).astype(np.float64)
    return lengths, U.mean(axis=0), U.std(axis=0)


def space_fingerprint(X: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """A JSON-ready summary of the vectors ``X`` (n, d) of one space (see the module docstring)."""
    Xs = _sample(np.asarray(X), MAX_ROWS, seed)
    lengths, mean, spread = _profiles(Xs)
    positive = lengths[lengths > 0]
    logs = np.log(positive) if len(positive) else np.zeros(1)
    return {
        "dim": int(Xs.shape[1]),
        "rows": int(len(X)),
        "log_length_median": round(float(np.median(logs)), 5),
        "log_length_iqr": round(float(np.subtract(*np.percentile(logs, [75, 25]))), 5),
        "unit_mean": [round(float(v), 5) for v in mean],
        "unit_spread": [round(float(v), 5) for v in spread],
    }


def check_fingerprint(fp: Any, dim: int, where: str) -> None:
    """A saved fingerprint has the entries :func:`compare_to_fingerprint` reads, for ``dim`` dimensions
    (:class:`~vecbridge.errors.ManifestError` naming ``where`` and the entry)."""
    from .errors import ManifestError

    if not isinstance(fp, dict):
        raise ManifestError(f"{where} is {type(fp).__name__}, not an object")
    for key in ("log_length_median", "log_length_iqr"):
        v = fp.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ManifestError(f"{where} lacks a number {key!r} (got {v!r})")
    if fp.get("dim") != dim:
        raise ManifestError(f"{where} is of {fp.get('dim')!r} dimensions, the map's side of {dim}")
    for key in ("unit_mean", "unit_spread"):
        v = fp.get(key)
        if (not isinstance(v, list) or len(v) != dim
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
            raise ManifestError(f"{where} lacks {key!r} as a list of {dim} numbers")


@dataclass
class SpaceCheck:
    """The outcome of :func:`compare_to_fingerprint`: ``matches`` is None when too few rows were given."""

    matches: bool | None
    reason: str
    mean_correlation: float | None = None
    spread_correlation: float | None = None
    length_ratio: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / den) if den > 0 else 0.0


def compare_to_fingerprint(X: np.ndarray, fingerprint: dict[str, Any], side: str = "source") -> SpaceCheck:
    """Does the batch ``X`` (n, d) look like the space ``fingerprint`` was taken of?"""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != fingerprint.get("dim"):
        return SpaceCheck(False, f"the vectors are {X.shape[-1]}-d; the map's {side} space is {fingerprint.get('dim')}-d")
    if len(X) < MIN_ROWS:
        return SpaceCheck(None, f"{len(X)} rows are too few to compare with the map's {side} space "
                                f"(at least {MIN_ROWS} are needed)")
    lengths, mean, spread = _profiles(_sample(X, MAX_ROWS))
    positive = lengths[lengths > 0]
    ratio = float(np.exp(np.median(np.log(positive)) - fingerprint["log_length_median"])) if len(positive) else 0.0
    r_mean = _correlation(mean, np.asarray(fingerprint["unit_mean"]))
    r_spread = _correlation(spread, np.asarray(fingerprint["unit_spread"]))
    out = SpaceCheck(True, f"the vectors look like the map's {side} space", round(r_mean, 4), round(r_spread, 4),
                     round(ratio, 4))
    problems = []
    if not (1 / MAX_LENGTH_RATIO <= ratio <= MAX_LENGTH_RATIO):
        problems.append(f"their median length is {ratio:.3g} times that of the {side} vectors the map saw")
    if informative_profiles(fingerprint) and max(r_mean, r_spread) < MIN_PROFILE_CORRELATION:
        problems.append(f"their per-dimension profile does not match ({side} mean correlation {r_mean:.2f}, "
                        f"spread correlation {r_spread:.2f}; the same space gives about 0.9 or more)")
    if problems:
        out.matches = False
        out.reason = ("the vectors do not look like the map's " + side + " space: " + "; ".join(problems)
                      + " (swapped sides, or another model's vectors?)")
    return out


def informative_profiles(fingerprint: dict[str, Any], min_ratio: float = PROFILE_SIGNAL) -> bool:
    """Whether the fingerprint's per-dimension profiles vary across dimensions more than sampling alone would
    make them (by ``min_ratio`` in variance, for the mean or the spread profile). An isotropic space (random
    Gaussian rows, a whitened space) has no profile to recognise: there the profile test would compare noise
    with noise and refuse vectors of the very same space."""
    n = max(2, min(int(fingerprint.get("rows") or MAX_ROWS), MAX_ROWS))
    mean, spread = np.asarray(fingerprint["unit_mean"]), np.asarray(fingerprint["unit_spread"])
    noise = float(np.mean(spread**2)) / n  # sampling variance of a per-dimension mean of n rows
    return bool(mean.var() > min_ratio * noise or spread.var() > min_ratio * noise / 2)


def pair_hashes(items: list[str] | np.ndarray) -> np.ndarray:
    """Compact 64-bit hashes of training pairs: of ``"source<TAB>target"`` strings, or of the bytes of each
    row of a 2-D array (for pairs given as rows). Sorted and unique, as uint64."""
    import hashlib

    out = np.empty(len(items), dtype=np.uint64)
    if isinstance(items, np.ndarray):
        rows = np.ascontiguousarray(items, dtype=np.float32)
        for i, r in enumerate(rows):
            out[i] = int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "little")
    else:
        for i, s in enumerate(items):
            out[i] = int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
    return np.unique(out)


def count_seen(hashes: np.ndarray, seen: np.ndarray | None) -> int:
    """How many of ``hashes`` are in the sorted array ``seen``."""
    if seen is None or len(seen) == 0 or len(hashes) == 0:
        return 0
    idx = np.clip(np.searchsorted(seen, hashes), 0, len(seen) - 1)
    return int(np.sum(seen[idx] == hashes))


__all__ = ["space_fingerprint", "compare_to_fingerprint", "SpaceCheck", "pair_hashes", "count_seen"]
