"""The latency protocol's parts: batch sizes fitted to the input, the structure key, masks folded, the dense twin."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune

from rgp_bench.record.costs import CostTotals
from rgp_bench.run.latency import LatencyJob, equal_mac_twin, fitted_batch_sizes, mask_signature
from rgp_bench.speedup import folded_copy


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4)).eval()


def block_mask(rows: int, cols: int, groups: int) -> torch.Tensor:
    """Each of `groups` output blocks reads one input block: block-diagonal."""
    mask = torch.zeros(rows, cols, dtype=torch.bool)
    r, c = rows // groups, cols // groups
    for g in range(groups):
        mask[g * r:(g + 1) * r, g * c:(g + 1) * c] = True
    return mask


def test_batch_sizes_are_capped_by_the_input_size():
    assert fitted_batch_sizes([1, 64], (40,), 2**21) == [1, 64]
    assert fitted_batch_sizes([1, 64], (3, 32, 32), 2**21) == [1, 64]
    assert fitted_batch_sizes([1, 64], (3, 224, 224), 2**21) == [1, 8]  # 2^21 / 150,528 = 13.9 -> 8
    assert fitted_batch_sizes([64, 1, 64], (3, 224, 224), 1) == [1]  # never below one, no repeats


def test_the_mask_signature_is_the_structure_not_the_values():
    a, b = nn.Linear(64, 64), nn.Linear(64, 64)
    prune.custom_from_mask(a, "weight", block_mask(64, 64, 8))
    prune.custom_from_mask(b, "weight", block_mask(64, 64, 8)[torch.randperm(64)])  # another graph, same shape
    assert mask_signature(a, "weights") == mask_signature(b, "weights") != "unstructured"
    c = nn.Linear(64, 64)
    prune.custom_from_mask(c, "weight", (torch.randperm(64 * 64) < 2048).reshape(64, 64))  # half, at random
    assert mask_signature(c, "weights") == "unstructured, 0.50 kept"
    assert mask_signature(nn.Linear(4, 4), "weights") == "dense"
    d = nn.Linear(64, 64)
    keep = torch.zeros(64, 64, dtype=torch.bool)
    keep[:40, :50] = True
    prune.custom_from_mask(d, "weight", keep)
    assert mask_signature(d, "macs") == "channels 40x50"


def test_folded_masks_compute_what_the_masked_model_does_without_hooks():
    model = mlp()
    prune.custom_from_mask(model[2], "weight", block_mask(64, 64, 4))
    folded = folded_copy(model)
    x = torch.randn(5, 16)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x))
    assert not any(module._forward_pre_hooks for module in folded.modules())
    assert int((folded[2].weight != 0).sum()) == 64 * 64 // 4
    assert hasattr(model[2], "weight_mask")  # the run's model is untouched


def test_the_equal_mac_twin_is_uniformly_thinner_at_the_same_macs():
    dense = mlp()
    example = torch.randn(1, 16)
    twin, note = equal_mac_twin(dense, example, ["0", "2", "4"], reduction=0.75)
    assert twin is not None and "uniform channels" in note
    dense_macs = 16 * 64 + 64 * 64 + 64 * 4
    twin_macs = sum(m.in_features * m.out_features for m in twin.modules() if isinstance(m, nn.Linear))
    assert twin_macs <= 0.25 * dense_macs + 64 + 16  # within one channel of the target
    assert twin[0].out_features == twin[2].out_features  # one keep fraction for every group
    assert twin[4].out_features == 4  # the classes stay
    none, why = equal_mac_twin(dense, example, ["0", "2", "4"], reduction=0.0)
    assert none is None and "removes no MACs" in why


def test_a_latency_job_keys_on_structure(tmp_path):
    from omegaconf import OmegaConf

    from rgp_bench.config.schema import LatencyCfg
    from rgp_bench.run.latency import structure_key

    settings = OmegaConf.structured(LatencyCfg)
    costs = CostTotals(params=1, params_nonzero=1, macs=100, macs_effective=25)

    def key(seed: int, groups: int) -> str:
        torch.manual_seed(seed)
        model = mlp()
        mask = block_mask(64, 64, groups)[torch.randperm(64)]
        prune.custom_from_mask(model[2], "weight", mask)
        job = LatencyJob(model=model, example=torch.randn(1, 16), prunable=["0", "2", "4"], budget="weights",
                         dense_cost=costs, pruned_cost=costs, run_id=f"run{seed}", cache_dir=tmp_path)
        return structure_key(job, settings, [1, 64], 1, torch.device("cpu"))

    assert key(0, 4) == key(1, 4)  # another seed's graph, the same structure
    assert len({key(0, 2), key(0, 4), key(0, 8)}) == 3
