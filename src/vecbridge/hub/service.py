"""Hub requests of the translation service (:mod:`vecbridge.serve.app`).

``POST /translate`` with ``{"hub": NAME, "from": SPACE, "to": SPACE, "vectors": [[...], ...]}`` translates
with the hub ``NAME`` from one of its spaces to another; the answer is ``{"hub", "from", "to", "space", "n",
"dim", "vectors"}``. The vectors are checked and translated exactly as for a map
(:func:`vecbridge.serve.app.parse_request` and :func:`vecbridge.serve.app.translate_rows`): a batch that does
not look like the ``from`` space (its fingerprint) gets a ``"warning"``, or 422 under ``serve --strict``;
``"space": "target"`` gives the ``to`` model's own coordinates (the hub's normalisation of that space undone)
instead of the ``to`` space as the hub normalises it (``"map"``, the default); fields a hub request does not
use are ignored and named in the ``"warning"``.
Errors: 400 a body naming both a map and a hub, or ``from`` / ``to`` missing or not strings; 404 an unknown
hub or space (``field`` names which).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import RequestError


def hub_route(body: bytes, hubs: dict[str, Any], maps: Any = ()) -> tuple[str, str, str] | None:
    """``(hub, from, to)`` named by a request body, checked against ``hubs``; None when it names no hub
    (or is not JSON: the map path reports that). ``maps``: the service's map names (a "hub" naming one is told
    how to ask a map). Decided by the parsed body, so that a key written with escapes (``"\\u0068ub"``) counts;
    a body that holds neither ``"hub"`` nor an escape ``\\u`` cannot have that key, and is not parsed here."""
    if b'"hub"' not in body and b"\\u" not in body:
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
        try:
            shown = json.dumps(name)  # as the caller wrote it: true, null, 3
        except (TypeError, ValueError, RecursionError):
            shown = type(name).__name__
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise RequestError(400, f'"hub" must be the name of a hub (a string), got {shown}', "hub")
    if name not in hubs:
        if name in maps:
            raise RequestError(404, f'{json.dumps(name)} is a map, not a hub: send {{"map": {json.dumps(name)}, '
                                    '"vectors": [...]} (no "from" or "to")', "hub")
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


def hub_answer(route: tuple[str, str, str], body: bytes, hubs: dict[str, Any], parse: Callable[..., Any],
               translate: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Translate the request's vectors along ``route`` (from :func:`hub_route`). ``parse`` and ``translate`` are
    the service's own check of a body and its one check-and-translate path, the same as for a map (passed in
    so that this module does not import the service): ``parse(body, label, {label: translator}, kind, what)``
    (:func:`vecbridge.serve.app.parse_request`) and ``translate(key, what, translator, parsed, kind)``
    (:func:`vecbridge.serve.app.translate_rows`: the fingerprint check, its warning or 422 under ``--strict``,
    ``"space"``). RequestError for bad rows."""
    name, src, dst = route
    view = hubs[name].translator(src, dst)
    label = f"{name}:{src}->{dst}"
    parsed = parse(body, label, {label: view}, kind="hub", what=f"space {src!r} of hub {name!r}")
    out = translate(("hub", name, src, dst), f"hub {name!r} (from {src!r} to {dst!r})", view, parsed, kind="hub")
    return {"hub": name, "from": src, "to": dst, **out}


def describe_hub(name: str, hub: Any) -> dict[str, Any]:
    """One entry of ``GET /maps`` for a hub."""
    return {"name": name, "hub": True, "kind": hub.kind, "shared_dim": int(hub.shared_dim_),
            "spaces": [{"name": s.name, "dim": s.dim} for s in hub.spaces_.values()]}


__all__ = ["hub_route", "hub_answer", "describe_hub"]
