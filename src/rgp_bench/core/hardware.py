"""Device, precision and determinism from the `hardware` config group."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from rgp_bench.core.errors import UserError

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Hardware:
    """Resolved compute settings for one run."""

    device: torch.device
    precision: str
    workers: int
    deterministic: bool
    # torch's intra-op thread count for this run (floating-point results depend on it).
    threads: int = 1

    @property
    def uses_amp(self) -> bool:
        return self.precision != "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast context for the forward pass (a no-op in fp32)."""
        if not self.uses_amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=_DTYPES[self.precision])

    def describe(self) -> dict[str, str]:
        """Device metadata for the run record."""
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else _cpu_name()
        return {"type": self.device.type, "name": name, "precision": self.precision,
                "torch_threads": str(torch.get_num_threads()), "threads": str(self.threads)}


def _cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or "cpu"


def available_threads() -> int:
    """The cores this process may use: $OMP_NUM_THREADS where set (joblib workers set it to 1), else its CPU
    affinity (what SLURM or taskset grants), else the machine's CPU count."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolved_threads(cfg: DictConfig) -> int:
    """`hardware.threads`, with null meaning the cores available to this process."""
    threads = cfg.get("threads")
    return available_threads() if threads is None else int(threads)


def device_type(cfg: DictConfig) -> str:
    """The device `hardware.device` stands for here: `auto` is CUDA when available, else CPU."""
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(cfg.device)


def resolve_hardware(cfg: DictConfig) -> Hardware:
    """Pick the device for `hardware.device` (auto -> CUDA when available) and check it exists."""
    want = device_type(cfg)
    if want == "cuda" and not torch.cuda.is_available():
        raise UserError(f"hardware={cfg.name} needs a CUDA device but none is available; valid choices here: auto, cpu")
    precision = str(cfg.precision)
    if want == "cpu" and precision == "fp16":
        raise UserError("hardware.precision=fp16 is not supported on CPU; valid choices on CPU: fp32, bf16")
    threads = resolved_threads(cfg)
    torch.set_num_threads(threads)
    return Hardware(torch.device(want), precision, int(cfg.workers), bool(cfg.deterministic), threads)
