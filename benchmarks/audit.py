"""The leakage audit measured: labelled corpora, several leaked → known encoder pairs, naive / translated /
ideal side by side, word recovery, defences, and the audit's own time apart from text encoding.

For each corpus, encoder pair (``LEAKED:KNOWN``) and size (``PUBLIC:LEAKED`` texts):

- the data: the corpus is shuffled with ``numpy.random.default_rng(seed)``; the *leaked* texts are the first
  LEAKED of that order, the *public* texts the last PUBLIC (disjoint; a larger size extends a smaller one, so
  cached encodings are reused). Corpora: ``bbc`` (BBC News sentences, label = topic, 5 topics) and ``bible``
  (World English Bible verses, label = book group: law, history, wisdom, prophets, gospels and Acts, letters;
  Revelation counts with the prophets);
- the encodings (cached under ~/.cache/vecbridge by ``vecbridge.datasets.encode_texts``): the leaked texts by
  the leaked encoder (LEAKED), the public texts and the leaked texts by the known encoder (the attacker's
  sample, and the ideal baseline);
- the audit: ``vecbridge.audit.run_audit`` with the known encoder, the public texts (their vectors passed in),
  one description per label, the true labels and texts, ``--defences`` where ``--defence-on`` names the run.

Rows are appended to ``benchmarks/results/audit.jsonl`` (a run already there is skipped unless ``--force``),
then every table is printed and written into docs/audit.md between the ``results`` markers.

Quick check: ``python benchmarks/audit.py --corpora bbc --pairs minilm-l3-onnx:minilm-l6 --sizes 600:300``.
Render only: ``--render``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DOCS, append_row, markdown_table, provenance, read_rows, today, write_section  # noqa: E402

from vecbridge.audit import run_audit  # noqa: E402
from vecbridge.datasets import encode_texts, load  # noqa: E402
from vecbridge.encoders import get_encoder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "audit.jsonl"
DOC = DOCS / "audit.md"
COMMAND = "python benchmarks/audit.py --render"

#: one description per label, in the order the labels are listed
ATTRIBUTES = {
    "bbc": {
        "business": "a news story about business, companies and the economy",
        "entertainment": "a news story about entertainment: films, music, television and celebrities",
        "politics": "a news story about politics, the government and elections",
        "sports": "a news story about sport",
        "tech": "a news story about technology, computers and the internet",
    },
    "bible": {
        "law": "a Bible verse from the books of the law: commandments, offerings and rules given through Moses",
        "history": "a Bible verse from the history books: kings, battles and the people of Israel",
        "wisdom": "a Bible verse of wisdom and poetry: psalms, proverbs and songs of praise",
        "prophets": "a Bible verse from the prophets: visions and warnings, the word of the Lord against the nations",
        "gospels": "a Bible verse from the gospels: the life and teaching of Jesus and his disciples",
        "letters": "a Bible verse from the apostles' letters to the churches: faith, grace and Christ",
    },
}
BOOK_GROUPS = {
    "law": "GEN EXO LEV NUM DEU",
    "history": "JOS JDG RUT 1SA 2SA 1KI 2KI 1CH 2CH EZR NEH EST",
    "wisdom": "JOB PSA PRO ECC SNG",
    "prophets": "ISA JER LAM EZK DAN HOS JOL AMO OBA JON MIC NAM HAB ZEP HAG ZEC MAL REV",
    "gospels": "MAT MRK LUK JHN ACT",
    "letters": "ROM 1CO 2CO GAL EPH PHP COL 1TH 2TH 1TI 2TI TIT PHM HEB JAS 1PE 2PE 1JN 2JN 3JN JUD",
}
GROUP_OF = {book: group for group, books in BOOK_GROUPS.items() for book in books.split()}

DEFAULT_PAIRS = ["e5-small:minilm-l6", "minilm-l3-onnx:minilm-l6", "static64:minilm-l6"]
DEFAULT_DEFENCES = ["noise=0.02", "noise=0.05", "rotate", "quantize=2", "drop=0.5", "noise=0.02+rotate"]


def corpus_of(name: str):
    """``(corpus, labels)``: the corpus and each text's label (the keys of ATTRIBUTES[name])."""
    if name == "bbc":
        c = load("bbc")
        return c, list(c.labels)
    if name == "bible":
        c = load("bible-web")
        return c, [GROUP_OF[b] for b in c.labels]
    raise SystemExit(f"unknown corpus {name!r}; choose bbc or bible")


def split(n_total: int, n_public: int, n_leaked: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n_public + n_leaked > n_total:
        raise SystemExit(f"the corpus has {n_total} texts; asked for {n_public} public + {n_leaked} leaked")
    perm = np.random.default_rng(seed).permutation(n_total)
    return perm[::-1][:n_public], perm[:n_leaked]


def encoded(model: str, corpus, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """The (cached) encodings of the corpus rows, and the seconds it took (near 0 when cached)."""
    ids = [corpus.ids[i] for i in rows]
    t0 = time.perf_counter()
    vecs = encode_texts(model, corpus.fingerprint, ids, [corpus.texts[i] for i in rows], progress=False)
    return vecs, time.perf_counter() - t0


_RATES: dict[str, float] = {}


def throughput(model: str, texts: list[str]) -> float:
    """Texts per second of ``model`` on these texts, encoded afresh (no cache)."""
    if model not in _RATES:
        enc = get_encoder(model).load()
        t0 = time.perf_counter()
        enc.encode(texts, progress=False)
        _RATES[model] = len(texts) / (time.perf_counter() - t0)
    return _RATES[model]


def run_one(corpus_name: str, leaked_enc: str, known_enc: str, n_public: int, n_leaked: int, seed: int,
            defences: list[str], fit_rows: int) -> dict:
    corpus, labels = corpus_of(corpus_name)
    attrs = ATTRIBUTES[corpus_name]
    order = list(attrs)
    pub, leak = split(len(corpus), n_public, n_leaked, seed)
    L, t_leaked = encoded(leaked_enc, corpus, leak)
    P, t_public = encoded(known_enc, corpus, pub)
    T, t_true = encoded(known_enc, corpus, leak)
    sample = [corpus.texts[i] for i in leak[:200]]
    rates = {m: round(throughput(m, sample), 1) for m in dict.fromkeys([leaked_enc, known_enc])}
    truth = [order.index(labels[i]) for i in leak]
    report = run_audit(L, known_enc, [corpus.texts[i] for i in pub], [attrs[k] for k in order], truth=truth,
                       texts=[corpus.texts[i] for i in leak], public_vectors=P, text_vectors=T, defences=defences,
                       fit_rows=fit_rows, seed=seed, progress=False)
    s = report.summary
    words = {k: v for k, v in s["words"].items() if k != "vocabulary"}
    attribute = {k: v for k, v in s["attribute"].items()}
    return {
        "date": today(), "corpus": corpus_name, "leaked_encoder": leaked_enc, "known_encoder": known_enc,
        "n_public": n_public, "n_leaked": n_leaked, "seed": seed, "fit_rows": fit_rows, "defences": defences,
        "translation": s["translation"], "attribute": attribute, "words": words, "nearest": s["nearest"],
        "defence_rows": s["defences"], "timing": s["timing"],
        "encoding": {"leaked_seconds": round(t_leaked, 1), "public_seconds": round(t_public, 1),
                     "true_texts_seconds": round(t_true, 1), "texts_per_second": rates},
        "labels": order,
    }


def _key(r: dict) -> tuple:
    return (r["corpus"], r["leaked_encoder"], r["known_encoder"], r["n_public"], r["n_leaked"], r["seed"],
            tuple(r.get("defences") or ()))


def _sort_key(r: dict) -> tuple:
    pair = f"{r['leaked_encoder']}:{r['known_encoder']}"
    return (r["corpus"], DEFAULT_PAIRS.index(pair) if pair in DEFAULT_PAIRS else 99, pair, r["n_leaked"],
            r["n_public"], len(r.get("defences") or ()))


def _f(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _ci(v, ci) -> str:
    if v is None:
        return "–"
    return f"{v:.3f} ({ci[0]:.3f}–{ci[1]:.3f})" if ci else f"{v:.3f}"


def _pair(r: dict) -> str:
    return f"{r['leaked_encoder']} → {r['known_encoder']}"


def _verdict(r: dict) -> str:
    t = r["translation"]
    conf = "" if t.get("confidence") is None else f" {t['confidence']:.2f}"
    return f"{t['method'].replace(' (chosen by auto)', '')}: {t['verdict']}{conf}"


def render(rows: list[dict]) -> str:
    latest: dict[tuple, dict] = {}
    for r in rows:  # the latest row of each run; a run with defences also measured the undefended audit
        latest[_key(r)[:6]] = r
    main = sorted(latest.values(), key=_sort_key)
    out = [provenance(rows, COMMAND), ""]
    out.append("**Attribute inference** (top-1, 95% bootstrap interval in brackets). *chance*: 1 / number of "
               "attributes; *majority*: the most frequent attribute's share; *naive*: the leaked vectors read "
               "without translation; *translated*: the audit's attack; *ideal*: the known encoder on the true "
               "texts.\n")
    out.append(markdown_table(
        ["corpus", "leaked → known", "public / leaked", "translation: verdict, confidence", "chance", "majority",
         "naive", "translated", "ideal", "translated − ideal", "top-3 naive / translated / ideal"],
        [[r["corpus"], _pair(r), f"{r['n_public']} / {r['n_leaked']}", _verdict(r), _f(r["attribute"]["chance"]),
          _f(r["attribute"]["majority"]), _f(r["attribute"]["naive"]),
          _ci(r["attribute"]["top1"], r["attribute"]["top1_ci"]),
          _ci(r["attribute"]["ideal"], r["attribute"]["ideal_ci"]),
          _f(None if r["attribute"]["top1"] is None or r["attribute"]["ideal"] is None
             else r["attribute"]["top1"] - r["attribute"]["ideal"]),
          f"{_f(r['attribute']['naive_top3'])} / {_f(r['attribute']['top3'])} / {_f(r['attribute']['ideal_top3'])}"]
         for r in main]))
    out.append("\n**Word recovery.** The probe's vocabulary is the 300 most frequent content words of the public "
               "texts; precision / recall / F1 are micro-averaged over the leaked rows' words. *public held-out*: "
               "the probe on public texts it was not trained on (its ceiling). *nearest text*: the share of a "
               "hidden text's content words that its nearest public text contains (*random*: a public text drawn "
               "at random).\n")
    out.append(markdown_table(
        ["corpus", "leaked → known", "public held-out F1", "naive F1", "translated P / R", "translated F1",
         "ideal F1", "nearest text: random / translated / ideal"],
        [[r["corpus"], _pair(r), _f(r["words"]["public_f1"]), _f(r["words"]["naive_f1"]),
          f"{_f(r['words']['precision'])} / {_f(r['words']['recall'])}", _ci(r["words"]["f1"], r["words"]["f1_ci"]),
          _f(r["words"]["ideal_f1"]),
          f"{_f(r['nearest']['random'])} / {_f(r['nearest']['word_recall'])} / {_f(r['nearest']['ideal'])}"]
         for r in main]))
    defended = [r for r in rows if r.get("defences")]
    dlatest: dict[tuple, dict] = {}
    for r in defended:
        dlatest[_key(r)] = r
    if dlatest:
        out.append("\n**Defences.** Each defence is applied to the leaked vectors and the whole attack runs again "
                   "on them (a new map is fitted). *utility*: recall@10 of retrieval among the defended vectors "
                   "against the undefended vectors' 10 nearest neighbours (1,000 query rows).\n")
        drows = []
        for r in dlatest.values():
            for d in r["defence_rows"]:
                drows.append([r["corpus"], _pair(r), f"{r['n_public']} / {r['n_leaked']}", d["defence"],
                              _f(d["utility_recall_at_10"]), _ci(d["attribute_top1"], d.get("attribute_top1_ci")),
                              _f(d["attribute_naive"]), _f(d["words_f1"]),
                              f"{d['method'].replace(' (chosen by auto)', '')}: {d['verdict']}"])
        out.append(markdown_table(["corpus", "leaked → known", "public / leaked", "defence", "utility (recall@10)",
                                   "attribute top-1 translated", "naive", "words F1", "translation"], drows))
    out.append("\n**Time** (seconds, 2 cores). *audit*: everything `run_audit` does once the public and true "
               "texts are encoded (fitting the map, translating, reading, bootstrap, defences); *fit*: the map's "
               "fit alone (undefended). *encoding*: texts per second of each encoder on this machine, measured "
               "on 200 texts of the corpus; the audit's inputs took leaked rows ÷ rate (leaked encoder) and "
               "(public + leaked) ÷ rate (known encoder).\n")
    out.append(markdown_table(
        ["corpus", "leaked → known", "public / leaked", "defences", "audit s", "fit s", "leaked encoder texts/s",
         "known encoder texts/s", "encoding the inputs (est.) s"],
        [[r["corpus"], _pair(r), f"{r['n_public']} / {r['n_leaked']}", len(r.get("defences") or []),
          _f(r["timing"]["audit_seconds"], 0), _f(r["timing"]["fit_seconds"], 0),
          _f(r["encoding"]["texts_per_second"].get(r["leaked_encoder"]), 1),
          _f(r["encoding"]["texts_per_second"].get(r["known_encoder"]), 1),
          _f(_encode_estimate(r), 0)]
         for r in sorted({_key(r): r for r in rows}.values(), key=_sort_key)]))
    return "\n".join(out)


def _encode_estimate(r: dict) -> float | None:
    rates = r["encoding"]["texts_per_second"]
    a, b = rates.get(r["leaked_encoder"]), rates.get(r["known_encoder"])
    if not a or not b:
        return None
    return r["n_leaked"] / a + (r["n_public"] + r["n_leaked"]) / b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", nargs="+", default=["bbc", "bible"])
    ap.add_argument("--pairs", nargs="+", default=DEFAULT_PAIRS, help="LEAKED_ENCODER:KNOWN_ENCODER")
    ap.add_argument("--sizes", nargs="+", default=["7000:2000"], help="PUBLIC:LEAKED texts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fit-rows", type=int, default=8000)
    ap.add_argument("--defences", nargs="*", default=DEFAULT_DEFENCES)
    ap.add_argument("--defence-on", nargs="*", default=[],
                    help="CORPUS:LEAKED_ENCODER:KNOWN_ENCODER runs that also measure --defences")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--doc", type=Path, default=DOC, help="the page whose results section is rewritten")
    ap.add_argument("--force", action="store_true", help="run again even when the results file has the run")
    ap.add_argument("--render", action="store_true", help="only print the tables and write docs/audit.md")
    args = ap.parse_args()
    if not args.render:
        done = {_key(r) for r in read_rows(args.results)}
        for corpus in args.corpora:
            for pair in args.pairs:
                leaked_enc, _, known_enc = pair.partition(":")
                for size in args.sizes:
                    n_public, _, n_leaked = size.partition(":")
                    defences = args.defences if f"{corpus}:{pair}" in args.defence_on else []
                    key = (corpus, leaked_enc, known_enc, int(n_public), int(n_leaked), args.seed, tuple(defences))
                    if key in done and not args.force:
                        print(f"skip (done): {key}", flush=True)
                        continue
                    print(f"run: {corpus} {leaked_enc} -> {known_enc}, {n_public} public / {n_leaked} leaked"
                          + (f", defences {defences}" if defences else ""), flush=True)
                    row = run_one(corpus, leaked_enc, known_enc, int(n_public), int(n_leaked), args.seed, defences,
                                  args.fit_rows)
                    append_row(args.results, row)
                    a, w, t = row["attribute"], row["words"], row["translation"]
                    print(f"  {t['method']} {t['verdict']} ({t['confidence']}); top-1 naive {_f(a['naive'])} "
                          f"translated {_f(a['top1'])} ideal {_f(a['ideal'])} chance {_f(a['chance'])}; words F1 "
                          f"{_f(w['f1'])} (ideal {_f(w['ideal_f1'])}); audit {row['timing']['audit_seconds']} s, "
                          f"fit {row['timing']['fit_seconds']} s; encoding {row['encoding']}", flush=True)
                    for d in row["defence_rows"][1:]:
                        print(f"    {d['defence']}: utility {_f(d['utility_recall_at_10'])} top-1 "
                              f"{_f(d['attribute_top1'])} naive {_f(d['attribute_naive'])} words F1 "
                              f"{_f(d['words_f1'])} {d['verdict']}", flush=True)
    rows = [r for r in read_rows(args.results)]
    if not rows:
        print("no results yet")
        return
    body = render(rows)
    print(body)
    write_section(args.doc, "results", body)
    print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
