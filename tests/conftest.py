"""Shared fixtures: compose configs with Hydra's compose API and run the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from rgp_bench.config import conf_dir, register

register()


def make_cfg(*overrides: str) -> DictConfig:
    """Compose the real config with overrides, as `python -m rgp_bench` would."""
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.fixture
def cfg_factory() -> Callable[..., DictConfig]:
    return make_cfg


def run_cli(args: list[str], tmp: Path, *, fast: bool = True, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run `python -m rgp_bench ARGS` with its outputs and caches under `tmp`."""
    extra = [f"hydra.run.dir={tmp}/run", f"hydra.sweep.dir={tmp}/sweep", f"cache_dir={tmp}/cache"]
    if fast:
        extra += ["logger=none"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    flags = [a for a in args if a.startswith("-")]  # argparse wants flags before the overrides
    overrides = [a for a in args if not a.startswith("-")]
    return subprocess.run([sys.executable, "-m", "rgp_bench", *flags, *extra, *overrides], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=tmp)


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    def _run(*args: str, fast: bool = True) -> subprocess.CompletedProcess:
        return run_cli(list(args), tmp_path, fast=fast)

    return _run


def read_results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())
