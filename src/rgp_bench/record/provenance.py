"""Provenance for the run record: package versions, the git state of the source, the platform, the time."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = ("rgp-bench", "torch", "torchvision", "numpy", "scipy", "hydra-core", "omegaconf", "fvcore",
             "wandb", "networkx", "scikit-learn")
_SOURCE_DIR = Path(__file__).resolve().parents[1]


def git_state() -> dict[str, Any]:
    """The source checkout's commit and whether it has uncommitted changes (None for both outside a checkout)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=_SOURCE_DIR, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        # Only this project's own checkout counts, not some other repository the wheel is installed into.
        if Path(git("rev-parse", "--show-toplevel")).resolve() != _SOURCE_DIR.parents[1]:
            return {"commit": None, "dirty": None}
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}  # installed from a wheel, or git unavailable


def environment(device: dict[str, str]) -> dict[str, Any]:
    """Versions of Python and the key packages, the git state of the source, and the device."""
    packages: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": packages,
            "git": git_state(), "device": device}


def now_iso() -> str:
    """Current UTC time in ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
