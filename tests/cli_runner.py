"""Run `python -m rgp_bench` for a test: through the fork server (tests/cli_fork_server.py), or as a subprocess.

Both give a `subprocess.CompletedProcess` with the same argv, exit code, stdout and stderr. The fork server is
started on the first run in each pytest worker and stopped when the worker exits. A run goes to a real
subprocess instead when its environment differs from the server's in a variable read at import time (the
server imported torch and friends under its own environment), or when RGP_BENCH_TEST_SUBPROCESS=1.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SERVER = Path(__file__).with_name("cli_fork_server.py")
# Read by Python, the dynamic loader, OpenMP/BLAS, torch or matplotlib when they load, not when a run starts.
IMPORT_TIME_ENV = ("PYTHON", "LD_", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "GOMP_", "TORCH", "MPL")
START_TIMEOUT_S = 300


class ForkServer:
    """One fork server per pytest worker, started on first use; safe to call from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._env: dict[str, str] = {}
        self._dir: Path | None = None
        self._count = itertools.count()

    def _start(self, env: dict[str, str]) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="rgp-cli-"))
        socket_path = self._dir / "socket"
        self._proc = subprocess.Popen([sys.executable, str(SERVER), str(socket_path)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env, cwd=self._dir)
        ready = _first_line(self._proc, START_TIMEOUT_S)
        if ready != "ready":
            self.stop()
            raise RuntimeError(f"the CLI fork server did not start (it said {ready!r})")
        self._env = dict(env)

    def stop(self) -> None:
        """Stop the server (runs in flight finish on their own) and remove its socket and output files."""
        if self._proc is not None:
            self._proc.stdin.close()  # the server exits when its stdin closes
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def can_run(self, env: dict[str, str]) -> bool:
        """Whether a fork of the server would start under `env` as a fresh process would."""
        if self._proc is None:
            return True
        keys = set(env) | set(self._env)
        return not any(env.get(k) != self._env.get(k) for k in keys if k.startswith(IMPORT_TIME_ENV))

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
        """`python -m rgp_bench ARGV` as a fork of the server; on timeout the run is killed, as subprocess.run does."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is not None:  # the server died: start a new one
                self.stop()
            if self._proc is None:
                self._start(env)
            n = next(self._count)
        out, err = self._dir / f"{n}.out", self._dir / f"{n}.err"
        request = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err)}
        cmd = [sys.executable, "-m", "rgp_bench", *argv]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(self._dir / "socket"))
            conn.sendall((json.dumps(request) + "\n").encode())
            replies = conn.makefile("r")
            pid = json.loads(replies.readline())["pid"]
            conn.settimeout(timeout)
            try:
                returncode = json.loads(replies.readline())["returncode"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(cmd, timeout, _read(out), _read(err)) from None
        stdout, stderr = _read(out), _read(err)
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)
        return subprocess.CompletedProcess(cmd, returncode, stdout, stderr)


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The server's first line of output ('' if it ended or said nothing within `timeout`)."""
    readable, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode().strip() if readable else ""


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


_SERVER = ForkServer()
atexit.register(_SERVER.stop)


def run_rgp_bench(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """`python -m rgp_bench ARGV` in `cwd` under `env`, as a CompletedProcess with text stdout and stderr."""
    if os.environ.get("RGP_BENCH_TEST_SUBPROCESS") == "1" or not _SERVER.can_run(env):
        return subprocess.run([sys.executable, "-m", "rgp_bench", *argv], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=cwd)
    return _SERVER.run(argv, cwd, env, timeout)
