"""Self-learning's induction cut-off: held-out quality and time against ``vocab_cutoff``.

Dictionary induction looks at the ``vocab_cutoff`` most frequent words of each side. This script fits
``selflearn`` (unsupervised, similarity start, ``n_controls=0`` as ``auto`` runs it) with several cut-offs on the
keyed word tasks where the cut-off changes anything (vocabularies above 4,000 words):

- ``w2v-sg300-cbow100``, ``w2v-sg100-cbow100``, ``words:word2vec-seeds``: the tasks of ``benchmarks/defaults.py``
  (10,071 words per side). Held-out top-1 (cosine) of the shared words ranked 500-2,500 ("head", the defaults
  benchmark's figure) and 4,000-10,000 ("tail": words beyond a 4,000 cut-off), searched among the first 10,000
  target words;
- ``minilm-l3-l6``: 20,000 GloVe words encoded by MiniLM-L3 (ONNX) and by MiniLM-L6 (``selflearn_20k.py``); P@1
  (nearest neighbour and CSLS) over the whole target vocabulary on its 1,500 test words.

No fit sees a pair. Usage::

    python benchmarks/selflearn_cutoff.py [--tasks T1,T2] [--cutoffs 2000,4000,20000]   # measure, append, render
    python benchmarks/selflearn_cutoff.py --render

Rows go to ``benchmarks/results/selflearn_cutoff.jsonl``; the table into docs/words.md (section
``selflearn-cutoff``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import defaults  # noqa: E402
import report  # noqa: E402

from vecbridge import make_translator  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "selflearn_cutoff.jsonl"
TASKS = ["w2v-sg300-cbow100", "w2v-sg100-cbow100", "words:word2vec-seeds", "minilm-l3-l6"]
CUTOFFS = [2000, 4000, 8000, 20000]


def run_task(name: str, cutoffs: list[int]) -> None:
    if name == "minilm-l3-l6":
        import selflearn_20k

        src, tgt = selflearn_20k.spaces(name)
        _, test = selflearn_20k.split(src, tgt)
        score = lambda t: selflearn_20k.p_at_1(t, src, tgt, test)  # noqa: E731
    else:
        src, tgt, head, _ = defaults.task(name)
        pos = {k: i for i, k in enumerate(tgt.keys)}
        tail = np.array([(i, pos[k]) for i, k in enumerate(src.keys[4000:10000], start=4000) if k in pos])
        score = lambda t: {"head_top1": round(defaults.held_out_top1(t, src, tgt, head), 4),  # noqa: E731
                           "tail_top1": round(defaults.held_out_top1(t, src, tgt, tail), 4)}
    for cutoff in cutoffs:
        t, wall, cpu = defaults.timed_fit(
            make_translator("selflearn", vocab_cutoff=cutoff, n_controls=0, progress=False), src, tgt)
        fi = t.fit_info_
        row = {"task": name, "vocab": [len(src), len(tgt)], "cutoff": cutoff, **score(t), "seconds": wall,
               "cpu_seconds": cpu, "iterations": fi["iterations"], "final": fi["final"], "verdict": fi["verdict"],
               "confidence": fi["confidence"], "date": report.today()}
        report.append_row(RESULTS, row)
        print(row, flush=True)


def render() -> None:
    latest: dict[tuple, dict] = {}
    for r in report.read_rows(RESULTS):
        latest[(r["task"], r["cutoff"])] = r
    rows = sorted(latest.values(), key=lambda r: (TASKS.index(r["task"]) if r["task"] in TASKS else 99, r["cutoff"]))
    table = report.markdown_table(
        ["task", "words per side", "cut-off", "held-out top-1 (ranks 500-2,500) or P@1 NN", "tail top-1 "
         "(ranks 4,000-10,000) or P@1 CSLS", "iterations", "final map", "wall s", "CPU s", "verdict (confidence)",
         "date"],
        [[r["task"], f"{r['vocab'][0]:,}", f"{r['cutoff']:,}", r.get("head_top1", r.get("nn")),
          r.get("tail_top1", r.get("csls")), r["iterations"], r.get("final", ""), f"{r['seconds']:.1f}",
          f"{r['cpu_seconds']:.1f}", f"{r['verdict']} ({r['confidence']:.2f})", r["date"]] for r in rows])
    report.write_section(report.DOCS / "words.md", "selflearn-cutoff",
                         report.provenance(rows, "python benchmarks/selflearn_cutoff.py --render") + "\n\n" + table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--cutoffs", default=",".join(map(str, CUTOFFS)))
    ap.add_argument("--render", action="store_true", help="only render the table from the results file")
    args = ap.parse_args(argv)
    if not args.render:
        for name in args.tasks.split(","):
            run_task(name, [int(c) for c in args.cutoffs.split(",")])
    render()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
