"""Python values as JSON holds them: one conversion for manifests, reports and ``--json`` output."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


def json_value(obj: Any) -> Any:
    """``obj`` with dict keys as strings, tuples and arrays as lists, numpy scalars as Python numbers, paths as
    text, objects with an ``as_dict()`` (such as a pair coverage) as that dict, and NaN / infinities as None (so
    that the result is valid JSON). Anything else is returned as it is."""
    if isinstance(obj, dict):
        return {str(k): json_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_value(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_value(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    if callable(getattr(obj, "as_dict", None)):
        return json_value(obj.as_dict())
    return obj


__all__ = ["json_value"]
