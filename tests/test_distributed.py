"""Sufficient-statistics fits equal the in-memory fits; the torch path equals numpy; Ray Data on a local cluster."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.distributed import LinearMoments, fit_linear_from_batches
from vecbridge.errors import VecbridgeError
from vecbridge.translators.linear import LeastSquares, Procrustes


def pairs(n=3001, dx=20, dy=14, seed=0, offset=0.7):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, dx)) + offset).astype(np.float32)
    Y = (X @ rng.standard_normal((dx, dy)) + rng.standard_normal(dy) + 0.1 * rng.standard_normal((n, dy)))
    return X, Y.astype(np.float32)


def split(X, Y, sizes):
    out, s = [], 0
    for k in sizes:
        out.append((X[s : s + k], Y[s : s + k]))
        s += k
    assert s == X.shape[0]
    return out


SPLIT = [1, 999, 1000, 1, 500, 500]


@pytest.mark.parametrize(
    "make, kwargs",
    [
        (LeastSquares, {}),
        (LeastSquares, {"bias": True}),
        (LeastSquares, {"bias": True, "ridge": 3.0}),
        (LeastSquares, {"normalize": "unit"}),
        (LeastSquares, {"bias": True, "normalize": "unit center unit"}),
        (LeastSquares, {"normalize": "standardize"}),
        (Procrustes, {}),
        (Procrustes, {"scale": True, "normalize": "unit center unit"}),
    ],
)
def test_moment_fit_equals_in_memory_fit(make, kwargs):
    X, Y = pairs()
    if make is Procrustes:  # a well-posed orthogonal problem (distinct singular values)
        rng = np.random.default_rng(1)
        Q, _ = np.linalg.qr(rng.standard_normal((X.shape[1], X.shape[1])))
        Y = (X @ Q + 0.3 * rng.standard_normal(X.shape)).astype(np.float32)
    ref = make(**kwargs).fit(X, Y)
    method = "lstsq" if make is LeastSquares else "procrustes"
    got = fit_linear_from_batches(split(X, Y, SPLIT), method, progress=False, **kwargs)
    assert type(got) is make and got.fit_info_["n_pairs"] == X.shape[0]
    np.testing.assert_allclose(got.W_, ref.W_, rtol=1e-4, atol=1e-4)
    if hasattr(ref, "b_"):
        np.testing.assert_allclose(got.b_, ref.b_, rtol=1e-4, atol=1e-4)
    if hasattr(ref, "scale_"):
        assert got.scale_ == pytest.approx(ref.scale_, rel=1e-5)
    np.testing.assert_allclose(got.transform(X[:50]), ref.transform(X[:50]), rtol=1e-4, atol=1e-4)


def test_centring_matters_so_the_bias_test_can_fail():
    """Without centring at the end, the bias fit would differ: the test above would catch it."""
    X, Y = pairs()
    m = LinearMoments.of(X, Y)
    W_uncentred, _ = m.lstsq(bias=False)
    W_centred, _ = m.lstsq(bias=True)
    assert np.abs(W_uncentred - W_centred).max() > 1e-2


def test_moments_add_up_in_any_order():
    X, Y = pairs(n=400)
    parts = [LinearMoments.of(a, b) for a, b in split(X, Y, [100, 50, 250])]
    total = parts[2] + parts[0] + parts[1]
    whole = LinearMoments.of(X, Y)
    assert total.n == 400
    np.testing.assert_allclose(total.xtx, whole.xtx, rtol=1e-10)
    np.testing.assert_allclose(total.xty, whole.xty, rtol=1e-10)
    round_trip = LinearMoments.from_arrays(total.to_arrays())
    np.testing.assert_array_equal(round_trip.xty, total.xty)


def test_saved_and_loaded_map_from_moments(tmp_path):
    from vecbridge.translators import load_translator

    X, Y = pairs()
    t = fit_linear_from_batches(split(X, Y, SPLIT), "lstsq", bias=True, normalize="unit center", progress=False)
    t.save(tmp_path / "m")
    u = load_translator(tmp_path / "m")
    np.testing.assert_allclose(u.transform(X[:10]), t.transform(X[:10]), atol=1e-6)
    assert u.manifest()["fit"]["pairs_from"] == "sufficient statistics"


def test_errors_are_clear():
    X, Y = pairs(n=10)
    with pytest.raises(VecbridgeError, match="more than one pass"):
        fit_linear_from_batches(iter([(X, Y)]), normalize="center", progress=False)
    with pytest.raises(VecbridgeError, match="method must be one of lstsq, procrustes"):
        fit_linear_from_batches([(X, Y)], "multistep", progress=False)
    with pytest.raises(VecbridgeError, match="no pairs"):
        fit_linear_from_batches([], progress=False)
    with pytest.raises(Exception, match="pairs 10 source rows with 9"):
        fit_linear_from_batches([(X, Y[:9])], progress=False)


# -- torch -----------------------------------------------------------------------------
def test_torch_path_matches_numpy():
    pytest.importorskip("torch")
    from vecbridge.distributed.torch_backend import affine_form, resolve_device, torch_batch_function

    X, Y = pairs()
    assert resolve_device("cpu") is None
    dev = resolve_device("cpu-torch")
    for t in (LeastSquares(bias=True, normalize="unit center unit").fit(X, Y),
              Procrustes(scale=True).fit(X, Y)):
        np.testing.assert_allclose(torch_batch_function(t, dev)(X), t.transform(X), rtol=1e-5, atol=2e-5)
    # fits through torch (float64 moments) equal the numpy fits
    got = fit_linear_from_batches(split(X, Y, SPLIT), bias=True, device="cpu-torch", progress=False)
    ref = LeastSquares(bias=True).fit(X, Y)
    np.testing.assert_allclose(got.W_, ref.W_, rtol=1e-4, atol=1e-4)
    # a non-affine map is refused, not silently mistranslated
    class Tanh(LeastSquares):
        method = "tanh-test"

        def _transform(self, Z):
            return np.tanh(Z @ self.W_)

    class Shifted(LeastSquares):  # affine, but not a class the torch path knows: found by probing
        method = "shifted-test"

        def _transform(self, Z):
            return Z @ self.W_ + 1.5

    s = Shifted().fit(X, Y)
    np.testing.assert_allclose(torch_batch_function(s, dev)(X), s.transform(X), rtol=1e-5, atol=2e-5)
    t = Tanh().fit(X, Y)
    with pytest.raises(VecbridgeError, match="not affine"):
        affine_form(t)


def test_auto_device_without_gpu_stays_on_numpy():
    torch = pytest.importorskip("torch")
    from vecbridge.distributed.torch_backend import resolve_device

    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto") is None
        with pytest.raises(VecbridgeError, match="no CUDA"):
            resolve_device("cuda")


# -- Ray -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=200 * 1024 * 1024)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_translate_and_fit_on_local_cluster(ray_local, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vecbridge.distributed.ray_data import fit_linear_dataset, translate_dataset, translate_parquet

    ray = ray_local
    X, Y = pairs(n=2000)
    t = LeastSquares(bias=True, normalize="unit").fit(X, Y)
    table = pa.table({"id": [f"d{i}" for i in range(2000)],
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), X.shape[1])})
    pq.write_table(table, str(tmp_path / "in.parquet"), row_group_size=500)
    # translate: every id once, vectors equal to the in-memory transform
    out = translate_dataset(ray.data.read_parquet(str(tmp_path / "in.parquet")), t, batch_size=300,
                            output_column="vector_new").to_arrow_refs()
    got = pa.concat_tables(ray.get(out))
    assert sorted(got["id"].to_pylist()) == sorted(table["id"].to_pylist())
    order = np.argsort(np.array([int(k[1:]) for k in got["id"].to_pylist()]))
    Yn = np.asarray(got["vector_new"].combine_chunks().flatten().to_numpy()).reshape(2000, -1)[order]
    np.testing.assert_allclose(Yn, t.transform(X), atol=1e-5)
    assert "vector" in got.column_names  # the old vectors are kept, never replaced in place
    n = translate_parquet(t, str(tmp_path / "in.parquet"), tmp_path / "out")
    assert n == 2000 and pq.read_table(str(tmp_path / "out")).num_rows == 2000
    # a second run into the same folder counts only its own files and leaves the first run's alone
    first = set((tmp_path / "out").iterdir())
    assert translate_parquet(t, str(tmp_path / "in.parquet"), tmp_path / "out") == 2000
    assert first < set((tmp_path / "out").iterdir()) and pq.read_table(str(tmp_path / "out")).num_rows == 4000
    # fit from statistics reduced over blocks == in-memory fit
    pairs_ds = ray.data.from_items([{"x": X[i], "y": Y[i]} for i in range(2000)]).repartition(4)
    got_t = fit_linear_dataset(pairs_ds, "lstsq", bias=True, normalize="unit center", batch_size=256)
    ref = LeastSquares(bias=True, normalize="unit center").fit(X, Y)
    np.testing.assert_allclose(got_t.W_, ref.W_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_t.b_, ref.b_, rtol=1e-4, atol=1e-4)


def test_options_are_checked_before_any_pass():
    """Bad options fail before a batch is read, in the option's own words; ill-formed batches are named."""
    from vecbridge.distributed.moments import LinearMoments
    from vecbridge.errors import DimensionError, ParameterError

    X, Y = pairs(n=10)
    read = []

    def source():
        read.append(1)
        return iter([(X, Y)])

    for kwargs, message in [({"method": "bogus"}, "method must be one of"), ({"ridge": -1.0}, "ridge must be"),
                            ({"ridge": float("nan")}, "finite"), ({"ridge": "abc"}, "ridge must be a number"),
                            ({"bias": "no"}, "bias must be true or false"),
                            ({"method": "procrustes", "ridge": 5.0}, "procrustes takes no ridge"),
                            ({"method": "procrustes", "bias": True}, "procrustes takes no ridge or bias"),
                            ({"method": "lstsq", "scale": True}, "lstsq takes no scale")]:
        with pytest.raises(ParameterError, match=message):
            fit_linear_from_batches(source, normalize="center", progress=False, **kwargs)
    assert read == []
    with pytest.raises(VecbridgeError, match="got None"):
        fit_linear_from_batches(None, progress=False)
    with pytest.raises(DimensionError, match="batch 0 must be a pair"):
        fit_linear_from_batches([(X, Y, X)], progress=False)
    with pytest.raises(DimensionError, match="batch 1 holds 8-d source"):
        fit_linear_from_batches([(X, Y), (X[:, :8], Y)], normalize="center", progress=False)
    with pytest.raises(VecbridgeError, match="missing xtx"):
        LinearMoments.from_arrays({k: v for k, v in LinearMoments.of(X, Y).to_arrays().items() if k != "xtx"})


def test_torch_path_refuses_what_numpy_refuses():
    """A zero row through a map that normalises lengths is refused on every device (as by ``transform``); a
    read-only batch (an Arrow buffer) gives no warning; an unfitted map is NotFittedError."""
    import warnings

    pytest.importorskip("torch")
    from vecbridge.distributed.torch_backend import resolve_device, torch_batch_function
    from vecbridge.errors import NotFittedError, ZeroRowError

    X, Y = pairs(n=200)
    t = LeastSquares(bias=True, normalize="unit center unit").fit(X, Y)
    run = torch_batch_function(t, resolve_device("cpu-torch"))
    Z = X[:10].copy()
    Z[3] = 0
    with pytest.raises(ZeroRowError, match="row 3 of the input is all zeros") as numpy_error:
        t.transform(Z)
    with pytest.raises(ZeroRowError, match="row 3 of the input is all zeros") as torch_error:
        run(Z)
    assert list(torch_error.value.rows) == list(numpy_error.value.rows) == [3]
    frozen = X[:10].copy()
    frozen.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(run(frozen), t.transform(X[:10]), rtol=1e-5, atol=2e-5)
    with pytest.raises(NotFittedError):
        torch_batch_function(LeastSquares(), resolve_device("cpu-torch"))
