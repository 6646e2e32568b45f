"""How isomorphic are two embedding spaces? Diagnostics on shared keys or on unpaired sets.

On paired rows (shared keys or a dictionary), row i of X and row i of Y name
the same item:

- :func:`eigenvector_similarity` (Søgaard, Ruder and Vulić, ACL 2018): the
  Laplacian spectra of the two k-nearest-neighbour graphs, compared over the
  leading eigenvalues that hold 90% of the spectrum's mass. 0 for identical
  graphs; larger is less isomorphic. It never uses the pairing itself, only
  that the two sets are comparable, so it also runs on unpaired sets (e.g. the
  n most frequent words of each side).
- :func:`rsa`: representational similarity analysis, the Spearman correlation
  of the pairwise cosine similarities of the same items in the two spaces.
- :func:`linear_cka`: linear centred kernel alignment (Kornblith et al. 2019).

Without pairs, :func:`diagnose` reports what needs none: the eigenvector
similarity of the most frequent words' graphs, and the distance between the
two distributions of pairwise cosine similarities.

All sampling uses ``numpy.random.default_rng(seed)``; sizes are capped
(``n``) so a report costs seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dictionary import pair_rows
from .embeddings import Embeddings
from .errors import DimensionError, VecbridgeError
from .neighbors import top_k
from .normalize import unit_rows
from .sampling import sample_rows

# Verdict thresholds on RSA (paired) and on the eigenvector similarity of the unpaired graphs.
# Calibrated on the word tasks of docs/words.md; see there for the values they rest on.
# (after "unit center unit": word2vec seed A vs seed B 0.94, GloVe vs word2vec-on-BBC 0.38, GloVe vs MiniLM 0.31).
RSA_NEAR_ISOMORPHIC = 0.6
RSA_WEAK = 0.25
#: fewest paired items a verdict is given on. RSA correlates the n(n-1)/2 pairwise cosines of n items, and with
#: few items it swings widely by chance: on two word2vec models of the BBC corpus with the pairing shuffled (no
#: relation at all), the 95th percentile of RSA over random draws is 0.62 for 5 items (above the near-isomorphic
#: threshold) and 0.24 for 10, but 0.04 for 50; the real pairing's spread across draws is 0.10, 0.03 and 0.01.
#: From 50 items on, chance can no longer cross a threshold. Below it the figures are reported, without a verdict.
MIN_VERDICT_ITEMS = 50


def _check_paired(X: np.ndarray, Y: np.ndarray) -> None:
    if X.ndim != 2 or Y.ndim != 2:
        raise DimensionError(f"need 2-D arrays, got shapes {X.shape} and {Y.shape}")
    if len(X) != len(Y):
        raise DimensionError(f"paired diagnostics need as many rows in X as in Y; got {len(X)} and {len(Y)}")
    if len(X) < 3:
        raise VecbridgeError(f"need at least 3 paired rows, got {len(X)}")


def knn_graph_laplacian_spectrum(X: np.ndarray, k: int = 10) -> np.ndarray:
    """Eigenvalues (descending) of the Laplacian ``D - A`` of the symmetric unweighted k-NN graph (cosine).

    X: (n, d). Returns (n,) float64. Dense eigen-solve: keep n to a few thousand.
    """
    X = unit_rows(X)
    n = len(X)
    if n <= k:
        raise VecbridgeError(f"a {k}-NN graph needs more than {k} points, got {n}")
    nbrs = top_k(X, X, k, similarity="dot", exclude_self=True).indices
    A = np.zeros((n, n), dtype=np.float64)
    A[np.repeat(np.arange(n), k), nbrs.ravel()] = 1.0
    A = np.maximum(A, A.T)
    L = np.diag(A.sum(axis=1)) - A
    return np.sort(np.linalg.eigvalsh(L))[::-1]


def eigenvector_similarity(X: np.ndarray, Y: np.ndarray, k: int = 10, energy: float = 0.9) -> float:
    """Søgaard et al. (2018): sum of squared differences of the leading Laplacian eigenvalues.

    X: (n, dx), Y: (m, dy) (n and m may differ; typically equal). For each
    graph the smallest number of leading eigenvalues holding ``energy`` of the
    total is found; the smaller of the two counts is compared. 0 means
    identical spectra; larger means less isomorphic.
    """
    lx = knn_graph_laplacian_spectrum(X, k)
    ly = knn_graph_laplacian_spectrum(Y, k)

    def count(lam: np.ndarray) -> int:
        c = np.cumsum(lam) / lam.sum()
        return int(np.searchsorted(c, energy) + 1)

    m = min(count(lx), count(ly))
    return float(np.sum((lx[:m] - ly[:m]) ** 2))


def _upper_similarities(X: np.ndarray) -> np.ndarray:
    U = unit_rows(X)
    S = U @ U.T
    iu = np.triu_indices(len(U), k=1)
    return S[iu]


def rsa(X: np.ndarray, Y: np.ndarray) -> float:
    """Spearman correlation of the pairwise cosine similarities of paired rows X (n, dx), Y (n, dy).

    NaN (without a warning) when either side's similarities are all equal (e.g. every row the same vector):
    there is no order to correlate.
    """
    from scipy.stats import rankdata

    _check_paired(X, Y)
    a = rankdata(_upper_similarities(X))
    b = rankdata(_upper_similarities(Y))
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA of paired rows: ``||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)``, in [0, 1]."""
    _check_paired(X, Y)
    Xc = np.asarray(X, dtype=np.float64) - np.mean(X, axis=0, dtype=np.float64)
    Yc = np.asarray(Y, dtype=np.float64) - np.mean(Y, axis=0, dtype=np.float64)
    num = np.linalg.norm(Xc.T @ Yc) ** 2
    den = np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)
    return float(num / den) if den > 0 else 0.0


def similarity_distribution_distance(X: np.ndarray, Y: np.ndarray) -> float:
    """Wasserstein-1 distance between the distributions of pairwise cosine similarities (unpaired sets)."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(_upper_similarities(X), _upper_similarities(Y)))


def verdict(rsa_value: float | None, n_items: int | None = None) -> str:
    """A word for the paired RSA: ``near-isomorphic``, ``weakly isomorphic`` or ``not isomorphic``; ``unknown
    (why)`` without pairs, when RSA is undefined (NaN), or on fewer than :data:`MIN_VERDICT_ITEMS` paired items
    (``n_items``)."""
    if rsa_value is None:
        return "unknown (no pairs: see eigenvector similarity)"
    if not np.isfinite(rsa_value):
        return "unknown (RSA is undefined: one side's pairwise similarities are all equal)"
    if n_items is not None and n_items < MIN_VERDICT_ITEMS:
        return (f"unknown (only {n_items} paired items compared; a verdict needs at least {MIN_VERDICT_ITEMS}, "
                "as on fewer, RSA swings by chance across the verdict thresholds)")
    if rsa_value >= RSA_NEAR_ISOMORPHIC:
        return "near-isomorphic"
    if rsa_value >= RSA_WEAK:
        return "weakly isomorphic"
    return "not isomorphic"


def diagnose(
    src: Embeddings | np.ndarray,
    tgt: Embeddings | np.ndarray,
    pairs: list[tuple[str, str]] | None = None,
    paired: bool | None = None,
    n: int = 1000,
    k: int = 10,
    seed: int = 0,
    normalize: str | None = "unit center unit",
    labels: tuple[str, str] = ("the source", "the target"),
) -> dict[str, Any]:
    """Isomorphism report of two spaces.

    src, tgt: Embeddings (then ``pairs`` as key pairs, or ``paired=True`` for
    shared keys) or arrays (``paired=True``: row i with row i). ``n`` caps the
    number of items (a random sample of the pairs; for unpaired sets the n
    most frequent rows of each side). Returns a JSON-ready dict with
    ``eigenvector_similarity`` (paired and/or unpaired), ``rsa``,
    ``linear_cka``, ``similarity_distribution_distance`` and a ``verdict``.
    ``normalize`` is applied to each whole space first (statistics from all its
    rows), as before mapping: without centring, the common direction that word
    vectors share dominates every cosine and hides the structure.

    A verdict needs at least :data:`MIN_VERDICT_ITEMS` paired items (see there); below it the figures are
    reported and the verdict is ``unknown (why)``. Every k-NN graph needs more than ``k`` items, else
    ``VecbridgeError`` saying how many there are. A space whose rows are all one vector after normalisation
    (no variance: nothing to compare) raises ``VecbridgeError`` naming it by ``labels`` (source, target).
    Figures that are undefined are None, never NaN.
    """
    with np.errstate(all="ignore"):  # degenerate inputs are checked and said; no numpy warning reaches the user
        return _diagnose(src, tgt, pairs, paired, n, k, seed, normalize, labels)


def _finite(x: float, digits: int) -> float | None:
    return round(float(x), digits) if np.isfinite(x) else None


def _check_variance(V: np.ndarray, label: str, normalize: str | None) -> None:
    if len(V) and float(np.max(np.ptp(V, axis=0))) <= 1e-6:
        how = f"after normalisation ({normalize!r})" if normalize else "(no normalisation)"
        raise VecbridgeError(f"{label}: the vectors have no variance {how}: every row is the same vector, so there "
                             "is no geometry to compare")


def _check_graph_size(n_items: int, k: int, what: str) -> None:
    if n_items <= k:
        raise VecbridgeError(f"{what}: a {k}-NN graph needs more than {k} items, got {n_items}; lower k "
                             "(CLI: -k / --neighbors)")


def _diagnose(src, tgt, pairs, paired, n, k, seed, normalize, labels) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"n_max": int(n), "k": int(k), "seed": int(seed)}
    if isinstance(src, Embeddings) and isinstance(tgt, Embeddings):
        out["source"] = {"name": src.describe(), "n": len(src), "dim": src.dim}
        out["target"] = {"name": tgt.describe(), "n": len(tgt), "dim": tgt.dim}
        Xall, Yall = src.vectors, tgt.vectors
        if pairs is None and paired:
            pairs = [(key, key) for key in src.keys if key in tgt.index]
            out["pairs_from"] = "shared keys"
        elif pairs is not None:
            out["pairs_from"] = "dictionary"
        if pairs is not None:
            srows, trows, cov = pair_rows(src, tgt, pairs)
            out["coverage"] = cov.as_dict()
            if cov.n_used < 3:
                raise VecbridgeError(f"too few usable pairs for paired diagnostics: {cov.summary()}")
    else:
        Xall = np.asarray(src, dtype=np.float32)
        Yall = np.asarray(tgt, dtype=np.float32)
        out["source"] = {"n": len(Xall), "dim": int(Xall.shape[1])}
        out["target"] = {"n": len(Yall), "dim": int(Yall.shape[1])}
        srows = trows = None
        if paired:
            if len(Xall) != len(Yall):
                raise DimensionError(f"paired=True needs as many rows in both; got {len(Xall)} and {len(Yall)}")
            srows = trows = np.arange(len(Xall))
            out["pairs_from"] = "paired rows"
            pairs = []
    if normalize:
        from .normalize import Normalizer

        Xall = Normalizer(normalize).fit_transform(Xall)
        Yall = Normalizer(normalize).fit_transform(Yall)
        out["normalization"] = normalize
    _check_variance(Xall, labels[0], normalize)
    _check_variance(Yall, labels[1], normalize)
    # unpaired part: needs no correspondence
    nu = int(min(n, len(Xall), len(Yall)))
    _check_graph_size(nu, k, "unpaired diagnostics (the most frequent rows of each side)")
    Xu, Yu = Xall[:nu], Yall[:nu]
    out["unpaired"] = {
        "n": nu,
        "eigenvector_similarity": _finite(eigenvector_similarity(Xu, Yu, k), 4),
        "similarity_distribution_distance": _finite(similarity_distribution_distance(Xu, Yu), 5),
    }
    rsa_value, n_items = None, None
    if pairs is not None and srows is not None:
        sel = sample_rows(rng, len(srows), n, sort=True)
        n_items = int(len(sel))
        _check_graph_size(n_items, k, f"paired diagnostics ({len(srows)} usable pairs, {n_items} compared)")
        X, Y = Xall[srows[sel]], Yall[trows[sel]]
        rsa_value = rsa(X, Y)
        out["paired"] = {
            "n": n_items,
            "n_pairs_available": int(len(srows)),
            "eigenvector_similarity": _finite(eigenvector_similarity(X, Y, k), 4),
            "rsa": _finite(rsa_value, 4),
            "linear_cka": _finite(linear_cka(X, Y), 4),
        }
    out["verdict"] = verdict(rsa_value, n_items)
    return out


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def format_report(report: dict[str, Any]) -> str:
    """A short human-readable rendering of :func:`diagnose`'s dict."""
    lines = []
    s, t = report.get("source", {}), report.get("target", {})
    lines.append(f"source: {s.get('name', 'array')} ({s.get('n')} x {s.get('dim')})")
    lines.append(f"target: {t.get('name', 'array')} ({t.get('n')} x {t.get('dim')})")
    if "coverage" in report:
        c = report["coverage"]
        lines.append(f"pairs: {c['n_used']}/{c['n_pairs']} usable ({report.get('pairs_from')})")
    p = report.get("paired")
    if p:
        lines.append(f"paired ({p['n']} items):")
        lines.append(f"  RSA (Spearman of pairwise cosines)  {_fmt(p['rsa'], '.3f')}   (1 = same geometry)")
        lines.append(f"  linear CKA                          {_fmt(p['linear_cka'], '.3f')}   "
                     "(1 = same up to rotation/scale)")
        lines.append(f"  eigenvector similarity             {_fmt(p['eigenvector_similarity'], '.1f')}   "
                     "(0 = same k-NN graph spectrum)")
    u = report["unpaired"]
    lines.append(f"unpaired ({u['n']} most frequent of each side, no pairs used):")
    lines.append(f"  eigenvector similarity             {_fmt(u['eigenvector_similarity'], '.1f')}")
    lines.append(f"  similarity-distribution distance    {_fmt(u['similarity_distribution_distance'], '.4f')}   "
                 "(Wasserstein-1)")
    lines.append(f"verdict: {report['verdict']}")
    return "\n".join(lines)
