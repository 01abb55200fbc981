"""Channel pruning: coupled groups of every zoo model, masked == removed, exact MACs, scores and MAC budgets."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import pytest
import torch
from tests.conftest import make_cfg
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import prune

from rgp_bench.core.errors import UserError
from rgp_bench.measure import CostReport, measure_costs
from rgp_bench.models import build_model
from rgp_bench.models.resnet_cifar import PadShortcut
from rgp_bench.pruning import apply_param_masks, find_prunable_layers
from rgp_bench.pruning.channels import (
    ChannelGroup,
    ChannelMacs,
    IndexShortcut,
    Producer,
    ShortcutPruner,
    apply_channel_masks,
    channel_gates,
    channel_param_masks,
    filter_scores,
    find_channel_groups,
    keep_all,
    keep_for_mac_reduction,
    keep_without,
    kept_count,
    removal_order,
    remove_channels,
    select_keep,
)

MODELS = ("mlp", "resnet20", "resnet56", "vgg16", "resnet18", "resnet50", "mobilenet_v2")
SIZE = 32


@dataclass(frozen=True)
class Expected:
    groups: int
    prunable: int  # channel methods' layer set: the stem's output group is prunable, fixed-width layers' are not
    residual: int
    depthwise: int  # depthwise convs, each a per-channel member of exactly one group
    shortcuts: int  # option-A shortcuts, each in two groups (input stream, output stream)


EXPECTED = {
    "mlp": Expected(3, 3, 0, 0, 0),  # width 32, depth 3: one group per hidden Linear, the stem's included
    "resnet20": Expected(12, 12, 3, 0, 2),  # 9 inside blocks + 3 residual streams (the stem writes stage 1's)
    "resnet56": Expected(30, 30, 3, 0, 2),
    "resnet110": Expected(57, 57, 3, 0, 2),
    "vgg16": Expected(15, 13, 0, 0, 0),  # 13 convs (GNN-RL's 13 actions) + 2 hidden FC layers of fixed width
    "resnet18": Expected(12, 12, 4, 0, 0),  # 8 inside blocks + 4 streams
    "resnet50": Expected(37, 37, 4, 0, 0),  # 32 inside blocks + stem + 4 streams
    "mobilenet_v2": Expected(25, 25, 5, 17, 0),
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: the models are small and the CPU is shared; extra threads mostly spin (5x slower)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@dataclass
class Case:
    name: str
    model: nn.Module
    example: torch.Tensor
    prunable: list[str]
    groups: list[ChannelGroup]
    dense: CostReport
    macs: ChannelMacs


def _perturb(model: nn.Module, seed: int) -> None:
    """Non-trivial BN statistics/affine and biases, so a channel that is not fully masked shows up."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                module.weight.copy_(torch.rand(module.num_features, generator=g) + 0.5)
                module.bias.copy_(torch.randn(module.num_features, generator=g) * 0.2)
                module.running_mean.copy_(torch.randn(module.num_features, generator=g) * 0.2)
                module.running_var.copy_(torch.rand(module.num_features, generator=g) + 0.5)
            elif isinstance(module, nn.Conv2d | nn.Linear) and module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)


def _build(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor, list[str]]:
    cfg = make_cfg(f"model={name}", "model.width=32", "model.depth=3")
    torch.manual_seed(seed)
    model = build_model(cfg.model, 3, SIZE, 10)
    _perturb(model, seed)
    model.eval()
    example = torch.randn(1, 3, SIZE, SIZE)
    return model, example, [layer.name for layer in find_prunable_layers(model, example, cfg.layers, channels=True)]


def _make_case(name: str) -> Case:
    model, example, prunable = _build(name)
    groups = find_channel_groups(model, example, prunable)
    dense = measure_costs(model, example, prunable)
    return Case(name, model, example, prunable, groups, dense, ChannelMacs(model, groups, dense.module_macs))


@pytest.fixture(scope="module", params=MODELS)
def case(request) -> Case:
    return _make_case(request.param)


@pytest.fixture(scope="module")
def resnet20() -> Case:
    """A second ResNet-20 for the option-A specific tests (the parametrised `case` is torn down per model)."""
    return _make_case("resnet20")


def _random_keep(groups: list[ChannelGroup], seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    keep = {}
    for group in groups:
        if group.prunable:
            kept = torch.rand(group.channels, generator=g) < 0.5
            kept[torch.randint(group.channels, (1,), generator=g)] = True  # at least one channel
            keep[group.id] = kept
    return keep


@dataclass
class Removal:
    keep: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    masked: nn.Module
    pruned: nn.Module
    masked_costs: CostReport
    pruned_costs: CostReport


@pytest.fixture(scope="module")
def removal(case: Case) -> Removal:
    keep = _random_keep(case.groups)
    masked = copy.deepcopy(case.model)
    masks = apply_channel_masks(masked, case.groups, keep)
    pruned = remove_channels(case.model, case.groups, keep).eval()
    # The masked model has the dense architecture, so its dense MACs are reused (no second trace); the pruned
    # model is traced by fvcore afresh.
    return Removal(keep, masks, masked, pruned,
                   measure_costs(masked, case.example, case.prunable, dense_macs=case.dense.module_macs),
                   measure_costs(pruned, case.example, case.prunable))


def _one_channel_macs(case: Case) -> int:
    """An upper bound on the MACs one channel of any prunable group costs (all its rows and columns, dense)."""
    layers = dict(case.model.named_modules())
    bound = 0
    for group in case.groups:
        if group.prunable:
            cost = sum(case.dense.module_macs.get(m.module, 0) // layers[m.module].weight.shape[m.dim]
                       for m in group.with_role("producer", "consumer", "depthwise"))
            bound = max(bound, cost)
    return bound


# --- groups ---------------------------------------------------------------------------------------------


def _check_groups(name: str, model: nn.Module, groups: list[ChannelGroup], prunable: list[str]) -> None:
    expected = EXPECTED[name]
    assert len(groups) == expected.groups
    assert sum(g.prunable for g in groups) == expected.prunable
    assert sum(g.kind == "residual" for g in groups) == expected.residual
    assert len({g.id for g in groups}) == len(groups)

    modules = dict(model.named_modules())
    convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d | nn.Linear)]
    stem, classifier = convs[0], convs[-1]
    depthwise = [n for n in convs if getattr(modules[n], "groups", 1) > 1]
    assert len(depthwise) == expected.depthwise
    writes = [m.module for g in groups for m in g.with_role("producer", "depthwise")]
    reads = [m.module for g in groups for m in g.with_role("consumer", "depthwise")]
    # Every layer's output rows are in exactly one group, but the classifier's (the network output);
    # every layer's input columns are in exactly one group, but the stem's (the image).
    assert sorted(writes) == sorted(n for n in convs if n != classifier)
    assert sorted(reads) == sorted(n for n in convs if n != stem)
    assert not {p.name for g in groups for p in g.producers} & set(depthwise)

    for group in groups:
        assert group.id == group.producers[0].name
        assert group.prunable == all(p.name in prunable for p in group.producers)
        first = modules[group.id]
        assert group.channels == first.weight.shape[0]
        for member in group.members:
            assert len(member.positions) == len(member.channels)
            assert set(member.channels) == set(range(group.channels))
            for param in member.params:
                assert getattr(modules[member.module], param).shape[member.dim] == len(member.positions)
    stem_group = next(g for g in groups if any(p.name == stem for p in g.producers))
    assert stem_group.prunable  # channel methods remove the stem's output channels (never its input, the image)
    fixed = set(getattr(model, "FIXED_WIDTH_LAYERS", ()))
    assert {g.id for g in groups if not g.prunable} == fixed  # VGG's hidden FC layers keep their width

    shortcuts = [n for n, m in modules.items() if isinstance(m, PadShortcut)]
    assert len(shortcuts) == expected.shortcuts
    for shortcut in shortcuts:
        ins = [g for g in groups if any(m.module == shortcut for m in g.with_role("shortcut_in"))]
        outs = [g for g in groups if any(m.module == shortcut for m in g.with_role("shortcut_out"))]
        assert len(ins) == len(outs) == 1 and ins[0].id != outs[0].id
        assert ins[0].kind == outs[0].kind == "residual"
        assert outs[0].prunable  # a padded stream is written by prunable conv2s only


def test_channel_groups_of_each_model(case):
    _check_groups(case.name, case.model, case.groups, case.prunable)


def test_channel_groups_resnet110():
    model, example, prunable = _build("resnet110")
    _check_groups("resnet110", model, find_channel_groups(model, example, prunable), prunable)


def test_channel_groups_are_deterministic_and_independent_of_weights(resnet20):
    other, _, _ = _build("resnet20", seed=5)
    other.train()  # the tracer runs in eval mode and restores the caller's mode
    assert find_channel_groups(other, torch.randn(1, 3, SIZE, SIZE), resnet20.prunable) == resnet20.groups
    assert other.training


def test_a_frozen_model_has_the_same_groups_and_stays_frozen(resnet20):
    frozen, _, _ = _build("resnet20", seed=5)
    frozen.requires_grad_(False)  # as inference code and benchmarks hold models
    assert find_channel_groups(frozen, torch.randn(1, 3, SIZE, SIZE), resnet20.prunable) == resnet20.groups
    assert not any(p.requires_grad for p in frozen.parameters())


def test_non_prunable_writer_makes_group_non_prunable(resnet20):
    prunable = [n for n in resnet20.prunable if n != "layers.1.1.conv2"]
    groups = find_channel_groups(resnet20.model, resnet20.example, prunable)
    stream = next(g for g in groups if g.id == "layers.1.0.conv2")
    assert not stream.prunable
    assert Producer("layers.1.1.conv2", False) in stream.producers
    assert sum(g.prunable for g in groups) == EXPECTED["resnet20"].prunable - 1


# --- masks and removal ----------------------------------------------------------------------------------


def test_coupled_layers_share_indices(case):
    keep = select_keep(case.groups, filter_scores(case.model, case.groups, norm=2), 0.5)
    masks = channel_param_masks(case.model, case.groups, keep)
    row_keep, col_keep = {}, {}
    for group in case.groups:
        for member in group.with_role("producer", "depthwise", "norm"):
            row_keep[member.module] = keep[group.id][list(member.channels)]
        for member in group.with_role("consumer"):
            col_keep[member.module] = keep[group.id][list(member.channels)]
    assert masks
    for key, mask in masks.items():
        module, _, param = key.rpartition(".")
        rows = row_keep.get(module, torch.ones(mask.shape[0], dtype=torch.bool))
        if param == "weight" and mask.dim() >= 2:
            cols = col_keep.get(module, torch.ones(mask.shape[1], dtype=torch.bool))
            expected = rows[:, None] & cols[None, :]  # AND of the output group's rows and the input group's columns
            assert torch.equal(mask, expected.view(*expected.shape, *[1] * (mask.dim() - 2)).expand_as(mask))
        else:
            assert torch.equal(mask, rows)  # biases, BN gamma and beta
    for group in case.groups:
        if group.prunable and len(group.producers) > 1:
            kept_rows = [masks[f"{p.name}.weight"].flatten(1).any(1) for p in group.producers]
            assert all(torch.equal(rows, keep[group.id]) for rows in kept_rows)


def test_masked_model_equals_removed_model(case, removal):
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        masked, pruned, dense = removal.masked(x), removal.pruned(x), case.model(x)
    torch.testing.assert_close(pruned, masked, rtol=1e-5, atol=1e-5 * float(masked.abs().max()))
    assert not torch.allclose(dense, masked, rtol=1e-3, atol=1e-3 * float(dense.abs().max()))
    assert sum(p.numel() for p in removal.pruned.parameters()) < sum(p.numel() for p in case.model.parameters())
    for group in case.groups:
        kept = int(removal.keep.get(group.id, torch.ones(group.channels)).sum())
        assert removal.pruned.get_submodule(group.id).weight.shape[0] == kept


def test_channel_masks_go_through_torch_prune(case, removal):
    for key in removal.masks:
        module_name, _, param = key.rpartition(".")
        module = removal.masked.get_submodule(module_name)
        assert prune.is_pruned(module)
        assert torch.equal(getattr(module, f"{param}_mask").bool(), removal.masks[key])
        assert not (getattr(module, param).detach().ne(0) & ~removal.masks[key]).any()


def test_effective_macs_of_masked_model_equal_macs_of_removed_model(case, removal):
    masked_macs = removal.masked_costs.total.macs_effective
    assert masked_macs == removal.pruned_costs.total.macs
    assert masked_macs == case.macs.macs(removal.keep)
    assert masked_macs < case.dense.total.macs
    per_layer = case.macs.layer_macs(removal.keep)
    assert per_layer == {layer.name: layer.macs_effective for layer in removal.masked_costs.layers}


def test_option_a_shortcuts_need_their_channel_gate(resnet20):
    model, groups = resnet20.model, resnet20.groups
    keep = _random_keep(groups, seed=2)
    gates = channel_gates(groups, keep)
    assert set(gates) == {"layers.1.0.shortcut", "layers.2.0.shortcut"}  # both streams that a shortcut reads
    pruned = remove_channels(model, groups, keep).eval()
    assert isinstance(pruned.get_submodule("layers.1.0.shortcut"), IndexShortcut)
    ungated = copy.deepcopy(model)
    apply_param_masks(ungated, channel_param_masks(model, groups, keep))
    gated = copy.deepcopy(model)
    apply_channel_masks(gated, groups, keep)
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), gated(x), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(pruned(x), ungated(x), rtol=1e-3, atol=1e-4)
        # Removing from an already masked model gives the same pruned model.
        torch.testing.assert_close(remove_channels(gated, groups, keep).eval()(x), pruned(x), rtol=1e-5, atol=1e-6)


def test_index_shortcut_matches_pad_shortcut_and_prunes_in_place():
    pad = PadShortcut(4, 8, 2)
    shortcut = IndexShortcut.from_pad(pad, 4)
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(shortcut(x), pad(x))
    pruner = ShortcutPruner()
    pruner(shortcut, [1], to_output=False)  # input channel 1 gone: output position 3 (= 2 + 1) becomes zero
    pruner(shortcut, [0, 7], to_output=True)  # output positions 0 and 7 gone
    out = shortcut(x[:, [0, 2, 3]])
    expected = pad(x)[:, 1:7].clone()
    expected[:, 2] = 0
    torch.testing.assert_close(out, expected)
    assert (shortcut.in_channels, shortcut.out_channels) == (3, 6)


def test_keep_sets_are_validated(case):
    weight_set = find_channel_groups(case.model, case.example, case.prunable[1:])  # the stem's group left alone
    stem_group = next(g for g in weight_set if not g.prunable)
    prunable = next(g for g in case.groups if g.prunable)
    with pytest.raises(ValueError, match="not prunable"):
        channel_param_masks(case.model, weight_set, {stem_group.id: torch.arange(stem_group.channels) > 0})
    with pytest.raises(ValueError, match="at least one"):
        channel_param_masks(case.model, case.groups, {prunable.id: torch.zeros(prunable.channels, dtype=torch.bool)})
    with pytest.raises(ValueError, match="unknown"):
        remove_channels(case.model, case.groups, {"nope": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        case.macs.macs({prunable.id: torch.ones(prunable.channels + 1, dtype=torch.bool)})
    assert channel_param_masks(case.model, case.groups, keep_all(case.groups)) == {}


# --- scores, selection and MAC budgets ------------------------------------------------------------------


def test_filter_scores_sum_over_producers(case):
    scores = filter_scores(case.model, case.groups, norm=1)
    for group in case.groups:
        expected = sum(case.model.get_submodule(p.name).weight.detach().double().abs().flatten(1).sum(1)
                       for p in group.producers)
        torch.testing.assert_close(scores[group.id], expected)
    with pytest.raises(UserError, match="1 or 2"):
        filter_scores(case.model, case.groups, norm=3)


def test_select_keep_ties_minimum_and_non_prunable_groups():
    groups = [ChannelGroup("a", 4, "block", True, (Producer("a", True),), ()),
              ChannelGroup("b", 3, "block", False, (Producer("b", False),), ())]
    scores = {"a": torch.tensor([1.0, 2.0, 2.0, 2.0]), "b": torch.zeros(3)}
    keep = select_keep(groups, scores, 0.5)
    assert keep["a"].tolist() == [False, True, True, False]  # ties keep the lower index
    assert keep["b"].all()
    assert select_keep(groups, scores, 0.0)["a"].tolist() == [False, True, False, False]
    assert select_keep(groups, scores, {"a": 1.0})["a"].all()
    assert [kept_count(f, 4) for f in (0.0, 0.12, 0.13, 0.5, 0.62, 0.63, 1.0)] == [1, 1, 1, 2, 2, 3, 4]
    with pytest.raises(UserError, match="keep fraction"):
        select_keep(groups, scores, 1.5)
    order = removal_order(groups, scores, "global")
    assert order == [("a", 0), ("a", 3), ("a", 2)]  # lowest score first; the best channel never leaves


def test_uniform_removal_order_is_select_keep_at_one_fraction(case):
    scores = filter_scores(case.model, case.groups)
    order = removal_order(case.groups, scores, "uniform")
    assert len(order) == sum(g.channels - 1 for g in case.groups if g.prunable)
    for fraction in (0.9, 0.55, 0.3, 0.07):
        keep = select_keep(case.groups, scores, fraction)
        removed = sum(int((~kept).sum()) for kept in keep.values())
        prefix = keep_without(case.groups, order[:removed])
        assert all(torch.equal(prefix[g], keep[g]) for g in keep)


@pytest.mark.parametrize("ranking", ["uniform", "global"])
def test_mac_budget_is_met_within_one_channel(case, ranking):
    scores = filter_scores(case.model, case.groups)
    order = removal_order(case.groups, scores, ranking)
    reachable = case.macs.reduction(keep_without(case.groups, order))
    target = 0.6 * reachable
    budget = keep_for_mac_reduction(case.macs, scores, target, ranking)
    assert budget.macs == case.macs.macs(budget.keep)
    assert budget.reduction == 1 - budget.macs / case.dense.total.macs
    assert budget.reduction >= target
    assert (budget.reduction - target) * case.dense.total.macs <= _one_channel_macs(case)
    # Minimal: one channel fewer misses the target.
    assert case.macs.reduction(keep_without(case.groups, order[: budget.removed_channels - 1])) < target
    assert all(bool(kept.any()) for kept in budget.keep.values())
    again = keep_for_mac_reduction(case.macs, scores, target, ranking)
    assert all(torch.equal(again.keep[g], budget.keep[g]) for g in budget.keep)


def test_mac_budget_matches_measured_costs_resnet20(resnet20):
    case = resnet20
    macs = ChannelMacs.measure(case.model, case.example, case.groups)
    assert macs.total == case.dense.total.macs
    budget = keep_for_mac_reduction(macs, filter_scores(case.model, case.groups), 0.5, "uniform")
    masked = copy.deepcopy(case.model)
    apply_channel_masks(masked, case.groups, budget.keep)
    measured = measure_costs(masked, case.example, case.prunable)
    assert measured.total.macs_effective == budget.macs
    assert 0 <= (budget.reduction - 0.5) * macs.total <= _one_channel_macs(case)


def test_impossible_mac_budget_raises_one_line(case):
    scores = filter_scores(case.model, case.groups)
    reachable = case.macs.reduction(keep_without(case.groups, removal_order(case.groups, scores)))
    for bad in (reachable + 1e-3, 1.0, -0.1, math.nan):
        with pytest.raises(UserError) as error:
            keep_for_mac_reduction(case.macs, scores, bad)
        message = str(error.value)
        assert "\n" not in message and repr(bad) in message and f"0 to {reachable:.6f}" in message
    assert keep_for_mac_reduction(case.macs, scores, 0.0).removed_channels == 0
    with pytest.raises(UserError, match="ranking"):
        keep_for_mac_reduction(case.macs, scores, 0.1, "layer")
