"""Shared fixtures: configs composed once with Hydra's compose API (then copied), and the CLI in a subprocess."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from tests.cli_runner import run_rgp_bench

from hydra_plugins.rgp_bench_launcher.resilient import threads_per_worker
from rgp_bench.config import conf_dir
from rgp_bench.measure.latency import thread_count
from rgp_bench.run.configs import register

register()


def _share_the_cores() -> None:
    """Under pytest-xdist, give each worker (and the runs it starts) its share of the cores, as the joblib launcher
    does for its jobs: N workers each running ops on every core oversubscribe the CPU, and OpenMP's spinning
    threads then slow every test down."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = threads_per_worker(workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


_share_the_cores()


@functools.cache
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def make_cfg(*overrides: str) -> DictConfig:
    """The real config with overrides, as `python -m rgp_bench` would compose it (a private copy).

    Each distinct override list is composed once per test session; callers get a deep copy they may mutate.
    """
    return copy.deepcopy(_composed(tuple(overrides)))


@pytest.fixture(scope="session")
def cfg_global() -> DictConfig:
    """The default config, composed once per test session (do not mutate; use `cfg`)."""
    return _composed(())


@pytest.fixture
def cfg(cfg_global: DictConfig, tmp_path: Path) -> DictConfig:
    """A private copy of the default config whose cache lives in the test's tmp dir."""
    out = copy.deepcopy(cfg_global)
    out.cache_dir = str(tmp_path / "cache")
    return out


@pytest.fixture
def cfg_factory() -> Callable[..., DictConfig]:
    return make_cfg


# The sweep-end report's plots (PNG, SVG and PDF of every figure) cost seconds per sweep; tests of the figures
# themselves draw them in-process (tests/test_report_figures.py) or ask for them with `{SWEEP_FIGURES}=true`.
SWEEP_FIGURES = "hydra.callbacks.sweep_report.figures"


def run_cli(args: list[str], tmp: Path, *, fast: bool = True, timeout: int = 240,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m rgp_bench ARGS` with its outputs and caches under `tmp` (through the fork server of
    tests/cli_runner.py, which behaves as a fresh process but skips the import of torch and friends)."""
    extra = [f"hydra.run.dir={tmp}/run", f"hydra.sweep.dir={tmp}/sweep", f"cache_dir={tmp}/cache"]
    if fast:  # no tracking, no latency measurement, a sweep's report without plots (tests that need them say so)
        extra += ["logger=none", "measure.latency.enabled=false", f"{SWEEP_FIGURES}=false"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    flags = [a for a in args if a.startswith("-")]  # argparse wants flags before the overrides
    overrides = [a for a in args if not a.startswith("-")]
    return run_rgp_bench([*flags, *extra, *overrides], tmp, env, timeout)


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    def _run(*args: str, fast: bool = True) -> subprocess.CompletedProcess:
        return run_cli(list(args), tmp_path, fast=fast)

    return _run


class PoisonLoader:
    """Stands in for the test split: a method or search that iterates it (or asks its length) fails the test."""

    def __iter__(self):
        raise AssertionError("a method reached the test split")

    def __len__(self) -> int:
        raise AssertionError("a method reached the test split")


def poisoned_bench(*overrides: str) -> tuple[DictConfig, Any, Any]:
    """A built run (data, model, layers, costs) for the config with `overrides`, built under seed 0, whose test
    split is a PoisonLoader. Returns (cfg, hardware, bench)."""
    from rgp_bench.core.hardware import resolve_hardware
    from rgp_bench.run.pipeline import build_bench

    cfg = make_cfg(*overrides)
    hw = resolve_hardware(cfg.hardware)
    torch.manual_seed(0)
    bench = build_bench(cfg, hw)
    bench.test_loader = PoisonLoader()
    return cfg, hw, bench


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (restored afterwards): small kernels, stable timings."""
    with thread_count(1):
        yield


def read_results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


SLURM_PARTITION = "debug"  # the partition of scripts/slurm/cluster.sh's one-node test cluster


@functools.cache
def slurm_unavailable() -> str | None:
    """Why the tests marked `slurm` cannot run here, or None when a cluster with partition `debug` answers."""
    start = "start one with scripts/slurm/cluster.sh start"
    missing = [cmd for cmd in ("sbatch", "srun", "sinfo", "scontrol") if shutil.which(cmd) is None]
    if missing:
        return f"no SLURM cluster: {', '.join(missing)} not found ({start})"
    try:
        import hydra_plugins.hydra_submitit_launcher  # noqa: F401
    except ImportError:
        return "hydra-submitit-launcher is not installed (pip install -e '.[launchers]'; make install does it)"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
        if "is UP" not in ping.stdout:
            said = (ping.stdout + ping.stderr).strip().splitlines()
            return f"no SLURM cluster answers (scontrol ping: {said[0] if said else 'no output'}; {start})"
        nodes = subprocess.run(["sinfo", "-h", "-p", SLURM_PARTITION, "-o", "%T"], capture_output=True, text=True,
                               timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no SLURM cluster answers ({exc}; {start})"
    states = nodes.stdout.split()
    if not any(s.rstrip("*~#!%$@^-") in {"idle", "mixed", "allocated", "completing"} for s in states):
        return (f"the SLURM cluster has no usable node in partition {SLURM_PARTITION!r} "
                f"(sinfo: {' '.join(states) or 'no such partition'}; {start})")
    return None


def slurm_accounting() -> bool:
    """Whether `sacct` answers (the cluster keeps accounting, so submitit polls job states without warnings)."""
    try:
        return subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, with the reason, tests marked `gpu` where CUDA is missing and tests marked `slurm` with no cluster."""
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device (marker gpu); none is available here")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
    slurm_items = [item for item in items if item.get_closest_marker("slurm") is not None]
    reason = slurm_unavailable() if slurm_items else None
    if reason:
        for item in slurm_items:
            item.add_marker(pytest.mark.skip(reason=f"needs a SLURM cluster (marker slurm): {reason}"))
