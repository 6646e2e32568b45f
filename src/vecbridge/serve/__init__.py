"""The translation service: an HTTP API (FastAPI) that loads maps and translates
batches of vectors. ``create_app`` builds it; ``vecbridge serve`` runs it with uvicorn.

FastAPI and uvicorn are imported only here (``pip install 'vecbridge[serve]'``).
"""

from __future__ import annotations

from .app import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ROWS, create_app, load_maps

__all__ = ["create_app", "load_maps", "DEFAULT_MAX_ROWS", "DEFAULT_MAX_BODY_BYTES"]
