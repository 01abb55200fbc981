"""Find the `conf/` directory: inside the installed wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def conf_dir() -> Path:
    """Absolute path of the Hydra config directory.

    A wheel ships `conf/` as `rgp_bench/conf`; an editable install or a plain checkout uses the
    repository's top-level `conf/`.
    """
    for candidate in (_PACKAGE_DIR / "conf", _PACKAGE_DIR.parent.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"rgp-bench configs not found next to {_PACKAGE_DIR}; reinstall the package (pip install -e .)"
    )


GROUPS: tuple[str, ...] = ("dataset", "model", "method", "hardware", "train", "logger", "experiment")
