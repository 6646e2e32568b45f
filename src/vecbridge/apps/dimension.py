"""Change dimensionality: map one space into a space of another dimension.

A 300-d model mapped into a 100-d model's space (or up: 50-d into 384-d) is a
translation between spaces of different sizes. :func:`change_dimension` fits
the map on part of the shared words and measures, on the held-out words, how
often a mapped word's nearest target word is the word itself (hit@k), plus the
structure scores (analogies, WordSim353, SimLex-999) of every space involved.
The natural baseline is PCA of the source to the target's dimension: it keeps
as much of the source's own structure as a linear projection can, but lands in
a space of its own, not the target's (:func:`pca_reduce`). "PCA + Procrustes"
then aligns that projection with the target, for a hit rate to compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import ParameterError, VecbridgeError
from .merge import DEFAULT_MAP_NORMALIZE, map_params
from .structure import structure_row, structure_scores


def pca_basis(X: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and the top-``dim`` principal axes (d, dim) of ``X`` (n, d), from an SVD in float64."""
    X = np.asarray(X, dtype=np.float64)
    if not 1 <= dim <= min(X.shape):
        raise VecbridgeError(f"PCA to {dim} dimensions needs 1 <= dim <= min(n, d) = {min(X.shape)}")
    mean = X.mean(axis=0)
    # the d x d covariance is small; its eigenvectors are the principal axes
    cov = (X - mean).T @ (X - mean)
    w, V = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1][:dim]
    V = V[:, order]
    # fix the sign of each axis (largest entry positive) so results are reproducible
    V *= np.sign(V[np.abs(V).argmax(axis=0), np.arange(dim)])
    return mean.astype(np.float32), V.astype(np.float32)


def pca_reduce(emb: Embeddings, dim: int, *, fit_rows: int | None = None) -> Embeddings:
    """PCA of ``emb`` (n, d) to ``dim`` dimensions -> Embeddings (n, dim).

    ``fit_rows``: fit the axes on the first ``fit_rows`` rows only (the most
    frequent words), then project all rows.
    """
    X = emb.vectors if fit_rows is None else emb.vectors[:fit_rows]
    mean, V = pca_basis(X, dim)
    return emb.with_vectors((emb.vectors - mean) @ V, name=f"{emb.describe()} PCA-{dim}")


@dataclass
class DimensionResult:
    """What :func:`change_dimension` returns.

    ``translator``: the map fitted on the training words. ``mapped``: every
    source word mapped into the target space (the map's output space).
    ``rows``: one table row per space (name, dim, hit@k on held-out words where
    defined, structure scores). ``info``: split sizes and settings.
    """

    translator: Any
    mapped: Embeddings
    rows: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


def change_dimension(
    src: Embeddings,
    tgt: Embeddings,
    *,
    method: str = "lstsq",
    normalize: str | None = DEFAULT_MAP_NORMALIZE,
    params: dict[str, Any] | None = None,
    test_fraction: float = 0.2,
    retrieval: str = "nn",
    ks: tuple[int, ...] = (1, 5, 10),
    structure_data: dict[str, Any] | None = None,
    restrict_vocab: int = 30000,
    pca_baseline: bool = True,
    seed: int = 0,
    force: bool = False,
    progress: bool | None = None,
) -> DimensionResult:
    """Map ``src`` (n_s, d_s) into ``tgt``'s space (n_t, d_t) and score it against PCA.

    Parameters
    ----------
    src, tgt : the two spaces, with shared words (the same vocabulary in two models).
    method, normalize, params : the translator; least squares on
        ``"unit center unit"`` by default (Procrustes is semi-orthogonal across
        dimensions, which throws away scale information going down).
    test_fraction : share of the shared words held out of the fit; hit@k is
        measured on them, retrieving among the whole target vocabulary.
    retrieval : ``"nn"`` or ``"csls"``.
    structure_data : from :func:`~vecbridge.apps.structure.load_structure_data`;
        None loads it; pass ``{}`` to skip the structure scores.
    restrict_vocab : analogy candidates: the first words of each space.
    pca_baseline : also score PCA of the source to ``d_t`` (and PCA + Procrustes
        onto the target, for a hit rate).
    force : fit even on fewer shared words than the method needs to be well-posed.
    seed : draws the held-out words.

    Returns
    -------
    :class:`DimensionResult`; its ``rows`` hold ``space``, ``dim``,
    ``hit_at_k`` and the structure columns of
    :func:`~vecbridge.apps.structure.structure_row`.
    """
    from ..evaluation import hit_rate
    from ..translators import make_translator

    if not 0.0 < test_fraction < 1.0:
        raise ParameterError(f"test_fraction must be in (0, 1), got {test_fraction} (--test-fraction / test_fraction=)")
    shared = [k for k in src.keys if k in tgt.index]
    if len(shared) < 10:
        raise VecbridgeError(f"{src.describe()} and {tgt.describe()} share {len(shared)} words; need at least 10")
    perm = np.random.default_rng(seed).permutation(len(shared))
    n_test = max(1, int(round(len(shared) * test_fraction)))
    test = [shared[i] for i in sorted(perm[:n_test])]
    train = [shared[i] for i in sorted(perm[n_test:])]
    params = map_params(method, normalize, params)
    translator = make_translator(method, **params)
    needed = max(1, 0 if force else translator.min_pairs(src.dim, tgt.dim))
    if len(train) < needed:
        raise ParameterError(
            f"--test-fraction / test_fraction={test_fraction}: holds out {len(test)} of the {len(shared)} shared "
            f"words and leaves {len(train)} to fit {method} on, fewer than the {needed} "
            + ("the fit needs; give a smaller test fraction" if force else
               "a well-posed fit needs; give a smaller test fraction (or --force / force=True to fit anyway)"))
    translator.fit(src, tgt, pairs=[(k, k) for k in train], force=force)
    mapped = translator.transform(src)
    mapped.meta["name"] = f"{src.describe()} -> {tgt.describe()}"
    target_n = translator.transform_target(tgt)
    data = structure_data
    if data is None:
        from .structure import load_structure_data

        data = load_structure_data()
    chosen = translator.fit_info_.get("chosen_method")  # auto: the method it chose
    label = f"{chosen} (chosen by auto)" if chosen else method
    info = {"n_shared": len(shared), "n_train": len(train), "n_test": len(test), "method": method,
            **({"chosen_method": chosen} if chosen else {}),
            "normalize": normalize, "retrieval": retrieval, "seed": seed,
            "src": src.describe(), "tgt": tgt.describe(), "src_dim": src.dim, "tgt_dim": tgt.dim}

    def score(emb: Embeddings) -> dict[str, Any]:
        return structure_row(structure_scores(emb, data, restrict_vocab=restrict_vocab)) if data else {}

    def hits(emb: Embeddings) -> dict[str, Any]:
        h = hit_rate(emb, target_n, keys=test, ks=ks, retrieval=retrieval, progress=progress)
        return {f"hit_at_{k}": h[f"hit_at_{k}"] for k in ks}

    none_hits = {f"hit_at_{k}": None for k in ks}
    rows = [
        {"space": f"source ({src.describe()})", "dim": src.dim, **none_hits, **score(src)},
        {"space": f"target ({tgt.describe()})", "dim": tgt.dim, **none_hits, **score(tgt)},
        {"space": f"source mapped by {label}", "dim": mapped.dim, **hits(mapped), **score(mapped)},
    ]
    if pca_baseline and tgt.dim < src.dim:
        pca = pca_reduce(src, tgt.dim)
        # normalised as the map is (a method without a normalisation of its own, such as auto, uses the default)
        steps = translator.get_params().get("normalize", "unit center unit") if normalize is None else normalize
        aligned = make_translator("procrustes", normalize=steps).fit(pca, tgt, pairs=[(k, k) for k in train],
                                                                     force=force)
        rows.append({"space": f"PCA of source to {tgt.dim}-d", "dim": tgt.dim, **none_hits, **score(pca)})
        pca_mapped = aligned.transform(pca)
        rows.append({"space": "PCA of source + Procrustes", "dim": tgt.dim, **hits(pca_mapped)})
    elif pca_baseline:
        info["pca_baseline"] = f"skipped: the target ({tgt.dim}-d) is not smaller than the source ({src.dim}-d)"
    return DimensionResult(translator, mapped, rows, info)


__all__ = ["pca_basis", "pca_reduce", "change_dimension", "DimensionResult"]
