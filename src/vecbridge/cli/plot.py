"""``vecbridge plot``: a PNG, PDF or SVG of chosen words (or a sample) before and after a map."""

from __future__ import annotations

from pathlib import Path

from ..errors import ParameterError, VecbridgeError
from .options import (
    PAIRS_FILE_HELP,
    add_command,
    add_overwrite,
    add_read_options,
    add_seed,
    add_strict_option,
    check_output,
    check_space,
    info,
    positive_int,
    read_input,
)

EXAMPLE = """  vecbridge plot glove2w2v glove.txt w2v.vec -o numbers.png --words one,two,three,four,five,six
  vecbridge plot minilm2e5 minilm.npy e5.npy -o clouds.pdf --sample 300 --projection umap"""


def add_parser(sub) -> None:
    p = add_command(sub, "plot", "Plot source, target and translated points in 2-D (PCA or UMAP) as a PNG, PDF or "
                    "SVG file.", EXAMPLE, run)
    p.add_argument("map", metavar="MAP_DIR", help="a saved map (vecbridge fit); 'none' plots the spaces only")
    p.add_argument("src", metavar="SRC", help="source vectors")
    p.add_argument("tgt", metavar="TGT", help="target vectors")
    p.add_argument("-o", "--output", required=True, metavar="PLOT.png",
                   help="the file to write; its suffix picks the type: .png, .pdf or .svg")
    add_choice_options(p)
    p.add_argument("--title", default=None, help="figure title")
    add_overwrite(p, "an existing file")
    add_read_options(p, "src", "tgt")
    add_strict_option(p)


def add_choice_options(p) -> None:
    """Which points and how to project them (shared with ``vecbridge report``)."""
    p.add_argument("--words", default=None, help="comma-separated keys to plot (present in both spaces)")
    p.add_argument("--dictionary", metavar="PAIRS.tsv", default=None,
                   help=f"plot these source<TAB>target pairs ({PAIRS_FILE_HELP})")
    p.add_argument("--sample", type=positive_int, default=200, help="otherwise plot this many shared keys, drawn with --seed")
    p.add_argument("--projection", default="pca", choices=["pca", "umap"], help="umap needs the 'viz' extra")
    p.add_argument("--labels", default="auto", choices=["auto", "on", "off"], help="write keys next to points")
    add_seed(p, 0)


def chosen(args):
    """``(words, pairs, labels)`` from --words / --dictionary / --labels (read before any other work)."""
    from ..dictionary import read_dictionary

    if args.words is not None and args.dictionary:
        raise ParameterError("--words and --dictionary both choose the points to plot; give one of them (--words: "
                             "keys both spaces hold; --dictionary: source<TAB>target pairs)")
    words = [w.strip() for w in args.words.split(",") if w.strip()] if args.words is not None else None
    if words is not None and not words:
        raise ParameterError(f"--words {args.words!r} names no word; give comma-separated keys, or leave --words out "
                             "to plot a sample")
    pairs = (read_dictionary(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
             if args.dictionary else None)
    labels = None if args.labels == "auto" else args.labels == "on"
    return words, pairs, labels


def check_spaces(args, translator, src, tgt) -> None:
    """SRC and TGT against the map's source and target spaces: their widths (an error) and whether they look like
    the spaces it was fitted on (a warning; with ``--strict`` an error, exit code 5)."""
    check_space(args, translator, src.vectors, "source", f"SRC ({args.src})")
    check_space(args, translator, tgt.vectors, "target", f"TGT ({args.tgt})")


def run(args) -> int:
    from ..atomic import check_writable
    from ..translators import load_translator
    from ..viz.plots import before_after_panels, plot_format, render_png

    check_output(args.output, args.src, args.tgt, args.dictionary, None if args.map.lower() == "none" else args.map)
    if Path(args.output).is_dir():
        raise VecbridgeError(f"-o {args.output} is a folder; give the PNG file to write (or a .pdf or .svg)")
    fmt = plot_format(args.output)
    if fmt is None:
        raise ParameterError(f"-o {args.output}: end the file name in .png, .pdf or .svg (the type of plot to write)")
    check_writable(args.output, args.overwrite)  # before any work, not after the plot is drawn
    words, pairs, labels = chosen(args)
    translator = None if args.map.lower() == "none" else load_translator(args.map)
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    if translator is not None:
        check_spaces(args, translator, src, tgt)
    panels, meta = before_after_panels(src, tgt, translator, words=words, pairs=pairs, sample=args.sample,
                                       projection=args.projection, labels=labels, seed=args.seed)
    if meta["n_skipped"]:
        info(args, f"{meta['n_skipped']} chosen keys are missing from a space and not plotted, "
                   f"e.g. {', '.join(meta['skipped_examples'][:5])}")
    path = render_png(panels, args.output, title=args.title, overwrite=args.overwrite, format=fmt)
    info(args, f"plotted {meta['n_plotted']} pairs in {len(panels)} panels: {path}")
    return 0
