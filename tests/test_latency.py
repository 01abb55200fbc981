"""rgp_bench.measure.latency: what is recorded, thread/mode restoration, interleaving, allocator bookkeeping.

Latencies themselves are never asserted (the machine is shared and noisy); only their structure.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rgp_bench.measure import latency
from rgp_bench.measure.latency import (
    ALLOCATOR_ENV,
    allocator_setting,
    benchmark_env,
    compare_variants,
    example_input,
    measure_latency,
    ratios_settled,
    relative_spread,
    summarise_rounds,
    thread_count,
    time_interleaved,
)


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 8 * 8, 2))


class Recorder(nn.Module):
    """Records grad mode, inference mode, training flag and thread count at every call."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool, bool, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled(), self.training,
                          torch.get_num_threads()))
        return x


@pytest.fixture
def two_threads():
    with thread_count(2):
        yield


def test_measure_latency_records_the_protocol_per_batch_size(two_threads):
    model = tiny_model().train()
    results = measure_latency(model, (3, 8, 8), threads=1, batch_sizes=(1, 4), min_run_time=0.01, max_run_time=0.2)
    assert sorted(results) == [1, 4]
    for batch_size, stats in results.items():
        assert stats.batch_size == batch_size and stats.median > 0 and stats.iqr >= 0 and stats.measurements >= 1
        assert stats.device == "cpu" and stats.threads == 1 and stats.torch_version == torch.__version__
        assert stats.allocator == allocator_setting()
        assert set(stats.to_dict()) >= {"median", "iqr", "measurements", "device", "threads", "torch_version"}
    assert torch.get_num_threads() == 2 and model.training  # both restored


def test_measure_latency_runs_in_eval_and_inference_mode_with_the_given_threads(two_threads):
    model = Recorder().train()
    measure_latency(model, (2,), threads=1, batch_sizes=(3,), min_run_time=0.001, max_run_time=0.01)
    assert model.seen and set(model.seen) == {(False, True, False, 1)}
    assert model.training


def test_thread_count_is_restored_after_an_error(two_threads):
    with pytest.raises(RuntimeError), thread_count(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    with thread_count(None):
        assert torch.get_num_threads() == 2


def test_time_interleaved_rotates_the_order_every_round():
    order: list[str] = []
    calls = {name: (lambda name=name: order.append(name)) for name in "abc"}
    times = time_interleaved(calls, rounds=3, min_run_time=0.0001)
    assert {name: len(values) for name, values in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert order[:3] == ["a", "b", "c"]  # the warm-up calls, which calibrate the block size
    firsts = []
    previous = None
    for name in order[3:]:
        if name != previous:
            firsts.append(name)
        previous = name
    assert firsts[:3] == ["a", "b", "c"] and firsts[3:6] == ["b", "c", "a"] and firsts[6:9] == ["c", "a", "b"]


def test_summarise_rounds_uses_per_round_ratios():
    times = {"dense": [1.0, 2.0, 4.0], "fast": [0.5, 1.0, 1.0]}
    stats = summarise_rounds(times, "dense")
    assert stats["dense"].speedup == 1.0
    assert stats["fast"].speedup == pytest.approx(2.0)  # ratios 2, 2, 4
    assert stats["fast"].median == 1.0 and stats["fast"].measurements == 3


def test_compare_variants_times_every_variant_interleaved_with_speedups(two_threads):
    dense, other = tiny_model().train(), tiny_model()
    result = compare_variants({"dense": dense, "other": other}, (3, 8, 8), threads=1, batch_sizes=(2,), rounds=2,
                              min_run_time=0.01)[2]
    assert result.baseline == "dense" and result.threads == 1 and result.torch_version == torch.__version__
    assert set(result.variants) == {"dense", "other"} and result.variants["dense"].speedup == 1.0
    assert all(len(values) == 2 for values in result.times.values())
    assert result.speedups("other")["other"] == 1.0
    assert dense.training and torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="baseline"):
        compare_variants({"a": dense}, (3, 8, 8), baseline="b")


def test_example_input_is_reproducible():
    assert torch.equal(example_input((3, 4), 2), example_input((3, 4), 2))
    assert example_input((3, 4), 2, dtype=torch.float64).dtype == torch.float64


def test_benchmark_env_sets_the_allocator_and_pins_threads():
    env = benchmark_env(1, base={"PATH": "/bin"})
    assert env["PATH"] == "/bin" and env["OMP_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    assert all(env[key] == value for key, value in ALLOCATOR_ENV.items())
    assert env["MALLOC_MMAP_MAX_"] == "0"


def test_allocator_setting_says_where_the_settings_come_from(monkeypatch):
    monkeypatch.setattr(latency, "_configured_in_process", False)
    for key in ALLOCATOR_ENV:
        monkeypatch.delenv(key, raising=False)
    assert allocator_setting().startswith("glibc defaults")
    for key, value in ALLOCATOR_ENV.items():
        monkeypatch.setenv(key, value)
    assert allocator_setting().endswith("(environment)") and "MALLOC_MMAP_MAX_=0" in allocator_setting()
    for key in ALLOCATOR_ENV:
        monkeypatch.delenv(key)
    monkeypatch.setattr(latency, "_configured_in_process", True)
    assert allocator_setting().endswith("(mallopt in-process)")


def test_configure_allocator_applies_the_settings_in_process(monkeypatch):
    monkeypatch.setattr(latency, "_configured_in_process", False)
    for key in ALLOCATOR_ENV:
        monkeypatch.delenv(key, raising=False)
    assert latency.configure_allocator() is True  # glibc here; mallopt returns 1 on success
    assert allocator_setting().endswith("(mallopt in-process)")


def test_extra_rounds_are_taken_until_the_ratios_settle_and_never_past_max_rounds():
    calls = {"a": lambda: None, "b": lambda: None}
    never = time_interleaved(calls, rounds=2, min_run_time=0.0001, max_rounds=4, settled=lambda times: False)
    assert [len(v) for v in never.values()] == [4, 4]
    settled = time_interleaved(calls, rounds=2, min_run_time=0.0001, max_rounds=4, settled=lambda times: True)
    assert [len(v) for v in settled.values()] == [2, 2]
    late = time_interleaved(calls, rounds=2, min_run_time=0.0001, max_rounds=4, settled=lambda times: False,
                            deadline=0.0)  # already past: the minimum rounds, nothing more
    assert [len(v) for v in late.values()] == [2, 2]


def test_the_spread_of_per_round_ratios_is_relative_to_their_median():
    assert relative_spread([1.0]) == 0.0
    assert relative_spread([2.0, 2.0, 2.0, 2.0]) == 0.0
    assert relative_spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx((4.5 - 1.5) / 3.0)
    settled = ratios_settled("dense", noise=0.1)
    assert settled({"dense": [2.0, 2.0, 2.0], "fast": [1.0, 1.0, 1.0]})
    assert not settled({"dense": [2.0, 2.0, 2.0], "fast": [1.0, 2.0, 0.5]})
