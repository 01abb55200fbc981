"""Every method reaches the requested sparsity on every model, on the same prunable layer set."""

from __future__ import annotations

import math

import pytest
import torch
from tests.conftest import make_cfg

from rgp_bench.errors import UserError
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.models import MODELS, build_model
from rgp_bench.pruning import apply_masks, current_masks, find_prunable_layers, mask_sparsity

METHOD_VARIANTS = [("rgp", []), ("magnitude", ["method.scope=global"]), ("magnitude", ["method.scope=layer"]),
                   ("random", ["method.scope=layer"]), ("random", ["method.scope=global"])]


def _model_and_layers(model_name: str, image_size: int = 32, channels: int = 3):
    cfg = make_cfg(f"model={model_name}", "model.width=64", "model.depth=3")
    torch.manual_seed(0)
    model = build_model(cfg.model, channels, image_size, 10)
    layers = find_prunable_layers(model, torch.randn(1, channels, image_size, image_size), cfg.layers)
    return model, layers


@pytest.fixture(scope="module")
def models():
    return {name: _model_and_layers(name) for name in MODELS}


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize(("method_name", "extra"), METHOD_VARIANTS)
def test_method_reaches_requested_sparsity(models, model_name, method_name, extra, tmp_path):
    # 0.75 is exactly reachable by RGP at both n=64 (k=16) and n=16 (k=4).
    ratio = 0.75
    _, layers = models[model_name]
    cfg = make_cfg(f"method={method_name}", f"ratio={ratio}", *extra)
    result = get_method(method_name).compute_masks(cfg.method, layers, ratio, MaskContext(seed=0, cache_dir=tmp_path))
    assert set(result.masks) == {layer.name for layer in layers}
    for layer in layers:
        assert tuple(result.masks[layer.name].shape) == layer.weight_shape
        assert result.masks[layer.name].dtype == torch.bool
    achieved = mask_sparsity(result.masks)
    assert achieved == pytest.approx(ratio, abs=1e-3)
    if method_name == "rgp" or "scope=layer" in " ".join(extra):
        for layer in layers:  # layer-wise methods hit the ratio in every single layer
            assert mask_sparsity({layer.name: result.masks[layer.name]}) == pytest.approx(ratio, abs=2e-3)


@pytest.mark.parametrize("model_name", ["mlp", "resnet20", "resnet18", "vgg16", "resnet50", "mobilenet_v2"])
def test_prunable_set_excludes_stem_classifier_and_grouped_convs(models, model_name):
    model, layers = models[model_name]
    names = [layer.name for layer in layers]
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert convs[0] not in names and convs[-1] not in names
    assert all(getattr(layer.module, "groups", 1) == 1 for layer in layers)
    assert len(names) == len(set(names)) > 0


def test_masks_are_applied_through_torch_prune_and_frozen():
    _, layers = _model_and_layers("resnet20")
    cfg = make_cfg("method=random", "ratio=0.5")
    masks = get_method("random").compute_masks(cfg.method, layers, 0.5, MaskContext(seed=1)).masks
    apply_masks(layers, masks)
    for layer in layers:
        assert hasattr(layer.module, "weight_orig") and hasattr(layer.module, "weight_mask")
        assert torch.equal(current_masks(layers)[layer.name], masks[layer.name])
        assert torch.count_nonzero(layer.module.weight[~masks[layer.name]]) == 0


def test_rgp_auto_nodes_capped_at_narrowest_layer_and_degree_from_ratio(models, tmp_path):
    _, layers = models["resnet20"]
    cfg = make_cfg("method=rgp", "ratio=0.75")
    result = get_method("rgp").compute_masks(cfg.method, layers, 0.75, MaskContext(seed=0, cache_dir=tmp_path))
    assert result.info["nodes"] == 16 and result.info["degree"] == 4
    assert "capped at 16" in result.info["nodes_note"]
    for key in ("aspl", "lower_bound", "diameter", "clustering"):
        assert math.isfinite(result.info[key])


def test_rgp_nearest_feasible_degree_and_nominal_ratio(models, tmp_path):
    _, layers = models["resnet18"]
    cfg = make_cfg("method=rgp", "ratio=0.9")
    info = get_method("rgp").compute_masks(cfg.method, layers, 0.9, MaskContext(seed=0, cache_dir=tmp_path)).info
    assert (info["nodes"], info["degree"]) == (64, 6)
    assert info["nominal_ratio"] == pytest.approx(1 - 6 / 64)


def test_rgp_block_structure_is_the_same_graph_in_every_layer(models, tmp_path):
    _, layers = models["resnet18"]
    cfg = make_cfg("method=rgp", "ratio=0.875")
    result = get_method("rgp").compute_masks(cfg.method, layers, 0.875, MaskContext(seed=0, cache_dir=tmp_path))
    graphs = []
    for layer in layers:
        mask = result.masks[layer.name][:, :, 0, 0] if len(layer.weight_shape) == 4 else result.masks[layer.name]
        go, gi = layer.out_channels // 64, layer.in_channels // 64
        graphs.append(mask[::go, ::gi].int())
    adjacency = graphs[0]
    assert torch.equal(adjacency, adjacency.T) and int(adjacency.diagonal().sum()) == 0
    assert all(torch.equal(g, adjacency) for g in graphs)


def test_rgp_explicit_nodes_larger_than_a_layer_is_an_error(models):
    _, layers = models["resnet20"]
    cfg = make_cfg("method=rgp", "method.nodes=32")
    with pytest.raises(UserError, match=r"method.nodes=32 is larger than masked layer .* \(16 channels\); "
                                        r"valid choices: auto or an integer in \[3, 16\]"):
        get_method("rgp").compute_masks(cfg.method, layers, 0.9, MaskContext(seed=0))


def test_random_and_rgp_masks_are_seeded(models, tmp_path):
    _, layers = models["resnet20"]
    for name in ("random", "rgp"):
        cfg = make_cfg(f"method={name}", "ratio=0.75")
        method = get_method(name)
        a = method.compute_masks(cfg.method, layers, 0.75, MaskContext(seed=3, cache_dir=tmp_path)).masks
        b = method.compute_masks(cfg.method, layers, 0.75, MaskContext(seed=3)).masks
        c = method.compute_masks(cfg.method, layers, 0.75, MaskContext(seed=4)).masks
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert any(not torch.equal(a[k], c[k]) for k in a)


def test_magnitude_keeps_the_largest_weights(models):
    _, layers = models["mlp"]
    cfg = make_cfg("method=magnitude", "method.scope=global")
    masks = get_method("magnitude").compute_masks(cfg.method, layers, 0.5, MaskContext(seed=0)).masks
    kept = torch.cat([layer.module.weight.detach().abs()[masks[layer.name]] for layer in layers])
    dropped = torch.cat([layer.module.weight.detach().abs()[~masks[layer.name]] for layer in layers])
    assert kept.min() >= dropped.max()
