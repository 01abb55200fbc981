"""The terminal during a run: progress bars only where they can be drawn cleanly, log lines that never break them,
and plain lines prefixed with the job from the worker processes of a parallel sweep.

Bars need a terminal of their own: two processes drawing bars on one terminal overwrite each other, so a worker
process (hydra/launcher=joblib, submitit) shows none and logs one plain line per epoch instead. While a run is
on, console log lines (warnings included) go through `tqdm.write`, which prints them above any active bar (not in a
worker, which has no bar).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

# Tests set this to stand for a terminal (a pytest run has none); it never replaces the worker check.
FORCE_TTY_ENV = "RGP_BENCH_FORCE_TTY"


def in_worker_process() -> bool:
    """Whether this process is a worker of a parallel launcher (not the process the user started)."""
    return multiprocessing.current_process().name != "MainProcess"


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (or a test says to act as if it were)."""
    return os.environ.get(FORCE_TTY_ENV) == "1" or sys.stderr.isatty()


def bars_wanted(progress: bool) -> bool:
    """Progress bars: asked for (`train.progress`), stderr is a terminal, and this process has the terminal to
    itself (not a worker of a parallel sweep, whose bars would overwrite its neighbours')."""
    return bool(progress) and stderr_is_terminal() and not in_worker_process()


class _Prefixed(logging.Formatter):
    """Another formatter's lines, each prefixed with the job's label."""

    def __init__(self, label: str, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.label, self.inner = label, inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(f"{self.label} {line}" for line in self.inner.format(record).splitlines())


@contextlib.contextmanager
def job_console(label: str | None = None) -> Iterator[None]:
    """For the block: console log lines and warnings go through tqdm's writer (never through a bar), prefixed with
    `label` (e.g. "[rgp r0.9 s1]") when given. Handlers writing to files are left alone."""
    root = logging.getLogger()
    captured = logging.captureWarnings  # warnings.warn -> the py.warnings logger -> the handlers below
    captured(True)
    worker = in_worker_process()
    if worker:  # no bars here, so tqdm needs no cross-process lock (its semaphore leaked when Ctrl-C ended the job)
        tqdm.set_lock(threading.RLock())
    try:
        # A worker's lines need no detour through tqdm.write either.
        with contextlib.nullcontext() if worker else logging_redirect_tqdm(loggers=[root]):
            consoles = [h for h in root.handlers if not isinstance(h, logging.FileHandler)
                        and isinstance(h, logging.StreamHandler)]
            originals = [h.formatter for h in consoles]
            if label:
                for handler, formatter in zip(consoles, originals, strict=True):
                    handler.setFormatter(_Prefixed(label, formatter))
            try:
                yield
            finally:
                for handler, formatter in zip(consoles, originals, strict=True):
                    handler.setFormatter(formatter)
    finally:
        captured(False)


def emit(text: str) -> None:
    """Print a block of lines in one write, so that another process's output cannot land inside it."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a captured or replaced stdout
        print(text, flush=True)
        return
    data = (text + "\n").encode()
    while data:
        data = data[os.write(fd, data):]
