"""Round 10 (compute, cache, data builds, distributed): non-finite search inputs, damaged cache entries,
--device values, list parameters of data build, and the errors of the batch and Ray fits."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from vecbridge.errors import CacheError, DimensionError, ParameterError, VecbridgeError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("VECBRIDGE_CACHE", str(root))
    return root


def _cli(*argv):
    from vecbridge.cli.main import main

    try:
        return main(list(argv))
    except SystemExit as e:
        return e.code


def _data(n=40, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n + 10, d)).astype(np.float32)


# -- 1, 7: neighbours ----------------------------------------------------------------------------------
def _computes():
    from vecbridge.compute import Compute

    out = [Compute(progress=False)]
    try:
        import torch  # noqa: F401

        out.append(Compute.for_device("cpu-torch", progress=False))
    except ImportError:
        pass
    return out


@pytest.mark.parametrize("fn", ["top_k", "csls_top_k", "top_k_both_ways"])
def test_search_refuses_nan_or_inf_naming_side_and_row(fn):
    from vecbridge import neighbors

    Q, T = _data()
    Qn = Q.copy()
    Qn[7, 2] = np.nan
    Qn[9, 1] = np.nan
    Ti = T.copy()
    Ti[3, 0] = np.inf
    f = getattr(neighbors, fn)
    for c in _computes():
        with pytest.raises(VecbridgeError, match=r"queries: row 7 holds NaN"):
            f(Qn, T, 3, compute=c)
        with pytest.raises(VecbridgeError, match=r"targets: row 3 holds Inf"):
            f(Q, Ti, 3, compute=c)


def test_csls_with_no_queries_is_an_empty_result_as_top_k():
    from vecbridge.neighbors import csls_top_k, top_k

    Q, T = _data()
    for c in _computes():
        a, b = csls_top_k(Q[:0], T, 3, compute=c), top_k(Q[:0], T, 3, compute=c)
        assert a.indices.shape == b.indices.shape == (0, 3)


def test_finite_inputs_still_search_as_brute_force():
    from vecbridge.neighbors import top_k

    Q, T = _data()
    S = Q @ T.T
    for c in _computes():
        got = top_k(Q, T, 4, similarity="dot", compute=c)
        assert np.array_equal(got.indices, np.argsort(-S, axis=1, kind="stable")[:, :4])


# -- 3: --device ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["gpu", "meta", "xpu", "cpu:0", "cuda:x", ""])
def test_resolve_device_takes_only_the_documented_names(device):
    pytest.importorskip("torch")
    from vecbridge.compute import Compute, resolve_device

    with pytest.raises(VecbridgeError):
        resolve_device(device)
    with pytest.raises(ParameterError):
        Compute.for_device(device)


def test_unavailable_devices_are_refused():
    torch = pytest.importorskip("torch")
    from vecbridge.compute import Compute, resolve_device

    if not torch.backends.mps.is_available():
        with pytest.raises(VecbridgeError, match="MPS"):
            resolve_device("mps")
    if not torch.cuda.is_available():
        with pytest.raises(VecbridgeError, match="CUDA"):
            resolve_device("cuda:0")
    with pytest.raises(ParameterError, match="torch backend runs on"):
        Compute(backend="torch", device="meta").resolve_backend()


@pytest.fixture
def map_and_input(tmp_path):
    from vecbridge.io import write_embeddings
    from vecbridge import Embeddings
    from vecbridge.translators.factory import make_translator

    X, _ = _data(60, 6)
    t = make_translator("procrustes").fit(X, X[:, ::-1].copy())
    t.save(tmp_path / "map")
    write_embeddings(Embeddings([f"w{i}" for i in range(len(X))], X), tmp_path / "in.vec")
    return tmp_path


@pytest.mark.parametrize("device", ["gpu", "meta", "xpu", "cpu:0", ""])
def test_translate_bad_device_exits_2_naming_the_flag(map_and_input, device, capsys):
    pytest.importorskip("torch")
    d = map_and_input
    rc = _cli("translate", str(d / "map"), str(d / "in.vec"), "-o", str(d / "out.vec"), "--device", device)
    assert rc == 2
    assert "--device" in capsys.readouterr().err
    assert not (d / "out.vec").exists()


def test_translate_missing_gpu_exits_2_naming_the_flag(map_and_input, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is there")
    d = map_and_input
    rc = _cli("translate", str(d / "map"), str(d / "in.vec"), "-o", str(d / "out.vec"), "--device", "cuda")
    assert rc == 2
    assert "--device cuda" in capsys.readouterr().err


# -- 2: damaged cache entries ------------------------------------------------------------------------
def test_garbage_of_the_same_size_is_rebuilt(cache):
    from vecbridge.cache import CacheEntry, get_or_build

    for kind, value in (("json", {"a": [1, 2, 3]}), ("npz", {"v": np.arange(50.0)})):
        calls = []

        def build(value=value):
            calls.append(1)
            return value

        get_or_build("t-" + kind, {"p": 1}, build, kind=kind)
        entry = CacheEntry.make("t-" + kind, {"p": 1}, kind=kind)
        size = entry.path.stat().st_size
        entry.path.write_bytes(b"\xff" * size)
        assert entry.is_complete() and not entry.is_valid()
        got = get_or_build("t-" + kind, {"p": 1}, build, kind=kind)
        assert len(calls) == 2
        if kind == "json":
            assert got == value
        else:
            assert np.array_equal(got["v"], value["v"])


def test_damaged_entry_load_names_the_file_and_data_clear(cache):
    from vecbridge.cache import CacheEntry

    entry = CacheEntry.make("t-npz", {"p": 2})
    entry.store({"v": np.arange(10.0)})
    side = json.loads(entry.sidecar.read_text())
    del side["sha256"]  # as an entry written before the hash was recorded
    entry.sidecar.write_text(json.dumps(side))
    entry.path.write_bytes(b"\x00" * entry.path.stat().st_size)
    with pytest.raises(CacheError) as e:
        entry.load()
    msg = str(e.value)
    assert str(entry.path) in msg and "vecbridge data clear t-npz" in msg and "allow_pickle" not in msg


def test_edited_sidecar_is_not_complete_and_shown_damaged(cache, capsys):
    from vecbridge.cache import CacheEntry, list_entries

    entry = CacheEntry.make("t-json", {"dim": 5}, kind="json")
    entry.store([1, 2])
    side = json.loads(entry.sidecar.read_text())
    side["params"]["dim"] = 999
    entry.sidecar.write_text(json.dumps(side))
    assert not entry.is_complete()
    assert [e["damaged"] for e in list_entries("t-json")] == [True]
    assert _cli("data", "cache") == 0
    out = capsys.readouterr().out
    assert "999" not in out and "damaged" in out


def test_unwritable_cache_folder_is_named_with_the_variable(cache, monkeypatch):
    from vecbridge import cache as C
    from vecbridge.cache import CacheEntry

    entry = CacheEntry.make("t-json", {"x": 1}, kind="json")

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(entry.path))

    monkeypatch.setattr(C.CacheEntry, "_store", denied)
    with pytest.raises(CacheError, match="cache folder.*VECBRIDGE_CACHE"):
        entry.store([1])


# -- 4, 5, 7: data build parameters -------------------------------------------------------------------
def test_list_parameters_take_comma_separated_names():
    from vecbridge.cli.data import check_build_params

    for typed, want in (("en", ["en"]), ("en,pt", ["en", "pt"]), (["la"], ["la"])):
        params = {"langs": typed}
        check_build_params("bible", params)
        assert params["langs"] == want
    with pytest.raises(ParameterError, match="--param langs"):
        check_build_params("bible", {"langs": [5]})


def test_bible_builder_takes_a_string_of_names_and_refuses_unknown_ones(cache):
    from vecbridge.datasets.corpora import build_bible
    from vecbridge.datasets.registry import DataParameterError

    with pytest.raises(DataParameterError, match="--param langs=xx"):
        build_bible(langs="xx")


@pytest.mark.parametrize("argv", [
    ["bible-verses", "--param", "n_docs=10"],
    ["bbc-headlines", "--param", "sentences=0"],
    ["bible", "--param", "langs=xx"],
    ["word2vec", "--param", "corpus=lee", "--param", "sg=2"],
])
def test_bad_data_build_values_exit_2_naming_the_parameter(cache, argv, capsys):
    rc = _cli("data", "build", *argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"--param {argv[-1].split('=')[0]}" in err


def test_word2vec_min_count_above_every_word_is_a_clean_error(cache, capsys):
    pytest.importorskip("gensim")
    rc = _cli("data", "build", "word2vec", "--param", "corpus=lee", "--param", "min_count=100000")
    err = capsys.readouterr().err
    assert rc == 2 and "--param min_count=100000" in err and "most frequent word occurs" in err
    assert "Traceback" not in err and "vocabulary" not in err


# -- 6: batch fits ------------------------------------------------------------------------------------
def test_batch_fit_errors_name_batch_side_and_row():
    from vecbridge.distributed import fit_linear_from_batches

    X, _ = _data(100, 8)
    Y = X[:, ::-1].copy()
    Yn = Y.copy()
    Yn[57, 2] = np.nan
    with pytest.raises(VecbridgeError, match="batch 1: target row 7 holds NaN"):
        fit_linear_from_batches([(X[:50], Y[:50]), (X[50:], Yn[50:])], "procrustes", progress=False)
    with pytest.raises(DimensionError, match="batch 0: source row 1"):
        fit_linear_from_batches([([[1, 2], [3]], [[1, 2], [3, 4]])], "procrustes", progress=False)


def test_only_empty_batches_with_normalisation_warn_nothing():
    from vecbridge.distributed import fit_linear_from_batches

    X, _ = _data(10, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for norm in (None, "unit center unit", "unit"):
            with pytest.raises(VecbridgeError, match="the batches were empty"):
                fit_linear_from_batches([(X[:0], X[:0])], "procrustes", normalize=norm, progress=False)


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             ignore_reinit_error=True)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_fit_checks_the_schema_and_unwraps_our_errors(ray_local):
    from vecbridge.distributed.ray_data import fit_linear_dataset

    ray = ray_local
    X, _ = _data(60, 8)
    ds = ray.data.from_items([{"x": X[i], "y": X[i]} for i in range(60)])
    with pytest.raises(VecbridgeError, match="no column 'emb'") as e:
        fit_linear_dataset(ds, "lstsq", x_column="emb")
    assert "Ray" not in str(e.value)
    rows = [{"x": X[i] if i < 30 else X[i, :4], "y": X[i]} for i in range(60)]
    with pytest.raises(DimensionError, match="column 'x'.*different lengths"):
        fit_linear_dataset(ray.data.from_items(rows), "lstsq", batch_size=20)
    Xn = X.copy()
    Xn[13, 1] = np.nan
    with pytest.raises(VecbridgeError, match="source row .* holds NaN") as e:
        fit_linear_dataset(ray.data.from_items([{"x": Xn[i], "y": X[i]} for i in range(60)]), "procrustes")
    assert type(e.value).__module__.startswith("vecbridge")
