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


def assert_same_lengths(got, want, rel=1e-6):
    """Two normalisers' ``lengths_`` agree: None for the same steps, close values for the ``unit`` steps."""
    assert [x is None for x in got.lengths_] == [x is None for x in want.lengths_]
    assert [x for x in got.lengths_ if x is not None] == pytest.approx([x for x in want.lengths_ if x is not None],
                                                                        rel=rel)


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


@pytest.mark.parametrize("normalize", ["unit center unit", "center unit", "standardize", "unit"])
def test_batch_fit_keeps_the_lengths_of_the_in_memory_fit(normalize, tmp_path):
    """A map fitted from batches gives ``to_target_space`` at the target's own scale, as the in-memory fit does:
    its normalisers keep the median row length before each ``unit`` step (not 1), also after save and load."""
    from vecbridge.translators import load_translator

    rng = np.random.default_rng(2)
    X = (rng.standard_normal((2000, 24)) * 5 + 1).astype(np.float32)  # raw lengths ~25, not unit
    Y = (X @ rng.standard_normal((24, 16)) * 0.3 + 2).astype(np.float32)
    Q = (rng.standard_normal((300, 24)) * 5 + 1).astype(np.float32)
    ref = LeastSquares(normalize=normalize).fit(X, Y)
    got = fit_linear_from_batches(split(X, Y, [700, 1, 299, 1000]), "lstsq", normalize=normalize, progress=False)
    assert_same_lengths(got.source_normalizer_, ref.source_normalizer_)
    assert_same_lengths(got.target_normalizer_, ref.target_normalizer_)
    a, b = got.transform(Q), ref.transform(Q)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.to_target_space(a), ref.to_target_space(b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.target_normalizer_.inverse_transform(b), ref.target_normalizer_.inverse_transform(b),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.source_normalizer_.inverse_transform(got.source_normalizer_.transform(Q)),
                               ref.source_normalizer_.inverse_transform(ref.source_normalizer_.transform(Q)),
                               rtol=1e-5, atol=1e-5)
    if "unit" in normalize:  # the scale the defect lost: typical target lengths, not 1
        typical = np.median(np.linalg.norm(got.to_target_space(a), axis=1))
        assert typical == pytest.approx(np.median(np.linalg.norm(ref.to_target_space(b), axis=1)), rel=1e-5)
        assert typical > 5
    got.save(tmp_path / "m")
    back = load_translator(tmp_path / "m")
    assert_same_lengths(back.target_normalizer_, got.target_normalizer_)
    np.testing.assert_allclose(back.to_target_space(a), ref.to_target_space(b), rtol=1e-5, atol=1e-5)


def test_batch_fit_lengths_from_a_one_shot_iterator():
    """``unit`` alone still takes a single pass (a generator works), and measures the lengths in it."""
    X, Y = pairs(n=600)
    ref = LeastSquares(normalize="unit").fit(X, Y)
    got = fit_linear_from_batches((b for b in split(X, Y, [200, 400])), normalize="unit", progress=False)
    assert_same_lengths(got.target_normalizer_, ref.target_normalizer_)
    assert_same_lengths(got.source_normalizer_, ref.source_normalizer_)


def test_fit_normalizer_from_batches_with_reduce_and_gather():
    """The distributed protocol (``reduce`` sums, ``gather`` concatenates per-row values) gives the in-memory
    normaliser; ``reduce`` alone cannot measure lengths, and says so."""
    import warnings

    from vecbridge.distributed import fit_normalizer_from_batches
    from vecbridge.normalize import Normalizer

    X, Y = pairs(n=900)
    batches = split(X, Y, [300, 600])

    def reduce(fn):
        parts = [fn(a, b) for a, b in batches]
        return {k: sum(p[k] for p in parts) for k in parts[0]}

    def gather(fn):
        parts = [fn(a, b) for a, b in batches]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    steps = "unit center unit standardize unit"
    nx, ny = fit_normalizer_from_batches(steps, [], reduce=reduce, gather=gather)
    for got, rows in ((nx, X), (ny, Y)):
        ref = Normalizer(steps).fit(rows)
        assert_same_lengths(got, ref)
        np.testing.assert_allclose(got.transform(rows[:20]), ref.transform(rows[:20]), atol=1e-5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nx, _ = fit_normalizer_from_batches(steps, [], reduce=reduce)
    assert any("gather" in str(w.message) for w in caught) and nx.lengths_[0] is None


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


def test_torch_path_runs_auto_maps():
    """``auto`` (the default method) delegates to the map it chose; the torch path runs that map instead of
    probing auto with a zero row its chosen map refuses (ZeroRowError for input without zero rows)."""
    pytest.importorskip("torch")
    from vecbridge.stream import batch_function
    from vecbridge.translators import make_translator

    rng = np.random.default_rng(3)
    X = (rng.standard_normal((300, 16)) + 0.5).astype(np.float32)
    Q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    Y = (X @ Q + 0.05 * rng.standard_normal((300, 16))).astype(np.float32)
    t = make_translator("auto", effort="quick", progress=False).fit(X, Y)
    assert "unit" in t.chosen_.source_normalizer_.steps  # a map that refuses zero rows
    want = t.transform(X[:100] * 1.1)
    np.testing.assert_allclose(batch_function(t, "cpu-torch")(X[:100] * 1.1), want, rtol=1e-5, atol=1e-5)


def test_torch_unit_rows_match_numpy_for_extreme_magnitudes():
    """``unit_rows`` rescales rows whose squared length over- or underflows float32; the torch kernel does the
    same (rows scaled by 1e20 and 1e-21 give the numpy unit rows, zero rows stay zero), and so does the torch
    batch function of a map that normalises lengths."""
    torch = pytest.importorskip("torch")
    from vecbridge.distributed.torch_backend import _torch_normalize, resolve_device, torch_batch_function
    from vecbridge.normalize import unit_rows

    rng = np.random.default_rng(6)
    base = rng.standard_normal((4, 8)).astype(np.float32)
    rows = np.vstack([base, base * 1e20, base * 1e-21, base * 3e-19, np.zeros((1, 8))]).astype(np.float32)
    got = _torch_normalize(torch, ["unit"], [None], torch.from_numpy(rows.copy())).numpy()
    want = unit_rows(rows)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got[4:8], got[:4], atol=1e-5)  # scale-free, as numpy
    np.testing.assert_allclose(got[8:12], got[:4], atol=1e-5)
    assert not got[-1].any()
    X = rng.standard_normal((500, 8)).astype(np.float32)
    Y = X @ np.linalg.qr(rng.standard_normal((8, 8)))[0].astype(np.float32)
    t = Procrustes(normalize="unit center unit").fit(X, Y)
    Qr = np.vstack([X[:3], X[:3] * 1e-21, X[:3] * 1e20]).astype(np.float32)
    np.testing.assert_allclose(torch_batch_function(t, resolve_device("cpu-torch"))(Qr), t.transform(Qr), atol=1e-5)


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
    # the normalisers keep the in-memory fit's lengths (one per row gathered), so the target scale comes back
    got_u = fit_linear_dataset(pairs_ds, "lstsq", normalize="unit center unit", batch_size=256)
    ref_u = LeastSquares(normalize="unit center unit").fit(X, Y)
    assert_same_lengths(got_u.target_normalizer_, ref_u.target_normalizer_)
    assert_same_lengths(got_u.source_normalizer_, ref_u.source_normalizer_)
    np.testing.assert_allclose(got_u.to_target_space(got_u.transform(X[:50])),
                               ref_u.to_target_space(ref_u.transform(X[:50])), rtol=1e-5, atol=1e-5)


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
