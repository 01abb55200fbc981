"""Build (once, cached on disk) and load RGP's C++ block-sparse kernels (``csrc/``: a direct convolution and a
matrix product for Linear layers, one extension).

The extension is compiled with ``-march=native`` through ``torch.utils.cpp_extension``. Its name hashes the sources,
the flags, the torch version and this CPU's feature flags, so a cache directory shared between machines or torch
versions never loads a mismatched binary. A cached build is imported directly (no compiler, no ninja).

``make install`` builds it (``python -m rgp_bench.speedup.build_kernel``, one line of output; a machine without a
compiler gets one warning line and the other forms). A run that needs it and finds no build builds it, saying so.

The library also registers the kernels as torch operators (``torch.ops.rgp_bench.block_sparse_conv2d`` and
``block_sparse_linear``, CPU), so a program exported with them runs in a plain torch process after
``torch.ops.load_library(library_path())``; loading it here also registers their shape-only (fake) implementations
for torch.compile and torch.export.

Environment: ``RGP_BENCH_EXTENSIONS_DIR`` (cache root; default: torch's extension root) and ``RGP_BENCH_NO_CPP=1``
(never load or build the kernel).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

log = logging.getLogger(__name__)
# torch's C++ extension tooling warns about a missing CUDA runtime on CPU-only machines; this kernel is CPU code.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)

CSRC = Path(__file__).resolve().parent / "csrc"
SOURCE = CSRC / "block_sparse.cpp"  # the one translation unit; it includes the kernel headers next to it
CFLAGS: tuple[str, ...] = ("-O3", "-march=native")


@dataclass(frozen=True)
class SimdInfo:
    """What the build targets: floats per vector, vector registers, and the longest register tile (vectors)."""

    lanes: int
    registers: int
    max_tile_vectors: int

    def tile_fits(self, block: int, vectors: int) -> bool:
        """Mirrors the kernel's tile_fits: block x vectors partial sums plus the operands, within the registers."""
        return block * vectors + min(block, vectors) + 1 <= self.registers


@dataclass(frozen=True)
class KernelStatus:
    """Whether the kernel can be used in this process, and how it got there (or why not)."""

    available: bool
    detail: str


_module: ModuleType | None = None
_status: KernelStatus | None = None
_fakes_registered = False


def _cpu_flags() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith(("flags", "Features")):
                return line
    import platform

    return platform.processor() + platform.machine()


def _source_files() -> list[Path]:
    """The translation unit and every header next to it (all of them shape the binary)."""
    return [SOURCE, *sorted(p for p in SOURCE.parent.glob("*.h"))]


def extension_name() -> str:
    """Module name of the build for these sources, flags, torch version and CPU."""
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for part in (" ".join(CFLAGS).encode(), torch.__version__.encode(), _cpu_flags().encode()):
        digest.update(part)
    return f"rgp_block_sparse_{digest.hexdigest()[:12]}"


def build_directory() -> Path:
    """Where the build of :func:`extension_name` lives."""
    root = os.environ.get("RGP_BENCH_EXTENSIONS_DIR")
    if root is None:
        from torch.utils.cpp_extension import get_default_build_root

        root = get_default_build_root()
    return Path(root) / extension_name()


def library_path() -> Path:
    """The built shared library for these sources (it may not exist yet)."""
    return build_directory() / f"{extension_name()}.so"


def _import_built(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def compiler_missing() -> str | None:
    """Why no C++ compiler can be run (``$CXX``, default ``c++``, as torch's extension builder uses), or None."""
    compiler = os.environ.get("CXX", "c++")
    words = shlex.split(compiler)
    if not words or shutil.which(words[0]) is None:  # CXX may be a command line, e.g. "ccache g++"
        return f"no C++ compiler: {compiler!r} not found (install one, or set CXX)"
    return None


def _build(name: str, directory: Path) -> ModuleType:
    # Importing cpp_extension on a CUDA build without a CUDA runtime logs an irrelevant warning.
    ext_log = logging.getLogger("torch.utils.cpp_extension")
    level = ext_log.level
    ext_log.setLevel(logging.ERROR)
    try:
        from torch.utils.cpp_extension import load
    finally:
        ext_log.setLevel(level)
    directory.mkdir(parents=True, exist_ok=True)
    return load(name=name, sources=[str(SOURCE)], extra_cflags=list(CFLAGS), build_directory=str(directory),
                verbose=False)


def _register_fakes() -> None:
    """Output shapes of the C++-defined operators, for tracing (torch.compile, torch.export); once per process."""
    global _fakes_registered
    if _fakes_registered:
        return
    def linear_shape(x, weight, in_index, out_index, out_base, bias, c_out, relu):
        return x.new_empty((x.shape[0], c_out))

    def conv2d_shape(x, weight, in_index, out_index, bias, residual, phases, row_base, row_end, tap_shift, c_out,
                     h_out, w_out, *_geometry):
        return x.new_empty((x.shape[0], c_out, h_out, w_out))

    torch.library.register_fake("rgp_bench::block_sparse_linear")(linear_shape)
    torch.library.register_fake("rgp_bench::block_sparse_conv2d")(conv2d_shape)
    _fakes_registered = True


def _loaded(module: ModuleType) -> ModuleType:
    _register_fakes()
    return module


def kernel_op(name: str):
    """The operator ``torch.ops.rgp_bench.<name>`` (loading the cached build); RuntimeError with the reason when
    the kernel is unavailable."""
    if load_kernel(build=False) is None:
        raise RuntimeError(f"C++ kernel unavailable: {kernel_status().detail}")
    return getattr(torch.ops.rgp_bench, name)


def load_kernel(build: bool = True) -> ModuleType | None:
    """The compiled kernel module, or None if it is disabled, not built (and ``build`` is False) or fails to build.

    A failed build is logged once and remembered for the process; the caller falls back to other forms.
    """
    global _module, _status
    if _module is not None:
        return _module
    if os.environ.get("RGP_BENCH_NO_CPP") == "1":
        _status = KernelStatus(False, "disabled by RGP_BENCH_NO_CPP=1")
        return None
    if _status is not None and not _status.available and _status.detail.startswith("build failed"):
        return None
    name = extension_name()
    directory = build_directory()
    built = directory / f"{name}.so"
    try:
        if built.exists():
            _module = _loaded(_import_built(built, name))
            _status = KernelStatus(True, f"loaded cached build {built}")
        elif build and (missing := compiler_missing()) is not None:
            _status = KernelStatus(False, f"build failed: {missing}")
            log.warning("C++ block-sparse kernel unavailable, falling back to other forms: %s", missing)
        elif build:
            log.warning("Building RGP's C++ block-sparse kernel for this machine and torch version (once; about a "
                        "minute) into %s", directory)
            start = time.perf_counter()
            _module = _loaded(_build(name, directory))
            _status = KernelStatus(True, f"built in {time.perf_counter() - start:.0f} s into {directory}")
        else:
            _status = KernelStatus(False, f"not built yet (no {built}); build it with `make install` or "
                                          "`python -m rgp_bench.speedup.build_kernel`")
    except Exception as exc:  # a compiler or toolchain problem must not break the caller
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        _status = KernelStatus(False, f"build failed: {first_line[:300]}")
        log.warning("C++ block-sparse kernel unavailable, falling back to other forms: %s", first_line)
        _module = None
    return _module


def kernel_status() -> KernelStatus:
    """Status of the kernel in this process (checks the cache without building)."""
    if _status is None:
        load_kernel(build=False)
    assert _status is not None
    return _status


def simd_info(module: ModuleType) -> SimdInfo:
    """Vector width and register budget the loaded build was compiled for."""
    lanes, registers, max_tile_vectors = module.simd_info()
    return SimdInfo(int(lanes), int(registers), int(max_tile_vectors))
