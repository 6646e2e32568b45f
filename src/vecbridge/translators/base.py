"""The one interface every translation method implements.

scikit-learn estimator style:

- hyper-parameters are the ``__init__`` arguments, stored under the same names;
- ``fit(X, Y)`` on paired rows (or ``fit(src, tgt, pairs=...)`` on two
  :class:`~vecbridge.Embeddings` and key pairs) returns ``self``;
- learned state lives in attributes with a trailing underscore;
- ``transform(X)`` is a pure batch function of its input (one row works, no
  batch statistics);
- ``save(dir)`` / ``load(dir)`` write ``weights.safetensors`` and a readable
  ``manifest.json``. Never pickle.

Subclasses implement ``_fit(X, Y)`` and ``_transform(X)`` on already
normalised float32 arrays, and may override ``_transform_target``.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..dictionary import PairCoverage, identity_pairs, pair_rows
from ..embeddings import Embeddings
from ..errors import DimensionError, ManifestError, NotFittedError, VecbridgeError
from ..normalize import Normalizer, parse_steps

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
FORMAT_NAME = "vecbridge-map"
FORMAT_VERSION = 1


def as_float32_matrix(X: Any, what: str = "X") -> np.ndarray:
    """Check and convert input to a 2-D float32 array; a single 1-D row becomes (1, d)."""
    if isinstance(X, Embeddings):
        X = X.vectors
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise DimensionError(f"{what} must be 2-D (n, d), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise VecbridgeError(f"{what} must be numeric, got dtype {X.dtype}")
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        bad = int(np.argmax(~np.isfinite(X).all(axis=1)))
        raise VecbridgeError(f"{what} row {bad} holds NaN or Inf")
    return X


class Translator:
    """Base class. ``method`` is the registry name written to the manifest."""

    method: ClassVar[str] = ""
    #: True when the method needs paired rows (supervised); unsupervised methods set False.
    supervised: ClassVar[bool] = True

    # -- parameters --------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Translator:
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise VecbridgeError(f"{type(self).__name__} has no parameter {k!r}; valid: {sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitting -----------------------------------------------------------
    def fit(self, X: Any, Y: Any, pairs: Any = None) -> Translator:
        """Fit on paired rows, or on two Embeddings and key pairs.

        Parameters
        ----------
        X, Y : arrays (n, d_src), (n, d_tgt) with row i of X paired with row i of Y;
            or two :class:`Embeddings`.
        pairs : list of (source_key, target_key), only with Embeddings. When
            omitted for Embeddings, the keys they share are the pairs.
            Pairs whose keys are missing are counted in ``fit_info_`` and skipped.
        """
        info: dict[str, Any] = {}
        if isinstance(X, Embeddings) and isinstance(Y, Embeddings):
            src, tgt = X, Y
            if pairs is None:
                pairs = identity_pairs(src, tgt)
                info["pairs_from"] = "shared keys"
            else:
                info["pairs_from"] = "dictionary"
            srows, trows, cov = pair_rows(src, tgt, pairs)
            info["coverage"] = cov.as_dict()
            if cov.n_used == 0:
                raise VecbridgeError(f"no usable pairs: {cov.summary()}")
            self.coverage_ = cov
            Xa, Ya = src.vectors[srows], tgt.vectors[trows]
            info["source"] = {"name": src.name, "normalization": src.meta.get("normalization", [])}
            info["target"] = {"name": tgt.name, "normalization": tgt.meta.get("normalization", [])}
        elif isinstance(X, Embeddings) or isinstance(Y, Embeddings):
            raise VecbridgeError("pass two Embeddings (with optional pairs) or two arrays, not a mix")
        else:
            if pairs is not None:
                raise VecbridgeError("pairs=... needs two Embeddings; for arrays, row i of X pairs with row i of Y")
            Xa, Ya = X, Y
            info["pairs_from"] = "paired rows"
        Xa = as_float32_matrix(Xa, "X")
        Ya = as_float32_matrix(Ya, "Y")
        if self.supervised and Xa.shape[0] != Ya.shape[0]:
            raise DimensionError(f"paired fit needs as many rows in X as in Y; got {Xa.shape[0]} and {Ya.shape[0]}")
        info["n_pairs"] = int(Xa.shape[0])
        Xn, Yn = self._fit_normalizers(Xa, Ya)
        self._fit(Xn, Yn)
        info["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.fit_info_ = {**getattr(self, "fit_info_", {}), **info}
        return self

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transform(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transform_target(self, Y: np.ndarray) -> np.ndarray:
        return Y

    # -- using -------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(...) or load a saved map")

    def transform(self, X: Any) -> Any:
        """Map source vectors (n, d_src) -> (n, d_out). An Embeddings in gives an Embeddings out."""
        self._check_fitted()
        if isinstance(X, Embeddings):
            return X.with_vectors(self.transform(X.vectors), translated_by=self.method)
        X = as_float32_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise DimensionError(
                f"this {self.method} map takes {self.n_features_in_}-d source vectors, got {X.shape[1]}-d"
            )
        return np.ascontiguousarray(self._transform(self.source_normalizer_.transform(X)), dtype=np.float32)

    def transform_target(self, Y: Any) -> Any:
        """Put target-space vectors where ``transform`` output lives (normalised, or a shared space)."""
        self._check_fitted()
        if isinstance(Y, Embeddings):
            return Y.with_vectors(self.transform_target(Y.vectors))
        Y = as_float32_matrix(Y, "Y")
        if Y.shape[1] != self.n_features_out_:
            raise DimensionError(
                f"this {self.method} map's target space is {self.n_features_out_}-d, got {Y.shape[1]}-d vectors"
            )
        return np.ascontiguousarray(self._transform_target(self.target_normalizer_.transform(Y)), dtype=np.float32)

    def _fit_normalizers(self, Xa: np.ndarray, Ya: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Record the input/output widths, fit the source and target normalisers (the ``normalize``
        steps, each side on its own rows) and return both sides normalised."""
        self.n_features_in_ = int(Xa.shape[1])
        self.n_features_out_ = int(Ya.shape[1])
        steps = parse_steps(getattr(self, "normalize", None))
        self.source_normalizer_ = Normalizer(steps).fit(Xa)
        self.target_normalizer_ = Normalizer(steps).fit(Ya)
        return self.source_normalizer_.transform(Xa), self.target_normalizer_.transform(Ya)

    def fit_transform(self, X: Any, Y: Any, pairs: Any = None) -> Any:
        return self.fit(X, Y, pairs).transform(X)

    # -- persistence -------------------------------------------------------
    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for k, v in vars(self).items():
            if k.endswith("_") and not k.startswith("_") and isinstance(v, np.ndarray):
                arrays[k] = np.ascontiguousarray(v)
        arrays.update(self.source_normalizer_.state_arrays("source_normalizer_"))
        arrays.update(self.target_normalizer_.state_arrays("target_normalizer_"))
        return arrays

    def _state_scalars(self) -> dict[str, Any]:
        out = {}
        for k, v in vars(self).items():
            if k.endswith("_") and not k.startswith("_") and isinstance(v, (int, float, str, bool, np.integer, np.floating)):
                out[k] = v.item() if isinstance(v, np.generic) else v
        return out

    def manifest(self) -> dict[str, Any]:
        self._check_fitted()
        from .. import __version__

        info = dict(getattr(self, "fit_info_", {}))
        src = info.pop("source", {}) or {}
        tgt = info.pop("target", {}) or {}
        steps = self.source_normalizer_.steps
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "vecbridge_version": __version__,
            "method": self.method,
            "class": type(self).__name__,
            "params": _jsonable(self.get_params()),
            "state": self._state_scalars(),
            "source": {
                "name": src.get("name"),
                "dim": self.n_features_in_,
                "input_normalization": src.get("normalization", []),
                "normalization": steps,
            },
            "target": {
                "name": tgt.get("name"),
                "dim": self.n_features_out_,
                "input_normalization": tgt.get("normalization", []),
                "normalization": self.target_normalizer_.steps,
            },
            "direction": f"{src.get('name') or 'source'} -> {tgt.get('name') or 'target'}",
            "fit": _jsonable(info),
            "metrics": _jsonable(getattr(self, "metrics_", {})),
        }

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the map to the folder ``path`` (created). An existing map there is kept unless ``overwrite``."""
        from safetensors.numpy import save_file

        path = Path(path)
        manifest = self.manifest()
        if path.exists():
            if not path.is_dir():
                raise VecbridgeError(f"{path} exists and is not a folder; choose another output path")
            if any(path.iterdir()) and not overwrite:
                raise VecbridgeError(f"{path} is not empty; refusing to overwrite (pass overwrite=True / --overwrite)")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            save_file(self._state_arrays(), str(tmp / WEIGHTS), metadata={"format": FORMAT_NAME})
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def _from_saved(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Translator:
        obj = cls(**manifest.get("params", {}))
        for k, v in arrays.items():
            if "." not in k:
                setattr(obj, k, v)
        for k, v in manifest.get("state", {}).items():
            setattr(obj, k, v)
        obj.n_features_in_ = int(manifest["source"]["dim"])
        obj.n_features_out_ = int(manifest["target"]["dim"])
        obj.source_normalizer_ = Normalizer.from_state(
            manifest["source"].get("normalization", []), arrays, "source_normalizer_", obj.n_features_in_
        )
        obj.target_normalizer_ = Normalizer.from_state(
            manifest["target"].get("normalization", []), arrays, "target_normalizer_", obj.n_features_out_
        )
        fit = dict(manifest.get("fit", {}))
        fit["source"] = {"name": manifest["source"].get("name"), "normalization": manifest["source"].get("input_normalization", [])}
        fit["target"] = {"name": manifest["target"].get("name"), "normalization": manifest["target"].get("input_normalization", [])}
        obj.fit_info_ = fit
        obj.metrics_ = dict(manifest.get("metrics", {}))
        obj._after_load()
        return obj

    def _after_load(self) -> None:
        """Hook for subclasses that rebuild derived state after loading."""


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and check a saved map's ``manifest.json``; errors name the file."""
    path = Path(path)
    mpath = path / MANIFEST if path.is_dir() else path
    if not mpath.exists():
        raise ManifestError(f"{mpath}: no manifest here; is {path} a folder written by vecbridge fit / Translator.save?")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{mpath}: the manifest is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ManifestError(f"{mpath}: not a vecbridge map manifest (its 'format' is not {FORMAT_NAME!r})")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ManifestError(
            f"{mpath}: written by a newer vecbridge (format {manifest['format_version']}); upgrade to read it"
        )
    for key in ("method", "params", "source", "target"):
        if key not in manifest:
            raise ManifestError(f"{mpath}: the manifest lacks {key!r}")
    for side in ("source", "target"):
        if not isinstance(manifest[side], dict) or not isinstance(manifest[side].get("dim"), int):
            raise ManifestError(f"{mpath}: the manifest's {side!r} entry lacks an integer 'dim'")
    return manifest


def load_translator(path: str | os.PathLike) -> Translator:
    """Load a map saved with :meth:`Translator.save` (any method)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from . import translator_class

    path = Path(path)
    manifest = read_manifest(path)
    wpath = path / WEIGHTS
    if not wpath.exists():
        raise ManifestError(f"{wpath}: the weights file is missing")
    try:
        arrays = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as e:
        raise ManifestError(f"{wpath}: cannot read the weights ({e})") from None
    cls = translator_class(manifest["method"])
    try:
        return cls._from_saved(manifest, arrays)
    except (KeyError, TypeError) as e:
        raise ManifestError(f"{path}: manifest and weights do not fit together ({e!r})") from None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, PairCoverage):
        return obj.as_dict()
    if isinstance(obj, Path):
        return str(obj)
    return obj
