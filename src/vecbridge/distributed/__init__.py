"""Translating and fitting beyond one process: sufficient-statistics fits of linear
maps over any number of partitions (:mod:`.moments`), a Ray Data path
(:mod:`.ray_data`), and a torch path for GPUs (:mod:`.torch_backend`).

Ray and torch are imported only by the modules that need them
(``pip install 'vecbridge[distributed]'`` / ``'vecbridge[torch]'``).
"""

from __future__ import annotations

from .moments import LinearMoments, fit_linear_from_batches, fit_normalizer_from_batches, linear_translator_from_moments

__all__ = ["LinearMoments", "fit_linear_from_batches", "fit_normalizer_from_batches", "linear_translator_from_moments"]
