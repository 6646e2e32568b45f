"""``vecbridge serve``: an HTTP translation service for saved maps and hubs."""

from __future__ import annotations

from ..errors import ParameterError
from .options import check_device, add_command, add_device, add_quiet, info, port_number, positive_float, positive_int

EXAMPLE = """  vecbridge serve old2new=maps/old2new new2old=maps/new2old --port 8000
  curl -s localhost:8000/translate -H 'content-type: application/json' \\
       -d '{"map": "old2new", "vectors": [[0.1, 0.2, ...]]}'"""


def add_parser(sub) -> None:
    p = add_command(sub, "serve", "Serve saved maps and hubs over HTTP (FastAPI + uvicorn).", EXAMPLE, run)
    p.add_argument("maps", nargs="+", metavar="MAP",
                   help="map or hub folders (named by folder name), NAME=DIR, or one folder holding map folders")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port_number, default=8000, help="TCP port, 1-65535 (default 8000)")
    p.add_argument("--max-rows", type=positive_int, default=10_000, help="vectors per request (default 10000)")
    p.add_argument("--max-body-mb", type=positive_float, default=32.0, help="request body limit in MiB (default 32)")
    add_device(p)
    add_quiet(p)
    p.add_argument("--strict", action="store_true",
                   help="answer 422 to a batch that does not look like the map's source space (a hub's \"from\" "
                        "space) (default: translate it and add a \"warning\" to the answer)")


def run(args) -> int:
    check_device(args.device)
    body_bytes = int(args.max_body_mb * 1024 * 1024)
    if body_bytes < 1024:
        raise ParameterError(f"--max-body-mb {args.max_body_mb:g}: a request body limit under 1 KiB refuses every "
                             "request; give at least 0.001")
    from ..optional import require
    from ..serve import create_app

    uvicorn = require("uvicorn", "serve", "vecbridge serve")

    maps = args.maps[0] if len(args.maps) == 1 and "=" not in args.maps[0] else args.maps
    app = create_app(maps, max_rows=args.max_rows, max_body_bytes=body_bytes,
                     device=args.device, strict=args.strict)
    info(args, f"serving {served(app.state.maps, app.state.hubs)} on http://{args.host}:{args.port}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return 0


def served(maps, hubs) -> str:
    """What the start-up line names: ``maps a, b and hub h``."""
    parts = [f"{kind}{'s' if len(names) > 1 else ''} {', '.join(sorted(names))}"
             for kind, names in (("map", maps), ("hub", hubs)) if names]
    return " and ".join(parts) or "nothing"
