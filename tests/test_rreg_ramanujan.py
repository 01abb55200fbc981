"""The graph critics' controls: `rreg` (Stewart et al.'s expander masks) and `ramanujan` (RGP, Ramanujan graph)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.conftest import make_cfg
from tests.reference.rreg_pruner import bipartite_d_regular_graph, rreg_layer

from rgp_bench.config.fields import check_fields
from rgp_bench.core.errors import UserError
from rgp_bench.graphs import is_connected, random_regular
from rgp_bench.measure.spectra import graph_spectrum
from rgp_bench.measure.topology import block_node_graph, channel_graph
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.methods.ramanujan import draw_ramanujan
from rgp_bench.methods.rreg import havel_hakimi_bipartite, tile_channels
from rgp_bench.models import build_model
from rgp_bench.pruning import find_prunable_layers, mask_sparsity

MNIST1D_RATIOS = (0.5, 0.9, 0.97)


def _layers(model_name: str, *settings: str, channels: int = 3, size: int = 32, dims: int = 2):
    cfg = make_cfg(f"model={model_name}", *settings)
    torch.manual_seed(0)
    model = build_model(cfg.model, channels, size, 10, spatial_dims=dims)
    return find_prunable_layers(model, torch.zeros((1, channels) + (size,) * dims), cfg.layers)


@pytest.fixture(scope="module")
def mnist1d_mlp():
    """The MNIST-1D track's MLP: 40 -> 4 x 512 -> 10 (three prunable 512 x 512 layers)."""
    return _layers("mlp", channels=1, size=40, dims=1)


@pytest.fixture(scope="module")
def resnet18():
    return _layers("resnet18", "model.width=64")


def _masks(name: str, layers, ratio: float, *settings: str, seed: int = 0):
    cfg = make_cfg(f"method={name}", f"ratio={ratio}", *settings)
    return get_method(name).compute_masks(cfg.method, layers, ratio, MaskContext(seed=seed))


# -- rreg ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("vertices", "degree"), [(v, d) for v in (1, 2, 5, 16, 17) for d in range(1, v + 1)]
                         + [(64, 15), (100, 15), (512, 15)])
def test_havel_hakimi_tiles_equal_networkx(vertices: int, degree: int) -> None:
    tile = havel_hakimi_bipartite(vertices, degree)
    assert np.array_equal(tile, bipartite_d_regular_graph(vertices, degree).astype(bool))
    assert (tile.sum(0) == degree).all() and (tile.sum(1) == degree).all()


@pytest.mark.parametrize("ratio", MNIST1D_RATIOS)
def test_rreg_densities_are_erks_within_rounding(resnet18, ratio: float) -> None:
    """Per layer, rreg keeps ERK's count rounded to whole kernels (1×1 shortcuts and 3×3 convs of ResNet-18)."""
    rreg = _masks("rreg", resnet18, ratio)
    erk = _masks("erk", resnet18, ratio).info["densities"]
    assert rreg.info["erk_densities"] == erk
    for layer in resnet18:
        kernel = math.prod(layer.weight_shape[2:])
        size = math.prod(layer.weight_shape)
        assert abs(rreg.info["densities"][layer.name] - erk[layer.name]) <= kernel / 2 / size
    assert mask_sparsity(rreg.masks) == pytest.approx(ratio, abs=1e-4)


@pytest.mark.parametrize("ratio", MNIST1D_RATIOS)
def test_mnist1d_track_ratios(mnist1d_mlp, ratio: float) -> None:
    """Both controls on the MNIST-1D MLP at the track's ratios: rreg exact (no kernels), ramanujan at RGP's degree."""
    rreg = _masks("rreg", mnist1d_mlp, ratio)
    assert mask_sparsity(rreg.masks) == pytest.approx(ratio, abs=1e-6)
    rgp_degree = {0.5: 32, 0.9: 6, 0.97: 2}[ratio]
    ramanujan = _masks("ramanujan", mnist1d_mlp, ratio)
    assert (ramanujan.info["nodes"], ramanujan.info["degree"], ramanujan.info["ramanujan"]) == (64, rgp_degree, True)
    assert mask_sparsity(ramanujan.masks) == pytest.approx(1 - rgp_degree / 64)


def test_a_full_width_tile_is_d_regular_on_its_channels() -> None:
    """v · d pairs on a v-wide layer: one tile, every output and input channel of degree d, the Havel–Hakimi graph
    under the tile's channel relabelling."""
    mask, tiles, drawn = tile_channels(40, 40, 40 * 15, 15, np.random.default_rng(0))
    assert (len(tiles), drawn) == (1, 0)
    assert (mask.sum(0) == 15).all() and (mask.sum(1) == 15).all()
    tile = tiles[0]
    assert np.array_equal(mask[np.ix_(tile.rows, tile.cols)], havel_hakimi_bipartite(40, 15))


def test_every_tile_of_a_layer_is_d_regular_on_its_subsets(mnist1d_mlp) -> None:
    """The MLP's first prunable layer at 0.9: each tile's channel subsets carry its Havel–Hakimi graph, and the
    tiles keep the reference's degree 15 until the last few pairs."""
    rng = np.random.default_rng(0)
    result = _masks("rreg", mnist1d_mlp, 0.9)
    layer = mnist1d_mlp[0]  # the method's first layer: the same generator state
    pairs = round(result.info["erk_densities"][layer.name] * layer.out_channels * layer.in_channels)
    mask, tiles, drawn = tile_channels(layer.out_channels, layer.in_channels, pairs, 15, rng)
    assert int(mask.sum()) == pairs and drawn < 15
    assert tiles[0].degree == 15 and len(tiles[0].rows) == 512
    for tile in tiles:
        pattern = havel_hakimi_bipartite(len(tile.rows), tile.degree)
        assert mask[np.ix_(tile.rows, tile.cols)][pattern].all()
    assert np.array_equal(result.masks[layer.name].numpy(), mask)


def test_rreg_caps_the_degree_at_a_narrow_layer_and_lowers_it_not_to_overshoot() -> None:
    """8 × 12 channels: d = min(15, 8); with 80 pairs the first tile is 8-regular on 8 + 8 channels (the complete
    K(8, 8)); with 40 pairs the reference's 8 × 8 tile would hold 64, so its degree drops to 40 // 8 = 5."""
    mask, tiles, _ = tile_channels(8, 12, 80, 15, np.random.default_rng(1))
    assert int(mask.sum()) == 80 and tiles[0].degree == 8 and all(t.degree <= 8 for t in tiles)
    mask, tiles, drawn = tile_channels(8, 12, 40, 15, np.random.default_rng(1))
    assert int(mask.sum()) == 40 and (len(tiles), tiles[0].degree, drawn) == (1, 5, 0)


@pytest.mark.parametrize(("width", "pairs"), [(64, 64 * 15), (64, 1500), (48, 700), (20, 200)])
def test_rreg_follows_the_reference_tiling_until_it_would_overshoot(width: int, pairs: int) -> None:
    """Replaying the same channel subsets, the reference's tiles are ours up to the first one that would overshoot;
    the reference then ends above its count, rreg at it."""
    ours, our_tiles, _ = tile_channels(width, width, pairs, 15, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    reference, ref_tiles = rreg_layer(width, width, pairs, 15, rng.permutation)
    full = next((i for i, t in enumerate(our_tiles) if t.degree < 15), len(our_tiles))
    for ref, tile in zip(ref_tiles[:full], our_tiles[:full], strict=True):
        assert np.array_equal(ref[0], tile.rows) and np.array_equal(ref[1], tile.cols) and ref[2] == tile.degree
    assert int(ours.sum()) == pairs <= int(reference.sum())
    if full == len(ref_tiles):
        assert np.array_equal(ours, reference)


def test_rreg_is_seeded(resnet18) -> None:
    a, b, c = (_masks("rreg", resnet18, 0.9, seed=s).masks for s in (0, 0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a) and not all(torch.equal(a[k], c[k]) for k in a)


# -- ramanujan -------------------------------------------------------------------------------------------------------

def test_ramanujan_keeps_rgps_nodes_degree_and_mapping(resnet18, tmp_path) -> None:
    cfg = make_cfg("method=rgp", "ratio=0.9", "method.graph_iters=0")
    rgp = get_method("rgp").compute_masks(cfg.method, resnet18, 0.9, MaskContext(seed=0, cache_dir=tmp_path)).info
    result = _masks("ramanujan", resnet18, 0.9)
    info = result.info
    assert (info["nodes"], info["degree"], info["nominal_ratio"]) == (rgp["nodes"], rgp["degree"], rgp["nominal_ratio"])
    adjacency, note = block_node_graph(result.masks, info["nodes"])
    assert note is None and is_connected(adjacency)
    assert (adjacency.sum(1) == info["degree"]).all()
    spectrum = graph_spectrum(adjacency)
    assert info["ramanujan"] and spectrum.mu_hat <= 2 * math.sqrt(info["degree"] - 1)
    assert spectrum.mu_hat == pytest.approx(info["mu_hat"])
    for layer in resnet18:  # every layer is the block blow-up of the same graph
        assert channel_graph(result.masks[layer.name]).mean() == pytest.approx(info["degree"] / info["nodes"])


def _replay(nodes: int, degree: int, draws: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return [graph_spectrum(random_regular(nodes, degree, rng)).ramanujan_gap for _ in range(draws)]


def test_best_of_n_keeps_the_largest_ramanujan_gap() -> None:
    gaps = _replay(40, 3, 12, seed=5)
    chosen = draw_ramanujan(40, 3, 12, 5, "best")
    assert (chosen.index, chosen.drawn) == (int(np.argmax(gaps)), 12)
    assert chosen.spectrum.ramanujan_gap == pytest.approx(max(gaps))


def test_first_keeps_the_first_ramanujan_draw_or_the_best_when_none_is() -> None:
    gaps = _replay(40, 3, 12, seed=5)
    first = next(i for i, g in enumerate(gaps) if g >= -1e-9)
    chosen = draw_ramanujan(40, 3, 12, 5, "first")
    assert (chosen.index, chosen.drawn, chosen.spectrum.ramanujan) == (first, first + 1, True)
    seed = next(s for s in range(100) if _replay(40, 3, 1, s)[0] < 0)  # a seed whose first draw is not Ramanujan
    fallback = draw_ramanujan(40, 3, 1, seed, "first")
    assert not fallback.spectrum.ramanujan and fallback.drawn == 1


def test_ramanujan_is_seeded_and_its_settings_are_checked(resnet18) -> None:
    a, b = (_masks("ramanujan", resnet18, 0.9, "method.select=best", "method.draws=5").masks for _ in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(UserError, match=r"method\.draws=0"):
        check_fields(make_cfg("method=ramanujan", "method.draws=0"))
    with pytest.raises(UserError, match=r"method\.degree=0"):
        check_fields(make_cfg("method=rreg", "method.degree=0"))
