"""embed, plot, report, evaluate-retrieval and audit: options checked before work, inputs read as written,
messages and exit codes as docs/reliability.md promises."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from vecbridge import Embeddings
from vecbridge.cli.main import main
from vecbridge.encoders.interface import Encoder
from vecbridge.errors import EncoderError, ParameterError
from vecbridge.io import read_embeddings, write_embeddings


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VECBRIDGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def no_encoding(monkeypatch):
    """Encoding fails the test: what is checked must be checked before any text is encoded."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("encoded texts before checking the options and the output")

    monkeypatch.setattr(Encoder, "encode", refuse)


def _texts(tmp_path, lines=("first text", "second text")):
    p = tmp_path / "t.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


# -- embed: the output and the options before encoding (findings 2 and 7) -------------------------------------
def test_embed_checks_output_and_format_before_encoding(tmp_path, capsys, no_encoding):
    texts = _texts(tmp_path)
    (tmp_path / "exists.npz").write_bytes(b"x")
    assert main(["embed", "-m", "static64", str(texts), "-o", str(tmp_path / "exists.npz")]) == 1
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "v.keys.txt").write_text("a\n")
    assert main(["embed", "-m", "static64", str(texts), "-o", str(tmp_path / "v.npy")]) == 1
    assert "v.keys.txt already exists" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    assert main(["embed", "-m", "static64", str(texts), "-o", str(tmp_path / "d")]) == 1
    assert f"-o {tmp_path / 'd'} is a folder" in capsys.readouterr().err
    assert main(["embed", "-m", "static64", str(texts), "-o", str(tmp_path / "x.npz"), "--format", "foo"]) == 2
    assert "--format 'foo'" in capsys.readouterr().err
    assert main(["embed", "-m", "static64", str(texts), "-o", str(tmp_path / "x.xyz")]) == 2
    assert "-o " in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "v.npy").exists()


def test_encoder_options_are_usage_errors_naming_the_flag(tmp_path, capsys, no_encoding):
    texts = _texts(tmp_path)
    out = str(tmp_path / "o.npz")
    assert main(["embed", "--mode", "query", "-m", "static64", str(texts), "-o", out]) == 2
    err = capsys.readouterr().err
    assert "--mode is for e5 encoders only" in err and "__init__" not in err and "keyword" not in err
    assert main(["embed", "--mode", "query", "-m", "minilm-l3-onnx", str(texts), "-o", out]) == 2
    assert "--mode is for e5 encoders only" in capsys.readouterr().err
    assert main(["embed", "--mode", "passage", "-m", "e5-small-query", str(texts), "-o", out]) == 2
    assert "--mode passage" in capsys.readouterr().err
    assert main(["embed", "-m", "no-such-encoder", str(texts), "-o", out]) == 2
    assert "--model 'no-such-encoder'" in capsys.readouterr().err
    # the library: an option the encoder does not take is a ParameterError (still an EncoderError)
    from vecbridge.encoders import get_encoder

    for name in ("static64", "minilm-l3-onnx"):
        with pytest.raises(ParameterError, match="does not take mode") as e:
            get_encoder(name, mode="query")
        assert isinstance(e.value, EncoderError) and "keyword" not in str(e.value)


def test_audit_unknown_method_exits_2_naming_the_flag(tmp_path, capsys, no_encoding):
    leaked = tmp_path / "l.npy"
    np.save(leaked, np.ones((3, 4), dtype=np.float32))
    pub, attrs = _texts(tmp_path), tmp_path / "a.txt"
    attrs.write_text("sport\n")
    assert main(["audit", str(leaked), "--encoder", "static64", "--public", str(pub), "--attributes", str(attrs),
                 "--method", "nosuch"]) == 2
    assert "--method 'nosuch'" in capsys.readouterr().err
    assert main(["audit", str(leaked), "--encoder", "static64", "--public", str(pub), "--attributes", str(attrs),
                 "--method", "procrustes"]) == 2


# -- embed: reading the texts (findings 3, 4, 5) ---------------------------------------------------------------
def test_csv_fields_over_the_csv_module_limit_are_read(tmp_path):
    big = "word " * 30000  # 150,000 characters, over csv's default 131,072
    p = tmp_path / "big.csv"
    p.write_text(f"id,text\na,short one\nb,{big}\n", encoding="utf-8")
    out = tmp_path / "big.npz"
    assert main(["embed", "-m", "static64", str(p), "--id-column", "id", "-o", str(out), "--quiet"]) == 0
    assert read_embeddings(out).keys == ["a", "b"]


def test_ragged_csv_rows_and_empty_ids_are_errors_naming_the_line(tmp_path, capsys, no_encoding):
    out = str(tmp_path / "o.npz")
    cases = {
        # a record spanning lines 2-3 (quoted newline), then the bad row on line 4
        "extra.csv": ('id,text\na,"two\nlines"\nb,x,extra\n', "line 4", "3 fields"),
        "short.csv": ("id,text\na,fine\nb\n", "line 3", "'text' field is missing"),
        "emptyid.csv": ("id,text\n,hello\nb,world\n", "line 2", "the id is empty"),
    }
    for name, (content, line, what) in cases.items():
        p = tmp_path / name
        p.write_text(content, encoding="utf-8")
        assert main(["embed", "-m", "static64", str(p), "--id-column", "id", "-o", out]) == 1, name
        err = capsys.readouterr().err
        assert f"{name}, {line}:" in err and what in err, err


def test_parquet_cells_that_are_not_strings_are_errors_naming_the_row(tmp_path, capsys, no_encoding):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"text": [["a", "b"], ["c"]]}), p)
    assert main(["embed", "-m", "static64", str(p), "-o", str(tmp_path / "o.npz")]) == 1
    err = capsys.readouterr().err
    assert "row 0 (0-based)" in err and "list" in err and "not a string" in err
    q = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": ["x", ""], "text": ["one", "two"]}), q)
    assert main(["embed", "-m", "static64", str(q), "--id-column", "id", "-o", str(tmp_path / "o.npz")]) == 1
    err = capsys.readouterr().err
    assert "row 1 (0-based)" in err and "the id is empty" in err


def test_lone_carriage_returns_are_counted_in_a_warning(tmp_path, capsys):
    p = tmp_path / "mac.txt"
    p.write_bytes(b"one text\rtwo text\rthree text\r")
    out = tmp_path / "mac.npz"
    assert main(["embed", "-m", "static64", str(p), "-o", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    from vecbridge.io.files import split_lines

    inside = sum(t.count("\r") for t in split_lines(p.read_bytes().decode()))  # the last \r ends the file's last line
    assert inside == 2 and f"{inside} lone carriage returns" in err and "\\n only" in err
    assert len(read_embeddings(out)) == 1  # as split_lines reads it; the warning says so


# -- embed: truncated texts (finding 6) -------------------------------------------------------------------------
def _bert_token_counts(texts):
    import tokenizers

    from vecbridge.encoders.sbert import minilm_l6_dir

    tok = tokenizers.Tokenizer.from_file(str(minilm_l6_dir() / "tokenizer.json"))
    tok.no_truncation()
    return [len(e.ids) for e in tok.encode_batch(texts)]


def test_truncated_texts_are_counted_from_the_tokenizer(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    texts = ["a short sentence", "several words here " * 50, "tiny", "one two three four five " * 30]
    expected = sum(n > 128 for n in _bert_token_counts(texts))
    assert expected == 2
    p = _texts(tmp_path, texts)
    assert main(["embed", "-m", "minilm-l3-onnx", str(p), "-o", str(tmp_path / "o.npz")]) == 0
    err = capsys.readouterr().err
    assert f"{expected} truncated at 128 tokens" in err
    from vecbridge.encoders import get_encoder

    enc = get_encoder("static64")
    enc.encode(["word " * 600, "word"])
    assert enc.max_tokens == 512 and enc.last_truncated == 1


def test_embed_help_names_the_token_limits(capsys):
    with pytest.raises(SystemExit):
        main(["embed", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "truncated" in out and "minilm-l3-onnx 128" in out


# -- plot and report (findings 1, 8, 9, 11) ---------------------------------------------------------------------
@pytest.fixture
def mapped(tmp_path):
    """A map fitted A -> B (B = A rotated), and A, B as keyed Parquet files."""
    rng = np.random.default_rng(0)
    n, d = 120, 8
    A = rng.normal(size=(n, d)).astype(np.float32)
    R, _ = np.linalg.qr(rng.normal(size=(d, d)))
    B = (A @ R).astype(np.float32)
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    assert main(["fit", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--paired", "--method", "procrustes",
                 "-o", str(tmp_path / "m"), "--quiet"]) == 0
    keys = [f"w{i}" for i in range(n)]
    write_embeddings(Embeddings(keys, A, {}), tmp_path / "A.parquet")
    write_embeddings(Embeddings(keys, B, {}), tmp_path / "B.parquet")
    write_embeddings(Embeddings(keys, 10 * A, {}), tmp_path / "A10.parquet")  # 10 times as long
    return tmp_path


def _payload_labels(html_path) -> bool:
    m = re.search(r'<script type="application/json" id="vb-data">(.*?)</script>', html_path.read_text(), re.S)
    return json.loads(m.group(1))["labels"]


def test_report_labels_on_and_off(mapped):
    t = mapped
    base = ["report", str(t / "m"), str(t / "A.parquet"), str(t / "B.parquet"), "--quiet"]
    assert main(base + ["-o", str(t / "on.html"), "--labels", "on", "--sample", "100"]) == 0
    assert _payload_labels(t / "on.html") is True  # auto would hide labels of 100 pairs
    assert main(base + ["-o", str(t / "off.html"), "--labels", "off", "--words", "w1,w2,w3"]) == 0
    assert _payload_labels(t / "off.html") is False  # auto would show labels of 3 pairs
    assert main(base + ["-o", str(t / "auto.html"), "--words", "w1,w2,w3"]) == 0
    assert _payload_labels(t / "auto.html") is True


def test_report_without_a_map_is_a_usage_error(mapped, capsys):
    t = mapped
    assert main(["report", "none", str(t / "A.parquet"), str(t / "B.parquet"), "-o", str(t / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "needs one" in err and "no manifest" not in err
    assert not (t / "r.html").exists()


@pytest.mark.parametrize("suffix, magic", [(".pdf", b"%PDF"), (".svg", b"<svg"), (".png", b"\x89PNG")])
def test_plot_writes_the_type_its_suffix_names(mapped, suffix, magic):
    t = mapped
    out = t / f"p{suffix}"
    assert main(["plot", str(t / "m"), str(t / "A.parquet"), str(t / "B.parquet"), "-o", str(out), "--quiet"]) == 0
    head = out.read_bytes()[:400]
    assert (magic in head) if suffix == ".svg" else head.startswith(magic)


def test_plot_refuses_another_suffix_before_any_work(tmp_path, capsys):
    # the inputs do not exist: the suffix is refused first
    assert main(["plot", "none", str(tmp_path / "nope.npy"), str(tmp_path / "nope2.npy"), "-o",
                 str(tmp_path / "p.jpg")]) == 2
    assert f"-o {tmp_path / 'p.jpg'}" in capsys.readouterr().err
    from vecbridge.viz.plots import plot_format

    assert [plot_format(n) for n in ("a.PNG", "b.pdf", "c.svg", "d.jpg", "e")] == ["png", "pdf", "svg", None, None]


@pytest.mark.parametrize("command, out", [("plot", "p.png"), ("report", "r.html")])
def test_plot_and_report_check_that_src_looks_like_the_maps_source(mapped, capsys, command, out):
    t = mapped
    args = [command, str(t / "m"), str(t / "A10.parquet"), str(t / "B.parquet"), "--sample", "20"]
    assert main(args + ["-o", str(t / out)]) == 0
    err = capsys.readouterr().err
    assert "warning: SRC" in err and "--strict" in err
    assert main(args + ["-o", str(t / ("strict_" + out)), "--strict"]) == 5
    assert not (t / ("strict_" + out)).exists()


# -- evaluate-retrieval (finding 10) ----------------------------------------------------------------------------
def test_retention_columns_follow_the_cut_offs_asked(tmp_path, capsys):
    rng = np.random.default_rng(1)
    docs = rng.normal(size=(30, 6)).astype(np.float32)
    q = docs[:10] + 0.8 * rng.normal(size=(10, 6)).astype(np.float32)
    dk, qk = [f"d{i}" for i in range(30)], [f"q{i}" for i in range(10)]
    write_embeddings(Embeddings(dk, docs, {}), tmp_path / "docs.parquet")
    write_embeddings(Embeddings(dk, docs * 2 + 0.5 * rng.normal(size=docs.shape).astype(np.float32), {}),
                     tmp_path / "docs_new.parquet")
    write_embeddings(Embeddings(qk, q, {}), tmp_path / "q.parquet")
    write_embeddings(Embeddings(qk, q * 2, {}), tmp_path / "q_new.parquet")
    (tmp_path / "qrels.tsv").write_text("".join(f"q{i}\td{i}\t1\n" for i in range(10)))
    args = ["evaluate-retrieval", "--qrels", str(tmp_path / "qrels.tsv"), "--docs-old", str(tmp_path / "docs.parquet"),
            "--docs-new", str(tmp_path / "docs_new.parquet"), "--queries-old", str(tmp_path / "q.parquet"),
            "--queries-new", str(tmp_path / "q_new.parquet"), "--k", "1", "2", "5", "--ndcg-k", "3",
            "--candidates", "10", "--quiet"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "R@5 vs (e)" in lines[0] and "nDCG@3 vs (e)" in lines[0]
    assert main(args + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    a, e = result["rows"]["old_index"], result["rows"]["reindex"]
    cells = lines[1].split()
    assert float(cells[-2]) == pytest.approx(a["recall_at_5"] / e["recall_at_5"], abs=6e-4)
    assert float(cells[-1]) == pytest.approx(a["ndcg_at_3"] / e["ndcg_at_3"], abs=6e-4)
    from vecbridge.retrieval_eval import retention_metrics

    assert retention_metrics(["recall_at_1", "recall_at_10", "recall_at_100", "ndcg_at_10", "mrr"]) == [
        "recall_at_10", "ndcg_at_10"]


def test_encoder_width_is_checked_against_docs_old_before_encoding(tmp_path, capsys, no_encoding):
    docs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    write_embeddings(Embeddings([f"d{i}" for i in range(5)], docs, {}), tmp_path / "docs.parquet")
    (tmp_path / "qrels.tsv").write_text("q0\td1\t1\n")
    (tmp_path / "q.jsonl").write_text('{"id": "q0", "text": "hello"}\n')
    assert main(["evaluate-retrieval", "--qrels", str(tmp_path / "qrels.tsv"), "--docs-old",
                 str(tmp_path / "docs.parquet"), "--queries", str(tmp_path / "q.jsonl"), "--old-encoder", "static64",
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "--old-encoder static64 makes 64-d" in err and "--docs-old" in err and "4-d" in err

