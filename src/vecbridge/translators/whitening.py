"""The multi-step framework of Artetxe, Labaka and Agirre (AAAI 2018).

Steps, each optional: whitening of both sides, an orthogonal mapping of both
into a shared space, re-weighting by the singular values, de-whitening, and
dimensionality reduction. Earlier methods are settings of these options:

============  ========  =================  =====================  ====
preset        whiten    re-weight (s, t)   de-whiten (src, trg)   note
============  ========  =================  =====================  ====
orthogonal    no        0, 0               none, none             Procrustes (Xing 2015, Artetxe 2016)
cca           yes       0, 0               none, none             CCA (Faruqui & Dyer 2014)
recommended   yes       0.5, 0.5           src, trg               Artetxe et al. 2018's best
============  ========  =================  =====================  ====

Both sides end in a shared space. ``output="shared"`` keeps them there
(``transform`` maps source vectors and ``transform_target`` maps target
vectors into it, as the reference implementation does for retrieval);
``output="target"`` (default) maps source vectors on into the target space
through the pseudo-inverse of the target side's transformation, so the
output can be compared with existing target vectors as they are. Where that
transformation is ill-conditioned (condition number above
``MAX_TARGET_CONDITION`` with re-weighting or de-whitening on: the re-weighting by
canonical correlations leaves directions that correlate not at all next to zero, as
between the MiniLM-L3 and MiniLM-L6 word spaces), the pseudo-inverse would amplify
them into garbage, and the orthogonal map is fitted instead; ``fit_info_["final"]`` and ``["final_note"]``
say so, and a warning is raised.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import VecbridgeError
from .base import Choice, Range, Translator

PRESETS: dict[str, dict[str, Any]] = {
    "orthogonal": dict(whiten=False, src_reweight=0.0, trg_reweight=0.0, src_dewhiten=None, trg_dewhiten=None),
    "cca": dict(whiten=True, src_reweight=0.0, trg_reweight=0.0, src_dewhiten=None, trg_dewhiten=None),
    "recommended": dict(whiten=True, src_reweight=0.5, trg_reweight=0.5, src_dewhiten="src", trg_dewhiten="trg"),
}


# above this condition number of the target side's map, Tx pinv(Tz) is not used (see the module doc); on
# MiniLM-L3 -> MiniLM-L6 words (5,000 pairs) it is 1.4e11 and the map gave held-out P@1 0.000, on the
# other word tasks 2-440
MAX_TARGET_CONDITION = 1e4


def condition_number(T: np.ndarray) -> float:
    """Largest over smallest singular value of T (finite: a zero smallest one counts as 1e-300)."""
    sv = np.linalg.svd(np.asarray(T, dtype=np.float64), compute_uv=False)
    return float(sv[0] / max(sv[-1], 1e-300))


def orthogonal_if_ill_conditioned(
    X: np.ndarray, Y: np.ndarray, Tx: np.ndarray, Tz: np.ndarray, limit: float = MAX_TARGET_CONDITION,
    dim_reduction: int | None = None,
) -> tuple[np.ndarray, np.ndarray, float, str | None]:
    """``(Tx, Tz, condition, note)``: the maps as given when ``Tz``'s condition number is at most ``limit``
    (note None), else the orthogonal maps of the same pairs X, Y and a note saying why."""
    cond = condition_number(Tz)
    if cond <= limit:
        return Tx, Tz, cond, None
    Tx, Tz = multistep_maps(X, Y, dim_reduction=dim_reduction, **PRESETS["orthogonal"])
    note = (f"the whitened map is ill-conditioned on the target side (condition number {cond:.2g} > {limit:g}): "
            "mapping into the target space would amplify directions that do not correlate; used the orthogonal map")
    return Tx, Tz, cond, note


def whitening_matrix(X: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``(X^T X)^(-1/2)`` from the SVD of X (d, d), float64.

    Singular values below ``eps`` times the largest are clipped, so a
    rank-deficient X gives a finite matrix instead of an error.
    """
    _, s, Vt = np.linalg.svd(np.asarray(X, dtype=np.float64), full_matrices=False)
    if Vt.shape[0] < Vt.shape[1]:
        raise VecbridgeError(
            f"whitening needs at least as many pairs as dimensions ({Vt.shape[1]}), got {Vt.shape[0]}"
        )
    s = np.maximum(s, eps * s.max())
    return (Vt.T / s) @ Vt


def multistep_maps(
    X: np.ndarray,
    Y: np.ndarray,
    whiten: bool,
    src_reweight: float,
    trg_reweight: float,
    src_dewhiten: str | None,
    trg_dewhiten: str | None,
    dim_reduction: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The two linear maps ``(Tx, Tz)`` into the shared space: (dx, k), (dy, k), float64."""
    X64 = np.asarray(X, dtype=np.float64)
    Y64 = np.asarray(Y, dtype=np.float64)
    dx, dy = X64.shape[1], Y64.shape[1]
    Wx1, Wz1 = (whitening_matrix(X64), whitening_matrix(Y64)) if whiten else (np.eye(dx), np.eye(dy))
    # orthogonal mapping of both sides into a common space: thin SVD of the whitened cross-covariance
    U, s, Vt = np.linalg.svd((X64 @ Wx1).T @ (Y64 @ Wz1), full_matrices=False)
    Wx2, Wz2 = U, Vt.T  # (dx, r), (dy, r)
    Tx = Wx1 @ Wx2 * s**src_reweight
    Tz = Wz1 @ Wz2 * s**trg_reweight

    def dewhiten(which: str | None) -> np.ndarray:
        r = len(s)
        if which is None:
            return np.eye(r)
        if not whiten:
            raise VecbridgeError("de-whitening needs whiten=True")
        if which == "src":
            return Wx2.T @ np.linalg.inv(Wx1) @ Wx2
        if which == "trg":
            return Wz2.T @ np.linalg.inv(Wz1) @ Wz2
        raise VecbridgeError(f"de-whitening must be 'src', 'trg' or None, got {which!r}")

    Tx = Tx @ dewhiten(src_dewhiten)
    Tz = Tz @ dewhiten(trg_dewhiten)
    if dim_reduction is not None:
        if not 0 < dim_reduction <= len(s):
            raise VecbridgeError(f"dim_reduction must be in 1..{len(s)}, got {dim_reduction}")
        Tx, Tz = Tx[:, :dim_reduction], Tz[:, :dim_reduction]
    return Tx, Tz


def output_maps(Tx: np.ndarray, Tz: np.ndarray, output: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Where a two-sided map puts rows (see :class:`SharedSpaceOutput`): ``(W, Wt)`` with source rows going to
    ``X W`` and target rows to ``Y Wt`` (``Wt`` None: they stay as they are), float32."""
    if output == "target":  # source -> shared -> target via the pseudo-inverse of the target side's map
        W = np.asarray(Tx, dtype=np.float64) @ np.linalg.pinv(np.asarray(Tz, dtype=np.float64))
        return W.astype(np.float32), None
    return np.asarray(Tx, dtype=np.float32), np.asarray(Tz, dtype=np.float32)


class SharedSpaceOutput:
    """Where a map made of two sides (``Tx_`` (dx, r), ``Tz_`` (dz, r)) puts its output (``output``).

    ``"shared"``: source rows go to ``X Tx_`` and target rows to ``Y Tz_``; ``"target"``: source rows go
    on into the target space through the pseudo-inverse of the target side, target rows stay as they are.
    Mixed into :class:`MultiStep` and the self-learning translator, before :class:`.base.Translator`.
    """

    output: str
    Tx_: np.ndarray
    Tz_: np.ndarray

    def _after_load(self) -> None:
        self._W = output_maps(self.Tx_, self.Tz_, self.output)[0]

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self._W

    def _transform_target(self, Y: np.ndarray) -> np.ndarray:
        return Y @ self.Tz_ if self.output == "shared" else Y

    def output_in_target_space(self) -> bool:
        return self.output != "shared"


class MultiStep(SharedSpaceOutput, Translator):
    """Artetxe et al. (2018) whitening / orthogonal / re-weighting / de-whitening / reduction.

    Parameters
    ----------
    whiten : bool
    src_reweight, trg_reweight : float
        Exponent of the singular values applied to each side (0 = none, 0.5 = the paper's choice).
    src_dewhiten, trg_dewhiten : {"src", "trg", None}
    dim_reduction : int or None
        Keep the first k shared dimensions.
    output : {"target", "shared"}
        Where ``transform`` puts source vectors (see the module docstring).
    normalize : str, optional
        Normalisation steps applied to both sides first (the paper uses ``"unit center unit"``, which also
        measured best here: docs/normalisation.md; it puts the output in the target's centred space).

    Use :meth:`preset` for the named settings: ``MultiStep.preset("cca")``.
    """

    method = "multistep"
    param_ranges = {"dim_reduction": Range(1), "src_dewhiten": Choice(("src", "trg")),
                    "trg_dewhiten": Choice(("src", "trg")), "output": Choice(("target", "shared"))}
    saved_arrays = {"Tx_": ("in", "k"), "Tz_": ("out", "k")}

    def __init__(
        self,
        whiten: bool = True,
        src_reweight: float = 0.5,
        trg_reweight: float = 0.5,
        src_dewhiten: str | None = "src",
        trg_dewhiten: str | None = "trg",
        dim_reduction: int | None = None,
        output: str = "target",
        normalize: str | None = None,
    ):
        self.whiten = whiten
        self.src_reweight = src_reweight
        self.trg_reweight = trg_reweight
        self.src_dewhiten = src_dewhiten
        self.trg_dewhiten = trg_dewhiten
        self.dim_reduction = dim_reduction
        self.output = output
        self.normalize = normalize

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> MultiStep:
        """A MultiStep with the options of a named method (``orthogonal``, ``cca``, ``recommended``)."""
        if name not in PRESETS:
            raise VecbridgeError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def _fit_pairs(self, X: np.ndarray, Y: np.ndarray) -> None:
        if self.output not in ("target", "shared"):
            raise VecbridgeError(f"output must be 'target' or 'shared', got {self.output!r}")
        Tx, Tz = multistep_maps(
            X, Y, bool(self.whiten), float(self.src_reweight), float(self.trg_reweight),
            self.src_dewhiten, self.trg_dewhiten, self.dim_reduction,
        )
        info: dict[str, Any] = {"final": "as configured"}
        if self.output == "target":
            # without re-weighting and de-whitening, Tx pinv(Tz) is the CCA map, which the clipped whitening
            # keeps finite (condition <= 1e6; on MiniLM-L3 -> L6 words it reached 1e6 and gave P@1 0.872 against
            # 0.837 for the orthogonal map); the re-weighted map is what explodes
            reweighted = bool(float(self.src_reweight) or float(self.trg_reweight) or self.src_dewhiten
                              or self.trg_dewhiten)
            Tx, Tz, cond, note = orthogonal_if_ill_conditioned(
                X, Y, Tx, Tz, MAX_TARGET_CONDITION if reweighted else float("inf"), self.dim_reduction)
            info["target_condition"] = float(f"{cond:.3g}")
            if note:
                info.update(final="orthogonal", final_note=note)
                warnings.warn(f"multistep: {note}", stacklevel=3)
        self.fit_info_ = info
        self.Tx_ = Tx.astype(np.float32)
        self.Tz_ = Tz.astype(np.float32)
        self._after_load()
