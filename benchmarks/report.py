"""Shared by the benchmark scripts: machine description, markdown tables, results files (JSON lines),
writing results into docs/."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def machine() -> str:
    """One line naming the machine, cores, memory and Python, for every table we publish."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {sys.version.split()[0]}, no GPU"


def today() -> str:
    return dt.date.today().isoformat()


def read_rows(path: Path) -> list[dict]:
    """The rows of a JSON-lines results file (none when it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to a JSON-lines results file, with the machine it was measured on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps({**row, "machine": row.get("machine") or machine()}) + "\n")


def provenance(rows: Sequence[dict], command: str) -> str:
    """The line above a table rendered from a results file: when (and, where recorded, on which machines) its
    rows were measured, and the command that rendered it. A rendering is not a measurement."""
    dates = sorted({r["date"] for r in rows if r.get("date")})
    span = f"{dates[0]} to {dates[-1]}" if len(dates) > 1 else (dates[0] if dates else "(no rows)")
    machines = sorted({r["machine"] for r in rows if r.get("machine")})
    where = f"; machines (recorded since 2026-12-06): {'; '.join(machines)}" if machines else ""
    return f"_Rows measured {span} (each row's date in the results file{where}). Rendered {today()} by `{command}`._"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_doc(name: str, title: str, body: str, command: str) -> Path:
    """Write ``docs/<name>.md`` with a header naming the command, machine and date."""
    DOCS.mkdir(exist_ok=True)
    path = DOCS / f"{name}.md"
    text = (
        f"# {title}\n\n"
        f"Measured on {today()} on {machine()}.\n"
        f"Produced by `{command}`; re-run it to refresh this page.\n\n{body.rstrip()}\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def write_section(path: Path, name: str, body: str) -> Path:
    """Replace the text between ``<!-- {name}:start -->`` and ``<!-- {name}:end -->`` in ``path``
    (appending the markers at the end when they are missing); the rest of the page is kept."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        pre, rest = text.split(start, 1)
        text = pre + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
    return path
