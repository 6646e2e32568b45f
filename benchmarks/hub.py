"""A hub over several bundled encoders on BBC News sentences: through the hub against direct pairwise maps.

Data: the BBC sentences permuted with ``numpy.random.default_rng(0)``; the first ``--test`` (500) are the
held-out test set, the next ``--train`` (2,500) the training set; every sentence encoded by every encoder
(cached under ~/.cache/vecbridge, see ``vecbridge.datasets.encoded``).

With pairs (``--paired``; encoders ``--encoders``, default minilm-l6, minilm-l3-onnx, e5-small, static64):

- the hub: ``Hub().fit(spaces, paired_items(...))`` on the training rows (linear, shared dimension = the
  largest, "unit center unit"); its fit time;
- the direct maps: ``procrustes`` (same normalisation) for every ordered pair, on the same rows; their
  total fit time;
- on the test set, for every ordered pair: top-1 (the right sentence is the nearest of the 500 test targets
  by cosine, :func:`vecbridge.evaluation.paired_metrics`) through the hub and through the direct map;
- cycle errors on the test rows: every triangle A -> B -> C -> A (and A -> B -> A) of direct maps, each
  applied in its normalised coordinates, against the same cycles through the hub: ``relative`` =
  ``||X' - X|| / ||X||`` and the mean cosine of each row with its round trip.

Without pairs (``--unsupervised``; default minilm-l6, minilm-l3-onnx, e5-small: the encoders that align;
static64 does not, and minilm-l6-int8 is the same space as minilm-l6): each space gets its own random
``--unpaired`` (2,000) of the training sentences, shuffled (the sets overlap; no pair is used), the hub is
fitted by ``Hub().fit(spaces)`` (pairless edges by the default method, synchronised), and its test top-1
for every ordered pair is reported beside the direct supervised Procrustes map (an upper reference).

Results go to ``benchmarks/results/hub.jsonl`` and the tables into docs/hub.md (between markers).
``--encode`` only encodes (and caches) the sentences. Keep one benchmark at a time on a 2-core machine.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import append_row, machine, markdown_table, read_rows, today, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "hub.jsonl"
DOC = ROOT / "docs" / "hub.md"
PAIRED = ["minilm-l6", "minilm-l3-onnx", "e5-small", "static64"]
UNPAIRED = ["minilm-l6", "minilm-l3-onnx", "e5-small"]
SHORT = {"minilm-l6": "L6", "minilm-l3-onnx": "L3", "e5-small": "e5", "static64": "s64", "minilm-l6-int8": "int8"}


def split(n_test: int, n_train: int) -> tuple[list[str], list[str], object]:
    from vecbridge.datasets.registry import load

    bbc = load("bbc")
    perm = np.random.default_rng(0).permutation(len(bbc))
    ids = bbc.ids
    return [ids[i] for i in perm[:n_test]], [ids[i] for i in perm[n_test:n_test + n_train]], bbc


def encoded(model: str, ids: list[str], bbc) -> np.ndarray:
    from vecbridge.datasets.encoded import encode_texts

    return encode_texts(model, bbc.fingerprint, ids, bbc.texts_of(ids), progress=False)


def load_all(models: list[str], n_test: int, n_train: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    test_ids, train_ids, bbc = split(n_test, n_train)
    out = {}
    for m in models:
        t0 = time.perf_counter()
        out[m] = (encoded(m, train_ids, bbc), encoded(m, test_ids, bbc))
        print(f"{m}: {len(train_ids)} + {len(test_ids)} sentences ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def top1(mapped: np.ndarray, target: np.ndarray) -> float:
    from vecbridge.evaluation import paired_metrics

    return float(paired_metrics(mapped, target, progress=False)["top1"])


def run_paired(models, data) -> dict:
    from vecbridge import make_translator
    from vecbridge.hub import Hub
    from vecbridge.hub.pairing import paired_items

    names = [SHORT.get(m, m) for m in models]
    train = {n: data[m][0] for n, m in zip(names, models)}
    test = {n: data[m][1] for n, m in zip(names, models)}
    t0 = time.perf_counter()
    hub = Hub(seed=0).fit(train, paired_items({n: len(x) for n, x in train.items()}))
    hub_s = time.perf_counter() - t0
    direct, direct_s = {}, 0.0
    for a, b in itertools.permutations(names, 2):
        t0 = time.perf_counter()
        direct[(a, b)] = make_translator("procrustes", normalize="unit center unit").fit(train[a], train[b])
        direct_s += time.perf_counter() - t0
    pairs = []
    for a, b in itertools.permutations(names, 2):
        tgt = hub.normalize_rows(test[b], b)
        pairs.append({"from": a, "to": b, "hub_top1": top1(hub.translate(test[a], a, b), tgt),
                      "direct_top1": top1(direct[(a, b)].transform(test[a]), direct[(a, b)].transform_target(test[b]))})
    cycles = []
    for cyc in list(itertools.combinations(names, 3)) + [(a, b) for a, b in itertools.combinations(names, 2)]:
        hops = list(zip(cyc, cyc[1:] + cyc[:1]))
        X = direct[hops[0]].source_normalizer_.transform(test[cyc[0]])
        from vecbridge.hub.linalg import cycle_error

        d = cycle_error(X, [direct[h]._transform for h in hops])
        h = hub.cycle_error(test[cyc[0]], list(cyc))
        cycles.append({"cycle": " -> ".join(cyc + cyc[:1]), "direct": d, "hub": h})
    return {"kind": "paired", "spaces": names, "encoders": models, "n_train": len(next(iter(train.values()))),
            "n_test": len(next(iter(test.values()))), "hub_fit_seconds": round(hub_s, 2),
            "direct_fit_seconds": round(direct_s, 2), "n_direct_maps": len(direct), "pairs": pairs,
            "cycles": cycles, "excluded": hub.excluded_,
            "verdicts": {n: hub.space(n).info.get("verdict") for n in hub.names},
            "gpa": hub.fit_info_.get("gpa")}


def run_unpaired(models, data, n_unpaired: int, method: str | None) -> dict:
    from vecbridge import make_translator
    from vecbridge.hub import Hub

    names = [SHORT.get(m, m) for m in models]
    rng = np.random.default_rng(1)
    train = {}
    for n, m in zip(names, models):
        X = data[m][0]
        train[n] = X[rng.permutation(len(X))[:n_unpaired]]
    test = {n: data[m][1] for n, m in zip(names, models)}
    t0 = time.perf_counter()
    hub = Hub(seed=0, method=method).fit(train, progress=False)
    hub_s = time.perf_counter() - t0
    pairs = []
    for a, b in itertools.permutations(hub.names, 2):
        ref = make_translator("procrustes", normalize="unit center unit").fit(data[models[names.index(a)]][0],
                                                                               data[models[names.index(b)]][0])
        pairs.append({"from": a, "to": b,
                      "hub_top1": top1(hub.translate(test[a], a, b), hub.normalize_rows(test[b], b)),
                      "supervised_top1": top1(ref.transform(test[a]), ref.transform_target(test[b]))})
    return {"kind": "unsupervised", "spaces": names, "encoders": models, "n_unpaired": n_unpaired,
            "n_test": len(next(iter(test.values()))), "hub_fit_seconds": round(hub_s, 2),
            "method": hub.fit_info_.get("method"), "pairs": pairs, "excluded": hub.excluded_,
            "edges": [{k: e[k] for k in ("from", "to", "verdict", "confidence", "method", "seconds")}
                      for e in hub.fit_info_.get("edges", [])]}


def render() -> None:
    rows = read_rows(RESULTS)
    parts = []
    for r in [r for r in rows if r["kind"] == "paired"][-1:]:
        parts.append(f"**With pairs** ({', '.join(r['encoders'])}; {r['n_train']:,} paired training sentences, "
                     f"{r['n_test']} held-out test sentences; measured {r['date']} on {r['machine']}).\n")
        parts.append(f"Fit time: the hub {r['hub_fit_seconds']:.1f} s (all {len(r['spaces'])} spaces); the "
                     f"{r['n_direct_maps']} direct Procrustes maps {r['direct_fit_seconds']:.1f} s in all. "
                     f"Spaces left out: {', '.join(e['name'] for e in r['excluded']) or 'none'}.\n")
        parts.append(markdown_table(["from", "to", "top-1 through the hub", "top-1 direct map"],
                                    [[p["from"], p["to"], p["hub_top1"], p["direct_top1"]] for p in r["pairs"]]))
        parts.append("\nCycle errors on the test rows (relative error ||X' - X|| / ||X||, and mean cosine of each "
                     "row with its round trip):\n")
        parts.append(markdown_table(["cycle", "direct: relative", "direct: cosine", "hub: relative", "hub: cosine"],
                                    [[c["cycle"], c["direct"]["relative"], c["direct"]["cosine"], c["hub"]["relative"],
                                      c["hub"]["cosine"]] for c in r["cycles"]]))
    for r in [r for r in rows if r["kind"] == "unsupervised"][-1:]:
        parts.append(f"\n**Without pairs** ({', '.join(r['encoders'])}; each space its own random "
                     f"{r['n_unpaired']:,} training sentences, shuffled; {r['n_test']} held-out test sentences; "
                     f"method {r['method']}; measured {r['date']} on {r['machine']}).\n")
        parts.append(f"Fit time: {r['hub_fit_seconds']:.0f} s. Spaces left out: "
                     f"{', '.join(e['name'] + ' (' + str(e.get('reason')) + ')' for e in r['excluded']) or 'none'}.\n")
        parts.append(markdown_table(["edge fitted", "verdict", "confidence", "seconds"],
                                    [[f"{e['from']} -> {e['to']}", e["verdict"], e["confidence"], e["seconds"]]
                                     for e in r["edges"]]))
        parts.append("")
        parts.append(markdown_table(["from", "to", "top-1 through the hub (no pairs)",
                                     "top-1 direct supervised Procrustes (reference)"],
                                    [[p["from"], p["to"], p["hub_top1"], p["supervised_top1"]] for p in r["pairs"]]))
    parts.append(f"\n_Rendered {today()} by `python benchmarks/hub.py --render` from benchmarks/results/hub.jsonl._")
    write_section(DOC, "hub-results", "\n".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoders", nargs="+", default=None)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--train", type=int, default=2500)
    ap.add_argument("--unpaired", type=int, default=2000)
    ap.add_argument("--method", default=None, help="pairless edge method (default: the hub's default)")
    ap.add_argument("--encode", action="store_true", help="only encode and cache the sentences")
    ap.add_argument("--paired", action="store_true")
    ap.add_argument("--unsupervised", action="store_true")
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.render:
        render()
        return
    models = args.encoders or sorted(set(PAIRED + UNPAIRED), key=(PAIRED + UNPAIRED).index)
    data = load_all(models if args.encode else (args.encoders or (PAIRED if args.paired else UNPAIRED)),
                    args.test, args.train)
    if args.encode:
        return
    stamp = {"date": today(), "machine": machine()}
    if args.paired:
        row = {**run_paired(args.encoders or PAIRED, data), **stamp}
        append_row(RESULTS, row)
        print(row)
    if args.unsupervised:
        row = {**run_unpaired(args.encoders or UNPAIRED, data, args.unpaired, args.method), **stamp}
        append_row(RESULTS, row)
        print(row)
    render()


if __name__ == "__main__":
    main()
