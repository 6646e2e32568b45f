"""The hub: one shared space for many spaces (vecbridge.hub, ``vecbridge hub``, translate/evaluate/serve with a hub)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge.cli.main import main
from vecbridge.errors import DimensionError, KeyMissingError, OutputExistsError, ParameterError, VecbridgeError
from vecbridge.hub import Hub, HubNotAlignedError, is_hub_folder, load_hub
from vecbridge.hub import linalg
from vecbridge.hub.pairing import paired_items, read_table, table_items

N, D = 1200, 24


def rotation(rng, d):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def clustered(rng, n=N, d=D):
    """Rows with structure (clusters of different spread per axis), so that a verdict can tell maps apart."""
    C = rng.standard_normal((20, d)) * np.linspace(2.0, 0.5, d)
    return (C[rng.integers(0, 20, n)] + 0.4 * rng.standard_normal((n, d))).astype(np.float32)


@pytest.fixture(scope="module")
def planted():
    """Four spaces, each a planted rotation of one base: space i = Z R_i."""
    rng = np.random.default_rng(0)
    Z = clustered(rng)
    R = {f"s{i}": rotation(rng, D) for i in range(4)}
    return Z, R, {n: (Z @ r).astype(np.float32) for n, r in R.items()}


@pytest.fixture(scope="module")
def paired_hub(planted):
    _, _, spaces = planted
    return Hub(seed=0).fit(spaces, paired_items({n: len(x) for n, x in spaces.items()}))


def test_planted_rotations_recovered_through_the_hub(planted, paired_hub):
    Z, R, spaces = planted
    hub = paired_hub
    assert hub.names == ["s0", "s1", "s2", "s3"] and hub.excluded_ == []
    for a in spaces:
        for b in spaces:
            out = hub.translate(spaces[a], a, b)
            np.testing.assert_allclose(out, hub.normalize_rows(spaces[b], b), atol=1e-4)
    for s in hub.spaces_.values():
        assert s.info["verdict"] == "aligned"
        np.testing.assert_allclose(s.map @ s.map.T, np.eye(D), atol=1e-5)  # orthogonal maps
    # a cycle through spaces of the shared dimension is the identity
    assert hub.cycle_error(spaces["s0"], ["s0", "s1", "s2"])["relative"] < 1e-5


def test_spaces_of_other_dimensions_get_semi_orthogonal_maps():
    rng = np.random.default_rng(1)
    Z = clustered(rng, 800, 20)
    P = rotation(rng, 20)[:, :12]  # a 12-d projection
    spaces = {"big": Z, "rot": (Z @ rotation(rng, 20)).astype(np.float32), "small": (Z @ P).astype(np.float32)}
    hub = Hub(normalize=None).fit(spaces, paired_items({n: len(x) for n, x in spaces.items()}))
    assert hub.shared_dim_ == 20 and hub.space("small").map.shape == (12, 20)
    np.testing.assert_allclose(hub.translate(spaces["rot"], "rot", "small"), spaces["small"], atol=1e-4)
    hub5 = Hub(normalize=None, shared_dim=16).fit(spaces, paired_items({n: len(x) for n, x in spaces.items()}))
    assert hub5.space("big").map.shape == (20, 16)  # projected: orthonormal columns
    np.testing.assert_allclose(hub5.space("big").map.T @ hub5.space("big").map, np.eye(16), atol=1e-5)


def test_cycle_error_of_direct_maps_is_not_zero_but_the_hubs_is():
    from vecbridge import make_translator

    rng = np.random.default_rng(2)
    Z = clustered(rng, 600, 16)
    spaces = {n: (Z @ rotation(rng, 16) + 0.3 * rng.standard_normal((600, 16))).astype(np.float32) for n in "abc"}
    direct = {(a, b): make_translator("procrustes", normalize="unit center unit").fit(spaces[a], spaces[b])
              for a in "abc" for b in "abc" if a != b}
    X = direct[("a", "b")].source_normalizer_.transform(spaces["a"])
    d = linalg.cycle_error(X, [direct[("a", "b")].W_, direct[("b", "c")].W_, direct[("c", "a")].W_])
    hub = Hub().fit(spaces, paired_items({n: 600 for n in spaces}))
    h = hub.cycle_error(spaces["a"], ["a", "b", "c"])
    assert d["relative"] > 1e-3 and h["relative"] < 1e-5 and h["cosine"] > 0.99999


def test_adding_a_space_leaves_the_others_as_they_were(planted):
    _, _, spaces = planted
    first = {n: spaces[n] for n in ("s0", "s1", "s2")}
    hub = Hub(seed=0).fit(first, paired_items({n: N for n in first}))
    before = {n: s.map.copy() for n, s in hub.spaces_.items()}
    hub.add("s3", spaces["s3"], {"s1": spaces["s1"]}, paired_items({"s3": N, "s1": N}))
    for n, Q in before.items():
        assert np.array_equal(hub.space(n).map, Q)
    assert hub.space("s3").info["joined"] == "add" and hub.space("s3").info["verdict"] == "aligned"
    np.testing.assert_allclose(hub.translate(spaces["s3"], "s3", "s0"), hub.normalize_rows(spaces["s0"], "s0"), atol=1e-4)
    np.testing.assert_allclose(hub.translate(spaces["s2"], "s2", "s3"), hub.normalize_rows(spaces["s3"], "s3"), atol=1e-4)
    with pytest.raises(VecbridgeError, match="already"):
        hub.add("s3", spaces["s3"], {"s1": spaces["s1"]}, paired_items({"s3": N, "s1": N}))
    noise = np.random.default_rng(5).standard_normal((N, D)).astype(np.float32)
    with pytest.raises(HubNotAlignedError, match="did not align"):
        hub.add("noise", noise, {"s1": spaces["s1"]}, paired_items({"noise": N, "s1": N}))
    assert "noise" not in hub.spaces_


def test_a_hub_knows_its_spaces(planted, tmp_path):
    """Each space keeps a fingerprint: a map through the hub warns (CLI --strict: exit 5) on another space's vectors,
    and a space cannot be placed against anchor vectors that are not the anchor space's own."""
    _, _, spaces = planted
    first = {n: spaces[n] for n in ("s0", "s1", "s2")}
    hub = load_hub(Hub(seed=0).fit(first, paired_items({n: N for n in first})).save(tmp_path / "hub"))
    m = hub.translator("s0", "s1")
    assert m.check_input(spaces["s0"], "source").matches is True
    assert m.check_input(spaces["s2"], "source").matches is False
    assert m.check_input(spaces["s1"], "target").matches is True
    with pytest.raises(VecbridgeError, match="given for the hub's space 's1'.*do not look like that space"):
        hub.add("s3", spaces["s3"], {"s1": spaces["s2"]}, paired_items({"s3": N, "s1": N}))
    assert "s3" not in hub.spaces_
    hub.add("s3", spaces["s3"], {"s1": spaces["s1"]}, paired_items({"s3": N, "s1": N}))
    assert hub.translator("s3", "s0").check_input(spaces["s3"], "source").matches is True


def test_a_space_of_noise_is_refused(planted):
    _, _, spaces = planted
    with_noise = {**spaces, "noise": np.random.default_rng(3).standard_normal((N, D)).astype(np.float32)}
    hub = Hub(seed=0).fit(with_noise, paired_items({n: N for n in with_noise}))
    assert hub.names == ["s0", "s1", "s2", "s3"]
    (ex,) = hub.excluded_
    assert ex["name"] == "noise" and ex["verdict"] == "not aligned" and "no more often" in ex["reason"]
    two = {"s0": spaces["s0"], "noise": with_noise["noise"]}
    with pytest.raises(HubNotAlignedError) as e:
        Hub(seed=0).fit(two, paired_items({n: N for n in two}))
    assert {x["name"] for x in e.value.excluded} >= {"noise"}


def test_synchronisation_recovers_planted_maps_from_noisy_edges_with_cycles():
    rng = np.random.default_rng(4)
    Q = [rotation(rng, 10) for _ in range(4)]
    edges = []
    for a in range(4):
        for b in range(a + 1, 4):
            W = Q[a] @ Q[b].T + 0.02 * rng.standard_normal((10, 10))
            edges.append((a, b, linalg.polar(W), 1.0))
    maps, info = linalg.synchronize_maps([10] * 4, 10, edges, root=0)
    assert info["cyclic"]
    for a in range(4):
        for b in range(4):
            err = np.abs(maps[a] @ maps[b].T - Q[a] @ Q[b].T).max()
            assert err < 0.05
    tree, _ = linalg.synchronize_maps([10] * 4, 10, [(1, 0, Q[1] @ Q[0].T, 1), (2, 1, Q[2] @ Q[1].T, 1)], root=0)
    assert tree[3] is None
    np.testing.assert_allclose(tree[2] @ tree[0].T, Q[2] @ Q[0].T, atol=1e-8)


def test_unsupervised_edges_use_the_verdict_and_leave_out_noise():
    # method "identity" (no pairs, no search): spaces that already share their axes align, noise does not
    rng = np.random.default_rng(6)
    Z = clustered(rng, 1000, 16)
    spaces = {"a": Z[rng.permutation(1000)], "b": Z[rng.permutation(1000)],
              "noise": rng.standard_normal((1000, 16)).astype(np.float32)}
    hub = Hub(method="identity", seed=0).fit(spaces)
    assert hub.names == ["a", "b"] and hub.excluded_[0]["name"] == "noise"
    assert "edge to" in hub.excluded_[0]["reason"]
    assert hub.fit_info_["mode"].startswith("unsupervised")
    assert [e["to"] for e in hub.fit_info_["edges"] if e["from"] == "noise"] == ["a", "b"]  # retried against b


def test_few_pairs_mode_from_a_small_dictionary(tmp_path, planted):
    from vecbridge.embeddings import Embeddings

    Z, R, spaces = planted
    embs = {n: Embeddings.from_array(x[:600], [f"{n}-{i}" for i in range(600)]) for n, x in spaces.items() if n in ("s0", "s1")}
    table = tmp_path / "items.tsv"
    table.write_text("s0\ts1\n" + "".join(f"s0-{i}\ts1-{i}\n" for i in range(12)) + "s0-x\t\n", encoding="utf-8")
    cols, rows = read_table(table)
    items, report = table_items(cols, rows, embs)
    assert report["s0"] == {"found": 12, "missing": 1, "repeated": 0, "first_missing": "s0-x"}
    hub = Hub(method="cluster-match", method_params={"n_runs": 2, "qap_restarts": 10, "reanchor_clusters": [],
                                                     "regional_restarts": 0}, seed=0).fit(embs, items)
    assert hub.fit_info_["mode"].startswith("few pairs")
    assert hub.fit_info_["edges"][0]["n_known_pairs"] == 12
    out = hub.translate(spaces["s0"][600:], "s0", "s1")
    top1 = np.mean((out @ hub.normalize_rows(spaces["s1"][600:], "s1").T).argmax(1) == np.arange(N - 600))
    assert top1 > 0.9


def test_save_and_load_are_bitwise(tmp_path, planted, paired_hub):
    _, _, spaces = planted
    path = paired_hub.save(tmp_path / "hub")
    assert is_hub_folder(path)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == "vecbridge-hub" and manifest["format_version"] == 1
    assert [s["name"] for s in manifest["spaces"]] == ["s0", "s1", "s2", "s3"]
    hub = load_hub(path)
    for n in spaces:
        assert np.array_equal(hub.space(n).map, paired_hub.space(n).map)
    assert np.array_equal(hub.translate(spaces["s1"], "s1", "s3"), paired_hub.translate(spaces["s1"], "s1", "s3"))
    hub.save(tmp_path / "again")
    assert (tmp_path / "again" / "weights.safetensors").read_bytes() == (path / "weights.safetensors").read_bytes()
    with pytest.raises(OutputExistsError):
        hub.save(path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError):
        hub.save(tmp_path / "other", overwrite=True)


def test_vec2vec_hub_kind_saves_and_loads(tmp_path):
    pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    spaces = {n: rng.standard_normal((200, 8)).astype(np.float32) for n in ("a", "b", "c")}
    params = {"latent_dim": 8, "width": 16, "depth": 1, "steps": 5, "batch_size": 32, "device": "cpu"}
    hub = Hub(kind="vec2vec", vec2vec_params=params).fit(spaces, force=True)
    assert len(hub.fit_info_["pair_verdicts"]) == 6
    hub.save(tmp_path / "v")
    back = load_hub(tmp_path / "v")
    assert back.kind == "vec2vec" and back.names == ["a", "b", "c"]
    assert np.array_equal(back.translate(spaces["a"], "a", "c"), hub.translate(spaces["a"], "a", "c"))
    assert back.to_shared(spaces["b"], "b").shape == (200, 8)
    with pytest.raises(VecbridgeError, match="linear"):
        back.add("d", spaces["a"], {"a": spaces["a"]})
    with pytest.raises(VecbridgeError, match="without pairs"):
        Hub(kind="vec2vec").fit(spaces, paired_items({n: 200 for n in spaces}))


def test_bad_inputs_name_what_is_wrong(planted, paired_hub):
    _, _, spaces = planted
    with pytest.raises(KeyMissingError, match="no space 'nope'"):
        paired_hub.translate(spaces["s0"], "s0", "nope")
    with pytest.raises(DimensionError, match="24-d"):
        paired_hub.translate(spaces["s0"][:, :10], "s0", "s1")
    with pytest.raises(ParameterError, match="not a valid space name"):
        Hub().fit({"a/b": spaces["s0"], "c": spaces["s1"]})
    with pytest.raises(ParameterError, match="not a valid space name"):
        Hub().fit({"..": spaces["s0"], "c": spaces["s1"]})
    with pytest.raises(VecbridgeError, match="as many rows"):
        paired_items({"a": 10, "b": 11})
    with pytest.raises(ParameterError, match="shared_dim"):
        Hub(shared_dim=0).check_params()
    with pytest.raises(VecbridgeError, match="at least two"):
        Hub().fit({"a": spaces["s0"]})


@pytest.fixture()
def files(tmp_path, planted):
    _, _, spaces = planted
    for n, x in spaces.items():
        np.save(tmp_path / f"{n}.npy", x)
    return tmp_path


def test_cli_round_trip(files, planted, capsys):
    _, _, spaces = planted
    d = files
    names = [f"--name={n}={d / (n + '.npy')}" for n in ("s0", "s1", "s2")]
    assert main(["hub", "fit", *names, "--paired", "-o", str(d / "hub"), "--quiet"]) == 0
    assert main(["hub", "add", str(d / "hub"), "--name", f"s3={d / 's3.npy'}", "--name", f"s0={d / 's0.npy'}",
                 "--paired", "--quiet"]) == 0
    hub = load_hub(d / "hub")
    assert hub.names == ["s0", "s1", "s2", "s3"]
    assert main(["translate", str(d / "hub"), str(d / "s1.npy"), "-o", str(d / "out.npy"), "--from", "s1", "--to",
                 "s3", "--quiet"]) == 0
    np.testing.assert_allclose(np.load(d / "out.npy"), hub.normalize_rows(spaces["s3"], "s3"), atol=1e-4)
    capsys.readouterr()
    assert main(["evaluate", str(d / "hub"), str(d / "s0.npy"), str(d / "s2.npy"), "--paired", "--from", "s0",
                 "--to", "s2", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["top1"] == 1.0
    assert main(["hub", "show", str(d / "hub"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in shown["spaces"]] == ["s0", "s1", "s2", "s3"]


def test_cli_errors(files, capsys):
    d = files
    a, b = f"s0={d / 's0.npy'}", f"s1={d / 's1.npy'}"
    # a name with a path separator, a duplicate name: usage errors
    with pytest.raises(SystemExit) as e:
        main(["hub", "fit", "--name", f"x/y={d / 's0.npy'}", "--name", b, "--paired", "-o", str(d / "h")])
    assert e.value.code == 2 and "--name must be NAME=FILE" in capsys.readouterr().err
    assert main(["hub", "fit", "--name", a, "--name", f"s0={d / 's1.npy'}", "--paired", "-o", str(d / "h")]) == 2
    assert "--name s0 is given twice" in capsys.readouterr().err
    # dimension mismatch: rows of another dimension for a space of the hub
    np.save(d / "small.npy", np.ones((N, 5), dtype=np.float32))
    assert main(["hub", "fit", "--name", a, "--name", b, "--paired", "-o", str(d / "h"), "--quiet"]) == 0
    assert main(["translate", str(d / "h"), str(d / "small.npy"), "-o", str(d / "o.npy"), "--from", "s0", "--to", "s1",
                 "--quiet"]) == 1
    assert "24-d" in capsys.readouterr().err
    # unknown space, missing --from / --to, --from on a plain map
    assert main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / "o.npy"), "--from", "s0", "--to", "zz",
                 "--quiet"]) == 2
    assert "no space 'zz'" in capsys.readouterr().err
    assert main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / "o.npy"), "--quiet"]) == 2  # usage
    assert "--from and --to" in capsys.readouterr().err
    # noise: fewer than two spaces align -> exit 3, nothing saved
    np.save(d / "noise.npy", np.random.default_rng(9).standard_normal((N, 24)).astype(np.float32))
    assert main(["hub", "fit", "--name", a, "--name", f"noise={d / 'noise.npy'}", "--paired", "-o", str(d / "n"),
                 "--quiet"]) == 3
    assert "left out" in capsys.readouterr().err and not (d / "n").exists()
    # a dictionary naming a space that was not given
    (d / "t.tsv").write_text("s0\tzz\n0\t1\n")
    assert main(["hub", "fit", "--name", a, "--name", b, "--dictionary", str(d / "t.tsv"), "-o", str(d / "t"),
                 "--quiet"]) == 1
    assert "column 'zz'" in capsys.readouterr().err


def test_service_takes_a_hub(tmp_path, planted, paired_hub):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from vecbridge.serve import create_app

    _, _, spaces = planted
    paired_hub.save(tmp_path / "hub")
    client = TestClient(create_app({"h": str(tmp_path / "hub")}))
    assert client.get("/health").json()["hubs"] == ["h"]
    x = spaces["s0"][:3]
    r = client.post("/translate", json={"hub": "h", "from": "s0", "to": "s2", "vectors": x.tolist()})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.array(r.json()["vectors"]), paired_hub.translate(x, "s0", "s2"), atol=1e-6)
    r = client.post("/translate", json={"hub": "h", "from": "s0", "to": "zz", "vectors": x.tolist()})
    assert r.status_code == 404 and r.json()["field"] == "to"
    r = client.post("/translate", json={"hub": "nope", "from": "s0", "to": "s1", "vectors": x.tolist()})
    assert r.status_code == 404
    r = client.post("/translate", json={"hub": "h", "from": "s0", "to": "s1", "vectors": [[1.0, 2.0]]})
    assert r.status_code == 422


def test_shared_dim_larger_than_every_space_is_refused_before_the_fit(planted, files, capsys):
    _, _, spaces = planted
    items = paired_items({n: len(x) for n, x in spaces.items()})
    with pytest.raises(ParameterError, match=r"--shared-dim 25 / shared_dim=25 is more than the largest space's "
                                             r"dimension \(24\); give at most 24"):
        Hub(shared_dim=25).fit(spaces, items)
    with pytest.raises(ParameterError, match="shared_dim=100000000000"):
        Hub(shared_dim=100_000_000_000).check_params(dims=[24, 12])
    Hub(shared_dim=24).check_params(dims=[24, 12])
    d = files
    a, b = f"s0={d / 's0.npy'}", f"s1={d / 's1.npy'}"
    for value in ("100000000000", "100000"):  # a numpy memory error, silently accepted
        assert main(["hub", "fit", "--name", a, "--name", b, "--paired", "-o", str(d / "h"), "--shared-dim", value,
                     "--quiet"]) == 2
        assert f"vecbridge hub fit: error: --shared-dim {value} / shared_dim={value} is more than the largest " \
               "space's dimension (24)" in capsys.readouterr().err
        assert not (d / "h").exists()


def test_validation_that_leaves_too_few_items_to_fit_says_so(planted, files, capsys):
    _, _, spaces = planted
    items = paired_items({n: len(x) for n, x in spaces.items()})
    with pytest.raises(ParameterError, match=r"--validation 0.999 / validation=0.999 holds out 1199 of the 1200 items "
                                             r"seen in two or more spaces, leaving 1 to fit on, too few for a shared "
                                             r"space of 24 dimensions \(at least 24\); give at most --validation 0.98"):
        Hub(validation=0.999).fit(spaces, items)
    assert Hub(validation=0.98).fit(spaces, items).fit_info_["validation_items"] == 1176
    d = files
    assert main(["hub", "fit", "--name", f"s0={d / 's0.npy'}", "--name", f"s1={d / 's1.npy'}", "--paired",
                 "-o", str(d / "h"), "--validation", "0.999", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--validation 0.999" in err and "leaving 1 to fit on" in err and "shares no item" not in err


def test_method_params_are_checked_against_the_method_used_and_unused_ones_noted(planted, files, capsys):
    with pytest.raises(ParameterError, match="has no parameter 'foo'"):
        Hub(method_params={"foo": 1}).check_params()  # the default edge method, as with method= named
    d = files
    a, b = f"s0={d / 's0.npy'}", f"s1={d / 's1.npy'}"
    for how in ("--paired", "--unsupervised"):
        assert main(["hub", "fit", "--name", a, "--name", b, how, "-o", str(d / "h"), "--param", "foo=1"]) == 2
        assert "vecbridge hub fit: error: --param foo=1: method" in capsys.readouterr().err
        assert not (d / "h").exists()
    # with enough paired items no edge is fitted: --method and --param have no effect, and a note says so
    assert main(["hub", "fit", "--name", a, "--name", b, "--paired", "-o", str(d / "h"), "--method", "cluster-match",
                 "--param", "n_runs=2"]) == 0
    err = capsys.readouterr().err
    assert ("note: --method cluster-match and --param n_runs=2 choose the method of pairless edges; here 1200 items "
            "in two or more spaces (at least the shared dimension 24) place the spaces by generalised Procrustes, so "
            "they have no effect") in err
    assert main(["hub", "add", str(d / "h"), "--name", f"s2={d / 's2.npy'}", "--name", a, "--paired",
                 "--method", "cluster-match"]) == 0
    assert "note: --method cluster-match chooses the method of pairless edges; here 1200 items s2 shares" in \
        capsys.readouterr().err


def test_cli_hub_add_refuses_an_output_inside_the_input_hub(files, capsys):
    d = files
    a, b = f"s0={d / 's0.npy'}", f"s1={d / 's1.npy'}"
    assert main(["hub", "fit", "--name", a, "--name", b, "--paired", "-o", str(d / "hub"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["hub", "add", str(d / "hub"), "--name", f"s2={d / 's2.npy'}", "--name", a, "--paired",
                 "-o", str(d / "hub" / "inner"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"vecbridge hub add: error: -o {d / 'hub' / 'inner'} is inside the input folder {d / 'hub'}" in err
    assert sorted(p.name for p in (d / "hub").iterdir()) == ["manifest.json", "weights.safetensors"]
    # the default (and -o naming the hub itself) still replaces the hub
    assert main(["hub", "add", str(d / "hub"), "--name", f"s2={d / 's2.npy'}", "--name", a, "--paired",
                 "-o", str(d / "hub"), "--overwrite", "--quiet"]) == 0
    assert load_hub(d / "hub").names == ["s0", "s1", "s2"]


def test_cli_hub_errors_name_the_action(files, capsys):
    d = files
    for argv, prefix in ((["hub", "show", str(d / "nohub")], "vecbridge hub show: error: "),
                         (["hub", "add", str(d / "nohub"), "--name", f"s0={d / 's0.npy'}", "--paired"],
                          "vecbridge hub add: error: "),
                         (["hub", "fit", "--name", f"s0={d / 's0.npy'}", "--paired", "-o", str(d / "h")],
                          "vecbridge hub fit: error: ")):
        assert main(argv) == 1
        assert capsys.readouterr().err.startswith(prefix)


def test_an_item_on_two_rows_of_one_space_is_in_one_space():
    from vecbridge.hub import Hub

    rng = np.random.default_rng(0)
    n = 300
    Z = rng.normal(size=(n, 8)).astype(np.float32)
    A = (Z @ np.linalg.qr(rng.normal(size=(8, 8)))[0]).astype(np.float32)
    B = (Z @ np.linalg.qr(rng.normal(size=(8, 8)))[0]).astype(np.float32)
    h = Hub()
    try:
        h.fit({"a": A, "b": B}, {"a": np.repeat(np.arange(n // 2), 2)})
    except Exception:  # without items in two spaces the fit is pairless, and may well not align here
        pass
    assert h.fit_info_["items_in_two_or_more_spaces"] == 0
    assert "generalised Procrustes" not in h.fit_info_.get("mode", "")


# -- audit: the service checks hub requests as it checks maps; CLI messages in CLI terms -------------------------
@pytest.fixture()
def hub_and_map(tmp_path, planted, paired_hub):
    from vecbridge.translators.linear import Procrustes

    _, _, spaces = planted
    paired_hub.save(tmp_path / "hub")
    Procrustes(normalize="unit center unit").fit(spaces["s0"], spaces["s1"]).save(tmp_path / "m")
    return {"h": str(tmp_path / "hub"), "m": str(tmp_path / "m")}


def test_service_checks_hub_vectors_against_the_from_space(hub_and_map, planted, paired_hub):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from vecbridge.serve import create_app

    _, _, spaces = planted
    wrong = {"hub": "h", "from": "s0", "to": "s2", "vectors": spaces["s1"][:200].tolist()}  # s1's vectors as s0's
    right = {**wrong, "vectors": spaces["s0"][:200].tolist()}
    with TestClient(create_app(hub_and_map)) as c:
        r = c.post("/translate", json=wrong)
        assert r.status_code == 200 and "do not look like" in r.json()["warning"], r.text
        r = c.post("/translate", json=right)
        assert r.status_code == 200 and "warning" not in r.json()
        r = c.post("/translate", json={**right, "space": "target"})
        view = paired_hub.translator("s0", "s2")
        assert r.status_code == 200 and r.json()["space"] == "target"
        np.testing.assert_allclose(r.json()["vectors"], view.to_target_space(view.transform(spaces["s0"][:200])),
                                   atol=1e-5)
        r = c.post("/translate", json={**right, "space": "shared"})
        assert r.status_code == 422 and r.json()["field"] == "space"
        r = c.post("/translate", json={**right, "map_name": "m"})
        assert r.status_code == 200 and '"map_name"' in r.json()["warning"]
    with TestClient(create_app(hub_and_map, strict=True)) as c:
        r = c.post("/translate", json=wrong)
        assert r.status_code == 422 and r.json()["field"] == "vectors" and "do not look like" in r.json()["error"]
        assert c.post("/translate", json=right).status_code == 200
        assert c.post("/translate", json={**wrong, "vectors": wrong["vectors"][:5]}).status_code == 200  # too few


def test_service_says_when_a_map_name_is_a_hub_and_the_reverse(hub_and_map, planted):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from vecbridge.serve import create_app

    _, _, spaces = planted
    x = spaces["s0"][:2].tolist()
    with TestClient(create_app(hub_and_map)) as c:
        for r in (c.post("/translate", json={"map": "h", "vectors": x}), c.post("/translate", json={"map": "h"}),
                  c.post("/maps/h/translate", json={"vectors": x})):
            assert r.status_code == 404 and r.json()["field"] == "map", r.text
            assert '"h" is a hub' in r.json()["error"] and '{"hub": "h", "from":' in r.json()["error"]
        r = c.post("/translate", json={"hub": "m", "from": "s0", "to": "s1", "vectors": x})
        assert r.status_code == 404 and '"m" is a map' in r.json()["error"]
        r = c.post("/translate", json={"hub": "h", "from": "s0", "to": "s1", "vectors": [[1.0, 2.0]]})
        assert r.status_code == 422 and "space 's0' of hub 'h' takes 24-d vectors" in r.json()["error"]


def test_serve_start_up_line_lists_hubs(hub_and_map, monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: None)
    assert main(["serve", f"m={hub_and_map['m']}", f"h={hub_and_map['h']}", "--port", "8123"]) == 0
    assert "serving map m and hub h on http://127.0.0.1:8123" in capsys.readouterr().err


def test_cli_hub_usage_errors_name_the_flag(files, planted, capsys):
    d = files
    a, b = f"s0={d / 's0.npy'}", f"s1={d / 's1.npy'}"
    assert main(["hub", "fit", "--name", a, "--name", b, "--paired", "-o", str(d / "h"), "--quiet"]) == 0
    for given, missing in ((["--from", "s0"], "--to"), (["--to", "s1"], "--from")):
        assert main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / "o.npy"), *given, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"{missing} is missing" in err and "from_space" not in err and "to_space" not in err, err
    assert main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / "o.npy"), "--quiet"]) == 2
    assert "from_space" not in capsys.readouterr().err
    assert main(["hub", "add", str(d / "h"), "--name", a, "--name", b, "--paired", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "'s0' and 's1' are already in the hub" in err and "another --name" in err and "got 0 new" not in err


def test_cli_translate_space_target_writes_the_target_model_coordinates(files, planted, capsys):
    _, _, spaces = planted
    d = files
    assert main(["hub", "fit", "--name", f"s0={d / 's0.npy'}", "--name", f"s1={d / 's1.npy'}", "--paired",
                 "-o", str(d / "h"), "--quiet"]) == 0
    view = load_hub(d / "h").translator("s0", "s1")
    want = view.to_target_space(view.transform(spaces["s0"]))
    for out in ("t.npy", "t.npz"):  # streamed (.npy) and in memory
        assert main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / out), "--from", "s0", "--to", "s1",
                     "--space", "target", "--quiet"]) == 0
    np.testing.assert_allclose(np.load(d / "t.npy"), want, atol=1e-5)
    from vecbridge.io import read_embeddings

    np.testing.assert_allclose(read_embeddings(d / "t.npz").vectors, want, atol=1e-5)
    # a partial or finished run of the other --space is not taken for this one
    assert main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / "t.npy"), "--from", "s0", "--to", "s1",
                 "--quiet"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / "m.npy"), "--from", "s0", "--to", "s1",
                 "--quiet"]) == 0
    np.testing.assert_allclose(np.load(d / "m.npy"), view.transform(spaces["s0"]), atol=1e-5)
    with pytest.raises(SystemExit) as e:
        main(["translate", str(d / "h"), str(d / "s0.npy"), "-o", str(d / "x.npy"), "--space", "shared"])
    assert e.value.code == 2 and "--space: invalid choice: 'shared'" in capsys.readouterr().err
