"""Leakage audit: what a leaked set of embeddings gives away once it can be translated (``vecbridge audit``).

>>> from vecbridge.audit import run_audit
>>> report = run_audit(leaked_vectors, "minilm-l6", public_texts, ["a news story about sport", ...],
...                    truth=topics, texts=leaked_texts, defences=["noise=0.05"])
>>> report["attribute"]["top1"], report["attribute"]["chance"], report["translation"]["verdict"]
>>> report.write("audit/")          # report.json, predictions.jsonl, report.html

See docs/audit.md.
"""

from __future__ import annotations

from .attack import STOP_WORDS, WordProbe, build_vocabulary, content_words, fit_translation
from .defences import DEFENCES, Defence, DefenceStep, neighbour_recall, parse_defence
from .engine import run_audit, resolve_truth
from .reporting import FILES, AuditReport, bootstrap_ci, check_audit_folder

__all__ = ["run_audit", "AuditReport", "parse_defence", "Defence", "DefenceStep", "DEFENCES", "neighbour_recall",
           "fit_translation", "WordProbe", "build_vocabulary", "content_words", "STOP_WORDS", "bootstrap_ci",
           "check_audit_folder", "resolve_truth", "FILES"]
