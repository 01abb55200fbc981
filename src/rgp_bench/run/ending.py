"""How a run that does not complete ends: one line that names the cause, an exit status, and an `error.json` written
where there is room.

Every way out is covered: an exception (a UserError, a divergence, a bug), a full disk, MemoryError or CUDA out of
memory, Ctrl-C (SIGINT) and SIGTERM (which Python would otherwise obey without a word).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from rgp_bench.core.errors import UserError
from rgp_bench.core.fileio import free_bytes
from rgp_bench.record.io import write_error
from rgp_bench.run.plan import plan_run
from rgp_bench.store.dense import dense_key
from rgp_bench.train.checkpoint import load_checkpoint

# Exit status of a run stopped by a signal: 128 + the signal's number, as a shell reports it.
SIGNAL_EXIT = 128
FALLBACK_DIR = "rgp-bench-errors"  # under the temp directory, when neither the run dir nor the store has room


class Stopped(SystemExit):
    """The process was asked to stop (SIGTERM). A SystemExit (with the shell's exit status, 128 + N) rather than a
    plain BaseException: no `except Exception` on the way up swallows it, and neither do the bare `except:` blocks
    that re-raise only KeyboardInterrupt and SystemExit (tqdm's logging handler has one, and a SIGTERM that lands
    while it writes a log line was lost there)."""

    def __init__(self, signum: int) -> None:
        super().__init__(SIGNAL_EXIT + signum)
        self.signum = signum

    def __str__(self) -> str:
        return signal.Signals(self.signum).name


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises `Stopped` in the main thread (so the run records how it ended); the
    previous handler comes back afterwards. A no-op outside the main thread (signals cannot be handled there) and
    where a handler is set already (a launcher's, e.g. submitit's, which has its own plan for SIGTERM)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
            signal.SIG_DFL, None):  # a launcher's own handler (submitit's) stays
        yield
        return

    def stop(signum: int, _frame: Any) -> None:
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(exc: BaseException) -> bool:
    """Whether the run was stopped from outside (Ctrl-C or SIGTERM), not by a failure of its own."""
    return isinstance(exc, KeyboardInterrupt | Stopped)


def exit_status(exc: BaseException) -> int:
    """The exit status of a run that ended with `exc`: 130 for Ctrl-C, 128 + N for signal N, a UserError's own
    status, else 1."""
    if isinstance(exc, KeyboardInterrupt):
        return SIGNAL_EXIT + signal.SIGINT
    if isinstance(exc, Stopped):
        return SIGNAL_EXIT + exc.signum
    if isinstance(exc, UserError):
        return exc.exit_code
    return 1


def describe(exc: BaseException, resume: str) -> str:
    """One line that names why the run ended; `resume` says how a relaunch goes on ('resume from epoch 3')."""
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted; relaunch the same command to {resume}"
    if isinstance(exc, Stopped):
        return f"stopped by {exc}; relaunch the same command to {resume}"
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = Path(exc.filename) if exc.filename else Path.cwd()
        return (f"disk full: could not write {where} ({free_bytes(where.parent) / 2**20:.0f} MiB free there); "
                f"free some space and relaunch the same command to {resume}")
    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        what = "GPU memory" if isinstance(exc, torch.OutOfMemoryError) else "memory"
        return (f"out of {what} ({type(exc).__name__}); lower train.batch_size or the model's size, then relaunch "
                f"the same command to {resume}")
    lines = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return lines[0]


def resume_point(cfg: DictConfig, checkpoint: Path) -> str:
    """What a relaunch resumes from: the epoch after the last one checkpointed (training, else the dense
    pretraining), or the start."""
    plan = plan_run(cfg)
    saved = load_checkpoint(checkpoint)
    phase, epochs = "training", plan.train.epochs
    if saved is None and plan.pretrain is not None:
        saved = load_checkpoint(Path(cfg.cache_dir) / "dense" / f"{dense_key(cfg, plan.pretrain.epochs)}.partial.pt")
        phase, epochs = "dense pretraining", plan.pretrain.epochs
    history = saved.get("history") if isinstance(saved, dict) else None
    if not isinstance(history, list) or not history:
        return "resume from epoch 1 (no epoch was checkpointed)"
    if len(history) >= epochs:
        return f"resume after the last epoch of {phase} ({len(history)})"
    return f"resume from epoch {len(history) + 1} of {phase}"


def write_error_where_room(places: list[Path], identity: dict[str, Any], message: str) -> Path:
    """Write error.json in the first of `places` that takes it, else in a directory under the system's temp
    directory; returns where it went."""
    fallback = Path(tempfile.gettempdir()) / FALLBACK_DIR / f"{identity.get('run_id') or 'run'}-{os.getpid()}"
    for place in [*places, fallback]:
        try:
            return write_error(place, identity, message)
        except OSError:
            continue
    raise OSError(errno.ENOSPC, "no directory had room for error.json", str(fallback))
