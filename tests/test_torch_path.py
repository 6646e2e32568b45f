"""The torch path of the pairless methods (``device``): each kernel that cluster-match and self-learning call
gives the numpy result within float tolerance (whole fits: tests/test_unsupervised.py). The device is checked
where it enters, in the caller's words."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge import make_translator
from vecbridge.compute import Compute
from vecbridge.errors import ParameterError, VecbridgeError
from vecbridge.neighbors import knn_mean_similarity, knn_target_means
from vecbridge.normalize import unit_rows
from vecbridge.translators.matching import (
    cluster_matching_candidates,
    neighbour_indices,
    refine_bidirectional,
    relative_pseudo_map,
    weak_subspace,
)

torch = pytest.importorskip("torch")
NUMPY, TORCH = Compute(backend="numpy"), Compute.for_device("torch")


def rotated_clusters(n=600, d=12, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, d)) * 2.0
    Z = (centres[rng.integers(8, size=n)] + 0.4 * rng.normal(size=(n, d))).astype(np.float32)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    return Z @ Q.T, Z, Q, rng


def test_for_device_names_the_backend():
    assert TORCH.backend == "torch" and TORCH.device == "cpu"
    assert Compute.for_device("cpu").backend == "numpy"
    with pytest.raises(ParameterError, match="unknown device 'gpu7'"):
        Compute.for_device("gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA"):
            Compute.for_device("cuda")
        assert Compute.for_device("auto").backend in ("numpy", "torch")  # MPS on a Mac, numpy elsewhere


def test_kernels_equal_numpy_within_float_tolerance():
    X, Y, _, _ = rotated_clusters()
    W = np.eye(X.shape[1], dtype=np.float32)
    for k in (1, 5, 40):
        np.testing.assert_allclose(knn_target_means(X, unit_rows(Y), k, compute=TORCH),
                                   knn_target_means(X, unit_rows(Y), k, compute=NUMPY), atol=1e-5)
    np.testing.assert_allclose(knn_mean_similarity(X, Y, 10, compute=TORCH), knn_mean_similarity(X, Y, 10, compute=NUMPY),
                               atol=1e-5)
    assert np.array_equal(np.sort(neighbour_indices(X, 10, TORCH), 1), np.sort(neighbour_indices(X, 10, NUMPY), 1))
    np.testing.assert_allclose(relative_pseudo_map(X, Y, X[:20], Y[:20], compute=TORCH),
                               relative_pseudo_map(X, Y, X[:20], Y[:20], compute=NUMPY), atol=1e-4)
    for compute_a, compute_b in ((TORCH, NUMPY),):
        a = refine_bidirectional(X, Y, W, np.random.default_rng(1), schedule=(20, 5), reps=2, compute=compute_a)
        b = refine_bidirectional(X, Y, W, np.random.default_rng(1), schedule=(20, 5), reps=2, compute=compute_b)
        np.testing.assert_allclose(a, b, atol=1e-4)
    Pa, ra = weak_subspace(X, Y, W, np.random.default_rng(2), compute=TORCH)
    Pb, rb = weak_subspace(X, Y, W, np.random.default_rng(2), compute=NUMPY)
    np.testing.assert_allclose(ra, rb, atol=1e-4)
    np.testing.assert_allclose(np.abs(Pa.T @ Pb), np.eye(Pa.shape[1]), atol=1e-3)  # the same subspace
    ca = cluster_matching_candidates(X, Y, np.random.default_rng(3), n_clusters=6, n_runs=1, qap_restarts=5, compute=TORCH)
    cb = cluster_matching_candidates(X, Y, np.random.default_rng(3), n_clusters=6, n_runs=1, qap_restarts=5, compute=NUMPY)
    np.testing.assert_allclose(ca[0][0], cb[0][0], atol=1e-4)


def test_device_is_checked_where_it_enters(tmp_path, capsys):
    from vecbridge.cli.main import main

    with pytest.raises(VecbridgeError, match="unknown device"):
        make_translator("cluster-match", device="gpu7").fit(*rotated_clusters(n=100)[:2])
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    X, Y, _, _ = rotated_clusters(n=100)
    np.save(a, X)
    np.save(b, Y)
    assert main(["fit", str(a), str(b), "--unsupervised", "--device", "gpu7", "-o", str(tmp_path / "m")]) == 2
    assert "--device gpu7" in capsys.readouterr().err
    assert main(["fit", str(a), str(b), "--paired", "--method", "procrustes", "--device", "torch",
                 "-o", str(tmp_path / "m")]) == 2
    assert "fits on the CPU only" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
