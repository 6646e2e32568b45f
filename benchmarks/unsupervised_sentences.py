"""Unsupervised sentence-embedding translation on BBC News: vecbridge's unsupervised methods beside baselines.

For each encoder pair and each size n of unpaired sentences per side, and each seed:

- the data: ``vecbridge.datasets.sentence_task(src, tgt, n_unpaired=N, n_test=2000, seed=0)`` -- two
  *disjoint* halves of the BBC sentences (source half encoded by the source model, target half by the
  target model) and 2,000 held-out test sentences encoded by both. ``N`` is ``--pool`` (default 16,000); for
  e5, sizes up to 8,000 draw from the first 8,000 sentences of each half (``SMALL_POOL``: e5 was encoded
  for 8k per side until 2026-12-06, and so the earlier rows stay reproducible; the split is a prefix, so
  those are the rows of an 8,000 pool). Seed ``s`` draws ``n`` rows of each half with
  ``numpy.random.default_rng(s)`` (so sizes < N differ per seed; at n = N only the method's seed
  differs) and is passed to the method;
- the methods: vecbridge ``spectral-match`` and ``cluster-match`` (and ``vec2vec`` with ``--vec2vec``),
  the ``mini-vec2vec`` PyPI package (``MiniVec2Vec().fit`` with its defaults, on the training halves
  centred with their own training means; its map is applied to test rows centred with the *training*
  means, so its batch-mean quirk in ``transform`` does not handicap it), the identity map (same
  normalisation) and the oracle: supervised Procrustes on 1,000 *true* pairs (source-half sentences
  encoded by both models);
- the metrics on the 2,000 test pairs (``vecbridge.evaluation.paired_metrics``): top-1 (retrieval
  among the 2,000 test targets by cosine), mean rank, FOSCTTM, mean cosine after centring (in the
  map's normalised target space) and raw (mapped vectors shifted back by the target training mean,
  against the raw target vectors); fit wall time; and the unsupervised selection score
  (``vecbridge.selection.map_report`` on the training halves) of every map, to show how it
  correlates with top-1.

Out of domain (``--ood austen bible``): fit on ``--pool`` BBC sentences per side (the e5 rows of 2026-12-02/03 were
fitted on 8,000, the pool then), test on 2,000 Austen sentences / Bible verses encoded by both models.

Results are appended to ``benchmarks/results/unsupervised_sentences.jsonl`` (runs already there are
skipped, so the grid can be filled in several sittings) and rendered into docs/unsupervised.md
between the results markers.

The ``mini-vec2vec`` baseline (``pip install mini-vec2vec==0.1.2``, in the ``bench`` extra on Python >= 3.12)
declares Python >= 3.12 but runs on 3.11: ``.venv/bin/pip install --no-deps --ignore-requires-python
mini-vec2vec==0.1.2`` (its dependencies numpy, scipy, scikit-learn and tqdm are already there).

A method with other parameters is named ``NAME[KEY=VALUE,...]`` (values parsed as JSON, as ``vecbridge fit
--param``), e.g. ``--methods 'cluster-match[n_runs=12]'``; its rows are kept and shown apart from the defaults.

Quick subset: ``python benchmarks/unsupervised_sentences.py --pairs minilm-l3-onnx:minilm-l6 --sizes 2000 --seeds 0``.
Render only: ``--render``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import append_row, markdown_table, provenance, read_rows, today, write_section  # noqa: E402

from vecbridge import make_translator  # noqa: E402
from vecbridge.cli.options import parse_params  # noqa: E402
from vecbridge.errors import VecbridgeError  # noqa: E402
from vecbridge.evaluation import paired_metrics  # noqa: E402
from vecbridge.selection import map_report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "unsupervised_sentences.jsonl"
DOC = ROOT / "docs" / "unsupervised.md"
#: where the studies behind the methods write their tables (selection_criteria.py, refinement_ceiling.py, ...)
RESEARCH_DOC = ROOT / "docs" / "research" / "unsupervised-history.md"

PAIRS = ["minilm-l6:e5-small", "e5-small:minilm-l6", "minilm-l3-onnx:minilm-l6", "static64:minilm-l6"]
SIZES = [2000, 4000, 8000, 16000]
#: per encoder, sizes up to this value draw from this many rows of each half (see the module doc)
SMALL_POOL = {"e5-small": 8000}
TARGET_SIZE = 8000
TEST = 2000


def unit(A):
    A = np.asarray(A, dtype=np.float32)
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


def load_pair(src: str, tgt: str, n_max: int, ood: str | None = None):
    from vecbridge.datasets import sentence_task

    task = sentence_task(src, tgt, n_unpaired=n_max, n_test=TEST, seed=0, ood=ood, progress=False)
    # the oracle's 1,000 true pairs: source-half sentences encoded by the target model as well (the same
    # ``ood`` argument, because an out-of-domain task carves no BBC test set and so splits BBC differently)
    oracle_y = sentence_task(tgt, tgt, n_unpaired=min(1000, n_max), n_test=TEST, seed=0, ood=ood,
                             progress=False).src_train[:1000]
    return task, task.src_train[:1000], oracle_y


def metrics(mapped, truth_norm, truth_raw, tgt_mean):
    m = paired_metrics(mapped, truth_norm, progress=False)
    raw = np.mean(np.sum(unit(mapped + tgt_mean) * unit(truth_raw), axis=1))
    return {"top1": m["top1"], "mean_rank": m["mean_rank"], "foscttm": m["foscttm"],
            "cos_centred": m["mean_cosine"], "cos_raw": float(raw)}


def timed(fit):
    """``(result, wall seconds, process CPU seconds)`` of ``fit()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fit()
    return result, time.perf_counter() - t0, time.process_time() - c0


def pairless_criteria(Xn, Yn, mapped):
    """The pairless criteria of a map on the (normalised) training halves: ``selection.map_report``'s blended
    score, and its k-NN similarity alone (what spectral-match and cluster-match choose by)."""
    rep = map_report(Xn, Yn, mapped=mapped, seed=0)
    return {"pairless_score": rep["score"], "pairless_knn": rep["knn_similarity"]}


def score_translator(tr, X, Y, Xte, Yte, secs, cpu, pairless=True):
    """Test metrics of a fitted vecbridge translator, its fit time and (optionally) the pairless
    score on the training halves (normalised), the same for every method."""
    steps = tr.target_normalizer_.steps
    tgt_mean = tr.target_normalizer_.stats_[1][0] if len(steps) > 1 else 0.0
    out = metrics(tr.transform(Xte), tr.transform_target(Yte), Yte, tgt_mean)
    out.update(seconds=secs, cpu_seconds=cpu)
    if pairless:
        Xn, Yn = tr.source_normalizer_.transform(X), tr.target_normalizer_.transform(Y)
        out.update(pairless_criteria(Xn, Yn, tr.transform(X)))
    return out


def run_vecbridge(method, params, X, Y, Xte, Yte, seed):
    tr, secs, cpu = timed(lambda: make_translator(method, seed=seed, **params).fit(X, Y))
    out = score_translator(tr, X, Y, Xte, Yte, secs, cpu)
    sel = tr.fit_info_.get("selection", {})
    out["selection"] = sel.get("score") if "score" in sel else None
    out["chosen"] = sel.get("chosen")
    out["verdict"], out["confidence"] = tr.fit_info_.get("verdict"), tr.fit_info_.get("confidence")
    rescue = tr.fit_info_.get("rescue")
    if rescue:  # cluster-match: the attempts after a first fit not judged aligned, and the one kept
        out["rescue"] = {"chosen": rescue["chosen"], "attempts": [[a["verdict"], a["confidence"], a["knn_similarity"]]
                                                                  for a in rescue["attempts"]]}
    if "reanchor" in sel:  # cluster-match: the pairless k-NN similarity after each stage, to read how a fit went
        out["screen"] = [[c.get("init"), c["quick"]["knn_similarity"]] for c in sel["candidates"]]
        out["stages"] = {"cascade": [[c["clusters"], c["knn_similarity"], c["kept"]] for c in sel["reanchor"]],
                         "regional": [[r["best_rotation"], r["knn_similarity"], r["kept"]]
                                      for r in sel.get("regional", [])]}
    return out


def centre_unit(A, mean):
    return unit(unit(A) - mean)


def run_minivec2vec(X, Y, Xte, Yte, seed):
    from mini_vec2vec import MiniVec2Vec

    mx, my = unit(X).mean(0), unit(Y).mean(0)
    Xc, Yc = centre_unit(X, mx), centre_unit(Y, my)
    mv, secs, cpu = timed(lambda: MiniVec2Vec().fit(Xc, Yc, random_seed=seed, verbose=False))
    W = mv.W
    dx, dy = X.shape[1], Y.shape[1]
    d = max(dx, dy)
    pad = lambda A: np.pad(A, ((0, 0), (0, d - A.shape[1])))  # noqa: E731  (its zero padding for unequal dims)
    mapped = pad(centre_unit(Xte, mx)) @ W
    truth = pad(centre_unit(Yte, my))
    out = metrics(mapped, truth, pad(Yte), pad(my[None]))
    out.update(seconds=secs, cpu_seconds=cpu)
    out.update(pairless_criteria(pad(Xc), pad(Yc), pad(Xc) @ W))
    return out


def run_few_pairs(base, p, X, Y, OX, OY, Xte, Yte, seed, chosen=False):
    """``base`` given p true pairs: rows ``seed*p ... seed*p + p - 1`` of the oracle's 1,000 pairs, or with
    ``chosen`` the p of those 1,000 that ``vecbridge.dictionary.keys_to_pair`` picks (one near the centre of
    each of p k-means clusters of the source sample, k-means seeded with ``seed``).

    ``procrustes``: supervised Procrustes on the p pairs alone; otherwise the unsupervised method
    fitted on the unpaired samples with the p pairs appended to both and passed as known pairs.
    """
    if chosen:
        from vecbridge.dictionary import keys_to_pair

        rows = np.asarray(keys_to_pair(np.vstack([X, OX]), p, among=range(len(X), len(X) + len(OX)), seed=seed))
        PX, PY = OX[rows - len(X)], OY[rows - len(X)]
    else:
        lo = (seed * p) % max(1, len(OX) - p + 1)
        PX, PY = OX[lo : lo + p], OY[lo : lo + p]
    if base == "procrustes":  # centred with the unpaired samples' means (p rows alone give a poor mean)
        from vecbridge.translators.matching import polar_factor

        mx, my = unit(X).mean(0), unit(Y).mean(0)
        W, secs, cpu = timed(lambda: polar_factor(centre_unit(PX, mx).T.astype(np.float64) @ centre_unit(PY, my)))
        out = metrics(centre_unit(Xte, mx) @ W, centre_unit(Yte, my), Yte, my)
        out.update(seconds=secs, cpu_seconds=cpu)
        return out
    known = np.stack([np.arange(len(X), len(X) + p), np.arange(len(Y), len(Y) + p)], axis=1)
    tr, secs, cpu = timed(lambda: make_translator(base, seed=seed).fit(np.vstack([X, PX]), np.vstack([Y, PY]),
                                                                     known_pairs=known))
    out = score_translator(tr, X, Y, Xte, Yte, secs, cpu, pairless=False)
    out["chosen"] = tr.fit_info_.get("selection", {}).get("chosen")
    return out


def run_oracle(OX, OY, Xte, Yte):
    tr, secs, cpu = timed(lambda: make_translator("procrustes", normalize="unit center unit").fit(OX, OY))
    return score_translator(tr, OX, OY, Xte, Yte, secs, cpu, pairless=False)


#: code revision of each method family; rows of an older revision are re-run and shown apart.
#: spectral-match 2 (2026-11-25): finalists polished until the pairless k-NN similarity stops rising;
#: 3 (2026-11-25): polishing with extrapolated steps, finalists chosen by k-NN similarity alone.
#: cluster-match 6 (2026-12-02, session 7): regional rotations screened on 3,000 rows, up to 4 passes.
#:   (2026-12-03: neighbour means without the (rows, k, d) temporary and top-k over threads; the same steps,
#:   so the same revision; float rounding can move a fit slightly: a 0.7655 map came out 0.761, 878 s -> 632 s.)
#: cluster-match 7 (2026-12-04, session 9): with equal dimensions, the identity map (refined from k = 50) is
#:   screened with the runs and refined as one more finalist when it screens best; elsewhere the fit is
#:   revision 6's, draw for draw. 8 (the same day): a map from the identity start is not re-polished in the
#:   regional step (regional_repolish="auto").
#: cluster-match 9 (2026-12-06, session 14): coarse to fine (steps 1-4 on 4,000 rows per side when the samples are
#:   larger, then the whole sample refined), re-anchoring repeats and regional passes only while a round gains
#:   >= 2.5e-4, and unordered k-NN selection through column groups (same neighbours, other summation order).
#: cluster-match 10 (2026-12-07, session 17): one product per bidirectional step, wide steps on half the rows,
#:   two steps per k. 11 (2026-12-07, session 18): the rescue (up to two more fits from fresh seeds when the verdict
#:   is not "aligned"); a fit judged aligned is revision 10's, draw for draw. 12 (2026-12-07, session 20): the
#:   rescue also stops once a fit judged "uncertain" maps the sample as an earlier one does.
REVISIONS = {"spectral-match": 3, "cluster-match": 12}


def _same_in_8(row) -> bool:
    """A revision-7 cluster-match row is revision 8's fit when its regional step was set explicitly or its
    chosen start was not the identity."""
    if "regional_repolish" in split_method(row["method"])[1]:
        return True
    screen, chosen = row.get("screen"), row.get("chosen")
    return bool(screen) and chosen is not None and screen[chosen][0] != "identity"


#: rows of an older revision that stand for the current one where the code computes the same fit, draw for
#: draw: (method, revision) -> [(pair, n or None for every size)], in-domain rows only, or a test of the row.
#: cluster-match 8 differs from 7 only when the identity start is chosen (each row of 7 records which start
#: was: ``screen`` and ``chosen``), and 7 from 6 only when the identity start screens best, which needs equal
#: dimensions (static64 is 64-d, MiniLM 384-d: never); on MiniLM-L6 <-> e5 at 8k (the whole pool, so the same
#: rows for every seed) the refined identity screens at 0.2946 / 0.2958, below the cluster-matching starts
#: (session 9; the seed-0 re-runs of revision 8 chose a cluster-matching start and gave 0.966 / 0.954 against
#: 0.968 / 0.956: the session-8 speed-up moves float rounding, not the identity start).
#: Revision 9 changes every cluster-match fit, so no earlier row stands for it (``CARRIED_BEFORE_9`` is what
#: stood for revision 8, kept to read the old rows). Revision 10 (one product for both directions of a step,
#: the wide steps on half the rows, two steps per k) changes every fit again.
CARRIED_BEFORE_9 = {("cluster-match", 6): [("static64:minilm-l6", None), ("minilm-l6:e5-small", 8000),
                                           ("e5-small:minilm-l6", 8000)],
                    ("cluster-match", 7): _same_in_8}
#: Revision 12 changes only a rescue that runs: a revision-11 row judged aligned, or fitted with
#: ``rescue_starts=0``, is revision 12's fit. A row judged aligned had its first fit aligned, so no rescue ran
#: (every in-domain and out-of-domain fit at 4,000-16,000 per side of sessions 18-19); a rescue attempt judged
#: aligned after an "uncertain" one is possible in principle and was not seen.
def _same_in_12(row) -> bool:
    """A revision-11 cluster-match row is revision 12's fit when it was judged aligned or ran no rescue."""
    return row.get("verdict") == "aligned" or split_method(row["method"])[1].get("rescue_starts") == 0


CARRIED: dict = {("cluster-match", 11): _same_in_12}


def split_method(method: str) -> tuple[str, dict]:
    """``"cluster-match[n_runs=12,k=20]"`` -> ``("cluster-match", {"n_runs": 12, "k": 20})``.

    Parameters are part of the method's name, so their rows are recorded and shown apart from the defaults."""
    name, sep, rest = method.partition("[")
    if not sep:
        return method, {}
    if not rest.endswith("]") or not rest[:-1]:
        raise SystemExit(f"method {method!r}: expected NAME[KEY=VALUE,...]")
    try:
        return name, parse_params(rest[:-1].split(","))
    except VecbridgeError as e:
        raise SystemExit(f"method {method!r}: {e}") from None


def revision(method: str) -> int:
    return REVISIONS.get(split_method(method)[0].split("+")[0], 1)


def is_current(row) -> bool:
    rev = row.get("revision", 1)
    if rev >= revision(row["method"]):
        return True
    where = CARRIED.get((split_method(row["method"])[0], rev), [])
    if callable(where):
        return where(row)
    return row.get("ood") is None and any(row["pair"] == p and n in (None, row["n"]) for p, n in where)


def done_keys():
    return {(r["pair"], r["n"], r["seed"], r["method"], r.get("ood")) for r in read_rows(RESULTS) if is_current(r)}


def record(row):
    append_row(RESULTS, row)


def subsample(A, n, rng):
    return A if n >= len(A) else A[np.sort(rng.choice(len(A), n, replace=False))]


def pool_rows(src: str, tgt: str, n: int, n_max: int) -> int:
    """How many rows of each training half the draw of ``n`` rows comes from (``SMALL_POOL``, else ``n_max``)."""
    small = min(n_max, *(SMALL_POOL.get(m, n_max) for m in (src, tgt)))
    return small if n <= small else n_max


def training_draw(task, src: str, tgt: str, n: int, n_max: int, seed: int):
    """``(X, Y, pool)``: the ``n`` unpaired rows per side that seed ``seed`` draws for size ``n``."""
    pool = pool_rows(src, tgt, n, n_max)
    rng = np.random.default_rng(seed)
    return subsample(task.src_train[:pool], n, rng), subsample(task.tgt_train[:pool], n, rng), pool


def bench(args):
    done = done_keys()
    methods = args.methods
    for pair in args.pairs:
        src, tgt = pair.split(":")
        n_max = args.pool
        oods = [None] + list(args.ood)
        for ood in oods:
            try:
                task, OX, OY = load_pair(src, tgt, n_max, ood)
            except Exception as e:  # data not encoded / not installed: say so, go on
                print(f"skip {pair} ood={ood}: {type(e).__name__}: {e}", flush=True)
                continue
            sizes = [n for n in args.sizes if n <= n_max] if ood is None else [n_max]
            for n in sizes:
                for seed in args.seeds:
                    X, Y, pool = training_draw(task, src, tgt, n, n_max, seed)
                    for method in methods:
                        key = (pair, n, seed, method, ood)
                        if key in done:
                            continue
                        if method in ("oracle", "identity") and seed != args.seeds[0]:
                            continue  # deterministic; one seed is enough
                        if method == "identity" and task.src_train.shape[1] != task.tgt_train.shape[1]:
                            continue
                        t0 = time.time()
                        if method == "oracle":
                            res = run_oracle(OX, OY, task.src_test, task.tgt_test)
                        elif method == "mini-vec2vec":
                            res = run_minivec2vec(X, Y, task.src_test, task.tgt_test, seed)
                        elif method == "identity":
                            res = run_identity(X, Y, task.src_test, task.tgt_test)
                        elif "+" in method:  # few-pair mode, e.g. spectral-match+10pairs, spectral-match+10chosen
                            base, p = method.split("+")
                            chosen = p.endswith("chosen")
                            res = run_few_pairs(base, int(p.removesuffix("chosen" if chosen else "pairs")), X, Y, OX,
                                                OY, task.src_test, task.tgt_test, seed, chosen=chosen)
                        else:
                            name, params = split_method(method)
                            if name == "vec2vec":
                                params = {"steps": args.vec2vec_steps, **params}
                            res = run_vecbridge(name, params, X, Y, task.src_test, task.tgt_test, seed)
                        row = {"pair": pair, "n": n, "seed": seed, "method": method, "ood": ood,
                               "pool": pool, "revision": revision(method),
                               **{k: (round(v, 5) if isinstance(v, float) else v) for k, v in res.items()},
                               "date": today()}
                        record(row)
                        print(json.dumps(row), flush=True)


def run_identity(X, Y, Xte, Yte):
    tr, secs, cpu = timed(lambda: make_translator("identity", normalize="unit center unit").fit(X, Y))
    return score_translator(tr, X, Y, Xte, Yte, secs, cpu)


# -- rendering ---------------------------------------------------------------------------
def spearman(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3:
        return float("nan")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def cpu_s(g):
    """Mean process CPU seconds of a group (both cores count), blank for rows measured before it was recorded."""
    v = [r["cpu_seconds"] for r in g if r.get("cpu_seconds") is not None]
    return f"{np.mean(v):.0f}" if v else ""


def versus(ours: float, theirs: float, tie: float = 0.005) -> str:
    """'better' / 'not better', or 'same' when the two mean top-1 differ by less than ``tie`` (both at chance)."""
    if abs(ours - theirs) < tie:
        return "same"
    return "better" if ours > theirs else "not better"


def render():
    rows = read_rows(RESULTS)
    if not rows:
        return "(no results yet)"
    out = []
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["pair"], r.get("ood"), r["n"], r["method"]), []).append(r)
    # a group measured with the current code shows only those rows; a group measured only with an
    # older revision of its method keeps its rows under a name that says so
    for key in list(groups):
        g = groups[key]
        cur = [r for r in g if is_current(r)]
        if cur:
            groups[key] = cur
        else:
            del groups[key]
            newest = max(r.get("revision", 1) for r in g)  # the latest older revision measured, alone
            old = (*key[:3], f"{key[3]} (rev {newest}, before {revision(key[3])})")
            groups[old] = [r for r in g if r.get("revision", 1) == newest]
    rows = [r for g in groups.values() for r in g if is_current(r)]
    oracles: dict = {}
    for (p, o, n, m), g in groups.items():
        if m == "oracle":
            oracles.setdefault((p, o), {})[n] = g[0]["top1"]

    def oracle_of(pair, ood, n):
        """The oracle run at the same size (its normalisation comes from that draw), else the pair's smallest."""
        by_n = oracles.get((pair, ood), {})
        return by_n.get(n, by_n[min(by_n)]) if by_n else None

    ident = {(p, o, n): g[0]["top1"] for (p, o, n, m), g in groups.items() if m == "identity"}
    mv = {(p, o, n): np.mean([r["top1"] for r in g]) for (p, o, n, m), g in groups.items() if m == "mini-vec2vec"}
    table = []
    order = {m: i for i, m in enumerate(["spectral-match", "cluster-match", "vec2vec", "mini-vec2vec", "identity", "oracle"])}
    def family(label: str) -> str:
        """The method family of a table label (labels of older revisions end in " (rev N, before M)")."""
        return split_method(label.split(" (rev ")[0])[0]

    for key in sorted(groups, key=lambda k: (k[0], str(k[1]), k[2], order.get(family(k[3]), 99), k[3])):
        pair, ood, n, method = key
        g = groups[key]
        t1 = np.array([r["top1"] for r in g])
        orc = oracle_of(pair, ood, n)
        gap = "" if orc is None or method == "oracle" else f"{np.mean(t1) - (orc - 0.05):+.3f}"
        table.append([pair.replace(":", " → "), ood or "BBC", n, method, len(g),
                      f"{np.mean(t1):.3f}", f"{t1.min():.3f}–{t1.max():.3f}",
                      f"{np.mean([r['mean_rank'] for r in g]):.1f}",
                      f"{np.mean([r['cos_raw'] for r in g]):.3f}", f"{np.mean([r['cos_centred'] for r in g]):.3f}",
                      f"{np.mean([r['foscttm'] for r in g]):.3f}", f"{np.mean([r['seconds'] for r in g]):.0f}", cpu_s(g), gap])
    out.append(markdown_table(
        ["pair", "test", "n/side", "method", "seeds", "top-1 mean", "top-1 min–max", "mean rank", "cos raw",
         "cos centred", "FOSCTTM", "fit s", "fit CPU s", "vs oracle−0.05"], table))
    # targets at 8k
    tgt_rows = []
    for (pair, ood, n, method), g in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2])):
        if family(method) not in ("spectral-match", "cluster-match") or ood is not None:
            continue
        t1 = np.array([r["top1"] for r in g])
        orc = oracle_of(pair, ood, n)
        idt = ident.get((pair, ood, n))
        mvv = mv.get((pair, ood, n))
        tgt_rows.append([pair.replace(":", " → "), n, method, f"{np.mean(t1):.3f}",
                         "" if orc is None else f"{orc:.3f} ({'met' if t1.min() >= orc - 0.05 else f'missed by {orc - 0.05 - t1.min():.3f} (worst seed)'})",
                         "" if idt is None else f"{idt:.3f} ({'ok' if t1.min() >= idt else f'below by {idt - t1.min():.3f}'})",
                         "" if mvv is None else f"{mvv:.3f} ({versus(np.mean(t1), mvv)})",
                         f"{max(r['seconds'] for r in g):.0f}"])
    out.append("\n### Targets, methods `spectral-match` and `cluster-match`\n")
    out.append(markdown_table(["pair", "n/side", "method", "top-1 mean", "oracle (target: worst seed ≥ oracle − 0.05)",
                               "identity (target: never below)", "mini-vec2vec mean", "slowest fit s"], tgt_rows))
    # can a failed fit be told from a good one without pairs? (within one pair and size: the scale of the
    # k-NN similarity depends on the two encoders, so it is compared among maps of the same data)
    sep_rows = []
    for (pair, n), g in sorted(by_task_all(rows).items()):
        good = [r["pairless_knn"] for r in g if r["top1"] >= 0.5 and r.get("pairless_knn") is not None]
        bad = [r["pairless_knn"] for r in g if r["top1"] < 0.5 and r.get("pairless_knn") is not None]
        if not good and not bad:
            continue
        rng_s = lambda v: f"{min(v):.4f}–{max(v):.4f} ({len(v)})" if v else "–"  # noqa: E731
        verdict = ("yes" if min(good) > max(bad) else "no (overlap)") if good and bad else ""
        sep_rows.append([pair.replace(":", " → "), n, rng_s(good), rng_s(bad), verdict])
    if sep_rows:
        out.append("\n### Can a failed map be told from a good one without pairs?\n")
        out.append("Pairless k-NN similarity (`selection.knn_similarity` of the mapped training half against the "
                   "target training half, 2,000 rows each; what `spectral-match` and `cluster-match` choose by) "
                   "of every map recorded since 2026-12-03 (all methods and seeds, identity included), split by "
                   "held-out top-1 ≥ 0.5 or below; *separated* when every good map scores above every failed one:\n")
        out.append(markdown_table(["pair", "n/side", "k-NN similarity, top-1 ≥ 0.5 (maps)",
                                   "k-NN similarity, top-1 < 0.5 (maps)", "separated"], sep_rows))
    # the verdict (what `fit` saves or refuses by) against held-out quality, for every fit that recorded it
    vrows = []
    for (pair, ood, n, method), g in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2], kv[0][3])):
        judged = [r for r in g if r.get("verdict")]
        if not judged:
            continue
        cells = []
        for ok in (lambda t: t >= 0.5, lambda t: 2.0 / TEST < t < 0.5, lambda t: t <= 2.0 / TEST):
            sel = [r["verdict"] for r in judged if ok(r["top1"])]
            cells.append(" / ".join(str(sel.count(v)) for v in ("aligned", "uncertain", "not aligned")) if sel else "–")
        vrows.append([pair.replace(":", " → ") + (f" ({ood})" if ood else ""), n, method, len(judged), *cells])
    if vrows:
        out.append("\n### The verdict against held-out top-1\n")
        out.append("Every fit that recorded its verdict (cluster-match since revision 11): counts of aligned / "
                   "uncertain / not aligned, by held-out top-1. Required: no map at chance (top-1 at most twice "
                   f"the chance rate, 2/{TEST:,}) is aligned, no map with top-1 ≥ 0.5 is not aligned.\n")
        out.append(markdown_table(["pair", "n/side", "method", "fits", "top-1 ≥ 0.5", "between", "at chance"], vrows))
    # criterion vs top-1, within one pair and size (the criteria's scale depends on the encoders and on n)
    crit = []
    for (pair, n), g in sorted(by_task_all(rows).items()):
        sc = [(r["pairless_score"], r["top1"]) for r in g]
        kn = [(r["pairless_knn"], r["top1"]) for r in g if r.get("pairless_knn") is not None]
        crit.append([pair.replace(":", " → "), n, len(sc), f"{spearman(*zip(*sc)):.2f}" if len(sc) > 2 else "",
                     len(kn), f"{spearman(*zip(*kn)):.2f}" if len(kn) > 2 else ""])
    out.append("\n### Do the pairless criteria track held-out top-1?\n")
    out.append("Spearman correlation, within one pair and size, over every fitted map (all methods and seeds, "
               "identity included) between a pairless criterion on the *training* halves and held-out top-1: "
               "`selection.map_report(...)['score']` (k-NN similarity + 0.5 × structure agreement) and the k-NN "
               "similarity alone (recorded since 2026-12-03):\n")
    out.append(markdown_table(["pair", "n/side", "maps", "Spearman ρ, score", "maps", "Spearman ρ, k-NN similarity"],
                              crit))
    return "\n".join(out)


def by_task_all(rows) -> dict:
    """In-domain rows with a pairless criterion, grouped by (pair, n)."""
    out: dict = {}
    for r in rows:
        if r.get("pairless_score") is not None and r.get("ood") is None:
            out.setdefault((r["pair"], r["n"]), []).append(r)
    return out


def write_results_into_doc(command: str):
    body = (f"{provenance(read_rows(RESULTS), command)} Wall times are upper bounds where other jobs shared the "
            f"machine (the runs are listed in docs/research/unsupervised-history.md); process CPU seconds count both cores.\n\n{render()}")
    write_section(DOC, "results", body)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", nargs="+", default=PAIRS, help="SRC:TGT encoder names")
    p.add_argument("--sizes", nargs="+", type=int, default=SIZES)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--pool", type=int, default=max(SIZES),
                   help="unpaired sentences per side loaded (N); each size n is drawn from them (capped per encoder)")
    p.add_argument("--methods", nargs="+",
                   default=["oracle", "identity", "spectral-match", "cluster-match", "mini-vec2vec"],
                   help="also NAME[KEY=VALUE,...] for a vecbridge method with other parameters, e.g. "
                        "'cluster-match[n_runs=12]' (recorded as its own method), and few-pair modes "
                        "BASE+Npairs / BASE+Nchosen")
    p.add_argument("--vec2vec", action="store_true", help="also run the adversarial vec2vec model")
    p.add_argument("--vec2vec-steps", type=int, default=2000)
    p.add_argument("--ood", nargs="*", default=[], help="austen and/or bible")
    p.add_argument("--render", action="store_true", help="only re-render docs/unsupervised.md from the results file")
    args = p.parse_args(argv)
    if args.vec2vec and "vec2vec" not in args.methods:
        args.methods.append("vec2vec")
    command = "python benchmarks/unsupervised_sentences.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not args.render:
        bench(args)
    write_results_into_doc(command)


if __name__ == "__main__":
    main()
