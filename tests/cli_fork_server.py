"""A fork server for the suite's CLI runs: `python -m rgp_bench` without paying Python's start-up every time.

A fresh `python -m rgp_bench` spends about 6 s importing torch, torch._dynamo, Hydra and friends before it does
anything, and the suite starts the CLI over a hundred times. This server imports those third-party libraries once,
then forks a child per run that behaves as a fresh `python -m rgp_bench` would: its own working directory,
environment, argv, sys.path[0], stdin from /dev/null, stdout and stderr to files, and the interpreter's exit
(traceback, non-daemon threads, atexit handlers, flushed stdio) with the run's own exit code or signal. Nothing of
rgp_bench is imported before the fork, so every run registers its methods and plugins, reads its environment and
composes its config itself. tests/conftest.py's `run_cli` talks to it, and falls back to a real subprocess where a
fork could differ (an environment variable that a library reads at import, such as PYTHONPATH or OMP_NUM_THREADS).

Protocol, over a Unix socket, one connection per run: the client sends one JSON line {argv, cwd, env, stdout,
stderr}; the server answers {"pid": ...} once the run has started and {"returncode": ...} when it has ended. The
server exits when its stdin (a pipe from the client) closes.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import runpy
import select
import signal
import socket
import sys
import threading
import warnings

PRELOAD = ("numpy", "scipy", "sklearn", "torch", "torch._dynamo", "torch.optim", "torchvision", "hydra",
           "hydra.core.plugins", "omegaconf", "fvcore.nn", "tqdm", "networkx", "matplotlib", "matplotlib.pyplot",
           "torch_pruning", "torch_geometric", "mnist1d", "submitit", "joblib")


def _preload() -> None:
    with warnings.catch_warnings():  # a fresh process shows import-time warnings when it imports; so will the run
        warnings.simplefilter("ignore")
        for name in PRELOAD:
            with contextlib.suppress(ImportError):  # optional here: a run that needs it imports it itself
                importlib.import_module(name)


def _become_the_run(request: dict) -> None:
    """In the forked child: set up the process as `python -m rgp_bench ARGV` would find it, run it, and exit."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    devnull = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for fd, target in ((devnull, 0), (out, 1), (err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    sys.path[0] = request["cwd"]  # `python -m` puts the working directory first
    sys.argv = ["rgp_bench", *request["argv"]]  # run_module sets argv[0] to the module's path, as `-m` does
    code = 0
    try:
        runpy.run_module("rgp_bench", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    _exit(code)


def _exit_code(exc: SystemExit) -> int:
    """The exit status the interpreter gives `raise SystemExit(exc.code)`, printing a message code as it does."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _exit(code: int) -> None:
    """Exit as the interpreter does at the end of a program (wait for non-daemon threads, run atexit handlers,
    flush stdio), but skip its teardown of every module: in a fork of this server that teardown touches every
    preloaded object, copies the whole heap on write, and takes about 2 s."""
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    finally:
        os._exit(code)


def _handle(conn: socket.socket, server: socket.socket) -> None:
    """In the per-run child: fork the run, report its pid, wait for it and report its exit code; never returns."""
    server.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    with conn.makefile("r") as lines:
        request = json.loads(lines.readline())
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become_the_run(request)
    conn.sendall((json.dumps({"pid": pid}) + "\n").encode())
    _, status = os.waitpid(pid, 0)
    conn.sendall((json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n").encode())
    conn.close()
    os._exit(0)


def main(path: str) -> None:
    _preload()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the per-run children are reaped automatically
    os.write(1, b"ready\n")
    while True:
        readable, _, _ = select.select([server, sys.stdin], [], [])
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1024):
            return  # the client has gone
        if server in readable:
            conn, _ = server.accept()
            if os.fork() == 0:
                _handle(conn, server)
            conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
