"""Bilingual / model-to-model dictionaries: key pairs and how they meet two vocabularies."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .embeddings import Embeddings
from .errors import FormatError, ParameterError, VecbridgeError

Pair = tuple[str, str]


#: what separates the two keys of a line that holds no tab: ASCII whitespace, as in the vector readers
#: (a no-break space or another Unicode space is part of a key there, and so here)
_ASCII_SPACE = " \t\n\r\x0b\x0c"
_FIELDS = re.compile(f"[{_ASCII_SPACE}]+")


def read_lines(path: str | os.PathLike, encoding: str = "utf-8", what: str = "file") -> list[tuple[int, str]]:
    """``(line number, text)`` of every line of a small text file, lines ending at ``\\n`` only.

    A ``\\r`` before the ``\\n`` is removed; a ``\\r`` elsewhere stays in the line (it is not a line end,
    as in the vector readers). A UTF-8 byte-order mark is not part of the first line. A file that is not
    valid ``encoding`` text raises ``FormatError`` naming the file and the line; ``what`` names the file's
    kind in the other errors (missing file, a folder).
    """
    plain = str(encoding).lower().replace("_", "-") in ("utf-8", "utf8")
    codec = "utf-8-sig" if plain else encoding
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise FormatError("no such file", path) from None
    except IsADirectoryError:
        raise FormatError(f"is a directory; give a {what}", path) from None
    except PermissionError:
        raise FormatError("permission denied", path) from None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as e:
        line = data[: e.start].decode(codec, errors="replace").count("\n") + 1
        raise FormatError(f"not valid {encoding} text ({e.reason} at byte {e.start}); name the file's encoding "
                          "(CLI: --encoding, e.g. latin-1)", path, line) from None
    except LookupError:
        raise ParameterError(f"unknown text encoding {encoding!r} (--encoding)") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(i, ln[:-1] if ln.endswith("\r") else ln) for i, ln in enumerate(lines, 1)]


def _fields(line: str) -> list[str]:
    """The fields of a dictionary line: split on tabs when it holds one (a key may then hold spaces), else on
    ASCII whitespace; each field stripped of ASCII whitespace, trailing empty fields (a trailing tab) dropped."""
    if "\t" in line:
        parts = [p.strip(_ASCII_SPACE) for p in line.split("\t")]
        while parts and not parts[-1]:
            parts.pop()
        return parts
    return _FIELDS.split(line.strip(_ASCII_SPACE))


def read_dictionary(path: str | os.PathLike, encoding: str = "utf-8") -> list[Pair]:
    """Read ``source_key<TAB>target_key`` lines (ASCII whitespace also separates when a line holds no tab).

    Fields are split as the vector readers split them: on tabs when the line holds one, else on ASCII
    whitespace (space, tab, ``\\r``, vertical tab, form feed), so a no-break space is part of a key. Lines
    end at ``\\n`` (a ``\\r`` before it is removed); a trailing tab is ignored; blank lines are skipped.

    Comments: a line whose first non-blank character is ``#`` is a comment when that ``#`` stands alone
    (``# note``, ``#<TAB>note``, ``#``) or when the line does not hold exactly two fields (``#note``,
    ``#source target language``). Otherwise it is a pair, so keys that start with ``#`` (hashtags such as
    ``#ai<TAB>#ai``) are read. Comment lines are counted and said in a ``ReadWarning`` (how many, and the
    first line numbers).

    Any other line with fewer or more than two fields raises ``FormatError`` naming the file and line, as
    does a file that is not valid ``encoding`` text. Duplicate pairs are kept once (a source key may have
    several targets), also said in a ``ReadWarning``.
    """
    pairs: list[Pair] = []
    seen: set[Pair] = set()
    duplicates = 0
    comments: list[int] = []
    for lineno, line in read_lines(path, encoding, what="dictionary file (source<TAB>target per line)"):
        if not line.strip(_ASCII_SPACE):
            continue
        parts = _fields(line)
        if parts[0].startswith("#") and (len(parts) != 2 or parts[0] == "#" or parts[0][1] in _ASCII_SPACE):
            comments.append(lineno)
            continue
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise FormatError(
                f"expected 'source<TAB>target', got {len(parts)} field(s): {line[:80]!r}", path, lineno
            )
        pair = (parts[0], parts[1])
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
        else:
            duplicates += 1
    if not pairs:
        raise FormatError("the dictionary holds no pairs"
                          + (f" ({len(comments)} lines starting with # read as comments)" if comments else ""), path)
    if comments or duplicates:
        import warnings

        from .io.read_report import ReadWarning

        if comments:
            n, where = len(comments), ", ".join(map(str, comments[:3])) + (", ..." if len(comments) > 3 else "")
            warnings.warn(f"{path}: {n} line{'s' if n != 1 else ''} starting with # read as comment"
                          f"{'s' if n != 1 else ''}, not as pairs (line{'s' if n != 1 else ''} {where}); "
                          f"{len(pairs)} pair{'s' if len(pairs) != 1 else ''} read",
                          ReadWarning, stacklevel=2)
        if duplicates:
            warnings.warn(f"{path}: {duplicates} repeated pairs kept once ({len(pairs)} distinct pairs)", ReadWarning,
                          stacklevel=2)
    return pairs


def write_dictionary(pairs: Iterable[Pair], path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for s, t in pairs:
            fh.write(f"{s}\t{t}\n")


@dataclass
class PairCoverage:
    """How a list of pairs met two vocabularies. No pair is dropped without being counted here (the comment
    lines of a dictionary file are counted by :func:`read_dictionary`)."""

    n_pairs: int = 0
    n_used: int = 0
    missing_source: int = 0
    missing_target: int = 0
    missing_both: int = 0
    repeated: int = 0
    examples_missing: list[Pair] = field(default_factory=list)

    @property
    def n_missing(self) -> int:
        return self.missing_source + self.missing_target + self.missing_both

    def as_dict(self) -> dict:
        return {
            "n_pairs": self.n_pairs,
            "n_used": self.n_used,
            "missing_source_only": self.missing_source,
            "missing_target_only": self.missing_target,
            "missing_both": self.missing_both,
            "repeated": self.repeated,
            "examples_missing": [list(p) for p in self.examples_missing],
        }

    def summary(self) -> str:
        s = f"{self.n_used}/{self.n_pairs} pairs usable"
        if self.n_missing:
            s += (
                f"; {self.n_missing} skipped (source key missing: {self.missing_source}, "
                f"target key missing: {self.missing_target}, both: {self.missing_both})"
            )
            if self.examples_missing:
                s += f", e.g. {self.examples_missing[0]}"
        if self.repeated:
            s += f"; {self.repeated} repeated pair{'s' if self.repeated != 1 else ''} kept once"
        return s


def pair_rows(src: Embeddings, tgt: Embeddings, pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray, PairCoverage]:
    """Row indices ``(src_rows, tgt_rows)`` of the pairs whose keys both exist, and the coverage report."""
    if isinstance(pairs, (str, bytes, dict)) or not isinstance(pairs, Iterable):
        raise ParameterError(f"pairs must be a list of (source_key, target_key) pairs, got {type(pairs).__name__}")
    pairs = list(pairs)
    cov = PairCoverage(n_pairs=len(pairs))
    si, ti = src.index, tgt.index
    src_rows, tgt_rows = [], []
    seen: set[tuple[int, int]] = set()
    for i, p in enumerate(pairs):
        if isinstance(p, (str, bytes)) or not hasattr(p, "__len__") or len(p) != 2:
            raise ParameterError(f"pairs[{i}] must be a (source_key, target_key) pair, got {p!r}")
        s, t = p
        a, b = si.get(s), ti.get(t)
        if a is not None and b is not None:
            if (a, b) in seen:  # the same pair again adds nothing but weight: kept once, counted
                cov.repeated += 1
                continue
            seen.add((a, b))
            src_rows.append(a)
            tgt_rows.append(b)
            continue
        if a is None and b is None:
            cov.missing_both += 1
        elif a is None:
            cov.missing_source += 1
        else:
            cov.missing_target += 1
        if len(cov.examples_missing) < 5:
            cov.examples_missing.append((s, t))
    cov.n_used = len(src_rows)
    return np.asarray(src_rows, dtype=np.int64), np.asarray(tgt_rows, dtype=np.int64), cov


# -- seed dictionaries: pairs found without a dictionary file ----------------------------------------
_NUMERAL = re.compile(r"^[+-]?(\d+([.,:/]\d+)*|\d+(st|nd|rd|th))$")


def identical_pairs(src: Embeddings, tgt: Embeddings, limit: int | None = None) -> list[Pair]:
    """``(k, k)`` for every key both vocabularies share, in source (frequency) order; the first ``limit``
    when given."""
    pairs = [(k, k) for k in src.keys if k in tgt.index]
    return pairs[:limit] if limit else pairs


def numeral_pairs(src: Embeddings, tgt: Embeddings, limit: int | None = None) -> list[Pair]:
    """``(n, n)`` for the shared keys that are numerals (``7``, ``1990``, ``3.5``, ``21st``), in source order;
    the first ``limit`` when given."""
    pairs = [(k, k) for k in src.keys if _NUMERAL.match(k) and k in tgt.index]
    return pairs[:limit] if limit else pairs


#: the earlier public name of :func:`identical_pairs`, kept for code written against it
identity_pairs = identical_pairs


def group_by_source(pairs: Iterable[Pair]) -> dict[str, list[str]]:
    """Source key -> its gold targets (order of first appearance kept)."""
    out: dict[str, list[str]] = {}
    for s, t in pairs:
        golds = out.setdefault(s, [])
        if t not in golds:
            golds.append(t)
    return out


def keys_to_pair(
    src: Embeddings | np.ndarray,
    k: int,
    among: Sequence[str] | Sequence[int] | None = None,
    seed: int = 0,
    normalize: str | None = "unit center unit",
) -> list:
    """The ``k`` source items most worth pairing by hand: one near the centre of each of k clusters.

    Few-pair mode (``spectral-match`` with ``known_pairs`` / ``--dictionary``) needs a handful of items
    embedded by both models. Chosen at random, 10 pairs leave large parts of the space without an
    anchor; chosen here, they cover it: the source (normalised as the translators do) is cut into
    ``k`` clusters by k-means (seeded by ``seed``), and for each cluster, largest first, the nearest
    item not yet taken is picked. ``among``: only these keys (for :class:`Embeddings`) or rows (for
    an array) may be picked, e.g. the items whose text you still have; the clusters are still those
    of the whole source, so the picks represent all of it. Items whose vectors are exactly equal count
    as one: never two of them are picked, and ``k`` above the number of distinct vectors among the
    items that may be picked is refused. Returns keys (Embeddings) or row indices (array), in cluster
    order. What it buys over pairs drawn at random is measured in docs/unsupervised.md ("Few-pair
    mode"): with 10 pairs the outcome varies a lot from draw to draw either way.
    """
    from .normalize import Normalizer
    from .clustering import euclidean_kmeans

    is_emb = isinstance(src, Embeddings)
    X = np.asarray(src.vectors if is_emb else src, dtype=np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise VecbridgeError(f"keys_to_pair needs a non-empty 2-D set of vectors, got shape {X.shape}")
    if among is None:
        pool = np.arange(len(X))
    elif is_emb:
        distinct = list(dict.fromkeys(among))
        missing = [a for a in distinct if a not in src.index]
        if missing:
            raise VecbridgeError(f"{len(missing)} of the {len(distinct)} distinct keys in 'among' are not in the "
                                 f"source vectors, e.g. {missing[0]!r}")
        pool = np.unique(np.asarray([src.index[a] for a in among], dtype=np.int64))
    else:
        pool = np.unique(np.asarray(among, dtype=np.int64))
        if len(pool) and (pool.min() < 0 or pool.max() >= len(X)):
            raise VecbridgeError(f"'among' holds row indices outside 0..{len(X) - 1}")
    if not 1 <= int(k) <= len(pool):
        raise VecbridgeError(f"k must be between 1 and the {len(pool)} items that may be picked, got {k}")
    same = vector_groups(X[pool])  # items with one vector are one item to pair: never two of them picked
    n_distinct = int(same.max()) + 1
    if int(k) > n_distinct:
        raise VecbridgeError(f"k={k}: the {len(pool)} items that may be picked hold only {n_distinct} distinct "
                             f"vectors ({len(pool) - n_distinct} repeat another item's vector), so at most "
                             f"{n_distinct} items can be told apart; ask for {n_distinct} or fewer")
    Z = Normalizer(normalize).fit(X).transform(X) if normalize else X
    centroids, labels = euclidean_kmeans(Z, int(k), np.random.default_rng(seed))
    sizes = np.bincount(labels, minlength=int(k))
    P = Z[pool]
    S = P @ centroids.T - 0.5 * (P * P).sum(1, keepdims=True)  # (pool, k): larger = nearer the centroid
    taken = np.zeros(len(pool), dtype=bool)
    picked = []
    for c in np.argsort(-sizes, kind="stable"):
        order = np.argsort(-S[:, c], kind="stable")
        i = order[~taken[order]][0]
        taken[same == same[i]] = True
        picked.append(int(pool[i]))
    return [src.keys[i] for i in picked] if is_emb else picked


def vector_groups(X: np.ndarray) -> np.ndarray:
    """(n,) int64: a group number per row of ``X`` (n, d), equal for rows with exactly equal vectors and numbered
    0, 1, ... so that ``max() + 1`` is the number of distinct vectors."""
    X = np.ascontiguousarray(X)
    if len(X) == 0:
        return np.zeros(0, dtype=np.int64)
    X = X + 0.0  # -0.0 and 0.0 are one value
    rows = X.view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
    return np.unique(rows, return_inverse=True)[1].astype(np.int64).ravel()


def first_pairs(pairs: Sequence[Pair], n: int) -> list[Pair]:
    """The first ``n`` pairs (a seed dictionary cut from a longer one); ``n`` must be positive."""
    if int(n) < 1:
        raise VecbridgeError(f"the number of seed pairs must be >= 1, got {n}")
    return list(pairs[: int(n)])
