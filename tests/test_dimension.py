"""Changing dimensionality: map a space into a smaller (or larger) one, against PCA of the source."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge import Embeddings, VecbridgeError
from vecbridge.apps.dimension import change_dimension, pca_basis, pca_reduce


def low_rank_pair(n=800, d_tgt=12, d_src=40, noise=0.01, seed=0):
    """Target: n x d_tgt; source: the same words lifted into d_src dims by a random linear map, plus noise."""
    rng = np.random.default_rng(seed)
    T = rng.normal(size=(n, d_tgt)).astype(np.float32)
    R = rng.normal(size=(d_tgt, d_src)).astype(np.float32)
    S = T @ R + noise * rng.normal(size=(n, d_src)).astype(np.float32)
    keys = [f"w{i}" for i in range(n)]
    return Embeddings(keys, S, {"name": "big"}), Embeddings(keys, T, {"name": "small"})


def test_pca_basis_is_orthonormal_sorted_and_reproducible():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 8)) * np.array([10, 5, 2.5, 1, 0.5, 0.2, 0.1, 0.05])
    mean, V = pca_basis(X, 3)
    np.testing.assert_allclose(V.T @ V, np.eye(3), atol=1e-5)
    var = ((X - mean) @ V).var(axis=0)
    assert var[0] > var[1] > var[2]
    # the axes are the coordinate axes of the largest spreads here, up to a fixed sign
    np.testing.assert_allclose(np.abs(V[:3, :3]), np.eye(3), atol=0.1)
    _, V2 = pca_basis(X[::-1].copy(), 3)
    np.testing.assert_allclose(V2, V, atol=1e-5)
    with pytest.raises(VecbridgeError, match="PCA"):
        pca_basis(X, 9)
    emb = Embeddings([str(i) for i in range(2000)], X.astype(np.float32))
    red = pca_reduce(emb, 3)
    assert red.dim == 3 and red.keys == emb.keys and "PCA-3" in red.name


def test_change_dimension_down_recovers_words_and_beats_nothing():
    src, tgt = low_rank_pair()
    res = change_dimension(src, tgt, structure_data={}, test_fraction=0.25, seed=0)
    assert res.info["n_test"] == 200 and res.info["n_train"] == 600
    assert res.mapped.dim == 12 and len(res.mapped) == len(src)
    rows = {r["space"].split(" (")[0]: r for r in res.rows}
    mapped = rows["source mapped by lstsq"]
    assert mapped["hit_at_1"] > 0.95  # an exact linear relation: held-out words are found
    assert rows["source"]["hit_at_1"] is None and rows["target"]["hit_at_1"] is None
    pca = rows["PCA of source + Procrustes"]
    # PCA keeps the source's 12 strongest directions (all of the signal here) but not the target's axes:
    # a rotation alone cannot undo the random lift's stretching, so it finds fewer words than the map
    assert pca["hit_at_10"] < mapped["hit_at_10"] or pca["hit_at_1"] < mapped["hit_at_1"]
    assert [r["dim"] for r in res.rows] == [40, 12, 12, 12, 12]


def test_change_dimension_up_skips_pca_and_validates():
    tgt, src = low_rank_pair(d_tgt=10, d_src=30)  # swap: map 10-d into 30-d
    res = change_dimension(src, tgt, structure_data={}, method="lstsq", seed=1)
    assert "skipped" in res.info["pca_baseline"]
    assert len(res.rows) == 3 and res.rows[2]["hit_at_1"] > 0.5
    with pytest.raises(VecbridgeError, match="test_fraction"):
        change_dimension(src, tgt, structure_data={}, test_fraction=1.0)
    few = Embeddings(["a", "b"], np.eye(2, dtype=np.float32))
    with pytest.raises(VecbridgeError, match="share 2 words"):
        change_dimension(few, few, structure_data={})


@pytest.mark.realdata
def test_change_dimension_real_word2vec_with_structure_scores():
    """word2vec at 64-d and 24-d on gensim's Lee corpus; the real analogy / WordSim353 / SimLex files."""
    pytest.importorskip("gensim")
    from gensim.test.utils import datapath

    from vecbridge.apps.structure import load_structure_data
    from vecbridge.apps.update import read_corpus, train_word2vec

    sents = read_corpus(datapath("lee_background.cor"))
    big = train_word2vec(sents, vector_size=64, min_count=5, epochs=10, seed=1, sg=1)
    small = train_word2vec(sents, vector_size=24, min_count=5, epochs=10, seed=2, sg=1)
    src = Embeddings(list(big.wv.index_to_key), big.wv.vectors, {"name": "lee-64"})
    tgt = Embeddings(list(small.wv.index_to_key), small.wv.vectors, {"name": "lee-24"})
    data = load_structure_data()
    assert len(data["analogies"]) == 19544 and len(data["wordsim353"]) == 353 and len(data["simlex999"]) == 999
    res = change_dimension(src, tgt, structure_data=data, seed=0)
    rows = {r["space"].split(" (")[0]: r for r in res.rows}
    assert rows["source mapped by lstsq"]["hit_at_10"] > 0.3  # chance: 10 / ~1,700
    for name in ("source", "target", "source mapped by lstsq", "PCA of source to 24-d"):
        r = rows[name]
        assert r["ws353_n"].endswith("/353") and r["simlex_n"].endswith("/999")
        assert int(r["ws353_n"].split("/")[0]) > 10  # some coverage on this small vocabulary


def test_dimension_cli_writes_map_and_json(tmp_path, capsys):
    import json

    from vecbridge import load_translator
    from vecbridge.cli.main import main
    from vecbridge.io import write_embeddings

    src, tgt = low_rank_pair()
    write_embeddings(src, tmp_path / "src.npy")
    write_embeddings(tgt, tmp_path / "tgt.txt", format="word2vec")
    argv = ["dimension", str(tmp_path / "src.npy"), str(tmp_path / "tgt.txt"), "-o", str(tmp_path / "m"),
            "--no-structure", "--json", "--quiet"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    mapped_row = next(r for r in out["rows"] if r["space"].startswith("source mapped"))
    assert mapped_row["dim"] == 12 and mapped_row["hit_at_1"] > 0.9
    assert load_translator(tmp_path / "m").n_features_out_ == 12
    assert main(argv) == 1  # the map folder exists now: refused without --overwrite


def test_dimension_cli_of_unrelated_spaces_exits_3_and_saves_nothing(tmp_path):
    from vecbridge.cli.main import main
    from vecbridge.io import write_embeddings

    src, tgt = low_rank_pair()
    noise = Embeddings(tgt.keys, np.random.default_rng(3).normal(size=tgt.vectors.shape).astype(np.float32))
    write_embeddings(src, tmp_path / "src.npy")
    write_embeddings(noise, tmp_path / "noise.txt", format="word2vec")
    argv = ["dimension", str(tmp_path / "src.npy"), str(tmp_path / "noise.txt"), "-o", str(tmp_path / "m"),
            "--no-structure", "--quiet"]
    assert main(argv) == 3 and not (tmp_path / "m").exists()
    assert main([*argv, "--force"]) == 0 and (tmp_path / "m").exists()


def test_test_fraction_that_leaves_too_few_shared_words_to_fit():
    from vecbridge.errors import ParameterError

    src, tgt = low_rank_pair(n=300)
    with pytest.raises(ParameterError, match=r"test_fraction=0\.999: holds out 300 of the 300 shared words and "
                                             r"leaves 0 to fit lstsq on, fewer than the 1 the fit needs"):
        change_dimension(src, tgt, structure_data={}, test_fraction=0.999, force=True)
    # fewer than a well-posed fit needs (40 for a 40-d -> 12-d least squares): --force would fit anyway
    with pytest.raises(ParameterError, match=r"leaves 6 to fit lstsq on, fewer than the 40 a well-posed fit needs"):
        change_dimension(src, tgt, structure_data={}, test_fraction=0.98)
    res = change_dimension(src, tgt, structure_data={}, test_fraction=0.98, force=True)
    assert res.info["n_train"] == 6


def test_dimension_cli_test_fraction_auto_and_normalize(tmp_path, capsys):
    import json

    from vecbridge import load_translator
    from vecbridge.cli.main import main
    from vecbridge.io import write_embeddings

    src, tgt = low_rank_pair(n=300)
    write_embeddings(src, tmp_path / "src.vec")
    write_embeddings(tgt, tmp_path / "tgt.vec")
    base = ["dimension", str(tmp_path / "src.vec"), str(tmp_path / "tgt.vec"), "--no-structure", "--quiet"]
    capsys.readouterr()
    assert main([*base, "-o", str(tmp_path / "m"), "--test-fraction", "0.999"]) == 2
    err = capsys.readouterr().err
    assert "--test-fraction" in err and "holds out 300 of the 300 shared words and leaves 0" in err
    assert not (tmp_path / "m").exists()
    # auto takes no --normalize: none is passed unless given, and a given one is an error naming the flag
    assert main([*base, "-o", str(tmp_path / "auto"), "--method", "auto", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["info"]["normalize"] is None
    assert main([*base, "-o", str(tmp_path / "x"), "--method", "auto", "--normalize", "unit"]) == 2
    assert capsys.readouterr().err.startswith("vecbridge dimension: error: --normalize: method 'auto'")
    # lstsq gets the default normalisation
    assert main([*base, "-o", str(tmp_path / "l")]) == 0
    assert load_translator(tmp_path / "l").get_params()["normalize"] == "unit center unit"
