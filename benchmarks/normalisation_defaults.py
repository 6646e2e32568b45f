"""Which normalisation should each supervised method family use by default? Measured on every task with pairs.

For each task and each method family fitted on pairs (least squares, Procrustes, the multi-step whitening
pipeline ``recommended``), every normalisation in ``CHOICES`` is tried on the same training pairs and scored
on the same held-out pairs with CSLS and nearest-neighbour retrieval:

- word tasks (``vecbridge.datasets.tasks.WORD_TASKS``: 5,000 training pairs, 1,500 held-out words, searched in
  the whole target vocabulary), and the word2vec skip-gram 300-d -> CBOW 100-d pair of ``make demo`` (2,000
  training pairs, its 1,500 held-out words searched the same way);
- sentence tasks (``vecbridge.datasets.tasks.sentence_task``, BBC News, seed 0): the 2,000 paired test
  sentences are split into 1,000 training pairs and 1,000 held-out pairs (searched among themselves); the fit
  also receives 4,000 unpaired sentences per side, as a user's two corpora, so the normalisation statistics
  come from whole sides as ``fit`` computes them.

The table gives held-out P@1 (CSLS / NN) per task, family and normalisation, then each normalisation's mean
rank within its family over the tasks; the default of each family is the normalisation of best mean CSLS rank.
    python benchmarks/normalisation_defaults.py [--tasks ...] [--render]
Rows go to benchmarks/results/normalisation_defaults.jsonl; the page is docs/normalisation.md (section
``defaults``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import report  # noqa: E402

from vecbridge import make_translator  # noqa: E402
from vecbridge.evaluation import evaluate_translator, paired_metrics  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "normalisation_defaults.jsonl"
FAMILIES = ["lstsq", "procrustes", "recommended"]
CHOICES = ["none", "unit", "center", "unit center", "unit center unit"]
WORD = ["word2vec-seeds", "glove-word2vec", "glove-minilm", "minilm-glove", "w2v-sg300-cbow100"]
SENTENCE = ["minilm-l3-onnx:minilm-l6", "static64:minilm-l6"]


def word_data(name: str):
    from vecbridge.datasets import load
    from vecbridge.datasets.tasks import word_task

    if name == "w2v-sg300-cbow100":
        src = load("word2vec", corpus="bbc", dim=300, seed=1, sg=1)
        tgt = load("word2vec", corpus="bbc", dim=100, seed=2, sg=0)
        shared = [k for k in src.keys if k in set(tgt.keys)]
        return src, tgt, [(k, k) for k in shared[:2000]], [(k, k) for k in shared[2000:3500]]
    return word_task(name)


def run_word(name: str) -> None:
    src, tgt, train, test = word_data(name)
    for fam in FAMILIES:
        for norm in CHOICES:
            t0 = time.perf_counter()
            t = make_translator(fam, normalize=None if norm == "none" else norm).fit(src, tgt, pairs=train)
            secs = time.perf_counter() - t0
            p = {r: evaluate_translator(t, src, tgt, pairs=test, retrieval=r, ks=(1,), progress=False)["p_at_1"]
                 for r in ("csls", "nn")}
            record(name, "words", fam, norm, p, secs, len(train), len(test))


def run_sentence(pair: str) -> None:
    from vecbridge.datasets.tasks import sentence_task

    a, b = pair.split(":")
    st = sentence_task(a, b, n_unpaired=4000, n_test=2000, seed=0)
    n = 1000
    X = np.concatenate([st.src_test[:n], st.src_train])
    Y = np.concatenate([st.tgt_test[:n], st.tgt_train])
    rows = np.c_[np.arange(n), np.arange(n)]
    for fam in FAMILIES:
        for norm in CHOICES:
            t0 = time.perf_counter()
            t = make_translator(fam, normalize=None if norm == "none" else norm).fit(X, Y, known_pairs=rows)
            secs = time.perf_counter() - t0
            mapped, truth = t.transform(st.src_test[n:]), t.transform_target(st.tgt_test[n:])
            p = {r: paired_metrics(mapped, truth, retrieval=r, progress=False)["top1"] for r in ("csls", "nn")}
            record(pair, "sentences", fam, norm, p, secs, n, len(st.src_test) - n)


def record(task: str, kind: str, fam: str, norm: str, p: dict, secs: float, n_train: int, n_test: int) -> None:
    row = {"task": task, "kind": kind, "family": fam, "normalize": norm, "csls_p1": round(float(p["csls"]), 4),
           "nn_p1": round(float(p["nn"]), 4), "fit_seconds": round(secs, 2), "n_train": n_train, "n_test": n_test,
           "date": report.today()}
    report.append_row(RESULTS, row)
    print(row, flush=True)


def render() -> str:
    rows = report.read_rows(RESULTS)
    latest = {(r["task"], r["family"], r["normalize"]): r for r in rows}
    tasks = list(dict.fromkeys(k[0] for k in latest))
    body = [report.provenance(list(latest.values()), "python benchmarks/normalisation_defaults.py --render"), ""]
    table = []
    for task in tasks:
        for fam in FAMILIES:
            cells = [latest.get((task, fam, c)) for c in CHOICES]
            if not any(cells):
                continue
            best = max((c["csls_p1"] for c in cells if c), default=None)
            table.append([task, fam] + ["" if c is None else
                                        (f"**{c['csls_p1']:.3f}**" if c["csls_p1"] == best else f"{c['csls_p1']:.3f}")
                                        + f" / {c['nn_p1']:.3f}" for c in cells])
    body.append(report.markdown_table(["task", "family"] + [f"`{c}`" for c in CHOICES], table))
    body += ["", "Mean rank of each normalisation within its family over the tasks (1 = best held-out CSLS P@1; "
                 "ties share the better rank):", ""]
    ranks = []
    for fam in FAMILIES:
        per = {c: [] for c in CHOICES}
        for task in tasks:
            vals = {c: latest[(task, fam, c)]["csls_p1"] for c in CHOICES if (task, fam, c) in latest}
            if len(vals) < len(CHOICES):
                continue
            for c, v in vals.items():
                per[c].append(1 + sum(1 for w in vals.values() if w > v))
        if not per[CHOICES[0]]:
            continue
        means = {c: float(np.mean(v)) for c, v in per.items()}
        chosen = min(CHOICES, key=lambda c: (means[c], CHOICES.index(c)))
        ranks.append([fam, len(per[CHOICES[0]])] + [f"{means[c]:.2f}" for c in CHOICES] + [f"`{chosen}`"])
    body.append(report.markdown_table(["family", "tasks"] + [f"`{c}`" for c in CHOICES] + ["best"], ranks))
    return "\n".join(body)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=WORD + SENTENCE, help="word task names and SRC:TGT sentence pairs")
    p.add_argument("--render", action="store_true", help="only re-render the section of docs/normalisation.md")
    args = p.parse_args(argv)
    if not args.render:
        for task in args.tasks:
            (run_sentence if ":" in task else run_word)(task)
    report.write_section(report.DOCS / "normalisation.md", "defaults", render())


if __name__ == "__main__":
    main()
