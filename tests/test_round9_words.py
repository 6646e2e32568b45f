"""Round 9 (words): dictionary reading, diagnose on few pairs or a constant space, neighbors across spaces and
CSLS in a key's own space, suggest-pairs on repeated vectors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from vecbridge import Embeddings
from vecbridge.cli.main import main
from vecbridge.dictionary import keys_to_pair, read_dictionary, vector_groups
from vecbridge.errors import FormatError
from vecbridge.io import write_embeddings
from vecbridge.io.read_report import ReadWarning


def _read(path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs = read_dictionary(path, **kw)
    return pairs, [str(w.message) for w in caught if issubclass(w.category, ReadWarning)]


def _vec(path, keys, X):
    write_embeddings(Embeddings(list(keys), np.asarray(X, dtype=np.float32), {"name": path.stem}), path,
                     format="word2vec", overwrite=True)
    return str(path)


# -- 1. lines starting with # -----------------------------------------------------------------------------------
def test_hashtag_pairs_are_read_and_comment_lines_are_counted(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text("# source\ttarget\n#h0\t#h0\n#h1 #h1\n#note\na\tb\n  # indented comment\n#\tx\n")
    pairs, said = _read(p)
    assert pairs == [("#h0", "#h0"), ("#h1", "#h1"), ("a", "b")]
    assert len(said) == 1 and "4 lines starting with # read as comments" in said[0] and "1, 4, 6" in said[0]
    # a dictionary of hashtags only: every pair kept, nothing said
    q = tmp_path / "tags.tsv"
    q.write_text("".join(f"#t{i}\t#t{i}\n" for i in range(100)))
    pairs, said = _read(q)
    assert len(pairs) == 100 and not said


def test_suggest_pairs_among_reads_hashtag_keys_and_counts_comments(tmp_path, capsys):
    rng = np.random.default_rng(0)
    keys = [f"#t{i}" for i in range(20)] + [f"w{i}" for i in range(20)]
    src = _vec(tmp_path / "src.vec", keys, rng.normal(size=(40, 6)))
    among = tmp_path / "among.txt"
    among.write_text("# the items we have text for\n#t0\n#t1\n#t2\n#t3\n")
    capsys.readouterr()
    assert main(["suggest-pairs", src, "-k", "3", "--among", str(among)]) == 0
    out, err = capsys.readouterr()
    assert set(out.split()) <= {"#t0", "#t1", "#t2", "#t3"} and len(out.split()) == 3
    assert "1 line of it starting with # (line 1) is not a key of SRC and was read as comment" in err
    few = tmp_path / "few.txt"
    few.write_text("#x1\n#x2\nw1\nw2\n")
    assert main(["suggest-pairs", src, "-k", "3", "--among", str(few)]) == 2
    err = capsys.readouterr().err
    assert "-k 3: more than the 2 items" in err and "2 lines of it starting with # (lines 1, 2)" in err


# -- 2. splitting as the vector readers split -------------------------------------------------------------------
def test_dictionary_splits_on_ascii_whitespace_and_lines_end_at_newline(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_bytes("a\u00a0b c\nd\x1ce f\ng\th\t\ni j\r\n".encode())
    pairs, _ = _read(p)
    assert pairs == [("a\u00a0b", "c"), ("d\x1ce", "f"), ("g", "h"), ("i", "j")]
    # a lone \r does not end a line (it separates fields, as in the vector readers): line 2 holds 3 fields
    p.write_bytes(b"a\tb\r\nc d\re\nf\tg\n")
    with pytest.raises(FormatError, match="line 2: expected 'source<TAB>target', got 3 field"):
        read_dictionary(p)


def test_dictionary_decode_error_names_the_line(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_bytes(b"a\tb\nc\td\ncaf\xe9\tf\n")
    with pytest.raises(FormatError, match=r"d\.tsv, line 3: not valid utf-8 text"):
        read_dictionary(p)
    assert read_dictionary(p, encoding="latin-1")[-1] == ("caf\xe9", "f")


# -- 3. diagnose on few pairs ------------------------------------------------------------------------------------
@pytest.fixture()
def two_spaces(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 12))
    Q = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    keys = [f"w{i}" for i in range(200)]
    return _vec(tmp_path / "a.vec", keys, X), _vec(tmp_path / "b.vec", keys, X @ Q), tmp_path


def test_diagnose_names_k_and_the_usable_pairs_and_gives_no_verdict_on_few(two_spaces, capsys):
    a, b, d = two_spaces
    (d / "d5.tsv").write_text("".join(f"w{i}\tw{i}\n" for i in range(5)) + "zzz\tzzz\n")
    capsys.readouterr()
    assert main(["diagnose", a, b, "--dictionary", str(d / "d5.tsv")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "-k/--neighbors 10" in err and "only 5 pairs of --dictionary" in err
    assert main(["diagnose", a, b, "--dictionary", str(d / "d5.tsv"), "-k", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    rep = json.loads(out)
    assert rep["paired"]["n"] == 5 and rep["verdict"].startswith("unknown (only 5 paired items")
    assert "no verdict" in err
    (d / "d60.tsv").write_text("".join(f"w{i}\tw{i}\n" for i in range(60)))
    assert main(["diagnose", a, b, "--dictionary", str(d / "d60.tsv"), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "near-isomorphic"


# -- 4. a constant space ------------------------------------------------------------------------------------------
def test_diagnose_refuses_a_constant_target_in_one_line_without_numpy_warnings(tmp_path, capsys):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "x.npy", rng.normal(size=(300, 20)).astype(np.float32))
    np.save(tmp_path / "const.npy", np.ones((300, 20), dtype=np.float32))
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["diagnose", str(tmp_path / "x.npy"), str(tmp_path / "const.npy"), "--paired", "-n", "200",
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "TGT (" in err and "const.npy" in err and "no variance" in err


def test_rsa_of_a_constant_side_is_nan_without_a_warning():
    from vecbridge.diagnostics import rsa, verdict

    X = np.random.default_rng(3).normal(size=(20, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = rsa(X, np.ones((20, 4)))
    assert np.isnan(value) and verdict(value, 100).startswith("unknown")


# -- 5, 6, 8. neighbors across spaces -----------------------------------------------------------------------------
@pytest.fixture()
def mapped(tmp_path):
    rng = np.random.default_rng(4)
    n, d = 300, 16
    A = rng.normal(size=(n, d)) * np.linspace(0.2, 3.0, d) + np.linspace(-2.0, 2.0, d)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    B = A @ Q + 0.01 * rng.normal(size=(n, d))
    keys = [f"w{i}" for i in range(n)]
    a, b = _vec(tmp_path / "a.vec", keys, A), _vec(tmp_path / "b.vec", keys, B)
    assert main(["fit", a, b, "--shared-keys", "-o", str(tmp_path / "map"), "--method", "procrustes",
                 "--quiet"]) == 0
    return a, b, str(tmp_path / "map")


def test_neighbors_checks_emb_is_the_maps_source_space(mapped, capsys):
    a, b, m = mapped
    capsys.readouterr()
    assert main(["neighbors", a, "w1", "--map", m, "--target", b, "-k", "2"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(["neighbors", b, "w1", "--map", m, "--target", b, "-k", "2"]) == 0
    err = capsys.readouterr().err
    assert "warning: EMB (" in err and "--strict" in err
    assert main(["neighbors", b, "w1", "--map", m, "--target", b, "-k", "2", "--strict"]) == 5


def test_neighbors_map_without_target_is_a_usage_error(mapped, capsys):
    a, _, m = mapped
    capsys.readouterr()
    assert main(["neighbors", a, "w1", "--map", m]) == 2
    assert "--map" in capsys.readouterr().err


def test_neighbors_target_of_another_space_without_map_warns(mapped, capsys):
    a, b, _ = mapped
    capsys.readouterr()
    assert main(["neighbors", a, "w1", "--target", b, "-k", "2"]) == 0
    err = capsys.readouterr().err
    assert "look like two different spaces" in err and "--map MAP_DIR" in err
    assert main(["neighbors", a, "w1", "--target", a, "-k", "2"]) == 0
    assert "warning" not in capsys.readouterr().err


# -- 7. CSLS / ISF in a key's own space: its row left out of every term ----------------------------------------------
def _brute_own_space(X: np.ndarray, q: int, method: str, k: int, csls_k: int = 10, temperature: float = 30.0):
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = U @ U.T
    off = S.copy()
    np.fill_diagonal(off, -np.inf)
    if method == "csls":
        r = np.sort(off, axis=1)[:, -csls_k:].mean(axis=1)
        score = 2 * S[q] - r[q] - r
    elif method == "isf":
        from scipy.special import logsumexp

        lse = np.array([logsumexp(temperature * np.delete(S[j], j)) for j in range(len(S))])
        score = temperature * S[q] - lse
    else:
        score = S[q].copy()
    score[q] = -np.inf
    order = np.argsort(-score, kind="stable")[:k]
    return order, score[order]


@pytest.mark.parametrize("method", ["csls", "isf", "nn"])
def test_neighbors_in_own_space_equal_brute_force_with_self_excluded(tmp_path, capsys, method):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 8))
    keys = [f"w{i}" for i in range(80)]
    path = _vec(tmp_path / "e.vec", keys, X)
    X32 = np.asarray(X, dtype=np.float32).astype(np.float64)
    capsys.readouterr()
    assert main(["neighbors", path, "w7", "--retrieval", method, "-k", "5"]) == 0
    lines = [ln.split("\t") for ln in capsys.readouterr().out.strip().splitlines()]
    order, scores = _brute_own_space(X32, 7, method, 5)
    assert [k for k, _ in lines] == [keys[i] for i in order]
    np.testing.assert_allclose([float(s) for _, s in lines], scores, atol=2e-4)


def test_nearest_neighbors_self_rows_equals_brute_force():
    from vecbridge.retrieval import nearest_neighbors

    X = np.random.default_rng(6).normal(size=(60, 6))
    rows = np.array([3, 17, 42])
    idx, val = nearest_neighbors(X[rows], X, k=4, method="csls", self_rows=rows)
    for i, q in enumerate(rows):
        order, scores = _brute_own_space(X, q, "csls", 4)
        assert list(idx[i]) == list(order)
        np.testing.assert_allclose(val[i], scores, atol=1e-4)


# -- 9. repeated vectors -----------------------------------------------------------------------------------------
def test_suggest_pairs_refuses_more_picks_than_distinct_vectors(tmp_path, capsys):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    X[10:30] = X[10]  # 20 rows of one vector: 21 distinct vectors
    np.save(tmp_path / "dup.npy", X)
    assert int(vector_groups(X).max()) + 1 == 21
    capsys.readouterr()
    assert main(["suggest-pairs", str(tmp_path / "dup.npy"), "-k", "25"]) == 2
    err = capsys.readouterr().err
    assert "-k 25" in err and "only 21 distinct vectors" in err
    assert main(["suggest-pairs", str(tmp_path / "dup.npy"), "-k", "21", "--quiet"]) == 0
    picked = [int(r) for r in capsys.readouterr().out.split()]
    assert len(picked) == 21 and len(set(vector_groups(X)[picked])) == 21
    assert len(set(vector_groups(X)[keys_to_pair(X, 15)])) == 15
