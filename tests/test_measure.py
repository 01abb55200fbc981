"""MAC and parameter accounting: the project's MAC counter equals fvcore's count on every model and agrees with
torch's own counter, and RGP matches an analytic count."""

from __future__ import annotations

import logging
import warnings

import pytest
import torch
from tests.conftest import make_cfg
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from rgp_bench.measure import measure_costs, reductions
from rgp_bench.measure.macs import effective_macs, layer_macs, mac_reduction, masked_layer_macs
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.models import IMAGE_MODELS, build_model, models_for
from rgp_bench.pruning import apply_masks, find_prunable_layers

with warnings.catch_warnings():  # fvcore imports torch.jit helpers that warn on recent torch
    warnings.simplefilter("ignore")
    from fvcore.nn import FlopCountAnalysis

# fvcore's handles the project's convention leaves out (BN, pooling, upsampling, norms).
_UNCOUNTED_OPS = ("aten::batch_norm", "aten::adaptive_avg_pool2d", "aten::upsample_nearest2d",
                  "aten::upsample_bilinear2d", "aten::layer_norm", "aten::group_norm", "aten::instance_norm")


def fvcore_macs(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """fvcore's MACs per module ("" = the model), with the project's convention: the cross-check of measure.macs."""
    analysis = FlopCountAnalysis(model.eval(), example)
    for op in _UNCOUNTED_OPS:
        analysis.set_op_handle(op, lambda _inputs, _outputs: 0)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    level = logging.getLogger("fvcore").level
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {name: int(count) for name, count in analysis.by_module().items()}
    finally:
        logging.getLogger("fvcore").setLevel(level)


def _assert_equals_fvcore(model: nn.Module, example: torch.Tensor) -> None:
    ours, theirs = layer_macs(model, example), fvcore_macs(model, example)
    assert ours == {layer: theirs[layer] for layer in ours}
    assert sum(ours.values()) == theirs[""]


@pytest.mark.parametrize(("name", "size", "spatial_dims"), [*((m, 40, 1) for m in models_for(1)),
                                                         ("resnet50", 64, 2), ("mobilenet_v2", 64, 2)])
def test_the_mac_counter_equals_fvcore_on_signals_and_imagenet_stems(name: str, size: int, spatial_dims: int) -> None:
    model = build_model(make_cfg(f"model={name}").model, 1, size, 10, spatial_dims)
    example = torch.randn(1, 1, *([size] * spatial_dims))
    _assert_equals_fvcore(model, example)
    assert layer_macs(model, example.expand(3, *example.shape[1:])) == layer_macs(model, example)  # per sample


def test_effective_macs_scale_exactly_with_the_kept_weights() -> None:
    layer = nn.Conv2d(4, 6, 3, padding=1)
    dense = layer_macs(layer, torch.randn(1, 4, 5, 5))[""]
    assert dense == 6 * 4 * 9 * 25 and effective_macs(dense, 216, 216) == dense
    torch.nn.utils.prune.custom_from_mask(layer, "weight", torch.arange(216).reshape(6, 4, 3, 3) % 3 == 0)
    counts = masked_layer_macs(layer, torch.randn(2, 4, 5, 5))
    assert counts[""].dense == dense and counts[""].effective == dense // 3 == effective_macs(dense, 72, 216)
    assert mac_reduction(counts) == 3.0


def _build(name: str, channels: int = 3, size: int = 32):
    cfg = make_cfg(f"model={name}")
    torch.manual_seed(0)
    return build_model(cfg.model, channels, size, 10), torch.randn(1, channels, size, size), cfg


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_macs_equal_fvcore_and_agree_with_torch_flop_counter_on_dense_models(name):
    model, x, _ = _build(name)
    _assert_equals_fvcore(model, x)
    report = measure_costs(model, x, prunable=set())
    counter = FlopCounterMode(display=False)
    model.eval()
    with counter, torch.no_grad():
        model(x)
    torch_macs = counter.get_total_flops() / 2  # torch counts 2 FLOPs per multiply-add
    assert report.total.macs == pytest.approx(torch_macs, rel=0.01)
    assert report.total.macs == report.total.macs_effective
    assert report.total.params == sum(p.numel() for p in model.parameters())
    assert sum(layer.macs for layer in report.layers) == report.total.macs


def _rgp_masked(name: str, ratio: float, tmp_path, channels: int = 3, size: int = 32):
    model, x, cfg = _build(name, channels, size)
    cfg = make_cfg(f"model={name}", "method=rgp", f"ratio={ratio}")
    layers = find_prunable_layers(model, x, cfg.layers)
    dense = measure_costs(model, x, {layer.name for layer in layers})
    result = get_method("rgp").compute_masks(cfg.method, layers, ratio, MaskContext(seed=0, cache_dir=tmp_path))
    apply_masks(layers, result.masks)
    return dense, measure_costs(model, x, {layer.name for layer in layers}), result.info


def test_rgp_effective_macs_match_analytic_count_mlp(tmp_path):
    # digits MLP (64 -> 4x512 -> 10) at ratio 0.9: n=64, k=6; stem and classifier stay dense.
    dense, pruned, info = _rgp_masked("mlp", 0.9, tmp_path, channels=1, size=8)
    assert (info["nodes"], info["degree"]) == (64, 6)
    assert dense.total.macs == 64 * 512 + 3 * 512 * 512 + 512 * 10
    assert pruned.total.macs_effective == 64 * 512 + 3 * 512 * 512 * 6 // 64 + 512 * 10
    assert pruned.prunable.params_nonzero == 3 * 512 * 512 * 6 // 64


def test_rgp_effective_macs_match_analytic_count_resnet20(tmp_path):
    # CIFAR ResNet-20 at 32x32, n=16 (narrowest layer), k=4: every conv but the stem keeps 1/4.
    dense, pruned, info = _rgp_masked("resnet20", 0.75, tmp_path)
    assert (info["nodes"], info["degree"]) == (16, 4)
    conv = lambda cin, cout, hw: cin * cout * 9 * hw * hw  # noqa: E731
    stem, fc = conv(3, 16, 32), 64 * 10
    body = (6 * conv(16, 16, 32) + conv(16, 32, 16) + 5 * conv(32, 32, 16) + conv(32, 64, 8) + 5 * conv(64, 64, 8))
    assert dense.total.macs == stem + body + fc
    assert pruned.total.macs_effective == stem + body // 4 + fc
    red = reductions(dense, pruned)
    assert red.prunable_macs == pytest.approx(0.75)
    assert red.prunable_params == pytest.approx(0.75)
    assert red.macs == pytest.approx(1 - (stem + body / 4 + fc) / (stem + body + fc))


def test_layer_table_reports_shape_density_and_macs(tmp_path):
    _, pruned, _ = _rgp_masked("resnet20", 0.75, tmp_path)
    rows = {row.name: row for row in pruned.layers}
    assert rows["conv1"].density == 1.0 and not rows["conv1"].prunable
    masked = [row for row in pruned.layers if row.prunable]
    assert masked and all(row.density == pytest.approx(0.25) for row in masked)
    assert all(row.macs_effective == row.macs // 4 for row in masked)
    assert all(len(row.shape) == 4 for row in masked)
