"""Does a word space keep its structure? Analogies (3CosAdd), WordSim353 and SimLex-999.

Pure functions over :class:`~vecbridge.Embeddings`. The evaluation data come
from :mod:`vecbridge.datasets` (gensim's test data); any list of
``(word1, word2, score)`` pairs or ``(a, b, c, d)`` questions works.

Both functions take ``select``: a predicate over an item's words that decides
which items belong to the group being scored (e.g. "every word is native" or
"at least one word is translated" for a merged model). Items outside the group
are not counted at all; items inside it whose words are missing from the
space are counted as uncovered (``n_oov``), never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import VecbridgeError
from ..normalize import unit_rows

Select = Callable[[tuple[str, ...]], bool]


def similarity_spearman(
    emb: Embeddings,
    pairs: Iterable[tuple[str, str, float]],
    *,
    select: Select | None = None,
) -> dict[str, Any]:
    """Spearman correlation between human scores and cosine similarities.

    Parameters
    ----------
    emb : Embeddings (n, d)
    pairs : ``(word1, word2, human_score)`` items (WordSim353, SimLex-999, ...).
    select : keep only items for which ``select((word1, word2))`` is true.

    Returns
    -------
    dict: ``spearman`` (None when fewer than 3 pairs are covered), ``n_pairs``
    (items selected), ``n_covered`` (both words present), ``n_oov``,
    ``coverage`` and up to 5 ``oov_examples``.
    """
    from scipy.stats import spearmanr

    index = emb.index
    rows_a, rows_b, human, oov = [], [], [], []
    n_sel = 0
    for item in pairs:
        w1, w2, score = item[0], item[1], float(item[2])
        if select is not None and not select((w1, w2)):
            continue
        n_sel += 1
        i, j = index.get(w1), index.get(w2)
        if i is None or j is None:
            oov.append(w1 if i is None else w2)
            continue
        rows_a.append(i)
        rows_b.append(j)
        human.append(score)
    n = len(human)
    rho = None
    if n >= 3:
        A = unit_rows(emb.vectors[np.asarray(rows_a)])
        B = unit_rows(emb.vectors[np.asarray(rows_b)])
        cos = np.einsum("ij,ij->i", A, B, dtype=np.float64)
        r = spearmanr(np.asarray(human), cos).statistic
        rho = None if not np.isfinite(r) else float(r)
    return {
        "spearman": rho,
        "n_pairs": n_sel,
        "n_covered": n,
        "n_oov": n_sel - n,
        "coverage": (n / n_sel) if n_sel else None,
        "oov_examples": sorted(set(oov))[:5],
    }


def analogy_accuracy(
    emb: Embeddings,
    questions: Iterable[Sequence[str]],
    *,
    candidates: Sequence[str] | None = None,
    restrict_vocab: int = 30000,
    select: Select | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Accuracy on ``a : b :: c : d`` questions by 3CosAdd over a restricted vocabulary.

    The answer is ``argmax_w cos(w, b - a + c)`` over the candidate words,
    leaving out ``a``, ``b`` and ``c`` (on unit-length vectors, as in word2vec's
    ``compute-accuracy`` and gensim's ``evaluate_word_analogies``). A question
    is covered when all four words are candidates; uncovered ones are counted.

    Parameters
    ----------
    emb : Embeddings (n, d)
    questions : 4-tuples of words (e.g. ``datasets.load("analogies").questions``).
    candidates : the answer vocabulary; default the first ``restrict_vocab``
        keys of ``emb`` (word files are frequency-sorted).
    restrict_vocab : size of the default candidate set.
    select : keep only questions for which ``select((a, b, c, d))`` is true.
    batch_size : questions scored per matrix product (batch x candidates floats).

    Returns
    -------
    dict: ``accuracy`` (over covered questions; None when none is covered),
    ``n_correct``, ``n_questions`` (selected), ``n_covered``, ``coverage``,
    ``n_candidates``.
    """
    if batch_size < 1:
        raise VecbridgeError(f"batch_size must be positive, got {batch_size}")
    if candidates is None:
        cand_keys = emb.keys[: int(restrict_vocab)]
    else:
        cand_keys = list(dict.fromkeys(candidates))
    rows, missing = emb.rows_of(cand_keys)
    if missing:
        raise VecbridgeError(
            f"{len(missing)} candidate words are not in {emb.describe()}, first {missing[:5]!r}"
        )
    cand_keys = [emb.keys[i] for i in rows]
    pos = {k: i for i, k in enumerate(cand_keys)}
    C = unit_rows(emb.vectors[rows]) if len(rows) else np.zeros((0, emb.dim), np.float32)
    q_idx = []
    n_sel = 0
    for q in questions:
        q = tuple(q)
        if len(q) != 4:
            raise VecbridgeError(f"an analogy question needs 4 words, got {q!r}")
        if select is not None and not select(q):
            continue
        n_sel += 1
        ids = [pos.get(w) for w in q]
        if any(i is None for i in ids):
            continue
        q_idx.append(ids)
    n_cov = len(q_idx)
    correct = 0
    if n_cov:
        Q = np.asarray(q_idx, dtype=np.int64)
        for s in range(0, n_cov, batch_size):
            blk = Q[s : s + batch_size]
            target = unit_rows(C[blk[:, 1]] - C[blk[:, 0]] + C[blk[:, 2]])
            S = target @ C.T
            r = np.arange(len(blk))
            for col in range(3):
                S[r, blk[:, col]] = -np.inf
            correct += int((S.argmax(axis=1) == blk[:, 3]).sum())
    return {
        "accuracy": (correct / n_cov) if n_cov else None,
        "n_correct": correct,
        "n_questions": n_sel,
        "n_covered": n_cov,
        "coverage": (n_cov / n_sel) if n_sel else None,
        "n_candidates": len(cand_keys),
    }


def load_structure_data() -> dict[str, Any]:
    """The Google analogies, WordSim353 and SimLex-999 from gensim's test data.

    Returns ``{"analogies": [(a, b, c, d), ...], "wordsim353": [(w1, w2, s), ...],
    "simlex999": [...]}``, lower-cased. Needs gensim installed.
    """
    from ..datasets.word_evaluation_sets import build_analogies, build_simlex999, build_wordsim353

    return {
        "analogies": list(build_analogies().questions),
        "wordsim353": build_wordsim353(),
        "simlex999": build_simlex999(),
    }


def structure_scores(
    emb: Embeddings,
    data: dict[str, Any] | None = None,
    *,
    select: Select | None = None,
    candidates: Sequence[str] | None = None,
    restrict_vocab: int = 30000,
) -> dict[str, dict[str, Any]]:
    """Analogy accuracy and WordSim353 / SimLex-999 Spearman of one space.

    ``data`` as returned by :func:`load_structure_data` (loaded when None); a
    missing entry is skipped. Returns ``{"analogies": {...}, "wordsim353": {...},
    "simlex999": {...}}`` with the dicts of :func:`analogy_accuracy` and
    :func:`similarity_spearman`.
    """
    data = load_structure_data() if data is None else data
    out: dict[str, dict[str, Any]] = {}
    if data.get("analogies") is not None:
        out["analogies"] = analogy_accuracy(
            emb, data["analogies"], candidates=candidates, restrict_vocab=restrict_vocab, select=select
        )
    for name in ("wordsim353", "simlex999"):
        if data.get(name) is not None:
            out[name] = similarity_spearman(emb, data[name], select=select)
    return out


def structure_row(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Flatten :func:`structure_scores` into one table row: score and coverage per task."""
    row: dict[str, Any] = {}
    if "analogies" in scores:
        a = scores["analogies"]
        row["analogy_acc"] = a["accuracy"]
        row["analogy_n"] = f"{a['n_covered']}/{a['n_questions']}"
    for name, short in (("wordsim353", "ws353"), ("simlex999", "simlex")):
        if name in scores:
            s = scores[name]
            row[f"{short}_rho"] = s["spearman"]
            row[f"{short}_n"] = f"{s['n_covered']}/{s['n_pairs']}"
    return row


__all__ = [
    "similarity_spearman",
    "analogy_accuracy",
    "load_structure_data",
    "structure_scores",
    "structure_row",
]
