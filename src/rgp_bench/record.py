"""The run record (`results.json`, or `error.json` for a failed run): provenance and atomic writing."""

from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from rgp_bench.fileio import atomic_path

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
ERROR_FILE = "error.json"
_PACKAGES = ("rgp-bench", "torch", "torchvision", "numpy", "scipy", "hydra-core", "omegaconf", "fvcore",
             "wandb", "networkx", "scikit-learn")
_SOURCE_DIR = Path(__file__).resolve().parent


def _clean(value: Any) -> Any:
    """Make a value strict-JSON safe: NaN/inf become null, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write strict JSON atomically: readers never see a half-written file."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_clean(payload), indent=2, allow_nan=False) + "\n")


def _git_state() -> dict[str, Any]:
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
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": packages,
            "git": _git_state(), "device": device}


def now_iso() -> str:
    """Current UTC time in ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_results(out_dir: Path, record: dict[str, Any]) -> Path:
    """Write the completed run's record; its presence means the run is complete."""
    path = out_dir / RESULTS_FILE
    write_json_atomic(path, {"schema_version": SCHEMA_VERSION, "status": "complete", **record})
    return path


def write_error(out_dir: Path, identity: dict[str, Any], error: str) -> Path:
    """Write `error.json` for a failed run, so sweeps and reports list it instead of dropping it."""
    path = out_dir / ERROR_FILE
    write_json_atomic(path, {"schema_version": SCHEMA_VERSION, "status": "failed", "created": now_iso(),
                             **identity, "error": error})
    return path
