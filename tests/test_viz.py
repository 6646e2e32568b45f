"""Plots and the HTML report: projections, PNG files, a self-contained page drawn in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vecbridge import Embeddings, VecbridgeError, make_translator
from vecbridge.cli.main import main
from vecbridge.io import write_embeddings
from vecbridge.viz.plots import Panel, Series, before_after_panels, pca_2d, project_2d, render_png, spaces_panel
from vecbridge.viz.report import html_document, map_report, render_html

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def spaces(d_src=16, d_tgt=16, n=300, seed=0):
    rng = np.random.default_rng(seed)
    keys = NUMBERS + [f"w{i}" for i in range(n - len(NUMBERS))]
    X = rng.normal(size=(n, d_src)).astype(np.float32)
    M = rng.normal(size=(d_src, d_tgt)).astype(np.float32)
    Y = X @ M + 0.01 * rng.normal(size=(n, d_tgt)).astype(np.float32)
    return Embeddings(keys, X, {"name": "model-a"}), Embeddings(keys, Y, {"name": "model-b"})


def test_pca_2d_axes_and_signs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5)) * np.array([6.0, 3.0, 1.0, 0.5, 0.1])
    xy, var = pca_2d(X)
    assert xy.shape == (500, 2) and var[0] > var[1] > 0 and var.sum() < 1
    assert xy[:, 0].var() > xy[:, 1].var()
    xy2, _ = pca_2d(X * 1.0)
    np.testing.assert_allclose(xy, xy2)
    with pytest.raises(VecbridgeError, match="at least 2"):
        pca_2d(X[:1])
    with pytest.raises(VecbridgeError, match="projection"):
        project_2d(X, "tsne")


def test_before_after_panels_same_and_different_dims():
    a, b = spaces()
    tr = make_translator("lstsq").fit(a, b)
    panels, info = before_after_panels(a, b, tr, words=NUMBERS + ["eleven"])
    assert [len(p.series) for p in panels] == [2, 2] and info["n_plotted"] == 10
    assert info["n_skipped"] == 1 and info["skipped_examples"] == ["eleven"]
    assert panels[0].links == [(0, 1)] and panels[0].labels
    # after the map, paired points are close: links are far shorter than before
    def link_len(p):
        return np.linalg.norm(p.series[0].xy - p.series[1].xy, axis=1).mean()
    assert link_len(panels[1]) < 0.5 * link_len(panels[0])
    a3, b3 = spaces(d_src=16, d_tgt=8)
    tr3 = make_translator("lstsq").fit(a3, b3)
    panels3, info3 = before_after_panels(a3, b3, tr3, sample=50, seed=1)
    assert len(panels3) == 3 and info3["n_plotted"] == 50 and panels3[0].labels  # up to 60 points: labelled
    panels4, _ = before_after_panels(a3, b3, None, sample=70)
    assert len(panels4) == 2 and not panels4[0].labels  # more than 60 points: no labels by default
    with pytest.raises(VecbridgeError, match="at least 2"):
        before_after_panels(a, b, tr, words=["one", "nope"])


def test_render_png_writes_a_drawn_image_and_refuses_overwrite(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    a, b = spaces()
    tr = make_translator("procrustes", normalize="unit center").fit(a, b)
    panels, _ = before_after_panels(a, b, tr, words=NUMBERS)
    out = render_png(panels, tmp_path / "p.png", title="Numbers")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)
    assert img.shape[0] > 400 and img.shape[1] > 1000  # two panels side by side
    assert img[..., :3].std() > 0.05  # not a blank canvas
    # coloured marks of the first two series are present (Okabe-Ito blue and vermillion)
    rgb = (img[..., :3] * 255).round().astype(int).reshape(-1, 3)
    for colour in ((0, 114, 178), (213, 94, 0)):
        assert (np.abs(rgb - colour).sum(axis=1) < 30).sum() > 50
    with pytest.raises(VecbridgeError, match="already exists"):
        render_png(panels, out)
    render_png(panels, out, overwrite=True)
    assert mpl.get_backend()  # matplotlib stays importable; we never touched pyplot's global state


def test_spaces_panel():
    a, b = spaces()
    p = spaces_panel({"a": a, "a again": a}, NUMBERS + ["zzz"], title="same")
    assert p.n_points == 20 and p.links == [(0, 1)]
    np.testing.assert_allclose(p.series[0].xy, p.series[1].xy)  # identical spaces coincide
    with pytest.raises(VecbridgeError, match="one dimension"):
        spaces_panel({"a": a, "c": spaces(d_tgt=4)[1]}, NUMBERS)


def test_html_is_self_contained_and_escapes_keys():
    p = Panel("t </script> & co", [Series("s<1>", ["</script><b>x", "a&b"], np.array([[0, 0], [1, 1]]))])
    doc = html_document([p], title="T & T", tables=[("cap", [{"name": "<i>", "v": 0.12345, "n": None}])],
                        notes=["n<1>"])
    assert doc.count("</script>") == 2  # the data block and the drawing script; keys cannot close them
    assert "<i>" not in doc.split("<script")[0] and "&lt;i&gt;" in doc and "0.123" in doc
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", doc))
    assert urls <= {"http://www.w3.org/2000/svg"}  # an XML namespace name, never fetched
    assert "<link" not in doc and " src=" not in doc and "@import" not in doc


def chromium_dump(html_path: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, html_path.resolve().as_uri()]
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason=f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) "
                           "to render the HTML report in a headless browser")
def test_report_renders_in_headless_chromium(tmp_path):
    a, b = spaces(d_src=16, d_tgt=12)
    tr = make_translator("lstsq", normalize="unit center unit").fit(a, b)
    panels, tables, notes = map_report(tr, a, b, words=NUMBERS)
    n_points = sum(p.n_points for p in panels)
    assert len(panels) == 3 and n_points == 40  # before: one panel per space (10 + 10); after: 2 x 10
    path = render_html(panels, tmp_path / "report.html", tables=tables, notes=notes, title="Numbers")
    res = chromium_dump(path, tmp_path, "--virtual-time-budget=5000", "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    # the inline script ran and drew every point as an SVG mark, each with its key as a tooltip
    assert f'data-points-drawn="{n_points}"' in dom
    marks = len(re.findall(r'<(?:circle|path|rect)[^>]*class="pt"', dom))
    assert marks == n_points
    assert dom.count("<svg") >= len(panels)
    assert "<title>translated: model-a -&gt; model-b: seven</title>" in dom
    assert "hit_at_1" in dom  # the metric table
    shot = tmp_path / "shot.png"
    res = chromium_dump(path, tmp_path, "--virtual-time-budget=5000", "--hide-scrollbars",
                        "--window-size=1300,1100", f"--screenshot={shot}")
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    mpimg = pytest.importorskip("matplotlib.image")
    img = mpimg.imread(shot)[..., :3]
    rgb = (img * 255).round().astype(int).reshape(-1, 3)
    for colour in ((0, 114, 178), (213, 94, 0), (0, 158, 115)):  # the three series' colours are on screen
        assert (np.abs(rgb - colour).sum(axis=1) < 30).sum() > 30


def _map_and_files(tmp_path):
    """Two spaces written to a.vec / b.vec and a map fitted between them: the CLI's MAP SRC TGT arguments."""
    pytest.importorskip("matplotlib")
    a, b = spaces(d_tgt=16)
    write_embeddings(a, tmp_path / "a.vec")
    write_embeddings(b, tmp_path / "b.vec")
    assert main(["fit", str(tmp_path / "a.vec"), str(tmp_path / "b.vec"), "--shared-keys", "--method", "lstsq",
                 "-o", str(tmp_path / "map"), "--quiet"]) == 0
    return [str(tmp_path / "map"), str(tmp_path / "a.vec"), str(tmp_path / "b.vec")]


def test_cli_plot_and_report(tmp_path, capsys):
    args = _map_and_files(tmp_path)
    assert main(["plot", *args, "-o", str(tmp_path / "p.png"), "--words", ",".join(NUMBERS), "--quiet"]) == 0
    assert (tmp_path / "p.png").stat().st_size > 10000
    assert main(["plot", "none", *args[1:], "-o", str(tmp_path / "spaces.png"), "--sample", "40", "--quiet"]) == 0
    assert main(["report", *args, "-o", str(tmp_path / "r.html"), "--sample", "50", "--quiet"]) == 0
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "vb-data" in text and "hit_at_1" in text
    assert main(["report", *args, "-o", str(tmp_path / "r.html")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["plot", *args, "-o", str(tmp_path / "q.png"), "--words", " , "]) == 2
    assert "--words" in capsys.readouterr().err
    assert main(["plot", *args, "-o", str(tmp_path / "q.png"), "--sample", "1"]) == 1
    assert "only 1 shared keys to plot (sample 1)" in capsys.readouterr().err and not (tmp_path / "q.png").exists()


@pytest.mark.slow
def test_umap_projection():
    pytest.importorskip("umap")
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(40, 10)) + 4, rng.normal(size=(40, 10)) - 4]).astype(np.float32)
    xy, axes = project_2d(X[:, :], "umap", seed=0, n_neighbors=10)
    assert xy.shape == (80, 2) and np.isfinite(xy).all() and axes == ["UMAP 1", "UMAP 2"]
    # the two clusters stay apart
    c1, c2 = xy[:40].mean(axis=0), xy[40:].mean(axis=0)
    spread = max(xy[:40].std(axis=0).max(), xy[40:].std(axis=0).max())
    assert np.linalg.norm(c1 - c2) > 2 * spread


def test_cli_report_counts_missing_words_and_refuses_an_uncovered_test_dictionary(tmp_path, capsys):
    args = _map_and_files(tmp_path)
    (tmp_path / "none.tsv").write_text("zz\tyy\n")
    capsys.readouterr()
    assert main(["report", *args, "-o", str(tmp_path / "r.html"), "--test-dictionary", str(tmp_path / "none.tsv")]) == 1
    assert "nothing to score" in capsys.readouterr().err and not (tmp_path / "r.html").exists()
    assert main(["report", *args, "-o", str(tmp_path / "r.html"), "--words", ",".join(NUMBERS) + ",nokey"]) == 0
    assert "1 of the" in capsys.readouterr().err


def test_render_png_refuses_a_folder_and_leaves_no_temporary_file_on_failure(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from vecbridge.errors import OutputExistsError

    a, b = spaces()
    panels, _ = before_after_panels(a, b, None, words=NUMBERS)
    (tmp_path / "ud").mkdir()
    with pytest.raises(OutputExistsError, match="is a folder"):
        render_png(panels, tmp_path / "ud", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ud"] and not any((tmp_path / "ud").iterdir())

    def broken(self, fname, **kw):  # writes part of the image, then fails (a full disk)
        fname.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="No space left"):
        render_png(panels, tmp_path / "p.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ud"]  # neither p.png nor a temporary file


def test_cli_plot_refuses_a_folder_before_any_work_and_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    args = _map_and_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ud").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    # refused before SRC is read (it does not exist), so before any work
    assert main(["plot", args[0], "missing.vec", args[2], "-o", "ud", "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "-o ud is a folder; give the PNG file to write" in err and "missing.vec" not in err
    assert main(["plot", *args, "-o", "ud", "--overwrite"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not any((tmp_path / "ud").iterdir())
    # an existing file without --overwrite: refused before any work too
    (tmp_path / "p.png").write_bytes(b"old")
    assert main(["plot", args[0], "missing.vec", args[2], "-o", "p.png"]) == 1
    assert "p.png already exists" in capsys.readouterr().err and (tmp_path / "p.png").read_bytes() == b"old"
    assert main(["report", args[0], "missing.vec", args[2], "-o", "p.png"]) == 1
    assert "p.png already exists" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plot", "report"])
def test_cli_words_and_dictionary_together_are_a_usage_error(tmp_path, capsys, command):
    args = _map_and_files(tmp_path)
    (tmp_path / "train.tsv").write_text("one\tone\ntwo\ttwo\nthree\tthree\n")
    out = tmp_path / ("p.png" if command == "plot" else "r.html")
    capsys.readouterr()
    assert main([command, *args, "-o", str(out), "--words", "one,two", "--dictionary", str(tmp_path / "train.tsv"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"vecbridge {command}: error: --words and --dictionary both choose the points to plot; give one" in err
    assert not out.exists()
    assert main([command, *args, "-o", str(out), "--dictionary", str(tmp_path / "train.tsv"), "--quiet"]) == 0
