"""Crash-safe file primitives shared by records, checkpoints and caches."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROC_STATUS = "/proc/self/status"  # Linux: the umask can be read there without changing it
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask: from /proc where available (no change at all), else set-and-restore under a lock."""
    try:
        with open(PROC_STATUS, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it; the lock keeps concurrent readers consistent
        mask = os.umask(0)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it is fsynced and renamed over `path`, else removed.

    Readers therefore see either the old file or the complete new one, never a torn write.
    """
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # The mode a plain open(path, "w") would give, not mkstemp's 0600.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (created if needed); other holders wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to an existing directory atomically (see `atomic_path`); errors name `path`, not the temp."""
    path = Path(path)
    try:
        with atomic_path(path, make_parents=False) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _strict(value: Any) -> Any:
    """Make a value strict-JSON safe: NaN/inf become null, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write strict JSON atomically: readers never see a half-written file."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_strict(payload), indent=2, allow_nan=False) + "\n")


def link_or_copy(src: Path, dst: Path) -> None:
    """Put `src` at `dst` (replacing it): a hard link where the file system allows, else an atomic copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst, make_parents=False) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
