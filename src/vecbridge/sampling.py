"""Drawing rows: the one helper every sampler uses (deterministic for a given generator)."""

from __future__ import annotations

import numpy as np


def sample_rows(rng: np.random.Generator, n_rows: int, n: int, *, sort: bool = False) -> np.ndarray:
    """Indices of ``n`` of ``n_rows`` rows drawn without replacement (``sort``: in increasing order), or all
    rows, in order, when there are no more than ``n``."""
    if n_rows <= n:
        return np.arange(n_rows)
    idx = rng.choice(n_rows, n, replace=False)
    return np.sort(idx) if sort else idx


__all__ = ["sample_rows"]
