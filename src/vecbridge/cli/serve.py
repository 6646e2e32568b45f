"""``vecbridge serve``: an HTTP translation service for saved maps."""

from __future__ import annotations

from .options import add_command, info

EXAMPLE = """  vecbridge serve old2new=maps/old2new new2old=maps/new2old --port 8000
  curl -s localhost:8000/translate -H 'content-type: application/json' \\
       -d '{"map": "old2new", "vectors": [[0.1, 0.2, ...]]}'"""


def add_parser(sub) -> None:
    p = add_command(sub, "serve", "Serve saved maps over HTTP (FastAPI + uvicorn).", EXAMPLE, run)
    p.add_argument("maps", nargs="+", metavar="MAP",
                   help="map folders (named by folder name), NAME=DIR, or one folder holding map folders")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-rows", type=int, default=10_000, help="vectors per request (default 10000)")
    p.add_argument("--max-body-mb", type=float, default=32.0, help="request body limit in MiB (default 32)")
    p.add_argument("--device", default="cpu", help="cpu (numpy), auto (GPU through torch when present), cuda...")
    p.add_argument("--quiet", action="store_true", help="less logging")


def run(args) -> int:
    import uvicorn

    from ..serve import create_app

    maps = args.maps[0] if len(args.maps) == 1 and "=" not in args.maps[0] else args.maps
    app = create_app(maps, max_rows=args.max_rows, max_body_bytes=int(args.max_body_mb * 1024 * 1024),
                     device=args.device)
    info(args, f"serving {', '.join(sorted(app.state.maps))} on http://{args.host}:{args.port}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return 0
