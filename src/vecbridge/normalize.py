"""Vector normalisations, composable in any order.

Steps:

- ``unit``: scale each row to unit L2 length (rows of zeros stay zero);
- ``center``: subtract the per-dimension mean seen at ``fit``;
- ``standardize``: subtract the mean and divide by the per-dimension standard
  deviation seen at ``fit`` (dimensions with zero spread are left unscaled).

``"unit center unit"`` (Artetxe et al. 2018) is the common choice before
mapping word vectors. A fitted :class:`Normalizer` stores its statistics, so
``transform`` is a pure function of its input: one row gives the same result
alone as inside a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import DimensionError, ManifestError, VecbridgeError

STEPS = ("unit", "center", "standardize")
_ALIASES = {"length": "unit", "l2": "unit", "centre": "center", "mean": "center", "std": "standardize"}


def parse_steps(steps: str | Sequence[str] | None) -> list[str]:
    """Turn ``"unit center unit"`` / ``"unit,center"`` / a list into a checked list of step names."""
    if steps is None:
        return []
    if isinstance(steps, str):
        steps = steps.replace(",", " ").split()
    out = []
    for s in steps:
        if not isinstance(s, str):
            raise VecbridgeError(f"normalisation steps are names such as 'unit' or 'center'; got {s!r}")
        name = _ALIASES.get(s.strip().lower(), s.strip().lower())
        if name in ("", "none"):
            continue
        if name not in STEPS:
            raise VecbridgeError(f"unknown normalisation step {s!r}; choose from {', '.join(STEPS)}")
        out.append(name)
    return out


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length; zero rows stay zero. Returns float32.

    Safe for every finite input: a row whose squared length over- or underflows float32 (entries beyond
    about 1e19 or below about 1e-19) is first divided by its largest absolute entry, so a row and the same
    row times any positive finite factor give the same unit row.
    """
    X = np.asarray(X, dtype=np.float32)
    with np.errstate(over="ignore", under="ignore"):
        n = np.linalg.norm(X, axis=-1, keepdims=True)
    extreme = ~np.isfinite(n) | ((n < TINY_NORM) & (n >= 0))
    if extreme.any():
        rows = np.nonzero(extreme.reshape(-1))[0] if X.ndim == 2 else None
        if rows is None:  # a single row
            return _unit_rescaled(X[None, :])[0]
        out = X / np.where(extreme | (n == 0), 1.0, n).astype(np.float32)
        out[rows] = _unit_rescaled(X[rows])
        return out
    return X / np.where(n > 0, n, 1.0).astype(np.float32)


#: below this length, float32 squares lose precision (subnormal range); such rows are rescaled first
TINY_NORM = np.float32(1e-18)


def _unit_rescaled(X: np.ndarray) -> np.ndarray:
    """Unit rows of ``X`` through a division by each row's largest absolute entry (zero rows stay zero)."""
    m = np.abs(X).max(axis=-1, keepdims=True).astype(np.float64)
    Xs = X.astype(np.float64) / np.where(m > 0, m, 1.0)
    n = np.linalg.norm(Xs, axis=-1, keepdims=True)
    return (Xs / np.where(n > 0, n, 1.0)).astype(np.float32)


def _median_length(X: np.ndarray) -> float | None:
    """The median Euclidean length of the rows of X (None when X has no rows)."""
    return float(np.median(np.linalg.norm(X, axis=1))) if X.ndim == 2 and len(X) else None


def zero_rows(X: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``X`` (n, d) that are all zeros."""
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    return np.nonzero(~np.any(X != 0, axis=1))[0]


class Normalizer:
    """A fitted sequence of normalisation steps.

    Attributes after ``fit``: ``stats_`` is a list, one entry per step, of
    ``None`` (unit) or ``(mean, scale)`` float32 arrays of shape (d,); ``lengths_`` the median row length
    before each ``unit`` step (None for the other steps), for :meth:`inverse_transform`.
    """

    def __init__(self, steps: str | Sequence[str] | None = None):
        self.steps = parse_steps(steps)
        self.stats_: list[tuple[np.ndarray, np.ndarray] | None] | None = None
        self.lengths_: list[float | None] | None = None
        self.dim_: int | None = None

    def fit(self, X: np.ndarray) -> Normalizer:
        X = np.asarray(X, dtype=np.float32)
        if self.steps and X.ndim == 2:
            if len(X) == 0:
                raise VecbridgeError("a normaliser is fitted on rows; got none (shape "
                                     f"{X.shape}): its statistics would be NaN")
            bad = ~np.isfinite(X).all(axis=1)
            if bad.any():
                raise VecbridgeError(f"row {int(np.argmax(bad))} of the rows a normaliser is fitted on holds NaN or "
                                     f"Inf ({int(bad.sum())} such rows): its statistics would be NaN")
        stats: list[tuple[np.ndarray, np.ndarray] | None] = []
        lengths: list[float | None] = []
        for step in self.steps:
            lengths.append(_median_length(X) if step == "unit" else None)
            if step == "unit":
                stats.append(None)
            else:
                mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
                if step == "standardize":
                    sd = X.std(axis=0, dtype=np.float64).astype(np.float32)
                    scale = np.where(sd > 0, sd, 1.0).astype(np.float32)
                else:
                    scale = np.ones_like(mean)
                stats.append((mean, scale))
            X = self._apply(step, stats[-1], X)
        self.stats_ = stats
        self.lengths_ = lengths
        self.dim_ = int(X.shape[-1]) if X.ndim == 2 else None
        return self

    def inverse_transform(self, Y: np.ndarray) -> np.ndarray:
        """Normalised rows ``Y`` (n, d) back in the coordinates of the rows the normaliser was fitted on.

        ``center`` and ``standardize`` are undone exactly. A ``unit`` step drops each row's length; it is
        given back as the median length the fitted rows had before that step (1 for a normaliser saved
        before lengths were kept): a ``unit`` step followed by ``center`` comes back close in direction
        (exactly for a row of the median length), and lengths come back typical.
        """
        X = self._checked(Y, "inverse_transform")
        if self.stats_ is None:
            return X
        lengths = getattr(self, "lengths_", None) or [None] * len(self.steps)
        for step, stat, length in reversed(list(zip(self.steps, self.stats_, lengths))):
            if step == "unit":
                X = unit_rows(X) * np.float32(1.0 if length is None else length)
            else:
                mean, scale = stat
                X = X * scale + mean
        return X.astype(np.float32)

    @staticmethod
    def _apply(step: str, stat, X: np.ndarray) -> np.ndarray:
        if step == "unit":
            return unit_rows(X)
        mean, scale = stat
        return ((X - mean) / scale).astype(np.float32)

    def _checked(self, X: np.ndarray, what: str) -> np.ndarray:
        """X as float32, after checking that the normaliser is fitted (or has no steps) and the dimension."""
        if self.stats_ is None and self.steps:
            raise VecbridgeError(f"Normalizer.{what} called before fit")
        X = np.asarray(X, dtype=np.float32)
        if self.dim_ is not None and X.shape[-1] != self.dim_:
            raise DimensionError(f"normaliser was fitted on {self.dim_}-d vectors, got {X.shape[-1]}-d")
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = self._checked(X, "transform")
        if self.stats_ is None:
            return X
        for step, stat in zip(self.steps, self.stats_):
            X = self._apply(step, stat, X)
        return X

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    # -- persistence as plain arrays (used by translators' save/load) -----
    def state_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out = {}
        for i, stat in enumerate(self.stats_ or []):
            if stat is not None:
                out[f"{prefix}.{i}.mean"] = stat[0]
                out[f"{prefix}.{i}.scale"] = stat[1]
        for i, length in enumerate(getattr(self, "lengths_", None) or []):
            if length is not None:
                out[f"{prefix}.{i}.length"] = np.array([length], dtype=np.float32)
        return out

    @classmethod
    def from_state(cls, steps: Sequence[str], arrays: dict[str, np.ndarray], prefix: str, dim: int | None) -> Normalizer:
        norm = cls(steps)
        own = {k for k in arrays if k.startswith(f"{prefix}.")}
        expected = {f"{prefix}.{i}.length" for i in range(len(norm.steps))}
        expected |= {f"{prefix}.{i}.{what}" for i, step in enumerate(norm.steps) if step != "unit"
                     for what in ("mean", "scale")}
        if own - expected:
            raise ManifestError(f"the weights hold {sorted(own - expected)[0]!r}, which the saved normalisation "
                                f"steps {norm.steps} do not use")
        for k in sorted(own):
            want = (1,) if k.endswith(".length") else (dim,) if dim is not None else arrays[k].shape
            if arrays[k].dtype != np.float32 or arrays[k].shape != want:
                raise ManifestError(f"the saved normalisation array {k!r} has shape {arrays[k].shape} dtype "
                                    f"{arrays[k].dtype}; expected shape {want} float32")
        stats = []
        for i, step in enumerate(norm.steps):
            if step == "unit":
                stats.append(None)
            else:
                stats.append((arrays[f"{prefix}.{i}.mean"], arrays[f"{prefix}.{i}.scale"]))
        norm.stats_ = stats
        norm.lengths_ = [float(arrays[f"{prefix}.{i}.length"][0]) if f"{prefix}.{i}.length" in arrays else None
                         for i in range(len(norm.steps))]
        norm.dim_ = dim
        return norm
