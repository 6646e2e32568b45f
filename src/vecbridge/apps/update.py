"""Update a word model with new text without invalidating what was built on the old vectors.

Two strategies (gensim 4 trains the word2vec models):

``warmstart``
    Continue training from the old vectors on the new corpus. With a full
    gensim ``Word2Vec`` model (it has its own vocabulary and output weights
    ``syn1neg``) the vocabulary is extended with ``build_vocab(update=True)``;
    with bare vectors (a word2vec / GloVe file, ``KeyedVectors``) a new model is
    built on the new corpus and the old vectors are intersected into it. Lock
    factors (``wv.vectors_lockf``) scale how much old words may move: 0 keeps
    them fixed, 1 lets them train freely. Old words absent from the new corpus
    keep their old vectors.

``align``
    Train a fresh model on the new corpus, then rotate it into the old space
    with Procrustes (with a global scale) fitted on *stable anchor words*:
    words frequent in both models whose nearest neighbours (among the anchor
    candidates) changed least. Old words keep their old vectors
    (``old_words="keep"``, the default) or take their aligned new ones
    (``"replace"``); new words get their aligned vectors.

The gensim 4 pitfalls, and what this module does about them:

- ``wv.vectors_lockf`` starts as ``np.ones(1)``: a length-1 array that gensim
  reads modulo its length, so any per-word lock factor needs it sized to the
  vocabulary first (``KeyedVectors.intersect_word2vec_format`` writes
  ``vectors_lockf[index]`` and fails with an IndexError otherwise).
  :func:`size_lockf` sizes it.
- ``build_vocab(update=True)`` grows ``wv.vectors`` and ``syn1neg`` but not
  ``vectors_lockf``: a lock array sized for the old vocabulary is then read
  modulo its old length, so new words silently get some old word's lock
  factor (0 means they never learn). It is re-sized after every update here.
- ``build_vocab(update=True)`` works only on a model trained in gensim with
  its own vocabulary; bare vectors have no output weights. Such input takes the
  intersect path instead, and a model without ``syn1neg`` (hierarchical
  softmax only) is refused with a message.
- ``train`` after an update needs ``total_examples`` and ``epochs`` given
  explicitly; both are passed.

Determinism: with ``workers=1`` and a ``seed`` the result is reproducible.
"""

from __future__ import annotations

import copy
import inspect
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import ParameterError, VecbridgeError
from ..normalize import unit_rows

STRATEGIES = ("warmstart", "align")
ORIGIN_OLD_KEPT = "old-kept"
ORIGIN_OLD_UPDATED = "old-updated"
ORIGIN_NEW = "new"

_ESCAPED = re.compile("[\udc80-\udcff]")
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


# -- corpus --------------------------------------------------------------------------------------
def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Word tokens: runs of letters and digits, an inner apostrophe kept (``don't``)."""
    return _TOKEN.findall(text.lower() if lowercase else text)


def read_corpus(path: str | os.PathLike, *, lowercase: bool = True, min_tokens: int = 1,
                encoding: str | None = None) -> list[list[str]]:
    """Tokenised sentences of a text file (one sentence or paragraph a line) or of a folder of ``*.txt`` files.

    Lines with fewer than ``min_tokens`` tokens are left out (empty lines
    always). ``encoding``: of every file (an undecodable byte is an error naming the file and line).
    By default UTF-8, and a byte that is not valid UTF-8 is read as a Latin-1 character (the rest of its
    line and file stay UTF-8), with a warning naming the file, the number of such lines and the first.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        if not files:
            raise VecbridgeError(f"{path}: the folder holds no *.txt files to read a corpus from")
    elif path.exists():
        files = [path]
    else:
        raise VecbridgeError(f"{path}: no such corpus file or folder")
    out = []
    for f in files:
        for line in _corpus_lines(f, encoding):
            toks = tokenize(line, lowercase)
            if toks and len(toks) >= min_tokens:
                out.append(toks)
    if not out:
        raise VecbridgeError(f"{path}: no tokens found; the corpus must be plain text, one sentence a line")
    return out


def _corpus_lines(f: Path, encoding: str | None) -> list[str]:
    """The text lines of one corpus file; see :func:`read_corpus` for the encodings."""
    raw = f.read_bytes()
    try:
        return raw.decode(encoding or "utf-8").splitlines()
    except UnicodeDecodeError as e:
        if encoding is not None:
            line = raw[: e.start].count(b"\n") + 1
            raise VecbridgeError(
                f"{f}, line {line}: not valid {encoding} text ({e.reason}); name the file's encoding "
                "(--encoding / encoding=)"
            ) from None
    lines: list[str] = []
    bad: list[int] = []
    for number, chunk in enumerate(raw.split(b"\n"), 1):
        text = chunk.decode("utf-8", errors="surrogateescape")  # a byte that is not UTF-8: U+DC80..U+DCFF
        if _ESCAPED.search(text):
            text = _ESCAPED.sub(lambda m: chr(ord(m.group()) - 0xDC00), text)  # that byte as Latin-1
            bad.append(number)
        lines.extend(text.splitlines())
    many = len(bad) != 1
    warnings.warn(
        f"{f}: {len(bad)} line{'s' if many else ''} (the first: line {bad[0]}) {'hold' if many else 'holds'} bytes "
        "that are not valid UTF-8, read as Latin-1 characters (the rest of the file as UTF-8); if the file has "
        "another encoding, name it (--encoding / encoding=)",
        UserWarning, stacklevel=3)
    return lines


# -- gensim helpers ------------------------------------------------------------------------------
def _gensim():
    try:
        from gensim.models import Word2Vec
    except ImportError as e:  # pragma: no cover - gensim is a dependency of the gensim extra
        raise VecbridgeError("updating a word model needs gensim: pip install 'vecbridge[gensim]'") from e
    return Word2Vec


def size_lockf(wv: Any, value: float = 1.0) -> np.ndarray:
    """Give ``wv.vectors_lockf`` one float32 entry per word (``value``), keeping existing entries.

    gensim 4 starts it as ``np.ones(1)`` and does not grow it on
    ``build_vocab(update=True)``; per-word lock factors need it sized.
    """
    n = len(wv.index_to_key)
    old = np.asarray(getattr(wv, "vectors_lockf", np.ones(1, np.float32)), dtype=np.float32)
    lockf = np.full(n, value, dtype=np.float32)
    if len(old) > 1:
        m = min(len(old), n)
        lockf[:m] = old[:m]
    wv.vectors_lockf = lockf
    return lockf


def intersect_vectors(wv: Any, old: Embeddings, lockf: float = 0.0) -> int:
    """Copy ``old``'s vectors into ``wv`` for the words both hold and set their lock factor.

    The in-memory equivalent of gensim's ``intersect_word2vec_format`` (which
    reads a file), with ``vectors_lockf`` sized first. Returns the number of
    words intersected. Dimensions must match.
    """
    if old.dim != wv.vector_size:
        raise VecbridgeError(f"the old vectors are {old.dim}-d but the model is {wv.vector_size}-d")
    size_lockf(wv)
    keys = [k for k in wv.index_to_key if k in old.index]
    if not keys:
        return 0
    rows_new = np.asarray([wv.key_to_index[k] for k in keys], dtype=np.int64)
    rows_old, _ = old.rows_of(keys)
    wv.vectors[rows_new] = old.vectors[rows_old]
    wv.vectors_lockf[rows_new] = np.float32(lockf)
    wv.norms = None
    return len(keys)


def model_embeddings(model: Any) -> Embeddings:
    """A gensim model's vectors as :class:`~vecbridge.Embeddings` (its vocabulary order)."""
    return Embeddings(list(model.wv.index_to_key), np.array(model.wv.vectors, dtype=np.float32))


def check_corpus_vocabulary(sentences: Sequence[Sequence[str]], min_count: int) -> None:
    """A clear error when no word of the corpus occurs ``min_count`` times (word2vec would learn nothing)."""
    from collections import Counter

    counts = Counter(w for s in sentences for w in s)
    if not any(c >= min_count for c in counts.values()):
        top = max(counts.values(), default=0)
        raise VecbridgeError(
            f"no word of the corpus occurs {min_count} times or more ({len(counts)} distinct words in "
            f"{len(sentences)} sentences, the most frequent {top} times), so word2vec has nothing to learn; give "
            "a larger corpus or a lower --min-count / min_count=")


def train_word2vec(
    sentences: Sequence[Sequence[str]],
    *,
    vector_size: int = 100,
    window: int = 5,
    min_count: int = 3,
    sg: int = 0,
    negative: int = 5,
    epochs: int = 5,
    seed: int = 0,
    workers: int = 1,
) -> Any:
    """A gensim ``Word2Vec`` trained on ``sentences`` (deterministic with ``workers=1``)."""
    check_training_settings(window=window, workers=workers)  # gensim hangs on a huge window, fails on huge workers
    Word2Vec = _gensim()
    sentences = list(sentences)
    check_corpus_vocabulary(sentences, min_count)
    return Word2Vec(sentences=sentences, vector_size=vector_size, window=window, min_count=min_count, sg=sg,
                    negative=negative, epochs=epochs, seed=seed, workers=workers)


# -- result ----------------------------------------------------------------------------------------
@dataclass
class UpdateResult:
    """What the update strategies return.

    ``embeddings``: the updated model: the old words first (old order), then
    the new words (by frequency in the new corpus). ``origin``: one of
    ``"old-kept"`` (the old vector, unchanged), ``"old-updated"`` (an old word
    whose vector the new corpus changed) or ``"new"`` per row. ``model``: the
    trained gensim model (for ``warmstart``, the updated one; for ``align``, the
    fresh one before alignment). ``info``: counts and settings.
    """

    strategy: str
    embeddings: Embeddings
    origin: list[str]
    model: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def new_words(self) -> list[str]:
        return [k for k, o in zip(self.embeddings.keys, self.origin) if o == ORIGIN_NEW]


def _assemble(old: Embeddings, trained: Embeddings, replace_old: bool, strategy: str, name: str) -> tuple:
    vecs = old.vectors.copy()
    origin = [ORIGIN_OLD_KEPT] * len(old)
    if replace_old:  # an old word counts as updated only when its vector changed
        present = np.flatnonzero([k in trained.index for k in old.keys])
        if len(present):
            rows_t, _ = trained.rows_of([old.keys[i] for i in present])
            taken = trained.vectors[rows_t]
            changed = present[(taken != old.vectors[present]).any(axis=1)]
            vecs[present] = taken
            for i in changed:
                origin[i] = ORIGIN_OLD_UPDATED
    new_rows = [i for i, k in enumerate(trained.keys) if k not in old.index]
    keys = list(old.keys) + [trained.keys[i] for i in new_rows]
    if new_rows:
        vecs = np.concatenate([vecs, trained.vectors[np.asarray(new_rows)]], axis=0)
    origin += [ORIGIN_NEW] * len(new_rows)
    meta = {"name": name, "updated_from": old.describe(), "update_strategy": strategy}
    return Embeddings(keys, vecs, meta), origin


def _result(strategy: str, old: Embeddings, trained: Embeddings, replace_old: bool, name: str, model: Any,
            info: dict[str, Any]) -> UpdateResult:
    """The updated model (:func:`_assemble`), its drift and number of new words added to ``info``."""
    emb, origin = _assemble(old, trained, replace_old=replace_old, strategy=strategy, name=name)
    info.update(_drift_info(old, emb, origin))
    info["n_new_words"] = origin.count(ORIGIN_NEW)
    return UpdateResult(strategy, emb, origin, model, info)


def _cos_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", unit_rows(A), unit_rows(B), dtype=np.float64)


def _mean_cosine(a: Embeddings, b: Embeddings, words: list[str]) -> float:
    """Mean cosine of each word's vector in ``a`` to its vector in ``b`` (both hold every word)."""
    rows_a, _ = a.rows_of(words)
    rows_b, _ = b.rows_of(words)
    return float(_cos_rows(a.vectors[rows_a], b.vectors[rows_b]).mean())


# -- warm start ------------------------------------------------------------------------------------
def update_warmstart(
    old: Embeddings | Any,
    sentences: Sequence[Sequence[str]],
    *,
    lockf: float = 0.0,
    epochs: int = 5,
    min_count: int = 3,
    window: int = 5,
    sg: int = 0,
    negative: int = 5,
    seed: int = 0,
    workers: int = 1,
) -> UpdateResult:
    """Continue training the old vectors on ``sentences``.

    Parameters
    ----------
    old : Embeddings (n, d) (bare vectors: intersect path) or a gensim
        ``Word2Vec`` trained in gensim (vocabulary-update path; it is copied,
        the caller's model is left as it was).
    sentences : tokenised sentences of the new corpus (:func:`read_corpus`).
    lockf : lock factor of the old words in [0, 1]: 0 keeps their vectors
        fixed, 1 trains them like new words. New words always get 1.
    epochs, min_count, window, sg, negative : word2vec training settings
        (``min_count`` applies to the new corpus).
    seed, workers : reproducible with ``workers=1``.

    A gensim ``Word2Vec`` goes on training with its own ``window``, ``sg``,
    ``workers`` and ``seed`` (``info["model_settings"]``); those given here
    apply to bare vectors only.

    Returns
    -------
    :class:`UpdateResult`; ``info["drift"]`` is the mean cosine of the old
    words whose vectors the training changed to their old vectors (None when
    none changed), over ``info["n_old_updated"]`` words; ``info["n_old_unchanged"]``
    counts the old words whose vectors stayed exactly as they were (absent
    from the new text, below ``min_count`` there, or held by ``lockf=0``).
    """
    if not 0.0 <= lockf <= 1.0:
        raise VecbridgeError(f"lockf must be in [0, 1], got {lockf}")
    check_training_settings(window=window, workers=workers)  # gensim hangs on a huge window, fails on huge workers
    Word2Vec = _gensim()
    sentences = list(sentences)
    info: dict[str, Any] = {"strategy": "warmstart", "lockf": lockf, "epochs": epochs, "min_count": min_count,
                            "seed": seed, "n_sentences": len(sentences)}
    if isinstance(old, Word2Vec):
        if not getattr(old, "negative", 0) or not hasattr(old, "syn1neg"):
            raise VecbridgeError(
                "this Word2Vec model has no negative-sampling output weights (syn1neg): it was trained with "
                "hierarchical softmax only or saved as vectors; pass its vectors (Embeddings) to take the "
                "intersect path instead"
            )
        if len(old.wv) == 0:
            raise VecbridgeError("this Word2Vec model has no vocabulary; build_vocab(update=True) needs a trained model")
        model = copy.deepcopy(old)
        old_emb = model_embeddings(old)
        n_before = len(model.wv)
        model.build_vocab(sentences, update=True, min_count=min_count)
        lf = size_lockf(model.wv, 1.0)  # the update does not grow vectors_lockf: size it now
        lf[:n_before] = np.float32(lockf)
        info["path"] = "build_vocab(update=True)"
        info["n_intersected"] = n_before
        # a trained model goes on with its own settings: window, sg, workers and seed given here do not apply
        info["model_settings"] = {"window": int(model.window), "sg": int(model.sg), "workers": int(model.workers),
                                  "seed": int(model.seed)}
        info["seed"] = int(model.seed)
    else:
        if not isinstance(old, Embeddings):
            raise VecbridgeError(f"old must be Embeddings or a gensim Word2Vec, got {type(old).__name__}")
        old_emb = old
        check_corpus_vocabulary(sentences, min_count)
        model = Word2Vec(vector_size=old.dim, window=window, min_count=min_count, sg=sg, negative=negative,
                         seed=seed, workers=workers)
        model.build_vocab(sentences)
        if not hasattr(model, "syn1neg"):  # pragma: no cover - negative > 0 always allocates it
            raise VecbridgeError("gensim did not allocate syn1neg; use negative > 0")
        info["path"] = "new model + intersected vectors"
        info["n_intersected"] = intersect_vectors(model.wv, old, lockf)
    info["n_vocab_new_corpus"] = len(model.wv)
    model.train(sentences, total_examples=len(sentences), epochs=epochs)
    return _result("warmstart", old_emb, model_embeddings(model), True, f"{old_emb.describe()} warm-started", model,
                   info)


def _drift_info(old: Embeddings, emb: Embeddings, origin: list[str]) -> dict[str, Any]:
    """Counts of old words whose vector changed (``n_old_updated``) or not (``n_old_unchanged``), and the drift:
    the mean cosine of the changed ones to their old vectors (None when none changed)."""
    rows = [i for i, o in enumerate(origin) if o == ORIGIN_OLD_UPDATED]
    n_unchanged = origin.count(ORIGIN_OLD_KEPT)
    if not rows:
        return {"n_old_updated": 0, "n_old_unchanged": n_unchanged, "drift": None}
    keys = [emb.keys[i] for i in rows]
    old_rows, _ = old.rows_of(keys)
    cos = _cos_rows(emb.vectors[np.asarray(rows)], old.vectors[old_rows])
    return {"n_old_updated": len(rows), "n_old_unchanged": n_unchanged, "drift": float(cos.mean()),
            "drift_p10": float(np.quantile(cos, 0.1))}


# -- align -----------------------------------------------------------------------------------------
def neighbour_overlap(A: np.ndarray, B: np.ndarray, k: int = 10) -> np.ndarray:
    """Share of each row's ``k`` nearest rows (cosine, itself excluded) that A and B agree on.

    A: (n, d_a), B: (n, d_b), row i of both is the same word -> (n,) float in [0, 1].
    """
    from ..retrieval import nearest_neighbors

    n = A.shape[0]
    k = min(k, n - 1)
    if k < 1:
        raise VecbridgeError("neighbour overlap needs at least 2 words")
    ia, _ = nearest_neighbors(A, A, k=k, exclude_self=True, progress=False)
    ib, _ = nearest_neighbors(B, B, k=k, exclude_self=True, progress=False)
    # entries both lists hold: (n, k, k) comparison, small for the k used here
    common = (ia[:, :, None] == ib[:, None, :]).any(axis=2).sum(axis=1)
    return common / k


def stable_anchors(
    old: Embeddings,
    new: Embeddings,
    *,
    n_candidates: int = 2000,
    stable_fraction: float = 0.5,
    k: int = 10,
) -> tuple[list[str], dict[str, Any]]:
    """Anchor words for aligning ``new`` into ``old``: frequent in both, with the least neighbourhood change.

    Candidates are the shared words ranked by their worse frequency rank of the
    two (both models frequency-ordered), the first ``n_candidates`` kept. Each
    candidate's ``k`` nearest candidates are found in both spaces; the
    ``stable_fraction`` with the largest overlap become anchors (ties broken by
    frequency). Returns the anchors and a summary.
    """
    if not 0.0 < stable_fraction <= 1.0:
        raise VecbridgeError(f"stable_fraction must be in (0, 1], got {stable_fraction}")
    shared = [w for w in new.keys if w in old.index]
    if len(shared) < 3:
        raise VecbridgeError(f"the old and new models share {len(shared)} words; aligning needs at least 3")
    rank = np.maximum([old.index[w] for w in shared], [new.index[w] for w in shared])
    order = np.argsort(rank, kind="stable")[:n_candidates]
    cand = [shared[i] for i in order]
    ov = neighbour_overlap(old.subset(cand).vectors, new.subset(cand).vectors, k=k)
    n_keep = max(3, int(round(len(cand) * stable_fraction)))
    keep = np.argsort(-ov, kind="stable")[:n_keep]
    anchors = [cand[i] for i in sorted(keep)]
    return anchors, {"n_shared": len(shared), "n_candidates": len(cand), "n_anchors": len(anchors),
                     "overlap_mean_candidates": float(ov.mean()), "overlap_mean_anchors": float(ov[keep].mean()),
                     "neighbourhood_k": min(k, len(cand) - 1)}


def check_anchor_settings(dim: int, n_candidates: int = 2000, stable_fraction: float = 0.5) -> int:
    """Refuse anchor settings that can never keep enough anchors to align ``dim``-dimensional vectors.

    :func:`stable_anchors` keeps at most ``max(3, round(n_candidates * stable_fraction))`` anchors (fewer when
    the two models share fewer words), and Procrustes needs at least ``dim`` of them. Returns the most anchors
    the settings can keep; raises :class:`ParameterError` naming ``--anchors`` / ``--stable-fraction`` when that
    is below ``dim``.
    """
    check_training_settings(n_candidates=n_candidates, stable_fraction=stable_fraction)
    most = min(n_candidates, max(3, int(round(n_candidates * stable_fraction))))
    if most < dim:
        need = int(np.ceil(dim / stable_fraction))
        while max(3, int(round(need * stable_fraction))) < dim:  # rounding
            need += 1
        fix = f"raise --anchors / n_candidates= to {need} or more"
        if n_candidates >= dim:
            fix += f", or --stable-fraction / stable_fraction= to {np.ceil(dim / n_candidates * 1000) / 1000:g} or more"
        raise ParameterError(
            f"--anchors {n_candidates} with --stable-fraction {stable_fraction:g} keeps at most {most} anchor "
            f"word{'s' if most != 1 else ''}, and aligning {dim}-d vectors needs at least {dim} (one per "
            f"dimension); {fix}")
    return most


def update_align(
    old: Embeddings,
    sentences: Sequence[Sequence[str]],
    *,
    old_words: str = "keep",
    n_candidates: int = 2000,
    stable_fraction: float = 0.5,
    neighbourhood_k: int = 10,
    epochs: int = 5,
    min_count: int = 3,
    window: int = 5,
    sg: int = 0,
    negative: int = 5,
    seed: int = 0,
    workers: int = 1,
) -> UpdateResult:
    """Train a new model on ``sentences`` and align it into ``old``'s space on stable anchors.

    Parameters
    ----------
    old : Embeddings (n, d), frequency-ordered.
    sentences : tokenised sentences of the new corpus.
    old_words : ``"keep"`` (old words keep their old vectors) or
        ``"replace"`` (old words seen in the new corpus take their aligned new
        vectors).
    n_candidates, stable_fraction, neighbourhood_k : anchor selection
        (:func:`stable_anchors`).
    epochs, min_count, window, sg, negative, seed, workers : the new model
        (``vector_size`` is the old model's dimension).

    Returns
    -------
    :class:`UpdateResult`; ``info`` holds the anchor summary,
    ``anchor_cosine`` (mean cosine of aligned anchors to their old vectors)
    and ``aligned_drift`` (the same over the shared non-anchor words: how far
    the new corpus moves old words), whatever ``old_words`` is.
    """
    from ..translators import make_translator

    if old_words not in ("keep", "replace"):
        raise VecbridgeError(f"old_words must be 'keep' or 'replace', got {old_words!r}")
    old = old if isinstance(old, Embeddings) else model_embeddings(old)
    check_anchor_settings(old.dim, n_candidates, stable_fraction)  # before training
    sentences = list(sentences)
    model = train_word2vec(sentences, vector_size=old.dim, window=window, min_count=min_count, sg=sg,
                           negative=negative, epochs=epochs, seed=seed, workers=workers)
    new = model_embeddings(model)
    anchors, a_info = stable_anchors(old, new, n_candidates=n_candidates, stable_fraction=stable_fraction,
                                     k=neighbourhood_k)
    tr = make_translator("procrustes", scale=True)
    need = tr.min_pairs(old.dim, new.dim)
    if len(anchors) < need:  # the settings allowed enough; the new corpus shares too few words with the old model
        raise VecbridgeError(
            f"the model trained on the new text shares {a_info['n_shared']} words with the old one, which keeps "
            f"{len(anchors)} anchor words (--anchors {n_candidates}, --stable-fraction {stable_fraction:g}); "
            f"aligning {old.dim}-d vectors needs at least {need}: give more new text (or a lower --min-count) or "
            "a higher --stable-fraction, or use --strategy warmstart")
    tr.fit(new, old, pairs=[(w, w) for w in anchors])
    aligned = tr.transform(new)
    info: dict[str, Any] = {"strategy": "align", "old_words": old_words, "epochs": epochs, "min_count": min_count,
                            "seed": seed, "n_sentences": len(sentences), "n_vocab_new_corpus": len(new),
                            "anchors": a_info, "procrustes_scale": float(tr.scale_)}
    info["anchor_cosine"] = _mean_cosine(aligned, old, anchors)
    anchor_set = set(anchors)
    rest = [w for w in new.keys if w in old.index and w not in anchor_set]
    if rest:
        info["aligned_drift"] = _mean_cosine(aligned, old, rest)
        info["n_aligned_drift_words"] = len(rest)
    return _result("align", old, aligned, old_words == "replace", f"{old.describe()} + aligned new corpus", model,
                   info)


#: training settings that must be positive integers (``seed``: a non-negative one)
_POSITIVE_SETTINGS = ("epochs", "min_count", "window", "workers", "n_candidates")
#: the largest context window: gensim keeps it in a C int (a larger one overflows in its worker threads, and
#: training then hangs), and no sentence is that long
MAX_WINDOW = 10_000
#: the most training threads: gensim starts one thread per worker (the operating system refuses beyond a few
#: thousand), and word2vec gains nothing from more threads than cores
MAX_WORKERS = 256
_UPPER_BOUNDS = {"window": MAX_WINDOW, "workers": MAX_WORKERS}


def check_training_settings(**settings: Any) -> None:
    """Refuse a word2vec training setting that cannot work, naming it as flag and argument.

    ``epochs``, ``min_count``, ``n_candidates``: integers >= 1; ``window``: from 1 to :data:`MAX_WINDOW`;
    ``workers``: from 1 to :data:`MAX_WORKERS`; ``negative``, ``seed``: integers >= 0; ``lockf``: in [0, 1];
    ``stable_fraction``: in (0, 1].
    """
    for name, v in settings.items():
        flag = "--anchors" if name == "n_candidates" else "--" + name.replace("_", "-")
        where = f"({flag} / {name}=)"
        is_int = isinstance(v, (int, np.integer)) and not isinstance(v, bool)
        hi = _UPPER_BOUNDS.get(name)
        if hi is not None and (not is_int or not 1 <= v <= hi):
            raise ParameterError(f"{name} must be an integer from 1 to {hi}, got {v!r} {where}")
        if name in _POSITIVE_SETTINGS and (not is_int or v < 1):
            raise ParameterError(f"{name} must be a positive integer, got {v!r} {where}")
        if name in ("seed", "negative") and (not is_int or v < 0):
            raise ParameterError(f"{name} must be a non-negative integer, got {v!r} {where}")
        if name in ("lockf", "stable_fraction"):
            ok = isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v)
            lo_ok = ok and (v >= 0 if name == "lockf" else v > 0)
            if not (ok and lo_ok and v <= 1):
                rng = "[0, 1]" if name == "lockf" else "(0, 1]"
                raise ParameterError(f"{name} must be a number in {rng}, got {v!r} {where}")


def update_word_model(old: Any, sentences: Sequence[Sequence[str]], strategy: str = "warmstart",
                      **kwargs: Any) -> UpdateResult:
    """Dispatch to :func:`update_warmstart` or :func:`update_align` by ``strategy``.

    The training settings are checked first (:func:`check_training_settings`); a setting the strategy does not
    take (``lockf`` with ``"align"``, ``old_words`` with ``"warmstart"``) raises :class:`ParameterError`.
    """
    check_training_settings(**{k: v for k, v in kwargs.items()
                               if k in (*_POSITIVE_SETTINGS, "seed", "negative", "lockf", "stable_fraction")})
    if strategy not in STRATEGIES:
        raise VecbridgeError(f"unknown update strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    funcs = {"warmstart": update_warmstart, "align": update_align}
    takes = {s: set(inspect.signature(f).parameters) - {"old", "sentences"} for s, f in funcs.items()}
    for k in kwargs:
        if k not in takes[strategy]:
            other = next((s for s in STRATEGIES if k in takes[s]), None)
            raise ParameterError(f"strategy {strategy!r} takes no setting {k!r}"
                                 + (f"; it is a setting of strategy {other!r}" if other else
                                    f"; its settings: {', '.join(sorted(takes[strategy]))}"))
    return funcs[strategy](old, sentences, **kwargs)


# -- comparing strategies --------------------------------------------------------------------------
def neighbours_of(emb: Embeddings, words: Iterable[str], k: int = 5) -> dict[str, list[str]]:
    """The ``k`` nearest words (cosine) of each word in ``emb``; words it lacks are left out."""
    from ..retrieval import nearest_neighbors

    words = [w for w in words if w in emb.index]
    if not words:
        return {}
    rows, _ = emb.rows_of(words)
    idx, _ = nearest_neighbors(emb.vectors[rows], emb.vectors, k=k + 1, progress=False)
    out = {}
    for w, r, ids in zip(words, rows, idx):
        out[w] = [emb.keys[j] for j in ids if j != r][:k]
    return out


def compare_updates(
    old: Embeddings,
    results: dict[str, UpdateResult],
    *,
    probe_words: Sequence[str] | None = None,
    n_probe: int = 8,
    k: int = 5,
    structure_data: dict[str, Any] | None = None,
    restrict_vocab: int = 30000,
) -> dict[str, Any]:
    """Compare update strategies: drift of old words, neighbours of new-domain words, structure scores.

    Parameters
    ----------
    old : the model before the update.
    results : name -> :class:`UpdateResult`.
    probe_words : new-domain words to show neighbours of; default the
        ``n_probe`` most frequent new words that every result holds.
    structure_data : see :func:`~vecbridge.apps.structure.load_structure_data`;
        None loads it, ``{}`` skips the scores.

    Returns
    -------
    dict with ``rows`` (one per model, the old one first: words, new words,
    drift, old words changed and unchanged, structure columns), ``neighbours`` ({model: {word: [...]}}) and
    ``probe_words``.
    """
    from .structure import load_structure_data, structure_row, structure_scores

    data = load_structure_data() if structure_data is None else structure_data
    if probe_words is None:
        common = None
        for r in results.values():
            s = set(r.new_words)
            common = s if common is None else common & s
        first = next(iter(results.values()), None)
        probe_words = [w for w in (first.new_words if first else []) if common and w in common][:n_probe]
    probe = list(probe_words)
    rows = []
    neighbours = {}
    models = {"old": (old, None)} | {name: (r.embeddings, r) for name, r in results.items()}
    for name, (emb, r) in models.items():
        row: dict[str, Any] = {"model": name, "n_words": len(emb),
                               "n_new": 0 if r is None else r.origin.count(ORIGIN_NEW)}
        row["drift"] = 1.0 if r is None else r.info.get("drift")
        if r is not None:
            row["n_old_changed"] = r.info.get("n_old_updated", 0)
            row["n_old_unchanged"] = r.info.get("n_old_unchanged", 0)
        if r is not None and "aligned_drift" in r.info:
            row["aligned_drift"] = r.info["aligned_drift"]
        if data:
            row.update(structure_row(structure_scores(emb, data, restrict_vocab=restrict_vocab)))
        rows.append(row)
        neighbours[name] = neighbours_of(emb, probe, k=k)
    return {"rows": rows, "neighbours": neighbours, "probe_words": probe,
            "drift_definition": "mean cosine of the old words whose vectors the update changed to their old vectors "
                                "(n_old_changed of them; None when no old vector changed, n_old_unchanged kept theirs)"}


__all__ = [
    "STRATEGIES",
    "MAX_WINDOW",
    "MAX_WORKERS",
    "tokenize",
    "model_embeddings",
    "check_training_settings",
    "check_anchor_settings",
    "read_corpus",
    "size_lockf",
    "intersect_vectors",
    "train_word2vec",
    "UpdateResult",
    "update_warmstart",
    "update_align",
    "update_word_model",
    "stable_anchors",
    "neighbour_overlap",
    "neighbours_of",
    "compare_updates",
]
