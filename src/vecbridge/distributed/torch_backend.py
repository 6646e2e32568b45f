"""Fit and translate through torch, on a GPU when one is present.

``resolve_device("auto")`` picks CUDA (or Apple's MPS) when torch sees one and
otherwise returns None, meaning: stay on numpy. The torch path handles affine
maps (``normalise -> X W + b``), which covers least squares, Procrustes, the
identity and any other translator whose batch function is affine (found by
probing it and checking the probe on random rows); its results equal the numpy
path to float32 tolerance. Sufficient statistics (``X^T X``, ``X^T Y``) are
accumulated in float64 on the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..compute import resolve_device  # noqa: F401  (the device vocabulary of every --device, re-exported)
from ..errors import VecbridgeError, ZeroRowError
from ..normalize import TINY_NORM
from ..optional import require

#: rows moved to the device at a time
DEVICE_BATCH_ROWS = 1 << 16


def _torch():
    return require("torch", "torch", "the torch path")


def affine_form(translator: Any, seed: int = 0, rtol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """``W`` (d_in, d_out) and ``b`` (d_out,) float32 with ``_transform(Z) == Z @ W + b`` on normalised rows Z.

    Known linear classes are read directly; any other translator is probed with the
    unit rows and the negated first one (no zero row, which a map that normalises
    lengths refuses), and the probe is checked on 64 random rows (seeded): a map
    that is not affine raises ``VecbridgeError``. A map that delegates to another
    (``auto``) is not affine in its own normalised rows; :func:`torch_batch_function`
    takes the form of the map it delegates to (:func:`working_map`).
    """
    translator._check_fitted()
    method = getattr(translator, "method", "")
    d_in, d_out = int(translator.n_features_in_), int(translator.n_features_out_)
    if method == "lstsq":
        return np.asarray(translator.W_, np.float32), np.asarray(translator.b_, np.float32)
    if method == "procrustes":
        s = np.float32(getattr(translator, "scale_", 1.0))
        return np.asarray(translator.W_, np.float32) * s, np.zeros(d_out, np.float32)
    if method == "identity":
        return np.eye(d_in, dtype=np.float32), np.zeros(d_out, np.float32)
    probe = np.vstack([np.eye(d_in, dtype=np.float32), -np.eye(1, d_in, dtype=np.float32)])
    try:
        out = np.asarray(translator._transform(probe), dtype=np.float64)
    except ZeroRowError:  # pragma: no cover - the probe holds no zero row; a map that still refuses is not affine
        out = None
    if out is None or out.shape != (d_in + 1, d_out):
        raise VecbridgeError(
            f"the {method or type(translator).__name__} map is not affine, so the torch path cannot run it; "
            "use device='cpu'"
        )
    b = (out[0] + out[d_in]) / 2  # f(e_0) = W_0 + b, f(-e_0) = -W_0 + b
    W = out[:d_in] - b
    Z = np.random.default_rng(seed).standard_normal((64, d_in)).astype(np.float32)
    want = np.asarray(translator._transform(Z), dtype=np.float64)
    got = Z.astype(np.float64) @ W + b
    if not np.allclose(got, want, rtol=rtol, atol=rtol * (np.abs(want).max() + 1e-12)):
        raise VecbridgeError(
            f"the {method or type(translator).__name__} map is not affine, so the torch path cannot run it; "
            "use device='cpu'"
        )
    return W.astype(np.float32), b.astype(np.float32)


def working_map(translator: Any) -> Any:
    """The translator that does ``translator``'s work: for a map that delegates through a fitted ``chosen_``
    (``auto``) and normalises nothing itself, the map it chose (recursively); otherwise ``translator``."""
    translator._check_fitted()
    while isinstance(getattr(type(translator), "chosen_", None), property) and \
            not translator.source_normalizer_.steps:
        inner = translator.chosen_
        if inner is translator or not hasattr(inner, "_transform"):
            break
        inner._check_fitted()
        translator = inner
    return translator


def _torch_unit_rows(torch, X):
    """``normalize.unit_rows`` in torch: rows scaled to unit length, zero rows kept zero; a row whose length
    over- or underflows float32 is first divided by its largest absolute entry (in float64 where the device
    has it), so that it gives the same unit row as numpy."""
    n = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    extreme = ~torch.isfinite(n) | (n < float(TINY_NORM))  # zero rows too: they stay zero
    if not bool(extreme.any()):
        return X / torch.where(n > 0, n, torch.ones_like(n))
    out = X / torch.where(extreme, torch.ones_like(n), n)
    rows = extreme.reshape(-1).nonzero().reshape(-1)
    wide = torch.float32 if X.device.type == "mps" else torch.float64
    R = X[rows].to(wide)
    m = R.abs().amax(dim=1, keepdim=True)
    R = R / torch.where(m > 0, m, torch.ones_like(m))
    rn = torch.linalg.vector_norm(R, dim=1, keepdim=True)
    out[rows] = (R / torch.where(rn > 0, rn, torch.ones_like(rn))).to(X.dtype)
    return out


def _torch_normalize(torch, steps, stats, X):
    for step, stat in zip(steps, stats or []):
        if step == "unit":
            X = _torch_unit_rows(torch, X)
        else:
            mean, scale = stat
            X = (X - mean) / scale
    return X


def torch_batch_function(translator: Any, device: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The map's batch function ``(n, d_in) float32 -> (n, d_out) float32`` computed by torch on ``device``.

    Same results as ``translator.transform`` to float32 tolerance. An ``auto`` map runs the map it chose
    (:func:`working_map`).
    """
    from ..errors import DimensionError
    from ..translators.base import as_float32_matrix, refuse_zero_rows

    torch = _torch()
    dev = device if not isinstance(device, str) else resolve_device(device) or torch.device("cpu")
    translator = working_map(translator)
    W, b = affine_form(translator)
    norm = translator.source_normalizer_
    tW = torch.from_numpy(W).to(dev)
    tb = torch.from_numpy(b).to(dev)
    stats = [None if s is None else (torch.from_numpy(np.asarray(s[0], np.float32)).to(dev),
                                     torch.from_numpy(np.asarray(s[1], np.float32)).to(dev))
             for s in (norm.stats_ or [])]
    d_in = int(translator.n_features_in_)

    def run(X: np.ndarray) -> np.ndarray:
        X = as_float32_matrix(X, "X")
        if X.shape[1] != d_in:
            raise DimensionError(f"this map takes {d_in}-d source vectors, got {X.shape[1]}-d")
        refuse_zero_rows(X, norm.steps)  # as the numpy path does
        if not X.flags.writeable:  # torch shares the memory of what it is given and warns on read-only arrays
            X = X.copy()
        out = np.empty((X.shape[0], tW.shape[1]), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, X.shape[0], DEVICE_BATCH_ROWS):
                T = torch.from_numpy(np.ascontiguousarray(X[s : s + DEVICE_BATCH_ROWS])).to(dev)
                T = _torch_normalize(torch, norm.steps, stats, T)
                out[s : s + T.shape[0]] = torch.addmm(tb, T, tW).cpu().numpy()
        return out

    return run


def torch_moment_sums(
    X: np.ndarray, Y: np.ndarray, device: Any
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """The sums that :class:`~vecbridge.distributed.moments.LinearMoments` holds, of one batch of paired rows
    X (n, dx), Y (n, dy) (float32, checked by the caller), computed in float64 by torch on ``device`` (not
    MPS, which has no float64): ``(n, sum_x (dx,), sum_y (dy,), X^T X (dx, dx), X^T Y (dx, dy), sum of X^2)``."""
    torch = _torch()
    with torch.no_grad():
        tX = torch.from_numpy(X).to(device=device, dtype=torch.float64)
        tY = torch.from_numpy(Y).to(device=device, dtype=torch.float64)
        return (int(X.shape[0]), tX.sum(0).cpu().numpy(), tY.sum(0).cpu().numpy(), (tX.T @ tX).cpu().numpy(),
                (tX.T @ tY).cpu().numpy(), float(tX.square().sum().item()))
