"""The one seeding module: every derived stream keeps its historical seed, so no result changed when the formulas
were gathered into rgp_bench.core.seeding."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from rgp_bench.core.seeding import STRIDE, Purpose, derive_seed, seed_everything, seeded_generator

SEEDS = (0, 1, 7, 2**32 - 1)


def _historical(seed: int, purpose: Purpose, index: int) -> int:
    """The formulas as they stood in train/loop.py, run/pipeline.py and run/sanity.py before this module."""
    if purpose in (Purpose.pretrain_data, Purpose.train_data):
        salt = {"pretrain_data": 1, "train_data": 2}[purpose.label]
        return (seed * 1_000_003 + salt * 10_007 + index) % 2**63
    if purpose is Purpose.prune_batches:
        return seed * 1_000_003 + 3 * 10_007 + index
    return seed * 1_000_003 + {"sanity_shuffle": 0x5A1F, "sanity_reinit": 0x4E17}[purpose.label]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("purpose", [p for p in Purpose if p.offset is not None])
def test_derived_seeds_are_the_historical_ones(seed: int, purpose: Purpose) -> None:
    indices = (0,) if purpose.label.startswith("sanity") else (0, 1, 30, 200)
    for index in indices:
        assert derive_seed(seed, purpose, index) == _historical(seed, purpose, index)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_run_seed_itself_seeds_init_and_masks(seed: int) -> None:
    assert derive_seed(seed, Purpose.init) == derive_seed(seed, Purpose.masks) == seed
    with pytest.raises(ValueError, match="the masks stream is the run seed itself; it has no index 3"):
        derive_seed(seed, Purpose.masks, 3)


def test_streams_are_distinct_within_and_across_seeds() -> None:
    offsets = [p.offset for p in Purpose if p.offset is not None]
    assert len(set(offsets)) == len(offsets) and all(0 < o < STRIDE for o in offsets)
    assert len({p.label for p in Purpose}) == len(Purpose)
    seen = {derive_seed(s, p, i) for s in range(3) for p in Purpose if p.offset is not None for i in range(5)}
    assert len(seen) == 3 * len(offsets) * 5
    assert Purpose.for_phase("pretrain") is Purpose.pretrain_data and Purpose.for_phase("train") is Purpose.train_data


def test_a_private_generator_leaves_the_global_one_alone() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    draw = torch.rand(3, generator=seeded_generator(1, Purpose.sanity_shuffle))
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(draw, torch.rand(3, generator=torch.Generator().manual_seed(1_000_003 + 0x5A1F)))


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    seed_everything(11, deterministic=False)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(11, deterministic=False)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_deterministic_mode_reaches_torch_and_inductor_without_importing_it_early() -> None:
    """Without inductor loaded, the switch is set without importing it (1.5 s a run), and inductor, once imported,
    reads the same mode; in a fresh process, so that nothing imported inductor before."""
    code = (
        "import sys, torch\n"
        "from rgp_bench.core.seeding import seed_everything\n"
        "seed_everything(0, True)\n"
        "assert 'torch._inductor.config' not in sys.modules\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert torch.is_deterministic_algorithms_warn_only_enabled()\n"
        "import torch._inductor.config as inductor\n"
        "assert inductor.deterministic is True\n"
        "seed_everything(0, False)\n"
        "assert not torch.are_deterministic_algorithms_enabled() and inductor.deterministic is False\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]
