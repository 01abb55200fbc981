"""Crash-safe file primitives shared by records, checkpoints and caches."""

from __future__ import annotations

import contextlib
import errno
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
# Below this much free space, a write that failed is taken to have failed for want of space.
LOW_SPACE_BYTES = 64 * 2**20
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
    except (OSError, RuntimeError) as exc:
        failed = write_failure(path, exc)
        if failed is None:
            raise
        raise failed from exc
    finally:
        tmp.unlink(missing_ok=True)


def free_bytes(path: Path) -> int:
    """Free space (for an unprivileged user) on the disk that holds `path` or its nearest existing parent."""
    existing = next((p for p in (path, *path.absolute().parents) if p.exists()), Path("/"))
    return shutil.disk_usage(existing).free


def write_failure(path: Path, exc: BaseException) -> OSError | None:
    """A failed write of `path` as an OSError naming `path` (not the temp file): ENOSPC when the disk is full, also
    when torch's writer reports it as a RuntimeError ('unexpected pos', 'file write failed'); None when `exc` is no
    write failure."""
    if isinstance(exc, OSError):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) if exc.errno == errno.ENOSPC else None
    text = str(exc)
    if not any(sign in text for sign in ("unexpected pos", "file write failed", "PytorchStreamWriter failed")):
        return None
    if free_bytes(path) < LOW_SPACE_BYTES:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    lines = text.strip().splitlines()
    return OSError(errno.EIO, f"write failed ({lines[-1] if lines else type(exc).__name__})", str(path))


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


@contextlib.contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """Take the exclusive lock on `path` if no one holds it (yields True, held until the block ends), else yield
    False at once. The lock file is not created when it does not exist (nothing can hold it then)."""
    try:
        fh = open(path, "r+")  # noqa: SIM115 - closed below; "w" would truncate a held lock's file
    except FileNotFoundError:
        yield True
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


TEMP_GLOB = ".*.tmp"  # what atomic_path names its temp files: .<name>.<random>.tmp


def remove_stale_temps(directory: Path, started: float, *, recursive: bool = False) -> list[Path]:
    """Remove the temp files of `atomic_path` in `directory` last written before `started` (a Unix time): left by a
    process that was killed mid-write. The caller makes sure no live writer owns the directory (its lock). Returns
    the files removed."""
    removed = []
    for tmp in directory.rglob(TEMP_GLOB) if recursive else directory.glob(TEMP_GLOB):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < started:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
    return removed


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
