"""An exported ONNX model timed in ONNX Runtime against the torch model it came from (the portability figure).

Both run on the CPU with the same thread count (ONNX Runtime: ``intra_op_num_threads`` = ``inter_op_num_threads``
= threads, sequential execution; torch: ``torch.set_num_threads``), timed interleaved with torch.utils.benchmark
(median of ``rounds`` ``blocked_autorange`` measurements each), after checking that the outputs are equal within
``RTOL`` / ``ATOL``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rgp_bench.core.errors import UserError
from rgp_bench.measure.latency import thread_count, time_interleaved

# ONNX Runtime's CPU kernels sum in another order than torch's: equal up to float32 rounding.
RTOL = 1e-4
ATOL = 1e-5


@dataclass(frozen=True)
class OnnxTiming:
    """Median seconds per call of the torch model and of its ONNX export in ONNX Runtime, and their output gap."""

    batch_size: int
    threads: int
    torch_seconds: float
    onnx_seconds: float
    max_abs_error: float

    @property
    def ratio(self) -> float:
        """ONNX Runtime's speed relative to torch's (> 1: ONNX Runtime is faster)."""
        return self.torch_seconds / self.onnx_seconds

    def describe(self) -> str:
        return (f"batch {self.batch_size}, {self.threads} thread(s): torch {self.torch_seconds * 1e6:.1f} us, "
                f"onnxruntime {self.onnx_seconds * 1e6:.1f} us ({self.ratio:.2f}x torch); outputs equal within "
                f"rtol={RTOL:g}, atol={ATOL:g} (max |diff| {self.max_abs_error:.1e})")


def onnx_session(path: Path, threads: int = 1):
    """An ONNX Runtime CPU session for ``path`` with ``threads`` threads."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError("timing an ONNX export needs onnxruntime (pip install 'rgp-bench[export]')") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def time_onnx(model: nn.Module, path: Path, example: torch.Tensor, threads: int = 1, rounds: int = 5,
              min_run_time: float = 0.05) -> OnnxTiming:
    """Time ``model`` (torch, eval, no grad) and its ONNX export at ``path`` in ONNX Runtime on ``example``.

    Raises ValueError when the outputs differ beyond RTOL / ATOL."""
    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name
    x = example.float().contiguous()
    feed = {name: x.numpy()}
    with thread_count(threads), torch.inference_mode():
        reference = model.eval()(x)
        output = torch.from_numpy(session.run(None, feed)[0])
        max_abs = float((output - reference).abs().max())
        if not torch.allclose(output, reference, rtol=RTOL, atol=ATOL):
            raise ValueError(f"ONNX Runtime's output differs from torch's: max |diff| {max_abs:.1e} "
                             f"(rtol={RTOL:g}, atol={ATOL:g})")
        times = time_interleaved({"torch": lambda: model(x), "onnxruntime": lambda: session.run(None, feed)},
                                 rounds=rounds, min_run_time=min_run_time)
    return OnnxTiming(batch_size=int(x.shape[0]), threads=threads, torch_seconds=statistics.median(times["torch"]),
                      onnx_seconds=statistics.median(times["onnxruntime"]), max_abs_error=max_abs)
