"""Debian packages as a data source: ``apt-get download`` + ``dpkg -x`` into the cache (no root, no install)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..cache import CacheEntry, scratch_dir
from ..errors import DataUnavailableError


def apt_available() -> bool:
    """True when ``apt-get``, ``apt-cache`` and ``dpkg`` are on PATH."""
    return all(shutil.which(t) for t in ("apt-get", "apt-cache", "dpkg"))


def deb_version(package: str) -> str:
    """The candidate version apt would download for ``package``."""
    if not apt_available():
        raise DataUnavailableError(
            f"the Debian package {package} is fetched with apt-get download and dpkg -x, which this machine lacks "
            "(Debian or Ubuntu needed)"
        )
    res = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True)
    for line in res.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise DataUnavailableError(
        f"apt-cache knows no package {package!r} ({res.stderr.strip() or 'no output'}); run apt-get update, "
        "or check that the Debian 'main' archive is among the sources"
    )


def fetch_deb(package: str) -> Path:
    """Extract ``package``'s .deb into a cache directory (keyed by its version) and return that directory."""
    version = deb_version(package)
    entry = CacheEntry.make("deb", {"package": package}, kind="dir", versions={f"deb:{package}": version})
    if entry.is_complete():
        return entry.path

    def build(target: Path) -> None:
        with scratch_dir("apt-") as tmp:
            res = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
            debs = sorted(Path(tmp).glob("*.deb"))
            if res.returncode != 0 or not debs:
                raise DataUnavailableError(
                    f"apt-get download {package} failed (exit {res.returncode}): {res.stderr.strip()[-500:]}"
                )
            res = subprocess.run(["dpkg", "-x", str(debs[0]), str(target)], capture_output=True, text=True)
            if res.returncode != 0:
                raise DataUnavailableError(f"dpkg -x {debs[0].name} failed: {res.stderr.strip()[-500:]}")

    with entry.building() as needed:
        if needed:
            entry.store(build_dir=build)
    return entry.path
