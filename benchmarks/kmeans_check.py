"""Before/after check for a change of k-means: cluster-match (and spectral-match) on a rotated Gaussian mixture.

The task: a 32-d Gaussian mixture (12 overlapping components, anisotropic); two *unpaired* samples of 3,000 rows,
the source one turned by a random rotation Q; a paired held-out set of 1,000 rows. A map is scored by
held-out top-1 (cosine nearest neighbour of each mapped source row among the target rows).

    python benchmarks/kmeans_check.py --kmeans lloyd scipy --out benchmarks/results/kmeans_check.jsonl

``--kmeans`` picks the k-means that cluster matching runs (the others are patched in for the run):
``scipy`` is :func:`vecbridge.clustering.euclidean_kmeans` (what the package runs), ``lloyd`` the
home-made Lloyd loop it replaced (kept below as the reference), ``spherical`` the true spherical
k-means. Prints one JSON line per (k-means, method, seed) with top-1, the fit time and a hash of the
fitted map.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np

import vecbridge
import vecbridge.translators.matching as matching
from vecbridge.clustering import euclidean_kmeans, kmeans_plusplus, spherical_kmeans


def lloyd_kmeans(X: np.ndarray, k: int, rng: np.random.Generator, iters: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The k-means that cluster matching ran before ``vecbridge.clustering``: the same k-means++ seeds,
    then a numpy Lloyd loop that stops when no label changes."""
    X = np.asarray(X, dtype=np.float32)
    C = kmeans_plusplus(X, k, rng)
    labels = np.zeros(len(X), dtype=np.int64)
    for it in range(iters):
        new = (X @ C.T - 0.5 * (C * C).sum(1)).argmax(1)
        if it > 0 and np.array_equal(new, labels):
            break
        labels = new
        sums = np.zeros_like(C)
        np.add.at(sums, labels, X)
        cnt = np.bincount(labels, minlength=k)
        keep = cnt > 0
        C[keep] = sums[keep] / cnt[keep, None]
    return C, labels


KMEANS = {"scipy": euclidean_kmeans, "lloyd": lloyd_kmeans, "spherical": spherical_kmeans}

CHEAP = {
    "cluster-match": {"n_clusters": 12, "n_runs": 6, "qap_restarts": 50, "n_sample": 3000,
                      "reanchor_clusters": (40, 80), "reanchor_repeats": 0, "regional_restarts": 2,
                      "regional_passes": 1, "identity_start": False},
    "spectral-match": {"n_axes": 8, "n_sign_candidates": 4, "rotation_axes": 4, "rotation_restarts": 8,
                       "n_rotation_candidates": 1, "cluster_runs": 2, "n_finalists": 2, "n_sample": 3000},
}


def mixture_task(n: int = 3000, d: int = 32, n_test: int = 1000, k: int = 12, spread: float = 1.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    scales = np.linspace(1.5, 0.3, d)
    centres = rng.normal(size=(k, d)) * scales * 1.5

    def draw(m: int) -> np.ndarray:
        lab = rng.integers(k, size=m)
        return (centres[lab] + rng.normal(size=(m, d)) * scales * spread).astype(np.float32)

    A, B, T = draw(n), draw(n), draw(n_test)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    return A @ Q.T, B, T @ Q.T, T


def top1(tr, Xte: np.ndarray, Yte: np.ndarray) -> float:
    a, b = tr.transform(Xte), tr.transform_target(Yte)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.mean((a @ b.T).argmax(1) == np.arange(len(a))))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["cluster-match"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--kmeans", nargs="+", choices=sorted(KMEANS), default=["scipy"])
    p.add_argument("--out")
    args = p.parse_args()
    X, Y, Xte, Yte = mixture_task()
    for kmeans in args.kmeans:
        matching.euclidean_kmeans = KMEANS[kmeans]
        for method in args.methods:
            for seed in args.seeds:
                t0 = time.perf_counter()
                tr = vecbridge.make_translator(method, seed=seed, **CHEAP[method]).fit(X, Y)
                row = {"kmeans": kmeans, "method": method, "seed": seed, "top1": round(top1(tr, Xte, Yte), 4),
                       "knn_similarity": tr.fit_info_["selection"].get("knn_similarity"),
                       "fit_seconds": round(time.perf_counter() - t0, 2),
                       "W_sha1": hashlib.sha1(np.ascontiguousarray(tr.W_).tobytes()).hexdigest()[:12]}
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
