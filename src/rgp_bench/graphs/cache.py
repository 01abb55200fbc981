"""Disk cache for generated graphs.

One JSON file per key ``(n, k, strategy, start, seed, budget, algorithm version, numpy major.minor)`` holding the
edge list, the info dict and a SHA-256 checksum of both (numpy's random streams are not guaranteed stable across
releases, so graphs made with another numpy are regenerated). Writes go to a temporary file in the same directory
followed by ``os.replace``, which is atomic on POSIX and Windows, so concurrent writers of the same key can only
race to replace a complete file with another complete (identical) one; readers never see a partial file. Files get
the usual ``0o666 & ~umask`` mode. On load the checksum is verified and the graph is re-validated (simple,
k-regular, connected); anything that fails is treated as a miss and regenerated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from rgp_bench.core.fileio import atomic_write_text

from .construct import edge_list, from_edges, validate_regular
from .errors import GraphError

__all__ = ["cache_key", "cache_path", "default_cache_dir", "load", "store"]

_FORMAT = "rgp_bench.graphs.cache/1"
_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``<cache_dir>/graphs``, with runs' default cache_dir: ``$RGP_BENCH_CACHE`` if set, else ``.rgp_cache``.

    The CLI and runs share it, so a graph built by one is reused by the other.
    """
    return Path(os.environ.get("RGP_BENCH_CACHE") or ".rgp_cache").expanduser() / "graphs"


def cache_key(
    nodes: int,
    degree: int,
    strategy: str,
    start: str,
    seed: int,
    iters: int | None,
    seconds: float | None,
    version: str,
) -> dict:
    """The fields that determine a generated graph (``seconds`` makes a result machine-dependent, but still keys).

    Includes numpy's ``major.minor`` version: numpy does not promise identical ``Generator`` streams across
    releases, so the same seed may give another graph under another numpy.
    """
    return {
        "nodes": int(nodes),
        "degree": int(degree),
        "strategy": strategy,
        "start": start,
        "seed": int(seed),
        "iters": None if iters is None else int(iters),
        "seconds": None if seconds is None else float(seconds),
        "algorithm_version": str(version),
        "numpy": ".".join(np.__version__.split(".")[:2]),
    }


def cache_path(cache_dir: str | os.PathLike, key: dict) -> Path:
    """File name of a key: readable fields plus a short hash of the full key."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = f"n{key['nodes']}_k{key['degree']}_{key['strategy']}_{key['start']}_s{key['seed']}_{digest}.json"
    return Path(cache_dir) / name


def _checksum(key: dict, edges: list, info: dict) -> str:
    payload = json.dumps({"key": key, "edges": edges, "info": info}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def load(cache_dir: str | os.PathLike, key: dict) -> tuple[np.ndarray, dict] | None:
    """The cached ``(adjacency, info)`` for ``key``, or None on a miss or a corrupt entry (logged)."""
    path = cache_path(cache_dir, key)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _log.warning("graph cache: cannot read %s (%s); regenerating", path, exc)
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
        if doc.get("format") != _FORMAT or doc.get("key") != key:
            raise GraphError("format or key mismatch")
        edges, info = doc["edges"], doc["info"]
        if doc.get("sha256") != _checksum(key, edges, info):
            raise GraphError("checksum mismatch")
        if not isinstance(info, dict):
            raise GraphError(f"info is a {type(info).__name__}, not an object")
        adj = validate_regular(from_edges(key["nodes"], np.asarray(edges, dtype=np.int64)), key["degree"])
        if adj.shape[0] != key["nodes"]:
            raise GraphError("node count mismatch")
        info = dict(info)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:  # GraphError is a ValueError
        _log.warning("graph cache: corrupt entry %s (%s); regenerating", path, exc)
        return None
    return adj, info


def store(cache_dir: str | os.PathLike, key: dict, adjacency: np.ndarray, info: dict) -> Path:
    """Write an entry atomically (see :func:`rgp_bench.core.fileio.atomic_write_text`); ``OSError`` on failure."""
    directory = Path(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = cache_path(directory, key)
    edges = edge_list(adjacency).tolist()
    info = json.loads(json.dumps(info))  # normalise to what a reload returns (tuples -> lists etc.)
    doc = {"format": _FORMAT, "key": key, "edges": edges, "info": info, "sha256": _checksum(key, edges, info)}
    atomic_write_text(path, json.dumps(doc, separators=(",", ":")))
    return path
