"""Linear maps fitted from sufficient statistics accumulated over partitions.

Least squares needs only ``n``, the column sums of X and Y, ``X^T X`` and
``X^T Y``; Procrustes needs ``X^T Y`` (and ``sum ||x||^2`` for its scale).
These add up over any split of the pairs into partitions, so a fit over any
number of pairs is one pass over the data in bounded memory (d x d float64
matrices), and it gives the same map as the in-memory fit
(:class:`~vecbridge.translators.linear.LeastSquares`,
:class:`~vecbridge.translators.linear.Procrustes`) up to float rounding: the
same solvers (:func:`~vecbridge.translators.linear.lstsq_from_moments`,
:func:`~vecbridge.translators.linear.procrustes_from_cross`) run on the merged
statistics. With ``bias=True`` the statistics are centred at the end,
``X^T X - n m_x m_x^T`` and ``X^T Y - n m_x m_y^T``.

Normalisation (``normalize="unit center unit"`` etc.): each ``center`` /
``standardize`` step needs its mean (and spread) first, which costs one extra
pass over the data per such step. A ``unit`` step needs no statistics to
transform, but the fitted normaliser keeps the median length of the rows that
enter it (``Normalizer.lengths_``, what ``inverse_transform`` and
``to_target_space`` give back): an exact median, so one float per row and
``unit`` step is kept while fitting (``4 n`` bytes per side and step; the
vectors themselves are never held). These lengths are gathered in the passes
above; those of ``unit`` steps after the last ``center`` / ``standardize`` in
the pass that accumulates the moments. So the normalisers, too, equal the
in-memory fit's (their means up to float rounding), and so does the map's
output in the target's own coordinates.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ..errors import DimensionError, ParameterError, VecbridgeError
from ..normalize import Normalizer, parse_steps

#: a source of paired batches: an iterable of ``(X, Y)`` that can be iterated again,
#: or a function returning a fresh iterator (needed when normalisation takes extra passes)
PairBatches = Union[Iterable[tuple[np.ndarray, np.ndarray]], Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]]

LINEAR_METHODS = ("lstsq", "procrustes")


LSTSQ_NAMES = ("lstsq", "least-squares", "linear", "ridge")
PROCRUSTES_NAMES = ("procrustes", "orthogonal")


def check_linear_options(method: Any, ridge: Any, bias: Any, scale: Any) -> str:
    """Check the options of a sufficient-statistics fit before any pass over the data; returns the method's
    canonical name (``lstsq`` or ``procrustes``). Raises :class:`ParameterError` naming the option."""
    if not isinstance(method, str) or method not in LSTSQ_NAMES + PROCRUSTES_NAMES:
        raise ParameterError(f"method must be one of {', '.join(LINEAR_METHODS)} for a sufficient-statistics fit, "
                             f"got {method!r}")
    if isinstance(ridge, (bool, np.bool_)) or not isinstance(ridge, (int, float, np.integer, np.floating)):
        raise ParameterError(f"ridge must be a number >= 0, got {ridge!r}")
    if not np.isfinite(float(ridge)) or float(ridge) < 0:
        raise ParameterError(f"ridge must be a finite number >= 0, got {ridge!r}")
    for name, value in (("bias", bias), ("scale", scale)):
        if not isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"{name} must be true or false, got {value!r}")
    name = "lstsq" if method in LSTSQ_NAMES else "procrustes"
    if name == "procrustes" and (float(ridge) != 0 or bias):
        raise ParameterError("procrustes takes no ridge or bias (those are lstsq options); got "
                             f"ridge={ridge!r}, bias={bias!r}")
    if name == "lstsq" and scale:
        raise ParameterError("lstsq takes no scale (a procrustes option); got scale=True")
    return name


def _side(M: Any, side: str, where: str) -> np.ndarray:
    """One side of a batch as a float32 array; rows of unequal length said as such (``where``: which batch)."""
    try:
        return np.asarray(M, dtype=np.float32)
    except (ValueError, TypeError):
        lengths = []
        for row in M if isinstance(M, (list, tuple)) else []:
            try:
                lengths.append(len(row))
            except TypeError:
                lengths.append(None)
        if lengths and any(n != lengths[0] for n in lengths):
            r = next(i for i, n in enumerate(lengths) if n != lengths[0])
            raise DimensionError(f"{where}: {side} row {r} holds {lengths[r]} numbers but row 0 holds {lengths[0]}; "
                                 "every vector must have one length") from None
        raise DimensionError(f"{where}: the {side} rows are not a matrix of numbers") from None


def _as_pair(X: Any, Y: Any, index: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    where = "a batch" if index is None else f"batch {index}"
    if X is None or Y is None:
        raise DimensionError(f"{where} must be a pair (X, Y) of 2-D arrays; got None")
    X, Y = _side(X, "source", where), _side(Y, "target", where)
    if X.ndim != 2 or Y.ndim != 2:
        raise DimensionError(f"{where}: batches must be 2-D (n, d); got X {X.shape} and Y {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise DimensionError(f"{where} pairs {X.shape[0]} source rows with {Y.shape[0]} target rows; they must "
                             "match")
    for side, M in (("source", X), ("target", Y)):
        finite = np.isfinite(np.add.reduce(M, axis=1, dtype=np.float64))  # NaN and Inf carry through a row sum
        if not finite.all():
            r = int(np.argmin(finite))
            raise VecbridgeError(f"{where}: {side} row {r} holds NaN or Inf ({int((~finite).sum())} such rows); "
                                 "clean the pairs before fitting")
    return X, Y


@dataclass
class LinearMoments:
    """Sufficient statistics of paired rows, in float64.

    Attributes: ``n`` pairs; ``sum_x`` (dx,), ``sum_y`` (dy,); ``xtx`` (dx, dx) = X^T X;
    ``xty`` (dx, dy) = X^T Y; ``sq_x`` = sum of squared entries of X. Add two with ``+``.
    """

    n: int
    sum_x: np.ndarray
    sum_y: np.ndarray
    xtx: np.ndarray
    xty: np.ndarray
    sq_x: float = 0.0

    @classmethod
    def zeros(cls, dx: int, dy: int) -> LinearMoments:
        return cls(0, np.zeros(dx), np.zeros(dy), np.zeros((dx, dx)), np.zeros((dx, dy)), 0.0)

    @classmethod
    def of(cls, X: Any, Y: Any) -> LinearMoments:
        """Statistics of one batch: X (n, dx), Y (n, dy) paired by row."""
        X, Y = _as_pair(X, Y)
        X64 = X.astype(np.float64)
        Y64 = Y.astype(np.float64)
        return cls(int(X.shape[0]), X64.sum(axis=0), Y64.sum(axis=0), X64.T @ X64, X64.T @ Y64,
                   float(np.square(X64).sum()))

    def update(self, X: Any, Y: Any) -> LinearMoments:
        """Add a batch in place; returns self."""
        other = LinearMoments.of(X, Y)
        self._check(other)
        self.n += other.n
        self.sum_x += other.sum_x
        self.sum_y += other.sum_y
        self.xtx += other.xtx
        self.xty += other.xty
        self.sq_x += other.sq_x
        return self

    def _check(self, other: LinearMoments) -> None:
        if self.xty.shape != other.xty.shape:
            raise DimensionError(f"cannot add statistics of {other.xty.shape} pairs to {self.xty.shape} ones")

    def __add__(self, other: LinearMoments) -> LinearMoments:
        self._check(other)
        return LinearMoments(self.n + other.n, self.sum_x + other.sum_x, self.sum_y + other.sum_y,
                             self.xtx + other.xtx, self.xty + other.xty, self.sq_x + other.sq_x)

    # -- as plain arrays (for Ray, files) -----------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"n": np.array([self.n], dtype=np.int64), "sum_x": self.sum_x, "sum_y": self.sum_y,
                "xtx": self.xtx, "xty": self.xty, "sq_x": np.array([self.sq_x])}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> LinearMoments:
        missing = [k for k in ("n", "sum_x", "sum_y", "xtx", "xty", "sq_x") if k not in a]
        if missing:
            raise VecbridgeError(f"these are not the arrays of LinearMoments.to_arrays: missing {', '.join(missing)}")
        return cls(int(np.asarray(a["n"]).reshape(-1)[0]), np.asarray(a["sum_x"], np.float64),
                   np.asarray(a["sum_y"], np.float64), np.asarray(a["xtx"], np.float64),
                   np.asarray(a["xty"], np.float64), float(np.asarray(a["sq_x"]).reshape(-1)[0]))

    # -- solving ------------------------------------------------------------------------
    @property
    def mean_x(self) -> np.ndarray:
        return self.sum_x / max(self.n, 1)

    @property
    def mean_y(self) -> np.ndarray:
        return self.sum_y / max(self.n, 1)

    def lstsq(self, ridge: float = 0.0, bias: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``W`` (dx, dy) and ``b`` (dy,) float32, as ``lstsq_map`` on the pooled pairs."""
        from ..translators.linear import lstsq_from_moments

        if self.n == 0:
            raise VecbridgeError("no pairs were accumulated; nothing to fit")
        if not bias:
            return lstsq_from_moments(self.xtx, self.xty, ridge=ridge)
        mx, my = self.mean_x, self.mean_y
        xtx = self.xtx - self.n * np.outer(mx, mx)
        xty = self.xty - self.n * np.outer(mx, my)
        return lstsq_from_moments(xtx, xty, ridge=ridge, mean_x=mx, mean_y=my)

    def procrustes(self, scale: bool = False) -> tuple[np.ndarray, float]:
        """Orthogonal ``W`` (dx, dy) float32 and the scale factor, as ``procrustes_map`` on the pooled pairs."""
        from ..translators.linear import procrustes_from_cross

        if self.n == 0:
            raise VecbridgeError("no pairs were accumulated; nothing to fit")
        return procrustes_from_cross(self.xty, scale_denominator=self.sq_x if scale else None)


def _batches(source: PairBatches) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if source is None:
        raise VecbridgeError("source must be an iterable of (X, Y) batches or a function returning one, got None")
    try:
        it = source() if callable(source) else iter(source)
    except TypeError:
        raise VecbridgeError("source must be an iterable of (X, Y) batches or a function returning one, got "
                             f"{type(source).__name__}") from None
    width = None
    for i, batch in enumerate(it):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise DimensionError(f"batch {i} must be a pair (X, Y) of 2-D arrays, got {type(batch).__name__}"
                                 + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
        if all(isinstance(M, (list, tuple)) and len(M) == 0 for M in batch):
            continue  # an empty batch given as ([], []): no rows, nothing to add
        X, Y = _as_pair(*batch, index=i)
        if width is None:
            width = (X.shape[1], Y.shape[1])
        elif (X.shape[1], Y.shape[1]) != width:
            raise DimensionError(f"batch {i} holds {X.shape[1]}-d source and {Y.shape[1]}-d target rows; the "
                                 f"first batch held {width[0]}-d and {width[1]}-d")
        yield X, Y


def _stateful(steps: list[str]) -> list[int]:
    return [i for i, s in enumerate(steps) if s != "unit"]


@dataclass
class _SideSums:
    n: int = 0
    s: np.ndarray | None = None
    ss: np.ndarray | None = None

    def add(self, X: np.ndarray) -> None:
        X64 = X.astype(np.float64)
        s, ss = X64.sum(axis=0), np.square(X64).sum(axis=0)
        self.s = s if self.s is None else self.s + s
        self.ss = ss if self.ss is None else self.ss + ss
        self.n += X.shape[0]

    def stat(self, step: str) -> tuple[np.ndarray, np.ndarray]:
        mean = self.s / max(self.n, 1)
        if step == "standardize":
            sd = np.sqrt(np.maximum(self.ss / max(self.n, 1) - mean**2, 0.0)).astype(np.float32)
            scale = np.where(sd > 0, sd, 1.0).astype(np.float32)
        else:
            scale = np.ones(mean.shape, dtype=np.float32)
        return mean.astype(np.float32), scale


def _partial(norm: Normalizer, upto: int, X: np.ndarray, record: Iterable[int] = ()
             ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """``X`` through the first ``upto`` steps of ``norm``, and the row lengths (float32, as
    ``Normalizer.fit`` measures them) of the rows entering each step in ``record`` (steps before ``upto``)."""
    record = set(record)
    lengths = {}
    for i, (step, stat) in enumerate(zip(norm.steps[:upto], norm.stats_[:upto])):
        if i in record:
            lengths[i] = np.linalg.norm(X, axis=1)
        X = Normalizer._apply(step, stat, X)
    return X, lengths


def _passes(steps: list[str], trailing: bool) -> list[tuple[int | None, list[int]]]:
    """The passes that fit ``steps``: each ``center`` / ``standardize`` step with the ``unit`` steps between it
    and the previous one (their lengths are measured in the same pass), then, when ``trailing``, the ``unit``
    steps after the last of them (as ``(None, units)``)."""
    out: list[tuple[int | None, list[int]]] = []
    prev = -1
    for j in _stateful(steps) + [len(steps)]:
        units = [i for i in range(prev + 1, j) if steps[i] == "unit"]
        if j < len(steps):
            out.append((j, units))
        elif units and trailing:
            out.append((None, units))
        prev = j
    return out


def _trailing_units(steps: list[str]) -> list[int]:
    """The ``unit`` steps after the last ``center`` / ``standardize`` step."""
    last = max(_stateful(steps), default=-1)
    return [i for i in range(last + 1, len(steps)) if steps[i] == "unit"]


def _median_of(parts: list[np.ndarray]) -> float:
    """The median of the concatenated float32 row lengths, as ``Normalizer.fit`` computes it."""
    rows = np.concatenate(parts).astype(np.float32, copy=False) if parts else np.empty(0, np.float32)
    if rows.size == 0:
        raise VecbridgeError("no pairs to fit on (the batches were empty)")
    return float(np.median(rows))


def fit_normalizer_from_batches(
    steps: str | list[str] | None, source: PairBatches, reduce: Callable | None = None,
    gather: Callable | None = None, *, _trailing: bool = True,
) -> tuple[Normalizer, Normalizer]:
    """Fit the source and target :class:`~vecbridge.normalize.Normalizer` over batches of pairs: the same
    statistics (``stats_``) and median lengths before each ``unit`` step (``lengths_``) as ``Normalizer.fit``
    on all the rows stacked.

    One pass per ``center`` / ``standardize`` step, plus one when ``unit`` steps follow the last of them
    (``"unit"`` alone: one pass). The lengths are exact medians: one float32 per row and ``unit`` step is
    held until its pass ends.

    ``reduce`` (for distributed data) replaces the local pass: called as ``reduce(fn)`` with
    ``fn(X, Y) -> dict of arrays`` it must return the sums of those dicts over all batches. ``gather``
    goes with it for the ``unit`` lengths: called as ``gather(fn)`` with ``fn(X, Y) -> dict of (n,)
    arrays`` (one value per row of the batch) it must return each array concatenated over all batches.
    Without ``gather`` the lengths are not measured (left None, so ``inverse_transform`` gives unit
    lengths) and a warning says so.
    """
    steps = parse_steps(steps)
    norms = [Normalizer(steps), Normalizer(steps)]
    for n in norms:
        n.stats_ = [None] * len(steps)
        n.lengths_ = [None] * len(steps)
    for j, units in _passes(steps, _trailing):
        upto = len(steps) if j is None else j

        def walk(X, Y, sums=True, upto=upto, units=units):
            """The sums of the rows entering step ``j`` (when ``sums``) and the lengths of the rows entering
            the ``units`` steps, of one batch, in one walk through the steps."""
            out, lengths = {}, {}
            stop = upto if sums else max(units, default=-1) + 1
            for tag, side, M in (("x", 0, X), ("y", 1, Y)):
                Z, lens = _partial(norms[side], stop, np.asarray(M, dtype=np.float32), units)
                lengths.update({f"len_{tag}_{i}": v for i, v in lens.items()})
                if sums:
                    Z = Z.astype(np.float64)
                    out[f"s_{tag}"], out[f"ss_{tag}"] = Z.sum(axis=0), np.square(Z).sum(axis=0)
            out["n"] = np.array([X.shape[0]], dtype=np.int64)
            return out, lengths

        tot = None
        lengths: dict[str, list[np.ndarray]] = {}
        if reduce is not None:
            if j is not None:
                tot = reduce(lambda X, Y, walk=walk: walk(X, Y, units=())[0])
            if units and gather is not None:
                got = gather(lambda X, Y, walk=walk: walk(X, Y, False)[1])
                lengths = {k: [np.asarray(v)] for k, v in got.items()}
            elif units:
                warnings.warn("fit_normalizer_from_batches: reduce without gather cannot measure the row lengths "
                              "of the 'unit' steps; inverse_transform / to_target_space will give unit lengths",
                              stacklevel=2)
        else:
            seen = False
            for X, Y in _batches(source):
                seen = True
                p, lens = walk(X, Y, j is not None)
                if j is not None:
                    tot = p if tot is None else {k: tot[k] + p[k] for k in tot}
                for k, v in lens.items():
                    lengths.setdefault(k, []).append(v)
            if not seen:
                raise VecbridgeError("no pairs to fit the normalisation on")
        if tot is not None and int(np.asarray(tot["n"]).reshape(-1)[0]) == 0:
            raise VecbridgeError("no pairs to fit on (the batches were empty)")
        for tag, side in (("x", 0), ("y", 1)):
            for i in units:
                if f"len_{tag}_{i}" in lengths:
                    norms[side].lengths_[i] = _median_of(lengths[f"len_{tag}_{i}"])
        if j is None:
            continue
        n = int(np.asarray(tot["n"]).reshape(-1)[0])
        for tag, side in (("x", 0), ("y", 1)):
            sums = _SideSums(n, np.asarray(tot[f"s_{tag}"]), np.asarray(tot[f"ss_{tag}"]))
            norms[side].stats_[j] = sums.stat(steps[j])
    return norms[0], norms[1]


def linear_translator_from_moments(
    moments: LinearMoments,
    method: str = "lstsq",
    *,
    ridge: float = 0.0,
    bias: bool = False,
    scale: bool = False,
    normalize: str | None = None,
    normalizers: tuple[Normalizer, Normalizer] | None = None,
    fit_info: dict[str, Any] | None = None,
):
    """A fitted ``LeastSquares`` / ``Procrustes`` from merged statistics (of normalised pairs)."""
    from ..translators.linear import LeastSquares, Procrustes

    method = check_linear_options(method, ridge, bias, scale)
    if method == "lstsq":
        t = LeastSquares(ridge=ridge, bias=bias, normalize=normalize)
        t.W_, t.b_ = moments.lstsq(ridge=float(ridge), bias=bool(bias))
    else:
        t = Procrustes(scale=scale, normalize=normalize)
        t.W_, s = moments.procrustes(scale=bool(scale))
        t.scale_ = float(s)
    dx, dy = moments.xty.shape
    t.n_features_in_, t.n_features_out_ = int(dx), int(dy)
    if normalizers is None:
        normalizers = (Normalizer(normalize).fit(np.zeros((1, dx), np.float32)),
                       Normalizer(normalize).fit(np.zeros((1, dy), np.float32)))
        if _stateful(normalizers[0].steps):
            raise VecbridgeError("centring / standardising needs the fitted normalizers; pass normalizers=")
        for norm in normalizers:  # the row lengths are unknown here (not the zero row's): unit lengths
            norm.lengths_ = [None] * len(norm.steps)
    t.source_normalizer_, t.target_normalizer_ = normalizers
    t.source_normalizer_.dim_ = int(dx)
    t.target_normalizer_.dim_ = int(dy)
    info = {"pairs_from": "sufficient statistics", "n_pairs": int(moments.n),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    info.update(fit_info or {})
    t.fit_info_ = info
    return t


def fit_linear_from_batches(
    source: PairBatches,
    method: str = "lstsq",
    *,
    ridge: float = 0.0,
    bias: bool = False,
    scale: bool = False,
    normalize: str | None = None,
    device: str = "cpu",
    progress: bool | None = None,
):
    """Fit a linear map over batches of pairs in one pass (plus one per centring step).

    Parameters
    ----------
    source : iterable of ``(X, Y)`` batches, X (n_i, dx), Y (n_i, dy) paired by row, or a
        function returning a fresh iterator of them (needed when ``normalize`` centres).
    method : ``"lstsq"`` (ridge / bias as in :class:`LeastSquares`) or ``"procrustes"``
        (``scale`` as in :class:`Procrustes`).
    normalize : normalisation steps, as the in-memory classes take them.
    device : ``"cpu"`` (numpy), ``"auto"`` or a torch device: the ``X^T X`` products run
        through torch there (float64), see :mod:`.torch_backend`.

    Returns
    -------
    A fitted translator equal (to float tolerance) to ``LeastSquares(...).fit(X, Y)`` /
    ``Procrustes(...).fit(X, Y)`` on all the pairs stacked.
    """
    from ..progress import progress_bar

    check_linear_options(method, ridge, bias, scale)
    steps = parse_steps(normalize)
    if _stateful(steps) and not callable(source) and iter(source) is source:
        raise VecbridgeError(
            f"normalize={normalize!r} needs more than one pass over the pairs; pass a list of batches "
            "or a function returning a fresh iterator"
        )
    # the lengths of the unit steps after the last centring are measured in the pass below (a single pass when
    # normalize has no centring, so that a one-shot iterator still works)
    nx, ny = fit_normalizer_from_batches(steps, source, _trailing=False)
    trailing = _trailing_units(steps)
    lengths_x: dict[int, list[np.ndarray]] = {i: [] for i in trailing}
    lengths_y: dict[int, list[np.ndarray]] = {i: [] for i in trailing}
    accumulate = LinearMoments.of
    if device not in (None, "cpu", "numpy"):
        from .torch_backend import resolve_device, torch_moment_sums

        dev = resolve_device(device)
        if dev is not None and dev.type != "mps":  # MPS has no float64: there the batches are summed by numpy
            def accumulate(X, Y, dev=dev):
                return LinearMoments(*torch_moment_sums(*_as_pair(X, Y), dev))
    total: LinearMoments | None = None
    with progress_bar(None, "accumulating X^T X", progress, unit="pairs") as bar:
        for X, Y in _batches(source):
            Xn, lx = _partial(nx, len(steps), X, trailing)
            Yn, ly = _partial(ny, len(steps), Y, trailing)
            for i in trailing:
                lengths_x[i].append(lx[i])
                lengths_y[i].append(ly[i])
            m = accumulate(Xn, Yn)
            total = m if total is None else total + m
            bar.update(X.shape[0])
    if total is None or total.n == 0:
        raise VecbridgeError("no pairs to fit on (the batches were empty)")
    for i in trailing:
        nx.lengths_[i] = _median_of(lengths_x[i])
        ny.lengths_[i] = _median_of(lengths_y[i])
    return linear_translator_from_moments(total, method, ridge=ridge, bias=bias, scale=scale,
                                          normalize=normalize, normalizers=(nx, ny))
