"""The audit's outputs: bootstrap intervals, ``report.json``, ``predictions.jsonl`` and a standalone
``report.html``, written into one folder."""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_output, write_json_atomic, write_text_atomic
from ..errors import OutputExistsError

#: the files an audit writes into its folder
FILES = ("report.json", "predictions.jsonl", "report.html")


# -- bootstrap ------------------------------------------------------------------------------------------
def bootstrap_ci(data: np.ndarray, stat: Callable[[np.ndarray, int], np.ndarray], n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95) -> list[float] | None:
    """Percentile interval of a statistic over rows resampled with replacement.

    ``data`` (n, c): one row per item; ``stat(sums, n)`` takes the column sums of each resample (B, c) and
    returns the statistic of each (B,). None when there are no rows or ``n_boot`` is 0.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    n = len(data)
    if n == 0 or n_boot <= 0:
        return None
    rng = np.random.default_rng(seed)
    chunk = max(1, min(int(n_boot), 2_000_000 // max(n * data.shape[1], 1)))
    values = []
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        values.append(np.asarray(stat(data[idx].sum(axis=1), n), dtype=np.float64))
        done += b
    v = np.concatenate(values)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    a = (1.0 - level) / 2
    return [round(float(np.quantile(v, a)), 4), round(float(np.quantile(v, 1 - a)), 4)]


def mean_stat(sums: np.ndarray, n: int) -> np.ndarray:
    return sums[:, 0] / n


def f1_stat(sums: np.ndarray, n: int) -> np.ndarray:
    tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2]
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12)


def precision_stat(sums: np.ndarray, n: int) -> np.ndarray:
    return sums[:, 0] / np.maximum(sums[:, 0] + sums[:, 1], 1e-12)


def recall_stat(sums: np.ndarray, n: int) -> np.ndarray:
    return sums[:, 0] / np.maximum(sums[:, 0] + sums[:, 2], 1e-12)


def rounded(x: float | None, digits: int = 4) -> float | None:
    """``x`` rounded, or None for None / NaN (figures that cannot be computed are null)."""
    if x is None:
        return None
    x = float(x)
    return None if not math.isfinite(x) else round(x, digits)


# -- the output folder ------------------------------------------------------------------------------------
def check_audit_folder(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Check before any work that the audit can write into ``path``: a missing or empty folder, or (with
    ``overwrite``) a folder whose ``report.json`` / ``predictions.jsonl`` / ``report.html`` are replaced;
    nothing else in it is touched."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputExistsError(f"-o {path} exists and is not a folder; give a folder for the audit's files")
        if any(path.iterdir()) and not overwrite:
            raise OutputExistsError(f"-o {path} is a folder that is not empty; choose a new or empty folder, or "
                                    f"pass --overwrite / overwrite=True to write {', '.join(FILES)} into it")
    return path


# -- the report ------------------------------------------------------------------------------------------
@dataclass
class AuditReport:
    """What an audit found: ``summary`` (the JSON object of ``report.json``) and ``predictions`` (one dict per
    row of LEAKED: predicted attribute, scores, recovered words, nearest public texts)."""

    summary: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def to_json(self) -> dict[str, Any]:
        return self.summary

    @property
    def gate_failed(self) -> bool:
        """True when ``max_leak`` was given and the leak exceeds it."""
        return bool((self.summary.get("gate") or {}).get("failed"))

    def write(self, folder: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``report.json``, ``predictions.jsonl`` and ``report.html`` into ``folder`` (created if missing)."""
        folder = check_audit_folder(folder, overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / "report.json", self.summary, sort_keys=False)
        with atomic_output(folder / "predictions.jsonl", overwrite=True) as f:
            for row in self.predictions:
                f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        write_text_atomic(folder / "report.html", self.html())
        return folder

    # -- html --------------------------------------------------------------------------------------------
    def html(self, max_rows: int = 100) -> str:
        """A standalone HTML page (no scripts, no external files) with the tables of the summary."""
        s = self.summary
        att, words, near = s.get("attribute", {}), s.get("words", {}), s.get("nearest", {})
        tr = s.get("translation", {})
        parts = [f"<h1>Leakage audit</h1><p class=meta>{_e(s.get('rows'))} leaked vectors "
                 f"({_e(s['dims']['leaked'])}-d) "
                 f"read through encoder <b>{_e(s.get('encoder'))}</b> ({_e(s['dims']['known'])}-d) with "
                 f"{_e(s.get('n_public'))} public texts; {_e(len(s.get('attributes', [])))} attributes. "
                 f"vecbridge {_e(s.get('version'))}.</p>"]
        verdict = tr.get("verdict")
        parts.append(f"<h2>Translation</h2><p>method <b>{_e(tr.get('method'))}</b>, verdict "
                     f"<b class='v-{_e(str(verdict).replace(' ', '-'))}'>{_e(verdict)}</b> (confidence "
                     f"{_f(tr.get('confidence'))}); {_e(tr.get('reason') or '')}</p>")
        gate = s.get("gate")
        if gate:
            parts.append(f"<p class={'fail' if gate.get('failed') else 'pass'}>Gate: leak {_f(gate.get('leak'))} "
                         f"against --max-leak {_f(gate.get('max_leak'))}: "
                         f"{'FAILED' if gate.get('failed') else 'passed'}.</p>")
        parts.append("<h2>Attribute inference</h2>" + _table(
            ["reading", "top-1", "95% CI", "top-3", "95% CI"],
            [["chance (1 / attributes)", _f(att.get("chance")), "", _f(att.get("chance_top3")), ""],
             ["majority attribute", _f(att.get("majority")), "", "", ""],
             ["naive (no translation)", _f(att.get("naive")), _ci(att.get("naive_ci")), _f(att.get("naive_top3")), ""],
             ["translated", _f(att.get("top1")), _ci(att.get("top1_ci")), _f(att.get("top3")), _ci(att.get("top3_ci"))],
             ["ideal (known encoder on the true texts)", _f(att.get("ideal")), _ci(att.get("ideal_ci")),
              _f(att.get("ideal_top3")), ""]]))
        if att.get("predicted_counts"):
            parts.append("<p>Predicted attributes: " + ", ".join(
                f"{_e(k)}: {_e(v)}" for k, v in att["predicted_counts"].items()) + "</p>")
        parts.append("<h2>Word recovery (bag-of-words probe)</h2>" + _table(
            ["reading", "precision", "recall", "F1", "F1 95% CI"],
            [["naive", _f(words.get("naive_precision")), _f(words.get("naive_recall")), _f(words.get("naive_f1")), ""],
             ["translated", _f(words.get("precision")), _f(words.get("recall")), _f(words.get("f1")),
              _ci(words.get("f1_ci"))],
             ["ideal", _f(words.get("ideal_precision")), _f(words.get("ideal_recall")), _f(words.get("ideal_f1")), ""],
             ["probe on held-out public texts", "", "", _f(words.get("public_f1")), ""]])
            + f"<p>Vocabulary: the {_e(words.get('vocabulary_size'))} most frequent content words of the public "
              f"texts.</p>")
        parts.append("<h2>Nearest public texts</h2>" + _table(
            ["reading", "share of a hidden text's content words found in its nearest public text"],
            [["random public text", _f(near.get("random"))], ["naive", _f(near.get("naive"))],
             ["translated", _f(near.get("word_recall"))], ["ideal", _f(near.get("ideal"))]]))
        defs = s.get("defences") or []
        if defs:
            parts.append("<h2>Defences</h2>" + _table(
                ["defence", "utility (recall@10)", "attribute top-1", "naive top-1", "words F1", "method", "verdict"],
                [[d.get("defence"), _f(d.get("utility_recall_at_10")), _f(d.get("attribute_top1")),
                  _f(d.get("attribute_naive")), _f(d.get("words_f1")), d.get("method"), d.get("verdict")]
                 for d in defs]))
        rows = []
        for p in self.predictions[:max_rows]:
            near_text = (p.get("nearest") or [{}])[0].get("text", "")
            rows.append([p.get("row"), p.get("attribute"), p.get("truth", ""), " ".join(p.get("words") or []),
                         near_text])
        parts.append(f"<h2>Predictions (first {len(rows)} of {len(self.predictions)} rows)</h2>"
                     + _table(["row", "predicted attribute", "true attribute", "recovered words",
                               "nearest public text"], rows))
        timing = s.get("timing", {})
        parts.append(f"<p class=meta>Encoding {_f(timing.get('encode_seconds'), 1)} s, audit "
                     f"{_f(timing.get('audit_seconds'), 1)} s.</p>")
        return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>vecbridge leakage audit</title>"
                f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")


_CSS = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:left;vertical-align:top}th{background:#f3f3f3}.meta{color:#666}.fail{color:#b00;font-weight:bold}"
        ".pass{color:#070}.v-aligned{color:#070}.v-uncertain{color:#a60}.v-not-aligned{color:#b00}")


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _f(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{float(x):.{digits}f}"


def _ci(ci: Any) -> str:
    return "" if not ci else f"{ci[0]:.3f}–{ci[1]:.3f}"


def _table(head: list[str], rows: list[list[Any]]) -> str:
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


__all__ = ["FILES", "AuditReport", "bootstrap_ci", "check_audit_folder", "mean_stat", "f1_stat", "precision_stat",
           "recall_stat", "rounded"]
