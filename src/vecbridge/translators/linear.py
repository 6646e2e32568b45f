"""Closed-form linear maps: least squares / ridge and orthogonal Procrustes.

Solvers are pure functions over numpy arrays; the classes are thin wrappers.
All solves run in float64 on d x d matrices; data stay float32.
"""

from __future__ import annotations

import numpy as np

from ..errors import VecbridgeError
from .base import FitData, Range, Translator


def lstsq_map(X: np.ndarray, Y: np.ndarray, ridge: float = 0.0, bias: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares (ridge) map ``W, b`` minimising ``||X W + b - Y||^2 + ridge ||W||^2``.

    X: (n, dx), Y: (n, dy) -> W: (dx, dy) float32, b: (dy,) float32 (zeros without ``bias``).
    This is the translation matrix of Mikolov et al. (2013).
    """
    X64 = np.asarray(X, dtype=np.float64)
    Y64 = np.asarray(Y, dtype=np.float64)
    if bias:
        mx, my = X64.mean(axis=0), Y64.mean(axis=0)
        X64, Y64 = X64 - mx, Y64 - my
    return lstsq_from_moments(X64.T @ X64, X64.T @ Y64, ridge=ridge, mean_x=mx if bias else None, mean_y=my if bias else None)


def lstsq_from_moments(
    XtX: np.ndarray,
    XtY: np.ndarray,
    ridge: float = 0.0,
    mean_x: np.ndarray | None = None,
    mean_y: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares map from sufficient statistics (centred when means are given).

    ``XtX`` (dx, dx) and ``XtY`` (dx, dy) must already be centred when ``mean_x``/``mean_y``
    are passed. A rank-deficient system (fewer pairs than dimensions, or dependent dimensions) gets the
    minimum-norm solution, ``pinv(X) @ Y``: eigenvalues of ``XtX + ridge I`` below ``rank_tolerance(dx)``
    times the largest count as zero.
    """
    dx = XtX.shape[0]
    A = np.asarray(XtX, dtype=np.float64) + ridge * np.eye(dx)
    XtY = np.asarray(XtY, dtype=np.float64)
    if dx == 0 or not np.isfinite(A).all():
        raise VecbridgeError("least squares: the pairs' moments are not finite")
    eig = np.linalg.eigvalsh(A)
    tol = rank_tolerance(dx)
    W = None
    if eig[-1] > 0 and eig[0] > tol * eig[-1]:
        try:
            W = np.linalg.solve(A, XtY)
        except np.linalg.LinAlgError:
            W = None
        if W is not None and not np.isfinite(W).all():
            W = None
    if W is None:
        W = np.linalg.pinv(A, rcond=tol, hermitian=True) @ XtY
    if mean_x is not None and mean_y is not None:
        b = mean_y - mean_x @ W
    else:
        b = np.zeros(XtY.shape[1])
    return W.astype(np.float32), b.astype(np.float32)


def rank_tolerance(d: int) -> float:
    """Relative size below which an eigenvalue of a (d, d) moment matrix ``X^T X`` of float32 data counts as
    zero: singular values of X below ``d`` float32 roundings of the largest, squared."""
    return float((max(int(d), 1) * np.finfo(np.float32).eps) ** 2)


def polar(M: np.ndarray) -> np.ndarray:
    """The semi-orthogonal matrix nearest to ``M`` (dx, dy): ``U V^T`` of its thin SVD, in float64. For a
    cross-covariance ``M = X^T Y`` it is the Procrustes solution (:func:`procrustes_from_cross`)."""
    U, _, Vt = np.linalg.svd(np.asarray(M, dtype=np.float64), full_matrices=False)
    return U @ Vt


def procrustes_map(X: np.ndarray, Y: np.ndarray, scale: bool = False) -> tuple[np.ndarray, float]:
    """Orthogonal Procrustes: ``W`` with orthonormal columns (or rows) minimising ``||s X W - Y||``.

    X: (n, dx), Y: (n, dy). For dx == dy, W is orthogonal; otherwise W (dx, dy)
    is semi-orthogonal (``W.T W = I`` when dx >= dy, ``W W.T = I`` when dx < dy),
    from the thin SVD of ``X.T Y``. With ``scale`` the global factor
    ``s = trace(S) / ||X||_F^2`` is returned, else 1.0.
    """
    M = np.asarray(X, dtype=np.float64).T @ np.asarray(Y, dtype=np.float64)
    return procrustes_from_cross(M, scale_denominator=float(np.square(X, dtype=np.float64).sum()) if scale else None)


def procrustes_from_cross(M: np.ndarray, scale_denominator: float | None = None) -> tuple[np.ndarray, float]:
    """Procrustes from the cross-covariance ``M = X.T Y`` (dx, dy). An all-zero ``M`` (all-zero source or target
    vectors) determines no rotation: an error."""
    if not np.any(M):
        raise VecbridgeError("the paired source and target vectors have no cross-covariance (one side is all "
                             "zeros), so no rotation can be estimated; check the inputs and the normalisation")
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    W = U @ Vt
    s = 1.0
    if scale_denominator is not None:
        if scale_denominator <= 0:
            raise VecbridgeError("cannot estimate a scale from all-zero source vectors")
        s = float(S.sum() / scale_denominator)
    return W.astype(np.float32), s


class LeastSquares(Translator):
    """Linear translation matrix by least squares / ridge (Mikolov et al. 2013).

    Parameters
    ----------
    ridge : float, default 0
        L2 penalty on W (0 = ordinary least squares).
    bias : bool, default False
        Fit an intercept (``X W + b``).
    normalize : str, optional
        Normalisation steps applied to both sides before fitting and stored in
        the map. ``"unit center unit"`` translates best (docs/normalisation.md) but puts the output in the
        target's centred space; the default (None) keeps it in the target's own coordinates.
    """

    method = "lstsq"
    param_ranges = {"ridge": Range(0)}
    range_message = "{method}: parameter {name!r} must be {rule}, got {value!r}"
    saved_arrays = {"W_": ("in", "out"), "b_": ("out",)}

    def __init__(self, ridge: float = 0.0, bias: bool = False, normalize: str | None = None):
        self.ridge = ridge
        self.bias = bias
        self.normalize = normalize

    def min_pairs(self, d_in: int, d_out: int) -> int:
        """Ordinary least squares needs as many pairs as unknowns per output (d_in, + 1 with a bias);
        with a ridge penalty, as many as the smaller dimension."""
        if float(self.ridge) > 0:
            return min(d_in, d_out)
        return d_in + int(bool(self.bias))

    def _fit_pairs(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.W_, self.b_ = lstsq_map(X, Y, ridge=float(self.ridge), bias=bool(self.bias))

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.W_ + self.b_


class Procrustes(Translator):
    """Orthogonal (semi-orthogonal if dimensions differ) map (Xing et al. 2015; Artetxe et al. 2016).

    Parameters
    ----------
    scale : bool, default False
        Also fit a global scale factor ``scale_``.
    normalize : str, optional
        Normalisation steps applied to both sides. ``"unit center unit"`` translates best
        (docs/normalisation.md) but puts the output in the target's centred space; the default (None)
        keeps it in the target's own coordinates.
    """

    method = "procrustes"
    saved_arrays = {"W_": ("in", "out")}

    def __init__(self, scale: bool = False, normalize: str | None = None):
        self.scale = scale
        self.normalize = normalize

    def _fit_pairs(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.W_, s = procrustes_map(X, Y, scale=bool(self.scale))
        self.scale_ = float(s)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        out = X @ self.W_
        if self.scale_ != 1.0:
            out *= np.float32(self.scale_)
        return out


class Identity(Translator):
    """The identity map (a baseline: no translation at all). Needs equal dimensions."""

    method = "identity"
    needs = "samples"
    requires_pairs = False
    saved_arrays: dict = {}

    def __init__(self, normalize: str | None = None):
        self.normalize = normalize

    def _fit(self, data: FitData) -> None:
        X, Y = data.X, data.Y
        if X.shape[1] != Y.shape[1]:
            raise VecbridgeError(f"the identity map needs equal dimensions, got {X.shape[1]} and {Y.shape[1]}")

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X
