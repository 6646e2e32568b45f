"""How well does a saved map recognise its own source space? (``Translator.check_input``, docs/reliability.md)

Encodes 900 BBC sentences with MiniLM-L6, paraphrase-MiniLM-L3, the int8 MiniLM-L6 and 600 with e5-small, fits
Procrustes maps L6 -> e5 and e5 -> L6 on 400 pairs, and checks batches of other sentences (20 random batches of
each size) against each map's source fingerprint. Prints, per input and batch size, the smallest / mean / largest
profile correlation (the larger of the mean- and spread-profile correlations) and how often the batch was judged
to match.

    python benchmarks/space_check.py
"""

from __future__ import annotations

import platform
import time

import numpy as np

import vecbridge as vb
from vecbridge.datasets.corpora import build_bbc
from vecbridge.encoders import get_encoder
from vecbridge.fingerprint import MIN_PROFILE_CORRELATION


def main() -> None:
    corpus = build_bbc()
    sents = list(corpus.texts)
    rng = np.random.default_rng(0)
    S = [sents[i] for i in rng.choice(len(sents), 900, replace=False)]
    E = {name: get_encoder(name).encode(S if name != "e5-small" else S[:600], progress=False)
         for name in ["minilm-l6", "minilm-l3-onnx", "minilm-l6-int8", "e5-small"]}
    L6, e5 = E["minilm-l6"], E["e5-small"]
    to_e5 = vb.make_translator("procrustes").fit(L6[:400], e5[:400])
    to_l6 = vb.make_translator("procrustes").fit(e5[:400], L6[:400])
    cases = [
        ("L6 -> e5", "MiniLM-L6, other sentences (its own space)", to_e5, L6[400:]),
        ("L6 -> e5", "MiniLM-L6 int8 (a quantised copy)", to_e5, E["minilm-l6-int8"][400:]),
        ("L6 -> e5", "paraphrase-MiniLM-L3 (another model)", to_e5, E["minilm-l3-onnx"][400:]),
        ("L6 -> e5", "e5-small (sides swapped)", to_e5, e5[400:]),
        ("e5 -> L6", "e5-small, other sentences (its own space)", to_l6, e5[400:]),
        ("e5 -> L6", "MiniLM-L6 (sides swapped)", to_l6, L6[400:]),
        ("e5 -> L6", "paraphrase-MiniLM-L3 (another model)", to_l6, E["minilm-l3-onnx"][400:]),
    ]
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}; threshold {MIN_PROFILE_CORRELATION}")
    print("| map | input | rows | correlation min / mean / max | judged same space |")
    print("|---|---|---|---|---|")
    for label, what, tr, X in cases:
        for n in (64, 200):
            vals, same = [], 0
            for _ in range(20):
                c = tr.check_input(X[rng.choice(len(X), min(n, len(X)), replace=False)])
                vals.append(max(c.mean_correlation, c.spread_correlation))
                same += bool(c.matches)
            print(f"| {label} | {what} | {n} | {min(vals):.2f} / {np.mean(vals):.2f} / {max(vals):.2f} | {same}/20 |")


if __name__ == "__main__":
    main()
