"""The FastAPI app.

Endpoints
---------
``GET /health``
    ``{"status": "ok", "maps": [...names]}``.
``GET /maps``
    one entry per map: name, method, source and target model names and dimensions.
``POST /translate``
    body ``{"map": NAME, "vectors": [[...], ...]}`` (one vector may be given as a flat list);
    answer ``{"map": NAME, "n": n, "dim": d_out, "vectors": [[...], ...]}`` (float32 values).
``POST /maps/{name}/translate``
    the same with the map in the path and body ``{"vectors": ...}``.

Errors are JSON ``{"error": message}`` with a status that says whose fault it is:
400 malformed JSON or a body of the wrong shape, 404 unknown map, 413 body larger
than ``max_body_bytes`` or more than ``max_rows`` vectors, 415 not JSON,
422 vectors of the wrong dimension or holding NaN/Inf/non-numbers.

Maps are loaded once at start-up; translating is the map's pure batch function,
run in the server's thread pool, so concurrent requests do not block each other.
"""

# no "from __future__ import annotations": FastAPI reads the endpoints' annotations at run time

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VecbridgeError

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


class RequestError(Exception):
    """A client error: HTTP ``status`` and a message for the ``error`` field."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def load_maps(maps: Any) -> dict[str, Any]:
    """``{name: Translator}`` from a dict of names to Translators/folders, a list of folders
    (named by folder name) or ``"NAME=DIR"`` strings, or one folder holding map folders."""
    from ..translators import Translator, load_translator
    from ..translators.base import MANIFEST

    if isinstance(maps, (str, os.PathLike)):
        root = Path(maps)
        if (root / MANIFEST).exists():
            maps = [root]
        else:
            maps = sorted(p for p in root.iterdir() if (p / MANIFEST).exists()) if root.is_dir() else []
            if not maps:
                raise VecbridgeError(f"{root}: no maps found (a map folder holds {MANIFEST})")
    if not isinstance(maps, dict):
        named: dict[str, Any] = {}
        for m in maps:
            if isinstance(m, str) and "=" in m and not Path(m).exists():
                name, _, path = m.partition("=")
            else:
                name, path = Path(m).name, m
            if name in named:
                raise VecbridgeError(f"two maps are named {name!r}; name them with NAME=DIR")
            named[name] = path
        maps = named
    out = {}
    for name, m in maps.items():
        out[str(name)] = m if isinstance(m, Translator) else load_translator(m)
    if not out:
        raise VecbridgeError("no maps to serve")
    return out


def describe_map(name: str, t: Any) -> dict[str, Any]:
    m = t.manifest()
    return {"name": name, "method": m["method"], "source": m["source"].get("name"), "target": m["target"].get("name"),
            "dim_in": int(t.n_features_in_), "dim_out": int(t.n_features_out_), "direction": m.get("direction")}


def parse_request(body: bytes, map_name: str | None, maps: dict[str, Any], max_rows: int) -> tuple[str, np.ndarray]:
    """Check a request body; returns the map's name and the (n, d_in) float32 vectors, or raises RequestError."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestError(400, f"the body is not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise RequestError(400, 'the body must be a JSON object {"map": NAME, "vectors": [[...], ...]}')
    name = map_name if map_name is not None else doc.get("map")
    if not isinstance(name, str):
        raise RequestError(400, 'say which map: "map": NAME in the body (GET /maps lists them)')
    if name not in maps:
        raise RequestError(404, f"unknown map {name!r}; available: {sorted(maps)}")
    vecs = doc.get("vectors")
    if not isinstance(vecs, list) or not vecs:
        raise RequestError(400, '"vectors" must be a non-empty list of vectors (lists of numbers)')
    if not isinstance(vecs[0], list):
        vecs = [vecs]
    if len(vecs) > max_rows:
        raise RequestError(413, f"{len(vecs)} vectors in one request; the limit is {max_rows}: split the batch")
    d_in = int(maps[name].n_features_in_)
    for i, v in enumerate(vecs):
        if not isinstance(v, list):
            raise RequestError(400, f"vector {i} is not a list of numbers")
        if len(v) != d_in:
            raise RequestError(422, f"vector {i} has {len(v)} values; map {name!r} takes {d_in}-d vectors")
    try:
        X = np.array(vecs, dtype=np.float32)
    except (TypeError, ValueError):
        raise RequestError(422, "vectors must hold numbers only") from None
    if not np.isfinite(X).all():
        bad = int(np.argmax(~np.isfinite(X).all(axis=1)))
        raise RequestError(422, f"vector {bad} holds NaN, Inf or a number too large for float32")
    return name, X


def create_app(
    maps: Any,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    device: str = "cpu",
) -> Any:
    """The FastAPI app serving ``maps`` (anything :func:`load_maps` takes).

    ``max_rows``: vectors per request; ``max_body_bytes``: request body size (checked
    on ``Content-Length`` and while reading); ``device``: as in
    :func:`vecbridge.stream.batch_function`.
    """
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse
        from starlette.concurrency import run_in_threadpool
    except ImportError:  # pragma: no cover - depends on the environment
        raise VecbridgeError("the service needs fastapi and uvicorn: pip install 'vecbridge[serve]'") from None
    from .. import __version__
    from ..stream import batch_function

    loaded = load_maps(maps)
    functions = {name: batch_function(t, device) for name, t in loaded.items()}
    app = FastAPI(title="vecbridge translation service", version=__version__)
    app.state.maps = loaded

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError):  # noqa: ARG001
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "maps": sorted(loaded)}

    @app.get("/maps")
    def list_maps() -> list[dict[str, Any]]:
        return [describe_map(n, t) for n, t in sorted(loaded.items())]

    async def read_body(request: Request) -> bytes:
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if ctype not in ("application/json", ""):
            raise RequestError(415, f"send JSON (Content-Type: application/json), not {ctype}")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            raise RequestError(413, f"the body has {int(length)} bytes; the limit is {max_body_bytes}: split the batch")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise RequestError(413, f"the body exceeds the limit of {max_body_bytes} bytes: split the batch")
            chunks.append(chunk)
        return b"".join(chunks)

    def answer(body: bytes, map_name: str | None) -> dict[str, Any]:
        name, X = parse_request(body, map_name, loaded, max_rows)
        Y = functions[name](X)
        return {"map": name, "n": int(Y.shape[0]), "dim": int(Y.shape[1]), "vectors": Y.tolist()}

    @app.post("/translate")
    async def translate(request: Request):
        body = await read_body(request)
        return JSONResponse(await run_in_threadpool(answer, body, None))

    @app.post("/maps/{name}/translate")
    async def translate_with(name: str, request: Request):
        if name not in loaded:
            raise RequestError(404, f"unknown map {name!r}; available: {sorted(loaded)}")
        body = await read_body(request)
        return JSONResponse(await run_in_threadpool(answer, body, name))

    return app
