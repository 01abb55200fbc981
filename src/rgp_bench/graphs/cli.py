"""``python -m rgp_bench.graphs``: build one graph and print its metrics.

Bad arguments and infeasible requests print one ``error: ...`` line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rgp_bench.core.cli import one_line
from rgp_bench.core.fileio import atomic_write_text

from .build import STARTS, build_graph
from .cache import default_cache_dir
from .construct import edge_list, feasible_degree
from .errors import GraphError
from .optimizer import DEFAULT_STRATEGY, STRATEGIES
from .progress import Heartbeat

__all__ = ["main", "save_edgelist"]

_JSON_KEYS = (
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
)


# The largest graph the CLI builds. Measured on this project's 2-core CI machine at --ratio 0.9 with the default
# budget: n = 1024 takes 60 s, 2048 53 s, 4096 176 s and 0.63 GB; the start graph alone grows ~n²k (14 s at 4096),
# so n = 8192 would take well over 10 minutes. The largest RGP layer graph in the model zoo is far smaller.
MAX_NODES = 4096


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(one_line(message))


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _nodes(text: str) -> int:
    value = _int_at_least(1)(text)
    if value > MAX_NODES:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_NODES} (the CLI's size limit; larger graphs take over "
                                         f"10 minutes), got {value}")
    return value


def _check_cache_dir(path: str) -> None:
    """The graph cache is a directory (or can be created as one): a file there is one error line, not warnings."""
    target = Path(path).expanduser()
    existing = next(p for p in (target, *target.absolute().parents) if p.exists())
    if existing == target and not target.is_dir():
        raise _UsageError(f"--cache-dir {path} is a file, not a directory; valid: a directory path, or --no-cache")
    if not existing.is_dir():
        raise _UsageError(f"--cache-dir {path} cannot be created: {existing} is a file; valid: a directory path, "
                          "or --no-cache")


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text!r}")
    return value


def _parser() -> _Parser:
    p = _Parser(
        prog="python -m rgp_bench.graphs",
        description="Build a connected k-regular graph with a low average shortest path length (ASPL).",
    )
    p.add_argument("--nodes", "-n", type=_nodes, required=True,
                   help=f"number of nodes n, at most {MAX_NODES} (n = 4096 at --ratio 0.9 takes about 3 minutes)")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--degree", "-k", type=_int_at_least(0), help="degree k (n·k must be even, 2 <= k < n)")
    size.add_argument("--ratio", type=_ratio, help="pruning ratio; k = the feasible degree nearest n·(1-ratio)")
    p.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY, help="optimiser (default: %(default)s)")
    p.add_argument("--start", choices=STARTS, default="random", help="start graph (default: %(default)s)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default: %(default)s)")
    p.add_argument("--iters", type=_int_at_least(0), help="budget in swap trials (reproducible)")
    p.add_argument("--seconds", type=_positive_float, help="wall-clock budget (machine-dependent)")
    p.add_argument("--save", metavar="FILE", help="write the graph as an edge list (networkx.read_edgelist)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache-dir",
        help="graph cache directory (default: the runs' one: $RGP_BENCH_CACHE/graphs or .rgp_cache/graphs)",
    )
    cache.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress lines (otherwise a build that takes long prints one line every few seconds)")
    return p


def save_edgelist(adjacency, path: str | Path, comment: str = "") -> None:
    """Write ``u v`` lines (0-based node ids); ``networkx.read_edgelist(path, nodetype=int)`` reads it back.

    The write is atomic (temporary file in the same directory, then ``os.replace``): a failure never leaves a
    half-written file, and an existing file is kept as it was.
    """
    lines = [f"# {comment}"] if comment else []
    lines += [f"{u} {v}" for u, v in edge_list(adjacency).tolist()]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def _format_table(info: dict) -> str:
    rows = [
        ("nodes", info["nodes"]),
        ("degree", info["degree"]),
        ("strategy", f"{info['strategy']} (start {info['start']}, seed {info['seed']})"),
        ("aspl", f"{info['aspl']:.6f}"),
        ("lower_bound", f"{info['lower_bound']:.6f}"),
        ("gap", f"{100 * info['gap']:.3f} %"),
        ("diameter", f"{info['diameter']} (lower bound {info['diameter_lower_bound']})"),
        ("clustering", f"{info['clustering']:.4f}"),
        ("spectral_gap", f"{info['spectral_gap']:.4f}"),
        ("seconds", f"{info['seconds']:.3f}" + (" (cached)" if info.get("cache_hit") else "")),
        ("swaps", f"{info['swaps_accepted']} accepted / {info['swaps_tried']} tried"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        degree = args.degree if args.degree is not None else feasible_degree(args.nodes, args.ratio)
        cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
        if cache_dir is not None:
            _check_cache_dir(str(cache_dir))
        heartbeat = None if args.quiet else Heartbeat(f"building n={args.nodes} k={degree}")
        with heartbeat or contextlib.nullcontext():
            adj, info = build_graph(
                args.nodes,
                degree,
                strategy=args.strategy,
                start=args.start,
                seed=args.seed,
                iters=args.iters,
                seconds=args.seconds,
                cache_dir=cache_dir,
                progress=heartbeat or False,
            )
        if args.save:
            comment = f"rgp_bench.graphs n={info['nodes']} k={info['degree']} aspl={info['aspl']:.6f}"
            save_edgelist(adj, args.save, comment)
    except (_UsageError, GraphError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if args.json:
        out = {key: info[key] for key in _JSON_KEYS}
        out.update({key: value for key, value in info.items() if key not in out})
        print(json.dumps(out))
    else:
        print(_format_table(info))
    return 0
