"""Compute options as one value: backend, device, threads, memory budget and progress bars.

A kernel takes one ``compute`` argument instead of ``backend``, ``n_jobs``, ``progress`` and a memory budget
passed down through every call::

    from vecbridge.compute import Compute
    from vecbridge.neighbors import top_k

    best = top_k(queries, targets, 10, compute=Compute(n_jobs=2, memory_mb=256, progress=False))

``compute=None`` everywhere means ``Compute()``: numpy on the CPU, every core this process may use, a
512 MB working-memory budget per pass, progress bars only on a terminal.

The thread policy (one for the whole package)
---------------------------------------------
A blocked pass (a similarity matrix cut into tiles) runs its tiles on ``n_jobs`` threads of its own, with
BLAS held to one thread while it does (``threadpoolctl``). numpy releases the GIL in products, partitions and
takes, so the tiles run in parallel; and BLAS's own idle threads, which busy-wait, do not compete with them
(on a loaded 2-core machine letting BLAS thread each product doubled the CPU time of a pass). Between
passes, loops of small products can hold BLAS to one thread with :meth:`Compute.single_blas_thread`.
The torch backend leaves threading to torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .errors import ParameterError, VecbridgeError
from .optional import require
from .progress import progress_bar

BACKENDS = ("auto", "numpy", "torch")

#: default working memory of one blocked pass, in MB (all of its threads' tiles together)
MEMORY_MB = 512.0

#: with ``progress=None`` a pass shows a bar (on a terminal) only when it compares at least this many pairs
PROGRESS_MIN_PAIRS = 5e8


def usable_cores() -> int:
    """The number of cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_CONTROLLER: Any = None


def _blas_controller() -> Any:
    """One threadpoolctl controller for the process (building one scans the loaded libraries: slow)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@contextlib.contextmanager
def limit_blas_threads(n: int = 1) -> Iterator[None]:
    """Hold the BLAS libraries that numpy and scipy loaded to ``n`` threads inside the ``with`` block."""
    with _blas_controller().limit(limits=int(n), user_api="blas"):
        yield


def _serial_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    return [fn(x) for x in items]


@dataclass(frozen=True)
class Compute:
    """Where and how kernels compute.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch"}
        ``numpy``: products and selections in numpy on the CPU. ``torch``: in torch on ``device``.
        ``auto``: torch when ``device`` is not the CPU, numpy otherwise. Both give the same neighbours
        (values equal to float rounding).
    device : str
        ``"cpu"``, or a torch device such as ``"cuda"``, ``"cuda:1"`` or ``"mps"`` (torch backend).
    n_jobs : int or None
        Threads of a blocked pass on the numpy backend; None: every core this process may use.
    memory_mb : float
        Working memory of one blocked pass (all its tiles together), beyond its inputs and outputs.
    progress : bool or None
        Progress bars: True always, False never, None only on a terminal (and only for passes that compare
        at least ``PROGRESS_MIN_PAIRS`` pairs; shorter ones finish before a bar would help).
    """

    backend: str = "auto"
    device: str = "cpu"
    n_jobs: int | None = None
    memory_mb: float = MEMORY_MB
    progress: bool | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ParameterError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {self.backend!r}")
        if not isinstance(self.device, str) or not self.device.strip():
            raise ParameterError(f"device must be a device name such as 'cpu' or 'cuda'; got {self.device!r}")
        if self.backend == "numpy" and self.device != "cpu":
            raise ParameterError(
                f"the numpy backend runs on the CPU; for device={self.device!r} use backend='torch' (or 'auto')"
            )
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int)
                                        or self.n_jobs < 1):
            raise ParameterError(f"n_jobs must be a whole number of threads >= 1, or None for every core; "
                                 f"got {self.n_jobs!r}")
        if (isinstance(self.memory_mb, bool) or not isinstance(self.memory_mb, (int, float))
                or not math.isfinite(self.memory_mb) or self.memory_mb <= 0):
            raise ParameterError(f"memory_mb must be a positive number of megabytes; got {self.memory_mb!r}")
        if self.progress not in (None, True, False):
            raise ParameterError(f"progress must be True, False or None (only on a terminal); got {self.progress!r}")

    # -- backend -------------------------------------------------------------
    def resolve_backend(self) -> str:
        """``"numpy"`` or ``"torch"``; raises :class:`~vecbridge.errors.MissingDependencyError` when torch is
        asked for and missing, :class:`~vecbridge.errors.ParameterError` when the device is not there."""
        backend = self.backend
        if backend == "auto":
            backend = "numpy" if self.device == "cpu" else "torch"
        if backend == "torch":
            torch = require("torch", "torch", "the torch backend")
            kind = self.device.split(":")[0]
            if kind not in ("cpu", "cuda", "mps"):
                raise ParameterError(f"device={self.device!r}: the torch backend runs on 'cpu', 'cuda', 'cuda:N' "
                                     "or 'mps'")
            if kind == "cuda" and not torch.cuda.is_available():
                raise ParameterError(f"device={self.device!r}, but torch sees no CUDA device; use device='cpu'")
            if kind == "mps" and not torch.backends.mps.is_available():
                raise ParameterError(f"device={self.device!r}, but torch sees no MPS device; use device='cpu'")
        return backend

    # -- threads -------------------------------------------------------------
    def n_threads(self) -> int:
        """Threads of a blocked pass: ``n_jobs``, or every core this process may use."""
        return int(self.n_jobs) if self.n_jobs is not None else usable_cores()

    @contextlib.contextmanager
    def threads(self, n_items: int | None = None) -> Iterator[Callable[[Callable[[Any], Any], Iterable[Any]], list[Any]]]:
        """Yields ``run(fn, items) -> [fn(item), ...]`` on this context's threads, BLAS held to one thread.

        ``n_items`` (when known) caps the threads at the number of work items.
        """
        n = self.n_threads()
        if n_items is not None:
            n = max(1, min(n, int(n_items)))
        with limit_blas_threads(1):
            if n == 1:
                yield _serial_map
                return
            with ThreadPoolExecutor(n, thread_name_prefix="vecbridge") as pool:
                yield lambda fn, items: list(pool.map(fn, items))

    @staticmethod
    def single_blas_thread() -> contextlib.AbstractContextManager[None]:
        """Hold BLAS to one thread (for loops of small products between blocked passes)."""
        return limit_blas_threads(1)

    # -- progress ------------------------------------------------------------
    def bar(self, total: int | None, desc: str, unit: str = "rows", pairs: float | None = None) -> Any:
        """A progress bar (tqdm) that follows ``progress``; ``pairs``: the work of a pass, which with
        ``progress=None`` must reach ``PROGRESS_MIN_PAIRS`` for a bar to show."""
        show = self.progress
        if show is None and pairs is not None and pairs < PROGRESS_MIN_PAIRS:
            show = False
        return progress_bar(total, desc, show, unit=unit)

    @classmethod
    def for_device(cls, device: str = "cpu", **fields: Any) -> Compute:
        """The context for a ``device`` named as ``--device`` names it
        (:func:`resolve_device`): ``cpu`` numpy; ``auto`` torch on a GPU
        when torch sees one, else numpy; ``torch`` torch on the CPU; ``cuda``, ``cuda:N``, ``mps`` torch there
        (an error when it is not). ``fields``: the other fields."""
        if not isinstance(device, str) or not device.strip():
            raise ParameterError(f"device must be a device name such as 'cpu', 'auto' or 'cuda'; got {device!r}")
        try:
            dev = resolve_device(device)
        except VecbridgeError as e:
            raise ParameterError(str(e)) from None
        return cls(backend="numpy", **fields) if dev is None else cls(backend="torch", device=str(dev), **fields)

    def replace(self, **changes: Any) -> Compute:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def as_compute(
    compute: Compute | None = None,
    *,
    backend: str | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    memory_mb: float | None = None,
) -> Compute:
    """The :class:`Compute` to use: ``compute`` (default ``Compute()``) with any of the older per-call keywords
    that were given (not None) put in, so that functions that took ``backend=``/``n_jobs=``/``progress=``
    keep working."""
    if compute is None:
        compute = Compute()
    elif not isinstance(compute, Compute):
        raise ParameterError(f"compute must be a vecbridge.compute.Compute or None; got {type(compute).__name__}")
    changes = {k: v for k, v in (("backend", backend), ("n_jobs", n_jobs), ("progress", progress),
                                 ("memory_mb", memory_mb)) if v is not None}
    return compute.replace(**changes) if changes else compute


#: the device names :func:`resolve_device` takes (``--device``), in words
DEVICES = "auto, cpu, cpu-torch, cuda, cuda:N or mps"
_DEVICE = re.compile(r"auto|cpu|numpy|torch|cpu-torch|torch-cpu|cuda|cuda:\d+|mps")


def resolve_device(device: str | None = "auto"):
    """A ``torch.device`` for ``device``, or None for the numpy path.

    ``"auto"``: CUDA when available, else MPS when available, else None (numpy).
    ``"cpu"`` / ``"numpy"`` / None: None. ``"torch"`` / ``"cpu-torch"``: torch on the CPU
    (for testing the torch path without a GPU). ``"cuda"``, ``"cuda:1"``, ``"mps"``: that device,
    or an error saying it is not there. Any other name is an error (:data:`DEVICES` lists them).
    """
    if device in (None, "cpu", "numpy"):
        return None
    if device == "auto":
        try:
            import torch
        except ImportError:
            return None
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return None
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise VecbridgeError(f"unknown device {device!r}; use {DEVICES}")
    torch = require("torch", "torch", "the torch path")
    if device in ("torch", "cpu-torch", "torch-cpu"):
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VecbridgeError(f"device {device!r} asked for, but torch sees no CUDA GPU; use device='auto' or 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise VecbridgeError(f"device {device!r}: torch sees {torch.cuda.device_count()} GPU(s) "
                             f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise VecbridgeError(f"device {device!r} asked for, but torch sees no MPS device (Apple GPU); "
                                 "use device='auto' or 'cpu'")
    return dev


def resolve_backend(backend: str = "auto", device: str = "cpu") -> str:
    """``Compute(backend, device).resolve_backend()``: ``"numpy"`` or ``"torch"``."""
    return Compute(backend=backend, device=device).resolve_backend()


__all__ = [
    "BACKENDS", "DEVICES", "MEMORY_MB", "PROGRESS_MIN_PAIRS", "Compute", "as_compute", "resolve_backend",
    "resolve_device",
    "limit_blas_threads", "usable_cores",
]
