"""Disk cache and command line of rgp_bench.graphs."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import rgp_bench.graphs.build as build_mod
from rgp_bench.core import fileio
from rgp_bench.graphs import ALGORITHM_VERSION, build_graph, validate_regular
from rgp_bench.graphs import cache as gcache
from rgp_bench.graphs.cli import main

KW = {"strategy": "anneal", "seed": 1, "iters": 2000}


def _entry(tmp_path):
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1
    return files[0]


def _no_optimize(*args, **kwargs):
    raise AssertionError("the cache should have been hit")


def test_cache_hit(tmp_path, monkeypatch):
    a1, i1 = build_graph(24, 4, cache_dir=tmp_path, **KW)
    assert i1["cache_hit"] is False
    monkeypatch.setattr(build_mod, "optimize", _no_optimize)
    a2, i2 = build_graph(24, 4, cache_dir=tmp_path, **KW)
    assert i2["cache_hit"] is True and np.array_equal(a1, a2) and a2.dtype == np.uint8
    assert {k: v for k, v in i2.items() if k != "cache_hit"} == {k: v for k, v in i1.items() if k != "cache_hit"}
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_cache_key_separates_requests(tmp_path):
    build_graph(24, 4, cache_dir=tmp_path, **KW)
    build_graph(24, 4, cache_dir=tmp_path, **{**KW, "seed": 2})
    build_graph(24, 4, cache_dir=tmp_path, **{**KW, "iters": 2001})
    build_graph(24, 4, cache_dir=tmp_path, **{**KW, "strategy": "greedy"})
    build_graph(24, 6, cache_dir=tmp_path, **KW)
    assert len(list(tmp_path.glob("*.json"))) == 5
    key = gcache.cache_key(24, 4, "anneal", "random", 1, 2000, None, ALGORITHM_VERSION)
    other = gcache.cache_key(24, 4, "anneal", "random", 1, 2000, None, ALGORITHM_VERSION + "x")
    assert gcache.cache_path(tmp_path, key) != gcache.cache_path(tmp_path, other)
    assert gcache.load(tmp_path, key) is not None and gcache.load(tmp_path, other) is None


def _corrupt_truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _corrupt_garbage(path):
    path.write_bytes(b"\x00\xff not json")


def _corrupt_edge(path):  # flip one endpoint: checksum mismatch
    doc = json.loads(path.read_text())
    doc["edges"][0][1] = (doc["edges"][0][1] + 1) % 24
    path.write_text(json.dumps(doc))


def _corrupt_edge_with_valid_checksum(path):  # checksum recomputed: re-validation must catch it
    doc = json.loads(path.read_text())
    doc["edges"] = doc["edges"][1:]
    doc["sha256"] = gcache._checksum(doc["key"], doc["edges"], doc["info"])
    path.write_text(json.dumps(doc))


def _corrupt_info(path):
    doc = json.loads(path.read_text())
    doc["info"]["aspl"] = 1.0
    path.write_text(json.dumps(doc))


def _corrupt_info_not_an_object(path):  # well-formed JSON with a valid checksum, but info is a list
    doc = json.loads(path.read_text())
    doc["info"] = [1, 2, 3]
    doc["sha256"] = gcache._checksum(doc["key"], doc["edges"], doc["info"])
    path.write_text(json.dumps(doc))


def _corrupt_info_string(path):
    doc = json.loads(path.read_text())
    doc["info"] = "aspl"
    doc["sha256"] = gcache._checksum(doc["key"], doc["edges"], doc["info"])
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "corrupt",
    [
        _corrupt_truncate,
        _corrupt_garbage,
        _corrupt_edge,
        _corrupt_edge_with_valid_checksum,
        _corrupt_info,
        _corrupt_info_not_an_object,
        _corrupt_info_string,
    ],
)
def test_corrupt_entry_is_regenerated(tmp_path, corrupt, caplog):
    a1, _ = build_graph(24, 4, cache_dir=tmp_path, **KW)
    path = _entry(tmp_path)
    corrupt(path)
    a2, i2 = build_graph(24, 4, cache_dir=tmp_path, **KW)
    assert i2["cache_hit"] is False and np.array_equal(a1, a2)
    assert "corrupt" in caplog.text
    a3, i3 = build_graph(24, 4, cache_dir=tmp_path, **KW)  # the rewritten entry is good again
    assert i3["cache_hit"] is True and np.array_equal(a1, a3)


def test_cache_key_includes_numpy_version(tmp_path, monkeypatch):
    key = gcache.cache_key(24, 4, "anneal", "random", 1, 2000, None, ALGORITHM_VERSION)
    assert key["numpy"] == ".".join(np.__version__.split(".")[:2])
    build_graph(24, 4, cache_dir=tmp_path, **KW)
    assert gcache.load(tmp_path, key) is not None
    monkeypatch.setattr(np, "__version__", "1.26.4")  # another numpy release: its Generator streams may differ
    other = gcache.cache_key(24, 4, "anneal", "random", 1, 2000, None, ALGORITHM_VERSION)
    assert other["numpy"] == "1.26" and {k: v for k, v in other.items() if k != "numpy"} == {
        k: v for k, v in key.items() if k != "numpy"
    }
    assert gcache.cache_path(tmp_path, other) != gcache.cache_path(tmp_path, key)
    assert gcache.load(tmp_path, other) is None
    _, again = build_graph(24, 4, cache_dir=tmp_path, **KW)
    assert again["cache_hit"] is False and len(list(tmp_path.glob("*.json"))) == 2


@pytest.mark.parametrize("sub", ["", "sub"])
def test_unwritable_cache_still_returns_the_graph(tmp_path, caplog, sub):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    cache_dir = blocker / sub if sub else blocker
    expected, _ = build_graph(24, 4, **KW)
    with caplog.at_level(logging.WARNING, logger="rgp_bench.graphs"):
        adj, info = build_graph(24, 4, cache_dir=cache_dir, **KW)
    assert np.array_equal(adj, expected) and info["cache_hit"] is False and info["aspl"] > 0
    assert "cannot write" in caplog.text and str(cache_dir) in caplog.text
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["not_a_dir"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("proc", [True, False])
def test_cache_file_mode_follows_umask(tmp_path, monkeypatch, umask, proc):
    if not proc:  # the portable fallback (os.umask) when /proc is unavailable
        monkeypatch.setattr(fileio, "PROC_STATUS", str(tmp_path / "no_proc"))
    adj, info = build_graph(24, 4, **KW)
    key = gcache.cache_key(24, 4, "anneal", "random", 1, 2000, None, ALGORITHM_VERSION)
    old = os.umask(umask)
    try:
        path = gcache.store(tmp_path, key, adj, info)
    finally:
        assert os.umask(old) == umask  # the umask is left as it was
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_parallel_writers_never_expose_partial_files(tmp_path):
    adj, info = build_graph(24, 4, **KW)
    key = gcache.cache_key(24, 4, "anneal", "random", 1, 2000, None, ALGORITHM_VERSION)
    errors: list[str] = []
    stop = threading.Event()

    def writer():
        for _ in range(30):
            gcache.store(tmp_path, key, adj, info)

    def reader():
        while not stop.is_set():
            got = gcache.load(tmp_path, key)
            if got is not None and not np.array_equal(got[0], adj):
                errors.append("mismatch")

    threads = [threading.Thread(target=writer) for _ in range(4)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert not errors
    assert not list(tmp_path.glob("*.tmp"))  # no temporary files left behind
    assert np.array_equal(gcache.load(tmp_path, key)[0], adj)


def test_default_cache_dir_is_the_runs_one(monkeypatch, tmp_path):
    monkeypatch.setenv("RGP_BENCH_CACHE", str(tmp_path / "c"))
    assert gcache.default_cache_dir() == tmp_path / "c" / "graphs"
    monkeypatch.delenv("RGP_BENCH_CACHE")
    assert gcache.default_cache_dir() == Path(".rgp_cache") / "graphs"


@pytest.mark.slow
def test_a_graph_built_by_the_cli_is_reused_by_a_run(tmp_path):
    import json
    import os

    env = {**os.environ, "RGP_BENCH_CACHE": str(tmp_path / "cache")}
    cli = subprocess.run([sys.executable, "-m", "rgp_bench.graphs", "--nodes", "64", "--degree", "6", "--seed", "0"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert cli.returncode == 0, cli.stderr
    run = subprocess.run([sys.executable, "-m", "rgp_bench", "train.epochs=1", "model.width=64", "logger=none",
                          "measure.latency.enabled=false", f"hydra.run.dir={tmp_path}/run"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    info = json.loads((tmp_path / "run" / "results.json").read_text())["method_info"]
    assert (info["nodes"], info["degree"], info["cache_hit"]) == (64, 6, True)


# --- CLI -----------------------------------------------------------------------------------------------------

JSON_KEYS = {
    "nodes",
    "degree",
    "aspl",
    "lower_bound",
    "gap",
    "diameter",
    "clustering",
    "seconds",
    "swaps_tried",
    "swaps_accepted",
}


def test_cli_json_save_and_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RGP_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "g.edges"
    rc = main(["--nodes", "32", "--degree", "4", "--iters", "3000", "--seed", "2", "--save", str(out), "--json"])
    assert rc == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1
    info = json.loads(printed[0])
    assert info.keys() >= JSON_KEYS and info["nodes"] == 32 and info["degree"] == 4
    g = nx.read_edgelist(out, nodetype=int)
    adj = nx.to_numpy_array(g, nodelist=range(32), dtype=np.uint8)
    validate_regular(adj, 4)
    assert nx.average_shortest_path_length(g) == pytest.approx(info["aspl"])
    assert len(list((tmp_path / "cache" / "graphs").glob("*.json"))) == 1
    assert main(["-n", "32", "-k", "4", "--iters", "3000", "--seed", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"] is True


def test_cli_table_ratio_and_no_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RGP_BENCH_CACHE", str(tmp_path / "cache"))
    assert main(["--nodes", "16", "--ratio", "0.75", "--strategy", "greedy", "--no-cache", "-q"]) == 0
    text = capsys.readouterr().out
    assert "aspl" in text and "lower_bound" in text
    assert re.search(r"^degree\s+4$", text, re.MULTILINE)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--nodes", "63", "--degree", "7"], "error: degree 7 with 63 nodes is infeasible: n·k must be even"),
        (["--nodes", "8", "--degree", "8"], "infeasible"),
        (["--nodes", "8", "--degree", "1"], "infeasible"),
        (["--nodes", "2", "--degree", "2"], "error:"),
        (["--nodes", "x", "--degree", "2"], "invalid integer"),
        (["--nodes", "8"], "required"),
        (["--degree", "4"], "required"),
        (["--nodes", "8", "--degree", "4", "--ratio", "0.5"], "not allowed"),
        (["--nodes", "8", "--degree", "4", "--strategy", "magic"], "invalid choice"),
        (["--nodes", "8", "--degree", "4", "--start", "magic"], "invalid choice"),
        (["--nodes", "8", "--degree", "4", "--seed", "-1"], "--seed"),
        (["--nodes", "8", "--degree", "4", "--iters", "-1"], "--iters"),
        (["--nodes", "8", "--degree", "4", "--seconds", "0"], "--seconds"),
        (["--nodes", "8", "--degree", "4", "--seconds", "abc"], "--seconds"),
        (["--nodes", "8", "--ratio", "1.5"], "--ratio"),
        (["--nodes", "8", "--degree", "4", "--bogus"], "unrecognized"),
        (
            ["--nodes", "8", "--degree", "4", "--no-cache", "--save", "/nonexistent/dir/g.edges"],
            "error: No such file or directory: /nonexistent/dir/g.edges",
        ),
    ],
)
def test_cli_errors_are_one_line(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RGP_BENCH_CACHE", str(tmp_path))
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc != 0 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in captured.err


def test_cli_save_is_atomic_and_keeps_umask_mode(tmp_path, capsys):
    out = tmp_path / "g.edges"
    old = os.umask(0o027)
    try:
        assert main(["-n", "16", "-k", "4", "--iters", "0", "--no-cache", "-q", "--save", str(out)]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["g.edges"]  # no temporary file left behind
    assert len(nx.read_edgelist(out, nodetype=int).edges) == 32


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_FSIZE and SIGXFSZ")
def test_cli_failed_save_leaves_the_old_file_intact(tmp_path):
    import resource
    import signal

    out = tmp_path / "g.edges"
    out.write_text("old contents\n")

    def small_files():  # writes past 1 KiB fail with EFBIG (the edge list of n = 64, k = 8 is ~1.7 KiB)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    argv = ["-n", "64", "-k", "8", "--iters", "0", "--no-cache", "-q", "--save", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "rgp_bench.graphs", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"error: File too large: {out}\n"  # names the requested file, not the temporary one
    assert out.read_text() == "old contents\n"  # never half-written
    assert [p.name for p in tmp_path.iterdir()] == ["g.edges"]  # the temporary file was removed


def test_module_entry_point(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "rgp_bench.graphs", "--nodes", "16", "--degree", "4", "--json", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["degree"] == 4
    bad = subprocess.run(
        [sys.executable, "-m", "rgp_bench.graphs", "--nodes", "63", "--degree", "7"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "error: degree 7 with 63 nodes is infeasible: n·k must be even\n"
