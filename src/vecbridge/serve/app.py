"""The FastAPI app.

Endpoints
---------
``GET /health``
    ``{"status": "ok", "maps": [...names]}``.
``GET /maps``
    one entry per map: name, method, source and target model names and dimensions.
``POST /translate``
    body ``{"map": NAME, "vectors": [[...], ...], "space": "map"}`` (one vector may be given as a flat list;
    ``space``, optional: ``"map"``, the default, the map's output space, or ``"target"``, the target model's own
    coordinates, as ``vecbridge migrate`` writes them: :meth:`vecbridge.Translator.to_target_space`);
    answer ``{"map": NAME, "space": SPACE, "n": n, "dim": d_out, "vectors": [[...], ...]}`` (float32 values),
    with a ``"warning"`` when the vectors do not look like the map's source space or the body has fields the
    request does not use (they are ignored). A hub takes ``{"hub": NAME, "from": SPACE, "to": SPACE, ...}``
    (:mod:`vecbridge.hub.service`).
``POST /maps/{name}/translate``
    the same with the map in the path and body ``{"vectors": ...}``.

Errors are JSON ``{"error": message, "field": where}`` with a status that says whose fault it is:
400 malformed JSON (nesting deeper than a few hundred levels included) or a body of the wrong shape,
404 unknown map (or no such endpoint), 405 a method the endpoint does not take, 413 body larger than
``max_body_bytes`` or more than ``max_rows`` vectors (counted before the body is parsed), 415 not JSON, 422
vectors of the wrong dimension or holding NaN/Inf, non-numbers or numbers beyond float32's range (``field``
names the value: ``vectors[3][2]``), a ``space`` other than "map" or "target", rows the map refuses, or (with
``strict``) vectors that do not look like the map's source space. A client's input never gets a 500. Request
bodies are validated by the pydantic model :class:`TranslateRequest`; errors are :class:`ErrorBody`; both are
declared in ``/openapi.json``.

Maps are loaded once at start-up; translating is the map's pure batch function (followed by
:meth:`vecbridge.Translator.to_target_space` for ``"space": "target"``), run in the server's thread pool, so
concurrent requests do not block each other.
"""

# no "from __future__ import annotations": FastAPI reads the endpoints' annotations at run time

import difflib
import json
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np

from ..errors import ParameterError, RequestError, VecbridgeError
from ..optional import require

_pydantic = require("pydantic", "serve", "the translation service")  # comes with fastapi
BaseModel, ConfigDict, Field = _pydantic.BaseModel, _pydantic.ConfigDict, _pydantic.Field
ValidationError, field_validator = _pydantic.ValidationError, _pydantic.field_validator

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
REF = "#/components/schemas/"
#: what a value must be: a JSON number (not a string or a boolean), finite
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


#: the values of a request's "space": the map's output space (``transform``), or the target model's own
#: coordinates (``to_target_space``, what ``vecbridge migrate`` writes)
SPACES = ("map", "target")
#: the fields a map request and a hub request use; others are ignored, with a "warning" in the answer
MAP_FIELDS = ("map", "vectors", "space")
HUB_FIELDS = ("hub", "from", "to", "vectors", "space")


class TranslateRequest(BaseModel):
    """The body of ``POST /translate``: ``{"map": NAME, "vectors": [[...], ...], "space": "map"}``; one flat
    vector is one row.

    ``map`` may be left out where the path names the map. Other fields are ignored (the answer's "warning"
    names them).
    """

    model_config = ConfigDict(extra="allow")  # kept, to name them in the answer's "warning"

    map: str | None = Field(None, description="the map's name (GET /maps); may be left out where the path names it")
    vectors: Annotated[list[list[Number]], Field(min_length=1, description="the vectors, one list of numbers each "
                                                                           "(one vector may be sent as a flat list)")]
    space: Literal["map", "target"] = Field(
        "map", description='the space of the answer\'s vectors: "map" (the default), the map\'s output space '
                           '(the target\'s space after the map\'s normalisation); "target", the target model\'s '
                           "own coordinates, as `vecbridge migrate` writes them (the map's target normalisation "
                           "undone)")

    @field_validator("vectors", mode="before")
    @classmethod
    def _one_flat_vector_is_one_row(cls, v: Any) -> Any:
        if isinstance(v, list) and v and not isinstance(v[0], list):
            return [v]
        return v


class ErrorBody(BaseModel):
    """The body of every error answer: a message and the request field at fault (None when no one field is)."""

    error: str
    field: str | None = None


#: the error statuses of the translate endpoints, declared in the OpenAPI document
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "malformed JSON or a body of the wrong shape"},
    404: {"model": ErrorBody, "description": "unknown map or hub"},
    413: {"model": ErrorBody, "description": "body larger than max_body_bytes or more than max_rows vectors"},
    415: {"model": ErrorBody, "description": "the body is not JSON"},
    422: {"model": ErrorBody, "description": "vectors of the wrong dimension, holding NaN/Inf, non-numbers or "
                                             "numbers beyond float32's range, rows the map refuses, a \"space\" "
                                             "other than \"map\" or \"target\", or (serve --strict) vectors that "
                                             "do not look like the map's source space"},
}


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
    from ..containment import check_name

    out = {}
    for name, m in maps.items():
        try:
            check_name(str(name), "map")  # it is a URL path segment: /maps/NAME/translate
        except VecbridgeError as e:
            raise VecbridgeError(f"{e}; name the map with NAME=DIR") from None
        from ..hub import Hub, is_hub_folder, load_hub  # a hub folder serves {"hub": NAME, "from": ..., "to": ...}

        out[str(name)] = (m if isinstance(m, (Translator, Hub))
                          else load_hub(m) if is_hub_folder(m) else load_translator(m))
    if not out:
        raise VecbridgeError("no maps to serve")
    return out


def describe_map(name: str, t: Any) -> dict[str, Any]:
    m = t.manifest()
    return {"name": name, "method": m["method"], "source": m["source"].get("name"), "target": m["target"].get("name"),
            "dim_in": int(t.n_features_in_), "dim_out": int(t.n_features_out_), "direction": m.get("direction")}


def _field(loc: tuple) -> str:
    """``("vectors", 3, 2)`` -> ``"vectors[3][2]"``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _not_finite(what: str, field: str, doc: Any, loc: tuple) -> RequestError:
    """The error for a value pydantic read as NaN or +-inf: a number written too large for float64 (``1e400``,
    which JSON parsers read as inf) is said to be too large, ``NaN`` / ``Infinity`` to be NaN or Inf."""
    v = doc
    for part in loc:
        try:
            v = v[part]
        except (KeyError, IndexError, TypeError):
            v = None
            break
    if isinstance(v, _NonFinite):
        return RequestError(422, f"{what} holds NaN or Inf ({field}); send finite numbers", field)
    if isinstance(v, float) and math.isinf(v):
        return RequestError(422, f"{what} holds a number too large for float32 ({field}; beyond even float64's range)",
                            field)
    return RequestError(422, f"{what} holds NaN, Inf or a number too large to represent ({field}); send finite "
                             "numbers within float32's range", field)


def _shown(value: Any, limit: int = 40) -> str:
    """A value of the body as the caller wrote it (JSON: ``true``, ``null``, ``"x"``), cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


#: the most field names a message lists (the others are counted)
_MAX_NAMES = 10


def _names(keys: list[str]) -> str:
    """``["a", "b"]`` -> ``"a" and "b"`` (JSON-quoted, as the caller wrote them; a long name cut as :func:`_shown`
    cuts values, and past :data:`_MAX_NAMES` names the rest counted)."""
    quoted = [_shown(k) for k in keys[:_MAX_NAMES]]
    if len(keys) > _MAX_NAMES:
        return ", ".join(quoted) + f" and {len(keys) - _MAX_NAMES:,} others"
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _unknown_keys(doc: Any, known: tuple[str, ...]) -> list[str]:
    """The keys of a body (a JSON object) that are not fields of the request (``known``)."""
    return [k for k in doc if k not in known] if isinstance(doc, dict) else []


def ignored_fields_warning(keys: list[str], kind: str = "map") -> str | None:
    """The answer's warning for fields a ``kind`` ("map" or "hub") request does not use; None when there are none."""
    if not keys:
        return None
    known = MAP_FIELDS if kind == "map" else HUB_FIELDS
    note = f"ignored {_names(keys)}: not {'a field' if len(keys) == 1 else 'fields'} of a {kind} request " \
           f"(it takes {_names(list(known))}"
    if kind == "map" and {"from", "to", "hub"} & set(keys):
        note += '; "from" and "to" choose the spaces of a hub: send "hub" instead of "map"'
    return note + ")"


def _missing_vectors(doc: Any, known: tuple[str, ...]) -> RequestError:
    """The error for a body without "vectors", naming the fields it has that the request does not know."""
    message = '"vectors" is missing: send the vectors to translate as "vectors": [[...], ...]'
    unknown = _unknown_keys(doc, known)
    if unknown:
        message += f"; the body has {_names(unknown)}, not {'a field' if len(unknown) == 1 else 'fields'} of " \
                   "this request"
        if any(difflib.get_close_matches(k.lower(), ["vectors"], n=1, cutoff=0.6) for k in unknown):
            message += ': did you mean "vectors"?'
    return RequestError(400, message, "vectors")


def _request_error(e: ValidationError, flat: bool = False, doc: Any = None,
                   known: tuple[str, ...] = MAP_FIELDS) -> RequestError:
    """The first problem pydantic found, in the service's terms (see the module docstring for statuses).
    ``flat``: the body sent one vector as a flat list, so ``vectors[j]`` (not ``vectors[0][j]``) names a value;
    ``doc``: the body as :func:`_body_doc` reads it (tells a number too large for float64 from NaN/Inf);
    ``known``: the fields of the request (to name the others when "vectors" is missing)."""
    err = e.errors(include_url=False)[0]
    kind, loc, given = err["type"], tuple(err["loc"]), err.get("input")
    if flat and len(loc) >= 3 and loc[0] == "vectors" and loc[1] == 0:
        loc = ("vectors", *loc[2:])
        field = _field(loc)
        if kind == "finite_number":
            return _not_finite("the vector", field, doc, loc)
        if isinstance(given, int) and not isinstance(given, bool):
            return RequestError(422, f"the vector holds a number too large for float32 ({field})", field)
        return RequestError(422, f"the vector must hold numbers only; {field} is {_shown(given)}", field)
    if kind == "json_invalid":
        return RequestError(400, f"the body is not valid JSON ({err['msg'].removeprefix('Invalid JSON: ')})")
    if not loc:
        return RequestError(400, 'the body must be a JSON object {"map": NAME, "vectors": [[...], ...]}')
    field = _field(loc)
    if loc[0] == "map":
        return RequestError(400, f'"map" must be the name of a map (a string), got {_shown(given)}', field)
    if loc[0] == "space":
        return RequestError(422, f'"space" must be "map" (the map\'s output space, the default) or "target" (the '
                                 f"target model's own coordinates), got {_shown(given)}", "space")
    if len(loc) == 1:
        if kind == "missing":
            return _missing_vectors(doc, known)
        return RequestError(400, '"vectors" must be a non-empty list of vectors (lists of numbers)', field)
    row = loc[1]
    if len(loc) == 2:
        return RequestError(400, f"vector {row} is not a list of numbers ({field})", field)
    if kind == "finite_number":
        return _not_finite(f"vector {row}", field, doc, loc)
    if isinstance(given, int) and not isinstance(given, bool):
        return RequestError(422, f"vector {row} holds a number too large for float32 ({field})", field)
    return RequestError(422, f"vector {row} must hold numbers only; {field} is {_shown(given)}", field)


def unknown_map(name: str, maps: Any, hubs: Any = ()) -> RequestError:
    """404 for a map the service does not serve; when ``name`` is one of its hubs, how to ask a hub."""
    if name in hubs:
        return RequestError(404, f'{json.dumps(name)} is a hub, not a map: send {{"hub": {json.dumps(name)}, '
                                 '"from": SPACE, "to": SPACE, "vectors": [...]} to POST /translate (GET /maps lists '
                                 "its spaces)", "map")
    return RequestError(404, f"unknown map {name!r}; available: {sorted(maps)}", "map")


class Parsed(NamedTuple):
    """A checked request: the map's name, the (n, d_in) float32 vectors, the answer's ``space`` ("map" or
    "target") and the body's fields the request does not use (ignored; the answer's "warning" names them)."""

    name: str
    X: np.ndarray
    space: str
    ignored: list[str]


def parse_request(body: bytes, map_name: str | None, maps: dict[str, Any], max_rows: int, *,
                  hubs: Any = (), kind: str = "map", what: str | None = None) -> Parsed:
    """Check a request body (RequestError when it is not right). ``map_name``: the map the path (or a hub
    route) names; ``hubs``: the service's hub names (a "map" naming one is told how to ask a hub); ``kind``:
    "map" or "hub", the request's kind (which fields it uses); ``what``: names the translator in messages
    (default "map NAME")."""
    known = MAP_FIELDS if kind == "map" else HUB_FIELDS
    check_row_count(body, max_rows)
    try:
        req = TranslateRequest.model_validate_json(body)
    except ValidationError as e:
        doc = _body_doc(body)
        err = _request_error(e, flat=_one_flat_vector(doc), doc=doc, known=known)
        if err.status == 422 or map_name is not None:
            raise err from None
        name = doc.get("map") if isinstance(doc, dict) else None
        if isinstance(name, str) and name not in maps:  # an unknown map is the clearer message when the body names one
            raise unknown_map(name, maps, hubs) from None
        raise err from None
    if map_name is not None and req.map is not None and req.map != map_name:
        raise RequestError(400, f'the path names map {map_name!r} and the body\'s "map" names {req.map!r}; '
                                'leave "map" out of the body or make them agree', "map")
    name = map_name if map_name is not None else req.map
    if name is None:
        raise RequestError(400, 'say which map: "map": NAME in the body (GET /maps lists them)', "map")
    if name not in maps:
        raise unknown_map(name, maps, hubs)
    vecs = req.vectors
    if len(vecs) > max_rows:
        raise RequestError(413, f"{len(vecs)} vectors in one request; the limit is {max_rows}: split the batch",
                           "vectors")
    d_in = int(maps[name].n_features_in_)
    flat = len(vecs) == 1 and _one_flat_vector(_body_doc(body))
    takes = what or f"map {name!r}"
    for i, v in enumerate(vecs):
        if len(v) != d_in:
            what, field = ("the vector", "vectors") if flat else (f"vector {i}", f"vectors[{i}]")
            raise RequestError(422, f"{what} has {len(v)} values; {takes} takes {d_in}-d vectors", field)
    with np.errstate(over="ignore"):
        X = np.array(vecs, dtype=np.float32)
    finite = np.isfinite(X)
    if not finite.all():
        i, j = (int(a[0]) for a in np.nonzero(~finite))
        what, field = ("the vector", f"vectors[{j}]") if flat else (f"vector {i}", f"vectors[{i}][{j}]")
        raise RequestError(422, f"{what} holds a number too large for float32 ({field})", field)
    ignored = [k for k in (req.model_extra or {}) if k not in known]
    return Parsed(name, X, req.space, ignored)


def translate_rows(what: str, translator: Any, fn: Any, parsed: Parsed, strict: bool = False,
                   kind: str = "map") -> dict[str, Any]:
    """The answer's ``space``, ``n``, ``dim``, ``vectors`` (and ``warning``) for checked rows: one path for maps
    and hubs. The rows are checked against the source space's fingerprint
    (:meth:`vecbridge.Translator.check_input`): a mismatch is a "warning", or 422 when ``strict``; ``fn`` is
    the translator's batch function; ``space`` "target" gives the target model's own coordinates
    (:meth:`vecbridge.Translator.to_target_space`, as ``vecbridge migrate`` writes them). ``what`` names the
    translator in messages ("map 'old2new'")."""
    X = parsed.X
    if parsed.space == "target" and not getattr(translator, "output_in_target_space", lambda: False)():
        raise RequestError(422, f'{what} translates into a shared space, not the target model\'s own, so "space": '
                                '"target" has no meaning for it; send "space": "map" or leave "space" out', "space")
    check_input = getattr(translator, "check_input", None)
    space = check_input(X, "source") if check_input is not None else None
    if space is not None and space.matches is False and strict:
        raise RequestError(422, f"{what}: {space.reason}", "vectors")
    try:
        Y = fn(X)
        if parsed.space == "target":
            Y = translator.to_target_space(Y)
    except VecbridgeError as e:  # the map refuses these rows (e.g. an all-zero row it cannot normalise)
        raise RequestError(422, f"{what} cannot translate these vectors: {e}", "vectors") from None
    finite = np.isfinite(Y).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise RequestError(422, f"vector {i}: the output of {what} is not finite (values too extreme for float32)",
                           f"vectors[{i}]")
    out = {"space": parsed.space, "n": int(Y.shape[0]), "dim": int(Y.shape[1]), "vectors": Y.tolist()}
    warnings = [space.reason] if space is not None and space.matches is False else []
    note = ignored_fields_warning(parsed.ignored, kind)
    if note:
        warnings.append(note)
    if warnings:
        out["warning"] = "; ".join(warnings)
    return out


#: a JSON string or a bracket: the tokens :func:`_more_rows_than` looks at (numbers, commas, literals are skipped)
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
#: what follows an object's key up to its value
_KEY_END = re.compile(rb"[ \t\n\r]*:[ \t\n\r]*")
_OBJECT_START = re.compile(rb"[ \t\n\r]*\{")


def _more_rows_than(body: bytes, max_rows: int) -> bool:
    """Whether the body's top-level ``"vectors"`` holds more than ``max_rows`` rows (lists or objects).

    Found without parsing: a scan of the body's strings and brackets that builds no object per row and stops at
    row ``max_rows + 1``; a body with no more brackets than ``max_rows + 2`` is not scanned at all. (Parsing a
    body of millions of rows ``[0]`` takes hundreds of MB and seconds before its rows can be counted.)"""
    if body.count(b"[") + body.count(b"{") <= max_rows + 2:
        return False
    top_object = _OBJECT_START.match(body) is not None
    depth = inside = rows = 0  # inside: the depth of the "vectors" list being counted, 0 outside it
    entering = False
    for m in _TOKEN.finditer(body):
        c = body[m.start()]
        if c == 0x22:  # a string: at depth 1 of an object, followed by ":", a key
            if depth == 1 and top_object and (colon := _KEY_END.match(body, m.end())) is not None:
                entering = body[colon.end():colon.end() + 1] == b"[" and _json_string(m.group()) == "vectors"
        elif c in b"[{":
            depth += 1
            if entering:
                inside, rows, entering = depth, 0, False
            elif inside and depth == inside + 1:
                rows += 1
                if rows > max_rows:
                    return True
        else:
            if depth == inside:
                inside = 0
            depth -= 1
    return False


def _json_string(raw: bytes) -> str | None:
    """A JSON string literal (quotes included) decoded; None when it is not a valid one."""
    if b"\\" not in raw:
        return raw[1:-1].decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except ValueError:
        return None


def check_row_count(body: bytes, max_rows: int) -> None:
    """RequestError 413 when the body sends more than ``max_rows`` vectors, found before the body is parsed."""
    if _more_rows_than(body, max_rows):
        raise RequestError(413, f"more than {max_rows} vectors in one request; the limit is {max_rows}: "
                                "split the batch", "vectors")


class _NonFinite(float):
    """``NaN``, ``Infinity`` or ``-Infinity`` as written in a body read by :func:`_body_doc` (a number written
    too large for float64, such as ``1e400``, is read as a plain float ``inf``)."""


def _body_doc(body: bytes) -> Any:
    """The body parsed as plain JSON, or None when it cannot be (for error messages only)."""
    try:
        return json.loads(body, parse_constant=_NonFinite)
    except (ValueError, RecursionError):
        return None


def _one_flat_vector(doc: Any) -> bool:
    """Whether the body sent ``"vectors"`` as one flat vector (a list whose first item is not a list)."""
    v = doc.get("vectors") if isinstance(doc, dict) else None
    return isinstance(v, list) and bool(v) and not isinstance(v[0], list)


def _positive_int(value: Any, name: str, unit: str) -> int:
    """``value`` as an int, or ParameterError naming ``name`` when it is not a whole number >= 1 (bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive whole number ({unit}); got {value!r}")
    return int(value)


def create_app(
    maps: Any,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    device: str = "cpu",
    strict: bool = False,
) -> Any:
    """The FastAPI app serving ``maps`` (anything :func:`load_maps` takes).

    ``max_rows``: vectors per request; ``max_body_bytes``: request body size (checked
    on ``Content-Length`` and while reading); ``device``: as in
    :func:`vecbridge.stream.batch_function`; ``strict``: answer 422 when a batch does not look like the
    map's source space, or a hub's ``from`` space (:meth:`vecbridge.Translator.check_input`; batches of fewer
    than 64 rows cannot be judged and pass), instead of translating it with a ``"warning"`` in the answer.
    """
    max_rows = _positive_int(max_rows, "max_rows", "vectors per request")
    max_body_bytes = _positive_int(max_body_bytes, "max_body_bytes", "bytes")
    require("fastapi", "serve", "the translation service")
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from ..version import __version__
    from ..stream import batch_function

    loaded = load_maps(maps)
    from ..hub import Hub
    from ..hub.service import describe_hub, hub_answer, hub_route

    hubs = {n: t for n, t in loaded.items() if isinstance(t, Hub)}
    loaded = {n: t for n, t in loaded.items() if n not in hubs}
    functions = {name: batch_function(t, device) for name, t in loaded.items()}
    app = FastAPI(title="vecbridge translation service", version=__version__)
    app.state.maps = loaded
    app.state.hubs = hubs

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError):  # noqa: ARG001
        return JSONResponse({"error": exc.message, "field": exc.field}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        """The framework's own errors (no such endpoint, a method it does not take) in the service's error body."""
        headers = getattr(exc, "headers", None)
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=headers)
        message = f"{exc.detail}: {request.method} {request.url.path}"
        if exc.status_code == 405 and headers and headers.get("Allow"):
            message += f" (it takes {headers['Allow']})"
        return JSONResponse({"error": message, "field": None}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):  # noqa: ARG001
        err = (exc.errors() or [{}])[0]
        field = _field(tuple(err.get("loc", ())))
        return JSONResponse({"error": f"{field}: {err.get('msg', 'invalid request')}", "field": field},
                            status_code=422)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception):  # noqa: ARG001
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); see the server log", "field": None},
                            status_code=500)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "maps": sorted(loaded), "hubs": sorted(hubs)}

    @app.get("/maps")
    def list_maps() -> list[dict[str, Any]]:
        return ([describe_map(n, t) for n, t in sorted(loaded.items())]
                + [describe_hub(n, h) for n, h in sorted(hubs.items())])

    async def read_body(request: Request) -> bytes:
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if ctype not in ("application/json", ""):
            raise RequestError(415, f"send JSON (Content-Type: application/json), not {ctype}", "content-type")
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

    def parse(body: bytes, map_name: str | None, maps: dict[str, Any], kind: str = "map",
              what: str | None = None) -> Parsed:
        return parse_request(body, map_name, maps, max_rows, hubs=hubs, kind=kind, what=what)

    def translate_checked(key: Any, what: str, translator: Any, parsed: Parsed, kind: str = "map") -> dict[str, Any]:
        """:func:`translate_rows` with this service's batch function for ``key`` (a map's name, or a hub's route)
        and its ``strict``: the one check-and-translate path of maps and hubs."""
        fn = functions.get(key)
        if fn is None:
            fn = functions.setdefault(key, batch_function(translator, device))
        return translate_rows(what, translator, fn, parsed, strict=strict, kind=kind)

    def answer(body: bytes, map_name: str | None) -> dict[str, Any]:
        check_row_count(body, max_rows)  # before hub_route parses the body
        route = hub_route(body, hubs, loaded) if map_name is None else None  # {"hub": ..., "from": ..., "to": ...}
        if route is not None:
            return hub_answer(route, body, hubs, parse, translate_checked)
        parsed = parse(body, map_name, loaded)
        name = parsed.name
        return {"map": name, **translate_checked(name, f"map {name!r}", loaded[name], parsed)}

    # the endpoints read their bodies themselves (size limit first, then TranslateRequest): declare them by hand
    request_body = {"required": True, "content": {"application/json": {"schema": {"$ref": f"{REF}TranslateRequest"}}},
                    "description": "the vectors to translate (POST /translate also takes "
                                   '{"hub": NAME, "from": SPACE, "to": SPACE, "vectors": [...], "space": "map"} '
                                   "for a hub)"}

    @app.post("/translate", responses=ERROR_RESPONSES, openapi_extra={"requestBody": request_body})
    async def translate(request: Request):
        body = await read_body(request)
        return JSONResponse(await run_in_threadpool(answer, body, None))

    @app.post("/maps/{name}/translate", responses=ERROR_RESPONSES, openapi_extra={"requestBody": request_body})
    async def translate_with(name: str, request: Request):
        if name not in loaded:
            raise unknown_map(name, loaded, hubs)
        body = await read_body(request)
        return JSONResponse(await run_in_threadpool(answer, body, name))

    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = framework_openapi()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            request_schema = TranslateRequest.model_json_schema(ref_template=REF + "{model}")
            schemas.update(request_schema.pop("$defs", {}))
            schemas["TranslateRequest"] = request_schema
        return app.openapi_schema

    app.openapi = openapi
    return app
