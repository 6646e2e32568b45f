"""``vecbridge report``: one self-contained HTML file with plots and metric tables for a map."""

from __future__ import annotations

from pathlib import Path

from ..errors import ParameterError, VecbridgeError
from .options import (
    add_command,
    add_overwrite,
    add_read_options,
    add_strict_option,
    check_output,
    info,
    parents_for,
    read_input,
)
from .plot import add_choice_options, check_spaces, chosen

EXAMPLE = """  vecbridge report glove2w2v glove.txt w2v.vec -o report.html --structure
  vecbridge report minilm2e5 minilm.npy e5.npy -o report.html --test-dictionary test.tsv --sample 400"""


def add_parser(sub) -> None:
    p = add_command(sub, "report", "Write an interactive, self-contained HTML report of a map: plots and metrics.",
                    EXAMPLE, run)
    p.add_argument("map", metavar="MAP_DIR", help="a saved map (vecbridge fit)")
    p.add_argument("src", metavar="SRC", help="source vectors")
    p.add_argument("tgt", metavar="TGT", help="target vectors")
    p.add_argument("-o", "--output", required=True, metavar="REPORT.html")
    add_choice_options(p)
    p.add_argument("--test-dictionary", metavar="TEST.tsv", default=None,
                   help="held-out pairs for P@k (default: hit rate over the shared keys)")
    p.add_argument("--retrieval", default="nn", choices=["nn", "csls", "isf"])
    p.add_argument("--structure", action="store_true",
                   help="add analogy, WordSim353 and SimLex scores of source, target and translated source")
    p.add_argument("--title", default=None)
    add_overwrite(p, "an existing file")
    add_read_options(p, "src", "tgt")
    add_strict_option(p)


def run(args) -> int:
    from ..atomic import check_writable
    from ..dictionary import read_dictionary
    from ..translators import load_translator
    from ..viz.report import write_map_report

    if args.map.lower() == "none" and not Path(args.map).is_dir():
        raise ParameterError("MAP_DIR none: a report describes a map, so it needs one (a folder written by "
                             "vecbridge fit); to plot the spaces without a map, use vecbridge plot none SRC TGT")
    check_output(args.output, args.src, args.tgt, args.dictionary, args.test_dictionary, args.map)
    if Path(args.output).is_dir():
        raise VecbridgeError(f"-o {args.output} is a folder; give the HTML file to write")
    check_writable(args.output, args.overwrite)  # before any work, not after the report is computed
    words, pairs, labels = chosen(args)
    translator = load_translator(args.map)
    src = read_input(args.src, args.src_format, args)
    tgt = read_input(args.tgt, args.tgt_format, args)
    check_spaces(args, translator, src, tgt)
    if words is not None:
        missing = [w for w in words if w not in src.index or w not in tgt.index]
        if missing:
            info(args, f"{len(missing)} of the {len(words)} --words are missing from a space and not plotted, "
                       f"e.g. {', '.join(missing[:5])}")
    test_pairs = (read_dictionary(args.test_dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
                  if args.test_dictionary else None)
    if test_pairs is not None and not any(s in src.index and t in tgt.index for s, t in test_pairs):
        raise VecbridgeError(f"--test-dictionary {args.test_dictionary}: no pair has its source word in SRC and its "
                             "target word in TGT, so there is nothing to score")
    with parents_for(args.output):
        path = write_map_report(args.map, src, tgt, args.output, title=args.title, overwrite=args.overwrite,
                                translator=translator,
                                words=words, pairs=pairs, test_pairs=test_pairs, sample=args.sample,
                                projection=args.projection, retrieval=args.retrieval, structure=args.structure,
                                labels=labels, seed=args.seed, progress=False if args.quiet else None)
    info(args, f"report: {path}")
    return 0
