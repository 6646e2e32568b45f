"""Hub requests of the translation service (:mod:`vecbridge.serve.app`).

``POST /translate`` with ``{"hub": NAME, "from": SPACE, "to": SPACE, "vectors": [[...], ...]}`` translates
with the hub ``NAME`` from one of its spaces to another; the answer is ``{"hub", "from", "to", "n", "dim",
"vectors"}``. The vectors are checked exactly as for a map (:func:`vecbridge.serve.app.parse_request`).
Errors: 400 a body naming both a map and a hub, or ``from`` / ``to`` missing or not strings; 404 an unknown
hub or space (``field`` names which).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import RequestError, VecbridgeError


def hub_route(body: bytes, hubs: dict[str, Any]) -> tuple[str, str, str] | None:
    """``(hub, from, to)`` named by a request body, checked against ``hubs``; None when it names no hub
    (or is not JSON: the map path reports that)."""
    if b'"hub"' not in body:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or "hub" not in doc:
        return None
    if "map" in doc:
        raise RequestError(400, 'name a map ("map") or a hub ("hub", "from", "to"), not both', "hub")
    name = doc["hub"]
    if not isinstance(name, str):
        raise RequestError(400, f'"hub" must be the name of a hub (a string), got {name!r}', "hub")
    if name not in hubs:
        raise RequestError(404, f"unknown hub {name!r}; available: {sorted(hubs)}", "hub")
    spaces = hubs[name].names
    out = []
    for key in ("from", "to"):
        v = doc.get(key)
        if not isinstance(v, str):
            raise RequestError(400, f'a hub request needs "{key}": the name of one of its spaces ({", ".join(spaces)})',
                               key)
        if v not in spaces:
            raise RequestError(404, f"hub {name!r} has no space {v!r}; its spaces: {', '.join(spaces)}", key)
        out.append(v)
    return name, out[0], out[1]


def hub_answer(route: tuple[str, str, str], body: bytes, hubs: dict[str, Any], parse_request: Callable[..., Any],
               max_rows: int, device: str = "cpu") -> dict[str, Any]:
    """Translate the request's vectors along ``route`` (from :func:`hub_route`); ``parse_request`` is the
    service's own check of a body's vectors (:func:`vecbridge.serve.app.parse_request`, passed in so that
    this module does not import the service). RequestError for bad rows."""
    from ..stream import batch_function

    name, src, dst = route
    view = hubs[name].translator(src, dst)
    label = f"{name}:{src}->{dst}"
    _, X = parse_request(body, label, {label: view}, max_rows)
    try:
        Y = batch_function(view, device)(X)
    except VecbridgeError as e:
        raise RequestError(422, f"hub {name!r} cannot translate these vectors from {src!r}: {e}", "vectors") from None
    finite = np.isfinite(Y).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise RequestError(422, f"vector {i}: the output is not finite (values too extreme for float32)", f"vectors[{i}]")
    return {"hub": name, "from": src, "to": dst, "n": int(Y.shape[0]), "dim": int(Y.shape[1]), "vectors": Y.tolist()}


def describe_hub(name: str, hub: Any) -> dict[str, Any]:
    """One entry of ``GET /maps`` for a hub."""
    return {"name": name, "hub": True, "kind": hub.kind, "shared_dim": int(hub.shared_dim_),
            "spaces": [{"name": s.name, "dim": s.dim} for s in hub.spaces_.values()]}


__all__ = ["hub_route", "hub_answer", "describe_hub"]
