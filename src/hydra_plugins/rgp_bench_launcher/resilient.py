"""`hydra/launcher=joblib`, made to survive a lost worker.

Hydra's joblib launcher runs jobs in a loky pool; when one worker is killed (the OOM killer, a stray `kill`),
loky breaks the whole pool and the sweep aborts with `TerminatedWorkerError`. This launcher keeps the same
settings (`hydra.launcher.n_jobs`, ...) and the same job semantics (each worker gets OMP_NUM_THREADS =
cpus // n_jobs, as loky gives it), but runs every job in a process of its own, at most n_jobs at a time
(forked from multiprocessing's fork server, which has imported torch and rgp-bench once).
A job whose process dies without returning is recorded as failed (`error.json` in its job dir, naming the
signal); the other jobs finish; the end-of-sweep report lists the lost job, and relaunching the sweep
completes it from its epoch checkpoint.

The plugin registers itself as the `joblib` option of `hydra/launcher`, replacing the stock one. (No
`from __future__ import annotations` here: Hydra executes plugin modules outside sys.modules, where string
annotations of a dataclass cannot be resolved.)
"""


import atexit
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import hydra_plugins.hydra_joblib_launcher.config as stock  # registers the stock entry first, so ours replaces it
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)
PID_DIR = ".launcher"  # <sweep dir>/.launcher/<job index>.pid: which process runs which job
POLL_SECONDS = 0.2
# After Ctrl-C: how long the jobs get to record where they stopped, before those still running are asked again
# (SIGINT: a terminal's Ctrl-C reached them already; a SIGINT to the launcher alone did not) and then terminated.
INTERRUPT_GRACE_S = 3.0
# Imported once by multiprocessing's fork server, so that a job process is a fork of a clean process that has
# them already, not a fresh interpreter importing torch for ~6 s.
FORKSERVER_PRELOAD = ["torch", "torch.optim", "torchvision", "hydra", "omegaconf", "numpy", "sklearn.datasets",
                      "rgp_bench.run.job"]


@dataclass
class ResilientJoblibConf(stock.JobLibLauncherConf):
    _target_: str = "hydra_plugins.rgp_bench_launcher.resilient.ResilientJoblibLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="joblib", node=ResilientJoblibConf,
                             provider="rgp_bench")


def threads_per_worker(workers: int) -> int:
    """The CPU threads each of `workers` concurrent processes gets (OMP_NUM_THREADS): an even share of the cores."""
    return max(1, (os.cpu_count() or 1) // workers)


def _run_in_child(payload: bytes, conn: Any, pid_file: str, env: dict[str, str]) -> None:
    """Child process: take the launcher's environment, record its pid, run the job, send back its JobReturn."""
    os.environ.clear()
    os.environ.update(env)  # a forkserver child starts with the server's environment, not the launcher's
    Path(pid_file).write_text(str(os.getpid()))
    try:
        fn, args = cloudpickle.loads(payload)
        result = fn(*args)
        conn.send_bytes(cloudpickle.dumps(result))
    except KeyboardInterrupt:  # Ctrl-C before the job's run began (a started run records it): nothing to resume
        pass
    finally:
        conn.close()
        atexit._run_exitfuncs()  # as a process of its own would at exit (a forkserver child ends with os._exit)


def _execute_job(idx: int, overrides: Sequence[str], hydra_context: HydraContext, config: DictConfig,
                 task_function: TaskFunction, singleton_state: dict[Any, Any]) -> JobReturn:
    from hydra_plugins.hydra_joblib_launcher._core import execute_job

    return execute_job(idx, overrides, hydra_context, config, task_function, singleton_state)


def _interrupt(jobs: Sequence[tuple[Any, Any]]) -> None:
    """Ctrl-C in the sweep: let the running jobs (process, result pipe) record where they stopped (error.json,
    resumable) and end, reading what they send back (a job blocked on a full pipe would never end), passing the
    interrupt on to any that did not get it; a job that still does not end is terminated."""
    for attempt in range(2):
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while time.monotonic() < deadline and any(process.is_alive() for process, _ in jobs):
            for _, receive in jobs:
                with contextlib.suppress(EOFError, OSError):
                    if receive.poll():
                        receive.recv_bytes()
            time.sleep(POLL_SECONDS)
        alive = [process for process, _ in jobs if process.is_alive()]
        if not alive:
            break
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT if attempt == 0 else signal.SIGTERM)
    for process, receive in jobs:
        process.join(1.0)
        receive.close()


def _signal_name(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode} without returning"


class ResilientJoblibLauncher(Launcher):
    """Parallel jobs, one process each (at most `n_jobs` at once); a lost process fails only its own job."""

    def __init__(self, **kwargs: Any) -> None:
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None
        self.joblib = kwargs

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def _slots(self) -> int:
        n_jobs = int(self.joblib.get("n_jobs") or -1)
        cpus = os.cpu_count() or 1
        return cpus if n_jobs < 0 else max(1, n_jobs)

    def _job_dir(self, overrides: Sequence[str]) -> tuple[Path, DictConfig]:
        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        return Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir), cfg

    def _lost(self, idx: int, overrides: Sequence[str], reason: str) -> JobReturn:
        """Record a job whose process died as failed, as the job itself would record a failure."""
        from rgp_bench.core.errors import RunFailed
        from rgp_bench.run.job import record_failure

        job_dir, cfg = self._job_dir(overrides)
        job_dir.mkdir(parents=True, exist_ok=True)
        with open_dict(cfg):
            task_cfg = DictConfig({k: v for k, v in cfg.items() if k != "hydra"})
        message = record_failure(task_cfg, job_dir, RunFailed(
            f"lost: the job's worker process was {reason}; relaunch the sweep to complete it from its checkpoint"))
        log.error("job #%d (%s) lost: %s", idx, " ".join(filter_overrides(overrides)), message)
        # As a failed job returns from rgp-bench's task in a multirun: no value, its error.json written, so the
        # sweep goes on and the end-of-sweep report lists it (and makes the sweep exit non-zero).
        ret = JobReturn(overrides=list(overrides), cfg=cfg, working_dir=str(job_dir))
        ret.status = JobStatus.COMPLETED
        ret.return_value = None
        return ret

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job; a job whose process is lost comes back without a value, its error.json written."""
        setup_globals()
        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        (sweep_dir / PID_DIR).mkdir(parents=True, exist_ok=True)
        slots = self._slots()
        threads = threads_per_worker(slots)
        log.info("joblib (one process per job, %d at a time, %d thread(s) each) launching %d jobs; sweep dir %s",
                 slots, threads, len(job_overrides), sweep_dir)
        from hydra.core.singleton import Singleton

        state = Singleton.get_state()
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(FORKSERVER_PRELOAD)
        pending = list(enumerate(job_overrides))
        running: dict[int, tuple[Any, Any, Sequence[str]]] = {}
        results: dict[int, JobReturn] = {}
        saved_env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))  # inherited by the children
        try:
            while pending or running:
                while pending and len(running) < slots:
                    i, overrides = pending.pop(0)
                    idx = initial_job_idx + i
                    log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
                    payload = cloudpickle.dumps((_execute_job, (idx, overrides, self.hydra_context, self.config,
                                                                self.task_function, state)))
                    receive, send = context.Pipe(duplex=False)
                    process = context.Process(target=_run_in_child, args=(
                        payload, send, str(sweep_dir / PID_DIR / f"{idx}.pid"), dict(os.environ)))
                    process.start()
                    send.close()
                    running[i] = (process, receive, overrides)
                for i, (process, receive, overrides) in list(running.items()):
                    if receive.poll():
                        with contextlib.suppress(EOFError):  # the process died before sending
                            results[i] = cloudpickle.loads(receive.recv_bytes())
                    if not process.is_alive() or i in results:
                        process.join()
                        if i not in results:
                            results[i] = self._lost(initial_job_idx + i, overrides, _signal_name(process.exitcode))
                        receive.close()
                        del running[i]
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            _interrupt([(process, receive) for process, receive, _ in running.values()])
            raise
        finally:
            for key, value in saved_env.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        return [results[i] for i in range(len(job_overrides))]
