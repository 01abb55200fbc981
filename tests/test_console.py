"""The terminal: bars only where a process has the terminal to itself, log lines never inside a bar, sweep jobs'
lines prefixed with the job, every epoch in the log, and the sweep's "k of N done" lines and final table."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from tests.conftest import make_cfg
from tqdm import tqdm

from rgp_bench.callbacks import comparison_table, progress_line, sweep_size
from rgp_bench.core import console
from rgp_bench.core.console import FORCE_TTY_ENV, bars_wanted, emit, job_console
from rgp_bench.core.hardware import resolve_hardware
from rgp_bench.data import build_data
from rgp_bench.models import build_model
from rgp_bench.run.job import job_label
from rgp_bench.train import make_loader, train_phase

BASIC = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


@contextlib.contextmanager
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """stderr as a terminal (forced: pytest has none), captured; a root console handler on it, as Hydra has.
    (Entered inside the test: pytest puts its own stderr back between a fixture's setup and the test.)"""
    screen = io.StringIO()
    monkeypatch.setenv(FORCE_TTY_ENV, "1")
    handler = logging.StreamHandler(screen)
    handler.setFormatter(logging.Formatter("[%(levelname)s] - %(message)s"))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    level = root.level
    root.setLevel(logging.INFO)  # setLevel, not an attribute: loggers cache what they let through
    try:
        with contextlib.redirect_stderr(screen):
            handler.setStream(screen)
            yield screen
    finally:
        root.setLevel(level)


def test_bars_only_on_a_terminal_the_process_has_to_itself(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.delenv(FORCE_TTY_ENV, raising=False)
    assert not bars_wanted(True)
    monkeypatch.setenv(FORCE_TTY_ENV, "1")
    assert bars_wanted(True) and not bars_wanted(False)
    # a worker of hydra/launcher=joblib (a process of its own beside other jobs) draws no bar
    monkeypatch.setattr(console.multiprocessing, "current_process", lambda: types.SimpleNamespace(name="Fork-3"))
    assert not bars_wanted(True)


def test_a_log_line_never_lands_inside_a_progress_bar(monkeypatch):
    def draw_and_warn() -> None:
        bar = tqdm(range(3), desc="train", file=sys.stderr, mininterval=0, ncols=80)
        for _ in bar:
            logging.getLogger("rgp_bench.test").warning("a warning while the bar is drawn")
        bar.close()

    with terminal(monkeypatch) as screen:
        draw_and_warn()  # without the console set up, the line is written straight after the bar's text
    assert any("%|" in line and "a warning" in line for line in screen.getvalue().split("\n"))
    with terminal(monkeypatch) as screen, job_console():
        draw_and_warn()
    lines = [line.split("\r")[-1] for line in screen.getvalue().split("\n") if "a warning" in line]
    assert len(lines) == 3 and all(line.strip() == "[WARNING] - a warning while the bar is drawn" for line in lines)


def test_a_sweep_job_prefixes_its_console_lines_but_not_its_log_file(monkeypatch, tmp_path):
    label = job_label(make_cfg("method=rgp", "ratio=0.9", "seed=1"))
    assert label == "[rgp r0.9 s1]" and job_label(make_cfg("method=dense", "seed=2")) == "[dense s2]"
    with terminal(monkeypatch) as screen:
        file_handler = logging.FileHandler(tmp_path / "job.log")
        logging.getLogger().addHandler(file_handler)
        with job_console(label):
            logging.getLogger("rgp_bench.test").info("train epoch 3/30: loss 0.1")
        file_handler.close()
    assert screen.getvalue() == "[rgp r0.9 s1] [INFO] - train epoch 3/30: loss 0.1\n"
    assert (tmp_path / "job.log").read_text() == "train epoch 3/30: loss 0.1\n"
    assert logging.getLogger().handlers[0].formatter._fmt == "[%(levelname)s] - %(message)s"  # restored


@pytest.mark.parametrize("tty", [True, False])
def test_the_log_file_has_every_epoch_with_or_without_a_bar(tty, monkeypatch, tmp_path):
    cfg = make_cfg("model.width=16", "model.depth=2", "train.limit_batches=2")
    hw = resolve_hardware(cfg.hardware)
    data = build_data(cfg.dataset, Path(cfg.cache_dir) / "data")
    model = build_model(cfg.model, data.in_channels, data.image_size, data.num_classes, data.spatial_dims)
    val = make_loader(data.val, 64, hw, shuffle=False)
    with terminal(monkeypatch) as screen:
        if not tty:
            monkeypatch.delenv(FORCE_TTY_ENV)
        log_file = logging.FileHandler(tmp_path / "job.log")
        logging.getLogger().addHandler(log_file)
        with job_console():
            train_phase(model, data.train, val, cfg.train, hw, phase="train", epochs=2, lr=0.1, seed=0)
        log_file.close()
    epochs = [line.split(":")[0] for line in (tmp_path / "job.log").read_text().splitlines() if ": loss " in line]
    assert epochs == ["train epoch 1/2", "train epoch 2/2"]
    assert ("%|" in screen.getvalue()) is tty  # the bar, only on a terminal


def test_emit_writes_a_block_whole(capsys):
    emit("line one\nline two")
    assert capsys.readouterr().out == "line one\nline two\n"


def test_the_sweep_counts_its_jobs_from_the_overrides_and_the_sweepers_params():
    task = ["method=rgp,magnitude,random", "ratio=0.5,0.9", "seed=0,1", "train.epochs=2"]
    config = OmegaConf.create({"hydra": {"sweeper": {"_target_": BASIC, "params": None},
                                         "overrides": {"task": task}}})
    assert sweep_size(config) == 12
    config.hydra.sweeper.params = {"model": "mlp,cnn1d"}
    assert sweep_size(config) == 24
    config.hydra.sweeper._target_ = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweep_size(config) is None  # it decides as it goes


def test_the_progress_line_counts_records_and_failures(tmp_path):
    for job, name in (("a", "results.json"), ("b", "results.json"), ("c", "error.json"), ("d", ".hydra")):
        (tmp_path / job).mkdir()
        (tmp_path / job / name).write_text("{}")
    assert progress_line(tmp_path, 12) == "[sweep] 3 of 12 done, 1 failed"
    assert progress_line(tmp_path, None) == "[sweep] 3 done, 1 failed"


def test_the_comparison_table_has_one_row_per_method_and_a_column_per_ratio():
    def group(method: str, ratio: float, mean: float, regime: str = "scratch", budget: str = "weights") -> dict:
        return {"dataset": "digits", "model": "mlp", "budget": budget, "ratio": ratio, "label": method,
                "regime": regime, "acc_mean": mean, "acc_std": 0.5, "n": 2}

    groups = [group("magnitude", 0.5, 91.0, "finetune"), group("magnitude", 0.9, 85.25, "finetune"),
              group("rgp", 0.5, 90.0), group("rgp", 0.9, 88.0), group("dense", 0.0, 95.0, budget="none")]
    table = comparison_table(groups, "best_val").splitlines()
    assert table[0] == "digits / mlp: test top-1 % (best_val), mean ± std (seeds)"
    assert table[1].split() == ["method", "budget", "regime", "unpruned", "r=0.5", "r=0.9"]
    assert table[2].split() == ["magnitude", "weights", "finetune", "91.00", "±", "0.50", "(2)", "85.25", "±", "0.50",
                                "(2)"]
    assert table[4].split() == ["dense", "unpruned", "scratch", "95.00", "±", "0.50", "(2)"]
    assert comparison_table([], "best_val") == ""
