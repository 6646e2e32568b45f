"""Merging two word models: provenance, confidence, outputs that never overwrite, evaluation by group."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings, VecbridgeError
from vecbridge.apps.merge import (
    evaluate_merged,
    merge_embeddings,
    merge_output_paths,
    read_provenance,
    write_merged,
)
from vecbridge.apps.structure import analogy_accuracy, similarity_spearman
from vecbridge.cli.main import main
from vecbridge.io import read_embeddings, write_embeddings
from vecbridge.normalize import unit_rows


def rotated_pair(n=600, n_b=450, d=24, noise=0.02, seed=0):
    """A = X, B = X Q + noise on the first n_b words (B lacks A's last words)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Y = (X @ Q + noise * rng.normal(size=(n, d))).astype(np.float32)
    keys = [f"w{i}" for i in range(n)]
    return Embeddings(keys, X, {"name": "A"}), Embeddings(keys[:n_b], Y[:n_b], {"name": "B"}), Y


def test_merge_keeps_native_vectors_and_translates_the_rest():
    a, b, Y = rotated_pair()
    r = merge_embeddings(a, b, holdout=0.1, seed=1)
    m = r.merged
    assert len(m) == 600 and m.keys[:450] == b.keys and m.keys[450:] == a.keys[450:]
    assert r.origin.count("native") == 450 and r.origin.count("translated") == 150
    np.testing.assert_array_equal(m.vectors[:450], b.vectors)  # native words: B's vectors, unchanged
    cos = (unit_rows(m.vectors[450:]) * unit_rows(Y[450:])).sum(axis=1)
    assert cos.min() > 0.98  # translated words land where B would have put them
    assert np.isnan(r.confidence[:450]).all() and np.isfinite(r.confidence[450:]).all()
    assert all(nb == "" for nb in r.nearest_native[:450]) and all(nb in b.index for nb in r.nearest_native[450:])
    h = r.info["holdout"]
    assert h["n_test_pairs"] == 45 and h["hit_at_1"] == 1.0
    assert sum(row["n"] for row in h["by_confidence"]) == 45


def test_normalized_space_and_csls_confidence():
    a, b, _ = rotated_pair()
    r = merge_embeddings(a, b, space="normalized", confidence="csls", holdout=0.0)
    assert "holdout" not in r.info
    norms = np.linalg.norm(r.merged.vectors, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-4)  # unit center unit output
    assert r.merged.meta["normalization"][-3:] == ["unit", "center", "unit"]
    # CSLS scores are below the plain cosine of the same neighbour
    rc = merge_embeddings(a, b, space="normalized", confidence="cosine", holdout=0.0)
    assert (r.confidence[450:] < rc.confidence[450:]).all()


def test_confidence_tracks_reliability():
    """A-only words close to a native word get high confidence and that word as neighbour; noise gets low."""
    a, b, _ = rotated_pair(n=500, n_b=400, noise=0.01)
    rng = np.random.default_rng(5)
    V = a.vectors.copy()
    V[400:450] = rng.normal(size=(50, a.dim)) * 2  # words unlike anything B knows
    V[450:500] = V[:50] + 0.05 * rng.normal(size=(50, a.dim))  # near-copies of B's words w0..w49
    r = merge_embeddings(Embeddings(a.keys, V, {"name": "A"}), b, holdout=0.0)
    noise, copies = r.confidence[400:450], r.confidence[450:500]
    assert copies.min() > 0.95 > noise.max()
    assert r.nearest_native[450:500] == [f"w{i}" for i in range(50)]


def test_dictionary_pairs_and_errors():
    a, b, _ = rotated_pair(n=100, n_b=80)
    b2 = Embeddings([f"B{k}" for k in b.keys], b.vectors, {"name": "B2"})
    with pytest.raises(VecbridgeError, match="share no words"):
        merge_embeddings(a, b2)
    pairs = [(k, f"B{k}") for k in b.keys]
    r = merge_embeddings(a, b2, pairs=pairs, holdout=0.0)
    # A words used in pairs are not added again: only the 20 unpaired words are translated
    assert r.info["n_translated"] == 20 and r.info["pairs_from"] == "dictionary"
    with pytest.raises(VecbridgeError, match="confidence"):
        merge_embeddings(a, b, confidence="margin")
    with pytest.raises(VecbridgeError, match="space"):
        merge_embeddings(a, b, space="raw")


def test_write_merged_formats_sidecar_and_no_overwrite(tmp_path):
    a, b, _ = rotated_pair(n=120, n_b=100)
    r = merge_embeddings(a, b, holdout=0.1)
    out = tmp_path / "merged.vec"
    paths = write_merged(r, out, evaluation={"note": "x"})
    assert paths == merge_output_paths(out)
    back = read_embeddings(out)
    assert back.keys == r.merged.keys
    np.testing.assert_allclose(back.vectors, r.merged.vectors, rtol=1e-6)
    prov = read_provenance(paths["provenance"])
    assert prov["w0"] == ("native", None)
    assert prov["w110"][0] == "translated" and prov["w110"][1] == pytest.approx(r.confidence[110], abs=1e-4)
    summary = json.loads(paths["summary"].read_text())
    assert summary["n_translated"] == 20 and summary["evaluation"] == {"note": "x"}
    before = out.read_bytes()
    with pytest.raises(VecbridgeError, match="already exists"):
        write_merged(r, out)
    assert out.read_bytes() == before
    # a stray sidecar alone also blocks the write
    out2 = tmp_path / "m2.bin"
    merge_output_paths(out2)["provenance"].write_text("keep me")
    with pytest.raises(VecbridgeError, match="provenance"):
        write_merged(r, out2)
    assert not out2.exists()
    write_merged(r, out, overwrite=True)


def test_write_merged_gensim(tmp_path):
    from gensim.models import KeyedVectors

    a, b, _ = rotated_pair(n=60, n_b=50)
    r = merge_embeddings(a, b, holdout=0.0)
    write_merged(r, tmp_path / "merged.kv")
    kv = KeyedVectors.load(str(tmp_path / "merged.kv"))
    assert kv.index_to_key == r.merged.keys
    np.testing.assert_array_equal(kv.vectors, r.merged.vectors)


def small_structure_space():
    """Vectors where king - man + woman = queen holds exactly, plus filler words."""
    rng = np.random.default_rng(0)
    base = {w: rng.normal(size=16) for w in ["man", "woman", "king", "paris", "france", "rome", "x1", "x2"]}
    base = {w: v / np.linalg.norm(v) for w, v in base.items()}  # 3CosAdd works on unit vectors
    base["queen"] = base["king"] - base["man"] + base["woman"]
    base["italy"] = base["france"] - base["paris"] + base["rome"]
    keys = list(base)
    return Embeddings(keys, np.stack([base[k] for k in keys]).astype(np.float32))


def test_structure_functions_count_coverage_and_select():
    emb = small_structure_space()
    qs = [("man", "woman", "king", "queen"), ("man", "woman", "king", "absent"), ("man", "king", "woman", "queen")]
    res = analogy_accuracy(emb, qs)
    assert res["n_questions"] == 3 and res["n_covered"] == 2 and res["n_correct"] >= 1
    only_first = analogy_accuracy(emb, qs, select=lambda ws: ws[1] == "woman")
    assert only_first["n_questions"] == 2 and only_first["accuracy"] == 1.0
    pairs = [("king", "queen", 9.0), ("man", "woman", 8.0), ("paris", "x1", 1.0), ("x2", "nothere", 3.0)]
    s = similarity_spearman(emb, pairs)
    assert s["n_pairs"] == 4 and s["n_covered"] == 3 and s["n_oov"] == 1 and s["oov_examples"] == ["nothere"]
    assert -1.0 <= s["spearman"] <= 1.0
    assert similarity_spearman(emb, pairs[:2])["spearman"] is None  # fewer than 3 pairs


def test_evaluate_merged_splits_native_and_translated():
    emb = small_structure_space()
    b = emb.subset(["man", "woman", "king", "paris", "france", "x1", "x2"])
    a = emb  # A also has queen, rome, italy
    r = merge_embeddings(a, b, method="procrustes", normalize=None, holdout=0.0, force=True)  # 7 pairs, 16-d
    assert set(r.translated_keys) == {"queen", "rome", "italy"}
    data = {"analogies": [("man", "woman", "king", "queen"), ("paris", "france", "rome", "italy"),
                          ("man", "king", "woman", "x1")],
            "wordsim353": [("king", "queen", 9.0), ("man", "woman", 8.0), ("paris", "x1", 1.0), ("x1", "x2", 2.0),
                           ("rome", "italy", 7.0)],
            "simlex999": []}
    ev = evaluate_merged(r, data)
    assert ev["native"]["analogies"]["n_questions"] == 1
    assert ev["translated"]["analogies"]["n_questions"] == 2
    assert ev["translated"]["analogies"]["accuracy"] == 1.0  # exact map: the translated queen is found
    assert ev["native"]["wordsim353"]["n_pairs"] == 3 and ev["translated"]["wordsim353"]["n_pairs"] == 2
    assert [row["group"] for row in ev["rows"]] == ["native", "translated", "all"]


def test_cli_merge(tmp_path, capsys):
    a, b, _ = rotated_pair(n=150, n_b=120)
    write_embeddings(a, tmp_path / "a.vec")
    write_embeddings(b, tmp_path / "b.vec")
    out = tmp_path / "merged.bin"
    rc = main(["merge", str(tmp_path / "a.vec"), str(tmp_path / "b.vec"), "-o", str(out), "--quiet"])
    assert rc == 0
    m = read_embeddings(out)
    assert len(m) == 150
    assert (tmp_path / "merged.bin.provenance.tsv").exists() and (tmp_path / "merged.bin.merge.json").exists()
    stamp = out.stat().st_mtime_ns
    rc = main(["merge", str(tmp_path / "a.vec"), str(tmp_path / "b.vec"), "-o", str(out)])
    assert rc == 1 and "already exists" in capsys.readouterr().err
    assert out.stat().st_mtime_ns == stamp


# -- real data: two word2vec runs on gensim's Lee corpus --------------------------------------------
@pytest.fixture(scope="module")
def lee_models():
    from gensim.test.utils import datapath

    from vecbridge.apps.update import read_corpus, train_word2vec

    sents = read_corpus(datapath("lee_background.cor"))
    out = []
    for seed, docs in ((1, sents), (2, sents[:200])):  # A: all 300 documents; B: the first 200, another seed
        m = train_word2vec(docs, vector_size=40, min_count=4, epochs=15, seed=seed, sg=1)
        out.append(Embeddings(list(m.wv.index_to_key), m.wv.vectors, {"name": f"lee-s{seed}"}))
    return out


@pytest.mark.realdata
def test_merge_real_word2vec_runs(lee_models):
    a, b_full = lee_models
    b = b_full.head(900)  # B knows only its 900 most frequent words
    r = merge_embeddings(a, b, holdout=0.15, seed=0)
    h = r.info["holdout"]
    # chance is 1/900; two runs on overlapping text align well on frequent words
    assert h["hit_at_1"] > 0.5
    assert h["mean_confidence_hits"] > h["mean_confidence_misses"]
    assert r.info["n_translated"] == len([k for k in a.keys if k not in b.index])
    # translated words sit near their vectors in the full second run (never seen by the merge)
    tr_keys = [k for k in r.translated_keys if k in b_full.index][:200]
    assert len(tr_keys) == 200
    mine = unit_rows(r.merged.subset(tr_keys).vectors)
    truth = unit_rows(b_full.subset(tr_keys).vectors)
    assert float((mine * truth).sum(axis=1).mean()) > 0.6


def test_cli_merge_of_unrelated_spaces_exits_3_and_writes_nothing(tmp_path, capsys):
    a, _, _ = rotated_pair(n=300, n_b=240)
    rng = np.random.default_rng(5)
    noise = Embeddings(a.keys[:240], rng.normal(size=(240, a.dim)).astype(np.float32), {"name": "noise"})
    write_embeddings(a, tmp_path / "a.vec")
    write_embeddings(noise, tmp_path / "n.vec")
    out = tmp_path / "merged.vec"
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "a.vec"), str(tmp_path / "n.vec"), "-o", str(out), "--holdout", "0.2"]) == 3
    assert "did not align" in capsys.readouterr().err and not out.exists()
    assert main(["merge", str(tmp_path / "a.vec"), str(tmp_path / "n.vec"), "-o", str(out), "--holdout", "0.2",
                 "--force", "--quiet"]) == 0 and out.exists()
    assert merge_embeddings(*rotated_pair()[:2], holdout=0.2).info["holdout"]["verdict"] == "aligned"


def test_unknown_output_format_lists_gensim_too(tmp_path):
    from vecbridge.apps.wordfiles import write_word_vectors

    a, _, _ = rotated_pair(n=20, n_b=10)
    with pytest.raises(VecbridgeError, match="unknown format 'bogus'.*parquet, gensim"):
        write_word_vectors(a, tmp_path / "x.vec", format="bogus")
    assert not (tmp_path / "x.vec").exists()


# -- the command line: outputs, inputs and options checked before any work ----------------------------------------
def write_pair(tmp_path, n=150, n_b=120):
    a, b, _ = rotated_pair(n=n, n_b=n_b)
    write_embeddings(a, tmp_path / "a.vec")
    write_embeddings(b, tmp_path / "b.vec")
    return str(tmp_path / "a.vec"), str(tmp_path / "b.vec")


def test_merge_output_paths_name_the_keys_file_of_an_npy_model(tmp_path):
    assert merge_output_paths(tmp_path / "m.npy")["keys"] == tmp_path / "m.keys.txt"
    assert merge_output_paths(tmp_path / "m.bin", "npy")["keys"] == tmp_path / "m.keys.txt"
    assert "keys" not in merge_output_paths(tmp_path / "m.vec") and "keys" not in merge_output_paths(tmp_path / "m.kv")
    assert "keys" not in merge_output_paths(tmp_path / "m.npy", "word2vec-binary")


def test_cli_merge_npy_keys_file_is_an_output(tmp_path, capsys):
    a, b = write_pair(tmp_path)
    # the keys file written beside d.npy is d.keys.txt: the dictionary here, an input even with --overwrite
    dictionary = tmp_path / "d.keys.txt"
    dictionary.write_text("".join(f"w{i}\tw{i}\n" for i in range(100)))
    before = dictionary.read_bytes()
    capsys.readouterr()
    assert main(["merge", a, b, "--dictionary", str(dictionary), "-o", str(tmp_path / "d.npy"), "--overwrite"]) == 1
    assert "d.keys.txt" in capsys.readouterr().err
    assert dictionary.read_bytes() == before and not (tmp_path / "d.npy").exists()
    # an existing keys file is refused before any input is read (A is no vectors file at all)
    (tmp_path / "m.keys.txt").write_text("keep me\n")
    (tmp_path / "bad.vec").write_text("not vectors\n")
    assert main(["merge", str(tmp_path / "bad.vec"), b, "-o", str(tmp_path / "m.npy")]) == 1
    err = capsys.readouterr().err
    assert "m.keys.txt" in err and "already exists" in err and "bad.vec" not in err
    assert (tmp_path / "m.keys.txt").read_text() == "keep me\n" and not (tmp_path / "m.npy").exists()
    # written, read back with its keys, and listed in the summary
    assert main(["merge", a, b, "-o", str(tmp_path / "n.npy")]) == 0
    assert f"wrote {tmp_path / 'n.npy'}, {tmp_path / 'n.keys.txt'}, " in capsys.readouterr().err
    assert read_embeddings(tmp_path / "n.npy").keys[:3] == ["w0", "w1", "w2"]


def test_cli_merge_lenient_skips_and_reports_bad_rows(tmp_path, capsys):
    a, b = write_pair(tmp_path)
    lines = (tmp_path / "a.vec").read_text().splitlines()
    parts = lines[131].split()  # w130, a word B lacks
    parts[2] = "nan"
    lines[131] = " ".join(parts)
    (tmp_path / "an.vec").write_text("\n".join(lines) + "\n")
    out = tmp_path / "m.vec"
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "an.vec"), b, "-o", str(out)]) == 1
    assert "--lenient" in capsys.readouterr().err and not out.exists()
    assert main(["merge", str(tmp_path / "an.vec"), b, "-o", str(out), "--lenient"]) == 0
    assert '"non_finite": 1' in capsys.readouterr().err
    merged = read_embeddings(out)
    assert len(merged) == 149 and "w130" not in merged.index  # A's bad row skipped, its other 29 words added


def test_cli_merge_method_auto_and_normalize(tmp_path, capsys):
    a, b = write_pair(tmp_path)
    assert main(["merge", a, b, "-o", str(tmp_path / "auto.vec"), "--method", "auto", "--quiet"]) == 0
    assert json.loads((tmp_path / "auto.vec.merge.json").read_text())["normalize"] is None
    # the default normalisation goes to a method that takes one; a given one is kept, "none" included
    assert main(["merge", a, b, "-o", str(tmp_path / "p.vec"), "--quiet"]) == 0
    assert json.loads((tmp_path / "p.vec.merge.json").read_text())["normalize"] == "unit center unit"
    assert main(["merge", a, b, "-o", str(tmp_path / "r.vec"), "--normalize", "none", "--quiet"]) == 0
    assert json.loads((tmp_path / "r.vec.merge.json").read_text())["normalize"] == "none"
    capsys.readouterr()
    assert main(["merge", a, b, "-o", str(tmp_path / "x.vec"), "--method", "auto", "--normalize", "unit"]) == 2
    assert capsys.readouterr().err.startswith("vecbridge merge: error: --normalize: method 'auto'")


@pytest.mark.parametrize("command", ["merge", "dimension"])
@pytest.mark.parametrize("flags, message", [
    (["--method", "nosuch"], "--method nosuch: unknown method 'nosuch'"),
    (["--normalize", "bogus"], "--normalize 'bogus': unknown normalisation step 'bogus'"),
    (["--method", "lstsq", "--param", "ridge=-1"], "--param ridge=-1: lstsq: parameter 'ridge' must be >= 0"),
])
def test_cli_map_options_are_usage_errors_before_any_input_is_read(tmp_path, capsys, command, flags, message):
    missing = str(tmp_path / "missing.vec")  # never read: the options are checked first
    assert main([command, missing, missing + "2", "-o", str(tmp_path / "out"), *flags]) == 2
    assert capsys.readouterr().err.startswith(f"vecbridge {command}: error: {message}")


@pytest.mark.parametrize("command", ["merge", "dimension"])
def test_cli_keyless_arrays_are_refused(tmp_path, capsys, command):
    a, b, _ = rotated_pair(n=150, n_b=150)
    np.save(tmp_path / "a.npy", a.vectors)  # no keys file: the keys would be row numbers
    np.save(tmp_path / "b.npy", b.vectors)
    assert main([command, str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "-o", str(tmp_path / "out.vec")]) == 1
    err = capsys.readouterr().err
    assert f"{command} needs keys" in err and "a.npy" in err and not (tmp_path / "out.vec").exists()
    assert "--paired" not in err  # neither command has it
    assert ("A (" in err) == (command == "merge")  # the inputs in the usage's names


def test_library_merge_and_dimension_take_auto_with_their_default_normalisation():
    """The API's default normalisation goes only to methods that take one: auto (which normalises each candidate
    itself) works with the defaults, and an explicit other normalisation for it is an error naming normalize."""
    from vecbridge.apps.dimension import change_dimension
    from vecbridge.apps.merge import map_params
    from vecbridge.errors import ParameterError

    assert map_params("auto", "unit center unit", None) == {}
    assert map_params("procrustes", "unit center unit", None) == {"normalize": "unit center unit"}
    assert map_params("procrustes", "unit center unit", {"normalize": "unit"}) == {"normalize": "unit"}
    with pytest.raises(ParameterError, match="takes no normalisation of its own"):
        map_params("auto", "center", None)
    a, b, _ = rotated_pair(n=150, n_b=150)
    merged = merge_embeddings(a, b, method="auto")
    assert len(merged.merged) >= len(b)
    assert change_dimension(a, b, method="auto").translator is not None
