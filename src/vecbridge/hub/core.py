"""A hub: one shared space and one map per embedding space, so that any space translates into any other.

Two kinds:

- ``"linear"`` (default): a shared space of dimension ``shared_dim`` (default: the largest space's
  dimension) and one semi-orthogonal map per space (:mod:`vecbridge.hub.linalg`). ``translate(X, a, b)``
  normalises X with space a's normaliser, maps it into the shared space (``Q_a``) and back out into space b
  by the pseudo-inverse of b's map (``Q_b^T``). The output lives in b's *normalised* space, where every
  vecbridge map's output lives (:meth:`Hub.normalize` puts b's own vectors there).
- ``"vec2vec"``: the adversarial N-space model of :func:`vecbridge.translators.adversarial.train_vec2vec`
  (an input adapter per space, a shared backbone, an output adapter per space), trained on unpaired samples.

How a linear hub is fitted (:meth:`Hub.fit`):

- with items seen in several spaces (``items``: paired rows or a multi-column dictionary) and at least as
  many such items as the shared dimension: pairwise Procrustes along a spanning tree of the item-overlap
  graph, then generalised Procrustes over all spaces jointly. Each space's alignment is judged by
  :func:`vecbridge.verdict.judge_map` on *held-out* items (``validation``, at most 2,000): its mapped rows
  against the mean of the other spaces' mapped rows for the same items. A space judged "not aligned" is
  left out with the verdict's reason and the rest refitted; the final fit uses every item;
- with no items (unsupervised) or fewer items than the shared dimension (few-pair mode): pairwise maps
  by a method of :mod:`vecbridge.translators` (``method``, default ``auto`` when registered, else
  ``cluster-match``; few known pairs are passed to it) along a spanning set of edges chosen by the verdict
  (each new space is tried against the spaces already in, the first space first, at most ``max_edge_tries``
  edges; the aligned edge with the highest confidence is kept; spaces refused by every edge are retried as
  others join), optionally ``extra_edges`` more edges that close cycles; then rotation synchronisation.

A space that aligns with no other is never forced in (unless ``force``): it is listed in ``excluded_`` with
the verdict's reason, and :class:`HubNotAlignedError` is raised when fewer than two spaces remain.

A hub is saved as a folder: ``manifest.json`` (format ``vecbridge-hub``, versioned: kind, shared
dimension, spaces with their dimensions, normalisation and verdicts, the excluded spaces, how it was
fitted) and ``weights.safetensors`` (per space its map and normaliser statistics; vec2vec: the network).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..containment import check_name
from ..errors import DimensionError, KeyMissingError, ManifestError, NotFittedError, OutputExistsError, \
    ParameterError, VecbridgeError
from ..normalize import Normalizer, parse_steps
from ..jsonvalue import json_value
from ..translators.base import MANIFEST, WEIGHTS, Translator, as_float32_matrix, check_saved_folder, saved_format
from ..fingerprint import check_fingerprint, compare_to_fingerprint, space_fingerprint
from ..verdict import judge_pairs
from . import linalg

FORMAT_NAME = "vecbridge-hub"
FORMAT_VERSION = 1
KINDS = ("linear", "vec2vec")
#: held-out items per space for the verdict of a hub fitted with pairs (at most)
MAX_VALIDATION = 2000
#: rows per side an edge's linear map is read from
EDGE_ROWS = 8000


class HubNotAlignedError(VecbridgeError):
    """Fewer than two spaces aligned (or the space to add did not): ``excluded`` lists ``{name, reason}``."""

    def __init__(self, message: str, excluded: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.excluded = excluded or []


def check_space_name(name: object) -> str:
    """A space name becomes a key in the saved hub (never a path): letters, digits, ``_ - .``."""
    return check_name(name, "space")


def default_method() -> str:
    """The method for pairless edges: ``auto`` when registered, else ``cluster-match``."""
    from ..translators import REGISTRY

    return "auto" if "auto" in REGISTRY else "cluster-match"


def is_aligned(fit_info: Mapping[str, Any]) -> bool:
    """A fit counts as aligned unless its verdict says "not aligned" (or an older ``aligned`` flag is False)."""
    return fit_info.get("verdict", "aligned") != "not aligned" and fit_info.get("aligned") is not False


def judge_rows(mapped: np.ndarray, target: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The verdict (:func:`vecbridge.verdict.judge_map`) on rows already in one space, as a small dict."""
    from ..verdict import judge_map

    v = judge_map(mapped, target, seed=seed)
    return {"verdict": v.verdict, "confidence": round(v.confidence, 4), "verdict_reason": v.reason,
            "statistic": v.statistic, "value": round(v.value, 4), "n_eval": v.n_eval}


@dataclass
class HubSpace:
    """One space of a hub: its dimension, normaliser, map into the shared space (linear) or adapter index
    (vec2vec), and what is known of its fit (``info``: rows, verdict, confidence, how it joined)."""

    name: str
    dim: int
    normalizer: Normalizer
    map: np.ndarray | None = None
    index: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _rows(X: Any, name: str) -> np.ndarray:
    return as_float32_matrix(X, f"space {name!r}")


class Hub:
    """A shared space for N embedding spaces (see the module docstring).

    Parameters
    ----------
    kind : "linear" or "vec2vec"
    shared_dim : int, optional
        dimension of the shared space (linear); default the largest space's dimension, so that no space
        is projected. A smaller value projects the larger spaces (their maps have orthonormal columns).
    normalize : str, default "unit center unit"
        normalisation of every space (statistics fitted per space on all its rows).
    method : str, optional
        method of the pairless edges (unsupervised or few-pair mode); default :func:`default_method`.
    method_params : dict, optional
        hyper-parameters of that method.
    validation : float, default 0.2
        share of the items seen in several spaces held out to judge each space (at most 2,000).
    max_iter, tol : generalised Procrustes / synchronisation iterations and relative tolerance.
    max_edge_tries : int, default 3
        pairless edges tried per space before it is left out.
    extra_edges : int, default 0
        pairless edges fitted beyond the spanning set, closing cycles for the synchronisation.
    vec2vec_params : dict, optional
        ``train_vec2vec`` arguments (latent_dim, width, depth, steps, batch_size, lr, loss_weights, device).
    seed : int, default 0
    """

    def __init__(self, kind: str = "linear", shared_dim: int | None = None, normalize: str | None = "unit center unit",
                 method: str | None = None, method_params: dict | None = None, validation: float = 0.2,
                 max_iter: int = 100, tol: float = 1e-6, max_edge_tries: int = 3, extra_edges: int = 0,
                 vec2vec_params: dict | None = None, seed: int = 0):
        self.kind = kind
        self.shared_dim = shared_dim
        self.normalize = normalize
        self.method = method
        self.method_params = method_params
        self.validation = validation
        self.max_iter = max_iter
        self.tol = tol
        self.max_edge_tries = max_edge_tries
        self.extra_edges = extra_edges
        self.vec2vec_params = vec2vec_params
        self.seed = seed
        self._views: dict[tuple[str, str], HubMap] = {}

    # -- parameters -----------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("kind", "shared_dim", "normalize", "method", "method_params",
                                              "validation", "max_iter", "tol", "max_edge_tries", "extra_edges",
                                              "vec2vec_params", "seed")}

    def check_params(self, dims: Sequence[int] | None = None) -> Hub:
        """Refuse a bad parameter (:class:`ParameterError` naming it) before any work.

        ``dims``: the dimensions of the spaces to fit, when known: ``shared_dim`` must not exceed the largest
        (:meth:`fit` checks this itself once it has the spaces)."""
        if self.kind not in KINDS:
            raise ParameterError(f"hub kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.shared_dim is not None and (not isinstance(self.shared_dim, (int, np.integer))
                                            or isinstance(self.shared_dim, bool) or self.shared_dim < 1):
            raise ParameterError(f"shared_dim must be a positive integer, got {self.shared_dim!r}")
        if dims is not None:
            self._check_shared_dim(dims)
        parse_steps(self.normalize)
        if not (0 <= float(self.validation) < 1):
            raise ParameterError(f"validation must be a share in [0, 1), got {self.validation!r}")
        for name in ("max_iter", "max_edge_tries"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ParameterError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.extra_edges, (int, np.integer)) or self.extra_edges < 0:
            raise ParameterError(f"extra_edges must be a non-negative integer, got {self.extra_edges!r}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (float(self.tol) > 0):
            raise ParameterError(f"tol must be a positive number, got {self.tol!r}")
        for name in ("method_params", "vec2vec_params"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), dict):
                raise ParameterError(f"{name} must be a mapping of parameter names to values")
        if self.method is not None or (self.kind == "linear" and self.method_params):
            self._edge_translator()  # unknown method, or a parameter the edge method lacks: refused now
        if self.kind == "vec2vec" and self.vec2vec_params:
            import inspect

            from ..translators.adversarial import train_vec2vec

            known = set(inspect.signature(train_vec2vec).parameters) - {"spaces", "seed", "progress"}
            unknown = sorted(set(self.vec2vec_params) - known)
            if unknown:
                raise ParameterError(f"vec2vec has no parameter {unknown[0]!r}; its parameters: {', '.join(sorted(known))}")
        return self

    def _check_shared_dim(self, dims: Sequence[int]) -> None:
        """A linear hub's shared space has at most the dimension of its largest space: more holds nothing more
        (and a huge one would exhaust memory)."""
        top = max((int(d) for d in dims), default=0)
        if self.kind == "linear" and self.shared_dim is not None and top and self.shared_dim > top:
            raise ParameterError(
                f"--shared-dim {self.shared_dim} / shared_dim={self.shared_dim} is more than the largest space's "
                f"dimension ({top}); give at most {top}, or leave it out (the default is the largest space's "
                "dimension)")

    # -- state ----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """The names of the spaces in the hub, in order."""
        self._check_fitted()
        return list(self.spaces_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "spaces_"):
            raise NotFittedError("this hub is not fitted yet; call fit(...) or load a saved hub (load_hub)")

    def space(self, name: str) -> HubSpace:
        self._check_fitted()
        if name not in self.spaces_:
            raise KeyMissingError(f"the hub has no space {name!r}; its spaces: {', '.join(self.spaces_)}")
        return self.spaces_[name]

    def __repr__(self) -> str:
        if not hasattr(self, "spaces_"):
            return f"Hub(kind={self.kind!r}, unfitted)"
        sp = ", ".join(f"{n} ({s.dim}-d)" for n, s in self.spaces_.items())
        return f"Hub(kind={self.kind!r}, shared_dim={self.shared_dim_}, spaces=[{sp}])"

    # -- fitting --------------------------------------------------------------------------
    def _prepare(self, spaces: Mapping[str, Any]) -> tuple[list[str], list[np.ndarray], list[Normalizer], list[np.ndarray]]:
        if not isinstance(spaces, Mapping):
            raise VecbridgeError("spaces must be a mapping of space names to vectors ({'a': A, 'b': B, ...})")
        names = [check_space_name(n) for n in spaces]
        raw = [_rows(spaces[n], n) for n in names]
        for n, X in zip(names, raw):
            if len(X) < 2:
                raise VecbridgeError(f"space {n!r} has {len(X)} rows; a hub needs many rows per space")
        steps = parse_steps(self.normalize)
        norms = [Normalizer(steps).fit(X) for X in raw]
        Xn = [nm.transform(X) for nm, X in zip(norms, raw)]
        return names, raw, norms, Xn

    def fit(self, spaces: Mapping[str, Any], items: Mapping[str, Any] | None = None, *, force: bool = False,
            progress: bool | None = None) -> Hub:
        """Fit the hub on ``spaces`` (name -> (n_i, d_i) array or Embeddings); returns ``self``.

        items : optional name -> (n_i,) integer array: the item each row stands for (-1: none). Rows of
            different spaces with the same item id are the same item (paired rows: ``arange(n)`` for each;
            see :mod:`vecbridge.hub.pairing`). None: unsupervised (no pairs at all).
        force : keep spaces judged not aligned (their verdicts are still recorded).

        Raises :class:`HubNotAlignedError` when fewer than two spaces align.
        """
        self.check_params()
        t0 = time.perf_counter()
        for k in [k for k in vars(self) if k.endswith("_")]:
            delattr(self, k)
        self._views = {}
        names, raw, norms, Xn = self._prepare(spaces)
        if len(names) < 2:
            raise VecbridgeError(f"a hub needs at least two spaces, got {len(names)}")
        if len(set(names)) != len(names):
            raise VecbridgeError("two spaces have the same name")
        dims = [X.shape[1] for X in Xn]
        self._check_shared_dim(dims)
        item_arrays = self._check_items(items, names, raw) if items is not None else None
        info: dict[str, Any] = {"kind": self.kind, "n_rows": {n: int(len(X)) for n, X in zip(names, raw)}}
        if self.kind == "vec2vec":
            if item_arrays is not None:
                raise VecbridgeError("a vec2vec hub is fitted without pairs; give no items (CLI: --unsupervised)")
            k = int((self.vec2vec_params or {}).get("latent_dim", 256))
            state = self._fit_vec2vec(names, Xn, force, progress, info)
        else:
            k = int(self.shared_dim or max(dims))
            n_multi = 0
            if item_arrays is not None:
                # each item once per space: an item on two rows of one space is in one space, not two
                all_items = np.concatenate([np.unique(t[t >= 0]) for t in item_arrays])
                n_multi = int((np.bincount(all_items) >= 2).sum()) if len(all_items) else 0
                info["items_in_two_or_more_spaces"] = n_multi
            if item_arrays is not None and n_multi >= k:
                info["mode"] = "pairs (generalised Procrustes)"
                state = self._fit_supervised(names, Xn, item_arrays, k, force, info)
            else:
                if item_arrays is not None:
                    info["mode"] = (f"few pairs ({n_multi} items in two or more spaces, fewer than the shared "
                                    f"dimension {k}): pairless edges with the known pairs, synchronised")
                else:
                    info["mode"] = "unsupervised (pairless edges, synchronised)"
                state = self._fit_edges(names, Xn, item_arrays, k, force, progress, info)
        maps, verdicts, excluded = state
        self.shared_dim_ = k
        self.spaces_ = {}
        for i, n in enumerate(names):
            if n in excluded:
                continue
            sinfo = {"rows": int(len(raw[i])), "joined": "fit", **verdicts.get(n, {}),
                     "fingerprint": space_fingerprint(raw[i], seed=int(self.seed))}
            self.spaces_[n] = HubSpace(n, dims[i], norms[i], None if maps is None else
                                       np.ascontiguousarray(maps[i], dtype=np.float32),
                                       i if self.kind == "vec2vec" else None, sinfo)
        self.excluded_ = [{"name": n, **r} for n, r in excluded.items()]
        info["fit_seconds"] = round(time.perf_counter() - t0, 3)
        info["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.fit_info_ = info
        if len(self.spaces_) < 2:
            raise HubNotAlignedError(
                f"only {len(self.spaces_)} space(s) aligned with another; a hub needs two: "
                + "; ".join(f"{e['name']}: {e.get('reason')}" for e in self.excluded_), self.excluded_)
        return self

    @staticmethod
    def _check_items(items: Mapping[str, Any], names: list[str], raw: list[np.ndarray]) -> list[np.ndarray]:
        unknown = [n for n in items if n not in names]
        if unknown:
            raise KeyMissingError(f"items are given for {unknown[0]!r}, which is not a space of this hub; "
                                  f"spaces: {', '.join(names)}")
        out = []
        for n, X in zip(names, raw):
            t = np.asarray(items.get(n, np.full(len(X), -1)))
            if t.ndim != 1 or len(t) != len(X) or (t.size and not np.issubdtype(t.dtype, np.integer)):
                raise VecbridgeError(f"items of space {n!r} must be {len(X)} integers (one per row, -1: none), "
                                     f"got shape {t.shape} dtype {t.dtype}")
            out.append(t.astype(np.int64))
        return out

    # linear, with pairs -------------------------------------------------------------------
    def _fit_supervised(self, names, Xn, items, k, force, info):
        N = len(names)
        blocks = [(Xn[i][items[i] >= 0], items[i][items[i] >= 0]) for i in range(N)]
        n_items = 1 + int(max(int(t.max()) for _, t in blocks if len(t)))
        counts = np.zeros(n_items, dtype=np.int64)
        for _, t in blocks:
            np.add.at(counts, np.unique(t), 1)
        multi = np.nonzero(counts >= 2)[0]
        rng = np.random.default_rng(int(self.seed))
        n_val = int(min(MAX_VALIDATION, round(float(self.validation) * len(multi))))
        val = np.zeros(n_items, dtype=bool)
        if n_val >= 20:
            val[rng.permutation(multi)[:n_val]] = True
        else:
            n_val = 0
        share = f"--validation {float(self.validation):g} / validation={float(self.validation):g}"
        if n_val and len(multi) - n_val < k:
            most = int((len(multi) - k) / len(multi) * 100) / 100
            raise ParameterError(
                f"{share} holds out {n_val} of the {len(multi)} items seen in two or more spaces, leaving "
                f"{len(multi) - n_val} to fit on, too few for a shared space of {k} dimensions (at least {k}); "
                f"give at most --validation {most:g}, or 0 to judge each space on the items it is fitted on")
        info["validation_items"] = n_val
        train = [(X[~val[t]], t[~val[t]]) for X, t in blocks]
        held = [(X[val[t]], t[val[t]]) for X, t in blocks]
        active = list(range(N))
        excluded: dict[str, dict[str, Any]] = {}
        verdicts: dict[str, dict[str, Any]] = {}
        rounds = []
        while True:
            maps = self._gpa(train, active, k, info_key=info if not rounds else None)
            for i in active:
                if maps[i] is None:
                    n_shared = int((counts[np.unique(blocks[i][1])] >= 2).sum())
                    excluded[names[i]] = {"verdict": "not aligned", "reason": (
                        f"all {n_shared} items it shares with the other spaces are held out by {share}, leaving "
                        "none to fit it on; lower it" if n_shared else "it shares no item with the other spaces")}
            active = [i for i in active if maps[i] is not None]
            judged = held if n_val else train
            bad = []
            for i in active:
                v = self._judge_space(judged, maps, i, active, held_out=bool(n_val))
                v["judged_on"] = "held-out items" if n_val else "training items (too few items to hold some out)"
                verdicts[names[i]] = v
                if not is_aligned(v):
                    bad.append(i)
            rounds.append({names[i]: verdicts[names[i]]["verdict"] for i in active})
            if not bad or force:
                break
            for i in bad:
                excluded[names[i]] = {"verdict": "not aligned", "confidence": verdicts[names[i]]["confidence"],
                                      "reason": verdicts[names[i]]["verdict_reason"]}
                verdicts.pop(names[i])
            active = [i for i in active if i not in bad]
            if len(active) < 2:
                return None, verdicts, excluded
        info["verdict_rounds"] = rounds
        full = [blocks[i] if i in active else (blocks[i][0][:0], blocks[i][1][:0]) for i in range(N)]
        maps = self._gpa(full, active, k, info_key=info, start=maps)  # every item, from the judged maps
        return maps, verdicts, excluded

    def _gpa(self, blocks, active, k, info_key, start=None):
        sub = [blocks[i] if i in active else (blocks[i][0][:0], blocks[i][1][:0]) for i in range(len(blocks))]
        dims = [X.shape[1] for X, _ in blocks]
        root = max(active, key=lambda i: (dims[i], len(sub[i][1]), -i))
        if start is None:
            init, tree = linalg.spanning_init(sub, k, root)
        else:
            init, tree = start, []
        init = [Q if i in active else None for i, Q in enumerate(init)]
        maps, gpa = linalg.generalized_procrustes(sub, k, init, max_iter=int(self.max_iter), tol=float(self.tol))
        if info_key is not None:
            if tree:
                info_key["tree"] = [{"space": j, "onto": i, "shared_items": s} for j, i, s in tree]
            info_key["gpa"] = gpa
        return maps

    def _judge_space(self, blocks, maps, i, active, held_out: bool = True) -> dict[str, Any]:
        """Space i's mapped rows against the mean of the other spaces' mapped rows for the same items."""
        X, t = blocks[i]
        others = [m if (j in active and j != i) else None for j, m in enumerate(maps)]
        n_items = 1 + max((int(b[1].max()) for b in blocks if len(b[1])), default=-1)
        M, counts = linalg.consensus(blocks, others, n_items, maps[i].shape[1])
        keep = counts[t] > 0
        if keep.sum() < 20:
            return {"verdict": "uncertain", "confidence": None,
                    "verdict_reason": f"only {int(keep.sum())} items shared with the other spaces to judge it on"}
        mapped = (np.asarray(X[keep], dtype=np.float64) @ maps[i]).astype(np.float32)
        judge = judge_pairs if held_out else judge_rows
        return judge(mapped[:MAX_VALIDATION], M[t[keep]][:MAX_VALIDATION].astype(np.float32), seed=int(self.seed))

    # linear, without (enough) pairs ---------------------------------------------------------
    def _edge_translator(self):
        from ..translators import make_translator

        method = self.method or default_method()
        tr = make_translator(method, **(self.method_params or {}))
        params = tr.get_params()
        if "normalize" in params:
            tr.set_params(normalize=None)  # the hub gives the edge normalised rows
        if "seed" in params and "seed" not in (self.method_params or {}):
            tr.set_params(seed=int(self.seed))
        if "progress" in params:
            tr.set_params(progress=False)
        return tr.check_params()

    def _fit_edge(self, Xa: np.ndarray, Xb: np.ndarray, known: np.ndarray | None) -> dict[str, Any]:
        """A pairless map from normalised rows Xa to Xb (with optional known row pairs): its semi-orthogonal
        matrix (the Procrustes fit of the method's output), verdict and time."""
        tr = self._edge_translator()
        if tr.requires_pairs:
            raise VecbridgeError(f"method {tr.method!r} needs pairs; a pairless hub edge needs a method without "
                                 "(auto, cluster-match, spectral-match, selflearn)")
        t0 = time.perf_counter()
        tr.fit(Xa, Xb, known_pairs=known)
        fi = tr.fit_info_
        if "verdict" in fi:
            v = {"verdict": fi["verdict"], "confidence": fi.get("confidence"),
                 "verdict_reason": fi.get("verdict_reason")}
        else:
            from ..verdict import judge_translator

            jv = judge_translator(tr, Xa, Xb, seed=int(self.seed))
            v = {"verdict": jv.verdict, "confidence": round(jv.confidence, 4), "verdict_reason": jv.reason}
        n = min(len(Xa), EDGE_ROWS)
        W = linalg.procrustes_onto(Xa[:n], tr.transform(Xa[:n]))
        return {"W": W, **v, "method": fi.get("chosen_method") or tr.method,
                "seconds": round(time.perf_counter() - t0, 2), "n_known_pairs": 0 if known is None else len(known)}

    @staticmethod
    def _known_rows(items, a, b) -> np.ndarray | None:
        if items is None:
            return None
        ta, tb = items[a], items[b]
        ra, rb = np.nonzero(ta >= 0)[0], np.nonzero(tb >= 0)[0]
        _, ia, ib = np.intersect1d(ta[ra], tb[rb], return_indices=True)
        return np.stack([ra[ia], rb[ib]], axis=1) if len(ia) else None

    def _fit_edges(self, names, Xn, items, k, force, progress, info):
        from ..progress import progress_bar

        N = len(names)
        placed, pending = [0], list(range(1, N))
        edges, log, tried = [], [], set()
        best_refusal: dict[int, dict[str, Any]] = {}
        tries = {j: 0 for j in pending}
        bar = progress_bar(N - 1, "hub edges", progress)
        grew = True
        while pending and grew:
            grew = False
            for j in list(pending):
                found = []
                for i in [i for i in placed if (j, i) not in tried]:
                    if tries[j] >= int(self.max_edge_tries):
                        break
                    tried.add((j, i))
                    tries[j] += 1
                    e = self._fit_edge(Xn[j], Xn[i], self._known_rows(items, j, i))
                    log.append({"from": names[j], "to": names[i], **{x: e[x] for x in e if x != "W"}})
                    if is_aligned(e) or force:
                        found.append((e, i))
                        if e["verdict"] == "aligned":
                            break
                    elif (e.get("confidence") or 0) >= (best_refusal.get(j, {}).get("confidence") or -1):
                        best_refusal[j] = {"verdict": e["verdict"], "confidence": e.get("confidence"),
                                           "reason": f"edge to {names[i]} ({e['method']}): {e['verdict_reason']}"}
                if found:
                    e, i = max(found, key=lambda f: f[0].get("confidence") or 0)
                    edges.append((j, i, e["W"], max(float(e.get("confidence") or 0.0), 1e-3)))
                    placed.append(j)
                    pending.remove(j)
                    grew = True
                    bar.update(1)
        extra = 0
        for a in placed:
            for b in placed:
                if extra >= int(self.extra_edges):
                    break
                if a <= b or (a, b) in tried or (b, a) in tried:
                    continue
                tried.add((a, b))
                e = self._fit_edge(Xn[a], Xn[b], self._known_rows(items, a, b))
                log.append({"from": names[a], "to": names[b], "extra": True, **{x: e[x] for x in e if x != "W"}})
                extra += 1
                if is_aligned(e):
                    edges.append((a, b, e["W"], max(float(e.get("confidence") or 0.0), 1e-3)))
        bar.close()
        info["method"] = self.method or default_method()
        info["edges"] = log
        info["spanning_edges"] = [{"from": names[a], "to": names[b]} for a, b, _, _ in edges]
        excluded = {names[j]: best_refusal.get(j, {"verdict": "not aligned", "reason": "no edge was tried"})
                    for j in pending}
        verdicts: dict[str, dict[str, Any]] = {}
        for a, b, _, _ in edges:
            for x, y in ((a, b), (b, a)):
                e = next((r for r in log if r["from"] == names[x] and r["to"] == names[y]), None) or \
                    next((r for r in log if r["from"] == names[y] and r["to"] == names[x]), None)
                if e and (names[x] not in verdicts or (e.get("confidence") or 0) > (verdicts[names[x]].get("confidence") or 0)):
                    verdicts[names[x]] = {"verdict": e["verdict"], "confidence": e.get("confidence"),
                                          "verdict_reason": e.get("verdict_reason"), "judged_on": f"edge {e['from']} -> {e['to']}"}
        if len(placed) < 2:
            return None, verdicts, excluded
        dims = [X.shape[1] for X in Xn]
        maps, sync = linalg.synchronize_maps(dims, k, edges, 0, max_iter=int(self.max_iter))
        info["synchronisation"] = {**sync, "edge_residuals": [
            {"from": names[r["from"]], "to": names[r["to"]], "residual": r["residual"]} for r in sync["edge_residuals"]]}
        return maps, verdicts, excluded

    # vec2vec ------------------------------------------------------------------------------
    def _fit_vec2vec(self, names, Xn, force, progress, info):
        from ..translators.adversarial import train_vec2vec, vec2vec_translate

        params = dict(self.vec2vec_params or {})
        params.setdefault("device", "auto")
        params["batch_size"] = int(min(params.get("batch_size", 256), min(len(X) for X in Xn)))
        weights, tinfo = train_vec2vec(Xn, seed=int(self.seed), progress=bool(progress), **params)
        self._weights = weights
        self._depth = int(params.get("depth", 2))
        info["training"] = tinfo
        verdicts: dict[str, dict[str, Any]] = {}
        pair_verdicts = []
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if i == j:
                    continue
                n = min(len(Xn[i]), len(Xn[j]), 2000)
                v = judge_rows(vec2vec_translate(weights, Xn[i][:n], i, j, self._depth), Xn[j][:n], seed=int(self.seed))
                pair_verdicts.append({"from": a, "to": b, **v})
                if a not in verdicts or (v["confidence"] or 0) > (verdicts[a]["confidence"] or 0):
                    verdicts[a] = {**v, "judged_on": f"translation {a} -> {b} (training rows)"}
        info["pair_verdicts"] = pair_verdicts
        excluded = {}
        if not force:
            for a in names:
                if not any(is_aligned(p) for p in pair_verdicts if a in (p["from"], p["to"])):
                    excluded[a] = {"verdict": "not aligned", "confidence": verdicts[a]["confidence"],
                                   "reason": verdicts[a]["verdict_reason"]}
        return None, verdicts, excluded

    # -- adding a space -------------------------------------------------------------------
    def add(self, name: str, X: Any, anchors: Mapping[str, Any], items: Mapping[str, Any] | None = None, *,
            force: bool = False) -> Hub:
        """Add space ``name`` (vectors X) without refitting the others; returns ``self``.

        anchors : name -> vectors of spaces already in the hub (at least one), used only to place the new
            space: with ``items`` (name -> item per row, as in :meth:`fit`, the new space included) and at least
            as many shared items as the new space's dimension, by Procrustes onto the mean of the anchors'
            mapped rows (judged on held-out items); otherwise by a pairless edge to each anchor in turn (the
            aligned one with the highest confidence kept; known pairs from ``items`` when there are some).
        Raises :class:`HubNotAlignedError` when the new space aligns with no anchor (unless ``force``).
        """
        self._check_fitted()
        if self.kind != "linear":
            raise VecbridgeError("only a linear hub takes new spaces; refit a vec2vec hub with every space")
        name = check_space_name(name)
        if name in self.spaces_:
            raise VecbridgeError(f"the hub has a space named {name!r} already; choose another name")
        if not anchors:
            raise VecbridgeError("adding a space needs the vectors of at least one space already in the hub "
                                 f"(its spaces: {', '.join(self.spaces_)})")
        t0 = time.perf_counter()
        Xr = _rows(X, name)
        norm = Normalizer(parse_steps(self.normalize)).fit(Xr)
        Xnew = norm.transform(Xr)
        anchor_names = [check_space_name(a) for a in anchors]
        A = []
        for a in anchor_names:
            sp = self.space(a)
            Ar = _rows(anchors[a], a)
            if Ar.shape[1] != sp.dim:
                raise DimensionError(f"space {a!r} of the hub is {sp.dim}-d; its vectors given to place {name!r} "
                                     f"are {Ar.shape[1]}-d")
            fp = sp.info.get("fingerprint")
            same = compare_to_fingerprint(Ar, fp, "source") if fp else None
            if same is not None and same.matches is False and not force:
                raise VecbridgeError(
                    f"the vectors given for the hub's space {a!r} (to place {name!r}) do not look like that space: "
                    + same.reason.removeprefix("the vectors do not look like the map's source space: ")
                    + "; give that space's own vectors (force=True / --force goes on)")
            A.append(sp.normalizer.transform(Ar))
        k = self.shared_dim_
        all_names = [name, *anchor_names]
        t_items = None
        if items is not None:
            t_items = self._check_items(items, all_names, [Xr, *A])
        n_shared = 0
        if t_items is not None:
            anchor_items = np.concatenate([t[t >= 0] for t in t_items[1:]]) if len(t_items) > 1 else np.zeros(0, int)
            n_shared = int(np.isin(t_items[0][t_items[0] >= 0], anchor_items).sum())
        record: dict[str, Any] = {"joined": "add", "rows": int(len(Xr)), "anchors": anchor_names,
                                  "fingerprint": space_fingerprint(Xr, seed=int(self.seed))}
        if t_items is not None and n_shared >= min(Xnew.shape[1], k):
            Q, v = self._place_with_items(Xnew, A, anchor_names, t_items)
            record.update(mode="pairs (Procrustes onto the anchors' consensus)", shared_items=n_shared, **v)
        else:
            best, log = None, []
            for j, a in enumerate(anchor_names):
                known = self._known_rows(t_items, 0, j + 1) if t_items is not None else None
                e = self._fit_edge(Xnew, A[j], known)
                log.append({"to": a, **{x: e[x] for x in e if x != "W"}})
                if (is_aligned(e) or force) and (best is None or (e.get("confidence") or 0) > (best[0].get("confidence") or 0)):
                    best = (e, a)
            record["edges"] = log
            record["mode"] = "few pairs" if t_items is not None else "unsupervised"
            if best is None:
                top = max(log, key=lambda r: r.get("confidence") or 0)
                raise HubNotAlignedError(
                    f"space {name!r} did not align with {', '.join(anchor_names)}: {top['verdict_reason']}; "
                    "nothing added", [{"name": name, "verdict": top["verdict"], "confidence": top.get("confidence"),
                                       "reason": top["verdict_reason"]}])
            e, a = best
            Q = linalg.polar(e["W"] @ self.space(a).map.astype(np.float64))
            record.update(verdict=e["verdict"], confidence=e.get("confidence"), verdict_reason=e.get("verdict_reason"),
                          judged_on=f"edge {name} -> {a}")
        if not is_aligned(record) and not force:
            raise HubNotAlignedError(f"space {name!r} did not align with the hub: {record.get('verdict_reason')}; "
                                     "nothing added", [{"name": name, "verdict": record.get("verdict"),
                                                        "confidence": record.get("confidence"),
                                                        "reason": record.get("verdict_reason")}])
        record["seconds"] = round(time.perf_counter() - t0, 3)
        self.spaces_[name] = HubSpace(name, int(Xnew.shape[1]), norm, np.ascontiguousarray(Q, dtype=np.float32),
                                      None, record)
        self._views = {}
        return self

    def _place_with_items(self, Xnew, A, anchor_names, t_items):
        maps = [None] + [self.space(a).map.astype(np.float64) for a in anchor_names]
        blocks = [(X[t >= 0], t[t >= 0]) for X, t in zip([Xnew, *A], t_items)]
        n_items = 1 + max(int(t.max()) for _, t in blocks if len(t))
        M, counts = linalg.consensus(blocks, maps, n_items, self.shared_dim_)
        X0, t0 = blocks[0]
        keep = counts[t0] > 0
        X0, t0 = X0[keep], t0[keep]
        rng = np.random.default_rng(int(self.seed))
        n_val = int(min(MAX_VALIDATION, round(float(self.validation) * len(t0))))
        if n_val >= 20:
            perm = rng.permutation(len(t0))
            val, tr = perm[:n_val], perm[n_val:]
            Q = linalg.procrustes_onto(X0[tr], M[t0[tr]])
            v = judge_pairs((X0[val] @ Q).astype(np.float32), M[t0[val]].astype(np.float32), seed=int(self.seed))
            v["judged_on"] = "held-out items"
        else:
            Q = linalg.procrustes_onto(X0, M[t0])
            v = judge_rows((X0 @ Q).astype(np.float32), M[t0].astype(np.float32), seed=int(self.seed))
            v["judged_on"] = "training items (too few items to hold some out)"
        return linalg.procrustes_onto(X0, M[t0]), v

    # -- using ----------------------------------------------------------------------------
    def normalize_rows(self, X: Any, name: str) -> np.ndarray:
        """Space ``name``'s vectors X (n, d) normalised as the hub normalises them (where translations into
        ``name`` land)."""
        sp = self.space(name)
        X = _rows(X, name)
        if X.shape[1] != sp.dim:
            raise DimensionError(f"space {name!r} of the hub is {sp.dim}-d; got {X.shape[1]}-d vectors")
        return sp.normalizer.transform(X)

    def to_shared(self, X: Any, name: str) -> np.ndarray:
        """Rows of space ``name`` (n, d_name) -> the shared space (n, shared_dim). Linear hubs and vec2vec."""
        Xn = self.normalize_rows(X, name)
        sp = self.space(name)
        if self.kind == "vec2vec":
            from ..translators.adversarial import resmlp_forward

            z = resmlp_forward(self._weights, f"adapter_in.{sp.index}", Xn, self._depth)
            return resmlp_forward(self._weights, "backbone", z, self._depth)
        return Xn @ sp.map

    def translator(self, src: str, dst: str) -> HubMap:
        """The map ``src -> dst`` through the hub, as a :class:`Translator` (transform, transform_target,
        evaluate, stream, serve). Cached."""
        self.space(src)
        self.space(dst)
        key = (src, dst)
        if key not in self._views:
            self._views[key] = HubMap.of(self, src, dst)
        return self._views[key]

    def translate(self, X: Any, src: str, dst: str) -> Any:
        """Translate rows of space ``src`` (n, d_src) into space ``dst`` (n, d_dst, normalised as the hub
        normalises ``dst``). An Embeddings in gives an Embeddings out."""
        return self.translator(src, dst).transform(X)

    def cycle_error(self, X: Any, path: list[str]) -> dict[str, float]:
        """Round trip of ``X`` (rows of ``path[0]``) through ``path[1:]`` and back, in path[0]'s normalised
        space (:func:`vecbridge.hub.linalg.cycle_error`). Zero for spaces of the shared dimension."""
        if len(path) < 2:
            raise VecbridgeError("a cycle needs at least two spaces")
        Xn = self.normalize_rows(X, path[0])
        hops = list(zip(path, path[1:] + path[:1]))
        return linalg.cycle_error(Xn, [self.translator(a, b)._transform for a, b in hops])

    # -- persistence ----------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        self._check_fitted()
        from ..version import __version__

        return json_value({
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "vecbridge_version": __version__,
            "kind": self.kind,
            "shared_dim": int(self.shared_dim_),
            "normalization": parse_steps(self.normalize),
            "params": self.get_params(),
            "spaces": [{"name": s.name, "dim": s.dim, "index": s.index, **s.info} for s in self.spaces_.values()],
            "excluded": self.excluded_,
            "fit": self.fit_info_,
            **({"vec2vec": {"depth": self._depth}} if self.kind == "vec2vec" else {}),
        })

    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for s in self.spaces_.values():
            if s.map is not None:
                arrays[f"space.{s.name}.map"] = np.ascontiguousarray(s.map, dtype=np.float32)
            arrays.update(s.normalizer.state_arrays(f"space.{s.name}.normalizer"))
        if self.kind == "vec2vec":
            arrays.update({f"vec2vec.{k}": np.ascontiguousarray(v) for k, v in self._weights.items()})
        return arrays

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the hub to the folder ``path`` (atomically). An existing hub there is replaced only with
        ``overwrite``; any other existing folder content is never replaced."""
        from safetensors.numpy import save_file

        path = Path(path)
        manifest = self.manifest()
        check_hub_output(path, overwrite)
        with atomic_path(path) as tmp:
            tmp.mkdir()
            save_file(self._state_arrays(), str(tmp / WEIGHTS), metadata={"format": FORMAT_NAME})
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return path


def check_hub_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Check, before any work, that a hub can be written to the folder ``path`` (the rules of
    :func:`vecbridge.translators.base.check_saved_folder`)."""
    return check_saved_folder(path, overwrite, FORMAT_NAME, "hub")


def is_hub_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder whose manifest says format ``vecbridge-hub``."""
    return saved_format(path) == FORMAT_NAME


def read_hub_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and check a saved hub's manifest; errors name the file."""
    mpath = Path(path) / MANIFEST
    if not mpath.is_file():
        raise ManifestError(f"{mpath}: no manifest here; is {path} a folder written by 'vecbridge hub fit'?")
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ManifestError(f"{mpath}: the manifest is not valid JSON ({e})") from None
    except RecursionError:
        raise ManifestError(f"{mpath}: the manifest nests too deeply to be a vecbridge hub manifest") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT_NAME:
        raise ManifestError(f"{mpath}: not a vecbridge hub manifest (its 'format' is not {FORMAT_NAME!r})")
    v = m.get("format_version")
    if not isinstance(v, int) or v < 1:
        raise ManifestError(f"{mpath}: the manifest's 'format_version' is missing or not a positive integer")
    if v > FORMAT_VERSION:
        raise ManifestError(f"{mpath}: written by a newer vecbridge (hub format {v}); upgrade to read it")
    if m.get("kind") not in KINDS or not isinstance(m.get("shared_dim"), int) or not isinstance(m.get("spaces"), list):
        raise ManifestError(f"{mpath}: the manifest lacks a valid 'kind', 'shared_dim' or 'spaces'")
    for s in m["spaces"]:
        if not isinstance(s, dict) or not isinstance(s.get("dim"), int):
            raise ManifestError(f"{mpath}: a space entry lacks an integer 'dim'")
        try:
            check_space_name(s.get("name"))
        except ParameterError as e:
            raise ManifestError(f"{mpath}: {e}") from None
    return m


def load_hub(path: str | os.PathLike) -> Hub:
    """Load a hub saved with :meth:`Hub.save`."""
    from ..translators.base import read_weights

    path = Path(path)
    m = read_hub_manifest(path)
    arrays = read_weights(path)
    wpath = path / WEIGHTS
    params = dict(m.get("params") or {})
    try:
        hub = Hub(**params)
    except TypeError as e:
        raise ManifestError(f"{path}: the saved parameters do not fit this version ({e})") from None
    hub.shared_dim_ = int(m["shared_dim"])
    hub.spaces_ = {}
    steps = m.get("normalization", [])
    try:
        for s in m["spaces"]:
            name, dim = s["name"], int(s["dim"])
            norm = Normalizer.from_state(steps, arrays, f"space.{name}.normalizer", dim)
            Q = None
            if hub.kind == "linear":
                Q = arrays[f"space.{name}.map"]
                if Q.shape != (dim, hub.shared_dim_):
                    raise ManifestError(f"{wpath}: the map of space {name!r} has shape {Q.shape}, expected "
                                        f"{(dim, hub.shared_dim_)}")
            info = {k: v for k, v in s.items() if k not in ("name", "dim", "index")}
            if info.get("fingerprint") is not None:
                check_fingerprint(info["fingerprint"], dim, f"{path}: the fingerprint of space {name!r}")
            hub.spaces_[name] = HubSpace(name, dim, norm, Q, s.get("index"), info)
        if hub.kind == "vec2vec":
            hub._weights = {k[len("vec2vec."):]: v for k, v in arrays.items() if k.startswith("vec2vec.")}
            hub._depth = int(m.get("vec2vec", {}).get("depth", 2))
            if not hub._weights:
                raise ManifestError(f"{wpath}: the vec2vec weights are missing")
    except KeyError as e:
        raise ManifestError(f"{path}: manifest and weights do not fit together (missing {e})") from None
    hub.excluded_ = list(m.get("excluded") or [])
    hub.fit_info_ = dict(m.get("fit") or {})
    return hub


class HubMap(Translator):
    """The map from one space of a hub to another, as a :class:`Translator` (not fitted or saved by itself:
    fit and save the hub). Its output lives in the target space normalised as the hub normalises it."""

    method = "hub"

    def __init__(self):
        pass

    @classmethod
    def of(cls, hub: Hub, src: str, dst: str) -> HubMap:
        a, b = hub.space(src), hub.space(dst)
        obj = cls()
        obj._hub, obj._src, obj._dst = hub, src, dst
        obj.n_features_in_, obj.n_features_out_ = a.dim, b.dim
        obj.source_normalizer_, obj.target_normalizer_ = a.normalizer, b.normalizer
        if hub.kind == "linear":
            obj.W_ = np.ascontiguousarray(a.map.astype(np.float64) @ b.map.astype(np.float64).T, dtype=np.float32)
        steps = parse_steps(hub.normalize)
        obj.fit_info_ = {"source": {"name": src, "normalization": []}, "target": {"name": dst, "normalization": []},
                         "hub": {"kind": hub.kind, "shared_dim": hub.shared_dim_, "normalization": steps}}
        if a.info.get("fingerprint") or b.info.get("fingerprint"):  # hubs saved before fingerprints have none
            obj.fit_info_["fingerprints"] = {"source": a.info.get("fingerprint"), "target": b.info.get("fingerprint")}
        return obj

    def _transform(self, X: np.ndarray) -> np.ndarray:
        if self._hub.kind == "linear":
            return X @ self.W_
        from ..translators.adversarial import vec2vec_translate

        h = self._hub
        return vec2vec_translate(h._weights, X, h.space(self._src).index, h.space(self._dst).index, h._depth)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._state_arrays()
        if self._hub.kind == "vec2vec":
            arrays.update({f"vec2vec.{k}": v for k, v in self._hub._weights.items()})
            arrays["vec2vec.route"] = np.array([self._hub.space(self._src).index, self._hub.space(self._dst).index])
        return arrays

    def fit(self, *args: Any, **kwargs: Any) -> HubMap:  # noqa: D102
        raise VecbridgeError("a hub's map between two spaces is fitted with the hub (Hub.fit / vecbridge hub fit)")

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:  # noqa: D102
        raise VecbridgeError("a hub's map between two spaces is saved with the hub (Hub.save); "
                             "translate with the hub folder and --from / --to")


__all__ = ["Hub", "HubMap", "HubSpace", "HubNotAlignedError", "load_hub", "is_hub_folder", "read_hub_manifest",
           "check_hub_output", "check_space_name", "default_method", "load_map", "is_aligned", "judge_rows", "judge_pairs",
           "FORMAT_NAME", "FORMAT_VERSION", "KINDS"]


def load_map(path: str | os.PathLike, src: str | None = None, dst: str | None = None) -> Translator:
    """The translator saved at ``path``: a map folder, or a hub folder with the two spaces ``src`` -> ``dst``
    (the CLI's ``--from`` / ``--to``; its messages name those flags and these arguments). A hub without both, a
    space the hub lacks, or ``src`` / ``dst`` given for a map folder: ParameterError (a usage error, exit code 2)."""
    if is_hub_folder(path):
        names = [s["name"] for s in read_hub_manifest(path)["spaces"]]
        spaces = ", ".join(names)
        if not src or not dst:
            if not src and not dst:
                raise ParameterError(f"{path} is a hub: say which of its spaces to translate between with --from "
                                     f"and --to (its spaces: {spaces})")
            flag, what = ("--to", "into") if not dst else ("--from", "from")
            raise ParameterError(f"{path} is a hub: {flag} is missing; say which of its spaces to translate {what} "
                                 f"with {flag} SPACE (its spaces: {spaces})")
        for flag, arg, name in (("--from", "src", src), ("--to", "dst", dst)):
            if name not in names:
                raise ParameterError(f"{flag} / {arg}={name!r}: hub {path} has no space {name!r}; its spaces: {spaces}")
        return load_hub(path).translator(src, dst)
    if src or dst:
        given = " and ".join(f"{flag} / {arg}={name!r}" for flag, arg, name in
                             (("--from", "src", src), ("--to", "dst", dst)) if name)
        both = bool(src and dst)
        raise ParameterError(f"{given}: {'these choose spaces' if both else 'this chooses a space'} of a hub, and "
                             f"{path} is not a hub folder; leave {'them' if both else 'it'} out to use it as a map")
    from ..translators import load_translator

    return load_translator(path)
