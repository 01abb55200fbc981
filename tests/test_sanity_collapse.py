"""Sanity checks on masks (shuffle, reinit, invert) and the layer-collapse detector on every zoo model."""

from __future__ import annotations

import copy

import pytest
import torch
from tests.conftest import make_cfg

from rgp_bench.config.choices import Scope
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.models import build_model
from rgp_bench.pruning import apply_masks, current_masks, find_prunable_layers
from rgp_bench.pruning.collapse import layer_collapse
from rgp_bench.run.sanity import inverted, reinitialise, shuffled

# The image models of the zoo (CIFAR ResNets with option-A shortcuts, ResNet-18, VGG16-BN, torchvision's).
ZOO = ("mlp", "resnet20", "resnet56", "resnet110", "resnet18", "vgg16", "resnet50", "mobilenet_v2")
# Models with a parameter-free input-output path (option-A and identity shortcuts around every masked conv).
SHORTCUT_PATH = {"resnet20", "resnet56", "resnet110"}


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(name: str, **settings: int):
    cfg = make_cfg(f"model={name}", *(f"model.{k}={v}" for k, v in settings.items()))
    torch.manual_seed(0)
    model = build_model(cfg.model, 3, 32, 10)
    example = torch.randn(1, 3, 32, 32)
    return model, find_prunable_layers(model, example, cfg.layers), example


@pytest.fixture(scope="module")
def mlp():
    return _model("mlp", width=64, depth=4)


def _magnitude(layers, ratio: float, scope: str):
    cfg = make_cfg("method=magnitude", f"method.scope={scope}").method
    return get_method("magnitude").compute_masks(cfg, layers, ratio, MaskContext(seed=0))


def _kept(masks) -> dict[str, int]:
    return {name: int(m.sum()) for name, m in masks.items()}


def test_shuffle_keeps_every_layer_density_and_moves_the_weights(mlp):
    _, layers, _ = mlp
    result = _magnitude(layers, 0.8, "global")
    out = shuffled(result, seed=0)
    assert _kept(out.masks) == _kept(result.masks)
    assert all(not torch.equal(out.masks[n], result.masks[n]) for n in result.masks)
    assert all(torch.equal(out.masks[n], shuffled(result, seed=0).masks[n]) for n in result.masks)  # seeded
    assert any(not torch.equal(out.masks[n], shuffled(result, seed=1).masks[n]) for n in result.masks)
    assert out.scores == {} and out.info["sanity"] == "shuffle" and result.scores  # the original is untouched


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_invert_keeps_the_count_and_flips_the_ranking(mlp, scope):
    _, layers, _ = mlp
    result = _magnitude(layers, 0.8, scope)
    out = inverted(result, 0.8, Scope[scope])
    if scope == "layer":
        assert _kept(out.masks) == _kept(result.masks)
    assert sum(_kept(out.masks).values()) == sum(_kept(result.masks).values())
    groups = [[n] for n in result.masks] if scope == "layer" else [list(result.masks)]
    for names in groups:
        score = torch.cat([result.scores[n].reshape(-1) for n in names])
        keep = torch.cat([out.masks[n].reshape(-1) for n in names])
        assert score[keep].max() <= score[~keep].min()  # now the lowest scores are kept


def test_invert_needs_scores(mlp):
    _, layers, _ = mlp
    result = get_method("random").compute_masks(make_cfg("method=random").method, layers, 0.5, MaskContext(seed=0))
    with pytest.raises(ValueError, match="scored method"):
        inverted(result, 0.5, Scope.layer)


def test_reinit_keeps_the_mask_and_draws_fresh_kaiming_weights_from_its_own_stream(mlp):
    model, _, example = mlp
    model = copy.deepcopy(model)
    layers = find_prunable_layers(model, example, make_cfg().layers)
    masks = _magnitude(layers, 0.9, "layer").masks
    apply_masks(layers, masks)
    before = {layer.name: layer.module.weight_orig.detach().clone() for layer in layers}
    rng = torch.get_rng_state()
    reinitialise(layers, seed=0)
    assert torch.equal(torch.get_rng_state(), rng)  # the run's global stream is untouched
    assert all(torch.equal(current_masks(layers)[n], masks[n]) for n in masks)
    for layer in layers:
        fresh = layer.module.weight_orig.detach()
        assert not torch.equal(fresh, before[layer.name])
        assert int(torch.count_nonzero(layer.module.weight[~masks[layer.name]])) == 0
        fan_in = layer.in_channels
        assert fresh.std().item() == pytest.approx((2.0 / fan_in) ** 0.5, rel=0.1)
    first = {layer.name: layer.module.weight_orig.detach().clone() for layer in layers}
    reinitialise(layers, seed=0)
    assert all(torch.equal(layer.module.weight_orig, first[layer.name]) for layer in layers)


# --- layer collapse ---------------------------------------------------------------------------------------------


def _dense(layers):
    return {layer.name: torch.ones(layer.weight_shape, dtype=torch.bool) for layer in layers}


@pytest.mark.parametrize("name", ZOO)
def test_collapse_passes_a_dense_network_and_detects_cut_ones(name):
    model, layers, example = _model(name, width=64)
    state = copy.deepcopy(model.state_dict())
    dense = layer_collapse(model, layers, _dense(layers), example)
    assert not dense.collapsed and not dense.no_path and dense.empty_layers == []
    assert set(dense.kept_fraction) == {layer.name for layer in layers} and dense.narrowest[1] == 1.0
    middle = layers[len(layers) // 2].name
    one_empty = {**_dense(layers), middle: torch.zeros(layers[len(layers) // 2].weight_shape, dtype=torch.bool)}
    cut = layer_collapse(model, layers, one_empty, example)
    assert cut.collapsed and cut.empty_layers == [middle] and cut.narrowest == (middle, 0.0)
    nothing = {layer.name: torch.zeros(layer.weight_shape, dtype=torch.bool) for layer in layers}
    # With every prunable layer empty only a parameter-free shortcut path can survive.
    assert layer_collapse(model, layers, nothing, example).no_path == (name not in SHORTCUT_PATH)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # the model is not modified


@pytest.mark.parametrize("name", ["mlp", "vgg16"])
def test_collapse_detects_kept_blocks_that_do_not_line_up(name):
    """Layer a keeps only outputs to the first half of the channels, layer b only inputs from the second half."""
    model, layers, example = _model(name, width=64)
    a, b = layers[0], layers[1]
    masks = _dense(layers)
    half = a.out_channels // 2
    masks[a.name] = torch.zeros(a.weight_shape, dtype=torch.bool)
    masks[a.name][:half] = True
    masks[b.name] = torch.zeros(b.weight_shape, dtype=torch.bool)
    masks[b.name][:, half:] = True
    report = layer_collapse(model, layers, masks, example)
    assert report.no_path and report.collapsed and report.empty_layers == []
    masks[b.name][:, half - 1] = True  # one column that lines up restores a path
    assert not layer_collapse(model, layers, masks, example).collapsed


def test_collapse_reads_masks_of_a_pruned_model(mlp):
    model, _, example = mlp
    model = copy.deepcopy(model)
    layers = find_prunable_layers(model, example, make_cfg().layers)
    masks = _magnitude(layers, 0.5, "layer").masks
    apply_masks(layers, masks)  # weight_orig * weight_mask, as after the runner's pruning step
    report = layer_collapse(model, layers, masks, example)
    assert not report.collapsed
    assert report.kept_fraction == pytest.approx({layer.name: 0.5 for layer in layers})
