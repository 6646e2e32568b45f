"""2-D projections of embeddings, before and after translation, as panels and PNG files.

A figure is a list of :class:`Panel`; a panel holds :class:`Series` of points
(2-D coordinates with their keys) and optional links between paired points
(row i of one series with row i of another). :func:`before_after_panels` builds
the usual pair of views for a map: the source and target spaces as they are,
and the translated source next to the target in the map's output space.
:func:`render_png` draws panels with matplotlib (Agg backend: no display
needed) into a PNG, PDF or SVG file; :mod:`vecbridge.viz.report` draws the same panels in HTML.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_output, check_writable
from ..embeddings import Embeddings
from ..errors import ParameterError, VecbridgeError
from ..normalize import unit_rows

PROJECTIONS = ("pca", "umap")
# colour-blind-safe (Okabe-Ito) colours for the series, in order
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "^", "s", "D", "v", "P", "X")
LABEL_LIMIT = 60  # label points by default only up to this many per panel
#: the file types :func:`render_png` writes, by the file name's suffix
PLOT_FORMATS = ("png", "pdf", "svg")


@dataclass
class Series:
    """Points of one kind in a panel: ``xy`` (n, 2) with ``keys`` (n) naming them."""

    name: str
    keys: list[str]
    xy: np.ndarray
    color: str = PALETTE[0]
    marker: str = "o"

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float64).reshape(-1, 2)
        if len(self.keys) != len(self.xy):
            raise VecbridgeError(f"series {self.name!r}: {len(self.keys)} keys for {len(self.xy)} points")


@dataclass
class Panel:
    """One plot: a title, axis names, series and links.

    ``links``: pairs ``(i, j)`` of series indices whose rows are paired (row r
    of series i with row r of series j; both the same length), drawn as thin
    lines. ``labels``: write each point's key next to it.
    """

    title: str
    series: list[Series]
    links: list[tuple[int, int]] = field(default_factory=list)
    xlabel: str = "PC 1"
    ylabel: str = "PC 2"
    labels: bool = True

    @property
    def n_points(self) -> int:
        return sum(len(s.keys) for s in self.series)


# -- projections -----------------------------------------------------------------------------------
def pca_2d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA to two dimensions: coordinates (n, 2) and the share of variance of each axis (2,).

    Axis signs are fixed (largest loading positive), so the result is reproducible.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] < 2:
        raise VecbridgeError(f"a 2-D projection needs at least 2 points, got {X.shape[0]}")
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc
    w, V = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1][:2]
    V = V[:, order]
    if V.shape[1] < 2:
        V = np.pad(V, ((0, 0), (0, 2 - V.shape[1])))
    V *= np.sign(V[np.abs(V).argmax(axis=0), np.arange(2)] + 1e-300)
    total = float(w.clip(min=0).sum()) or 1.0
    return Xc @ V, np.asarray([max(w[i], 0) / total for i in order] + [0.0] * (2 - len(order)))


def umap_2d(X: np.ndarray, *, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """UMAP to two dimensions (cosine metric), from the optional ``umap-learn`` package (extra ``viz``)."""
    try:
        import umap
    except ImportError as e:
        raise VecbridgeError("UMAP plots need umap-learn: pip install 'vecbridge[viz]' (or use projection='pca')") from e
    import warnings

    X = np.asarray(X, dtype=np.float32)
    n_neighbors = max(2, min(n_neighbors, X.shape[0] - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that a seed disables parallelism: intended
        reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, metric="cosine",
                            random_state=seed, init="random" if X.shape[0] < 10 else "spectral")
        return np.asarray(reducer.fit_transform(X), dtype=np.float64)


def project_2d(X: np.ndarray, method: str = "pca", *, seed: int = 0, n_neighbors: int = 15) -> tuple[np.ndarray, list[str]]:
    """Rows of ``X`` (n, d) as 2-D points (n, 2), and the two axis names.

    Rows are scaled to unit length first (cosine geometry). ``method``: ``"pca"``
    or ``"umap"``.
    """
    X = unit_rows(np.asarray(X, dtype=np.float32))
    if method == "pca":
        xy, var = pca_2d(X)
        return xy, [f"PC 1 ({var[0]:.0%} of variance)", f"PC 2 ({var[1]:.0%})"]
    if method == "umap":
        return umap_2d(X, seed=seed, n_neighbors=n_neighbors), ["UMAP 1", "UMAP 2"]
    raise VecbridgeError(f"unknown projection {method!r}; choose from {', '.join(PROJECTIONS)}")


# -- building panels -------------------------------------------------------------------------------
def choose_pairs(
    src: Embeddings,
    tgt: Embeddings,
    *,
    words: Sequence[str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    sample: int = 200,
    seed: int = 0,
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The (source key, target key) pairs to plot and a count of what was left out.

    ``pairs`` (a dictionary) or ``words`` (keys both sides hold) pick them;
    otherwise ``sample`` shared keys drawn with ``seed`` (in source order).
    """
    skipped: list[str] = []
    if pairs is not None:
        chosen = [(s, t) for s, t in pairs if s in src.index and t in tgt.index]
        skipped = [f"{s}->{t}" for s, t in pairs if s not in src.index or t not in tgt.index]
    elif words is not None:
        chosen = [(w, w) for w in words if w in src.index and w in tgt.index]
        skipped = [w for w in words if w not in src.index or w not in tgt.index]
    else:
        shared = [k for k in src.keys if k in tgt.index]
        if len(shared) > sample:
            pick = np.sort(np.random.default_rng(seed).choice(len(shared), size=sample, replace=False))
            shared = [shared[i] for i in pick]
        chosen = [(k, k) for k in shared]
    if len(chosen) < 2:
        why = (f"only {len(chosen)} of the chosen words are in both spaces (missing: {skipped[:5]})" if skipped else
               f"only {len(chosen)} shared keys to plot (sample {sample})" if pairs is None and words is None else
               f"only {len(chosen)} words chosen")
        raise VecbridgeError(f"{why}; a plot needs at least 2")
    return chosen, {"n_plotted": len(chosen), "n_skipped": len(skipped), "skipped_examples": skipped[:10]}


def before_after_panels(
    src: Embeddings,
    tgt: Embeddings,
    translator: Any = None,
    *,
    words: Sequence[str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    sample: int = 200,
    projection: str = "pca",
    labels: bool | None = None,
    seed: int = 0,
    src_name: str | None = None,
    tgt_name: str | None = None,
) -> tuple[list[Panel], dict[str, Any]]:
    """Panels showing the chosen words before and after translation.

    Before: when both spaces have the same dimension, one panel with source and
    target projected together (paired points linked: far apart when the spaces
    are unaligned); otherwise one panel per space. After (with a fitted
    ``translator``): the translated source and the target, in the map's output
    space (``transform`` / ``transform_target``), projected together and linked.

    Parameters
    ----------
    src : Embeddings (n_s, d_s); tgt : Embeddings (n_t, d_t).
    translator : a fitted map from src's space into tgt's, or None (before only).
    words, pairs, sample, seed : which points (:func:`choose_pairs`).
    projection : ``"pca"`` or ``"umap"``.
    labels : write keys next to points; default when at most 60 pairs.

    Returns
    -------
    (panels, info) with info from :func:`choose_pairs` plus the projection.
    """
    chosen, info = choose_pairs(src, tgt, words=words, pairs=pairs, sample=sample, seed=seed)
    s_keys = [s for s, _ in chosen]
    t_keys = [t for _, t in chosen]
    S = src.subset(s_keys).vectors
    T = tgt.subset(t_keys).vectors
    sn = src_name or src.describe() or "source"
    tn = tgt_name or tgt.describe() or "target"
    show = (len(chosen) <= LABEL_LIMIT) if labels is None else bool(labels)
    kw = dict(seed=seed)
    panels: list[Panel] = []
    s_lab = s_keys
    t_lab = t_keys
    if S.shape[1] == T.shape[1]:
        xy, axes = project_2d(np.concatenate([S, T]), projection, **kw)
        n = len(chosen)
        panels.append(Panel(f"Before: {sn} and {tn} as they are", [
            Series(f"source: {sn}", s_lab, xy[:n], PALETTE[0], MARKERS[0]),
            Series(f"target: {tn}", t_lab, xy[n:], PALETTE[1], MARKERS[1])], [(0, 1)], *axes, show))
    else:
        for name, X, lab, ci in ((f"source: {sn}", S, s_lab, 0), (f"target: {tn}", T, t_lab, 1)):
            xy, axes = project_2d(X, projection, **kw)
            panels.append(Panel(f"Before: {name} ({X.shape[1]}-d)", [Series(name, lab, xy, PALETTE[ci], MARKERS[ci])],
                                [], *axes, show))
    if translator is not None:
        from ..evaluation import method_label

        M = translator.transform(S)
        Tt = translator.transform_target(T)
        xy, axes = project_2d(np.concatenate([M, Tt]), projection, **kw)
        n = len(chosen)
        method = method_label(translator) if hasattr(translator, "method") else "map"  # auto: the chosen method
        panels.append(Panel(f"After: {sn} translated by {method}, with {tn}", [
            Series(f"translated: {sn} -> {tn}", s_lab, xy[:n], PALETTE[2], MARKERS[2]),
            Series(f"target: {tn}", t_lab, xy[n:], PALETTE[1], MARKERS[1])], [(0, 1)], *axes, show))
    info["projection"] = projection
    return panels, info


def spaces_panel(spaces: dict[str, Embeddings], words: Sequence[str], *, projection: str = "pca",
                 title: str = "", seed: int = 0, labels: bool = True) -> Panel:
    """One panel with ``words`` from several spaces of one dimension, projected together.

    Each space is a series; the same word in consecutive spaces is linked.
    Words missing from any space are left out (raises when fewer than 2 remain).
    """
    names = list(spaces)
    dims = {e.dim for e in spaces.values()}
    if len(dims) != 1:
        raise VecbridgeError(f"spaces_panel projects spaces of one dimension together; got dimensions {sorted(dims)}")
    keep = [w for w in words if all(w in e.index for e in spaces.values())]
    if len(keep) < 2:
        raise VecbridgeError(f"only {len(keep)} of the words are in every space; need at least 2")
    X = np.concatenate([spaces[n].subset(keep).vectors for n in names])
    xy, axes = project_2d(X, projection, seed=seed)
    m = len(keep)
    series = [Series(n, keep, xy[i * m:(i + 1) * m], PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)])
              for i, n in enumerate(names)]
    return Panel(title or " vs ".join(names), series, [(i, i + 1) for i in range(len(names) - 1)], *axes, labels)


# -- PNG, PDF, SVG -----------------------------------------------------------------------------------
def plot_format(path: str | os.PathLike) -> str | None:
    """The file type a plot file name asks for (``png``, ``pdf`` or ``svg``, from its suffix, any case); None
    for another suffix or none."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in PLOT_FORMATS else None


def render_png(
    panels: Sequence[Panel],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    overwrite: bool = False,
    dpi: int = 110,
    panel_size: float = 6.0,
    format: str | None = None,
) -> Path:
    """Draw ``panels`` side by side into a PNG, PDF or SVG file (matplotlib, Agg backend).

    ``format``: ``"png"``, ``"pdf"`` or ``"svg"``; default: from the suffix of ``path`` (PNG when it has
    none; another suffix is an error). Refuses to replace an existing file unless ``overwrite``, and a folder
    always, before drawing. Written atomically (a temporary file in the same folder, renamed; removed on
    failure). Returns the path.
    """
    path = Path(path)
    fmt = format.lower() if format else plot_format(path) or ("png" if not path.suffix else None)
    if fmt not in PLOT_FORMATS:
        raise ParameterError(f"cannot write a plot as {format or path.suffix!r} ({path}); name the file .png, .pdf "
                             "or .svg (format= one of png, pdf, svg)")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise VecbridgeError("plots need matplotlib: pip install 'vecbridge[viz]'") from e
    check_writable(path, overwrite)  # before drawing: an existing file (without overwrite), a folder
    if not panels:
        raise VecbridgeError("nothing to draw: no panels")
    n = len(panels)
    fig = Figure(figsize=(panel_size * n, panel_size + 0.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for i, j in panel.links:
            a, b = panel.series[i].xy, panel.series[j].xy
            segs = np.stack([a, b], axis=1)
            for seg in segs:
                ax.plot(seg[:, 0], seg[:, 1], color="#999999", lw=0.6, alpha=0.6, zorder=1)
        for s in panel.series:
            ax.scatter(s.xy[:, 0], s.xy[:, 1], s=28, c=s.color, marker=s.marker, label=f"{s.name} ({len(s.keys)})",
                       alpha=0.85, edgecolors="white", linewidths=0.4, zorder=2)
            if panel.labels:
                for (x, y), k in zip(s.xy, s.keys):
                    ax.annotate(k, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8, color=s.color,
                                zorder=3)
        ax.set_title(_wrap(panel.title, 60), fontsize=11)
        ax.set_xlabel(panel.xlabel, fontsize=9)
        ax.set_ylabel(panel.ylabel, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, lw=0.3, alpha=0.5)
        ax.legend(fontsize=8, loc="best", framealpha=0.85)
    if title:
        fig.suptitle(title, fontsize=13)
    with atomic_output(path, overwrite=overwrite, compress=False) as f:  # a temporary file beside it, renamed
        fig.savefig(f, format=fmt)
    return path


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


__all__ = [
    "Series",
    "Panel",
    "pca_2d",
    "umap_2d",
    "project_2d",
    "choose_pairs",
    "before_after_panels",
    "spaces_panel",
    "PLOT_FORMATS",
    "plot_format",
    "render_png",
]
