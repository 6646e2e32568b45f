"""Maps know their spaces: a fingerprint of each side, the input check (warning, or exit 5 / 422 with
--strict), and the record of training pairs that ``evaluate`` uses to flag figures that are not held-out."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.cli.main import main
from vecbridge.fingerprint import compare_to_fingerprint, count_seen, pair_hashes, space_fingerprint
from vecbridge.io import write_embeddings

D = 16


def model(seed: int, n: int) -> np.ndarray:
    """Vectors of a made-up "model": its own mean direction and its own per-dimension spread."""
    rng = np.random.default_rng(seed)
    style = np.random.default_rng(1000 + seed % 100)
    mean = style.normal(size=D) * 2
    spread = style.uniform(0.3, 3.0, size=D)
    return (mean + rng.normal(size=(n, D)) * spread).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("spaces")
    A, B = model(1, 1200), model(2, 1200)
    keys = [f"w{i}" for i in range(1200)]
    write_embeddings(vb.Embeddings(keys, A), d / "a.txt")
    write_embeddings(vb.Embeddings(keys, B), d / "b.txt")
    write_embeddings(vb.Embeddings(keys[:300], model(101, 300)), d / "a_fresh.txt")  # same "model", new sample
    (d / "train.tsv").write_text("".join(f"w{i}\tw{i}\n" for i in range(800)))
    (d / "test.tsv").write_text("".join(f"w{i}\tw{i}\n" for i in range(800, 1200)))
    assert main(["fit", str(d / "a.txt"), str(d / "b.txt"), "--dictionary", str(d / "train.tsv"),
                 "--method", "lstsq", "-o", str(d / "map"), "--quiet", "--force"]) == 0  # two unrelated "models"
    return d


def test_fingerprint_tells_a_fresh_sample_from_another_space():
    fp = space_fingerprint(model(1, 2000))
    assert compare_to_fingerprint(model(101, 500), fp).matches is True
    other = compare_to_fingerprint(model(2, 500), fp)
    assert other.matches is False and "does not match" in other.reason
    assert compare_to_fingerprint(model(1, 10), fp).matches is None  # too few rows to tell
    assert compare_to_fingerprint(model(1, 500) * 100, fp).matches is False  # lengths 100 times larger
    json.dumps(fp)  # fits in the manifest


def test_translate_warns_on_swapped_sides_and_strict_fails_with_exit_5(files, capsys):
    d = files
    assert main(["translate", str(d / "map"), str(d / "a_fresh.txt"), "-o", str(d / "ok.txt"), "--quiet"]) == 0
    assert "do not look like" not in capsys.readouterr().err
    assert main(["translate", str(d / "map"), str(d / "b.txt"), "-o", str(d / "swapped.txt"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "do not look like the map's source space" in err and "--strict" in err
    assert main(["translate", str(d / "map"), str(d / "b.txt"), "-o", str(d / "strict.txt"), "--strict"]) == 5
    assert not (d / "strict.txt").exists()


def test_the_manifest_keeps_the_fingerprints(files):
    m = json.loads((files / "map" / "manifest.json").read_text())
    assert m["source"]["fingerprint"]["dim"] == D and len(m["source"]["fingerprint"]["unit_mean"]) == D
    assert m["target"]["fingerprint"]["rows"] == 1200


def test_evaluate_counts_test_pairs_that_were_trained_on(files, capsys):
    d = files
    args = ["evaluate", str(d / "map"), str(d / "a.txt"), str(d / "b.txt"), "--json", "--quiet"]
    assert main(args + ["--dictionary", str(d / "train.tsv")]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["test_pairs_seen_in_training"] == 800
    assert "not held-out" in out.err
    assert main(args + ["--dictionary", str(d / "test.tsv")]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["test_pairs_seen_in_training"] == 0 and "not held-out" not in out.err


def test_paired_rows_are_recorded_by_content():
    A, B = model(1, 500), model(2, 500)
    t = vb.make_translator("lstsq").fit(A[:300], B[:300])
    assert t.count_trained_pairs(X=A[:300]) == 300
    assert t.count_trained_pairs(X=A[300:]) == 0
    assert count_seen(pair_hashes(["a\tb"]), pair_hashes(["a\tb", "c\td"])) == 1


def test_service_warns_and_strict_service_answers_422(files):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from vecbridge.serve import create_app

    B = model(2, 200).tolist()
    A = model(101, 200).tolist()
    with TestClient(create_app({"m": str(files / "map")})) as c:
        r = c.post("/translate", json={"map": "m", "vectors": B})
        assert r.status_code == 200 and "do not look like" in r.json()["warning"]
        assert "warning" not in c.post("/translate", json={"map": "m", "vectors": A}).json()
    with TestClient(create_app({"m": str(files / "map")}, strict=True)) as c:
        r = c.post("/translate", json={"map": "m", "vectors": B})
        assert r.status_code == 422 and r.json()["field"] == "vectors"
        assert c.post("/translate", json={"map": "m", "vectors": A}).status_code == 200
        assert c.post("/translate", json={"map": "m", "vectors": B[:5]}).status_code == 200  # too few to judge


def test_all_zero_rows_are_refused_by_name():
    t = vb.make_translator("procrustes", normalize="unit").fit(model(1, 100), model(2, 100))
    X = model(1, 5)
    X[3] = 0
    with pytest.raises(vb.errors.ZeroRowError, match="row 3"):
        t.transform(X)
    # a map that does not normalise lengths translates a zero row like any other (to its bias)
    ls = vb.make_translator("lstsq", bias=True).fit(model(1, 100), model(2, 100))
    out = ls.transform(X)
    np.testing.assert_allclose(out[3], ls.transform(np.zeros((1, X.shape[1]), np.float32))[0])
    assert np.isfinite(out).all()


def test_extreme_rows_translate_like_their_unit_direction():
    t = vb.make_translator("procrustes", normalize="unit center unit").fit(model(1, 300), model(2, 300))
    X = model(1, 4)
    for c in (1e25, 1e-25, 3e38 / np.abs(X).max()):
        np.testing.assert_allclose(t.transform(X * np.float32(c)), t.transform(X), atol=1e-5)
    A = model(1, 300)
    big = vb.make_translator("lstsq").fit(A, A * 1000)  # no length normalisation: outputs 1000 times the input
    with pytest.raises(vb.errors.VecbridgeError, match="beyond float32 range"):
        big.transform(X * np.float32(1e37))


@pytest.mark.parametrize("flag", ["--shared-keys", "--identical"])
def test_pairing_by_keys_is_refused_for_arrays_without_keys(tmp_path, capsys, flag):
    """Keyless .npy files have row numbers for keys: pairing "by key" would pair row i with row i silently."""
    np.save(tmp_path / "a.npy", model(1, 200))
    np.save(tmp_path / "b.npy", model(2, 200))
    code = main(["fit", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), flag, "-o", str(tmp_path / "m"), "--quiet"])
    assert code == 1 and not (tmp_path / "m").exists()
    err = capsys.readouterr().err
    assert f"{flag} needs keys" in err and "--paired" in err


def test_an_isotropic_space_is_not_refused_for_its_own_vectors():
    """Random Gaussian rows have no per-dimension profile: fresh rows of the same space must pass (the profile
    test would compare noise with noise), while a length change is still caught."""
    from vecbridge.fingerprint import compare_to_fingerprint, informative_profiles, space_fingerprint

    rng = np.random.default_rng(0)
    fp = space_fingerprint(rng.standard_normal((2000, 64)))
    assert not informative_profiles(fp)
    assert compare_to_fingerprint(rng.standard_normal((2000, 64)), fp).matches is True
    assert compare_to_fingerprint(10 * rng.standard_normal((2000, 64)), fp).matches is False
    assert informative_profiles(space_fingerprint(model(1, 2000)))
