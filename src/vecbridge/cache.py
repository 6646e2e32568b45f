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

An entry counts as complete only when its sidecar exists, parses, its
parameters hash to the entry's key, and it names a data file of the recorded
size. The sidecar also records a sha256 of the data: an entry whose data no
longer matches it (a file replaced or damaged) is rebuilt by the builders, and
:meth:`CacheEntry.load` refuses it, naming the file and ``vecbridge data clear``.
A build killed at any point therefore leaves
either a stray temporary file (ignored, and removed by :func:`clear`) or a
data file without a sidecar (rebuilt on the next call), never an entry a later
run takes for complete.

The sidecar is also vecbridge's mark: :func:`clear` removes only entries whose
sidecar names them (and vecbridge's own temporary files), inside the cache root;
anything else found there is reported as unknown (:func:`plan_clear`) and left
alone. Builder names are single path components (:func:`vecbridge.containment.check_name`),
so no name reaches outside the root.

The key is a hash of the builder name, its parameters and the versions of the
packages it reads from, so upgrading a data package or changing a parameter
makes a new entry instead of reusing a stale one.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import TMP_MARK, atomic_path, write_json_atomic
from .containment import check_name, path_within
from .errors import CacheError

ENV_VAR = "VECBRIDGE_CACHE"
KINDS = {"npz": ".npz", "json": ".json", "parquet": ".parquet", "dir": ".d"}
SIDECAR_SUFFIX = ".meta.json"
_TMP_MARK = TMP_MARK
#: the folder of scratch space (:func:`scratch_dir`) and the prefix of every folder made there
SCRATCH = ".scratch"
SCRATCH_PREFIX = "vecbridge-"
#: ``<key>`` of an entry: 20 hex digits (:func:`cache_key`)
_KEY = r"[0-9a-f]{20}"
#: vecbridge's temporary files in a builder folder: ``[.]<key>.<ext>.tmp-<pid>-<ns>[...]``
_TEMPORARY = re.compile(rf"\.?{_KEY}\.[A-Za-z.]+{re.escape(TMP_MARK)}\d+-\d+.*")


def cache_root() -> Path:
    """The cache directory (created on first use); see the module docstring for the rules."""
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser().resolve()  # resolve first: 'a/../b' must not leave an empty 'a/' behind
        if root.exists() and not root.is_dir():
            raise CacheError(f"{ENV_VAR}={env}: {root} exists and is not a folder; {ENV_VAR} must name a folder "
                             "(it is created when missing)")
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "vecbridge"
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches" / "vecbridge"
    elif os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        root = Path(base) / "vecbridge" / "Cache"
    else:
        root = Path.home() / ".cache" / "vecbridge"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        where = f"{ENV_VAR}={env}" if env else "the cache folder"
        raise CacheError(f"{where}: cannot create the folder {root} ({e.strerror or e}); {ENV_VAR} must name a "
                         "folder that can be created") from None
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


def _write_sidecar(side: dict[str, Any], path: Path) -> None:
    """The sidecar, written last and atomically (a separate function so tests can stop a build here)."""
    write_json_atomic(path, side)


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


def _files_of(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def _stamp(path: Path) -> tuple:
    """What changes when the data is rewritten: (name, size, modification time) of each of its files."""
    return tuple((str(p), st.st_size, st.st_mtime_ns) for p in _files_of(path) for st in [p.stat()])


def data_hash(path: Path) -> str:
    """sha256 (hex) of an entry's data: the file's bytes, or a folder's files (relative names and bytes)."""
    h = hashlib.sha256()
    for p in _files_of(path):
        if path.is_dir():
            h.update(p.relative_to(path).as_posix().encode("utf-8") + b"\x00")
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


#: data already checked against its sidecar's hash in this process: path -> (stamp, sha256)
_VERIFIED: dict[str, tuple[tuple, str]] = {}


def _matches(path: Path, sha: str) -> bool:
    """True when the data at ``path`` hashes to ``sha`` (remembered while the files stay as they are)."""
    stamp = _stamp(path)
    seen = _VERIFIED.get(str(path))
    if seen is not None and seen[0] == stamp:
        return seen[1] == sha
    got = data_hash(path)
    _VERIFIED[str(path)] = (stamp, got)
    return got == sha


def _key_of(meta: Mapping[str, Any]) -> str | None:
    """The key a sidecar's builder, parameters and versions hash to (None when they cannot be hashed)."""
    try:
        if not isinstance(meta.get("builder"), str):
            return None
        return cache_key(meta["builder"], meta.get("params") or {}, meta.get("versions") or {})
    except (CacheError, TypeError, AttributeError):
        return None


def _write_denied(e: OSError, where: Path) -> CacheError:
    """A cache folder that cannot be written to, said as such, with the variable that moves the cache."""
    return CacheError(f"cannot write to the cache folder {where} ({e.strerror or e}); make it writable, or set "
                      f"{ENV_VAR} to a folder you can write to")


#: the list :func:`recording_reads` appends each loaded entry to (None: not recording)
_READS: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar("vecbridge_cache_reads",
                                                                                    default=None)


@contextlib.contextmanager
def recording_reads() -> Iterator[list[tuple[str, str]]]:
    """Record the entries loaded inside the block: ``(builder, data file path)``, in the order read (what
    ``vecbridge data build`` reports as the cached file of a data set)."""
    read: list[tuple[str, str]] = []
    token = _READS.set(read)
    try:
        yield read
    finally:
        _READS.reset(token)


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
        check_name(builder, "cache builder")
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
        """True only when the sidecar parses, its parameters hash to this entry's key, and the data it describes
        is present with its recorded size."""
        try:
            meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(meta, dict) or meta.get("key") != self.key or not self.path.exists():
            return False
        if _key_of(meta) != self.key:  # an edited sidecar: it no longer describes this entry
            return False
        try:
            return _data_size(self.path) == meta.get("size")
        except OSError:
            return False

    def is_valid(self) -> bool:
        """:meth:`is_complete`, and the data hashes to the sha256 its sidecar records (sidecars written before
        vecbridge recorded one are taken on their size)."""
        if not self.is_complete():
            return False
        try:
            sha = self.read_sidecar().get("sha256")
            return sha is None or _matches(self.path, sha)
        except (OSError, ValueError):
            return False

    def _damaged(self, why: str) -> CacheError:
        return CacheError(f"the cache file {self.path} is damaged ({why}); run 'vecbridge data clear {self.builder}' "
                          "and build it again")

    @contextlib.contextmanager
    def building(self):
        """Hold this entry's build lock; yields True when the entry still has to be built.

        Two processes (or test workers) that miss the same entry build it once: the second waits for the
        first, then finds the entry complete. On systems without ``fcntl`` it only re-checks."""
        if self.is_valid():
            yield False
            return
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            fcntl = None
        lock = self.root / SCRATCH / f"{SCRATCH_PREFIX}lock-{self.builder}-{self.key}"
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            f = open(lock, "a+b")
        except PermissionError as e:
            raise _write_denied(e, lock.parent) from None
        with f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield not self.is_valid()
            finally:
                if self.is_complete():
                    lock.unlink(missing_ok=True)
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def read_sidecar(self) -> dict:
        return json.loads(self.sidecar.read_text(encoding="utf-8"))

    def load(self) -> Any:
        """Read a complete entry: dict of arrays (npz), JSON value (json), pyarrow Table (parquet), Path (dir)."""
        if not self.is_complete():
            raise CacheError(f"cache entry {self.path} is missing or incomplete; build it first")
        if not self.is_valid():
            raise self._damaged("its content is not what was written")
        reads = _READS.get()
        if reads is not None:
            reads.append((self.builder, str(self.path)))
        try:
            if self.kind == "npz":
                return _read_npz(self.path)
            if self.kind == "json":
                return json.loads(self.path.read_text(encoding="utf-8"))
            if self.kind == "parquet":
                import pyarrow.parquet as pq

                return pq.read_table(self.path)
        except (ValueError, OSError, EOFError) as e:  # damaged data (ValueError covers JSON, UTF-8, zip, Arrow)
            raise self._damaged(f"it cannot be read as {self.kind}: {type(e).__name__}") from None
        return self.path

    def store(self, value: Any = None, *, build_dir: Callable[[Path], None] | None = None,
              extra: Mapping[str, Any] | None = None) -> None:
        """Write the data atomically, then the sidecar (last).

        ``value``: a mapping of arrays (npz), a JSON-able value (json), a pyarrow Table
        (parquet). For kind ``dir`` pass ``build_dir(tmp_dir)``, which fills a fresh directory.
        """
        path_within(self.root, self.builder, what="cache entry")
        try:
            self._store(value, build_dir, extra)
        except PermissionError as e:
            raise _write_denied(e, self.folder) from None

    def _store(self, value: Any, build_dir: Callable[[Path], None] | None, extra: Mapping[str, Any] | None) -> None:
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
            "sha256": data_hash(self.path),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "written_by": "vecbridge",
        }
        if extra:
            side["extra"] = _canonical(dict(extra))
        _write_sidecar(side, self.sidecar)


def get_or_build(builder: str, params: Mapping[str, Any], build: Callable[..., Any], *,
                 packages: Sequence[str] = (), kind: str = "npz", versions: Mapping[str, str | None] | None = None,
                 rebuild: bool = False) -> Any:
    """Return the cached value of ``builder(params)``, building and storing it on a miss.

    ``build()`` returns the value to store (see :meth:`CacheEntry.store`); for kind ``dir``
    it is called as ``build(tmp_dir)`` and fills that directory. The value returned is
    always read back from the cache, so a hit and a miss return the same thing.
    """
    entry = CacheEntry.make(builder, params, packages, kind, versions)
    with entry.building() as needed:
        if needed or rebuild:
            if kind == "dir":
                entry.store(build_dir=build)
            else:
                entry.store(build())
    return entry.load()


def _builder_folders(builder: str | None) -> list[Path]:
    root = cache_root()
    if builder is not None:
        check_name(builder, "cache builder")
        return [path_within(root, builder, what="cache folder")]
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def _read_sidecar(side: Path) -> dict | None:
    """A sidecar's content when it is one vecbridge wrote for an entry of this folder, else None."""
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    key, kind = meta.get("key"), meta.get("kind")
    if (not isinstance(key, str) or not re.fullmatch(_KEY, key) or side.name != f"{key}{SIDECAR_SUFFIX}"
            or kind not in KINDS or meta.get("file") != f"{key}{KINDS[kind]}"
            or meta.get("builder") != side.parent.name):
        return None
    return meta


def list_entries(builder: str | None = None) -> list[dict]:
    """Sidecars of the entries (optionally of one builder), each with ``path`` added, and ``damaged`` True where
    the sidecar's parameters do not hash to its key (it was edited: the entry is rebuilt on its next use)."""
    out = []
    for folder in _builder_folders(builder):
        if not folder.is_dir():
            continue
        for side in sorted(folder.glob(f"*{SIDECAR_SUFFIX}")):
            if _TMP_MARK in side.name:
                continue
            meta = _read_sidecar(side)
            if meta is None:
                continue
            meta["path"] = str(folder / meta["file"])
            meta["damaged"] = _key_of(meta) != meta["key"]
            out.append(meta)
    return out


@dataclass
class ClearPlan:
    """What :func:`clear` would remove: vecbridge's ``entries`` (data and sidecar; stray temporary files and
    left-over scratch folders count as entries too) and ``unknown`` paths it found and leaves alone."""

    root: Path
    entries: list[dict] = field(default_factory=list)  # {"builder", "paths": [...], "size", "what"}
    unknown: list[Path] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [p for e in self.entries for p in e["paths"]]

    @property
    def size(self) -> int:
        return sum(e["size"] for e in self.entries)


def _size_of(path: Path) -> int:
    try:
        return _data_size(path) if not path.is_symlink() else 0
    except OSError:
        return 0


def plan_clear(builder: str | None = None) -> ClearPlan:
    """The entries :func:`clear` would remove (all builders, or one), and the unknown paths it would leave."""
    root = cache_root()
    plan = ClearPlan(root)
    for folder in _builder_folders(builder):
        if not folder.is_dir() or folder.is_symlink():
            continue
        owned: set[Path] = set()
        for side in sorted(folder.glob(f"*{SIDECAR_SUFFIX}")):
            meta = _read_sidecar(side)
            if meta is None:
                continue
            data = folder / meta["file"]
            paths = [data, side] if data.exists() or data.is_symlink() else [side]
            owned.update(paths)
            plan.entries.append({"builder": folder.name, "paths": paths, "size": sum(_size_of(p) for p in paths),
                                 "what": json.dumps(meta.get("params"))[:80]})
        for p in sorted(folder.iterdir()):
            if p in owned:
                continue
            if _TEMPORARY.fullmatch(p.name):
                plan.entries.append({"builder": folder.name, "paths": [p], "size": _size_of(p),
                                     "what": "temporary file of an interrupted build"})
            else:
                plan.unknown.append(p)
    if builder is None:
        scratch = root / SCRATCH
        if scratch.is_dir() and not scratch.is_symlink():
            for p in sorted(scratch.iterdir()):
                if p.name.startswith(SCRATCH_PREFIX):
                    plan.entries.append({"builder": SCRATCH, "paths": [p], "size": _size_of(p),
                                         "what": "scratch folder of an interrupted build"})
                else:
                    plan.unknown.append(p)
        plan.unknown.extend(sorted(
            p for p in root.iterdir()
            if p.name != SCRATCH and (not p.is_dir() or p.is_symlink() or p.name.startswith("."))
        ))
    return plan


def clear(builder: str | None = None, plan: ClearPlan | None = None) -> int:
    """Remove vecbridge's entries of ``builder`` (or of all builders) and its stray temporary files.

    Only what :func:`plan_clear` lists as entries is removed (pass the ``plan`` shown to a user to remove
    exactly that); unknown files are left alone, and builder folders that end up empty are removed.
    Returns how many paths were removed.
    """
    if plan is None:
        plan = plan_clear(builder)
    root = plan.root.resolve()
    n = 0
    for p in plan.paths:
        real_parent = p.parent.resolve()
        if real_parent != root and root not in real_parent.parents:  # never outside the cache
            raise CacheError(f"{p} is outside the cache {root}; not removing it")
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
        else:
            continue
        n += 1
    for folder in {p.parent for p in plan.paths}:
        if folder != plan.root and folder.name != SCRATCH:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                pass
    return n


def scratch_dir(prefix: str = "") -> tempfile.TemporaryDirectory:
    """A temporary directory inside the cache root (same file system, so renames are atomic).

    Its name starts with ``vecbridge-`` (then ``prefix``), which is how :func:`clear` knows it.
    """
    tmp_root = cache_root() / SCRATCH
    tmp_root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX + prefix.removeprefix(SCRATCH_PREFIX), dir=tmp_root)
