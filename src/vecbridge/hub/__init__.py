"""Many spaces at once: a hub (one shared space, one map per space) that translates between any two.

``Hub`` and ``load_hub`` are the API (:mod:`vecbridge.hub.core`); the mathematics is in
:mod:`vecbridge.hub.linalg`, pairing flags in :mod:`vecbridge.hub.pairing`, consistency measures in
:mod:`vecbridge.hub.consistency`, and the service's hub requests in :mod:`vecbridge.hub.service`.
See docs/hub.md.
"""

from __future__ import annotations

from .core import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Hub,
    HubMap,
    HubNotAlignedError,
    HubSpace,
    check_hub_output,
    check_space_name,
    is_hub_folder,
    load_hub,
    load_map,
    read_hub_manifest,
)
from .linalg import cycle_error

__all__ = ["Hub", "HubMap", "HubSpace", "HubNotAlignedError", "load_hub", "load_map", "is_hub_folder", "read_hub_manifest",
           "check_hub_output", "check_space_name", "cycle_error", "FORMAT_NAME", "FORMAT_VERSION"]
