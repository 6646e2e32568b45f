"""The core CLI commands end to end on small files: fit, evaluate --json, translate, neighbors, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge import Embeddings, load_translator
from vecbridge.cli.main import main
from vecbridge.dictionary import write_dictionary
from vecbridge.io import read_embeddings, write_embeddings


@pytest.fixture
def spaces(tmp_path):
    """Two 'languages': B is a rotation of A plus a little noise, with different key spellings."""
    rng = np.random.default_rng(7)
    n, d = 300, 16
    A = rng.normal(size=(n, d)).astype(np.float32)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    B = (A @ Q + 0.01 * rng.normal(size=(n, d))).astype(np.float32)
    src = Embeddings([f"a{i}" for i in range(n)], A, {"name": "A"})
    tgt = Embeddings([f"b{i}" for i in range(n)], B, {"name": "B"})
    write_embeddings(src, tmp_path / "a.txt", format="word2vec")
    write_embeddings(tgt, tmp_path / "b.npy")
    write_dictionary([(f"a{i}", f"b{i}") for i in range(200)] + [("a0", "missing")], tmp_path / "train.tsv")
    write_dictionary([(f"a{i}", f"b{i}") for i in range(200, 300)], tmp_path / "test.tsv")
    return tmp_path, Q


def test_fit_evaluate_translate_neighbors(spaces, capsys):
    d, Q = spaces
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "train.tsv"),
                 "--method", "procrustes", "-o", str(d / "map"), "--quiet"]) == 0
    t = load_translator(d / "map")
    np.testing.assert_allclose(t.W_, Q, atol=1e-2)
    manifest = json.loads((d / "map" / "manifest.json").read_text())
    assert manifest["fit"]["coverage"]["missing_target_only"] == 1 and manifest["fit"]["n_pairs"] == 200

    capsys.readouterr()
    assert main(["evaluate", str(d / "map"), str(d / "a.txt"), str(d / "b.npy"), "--dictionary",
                 str(d / "test.tsv"), "--retrieval", "csls", "--json", "--quiet"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)  # exactly one JSON object
    assert set(["p_at_1", "p_at_5", "p_at_10", "coverage"]) <= set(result)
    assert result["p_at_1"] == 1.0 and result["coverage"] == 1.0

    assert main(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(d / "a_in_b.vec"), "--quiet"]) == 0
    translated = read_embeddings(d / "a_in_b.vec")
    assert translated.keys[:3] == ["a0", "a1", "a2"] and translated.dim == 16
    # refuses to overwrite the user's file (exit 1: an error; 2 is for usage errors)
    assert main(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(d / "a_in_b.vec"), "--quiet"]) == 1

    capsys.readouterr()
    assert main(["neighbors", str(d / "a.txt"), "a5", "--map", str(d / "map"), "--target", str(d / "b.npy"),
                 "-k", "3", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("b5\t")


def test_evaluate_paired_json(spaces, capsys):
    d, _ = spaces
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--paired", "--method", "lstsq",
                 "--param", "bias=true", "-o", str(d / "m"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(d / "m"), str(d / "a.txt"), str(d / "b.npy"), "--paired", "--json", "--quiet"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["top1"] == 1.0 and r["mean_rank"] == 1.0 and r["foscttm"] == 0.0 and r["mean_cosine"] > 0.99


def test_cli_errors_are_clear(spaces, capsys, tmp_path):
    d, _ = spaces
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nx 1 2 3\ny 1 oops 3\n")
    assert main(["fit", str(bad), str(d / "b.npy"), "--shared-keys", "-o", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "bad.txt" in err and "line 3" in err
    assert main(["evaluate", str(tmp_path / "nomap"), str(d / "a.txt"), str(d / "b.npy"), "--paired"]) == 1
    assert "no manifest" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one of --dictionary / --paired / ... is required
        main(["fit", str(d / "a.txt"), str(d / "b.npy"), "-o", str(tmp_path / "m2")])


def test_every_command_help_has_an_example(capsys):
    import argparse

    from vecbridge.cli.main import COMMAND_MODULES, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) == len(COMMAND_MODULES)  # one command per module
    for name in sub.choices:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert "example:" in capsys.readouterr().out, name


# -- issue 23: validation at the edge, one behaviour for outputs, messages in CLI terms ----------------------
def cli(argv: list[str]) -> int:
    """``main``'s exit code, also for usage errors (argparse leaves through SystemExit(2))."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


@pytest.fixture
def mapped(spaces):
    d, _ = spaces
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "train.tsv"), "-o",
                 str(d / "map"), "--method", "procrustes", "--quiet"]) == 0
    return d


@pytest.mark.parametrize("argv, words", [
    (["diagnose", "{a}", "{b}", "-k", "0"], "-k/--neighbors must be a positive integer, got 0"),
    (["diagnose", "{a}", "{b}", "--limit", "-1"], "--limit must be a positive integer, got -1"),
    (["plot", "none", "{a}", "{b}", "-o", "{tmp}/p.png", "--sample", "-5"], "--sample must be a positive integer"),
    (["translate", "{map}", "{a}", "-o", "{tmp}/o.parquet", "--chunk-rows", "0"],
     "--chunk-rows must be a positive integer, got 0"),
    (["translate", "{map}", "{a}", "-o", "{tmp}/o.parquet", "--chunk-rows", "abc"],
     "--chunk-rows must be a positive integer, got 'abc'"),
    (["neighbors", "{a}", "a1", "-k", "0"], "-k must be a positive integer"),
    (["suggest-pairs", "{a}", "-k", "3", "--seed", "-1"], "--seed must be an integer from 0 to"),
    (["serve", "{map}", "--port", "99999"], "--port must be a port number from 1 to 65535, got 99999"),
    (["serve", "{map}", "--port", "0"], "--port must be a port number from 1 to 65535, got 0"),
    (["update", "{a}", "{a}", "--strategy", "align", "-o", "{tmp}/u.vec", "--epochs", "0"],
     "--epochs must be a positive integer, got 0"),
    (["merge", "{a}", "{a}", "-o", "{tmp}/m.vec", "--holdout", "1.5"], "--holdout must be a number >= 0 and < 1"),
    (["migrate", "lancedb", "{tmp}/db", "docs", "--map", "{map}", "--to-table", "t", "--batch-rows", "0"],
     "--batch-rows must be a positive integer, got 0"),
    (["translate", "{map}", "{a}", "-o", "{tmp}/o.vec", "--encoding", "klingon"], "--encoding must be a text encoding"),
    (["fit", "{a}", "{b}", "--paired", "--method", "lstsq", "--param", "bogus=1", "-o", "{tmp}/m"], "--param bogus=1"),
    (["fit", "{a}", "{b}", "--paired", "--method", "lstsq", "--param", "ridge=abc", "-o", "{tmp}/m"],
     "--param ridge=abc"),
    (["fit", "{a}", "{b}", "--paired", "--method", "lstsq", "--param", "ridge=NaN", "-o", "{tmp}/m"],
     "--param ridge=NaN"),
    (["merge", "{a}", "{a}", "-o", "{tmp}/m.vec", "--param", "bogus=1"], "--param bogus=1"),
    (["data", "build", "glove", "--param", "limit=abc"], '--param limit="abc": limit must be an integer'),
    (["data", "build", "word2vec", "--param", "dim=-3"], "--param dim=-3: dim must be a positive integer"),
    (["data", "build", "word2vec", "--param", "dim=1e999"], "--param dim=1e999: the number is out of range"),
    (["data", "clear", "../sib", "--yes"], "not a valid cache builder name"),
])
def test_bad_option_values_are_usage_errors_in_flag_names(mapped, tmp_path, capsys, argv, words):
    d = mapped
    work = tmp_path / "work"
    work.mkdir()
    argv = [a.format(a=d / "a.txt", b=d / "b.npy", map=d / "map", tmp=work) for a in argv]
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert "Traceback" not in err and words in err.strip().splitlines()[-1]  # the usage, then one message
    assert not any(work.iterdir())  # nothing written


def test_embed_latin1_suggests_encoding_then_reads_it(tmp_path, capsys):
    pytest.importorskip("static_model")  # the static64 encoder's package
    texts = tmp_path / "latin1.txt"
    texts.write_bytes("café au lait\nnaïve\n".encode("latin-1"))
    assert cli(["embed", "-m", "static64", str(texts), "-o", str(tmp_path / "e.npy"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "latin1.txt, line 1" in err and "--encoding" in err and "Traceback" not in err
    out = tmp_path / "new" / "dir" / "e.vec"  # a missing folder is created
    assert cli(["embed", "-m", "static64", str(texts), "-o", str(out), "--encoding", "latin-1", "--quiet"]) == 0
    assert read_embeddings(out).keys == ["1", "2"]
    assert cli(["embed", "-m", "static64", str(texts), "-o", str(texts), "--encoding", "latin-1"]) == 1
    assert "also an input" in capsys.readouterr().err and texts.read_bytes().startswith(b"caf")


def test_outputs_one_behaviour(mapped, tmp_path, capsys):
    d = mapped
    # missing parent folders are created, for text and for streamed output
    out_txt = tmp_path / "x" / "y" / "t.vec"
    assert cli(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(out_txt), "--quiet"]) == 0
    write_embeddings(read_embeddings(d / "a.txt"), tmp_path / "a.parquet")
    out_pq = tmp_path / "p" / "q" / "o.parquet"
    assert cli(["translate", str(d / "map"), str(tmp_path / "a.parquet"), "-o", str(out_pq), "--quiet"]) == 0
    np.testing.assert_allclose(read_embeddings(out_pq).vectors, read_embeddings(out_txt).vectors, atol=1e-5)
    # OUT equal to IN: refused, in memory and streaming
    for src in (d / "a.txt", tmp_path / "a.parquet"):
        before = src.read_bytes()
        assert cli(["translate", str(d / "map"), str(src), "-o", str(src), "--overwrite", "--quiet"]) == 1
        assert "also an input" in capsys.readouterr().err and src.read_bytes() == before
    # a finished stream run again: done, exit 0
    assert cli(["translate", str(d / "map"), str(tmp_path / "a.parquet"), "-o", str(out_pq)]) == 0
    assert "already complete" in capsys.readouterr().err
    # a failed validation leaves no folder behind (wrong dimension for the map)
    (tmp_path / "wrong.npy").write_bytes(b"")
    np.save(tmp_path / "wrong.npy", np.ones((5, 3), np.float32))
    assert cli(["translate", str(d / "map"), str(tmp_path / "wrong.npy"), "-o", str(tmp_path / "n" / "o.npy")]) == 1
    assert "takes 16-d" in capsys.readouterr().err and not (tmp_path / "n").exists()


def test_chunk_rows_never_poison_the_journal(mapped, tmp_path, capsys):
    from vecbridge.errors import ParameterError
    from vecbridge.stream import partial_dir_for, translate_file

    d = mapped
    write_embeddings(read_embeddings(d / "a.txt"), tmp_path / "a.parquet")
    out = tmp_path / "o.parquet"
    assert cli(["translate", str(d / "map"), str(tmp_path / "a.parquet"), "-o", str(out), "--chunk-rows", "-5"]) == 2
    with pytest.raises(ParameterError, match="--chunk-rows"):
        translate_file(d / "map", tmp_path / "a.parquet", out, chunk_rows=-5)
    assert not partial_dir_for(out).exists() and not out.exists()
    assert cli(["translate", str(d / "map"), str(tmp_path / "a.parquet"), "-o", str(out), "--chunk-rows", "64",
                "--quiet"]) == 0
    assert len(read_embeddings(out)) == 300


def test_device_applies_to_text_files(mapped, tmp_path):
    pytest.importorskip("torch")
    d = mapped
    assert cli(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(tmp_path / "cpu.vec"), "--quiet"]) == 0
    assert cli(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(tmp_path / "torch.vec"), "--quiet",
                "--device", "cpu-torch"]) == 0
    np.testing.assert_allclose(read_embeddings(tmp_path / "torch.vec").vectors,
                               read_embeddings(tmp_path / "cpu.vec").vectors, atol=1e-5)
    rc = cli(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(tmp_path / "gpu.vec"), "--device", "nope"])
    assert rc == 2 and not (tmp_path / "gpu.vec").exists()  # an unknown device is a usage error, never ignored


def test_parquet_columns_and_encodings_have_flags(mapped, tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d = mapped
    a = read_embeddings(d / "a.txt")
    vec = pa.FixedSizeListArray.from_arrays(pa.array(a.vectors.reshape(-1)), a.dim)
    pq.write_table(pa.table({"doc": a.keys, "title": a.keys, "v1": vec, "v2": vec}), tmp_path / "two.parquet")
    argv = ["translate", str(d / "map"), str(tmp_path / "two.parquet"), "--quiet"]
    assert cli(argv + ["-o", str(tmp_path / "o.vec")]) == 1
    err = capsys.readouterr().err
    assert "--vector-column" in err and "vector_column=" not in err  # the flag's words on the command line
    assert cli(argv + ["-o", str(tmp_path / "o.vec"), "--vector-column", "v1"]) == 1
    err = capsys.readouterr().err
    assert "--key-column" in err and "key_column=" not in err
    for out in ("o.vec", "o.parquet"):  # in memory and streaming
        assert cli(argv + ["-o", str(tmp_path / out), "--vector-column", "v1", "--key-column", "title"]) == 0
        cols = {"vector_column": "v1", "key_column": "title"} if out.endswith(".parquet") else {}
        back = read_embeddings(tmp_path / out, **cols)
        assert back.keys == a.keys and back.dim == 16
    # two inputs: per-input flags
    assert cli(["evaluate", str(d / "map"), str(tmp_path / "two.parquet"), str(d / "b.npy"), "--paired", "--json",
                "--src-vector-column", "v2", "--src-key-column", "doc", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["top1"] > 0.9
    # a latin-1 text file of vectors: the error names --encoding, and --encoding reads it
    latin = tmp_path / "latin.vec"
    latin.write_bytes("2 2\ncafé 1 0\nnaïve 0 1\n".encode("latin-1"))
    assert cli(["diagnose", str(latin), str(latin), "--paired"]) == 1
    assert "--encoding" in capsys.readouterr().err
    assert cli(["neighbors", str(latin), "café", "-k", "1", "--encoding", "latin-1"]) == 0
    assert capsys.readouterr().out.startswith("naïve")


def test_messages_name_the_cli_flag(mapped, tmp_path, capsys):
    d = mapped
    assert cli(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(tmp_path / "o.vec"), "--quiet"]) == 0
    assert cli(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(tmp_path / "o.vec")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    bad = tmp_path / "bad.npy"
    X = np.ones((4, 16), np.float32)
    X[2, 3] = np.nan
    np.save(bad, X)
    assert cli(["translate", str(d / "map"), str(bad), "-o", str(tmp_path / "o.parquet")]) == 1
    err = capsys.readouterr().err
    assert "row 2" in err and "--lenient" in err
    assert cli(["translate", str(d / "map"), str(d / "nothere.txt"), "-o", str(tmp_path / "z.vec")]) == 1
    assert "no such file" in capsys.readouterr().err


def _fit(d, *extra):
    return main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "train.tsv"),
                 "--method", "procrustes", "--quiet", *extra])


def test_overwrite_never_deletes_files_vecbridge_did_not_write(spaces):
    d, _ = spaces
    web = d / "webapp"  # someone else's folder that happens to hold a manifest.json
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "app"}')
    (web / "index.html").write_text("<html>")
    assert _fit(d, "-o", str(web), "--overwrite") == 1
    assert (web / "index.html").read_text() == "<html>"
    assert _fit(d, "-o", str(d / "map")) == 0
    (d / "map" / "notes.txt").write_text("mine")  # a map folder the user added a file to
    assert _fit(d, "-o", str(d / "map"), "--overwrite") == 1
    assert (d / "map" / "notes.txt").read_text() == "mine"
    (d / "map" / "notes.txt").unlink()
    assert _fit(d, "-o", str(d / "map"), "--overwrite") == 0  # a map folder as vecbridge wrote it: replaced


def test_fit_with_pairs_that_carry_no_map_exits_3_and_saves_nothing(spaces, capsys):
    d, _ = spaces
    rng = np.random.default_rng(1)
    write_embeddings(Embeddings([f"b{i}" for i in range(300)], rng.normal(size=(300, 16)).astype(np.float32)),
                     d / "noise.npy")
    args = ["fit", str(d / "a.txt"), str(d / "noise.npy"), "--dictionary", str(d / "train.tsv"), "-o", str(d / "m")]
    capsys.readouterr()
    assert main(args) == 3 and not (d / "m").exists()
    assert "held-out pairs" in capsys.readouterr().err
    assert main([*args, "--force", "--quiet"]) == 0 and (d / "m").exists()
    # the right pairs: the held-out check says aligned and is kept with the map
    assert _fit(d, "-o", str(d / "good")) == 0
    fit = json.loads((d / "good" / "manifest.json").read_text())["fit"]
    assert fit["verdict"] == "aligned" and fit["verdict_details"]["n_eval"] >= 10


def test_paired_with_lenient_refuses_to_shift_the_pairs(tmp_path):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(100, 8)).astype(np.float32)
    B = A @ np.linalg.qr(rng.normal(size=(8, 8)))[0].astype(np.float32)
    A[0, 0] = np.nan  # skipped by --lenient: every later row would pair with the wrong one
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    assert main(["fit", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--paired", "--lenient", "--method",
                 "lstsq", "-o", str(tmp_path / "m"), "--quiet"]) == 1
    assert not (tmp_path / "m").exists()


def test_outputs_never_land_inside_an_input_folder(spaces):
    d, _ = spaces
    assert _fit(d, "-o", str(d / "map")) == 0
    before = (d / "map" / "manifest.json").read_bytes()
    assert main(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(d / "map" / "manifest.json"),
                 "--format", "word2vec", "--overwrite", "--quiet"]) == 1
    assert (d / "map" / "manifest.json").read_bytes() == before


def test_migrate_report_is_never_an_existing_file_or_part_of_the_map(spaces, tmp_path):
    lancedb = pytest.importorskip("lancedb")
    import pyarrow as pa

    d, _ = spaces
    assert _fit(d, "-o", str(d / "map")) == 0
    A = read_embeddings(d / "a.txt").vectors
    vec = pa.FixedSizeListArray.from_arrays(pa.array(A.reshape(-1)), 16)
    lancedb.connect(str(tmp_path / "db")).create_table("docs", pa.table({"id": [f"d{i}" for i in range(len(A))],
                                                                         "vector": vec}))
    (tmp_path / "keep.json").write_text("mine")
    base = ["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(d / "map"), "--to-table", "new", "--quiet"]
    assert main([*base, "--report", str(tmp_path / "keep.json")]) == 1
    assert (tmp_path / "keep.json").read_text() == "mine"
    assert main([*base, "--report", str(d / "map" / "manifest.json"), "--overwrite"]) == 1
    assert load_translator(d / "map").n_features_in_ == 16
    assert main([*base, "--report", str(tmp_path / "report.json")]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["kind"] == "vecbridge migrate report"
    assert main([*base, "--report", str(tmp_path / "report.json")]) == 0  # its own report: re-running replaces it


def test_update_with_a_corpus_too_small_for_min_count_says_so(spaces, capsys):
    pytest.importorskip("gensim")
    d, _ = spaces
    (d / "tiny.txt").write_text("hi there\n")
    capsys.readouterr()
    assert main(["update", str(d / "a.txt"), str(d / "tiny.txt"), "--strategy", "warmstart", "-o", str(d / "u.vec"),
                 "--epochs", "1"]) == 1
    assert "--min-count" in capsys.readouterr().err and not (d / "u.vec").exists()


def test_evaluate_with_no_covered_pair_is_an_error_not_nulls(spaces, capsys):
    d, _ = spaces
    assert _fit(d, "-o", str(d / "map")) == 0
    (d / "none.tsv").write_text("zz1\tyy1\nzz2\tyy2\n")
    capsys.readouterr()
    assert main(["evaluate", str(d / "map"), str(d / "a.txt"), str(d / "b.npy"), "--dictionary",
                 str(d / "none.tsv"), "--quiet"]) == 1
    assert "nothing to score" in capsys.readouterr().err


def test_fit_names_the_flag_of_a_bad_method_or_normalisation(spaces, capsys):
    d, _ = spaces
    base = ["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "train.tsv"), "-o", str(d / "m")]
    capsys.readouterr()
    assert main([*base, "--method", "nonsense"]) == 2 and "--method nonsense" in capsys.readouterr().err
    assert main([*base, "--normalize", "unit"]) == 2 and "--normalize" in capsys.readouterr().err
    assert not (d / "m").exists()


def test_warnings_are_one_line_in_the_commands_words(tmp_path, capsys):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(60, 8)).astype(np.float32)
    A[5, 0] = np.nan
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", rng.normal(size=(60, 8)).astype(np.float32))
    capsys.readouterr()
    main(["fit", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--unsupervised", "--lenient", "-o",
          str(tmp_path / "m"), "--param", "effort=quick", "--quiet"])
    err = capsys.readouterr().err
    assert "vecbridge fit: warning: " in err and "skipped 1" in err and "ReadWarning" not in err


def test_seed_pairs_without_pairs_is_a_usage_error(spaces, capsys):
    d, _ = spaces
    capsys.readouterr()
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--unsupervised", "--seed-pairs", "5", "-o",
                 str(d / "m")]) == 2
    assert "--seed-pairs" in capsys.readouterr().err and not (d / "m").exists()


def test_streamed_npy_refuses_an_existing_keys_file_before_any_work(spaces):
    d, _ = spaces
    assert _fit(d, "-o", str(d / "map")) == 0
    (d / "out.keys.txt").write_text("someone else's keys\n")
    assert main(["translate", str(d / "map"), str(d / "b.npy"), "-o", str(d / "out.npy"), "--quiet"]) == 1
    assert (d / "out.keys.txt").read_text() == "someone else's keys\n"
    assert not (d / "out.npy").exists() and not list(d.glob(".out.npy*"))


def test_dictionary_folder_repeats_and_empty_inputs_are_named(spaces, capsys):
    from vecbridge.dictionary import read_dictionary
    from vecbridge.io import ReadWarning

    d, _ = spaces
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d), "-o", str(d / "m")]) == 1
    assert "is a directory; give a dictionary file" in capsys.readouterr().err
    (d / "rep.tsv").write_text("a1\tb1\na1\tb1\na2\tb2\n")
    with pytest.warns(ReadWarning, match="1 repeated pairs kept once"):
        assert read_dictionary(d / "rep.tsv") == [("a1", "b1"), ("a2", "b2")]
    (d / "header_only.vec").write_text("0 16\n")
    assert main(["fit", str(d / "header_only.vec"), str(d / "b.npy"), "--unsupervised", "-o", str(d / "m")]) == 1
    assert "holds no vectors" in capsys.readouterr().err


def test_suggest_pairs_names_its_flags(spaces, capsys):
    d, _ = spaces
    (d / "empty.txt").write_text("\n")
    capsys.readouterr()
    assert main(["suggest-pairs", str(d / "a.txt"), "--among", str(d / "empty.txt")]) == 1
    assert "--among" in capsys.readouterr().err
    assert main(["suggest-pairs", str(d / "a.txt"), "-k", "100000"]) == 2
    assert "-k 100000" in capsys.readouterr().err


def test_write_errors_name_the_output_not_a_temporary_file(tmp_path, monkeypatch):
    import errno
    import os

    from vecbridge.atomic import atomic_output, write_json_atomic

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as e:
        with atomic_output(tmp_path / "out.bin") as fh:
            fh.write(b"x")
    assert e.value.filename == str(tmp_path / "out.bin") and e.value.errno == errno.ENOSPC
    assert not list(tmp_path.iterdir())  # the temporary file is gone
    with pytest.raises(OSError) as e:  # the same through atomic_path (JSON reports, maps)
        write_json_atomic(tmp_path / "r.json", {"a": 1})
    assert e.value.filename == str(tmp_path / "r.json") and not list(tmp_path.iterdir())


def test_evaluate_paired_notices_the_training_rows_of_a_paired_fit(tmp_path, capsys):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(200, 8)).astype(np.float32)
    B = A @ np.linalg.qr(rng.normal(size=(8, 8)))[0].astype(np.float32)
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    assert main(["fit", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--paired", "--method", "procrustes",
                 "-o", str(tmp_path / "m"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m"), str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--paired",
                 "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["test_pairs_seen_in_training"] == 200 and "training pairs" in captured.err


def test_fit_with_too_few_pairs_to_hold_out_says_so(spaces, capsys):
    d, _ = spaces
    (d / "p20.tsv").write_text("".join(f"a{i}\tb{i}\n" for i in range(20)))
    capsys.readouterr()
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "p20.tsv"), "--method",
                 "procrustes", "-o", str(d / "m20")]) == 0
    err = capsys.readouterr().err  # judged without pairs instead, as a fit without pairs is
    assert "too few pairs for a held-out check" in err and "judged instead without pairs" in err
    assert json.loads((d / "m20" / "manifest.json").read_text())["fit"]["verdict"] == "aligned"
    # 20 wrong pairs (each source word with another's target): the same check refuses the map, nothing saved
    (d / "w20.tsv").write_text("".join(f"a{i}\tb{(i * 7 + 3) % 300}\n" for i in range(20)))
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "w20.tsv"), "--method",
                 "procrustes", "-o", str(d / "w20"), "--quiet"]) == 3
    assert not (d / "w20").exists()
    (d / "p30.tsv").write_text("".join(f"a{i}\tb{i}\n" for i in range(30)))
    assert main(["fit", str(d / "a.txt"), str(d / "b.npy"), "--dictionary", str(d / "p30.tsv"), "--method",
                 "procrustes", "-o", str(d / "m30"), "--quiet"]) == 0
    assert json.loads((d / "m30" / "manifest.json").read_text())["fit"]["verdict"] == "aligned"


def test_report_and_migrate_report_never_land_in_a_map_or_state_folder(spaces, tmp_path, capsys):
    d, _ = spaces
    assert _fit(d, "-o", str(d / "map")) == 0
    assert main(["report", str(d / "map"), str(d / "a.txt"), str(d / "b.npy"), "-o", str(d / "map"),
                 "--overwrite", "--quiet"]) == 1
    assert load_translator(d / "map").n_features_in_ == 16 and not list(d.glob(".map*"))
    lancedb = pytest.importorskip("lancedb")
    import pyarrow as pa

    A = read_embeddings(d / "a.txt").vectors
    vec = pa.FixedSizeListArray.from_arrays(pa.array(A.reshape(-1)), 16)
    lancedb.connect(str(tmp_path / "db")).create_table("docs", pa.table({"id": [f"d{i}" for i in range(len(A))],
                                                                         "vector": vec}))
    capsys.readouterr()
    assert main(["migrate", "lancedb", str(tmp_path / "db"), "docs", "--map", str(d / "map"), "--to-table", "t",
                 "--state", str(tmp_path / "st"), "--report", str(tmp_path / "st" / "r.json"), "--quiet"]) == 2
    assert "inside the --state folder" in capsys.readouterr().err


def test_diagnose_names_its_flags_and_needs_keys_for_shared_keys(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.normal(size=(50, 8)).astype(np.float32))
    np.save(tmp_path / "b.npy", rng.normal(size=(50, 8)).astype(np.float32))
    a, b = str(tmp_path / "a.npy"), str(tmp_path / "b.npy")
    capsys.readouterr()
    assert main(["diagnose", a, b, "--paired", "-n", "5", "-k", "10"]) == 2 and "-k 10" in capsys.readouterr().err
    assert main(["diagnose", a, b, "--paired", "--normalize", "frob"]) == 2
    assert "--normalize 'frob'" in capsys.readouterr().err
    assert main(["diagnose", a, b, "--shared-keys"]) == 1 and "--shared-keys needs keys" in capsys.readouterr().err


def test_dictionaries_honour_encoding_and_a_byte_order_mark(mapped, capsys):
    """evaluate reads --dictionary in --encoding as fit does; a UTF-8 BOM is not part of the first key."""
    d = mapped
    pairs = "".join(f"a{i}\tb{i}\n" for i in range(200, 300))
    (d / "bom.tsv").write_bytes(b"\xef\xbb\xbf" + pairs.encode())
    capsys.readouterr()
    assert main(["evaluate", str(d / "map"), str(d / "a.txt"), str(d / "b.npy"), "--dictionary",
                 str(d / "bom.tsv"), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["n_covered"] == 100
    (d / "latin.tsv").write_bytes(pairs.encode() + "caf\xe9\tb1\n".encode("latin-1"))
    assert main(["evaluate", str(d / "map"), str(d / "a.txt"), str(d / "b.npy"), "--dictionary",
                 str(d / "latin.tsv"), "--quiet"]) == 1
    assert "--encoding" in capsys.readouterr().err
    assert main(["evaluate", str(d / "map"), str(d / "a.txt"), str(d / "b.npy"), "--dictionary",
                 str(d / "latin.tsv"), "--encoding", "latin-1", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_missing_source"] == 1 and "caf\xe9" in out["examples_missing_source"]


def test_a_manifest_nested_too_deeply_is_a_clear_error(mapped, capsys):
    d = mapped
    m = d / "map" / "manifest.json"
    doc = json.loads(m.read_text())
    m.write_text(json.dumps(doc)[:-1] + ', "deep": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}")
    capsys.readouterr()
    assert main(["translate", str(d / "map"), str(d / "a.txt"), "-o", str(d / "out.vec")]) == 1
    err = capsys.readouterr().err
    assert "nests too deeply" in err and "Traceback" not in err


def test_neighbors_of_the_only_row_says_why(tmp_path, capsys):
    (tmp_path / "one.vec").write_text("1 3\nonly 1 2 3\n")
    assert main(["neighbors", str(tmp_path / "one.vec"), "only"]) == 1
    assert "no other row" in capsys.readouterr().err


def test_serve_refuses_a_body_limit_that_refuses_everything(capsys):
    assert cli(["serve", "somewhere", "--max-body-mb", "1e-7"]) == 2
    assert "--max-body-mb" in capsys.readouterr().err


def test_cli_evaluate_shared_keys_without_a_shared_key(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = Embeddings([f"w{i}" for i in range(60)], rng.normal(size=(60, 8)).astype(np.float32))
    c = Embeddings([f"z{i}" for i in range(60)], rng.normal(size=(60, 8)).astype(np.float32))
    write_embeddings(a, tmp_path / "a.vec")
    write_embeddings(c, tmp_path / "c.vec")
    assert main(["fit", str(tmp_path / "a.vec"), str(tmp_path / "a.vec"), "--shared-keys", "--method", "procrustes",
                 "-o", str(tmp_path / "m"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m"), str(tmp_path / "a.vec"), str(tmp_path / "c.vec"),
                 "--shared-keys", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "--shared-keys: SRC" in err and "share no key" in err and "missing" not in err


def test_cli_suggest_pairs_reads_among_with_encoding(tmp_path, capsys):
    rng = np.random.default_rng(0)
    keys = ["café", "naïve"] + [f"w{i}" for i in range(58)]
    emb = Embeddings(keys, rng.normal(size=(60, 8)).astype(np.float32))
    write_embeddings(emb, tmp_path / "utf8.vec")
    rows = "".join(k + " " + " ".join(f"{x:.4f}" for x in v) + "\n" for k, v in zip(keys, emb.vectors))
    (tmp_path / "latin1.vec").write_bytes(("60 8\n" + rows).encode("latin-1"))
    (tmp_path / "among.txt").write_bytes("café\nnaïve\nw1\n".encode("latin-1"))
    among = ["-k", "2", "--among", str(tmp_path / "among.txt")]
    capsys.readouterr()
    assert main(["suggest-pairs", str(tmp_path / "utf8.vec"), *among]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vecbridge suggest-pairs: error: --among") and "--encoding" in err
    # --encoding is the encoding of every file read: SRC and the --among file
    assert main(["suggest-pairs", str(tmp_path / "latin1.vec"), *among, "--encoding", "latin-1", "--quiet"]) == 0
    assert set(capsys.readouterr().out.split()) <= {"café", "naïve", "w1"}


def test_embed_reads_every_row_of_its_text_files_and_names_bad_ids(tmp_path):
    """A TSV text starting with a quote stays one row, a lone \\r does not split a line, and a null or repeated id
    is named with its row and --id-column (it used to become the key 'None', or a wrong row number)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vecbridge.cli.embed import read_texts
    from vecbridge.errors import FormatError

    (tmp_path / "q.tsv").write_text('id\ttext\n1\t"unbalanced start\n2\tsecond\n3\t"Hello" he said\n')
    assert read_texts(tmp_path / "q.tsv", id_column="id")[:2] == (["1", "2", "3"],
                                                                  ['"unbalanced start', "second", '"Hello" he said'])
    (tmp_path / "cr.txt").write_bytes(b"a\rb\nc\r\n\nd\n")
    assert read_texts(tmp_path / "cr.txt") == (["1", "2", "4"], ["a\rb", "c", "d"], 1)
    (tmp_path / "dup.csv").write_text("id,text\n1,alpha\n1,beta\n")
    with pytest.raises(FormatError, match=r"line 3: duplicate id '1' \(first at line 2\).*--id-column id"):
        read_texts(tmp_path / "dup.csv", id_column="id")
    pq.write_table(pa.table({"id": ["a", None, None, "a"], "text": ["x", "y", None, "w"]}), tmp_path / "t.parquet")
    with pytest.raises(FormatError, match=r"row 1 \(0-based\): the id is null"):
        read_texts(tmp_path / "t.parquet", id_column="id")
    pq.write_table(pa.table({"id": ["a", "b", None, "a"], "text": ["x", "y", None, "w"]}), tmp_path / "u.parquet")
    with pytest.raises(FormatError, match=r"row 3 \(0-based\): duplicate id 'a' \(first at row 0"):
        read_texts(tmp_path / "u.parquet", id_column="id")


def test_suggest_pairs_among_counts_distinct_keys_that_src_holds(spaces, capsys):
    d, _ = spaces
    (d / "among.txt").write_text("a1\na2\nnotthere\na2\n")
    assert cli(["suggest-pairs", str(d / "a.txt"), "-k", "2", "--among", str(d / "among.txt")]) == 1
    assert "1 of its 3 distinct keys are not in SRC" in capsys.readouterr().err
    (d / "among2.txt").write_text("a1\na2\na2\n")
    assert cli(["suggest-pairs", str(d / "a.txt"), "-k", "3", "--among", str(d / "among2.txt")]) == 2
    assert "more than the 2 items" in capsys.readouterr().err


def test_library_messages_are_shown_in_the_flags_words(tmp_path, capsys):
    """The library names the flag and the Python argument (``--x / x=...``, ``x=... (CLI: --x)``); the command
    line shows the flag only, for errors and warnings of every command."""
    from vecbridge.cli.options import flags_only

    assert flags_only("start again with --restart / resume=False") == "start again with --restart"
    assert flags_only("or fit anyway with force=True (CLI: --force)") == "or fit anyway with --force"
    assert flags_only("use --test-fraction / test_fraction=0.2 here") == "use --test-fraction here"
    assert flags_only("a plain message, k=3") == "a plain message, k=3"
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.normal(size=(50, 20)).astype(np.float32))
    np.save(tmp_path / "b.npy", rng.normal(size=(50, 20)).astype(np.float32))
    code = main(["fit", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--paired", "--seed-pairs", "5",
                 "--method", "procrustes", "-o", str(tmp_path / "m"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "--force" in err and "force=True" not in err, err
