"""Drawing rows: the one helper every sampler uses (deterministic for a given generator)."""

from __future__ import annotations

from typing import Any

import numpy as np


def sample_rows(rng: np.random.Generator, n_rows: int, n: int, *, sort: bool = False) -> np.ndarray:
    """Indices of ``n`` of ``n_rows`` rows drawn without replacement (``sort``: in increasing order), or all
    rows, in order, when there are no more than ``n``."""
    if n_rows <= n:
        return np.arange(n_rows)
    idx = rng.choice(n_rows, n, replace=False)
    return np.sort(idx) if sort else idx


def sample_rows_except(rng: np.random.Generator, n_rows: int, n: int, exclude: Any = None) -> np.ndarray:
    """As :func:`sample_rows` (in increasing order), drawn from the rows not in ``exclude``; with nothing to
    exclude, the same rows as ``sample_rows(rng, n_rows, n, sort=True)``."""
    exclude = np.unique(np.asarray([] if exclude is None else exclude, dtype=np.int64))
    if not len(exclude):
        return sample_rows(rng, n_rows, n, sort=True)
    pool = np.setdiff1d(np.arange(n_rows), exclude)
    return pool[sample_rows(rng, len(pool), n, sort=True)]


__all__ = ["sample_rows", "sample_rows_except"]
