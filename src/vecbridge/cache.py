"""The user cache directory: keyed, atomically written entries.

Everything vecbridge derives from registry packages (parsed corpora, trained
word2vec models, encoded sentences) is stored here, never inside a source tree.

Root: ``$VECBRIDGE_CACHE`` if set, else ``$XDG_CACHE_HOME/vecbridge``, else the
platform's user cache directory (``~/.cache/vecbridge`` on Linux,
``~/Library/Caches/vecbridge`` on macOS, ``%LOCALAPPDATA%\\vecbridge\\Cache``
on Windows).

An entry lives in ``<root>/<builder>/`` as two files:

- ``<key>.<ext>``: the data (``.npz``, ``.json``, ``.parquet``, or a ``.d``
  directory), written under a temporary name and renamed into place;
- ``<key>.meta.json``: the sidecar (builder, parameters, package versions, data
  size), written *last*, also by rename.

An entry counts as complete only when its sidecar exists, parses and names a
data file of the recorded size. A build killed at any point therefore leaves
either a stray temporary file (ignored, and removed by :func:`clear`) or a
data file without a sidecar (rebuilt on the next call), never an entry a later
run takes for complete.

The key is a hash of the builder name, its parameters and the versions of the
packages it reads from, so upgrading a data package or changing a parameter
makes a new entry instead of reusing a stale one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import VecbridgeError

ENV_VAR = "VECBRIDGE_CACHE"
KINDS = {"npz": ".npz", "json": ".json", "parquet": ".parquet", "dir": ".d"}
SIDECAR_SUFFIX = ".meta.json"
_TMP_MARK = ".tmp-"


class CacheError(VecbridgeError):
    """A cache entry could not be written or read."""


def cache_root() -> Path:
    """The cache directory (created on first use); see the module docstring for the rules."""
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "vecbridge"
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches" / "vecbridge"
    elif os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        root = Path(base) / "vecbridge" / "Cache"
    else:
        root = Path.home() / ".cache" / "vecbridge"
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_versions(packages: Sequence[str]) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` where it is not installed)."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _canonical(obj: Any) -> Any:
    """JSON-able, order-independent form of parameters (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise CacheError(f"cache parameters must be JSON-like values; got {type(obj).__name__}: {obj!r}")


def cache_key(builder: str, params: Mapping[str, Any], versions: Mapping[str, str | None]) -> str:
    """20 hex digits of sha256 over (builder, parameters, package versions)."""
    blob = json.dumps(
        {"builder": builder, "params": _canonical(params), "versions": _canonical(versions)},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def hash_strings(items: Sequence[str]) -> str:
    """A short stable hash of a list of strings (order matters); used to key samples by their ids."""
    h = hashlib.sha256()
    for s in items:
        h.update(s.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:20]


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it onto ``final``, on error remove it.

    The temporary name contains ``.tmp-`` so that it is never mistaken for an entry.
    Works for files and for directories (a directory replacing an existing one
    removes the old one first).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}{_TMP_MARK}{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield tmp
        if tmp.is_dir():
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        elif tmp.exists():
            os.replace(tmp, final)
        else:
            raise CacheError(f"the build wrote nothing to {tmp}")
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_json_atomic(obj: Any, path: Path) -> None:
    """Write ``obj`` as JSON through a temporary file and a rename."""
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())


def _write_npz(arrays: Mapping[str, np.ndarray], path: Path) -> None:
    with open(path, "wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
        f.flush()
        os.fsync(f.fileno())


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _data_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


@dataclass(frozen=True)
class CacheEntry:
    """One keyed entry: ``<root>/<builder>/<key><ext>`` and its sidecar."""

    builder: str
    key: str
    kind: str
    params: dict
    versions: dict
    root: Path

    @classmethod
    def make(cls, builder: str, params: Mapping[str, Any], packages: Sequence[str] = (), kind: str = "npz",
             versions: Mapping[str, str | None] | None = None) -> CacheEntry:
        """Entry for ``builder`` with ``params``; versions are looked up from ``packages`` unless given."""
        if kind not in KINDS:
            raise CacheError(f"unknown cache entry kind {kind!r}; choose from {', '.join(KINDS)}")
        vers = dict(versions) if versions is not None else package_versions(packages)
        params = _canonical(dict(params))
        return cls(builder, cache_key(builder, params, vers), kind, params, vers, cache_root())

    @property
    def folder(self) -> Path:
        return self.root / self.builder

    @property
    def path(self) -> Path:
        """The data file (or directory for kind ``dir``)."""
        return self.folder / f"{self.key}{KINDS[self.kind]}"

    @property
    def sidecar(self) -> Path:
        return self.folder / f"{self.key}{SIDECAR_SUFFIX}"

    def is_complete(self) -> bool:
        """True only when the sidecar parses and the data it describes is present with its recorded size."""
        try:
            meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if meta.get("key") != self.key or not self.path.exists():
            return False
        try:
            return _data_size(self.path) == meta.get("size")
        except OSError:
            return False

    def read_sidecar(self) -> dict:
        return json.loads(self.sidecar.read_text(encoding="utf-8"))

    def load(self) -> Any:
        """Read a complete entry: dict of arrays (npz), JSON value (json), pyarrow Table (parquet), Path (dir)."""
        if not self.is_complete():
            raise CacheError(f"cache entry {self.path} is missing or incomplete; build it first")
        if self.kind == "npz":
            return _read_npz(self.path)
        if self.kind == "json":
            return json.loads(self.path.read_text(encoding="utf-8"))
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(self.path)
        return self.path

    def store(self, value: Any = None, *, build_dir: Callable[[Path], None] | None = None,
              extra: Mapping[str, Any] | None = None) -> None:
        """Write the data atomically, then the sidecar (last).

        ``value``: a mapping of arrays (npz), a JSON-able value (json), a pyarrow Table
        (parquet). For kind ``dir`` pass ``build_dir(tmp_dir)``, which fills a fresh directory.
        """
        # a stale sidecar must go first: data and sidecar are replaced as a pair
        if self.sidecar.exists():
            self.sidecar.unlink()
        with atomic_path(self.path) as tmp:
            if self.kind == "npz":
                _write_npz(value, tmp)
            elif self.kind == "json":
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(value, f, ensure_ascii=False)
                    f.flush()
                    os.fsync(f.fileno())
            elif self.kind == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(value, tmp)
            else:
                if build_dir is None:
                    raise CacheError("a 'dir' cache entry needs build_dir(tmp_dir)")
                tmp.mkdir(parents=True)
                build_dir(tmp)
        side = {
            "key": self.key, "builder": self.builder, "kind": self.kind, "params": self.params,
            "versions": self.versions, "size": _data_size(self.path), "file": self.path.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if extra:
            side["extra"] = _canonical(dict(extra))
        write_json_atomic(side, self.sidecar)


def get_or_build(builder: str, params: Mapping[str, Any], build: Callable[..., Any], *,
                 packages: Sequence[str] = (), kind: str = "npz", versions: Mapping[str, str | None] | None = None,
                 rebuild: bool = False) -> Any:
    """Return the cached value of ``builder(params)``, building and storing it on a miss.

    ``build()`` returns the value to store (see :meth:`CacheEntry.store`); for kind ``dir``
    it is called as ``build(tmp_dir)`` and fills that directory. The value returned is
    always read back from the cache, so a hit and a miss return the same thing.
    """
    entry = CacheEntry.make(builder, params, packages, kind, versions)
    if rebuild or not entry.is_complete():
        if kind == "dir":
            entry.store(build_dir=build)
        else:
            entry.store(build())
    return entry.load()


def list_entries(builder: str | None = None) -> list[dict]:
    """Sidecars of the complete entries (optionally of one builder), each with ``path`` added."""
    root = cache_root()
    folders = [root / builder] if builder else sorted(p for p in root.iterdir() if p.is_dir())
    out = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for side in sorted(folder.glob(f"*{SIDECAR_SUFFIX}")):
            if _TMP_MARK in side.name:
                continue
            try:
                meta = json.loads(side.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            meta["path"] = str(folder / meta.get("file", ""))
            out.append(meta)
    return out


def clear(builder: str | None = None) -> int:
    """Remove the entries of ``builder`` (or of all builders) and any stray temporary files; returns how many paths."""
    root = cache_root()
    target = root / builder if builder else root
    if not target.exists():
        return 0
    n = 0
    for p in list(target.iterdir()):
        if p.is_dir() and not builder and p.parent == root:
            n += sum(1 for _ in p.iterdir())
            shutil.rmtree(p)
        elif p.is_dir():
            shutil.rmtree(p)
            n += 1
        else:
            p.unlink()
            n += 1
    return n


def scratch_dir(prefix: str = "vecbridge-") -> tempfile.TemporaryDirectory:
    """A temporary directory inside the cache root (same file system, so renames are atomic)."""
    tmp_root = cache_root() / ".scratch"
    tmp_root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=tmp_root)
