"""A run of `rgp_bench.run.job.run_job` in the test's own process, as Hydra calls it in a single run, for the tests
of how runs end (tests/test_faults_endings.py) and of the run store (tests/test_store_integrity.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from rgp_bench.config import conf_dir
from rgp_bench.run import job

TINY = ["model.width=16", "model.depth=2", "train.limit_batches=2", "dataset.val_fraction=0.1"]


@pytest.fixture(autouse=True)
def forget_hydra_config():
    """Hydra's runtime config is process-global: no later test should see the one a test here set."""
    yield
    HydraConfig.instance().cfg = None


def job_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    """The task config of `python -m rgp_bench OVERRIDES` in a single run under `tmp_path`, with Hydra's runtime
    config set as Hydra sets it before it calls the task (so `run_job` runs in this process)."""
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[*TINY, *overrides, f"hydra.run.dir={tmp_path}/run",
                                           f"cache_dir={tmp_path}/cache", "logger=none",
                                           "measure.latency.enabled=false", "train.progress=false"],
                      return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "run")
        cfg.hydra.mode = RunMode.RUN
        cfg.hydra.job.name = "rgp_bench"
    HydraConfig.instance().set_config(cfg)
    (tmp_path / "run").mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def end_of(cfg: DictConfig, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], dict]:
    """Run the job, which must end without completing: (exit status, its stderr lines, its error.json)."""
    with pytest.raises(SystemExit) as ended:
        job.run_job(cfg)
    err = capsys.readouterr().err.strip().splitlines()
    error_file = Path(HydraConfig.get().runtime.output_dir) / "error.json"
    return ended.value.code, err, json.loads(error_file.read_text()) if error_file.is_file() else {}
