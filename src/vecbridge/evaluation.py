"""Evaluation of mapped embeddings: dictionary precision, hit rate, paired metrics.

Three settings, one function each, and :func:`evaluate_translator` to run a
fitted :class:`~vecbridge.Translator` through the right one:

- :func:`dictionary_precision`: bilingual lexicon induction. Each test source
  word is mapped and its nearest words are retrieved from the *whole* target
  vocabulary; P@k is the fraction of source words with any gold translation
  among the k best. Words whose keys are missing are counted (coverage), not
  silently dropped.
- :func:`hit_rate`: one vocabulary in two models (e.g. two word2vec runs): a
  word is a hit@k when its own key is among the k best targets of its mapped
  vector.
- :func:`paired_metrics`: paired rows (row i of the mapped set should land on
  row i of the truth, e.g. sentence embeddings from two encoders): mean cosine,
  top-1, mean rank and FOSCTTM.

Retrieval is by cosine (``"nn"``), CSLS (``"csls"``) or the inverted softmax
(``"isf"``), all computed in blocks (see :mod:`vecbridge.retrieval`). Compute
options (backend, threads, memory budget, progress) come as one ``compute=``
(:class:`~vecbridge.compute.Compute`); ``memory_budget_mb`` and ``progress``
override its fields. Every function returns a flat dict of plain Python numbers, lists and strings that
``json.dumps`` accepts; a precision over zero covered words is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .compute import Compute
from .dictionary import group_by_source
from .embeddings import Embeddings
from .errors import DimensionError, VecbridgeError
from .retrieval import CSLS_K, ISF_TEMPERATURE, canonical_method, nearest_neighbors, rank_of

_EXAMPLES = 5  # how many missing keys a report lists by name


def _check_ks(ks: Iterable[int]) -> list[int]:
    ks = tuple(ks)
    whole = all(not isinstance(k, (bool, np.bool_)) and (isinstance(k, (int, np.integer)) or (
        isinstance(k, (float, np.floating)) and float(k).is_integer())) for k in ks)
    if not ks or not whole or min(int(k) for k in ks) < 1:
        raise VecbridgeError(f"ks must be whole-number cut-offs >= 1 such as (1, 5, 10), got {ks!r}")
    return sorted({int(k) for k in ks})


def _first_hit_position(top: np.ndarray, query_rows: np.ndarray, gold_rows: np.ndarray, n_queries: int) -> np.ndarray:
    """Per query, the 0-based position of its first gold target in ``top`` (``top.shape[1]`` when none).

    ``(query_rows[j], gold_rows[j])`` lists every (query, gold target) pair;
    a query may have several golds.
    """
    width = top.shape[1]
    first = np.full(n_queries, width, dtype=np.int64)
    if len(query_rows) == 0:
        return first
    match = top[query_rows] == gold_rows[:, None]
    pos = np.where(match.any(axis=1), match.argmax(axis=1), width)
    np.minimum.at(first, query_rows, pos)
    return first


def _precisions(first: np.ndarray, ks: Sequence[int], prefix: str) -> dict[str, float | None]:
    n = len(first)
    return {f"{prefix}{k}": (float(np.mean(first < k)) if n else None) for k in ks}


def _retrieval_info(method: str, csls_k: int, isf_temperature: float) -> dict[str, Any]:
    info: dict[str, Any] = {"retrieval": method}
    if method == "csls":
        info["csls_k"] = int(csls_k)
    elif method == "isf":
        info["isf_temperature"] = float(isf_temperature)
    return info


def _first_hits(
    mapped_src: Embeddings,
    tgt: Embeddings,
    q_rows: Sequence[int],
    pair_q: Iterable[int],
    pair_t: Sequence[int],
    ks: Sequence[int],
    method: str,
    source_pool: Embeddings | None,
    csls_k: int,
    isf_temperature: float,
    **opts: Any,
) -> np.ndarray:
    """Per query row of ``mapped_src`` (``q_rows``), the position of its first gold target among its ``max(ks)``
    best targets in ``tgt`` (:func:`_first_hit_position`; ``pair_q`` / ``pair_t`` list the (query, gold target
    row) pairs). Retrieval by ``method`` with ``source_pool`` (default ``mapped_src``) for CSLS and ISF."""
    n_cov = len(q_rows)
    if not n_cov:
        return np.empty(0, dtype=np.int64)
    pool = source_pool if source_pool is not None else mapped_src
    Q = mapped_src.vectors[np.asarray(q_rows, dtype=np.int64)]
    top, _ = nearest_neighbors(
        Q,
        tgt.vectors,
        k=max(ks),
        method=method,
        csls_k=csls_k,
        isf_temperature=isf_temperature,
        source_pool=pool.vectors if method != "nn" else None,
        **opts,
    )
    first = _first_hit_position(top, np.asarray(pair_q, dtype=np.int64), np.asarray(pair_t, dtype=np.int64), n_cov)
    # a query mapped to the zero vector has no direction: tied with every target, it is a miss (as in rank_of),
    # not a hit for the first rows of the target file
    zero = ~np.any(Q != 0, axis=1)
    first[zero] = top.shape[1]
    return first


def _scores(
    first: np.ndarray,
    ks: Sequence[int],
    prefix: str,
    tested: tuple[str, int],
    missing_source: list[str],
    missing_target: list[str],
    tgt: Embeddings,
    retrieval_info: dict[str, Any],
    counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The report of :func:`dictionary_precision` and :func:`hit_rate`: precisions at ``ks`` over the covered
    queries (``first``), coverage of the ``tested = (name, number)`` words, missing words, ``counts``, and
    ``retrieval_info`` (:func:`_retrieval_info`) last."""
    name, n_all = tested
    n_cov = len(first)
    out: dict[str, Any] = _precisions(first, ks, prefix)
    out.update(
        {
            "coverage": (n_cov / n_all) if n_all else 0.0,
            name: n_all,
            "n_covered": n_cov,
            "n_missing_source": len(missing_source),
            "n_missing_target": len(missing_target),
            **(counts or {}),
            "examples_missing_source": missing_source[:_EXAMPLES],
            "examples_missing_target": missing_target[:_EXAMPLES],
            "n_target_vocabulary": len(tgt),
        }
    )
    out.update(retrieval_info)
    return out


def _check_same_space(a: Embeddings, b: Embeddings, what_a: str, what_b: str) -> None:
    if a.dim != b.dim:
        raise DimensionError(
            f"{what_a} ({a.describe()}) is {a.dim}-d but {what_b} ({b.describe()}) is {b.dim}-d; "
            "evaluate mapped source vectors against targets in the same space (transform / transform_target)"
        )


# -- dictionary precision -----------------------------------------------------------
def dictionary_precision(
    mapped_src: Embeddings,
    tgt: Embeddings,
    test_pairs: Sequence[tuple[str, str]],
    ks: Iterable[int] = (1, 5, 10),
    retrieval: str = "nn",
    source_pool: Embeddings | None = None,
    *,
    csls_k: int = CSLS_K,
    isf_temperature: float = ISF_TEMPERATURE,
    memory_budget_mb: float | None = None,
    progress: bool | None = None,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Precision at k of word translation against a dictionary with possibly several golds per word.

    Parameters
    ----------
    mapped_src : Embeddings (n_s, d): source vectors already mapped into the target space.
    tgt : Embeddings (n_t, d): the target space; retrieval searches all of it.
    test_pairs : (source_key, target_key) pairs; a source key may appear with
        several targets, and a hit is any of them within the top k.
    ks : cut-offs.
    retrieval : ``"nn"``, ``"csls"`` or ``"isf"``.
    source_pool : the mapped source vectors used for CSLS' ``r_S`` and the ISF
        normaliser; default ``mapped_src`` itself (the whole vocabulary, not
        only the test words).

    Returns
    -------
    dict with ``p_at_<k>`` for each k (fractions over covered source words;
    None when none is covered), ``coverage`` (covered / all test source words),
    ``n_test_words``, ``n_covered``, ``n_missing_source`` (source word absent
    from ``mapped_src``), ``n_missing_target`` (source word present, none of its
    golds in ``tgt``), ``n_test_pairs``, ``n_gold_missing`` (gold translations
    of covered words absent from ``tgt``; they cannot be hit), examples of
    missing words, and ``retrieval``.
    """
    method = canonical_method(retrieval)
    ks = _check_ks(ks)
    _check_same_space(mapped_src, tgt, "mapped source", "target")
    golds = group_by_source(test_pairs)
    s_index, t_index = mapped_src.index, tgt.index
    q_rows: list[int] = []
    pair_q: list[int] = []
    pair_t: list[int] = []
    missing_source: list[str] = []
    missing_target: list[str] = []
    n_gold_missing = 0
    for word, targets in golds.items():
        row = s_index.get(word)
        if row is None:
            missing_source.append(word)
            continue
        found = [t_index[t] for t in targets if t in t_index]
        if not found:
            missing_target.append(word)
            continue
        n_gold_missing += len(targets) - len(found)
        qi = len(q_rows)
        q_rows.append(row)
        pair_q.extend([qi] * len(found))
        pair_t.extend(found)
    if q_rows and source_pool is not None:
        _check_same_space(source_pool, tgt, "source_pool", "target")
    first = _first_hits(mapped_src, tgt, q_rows, pair_q, pair_t, ks, method, source_pool, csls_k, isf_temperature,
                        memory_budget_mb=memory_budget_mb, progress=progress, compute=compute)
    counts = {"n_test_pairs": int(sum(len(v) for v in golds.values())), "n_gold_missing": int(n_gold_missing)}
    return _scores(first, ks, "p_at_", ("n_test_words", len(golds)), missing_source, missing_target, tgt,
                   _retrieval_info(method, csls_k, isf_temperature), counts)


# -- same-vocabulary hit rate ---------------------------------------------------------
def hit_rate(
    mapped_src: Embeddings,
    tgt: Embeddings,
    keys: Iterable[str] | None = None,
    ks: Iterable[int] = (1, 5, 10),
    retrieval: str = "nn",
    *,
    source_pool: Embeddings | None = None,
    csls_k: int = CSLS_K,
    isf_temperature: float = ISF_TEMPERATURE,
    memory_budget_mb: float | None = None,
    progress: bool | None = None,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Fraction of words whose own key is among the k best targets of their mapped vector.

    Parameters
    ----------
    mapped_src : Embeddings (n_s, d), mapped into the target space.
    tgt : Embeddings (n_t, d); retrieval searches all of it.
    keys : the words to test; default every key both sides share (in source order).
    ks, retrieval, source_pool : as in :func:`dictionary_precision`.

    Returns
    -------
    dict with ``hit_at_<k>`` (fractions over covered keys; None when none is
    covered), ``coverage``, ``n_keys``, ``n_covered``, ``n_missing_source``,
    ``n_missing_target`` (present in the source, absent from the target),
    examples of missing keys, and ``retrieval``.
    """
    method = canonical_method(retrieval)
    ks = _check_ks(ks)
    _check_same_space(mapped_src, tgt, "mapped source", "target")
    s_index, t_index = mapped_src.index, tgt.index
    if keys is None:
        keys = [k for k in mapped_src.keys if k in t_index]
    else:
        if isinstance(keys, (str, bytes)):
            raise VecbridgeError(f"keys must be a list of words, got the single string {keys!r} (give [{keys!r}])")
        keys = list(dict.fromkeys(str(k) for k in keys))
    q_rows, gold = [], []
    missing_source: list[str] = []
    missing_target: list[str] = []
    for key in keys:
        row = s_index.get(key)
        if row is None:
            missing_source.append(key)
            continue
        t = t_index.get(key)
        if t is None:
            missing_target.append(key)
            continue
        q_rows.append(row)
        gold.append(t)
    first = _first_hits(mapped_src, tgt, q_rows, np.arange(len(q_rows)), gold, ks, method, source_pool, csls_k,
                        isf_temperature, memory_budget_mb=memory_budget_mb, progress=progress, compute=compute)
    return _scores(first, ks, "hit_at_", ("n_keys", len(keys)), missing_source, missing_target, tgt,
                   _retrieval_info(method, csls_k, isf_temperature))


# -- paired rows ----------------------------------------------------------------------
def _rowwise_cosine(A: np.ndarray, B: np.ndarray, block: int = 65536) -> np.ndarray:
    """cos(A[i], B[i]) for every i, (n,) float64; a zero row has cosine 0."""
    out = np.empty(A.shape[0], dtype=np.float64)
    for s in range(0, A.shape[0], block):
        a, b = A[s : s + block], B[s : s + block]
        dot = np.einsum("ij,ij->i", a, b, dtype=np.float64)
        na = np.sqrt(np.einsum("ij,ij->i", a, a, dtype=np.float64))
        nb = np.sqrt(np.einsum("ij,ij->i", b, b, dtype=np.float64))
        denom = na * nb
        out[s : s + block] = np.where(denom > 0, dot / np.where(denom > 0, denom, 1.0), 0.0)
    return out


def paired_metrics(
    mapped: Any,
    truth: Any,
    retrieval: str = "nn",
    *,
    csls_k: int = CSLS_K,
    isf_temperature: float = ISF_TEMPERATURE,
    memory_budget_mb: float | None = None,
    progress: bool | None = None,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Metrics for paired vector sets: row i of ``mapped`` should match row i of ``truth``.

    Parameters
    ----------
    mapped : (n, d) array or Embeddings (its vectors are used, in row order).
    truth : (n, d) array or Embeddings.
    retrieval : criterion for ``top1`` / ``mean_rank`` / ``mrr`` (``"nn"``,
        ``"csls"`` with ``mapped`` as the source pool, or ``"isf"``).

    Returns
    -------
    dict with

    - ``mean_cosine``: mean of cos(mapped[i], truth[i]);
    - ``top1``: fraction of rows whose best truth row is their own;
    - ``mean_rank``: mean 1-based rank of the own truth row among all n (1 is perfect);
    - ``mrr``: mean reciprocal rank;
    - ``foscttm``: "fraction of samples closer than the true match" (Liu et
      al. 2019), by cosine: for each mapped row, the fraction of the other
      n - 1 truth rows at least as close as its own, and the same from each
      truth row to the mapped rows, averaged over both directions. 0 is a
      perfect match, 0.5 chance;
    - ``n`` and ``retrieval``.

    Ties with the true match count against it (so an all-zero output scores
    at chance or worse, never well).
    """
    method = canonical_method(retrieval)
    M = mapped.vectors if isinstance(mapped, Embeddings) else np.asarray(mapped)
    Y = truth.vectors if isinstance(truth, Embeddings) else np.asarray(truth)
    if M.ndim != 2 or Y.ndim != 2:
        raise DimensionError(f"paired sets must be 2-D (n, d); got shapes {M.shape} and {Y.shape}")
    if M.shape[0] != Y.shape[0]:
        raise DimensionError(
            f"paired evaluation needs as many mapped rows as truth rows (row i matches row i); "
            f"got {M.shape[0]} and {Y.shape[0]}"
        )
    if M.shape[1] != Y.shape[1]:
        raise DimensionError(f"mapped rows are {M.shape[1]}-d but truth rows are {Y.shape[1]}-d")
    n = int(M.shape[0])
    if n == 0:
        raise VecbridgeError("paired evaluation got no rows")
    M = np.ascontiguousarray(M, dtype=np.float32)
    Y = np.ascontiguousarray(Y, dtype=np.float32)
    own = np.arange(n, dtype=np.int64)
    opts = dict(memory_budget_mb=memory_budget_mb, progress=progress, compute=compute)
    ranks = rank_of(M, Y, own, method=method, csls_k=csls_k, isf_temperature=isf_temperature, source_pool=M, **opts)
    cos_ranks = ranks if method == "nn" else rank_of(M, Y, own, **opts)
    back_ranks = rank_of(Y, M, own, **opts)
    if n > 1:
        foscttm = 0.5 * (float(np.mean(cos_ranks - 1)) + float(np.mean(back_ranks - 1))) / (n - 1)
    else:
        foscttm = 0.0
    out: dict[str, Any] = {
        "mean_cosine": float(np.clip(_rowwise_cosine(M, Y), -1.0, 1.0).mean()),
        "top1": float(np.mean(ranks == 1)),
        "mean_rank": float(np.mean(ranks)),
        "mrr": float(np.mean(1.0 / ranks)),
        "foscttm": foscttm,
        "n": n,
    }
    out.update(_retrieval_info(method, csls_k, isf_temperature))
    return out


# -- a translator end to end ------------------------------------------------------------
def chosen_map(translator: Any) -> Any:
    """The map that does the work: for an ``auto`` map the one auto chose (its ``chosen_``), else ``translator``."""
    try:
        inner = getattr(translator, "chosen_", None)
    except VecbridgeError:  # an auto map not fitted yet
        inner = None
    return inner if inner is not None else translator


def chosen_method(translator: Any) -> str | None:
    """The method auto chose for an ``auto`` map (``fit_info_["chosen_method"]``), None for any other map."""
    inner = chosen_map(translator)
    if inner is translator:
        return None
    fit = getattr(translator, "fit_info_", None) or {}
    return fit.get("chosen_method") or getattr(inner, "method", type(inner).__name__)


def method_label(translator: Any) -> str:
    """A map's method as people read it: ``"procrustes (chosen by auto)"`` for an auto map, else its name."""
    own = getattr(translator, "method", type(translator).__name__)
    chosen = chosen_method(translator)
    return f"{chosen} (chosen by {own})" if chosen else own


def normalisation_label(translator: Any) -> str:
    """The normalisation steps the map applies (an auto map: those of the chosen map), e.g. ``"unit center unit"``;
    ``"none"`` when there are none, with the target's steps added where they differ from the source's."""
    inner = chosen_map(translator)
    steps = [" ".join(getattr(getattr(inner, f"{side}_normalizer_", None), "steps", None) or []) or "none"
             for side in ("source", "target")]
    return steps[0] if steps[0] == steps[1] else f"{steps[0]} (target: {steps[1]})"


def fitted_without_pairs(translator: Any) -> bool | None:
    """True when the map was fitted on no pairs (``fit_info_["pairs_from"]`` "none (unsupervised)"), False when
    it was fitted on pairs, None when its record does not say (e.g. a map saved without one)."""
    fit = getattr(translator, "fit_info_", None) or {}
    source = fit.get("pairs_from")
    if source is not None:
        return str(source).startswith("none")
    n_pairs = fit.get("n_pairs")
    return None if n_pairs is None else int(n_pairs) == 0


def evaluate_translator(
    translator: Any,
    src: Any,
    tgt: Any,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    paired: bool = False,
    retrieval: str = "nn",
    ks: Iterable[int] = (1, 5, 10),
    csls_k: int = CSLS_K,
    isf_temperature: float = ISF_TEMPERATURE,
    memory_budget_mb: float | None = None,
    progress: bool | None = None,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Map ``src`` with a fitted translator and score it against ``tgt``.

    The source goes through ``translator.transform`` and the target through
    ``translator.transform_target`` (which puts target vectors where the map's
    output lives), then one of three modes:

    - dictionary (``pairs`` given): :func:`dictionary_precision`;
    - hit rate (neither ``pairs`` nor ``paired``): :func:`hit_rate` over the keys
      both sides share;
    - paired (``paired=True``): row i of ``src`` with row i of ``tgt``
      (:func:`paired_metrics`); arrays are accepted as well as Embeddings.

    Returns a flat JSON-able dict: the mode's metrics plus ``mode``,
    ``method`` (the translator's own: ``"auto"`` for an auto map), for an auto map
    ``chosen_method`` (the method auto chose, which made the figures) and the sizes of both sides.
    """
    if pairs is not None and paired:
        raise VecbridgeError(
            "pass either pairs=... (dictionary evaluation) or paired=True (row i with row i), not both"
        )
    method = canonical_method(retrieval)
    mapped = translator.transform(src)
    target = translator.transform_target(tgt)
    head: dict[str, Any] = {"method": getattr(translator, "method", type(translator).__name__)}
    if chosen_method(translator):
        head["chosen_method"] = chosen_method(translator)
    common = dict(csls_k=csls_k, isf_temperature=isf_temperature, memory_budget_mb=memory_budget_mb, progress=progress,
                  compute=compute)
    if paired:
        n_s, n_t = len(mapped), len(target)
        if n_s != n_t:
            raise DimensionError(
                f"paired evaluation needs as many source rows as target rows (row i of the source matches row i "
                f"of the target); got {n_s} and {n_t}. For different vocabularies, evaluate with pairs= "
                "or on shared keys"
            )
        head["mode"] = "paired"
        metrics = paired_metrics(mapped, target, method, **common)
    else:
        for side, what in ((mapped, "source"), (target, "target")):
            if not isinstance(side, Embeddings):
                raise VecbridgeError(
                    f"dictionary and hit-rate evaluation need keyed Embeddings; the {what} is a plain array "
                    "(pass Embeddings, or paired=True for row-aligned arrays)"
                )
        if pairs is not None:
            head["mode"] = "dictionary"
            metrics = dictionary_precision(mapped, target, list(pairs), ks=ks, retrieval=method, **common)
        else:
            head["mode"] = "hit_rate"
            metrics = hit_rate(mapped, target, ks=ks, retrieval=method, **common)
    head["n_source"] = len(mapped)
    head["n_target"] = len(target)
    return {**head, **metrics}


__all__ = ["dictionary_precision", "hit_rate", "paired_metrics", "evaluate_translator", "chosen_map", "chosen_method",
           "method_label", "normalisation_label", "fitted_without_pairs"]
