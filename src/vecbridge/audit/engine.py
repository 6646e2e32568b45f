"""``run_audit``: what a leaked set of embeddings gives away once it is translated into a space the attacker
can read.

The attacker holds the leaked vectors (no texts), an encoder they can run (the *known* encoder) and public
texts of a similar domain. The audit plays that attacker:

1. the public texts are encoded with the known encoder; the leaked vectors are translated into that space
   without pairs (``auto`` by default), and the map's verdict is reported;
2. attribute inference: each attribute description is encoded with the known encoder (e5 models: as a
   query, texts as passages) and the descriptions are ranked by cosine against each translated vector;
3. content: the nearest public texts of each translated vector, and a bag-of-words probe trained on the
   public texts (ridge regression from their vectors to the words they contain, its threshold chosen on a
   held-out part of the public texts) applied to the translated vectors.

Baselines in the same run: chance (1 / number of attributes, and the majority attribute's share); *naive*
(the same readings on the leaked vectors untranslated, where the dimensions agree); *ideal* (the known
encoder on the true texts, with ``texts``). Every space is read after the same normalisation (unit length,
centred on its own sample's mean, unit length). Defences are applied to the leaked vectors before the whole
attack (a new map is fitted on the defended vectors), and each one's utility is measured: recall@10 of
retrieval in the defended vectors against the undefended vectors' neighbours.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import DimensionError, ParameterError, VecbridgeError
from ..normalize import Normalizer
from ..translators import Translator
from ..version import __version__
from .attack import (
    WordProbe,
    build_vocabulary,
    content_words,
    encode,
    encoder_in_mode,
    encoder_name,
    fit_translation,
    nearest_texts,
    rank_attributes,
    word_matrix,
)
from .defences import Defence, neighbour_recall, parse_defence
from .reporting import AuditReport, bootstrap_ci, f1_stat, mean_stat, precision_stat, recall_stat, rounded

#: the normalisation every space is read after
NORMALIZE = "unit center unit"
#: fewest rows of LEAKED and public texts the audit accepts
MIN_LEAKED = 20
MIN_PUBLIC = 50
#: words listed per row in predictions.jsonl (the highest-scoring of those predicted)
WORDS_PER_ROW = 20


def run_audit(
    leaked: Any,
    encoder: Any,
    public: Sequence[str],
    attributes: Sequence[str],
    *,
    truth: Sequence[str | int] | None = None,
    texts: Sequence[str] | None = None,
    defences: Sequence[str | Defence] = (),
    method: str | Translator = "auto",
    max_leak: float | None = None,
    fit_rows: int | None = 8000,
    n_nearest: int = 3,
    vocabulary_size: int = 300,
    n_bootstrap: int = 1000,
    seed: int = 0,
    public_vectors: np.ndarray | None = None,
    text_vectors: np.ndarray | None = None,
    progress: bool | None = None,
) -> AuditReport:
    """Audit ``leaked`` vectors (see the module doc) and return an :class:`AuditReport`.

    Parameters
    ----------
    leaked : (n, d) array or :class:`~vecbridge.Embeddings`: vectors of an unknown encoder, no texts.
    encoder : a name for :func:`vecbridge.encoders.get_encoder` (``"minilm-l6"``, ``"st:/path"``) or an object
        with ``encode(texts) -> (n, d_known)``.
    public : unlabelled texts of a similar domain (the attacker's unpaired sample).
    attributes : one description per attribute (``"a news story about sport"``).
    truth : per row of ``leaked``, its attribute: the description itself or its 0-based index.
    texts : per row of ``leaked``, its true text (for word recovery and the ideal baseline).
    defences : specs such as ``"noise=0.05"``, ``"rotate"``, ``"quantize=4"``, ``"drop=0.5"``, or several joined
        by ``+`` (see :mod:`vecbridge.audit.defences`).
    method : the unsupervised method (a registry name), an unfitted translator to fit, or a fitted map
        (used as it is on the undefended vectors; defences are attacked with a fresh fit).
    max_leak : with ``truth``: the gate fails (``report.gate_failed``; CLI exit code 4) when the attack's
        attribute top-1 (translated, or untranslated where that reads better) minus chance exceeds it.
    fit_rows : at most this many rows of each side (drawn at random) fit the map; all rows are translated.
    n_nearest : public texts listed per row.
    vocabulary_size : words of the probe's vocabulary.
    n_bootstrap : resamples of the 95% intervals (0: none).
    public_vectors, text_vectors : the known encoder's vectors of ``public`` / ``texts``, where already computed.
    progress : progress bars while encoding (None: on a terminal).
    """
    t_start = time.perf_counter()
    _check_settings(max_leak, truth, fit_rows, n_nearest, vocabulary_size, n_bootstrap)
    defence_list = [parse_defence(d) for d in (defences or ())]
    keys, L = _leaked_matrix(leaked)
    attrs = _attribute_list(attributes)
    y = _truth_rows(truth, attrs, len(L))
    public = _text_list(public, "--public / public=")
    if len(public) < MIN_PUBLIC:
        raise VecbridgeError(f"--public / public= has {len(public)} texts; the audit needs at least {MIN_PUBLIC} "
                             "(thousands to translate well)")
    if texts is not None:
        texts = _text_list(texts, "--texts / texts=", allow_empty=True)
        if len(texts) != len(L):
            raise VecbridgeError(f"--texts / texts= has {len(texts)} lines but LEAKED has {len(L)} rows; give one "
                                 "text per row")

    # -- encoding (timed apart from the audit) --------------------------------------------------------
    t_enc = time.perf_counter()
    if isinstance(encoder, str):
        from ..encoders import get_encoder

        encoder = get_encoder(encoder)
    passage, query = encoder_in_mode(encoder, "passage"), encoder_in_mode(encoder, "query")
    P = (_given(public_vectors, len(public), "public_vectors") if public_vectors is not None
         else encode(passage, public, "--public", progress))
    A = encode(query, attrs, "--attributes", progress)
    T = None
    if text_vectors is not None:
        T = _given(text_vectors, len(L), "text_vectors")
    elif texts is not None:
        T = encode(passage, texts, "--texts", progress)
    dk = P.shape[1]
    for what, M in (("the attribute descriptions", A), ("the true texts", T)):
        if M is not None and M.shape[1] != dk:
            raise DimensionError(f"the encoder gave {M.shape[1]}-d vectors for {what} but {dk}-d for the public texts")
    encode_seconds = time.perf_counter() - t_enc

    # -- the known space, the vocabulary, the baselines ------------------------------------------------
    nk = Normalizer(NORMALIZE).fit(P)
    Pk, Ak = nk.transform(P), nk.transform(A)
    vocab = build_vocabulary(public, vocabulary_size)
    Yp = word_matrix(public, vocab) if vocab else None
    Yt = word_matrix(texts, vocab) if (vocab and texts is not None) else None
    hidden_words = [content_words(t) for t in texts] if texts is not None else None
    public_words: dict[int, set[str]] = {}
    probe_k = WordProbe(seed=seed).fit(Pk, Yp) if Yp is not None else None
    ctx = _Context(attrs, y, Yt, hidden_words, public, public_words, n_bootstrap, seed, n_nearest)
    notes: list[str] = []
    if not vocab:
        notes.append("the public texts share no content words: no word probe")
    if y is None:
        notes.append("no --truth: attribute accuracy, the leak and its gate are not computed")
    if texts is None:
        notes.append("no --texts: word recovery and the ideal baseline are not computed")

    ideal: dict[str, Any] = {}
    if T is not None:
        Tk = nk.transform(T)
        ideal = ctx.readings(rank_attributes(Tk, Ak), probe_k.predict(Tk) if probe_k else None,
                             nearest_texts(Tk, Pk, 1)[0][:, 0])

    def attack(Ld: np.ndarray, how: str | Translator) -> dict[str, Any]:
        tr = fit_translation(Ld, P, how, fit_rows=fit_rows, seed=seed)
        t = tr.translator
        Z, At, Pt = t.transform(Ld), t.transform_target(A), t.transform_target(P)
        probe = WordProbe(seed=seed).fit(Pt, Yp) if Yp is not None else None
        word_scores = probe.scores(Z) if probe else None
        S = rank_attributes(Z, At)
        near_idx, near_cos = nearest_texts(Z, Pt, n_nearest)
        out = {"translation": tr, "scores": S, "word_scores": word_scores, "probe": probe,
               "near_idx": near_idx, "near_cos": near_cos,
               "readings": ctx.readings(S, probe.predict(Z) if probe else None, near_idx[:, 0], ci=True)}
        if Ld.shape[1] == dk:
            Ln = Normalizer(NORMALIZE).fit_transform(Ld)
            out["naive"] = ctx.readings(rank_attributes(Ln, Ak), probe_k.predict(Ln) if probe_k else None,
                                        nearest_texts(Ln, Pk, 1)[0][:, 0], ci=True)
        return out

    main = attack(L, method)
    tr = main["translation"]
    if L.shape[1] != dk:
        notes.append(f"LEAKED is {L.shape[1]}-d and the encoder {dk}-d: no naive reading")

    defence_rows = [_defence_row("none", 1.0, main)]
    again = method
    if isinstance(method, Translator) and hasattr(method, "n_features_in_"):
        again = "auto" if method.requires_pairs else method.clone()
    for d in defence_list:
        Ld = d.apply(L, seed)
        util = neighbour_recall(L, Ld, 10, seed=seed)
        defence_rows.append(_defence_row(str(d), util, attack(Ld, again)))

    summary = _summary(ctx, main, ideal, defence_rows, max_leak)
    if tr.verdict == "not aligned":
        notes.insert(0, not_aligned_warning(summary.get("attribute") or {}, len(L)))
    summary.update({
        "version": __version__, "encoder": encoder_name(encoder), "rows": len(L),
        "dims": {"leaked": int(L.shape[1]), "known": int(dk)}, "n_public": len(public), "attributes": attrs,
        "notes": notes,
        "settings": {"method": method if isinstance(method, str) else getattr(method, "method", "given"),
                     "fit_rows": fit_rows, "n_nearest": n_nearest, "vocabulary_size": vocabulary_size,
                     "n_bootstrap": n_bootstrap, "seed": seed, "defences": [str(d) for d in defence_list]},
    })
    total = time.perf_counter() - t_start
    summary["timing"] = {"encode_seconds": round(encode_seconds, 2), "audit_seconds": round(total - encode_seconds, 2),
                         "fit_seconds": round(tr.fit_seconds, 2)}
    summary["words"]["vocabulary"] = vocab
    return AuditReport(summary, _predictions(ctx, main, keys, vocab))


def not_aligned_warning(attribute: dict[str, Any], n: int) -> str:
    """What a "not aligned" translation means for the readings: near chance as expected, unless the attribute
    top-1 (with truth labels) lies clearly above chance (3 binomial standard deviations over the n rows)."""
    top1, chance = attribute.get("top1"), attribute.get("chance")
    if top1 is not None and chance is not None and n > 0:
        if top1 - chance > 3 * (chance * (1 - chance) / n) ** 0.5:
            return (f"the translation was judged not aligned, yet the attribute top-1 ({top1:.3f}) is well above "
                    f"chance ({chance:.3f}): the readings are real (LEAKED may already be in the encoder's space, "
                    "or the verdict missed this map); report them as such")
    return ("the translation did not align (verdict not aligned); readings of the translated vectors should be "
            "near chance: that is the finding")


# -- inputs ---------------------------------------------------------------------------------------------
def _check_settings(max_leak, truth, fit_rows, n_nearest, vocabulary_size, n_bootstrap) -> None:
    if max_leak is not None:
        if truth is None:
            raise ParameterError("--max-leak / max_leak= without --truth / truth=: the gate compares the attribute "
                                 "top-1 with chance, which needs the true attribute of each row")
        if isinstance(max_leak, bool) or not isinstance(max_leak, (int, float)) or not 0 <= max_leak <= 1:
            raise ParameterError(f"--max-leak / max_leak= must be a number from 0 to 1, got {max_leak!r}")
    checks = [("--nearest / n_nearest=", n_nearest, 1), ("--vocabulary / vocabulary_size=", vocabulary_size, 1),
              ("--bootstrap / n_bootstrap=", n_bootstrap, 0)]
    if fit_rows is not None:
        checks.append(("--fit-rows / fit_rows=", fit_rows, 20))
    for flag, v, lo in checks:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ParameterError(f"{flag} must be an integer >= {lo}, got {v!r}")


def _leaked_matrix(leaked: Any) -> tuple[list[str] | None, np.ndarray]:
    keys = None
    if isinstance(leaked, Embeddings):
        keys, leaked = list(leaked.keys), leaked.vectors
    try:
        L = np.asarray(leaked, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise VecbridgeError(f"LEAKED is not a numeric array ({e})") from None
    if L.ndim != 2:
        raise DimensionError(f"LEAKED must be a 2-D array of vectors (rows, dimensions); got shape {L.shape}")
    if len(L) < MIN_LEAKED:
        raise VecbridgeError(f"LEAKED has {len(L)} rows; the audit needs at least {MIN_LEAKED} (thousands to "
                             "translate well)")
    bad = np.nonzero(~np.isfinite(L).all(axis=1))[0]
    if len(bad):
        raise VecbridgeError(f"LEAKED row {int(bad[0])} holds NaN or infinite values ({len(bad)} such rows)")
    zero = np.nonzero(~np.any(L != 0, axis=1))[0]
    if len(zero):
        raise VecbridgeError(f"LEAKED row {int(zero[0])} is all zeros ({len(zero)} such rows); a zero vector has "
                             "no direction to read")
    return keys, np.ascontiguousarray(L)


def _text_list(texts: Any, flag: str, allow_empty: bool = False) -> list[str]:
    if isinstance(texts, str):
        raise VecbridgeError(f"{flag} must be a list of texts, not one str")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise VecbridgeError(f"{flag}: item {i} is a {type(t).__name__}, not a text")
        if not allow_empty and not t.strip():
            raise VecbridgeError(f"{flag}: item {i} is empty")
    return out


def _attribute_list(attributes: Any) -> list[str]:
    if attributes is None or isinstance(attributes, str):
        raise VecbridgeError("--attributes / attributes= must be a list of descriptions, one per attribute")
    attrs = [a.strip() if isinstance(a, str) else a for a in attributes]
    for i, a in enumerate(attrs):
        if not isinstance(a, str):
            raise VecbridgeError(f"--attributes / attributes=: item {i} is a {type(a).__name__}, not a text")
        if not a:
            raise VecbridgeError(f"--attributes / attributes=: description {i} is empty")
    if not attrs:
        raise VecbridgeError("--attributes / attributes= is empty: give one description per line "
                             "(e.g. 'a news story about sport')")
    if len(attrs) < 2:
        raise VecbridgeError(f"--attributes / attributes= has one description ({attrs[0]!r}); inference needs at "
                             "least two to choose between")
    seen: dict[str, int] = {}
    for i, a in enumerate(attrs):
        if a in seen:
            raise VecbridgeError(f"--attributes / attributes=: descriptions {seen[a]} and {i} are the same ({a!r})")
        seen[a] = i
    return attrs


def resolve_truth(entry: Any, attrs: list[str]) -> int | None:
    """The attribute index of one truth entry (a description or its 0-based index), or None if it is neither."""
    if isinstance(entry, (bool, np.bool_)):
        return None
    if isinstance(entry, (int, np.integer)):
        return int(entry) if 0 <= entry < len(attrs) else None
    if not isinstance(entry, str):
        return None
    s = entry.strip()
    if s in attrs:
        return attrs.index(s)
    if s.isdigit() and int(s) < len(attrs):
        return int(s)
    return None


def _truth_rows(truth: Any, attrs: list[str], n: int) -> np.ndarray | None:
    if truth is None:
        return None
    if isinstance(truth, str):
        raise VecbridgeError("--truth / truth= must be a list (one attribute per row of LEAKED), not one str")
    truth = list(truth)
    if len(truth) != n:
        raise VecbridgeError(f"--truth / truth= has {len(truth)} lines but LEAKED has {n} rows; give one attribute "
                             "per row")
    out = np.empty(n, dtype=np.int64)
    for i, entry in enumerate(truth):
        j = resolve_truth(entry, attrs)
        if j is None:
            raise VecbridgeError(f"--truth / truth= line {i + 1}: {entry!r} is neither a line of --attributes nor an "
                                 f"index from 0 to {len(attrs) - 1}")
        out[i] = j
    return out


def _given(M: Any, n: int, what: str) -> np.ndarray:
    M = np.asarray(M, dtype=np.float32)
    if M.ndim != 2 or len(M) != n:
        raise DimensionError(f"{what} must have one row per text ({n}); got shape {M.shape}")
    return M


# -- readings ---------------------------------------------------------------------------------------------
class _Context:
    """What every reading is scored against."""

    def __init__(self, attrs, y, Yt, hidden_words, public, public_words, n_bootstrap, seed, n_nearest):
        self.attrs, self.y, self.Yt = attrs, y, Yt
        self.hidden_words, self.public, self.public_words = hidden_words, public, public_words
        self.n_bootstrap, self.seed, self.n_nearest = n_bootstrap, seed, n_nearest

    def words_of_public(self, j: int) -> set[str]:
        w = self.public_words.get(j)
        if w is None:
            w = self.public_words[j] = content_words(self.public[j])
        return w

    def readings(self, S: np.ndarray, words_pred: np.ndarray | None, nearest: np.ndarray,
                 ci: bool = True) -> dict[str, Any]:
        """Attribute top-1/top-3, word precision/recall/F1 and nearest-text word recall of one reading."""
        out: dict[str, Any] = {"predicted": S.argmax(axis=1)}
        nb = self.n_bootstrap if ci else 0
        if self.y is not None:
            order = np.argsort(-S, axis=1)
            c1 = order[:, 0] == self.y
            c3 = (order[:, :3] == self.y[:, None]).any(axis=1)
            out.update(top1=c1.mean(), top3=c3.mean(),
                       top1_ci=bootstrap_ci(c1, mean_stat, nb, self.seed),
                       top3_ci=bootstrap_ci(c3, mean_stat, nb, self.seed + 1))
        if words_pred is not None and self.Yt is not None:
            tp = (words_pred & self.Yt).sum(axis=1)
            fp = (words_pred & ~self.Yt).sum(axis=1)
            fn = (~words_pred & self.Yt).sum(axis=1)
            counts = np.stack([tp, fp, fn], axis=1).astype(np.float64)
            sums = counts.sum(axis=0)[None, :]
            out.update(words_precision=float(precision_stat(sums, 1)[0]), words_recall=float(recall_stat(sums, 1)[0]),
                       words_f1=float(f1_stat(sums, 1)[0]),
                       words_f1_ci=bootstrap_ci(counts, f1_stat, nb, self.seed + 2),
                       words_precision_ci=bootstrap_ci(counts, precision_stat, nb, self.seed + 3),
                       words_recall_ci=bootstrap_ci(counts, recall_stat, nb, self.seed + 4))
        if self.hidden_words is not None:
            out["nearest_recall"] = self.nearest_recall(nearest)
        return out

    def nearest_recall(self, nearest: np.ndarray) -> float | None:
        """Mean share of a hidden text's content words that its nearest public text contains."""
        shares = [len(h & self.words_of_public(int(j))) / len(h)
                  for h, j in zip(self.hidden_words, nearest) if h]
        return float(np.mean(shares)) if shares else None


def _defence_row(name: str, utility: float, res: dict[str, Any]) -> dict[str, Any]:
    r, n, tr = res["readings"], res.get("naive") or {}, res["translation"]
    return {"defence": name, "utility_recall_at_10": rounded(utility), "attribute_top1": rounded(r.get("top1")),
            "attribute_top1_ci": r.get("top1_ci"), "attribute_naive": rounded(n.get("top1")),
            "words_f1": rounded(r.get("words_f1")), "words_naive_f1": rounded(n.get("words_f1")),
            "method": tr.method, "verdict": tr.verdict, "confidence": rounded(tr.confidence)}


def _summary(ctx: _Context, main: dict[str, Any], ideal: dict[str, Any], defence_rows: list[dict[str, Any]],
             max_leak: float | None) -> dict[str, Any]:
    r, nv = main["readings"], main.get("naive") or {}
    a = len(ctx.attrs)
    chance = 1.0 / a
    majority = None
    if ctx.y is not None:
        majority = float(np.bincount(ctx.y, minlength=a).max() / len(ctx.y))
    counts = Counter(int(i) for i in r["predicted"])
    leak = None
    if ctx.y is not None:
        best = max(v for v in (r.get("top1"), nv.get("top1")) if v is not None)
        leak = best - chance
    attribute = {
        "top1": rounded(r.get("top1")), "top1_ci": r.get("top1_ci"),
        "top3": rounded(r.get("top3")), "top3_ci": r.get("top3_ci"),
        "chance": rounded(chance), "chance_top3": rounded(min(3, a) / a), "majority": rounded(majority),
        "naive": rounded(nv.get("top1")), "naive_ci": nv.get("top1_ci"), "naive_top3": rounded(nv.get("top3")),
        "ideal": rounded(ideal.get("top1")), "ideal_ci": ideal.get("top1_ci"), "ideal_top3": rounded(ideal.get("top3")),
        "leak": rounded(leak),
        "predicted_counts": {ctx.attrs[i]: counts.get(i, 0) for i in range(a)},
    }
    probe = main.get("probe")
    words = {
        "f1": rounded(r.get("words_f1")), "f1_ci": r.get("words_f1_ci"),
        "precision": rounded(r.get("words_precision")), "precision_ci": r.get("words_precision_ci"),
        "recall": rounded(r.get("words_recall")), "recall_ci": r.get("words_recall_ci"),
        "naive_f1": rounded(nv.get("words_f1")), "naive_precision": rounded(nv.get("words_precision")),
        "naive_recall": rounded(nv.get("words_recall")),
        "ideal_f1": rounded(ideal.get("words_f1")), "ideal_f1_ci": ideal.get("words_f1_ci"),
        "ideal_precision": rounded(ideal.get("words_precision")), "ideal_recall": rounded(ideal.get("words_recall")),
        "public_f1": rounded(probe.public_f1_) if probe else None,
        "threshold": rounded(probe.threshold_) if probe else None,
        "vocabulary_size": int(main["word_scores"].shape[1]) if main["word_scores"] is not None else 0,
    }
    random_recall = None
    if ctx.hidden_words is not None:
        rng = np.random.default_rng(ctx.seed + 5)
        random_recall = ctx.nearest_recall(rng.integers(0, len(ctx.public), len(ctx.hidden_words)))
    nearest = {"k": ctx.n_nearest, "word_recall": rounded(r.get("nearest_recall")),
               "naive": rounded(nv.get("nearest_recall")), "ideal": rounded(ideal.get("nearest_recall")),
               "random": rounded(random_recall)}
    gate = None
    if max_leak is not None:
        failed = bool(leak is not None and leak > max_leak)
        gate = {"max_leak": float(max_leak), "leak": rounded(leak), "failed": failed}
    return {"translation": main["translation"].as_dict(), "attribute": attribute, "words": words, "nearest": nearest,
            "defences": defence_rows, "gate": gate}


def _predictions(ctx: _Context, main: dict[str, Any], keys: list[str] | None, vocab: list[str]) -> list[dict[str, Any]]:
    S, W = main["scores"], main["word_scores"]
    probe = main.get("probe")
    near_idx, near_cos = main["near_idx"], main["near_cos"]
    rows = []
    for i in range(len(S)):
        j = int(S[i].argmax())
        row: dict[str, Any] = {"row": i}
        if keys is not None:
            row["key"] = keys[i]
        row["attribute"] = ctx.attrs[j]
        row["attribute_index"] = j
        if ctx.y is not None:
            row["truth"] = ctx.attrs[int(ctx.y[i])]
        row["scores"] = {a: round(float(s), 4) for a, s in zip(ctx.attrs, S[i])}
        if W is not None and probe is not None:
            hits = np.nonzero(W[i] > probe.threshold_)[0]
            top = hits[np.argsort(-W[i][hits], kind="stable")][:WORDS_PER_ROW]
            row["words"] = [vocab[int(k)] for k in top]
        else:
            row["words"] = []
        row["nearest"] = [{"index": int(k), "text": ctx.public[int(k)], "cosine": round(float(c), 4)}
                          for k, c in zip(near_idx[i], near_cos[i])]
        rows.append(row)
    return rows


__all__ = ["run_audit", "resolve_truth", "not_aligned_warning", "NORMALIZE", "MIN_LEAKED", "MIN_PUBLIC"]
