"""Vector-store migration without re-embedding: LanceDB (:mod:`.lancedb`, embedded, the
default) and Chroma (:mod:`.chroma`, persistent client); the shared loop, the
query side and the quality gate live in :mod:`.migrate`.

The store clients are imported only by their modules (``pip install 'vecbridge[stores]'``).
"""

from __future__ import annotations

from ..errors import QualityGateError
from .migrate import (
    GATE_EXIT_CODE,
    MigrationReport,
    QualityReport,
    quality_gate,
    query_side,
    retrieval_retention,
)

__all__ = ["GATE_EXIT_CODE", "MigrationReport", "QualityGateError", "QualityReport", "quality_gate", "query_side",
           "retrieval_retention"]
