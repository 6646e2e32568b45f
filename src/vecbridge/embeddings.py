"""The one central data type: keys + a float32 matrix + a little metadata."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DimensionError, FormatError, KeyMissingError


def _as_matrix(vectors: Any) -> np.ndarray:
    arr = np.asarray(vectors)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise DimensionError(f"vectors must be a 2-D array (n, d); got shape {arr.shape}")
    if arr.dtype != np.float32:
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
            raise FormatError(f"vectors must hold real numbers; got an array of dtype {arr.dtype}")
        arr = arr.astype(np.float32)
    return arr


def _as_keys(keys: Any) -> list[str]:
    """``keys`` as a new list of str; integers become their decimal text; anything else raises ``TypeError``."""
    if isinstance(keys, str):
        raise TypeError(f"keys must be a sequence of str, one per row; got a single str ({keys[:40]!r}), which "
                        f"would be one key per character: give a list, e.g. [{keys[:40]!r}] for one key")
    if isinstance(keys, (bytes, bytearray)):
        raise TypeError(f"keys must be a sequence of str, one per row; got {type(keys).__name__} ({keys[:40]!r}): "
                        "give a list of str (decode bytes first)")
    if isinstance(keys, np.ndarray) and keys.ndim != 1:
        raise TypeError(f"keys must be a 1-D sequence of str, one per row; got an array of shape {keys.shape}")
    try:
        out = list(keys)
    except TypeError:
        raise TypeError(f"keys must be a sequence of str, one per row; got {type(keys).__name__}") from None
    if all(type(k) is str for k in out):
        return out
    for i, k in enumerate(out):
        if isinstance(k, str):
            out[i] = str(k)  # a str subclass (numpy.str_) as a plain str
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            out[i] = str(int(k))
        else:
            hint = " (decode bytes first, e.g. k.decode('utf-8'))" if isinstance(k, (bytes, np.bytes_)) else ""
            what = "None" if k is None else f"{type(k).__name__} {k!r}"
            raise TypeError(f"keys must be str; the key at row {i} (0-based) is {what}{hint}")
    return out


def first_duplicate(keys: Sequence[str]) -> tuple[str, int, int] | None:
    """Return ``(key, first_row, second_row)`` of the first repeated key, or None."""
    seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        j = seen.setdefault(k, i)
        if j != i:
            return k, j, i
    return None


def first_nonfinite_row(vectors: np.ndarray) -> int | None:
    """Row index of the first row holding NaN or Inf, or None."""
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        return int(np.argmax(bad))
    return None


@dataclass(eq=False)
class Embeddings:
    """Keyed vectors: ``keys[i]`` names row ``vectors[i]``.

    Parameters
    ----------
    keys : sequence of str, length n
        Unique keys (words, ids). Duplicates raise ``FormatError``. Each key must be a ``str`` (integers are
        taken as their decimal text, ``7`` -> ``"7"``); bytes, None and other objects raise ``TypeError``
        (decode bytes first), and so does a single str or bytes given as the whole sequence (``"abc"`` is
        one key, not three: give ``["abc"]``).
    vectors : array of shape (n, d)
        Stored as C-contiguous float32. An array that is float32 and C-contiguous already is used as it is,
        not copied (numpy's convention): changing it changes these embeddings; pass ``vectors.copy()`` to
        keep them apart. NaN/Inf rows raise ``FormatError``.
    meta : dict
        A little metadata: ``name`` (model name), ``normalization`` (list of
        steps applied), ``source`` (where it was read from). Free-form otherwise.
    """

    keys: list[str]
    vectors: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = _as_keys(self.keys)
        self.vectors = np.ascontiguousarray(_as_matrix(self.vectors))
        if len(self.keys) != self.vectors.shape[0]:
            raise DimensionError(
                f"{len(self.keys)} keys for {self.vectors.shape[0]} vectors: each row needs exactly one key"
            )
        dup = first_duplicate(self.keys)
        if dup is not None:
            k, i, j = dup
            raise FormatError(
                f"duplicate key {k!r} at rows {i} and {j} (0-based); keys must be unique "
                "(read with on_error='skip' to keep the first occurrence and count the rest)"
            )
        bad = first_nonfinite_row(self.vectors)
        if bad is not None:
            raise FormatError(f"row {bad} (key {self.keys[bad]!r}) holds NaN or Inf")
        self.meta = dict(self.meta)
        # its own list: a copy that records a step must not record it in the original too
        self.meta["normalization"] = list(self.meta.get("normalization") or [])
        self._index: dict[str, int] | None = None

    # -- construction -----------------------------------------------------
    @classmethod
    def from_array(cls, vectors: Any, keys: Sequence[str] | None = None, **meta: Any) -> Embeddings:
        """Wrap an array; keys default to row numbers ``"0", "1", ...``."""
        arr = _as_matrix(vectors)
        if keys is None:
            keys = [str(i) for i in range(arr.shape[0])]
        return cls(_as_keys(keys), arr, meta)

    # -- basic properties -------------------------------------------------
    @property
    def has_keys(self) -> bool:
        """False for arrays read without a keys file (``.npy`` / ``.npz``: their keys are row numbers)."""
        return not (self.meta.get("format") in ("npy", "npz") and not self.meta.get("keys_source")
                    and not self.meta.get("has_keys"))

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def name(self) -> str | None:
        return self.meta.get("name")

    @property
    def index(self) -> dict[str, int]:
        """Mapping key -> row (built on first use)."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.vectors[self.index[key]]
        except KeyError:
            raise KeyMissingError(f"key {key!r} is not among the {len(self)} keys of {self.describe()}") from None

    def __repr__(self) -> str:
        return f"Embeddings({self.describe()}, n={len(self)}, dim={self.dim})"

    def describe(self) -> str:
        return self.meta.get("name") or self.meta.get("source") or "embeddings"

    # -- views ------------------------------------------------------------
    def rows_of(self, keys: Iterable[str]) -> tuple[np.ndarray, list[str]]:
        """Row indices of the keys present, and the keys that are missing (in order)."""
        idx, missing = [], []
        index = self.index
        for k in keys:
            i = index.get(k)
            if i is None:
                missing.append(k)
            else:
                idx.append(i)
        return np.asarray(idx, dtype=np.int64), missing

    def take(self, rows: Sequence[int] | np.ndarray) -> Embeddings:
        """A new Embeddings with the given rows (in the given order)."""
        rows = np.asarray(rows)
        if rows.dtype == np.bool_:
            raise DimensionError("take() takes row numbers, not a boolean mask; give np.flatnonzero(mask)")
        rows = rows.astype(np.int64)
        return Embeddings([self.keys[i] for i in rows], self.vectors[rows], dict(self.meta))

    def head(self, n: int) -> Embeddings:
        """The first ``n`` rows (word files are frequency-sorted by convention)."""
        return self.take(np.arange(min(n, len(self))))

    def subset(self, keys: Iterable[str], strict: bool = True) -> Embeddings:
        """Rows for ``keys``; with ``strict`` a missing key raises, else it is skipped."""
        rows, missing = self.rows_of(keys)
        if missing and strict:
            raise KeyMissingError(
                f"{len(missing)} keys not in {self.describe()}, first {missing[:5]!r}; "
                "pass strict=False to skip them"
            )
        return self.take(rows)

    def intersect(self, other: Embeddings) -> tuple[Embeddings, Embeddings]:
        """Both sides restricted to their shared keys, in this side's order."""
        shared = [k for k in self.keys if k in other.index]
        return self.subset(shared), other.subset(shared)

    def with_vectors(self, vectors: np.ndarray, **meta: Any) -> Embeddings:
        """Same keys, new vectors (any dimension); ``meta`` entries override."""
        m = dict(self.meta)
        m.update(meta)
        return Embeddings(list(self.keys), vectors, m)

    def normalize(self, steps: str | Sequence[str]) -> Embeddings:
        """Apply normalisation steps (e.g. ``"unit center unit"``); recorded in ``meta``."""
        from .normalize import Normalizer

        norm = Normalizer(steps).fit(self.vectors)
        out = self.with_vectors(norm.transform(self.vectors))
        out.meta["normalization"] = list(self.meta.get("normalization", [])) + norm.steps
        return out

    def copy(self) -> Embeddings:
        return Embeddings(list(self.keys), self.vectors.copy(), dict(self.meta))

    def equals(self, other: Embeddings, atol: float = 0.0) -> bool:
        """Same keys in the same order and vectors equal within ``atol``."""
        if self.keys != other.keys or self.vectors.shape != other.vectors.shape:
            return False
        if atol == 0.0:
            return bool(np.array_equal(self.vectors, other.vectors))
        return bool(np.allclose(self.vectors, other.vectors, atol=atol, rtol=0))
