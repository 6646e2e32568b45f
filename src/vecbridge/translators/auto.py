"""``auto``: choose the method from the inputs, fit it, and say why.

The mode follows from the pairs ``fit`` receives:

- **no pairs** (two unpaired samples or vocabularies): candidates are the identity (where the dimensions
  agree), self-learning from the similarity start (``selflearn``), ``cluster-match`` and ``spectral-match``.
  Every candidate is judged by the shared verdict (:mod:`vecbridge.verdict`), whose ``confidence`` means the
  same for every method, and the most confident map is kept. The favourite for the inputs (keyed
  vocabularies: self-learning; unkeyed samples: cluster-match) is fitted in full first, then the identity is
  judged unless the favourite already settled the search (its verdict costs about 2 s on 3,000 rows, as much as
  self-learning's whole fit on a planted rotation, and a map aligned from the favourite is refined past it). The others
  follow in order (vocabularies: cluster-match, spectral-match; samples: spectral-match, self-learning). While
  no map is aligned, each is completed in full, within ``time_budget``: quick settings miss maps the full fit
  finds (word2vec skip-gram 100-d -> CBOW 100-d: cluster-match's quick screen at confidence 0.00, its full fit
  aligned, held-out top-1 0.91), so a screen could only reorder them. The search stops once a map other than the
  identity is judged aligned with confidence >= ``EARLY_STOP`` (unkeyed samples: ``SAMPLE_EARLY_STOP``). While
  the best map is aligned below that, a candidate is first screened with cheap settings and completed only when
  its screen's confidence leads that map's by ``SCREEN_LEAD``. So auto costs little more than the
  method it keeps when the favourite aligns, and tries everything when nothing does. cluster-match fits again
  from fresh seeds when it is not judged aligned (its rescue) only where it is the favourite
  (``NOT_FAVOURITE``);
- **few pairs** (fewer than ``min(d_in, d_out)``, too few for a well-posed supervised fit): self-learning
  seeded by the pairs and cluster-match with the pairs as known pairs, chosen by the same verdict;
- **enough pairs**: the supervised methods whose dependencies are installed (Procrustes, the multi-step
  pipeline, least squares, the identity where the dimensions agree, RCSLS), chosen by ``cv_folds``-fold
  cross-validation on the pairs (mean top-1 of held-out pairs, cosine retrieval among the held-out targets,
  for keyed vocabularies also among the first ``CV_POOL`` target rows). Candidates are tried in that order and no new one starts once
  ``time_budget`` seconds have passed.

``fit_info_`` records ``auto`` (True), ``mode``, ``chosen_method``, every candidate with its score
(``candidates``; in the supervised mode with the warnings its cross-validation fits raised, ``warnings``, which
are not shown: only the chosen method's final fit warns), ``verdict``, ``confidence``, ``verdict_reason`` and
``pairless_score``.
What auto does as it goes (each candidate's start, and its outcome, score and seconds) is logged at info level
to the logger ``vecbridge.auto``: silent unless the application configures logging; ``vecbridge fit`` prints it.
The fitted map *is* the chosen method's map: ``transform`` delegates to it, and ``save`` writes its state
(arrays prefixed ``chosen.``) with its manifest under ``"chosen"`` in auto's manifest, so a reloaded auto
map transforms identically.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, ClassVar

import numpy as np

from ..compute import Compute
from ..errors import ParameterError, VecbridgeError
from ..normalize import unit_rows
from ..progress import progress_bar
from ..verdict import judge_inputs, rows_kind
from .base import Choice, FitData, Range, Translator, close_name
from .factory import make_translator
from .registry import ALIASES, translator_class

#: what auto is doing, one line per candidate (info level): silent unless the application configures logging;
#: ``vecbridge fit`` prints it to stderr (not with --quiet)
log = logging.getLogger("vecbridge.auto")
log.addHandler(logging.NullHandler())

#: screening stops once a candidate is judged aligned with at least this confidence (keyed vocabularies)
EARLY_STOP = 0.5
#: the same for unpaired samples, whose confidence also rewards maps right only at the level of clusters
#: (0.46-0.58 for such maps, 0.59-0.63 for right sentence maps): there every candidate is screened
SAMPLE_EARLY_STOP = 0.8
#: a candidate whose quick screen says "not aligned" is completed only when its confidence leads the best
#: completed map's by this much
SCREEN_LEAD = 0.10
#: target rows (besides the held-out targets) searched in cross-validation
CV_POOL = 5000

#: cheap settings of each candidate for effort="quick" (tests, small inputs)
QUICK_PARAMS: dict[str, dict[str, Any]] = {
    "selflearn": {"vocab_cutoff": 2000, "init_vocab": 1000, "max_iter": 8},
    "cluster-match": {"n_runs": 1, "n_finalists": 1, "qap_restarts": 5, "reanchor_clusters": (10,),
                      "reanchor_repeats": 0, "regional_restarts": 1, "regional_passes": 1, "n_sample": 240,
                      "rescue_starts": 0},
    "spectral-match": {"n_axes": 4, "n_sign_candidates": 2, "rotation_axes": 3, "rotation_restarts": 4,
                       "n_rotation_candidates": 1, "cluster_runs": 1, "n_finalists": 1, "polish_steps": 2},
    "rcsls": {"n_iter": 3, "n_candidates": 2000},
}
#: settings of a candidate completed when it is not the favourite for the inputs: cluster-match's rescue (more
#: fits from fresh seeds while none is judged aligned) is for the method expected to work; on vocabularies,
#: where self-learning is the favourite, auto completes cluster-match when nothing else aligned, most often on
#: spaces that do not align, and the rescue would double that fit's time for nothing
NOT_FAVOURITE: dict[str, dict[str, Any]] = {"cluster-match": {"rescue_starts": 0}}
#: settings auto always gives a candidate (selflearn: the old control runs are not the gate any more)
FIXED_PARAMS: dict[str, dict[str, Any]] = {"selflearn": {"n_controls": 0}}
SUPERVISED = [("procrustes", {"normalize": "unit center unit"}), ("recommended", {"normalize": "unit center unit"}),
              ("lstsq", {"normalize": "unit center unit"}), ("identity", {"normalize": "unit center unit"}),
              ("rcsls", {})]
#: supervised candidates tried only when ``methods`` names them
SUPERVISED_ON_REQUEST = [("cca", {"normalize": "unit center unit"})]
#: the candidates of the modes without (enough) pairs
PAIRLESS = ["selflearn", "cluster-match", "spectral-match"]


def candidate_names() -> list[str]:
    """Every method name auto can try (``methods=`` takes these, and aliases of them)."""
    return list(dict.fromkeys([n for n, _ in SUPERVISED + SUPERVISED_ON_REQUEST] + PAIRLESS))


class AutoTranslator(Translator):
    """Chooses and fits the method (see the module doc).

    Parameters
    ----------
    methods : tuple of str, optional
        Restrict the candidates to these registry names (default: all that fit the mode).
    effort : {"normal", "quick"}
        ``quick`` uses cheap settings for every candidate (tests, small inputs).
    cv_folds : int
        Folds of the cross-validation on the pairs (supervised mode).
    time_budget : float
        Seconds after which no new candidate is started (the one running finishes).
    seed : int
    progress : bool or None
        A progress display over the candidates (None: only on a terminal).
    device : str
        where the candidates that search neighbours (self-learning, cluster-match) do so: ``cpu`` (default),
        ``auto``, ``torch``, ``cuda``, ``cuda:N``, ``mps`` (as ``--device``).
    """

    method = "auto"
    needs = "spaces"
    requires_pairs = False
    param_ranges = {"effort": Choice(("normal", "quick")), "cv_folds": Range(2), "time_budget": Range(0)}
    saved_arrays: dict = {}

    def __init__(self, methods: tuple[str, ...] | None = None, effort: str = "normal", cv_folds: int = 3,
                 time_budget: float = 600.0, seed: int = 0, progress: bool | None = None, device: str = "cpu"):
        self.methods = methods
        self.effort = effort
        self.cv_folds = cv_folds
        self.time_budget = time_budget
        self.seed = seed
        self.progress = progress
        self.device = device

    def check_params(self) -> Translator:
        """The checks of every method, and ``methods``: each a method auto tries (an alias, such as
        ``orthogonal``, becomes the name it stands for; ``multistep`` and its aliases the ``recommended`` preset;
        ``cca`` joins the supervised candidates); an unknown name is refused with the closest known one."""
        super().check_params()
        if self.methods is None:
            return self
        if not self.methods:
            raise ParameterError("auto: parameter 'methods' is empty; give at least one method, or none for all")
        known = candidate_names()
        resolved = []
        for name in self.methods:
            if not isinstance(name, str):
                raise ParameterError(f"auto: parameter 'methods' holds {name!r}, not a method name")
            canon = ALIASES.get(name, name)
            canon = "recommended" if canon == "multistep" else canon
            if canon not in known:
                raise ParameterError(
                    f"auto: parameter 'methods' names {name!r}, which is not a method auto tries"
                    f"{close_name(name, [*known, *ALIASES])}; it tries {', '.join(known)}")
            if canon not in resolved:
                resolved.append(canon)
        self.methods = tuple(resolved)
        return self

    # -- choosing ------------------------------------------------------------
    def _params(self, name: str, extra: dict[str, Any] | None = None, effort: str | None = None) -> dict[str, Any]:
        quick = (effort or self.effort) == "quick"
        p = {**FIXED_PARAMS.get(name, {}), **(QUICK_PARAMS.get(name, {}) if quick else {}),
             **(extra or {})}
        valid = set(make_translator(name).get_params())
        if "seed" in valid:
            p["seed"] = int(self.seed)
        if "progress" in valid:
            p["progress"] = False
        if "device" in valid:
            p["device"] = self.device
        return {k: v for k, v in p.items() if k in valid}

    def _allowed(self, name: str) -> bool:
        return self.methods is None or name in self.methods

    def _fit_candidate(self, name: str, data: FitData, extra: dict[str, Any] | None = None,
                       pairs: np.ndarray | None = None, force: bool = False, effort: str | None = None) -> Translator:
        t = make_translator(name, **self._params(name, extra, effort))
        X = data.src if data.src is not None else data.X
        Y = data.tgt if data.tgt is not None else data.Y
        return t.fit(X, Y, known_pairs=pairs, force=force)

    def _fit(self, data: FitData) -> None:
        if self.effort not in ("normal", "quick"):
            raise VecbridgeError(f"auto: effort must be 'normal' or 'quick', got {self.effort!r}")
        if int(self.cv_folds) < 2:
            raise VecbridgeError(f"auto: cv_folds must be >= 2, got {self.cv_folds}")
        Compute.for_device(self.device).resolve_backend()  # an unknown or missing device fails before any work
        d_in, d_out = data.X.shape[1], data.Y.shape[1]
        well_posed = min(d_in, d_out)
        n_pairs = data.n_pairs
        info = self.fit_info_
        info["auto"] = True
        t0 = time.perf_counter()
        if n_pairs >= well_posed:
            info["mode"] = f"supervised ({n_pairs} pairs >= {well_posed}: chosen by {self.cv_folds}-fold cross-validation)"
            chosen, cands = self._choose_supervised(data, t0)
        else:
            info["mode"] = ("unsupervised (no pairs)" if n_pairs == 0 else
                            f"few pairs ({n_pairs} < {well_posed}, too few for a well-posed supervised fit: used as seeds)")
            chosen, cands = self._choose_pairless(data, t0)
        self._inner = chosen
        self.chosen_method_ = chosen.method
        inner = chosen.fit_info_
        info["chosen_method"] = self._label
        info["candidates"] = cands
        for key in ("verdict", "confidence", "verdict_reason", "pairless_score", "verdict_details"):
            info[key] = inner.get(key)
        info["chosen_fit"] = {k: inner[k] for k in ("n_pairs", "pairs_from", "fit_seconds") if k in inner}
        info["n_pairs"] = n_pairs
        info["why"] = self._why

    def _choose_pairless(self, data: FitData, t0: float) -> tuple[Translator, list[dict[str, Any]]]:
        keyed = rows_kind(data.src, data.tgt) == "ranked"
        few = data.pairs is not None
        # the favourite first, then the order in which the others are tried. On vocabularies cluster-match before
        # spectral-match: where self-learning failed and a map aligned, it was cluster-match's on the benchmark
        # (word2vec skip-gram 100-d -> CBOW 100-d, before self-learning's final step compared its two maps), never
        # spectral-match's alone
        order = (["selflearn", "cluster-match", "spectral-match"] if keyed
                 else ["cluster-match", "spectral-match", "selflearn"])
        if few:
            order = ["selflearn", "cluster-match"]
        order = [m for m in order if self._allowed(m)]
        identity = data.X.shape[1] == data.Y.shape[1] and not few and self._allowed("identity")
        if not order and not identity:
            raise VecbridgeError(f"auto: none of the methods {self.methods} fits without (enough) pairs")
        cands: list[dict[str, Any]] = []
        fitted: list[tuple[float, int, Translator, str]] = []
        bar = progress_bar(len(order) + identity, "auto: trying methods", self.progress)
        early = EARLY_STOP if keyed else SAMPLE_EARLY_STOP
        log.info("auto: %s; candidates in order: %s (the search stops once one other than the identity is judged "
                 "aligned with confidence >= %.2f)", self.fit_info_.get("mode"),
                 ", ".join(order[:1] + (["identity"] if identity else []) + order[1:]), early)

        def complete(name: str) -> dict[str, Any] | None:
            """Fit ``name`` with its full settings and record it; None when it could not be fitted."""
            bar.set_description(f"auto: {name}")
            slow = name != "identity" and self.effort != "quick"
            log.info("auto: trying %s%s ...", name, " (can take minutes)" if slow else "")
            t1 = time.perf_counter()
            try:
                t = self._judged_fit(name, data, self.effort, None if name in order[:1] else NOT_FAVOURITE.get(name))
            except VecbridgeError as e:
                cands.append({"method": name, "error": str(e)})
                log.info("auto: %s could not be fitted (%.1f s): %s", name, time.perf_counter() - t1, e)
                return None
            fi = t.fit_info_
            row = {"method": name, "verdict": fi.get("verdict"), "confidence": float(fi.get("confidence") or 0.0),
                   "seconds": round(time.perf_counter() - t1, 2)}
            cands.append(row)
            fitted.append((row["confidence"], -len(fitted), t, name))
            log.info("auto: %s: %s, confidence %.2f (%.1f s)", name, row["verdict"], row["confidence"],
                     row["seconds"])
            return row

        def settled() -> str | None:
            """Why the search may stop: a map other than the identity judged aligned with confidence >= early."""
            for conf, _, t, name in fitted:
                if name != "identity" and t.fit_info_.get("verdict") == "aligned" and conf >= early:
                    return f"{name} already aligned with confidence {conf:.2f}"
            return None

        # 1. the favourite for these inputs, in full; then the identity where it applies, unless the favourite
        # settled the search
        if order:
            complete(order[0])
            bar.update(1)
        if identity:
            why = settled()
            if why is None:
                complete("identity")
            else:
                cands.append({"method": "identity", "skipped": why})
                log.info("auto: identity skipped: %s", why)
            bar.update(1)
        # 2. the others, in order. While no map is aligned, each is completed outright: a quick screen could only
        # reorder them, and on the benchmark's vocabularies no screen rose above chance where the full fit aligned.
        # Once a map is aligned (below ``early``), a candidate is screened with cheap settings and completed
        # only when its screen promises more than that map by ``SCREEN_LEAD``
        for name in order[1:]:
            why = settled()
            if why is None and fitted and time.perf_counter() - t0 > float(self.time_budget):
                why = "time budget spent"
            best = max(fitted, key=lambda f: f[0]) if fitted else None
            best_aligned = best is not None and best[2].fit_info_.get("verdict") == "aligned"
            if why is None and (self.effort == "quick" or not best_aligned):  # the screen is the fit / no screen
                complete(name)
                bar.update(1)
                continue
            if why is None:
                log.info("auto: screening %s with quick settings ...", name)
                t1 = time.perf_counter()
                try:
                    fi = self._judged_fit(name, data, "quick").fit_info_
                except VecbridgeError as e:
                    cands.append({"method": name, "error": str(e)})
                    log.info("auto: %s could not be fitted (%.1f s): %s", name, time.perf_counter() - t1, e)
                    bar.update(1)
                    continue
                conf, verdict = float(fi.get("confidence") or 0.0), fi.get("verdict")
                screen = {"verdict": verdict, "confidence": round(conf, 4),
                          "seconds": round(time.perf_counter() - t1, 2)}
                if conf < best[0] + SCREEN_LEAD:
                    skipped = (f"its quick screen ({verdict}, confidence {conf:.2f}) does not promise more than "
                               f"the aligned map so far ({best[0]:.2f})")
                    cands.append({"method": name, "screen": screen, "skipped": skipped})
                    log.info("auto: %s not completed (%.1f s): %s", name, screen["seconds"], skipped)
                else:
                    log.info("auto: %s's quick screen (%s, confidence %.2f, %.1f s) promises more than the aligned "
                             "map so far (%.2f): completing it", name, verdict, conf, screen["seconds"], best[0])
                    row = complete(name)
                    if row is not None:
                        row["screen"] = screen
            else:
                cands.append({"method": name, "skipped": why})
                log.info("auto: %s skipped: %s", name, why)
            bar.update(1)
        bar.close()
        if not fitted:
            raise self._none_fitted(cands)
        conf, _, best, name = max(fitted, key=lambda f: (f[0], f[1]))
        self._label = name
        self._why = (f"highest verdict confidence ({conf:.3f}) among "
                     + ", ".join(f"{c['method']} {c['confidence']:.3f}" for c in cands if "confidence" in c))
        return best, cands

    def _judged_fit(self, name: str, data: FitData, effort: str, extra: dict[str, Any] | None = None) -> Translator:
        """``name`` fitted with the settings of ``effort`` (and ``extra``), its verdict in ``fit_info_``."""
        if name == "identity":
            t = self._fit_candidate(name, data, {"normalize": "unit center unit"})
            t.fit_info_.update(judge_inputs(t, data.X, data.Y, rows=rows_kind(data.src, data.tgt),
                                            seed=int(self.seed), fitted=False).as_dict())
            return t
        return self._fit_candidate(name, data, extra, pairs=data.pairs, effort=effort)

    @staticmethod
    def _none_fitted(cands: list[dict[str, Any]]) -> VecbridgeError:
        return VecbridgeError("auto: no candidate method could be fitted: " +
                              "; ".join(f"{c['method']}: {c.get('error')}" for c in cands if "error" in c))

    def _choose_supervised(self, data: FitData, t0: float) -> tuple[Translator, list[dict[str, Any]]]:
        pairs = data.pairs
        rng = np.random.default_rng(int(self.seed))
        folds = np.array_split(rng.permutation(len(pairs)), int(self.cv_folds))
        names = []
        for name, extra in SUPERVISED + SUPERVISED_ON_REQUEST:
            if not self._allowed(name) or ((name, extra) in SUPERVISED_ON_REQUEST and self.methods is None):
                continue
            if name == "identity" and data.X.shape[1] != data.Y.shape[1]:
                continue
            try:
                translator_class(name) if name not in ("recommended", "cca") else None
            except ImportError:
                continue
            names.append((name, extra))
        if not names:
            raise VecbridgeError(f"auto: none of the methods {self.methods} is a supervised method")
        cands: list[dict[str, Any]] = []
        scored: list[tuple[float, int, str, dict[str, Any]]] = []
        bar = progress_bar(len(names) * len(folds), "auto: cross-validating", self.progress)
        log.info("auto: %s; candidates: %s", self.fit_info_.get("mode"), ", ".join(n for n, _ in names))
        for i, (name, extra) in enumerate(names):
            if scored and time.perf_counter() - t0 > float(self.time_budget):
                cands.append({"method": name, "skipped": "time budget spent"})
                log.info("auto: %s skipped: time budget spent", name)
                continue
            t1 = time.perf_counter()
            # warnings of the folds' fits are the candidate's, kept in its row (fit_info_, the manifest) and not
            # shown: only the chosen method's final fit below warns as it goes
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    scores = []
                    for f in folds:
                        train = np.delete(pairs, f, axis=0)
                        t = self._fit_candidate(name, data, extra, pairs=train, force=True)
                        scores.append(self._held_out_top1(t, data, pairs[f]))
                        bar.update(1)
                except (VecbridgeError, ImportError) as e:
                    error = e
                else:
                    error = None
            said = list(dict.fromkeys(str(w.message) for w in caught))
            if error is not None:
                cands.append({"method": name, "error": str(error), **({"warnings": said} if said else {})})
                log.info("auto: %s could not be fitted (%.1f s): %s", name, time.perf_counter() - t1, error)
                continue
            s = float(np.mean(scores))
            cands.append({"method": name, "params": extra, "cv_top1": round(s, 4),
                          "seconds": round(time.perf_counter() - t1, 2), **({"warnings": said} if said else {})})
            scored.append((s, -i, name, extra))
            log.info("auto: %s: %d-fold cross-validated top-1 %.3f (%.1f s)", name, len(folds), cands[-1]["cv_top1"],
                     cands[-1]["seconds"])
        bar.close()
        if not scored:
            raise self._none_fitted(cands)
        s, _, name, extra = max(scored, key=lambda f: (f[0], f[1]))
        self._label = name
        self._why = (f"best {self.cv_folds}-fold cross-validated top-1 ({s:.3f}) among "
                     + ", ".join(f"{c['method']} {c['cv_top1']:.3f}" for c in cands if "cv_top1" in c))
        best = self._fit_candidate(name, data, extra, pairs=pairs, force=True)
        best.fit_info_["cv_top1"] = round(s, 4)
        return best, cands

    @staticmethod
    def _held_out_top1(t: Translator, data: FitData, test: np.ndarray) -> float:
        """Share of held-out pairs whose mapped source is nearest (cosine) to its own target: for keyed
        vocabularies among the held-out targets and the first ``CV_POOL`` target rows (a word is translated
        into the target's vocabulary), for samples among the held-out targets only (what ``evaluate --paired``
        and fit's held-out check report)."""
        held = np.unique(test[:, 1])
        if rows_kind(data.src, data.tgt) != "ranked":
            pool = held
        else:
            pool = np.unique(np.concatenate([np.arange(min(CV_POOL, len(data.Y))), held]))
        A = unit_rows(t.transform(data.X[test[:, 0]]))
        B = unit_rows(t.transform_target(data.Y[pool]))
        nearest = pool[(A @ B.T).argmax(1)]
        return float(np.mean(nearest == test[:, 1]))

    # -- using: the chosen method's map ----------------------------------------
    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._inner.transform(X)

    def _transform_target(self, Y: np.ndarray) -> np.ndarray:
        return self._inner.transform_target(Y)

    def output_in_target_space(self) -> bool:
        return self.chosen_.output_in_target_space()

    def to_target_space(self, Y: Any) -> np.ndarray:
        return self.chosen_.to_target_space(Y)

    @property
    def chosen_(self) -> Translator:
        """The fitted translator auto chose."""
        self._check_fitted()
        return self._inner

    # -- persistence -----------------------------------------------------------
    PREFIX: ClassVar[str] = "chosen."

    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._state_arrays()
        arrays.update({self.PREFIX + k: v for k, v in self._inner._state_arrays().items()})
        return arrays

    def manifest(self) -> dict[str, Any]:
        m = super().manifest()
        m["chosen"] = self._inner.manifest()
        return m

    @classmethod
    def _from_saved(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Translator:
        own = {k: v for k, v in arrays.items() if not k.startswith(cls.PREFIX)}
        inner = {k[len(cls.PREFIX):]: v for k, v in arrays.items() if k.startswith(cls.PREFIX)}
        if "chosen" not in manifest:
            raise KeyError("chosen")
        obj = super()._from_saved(manifest, own)
        obj._inner = translator_class(manifest["chosen"]["method"])._from_saved(manifest["chosen"], inner)
        return obj


__all__ = ["AutoTranslator", "EARLY_STOP", "CV_POOL", "SUPERVISED", "candidate_names"]
