"""The topology panel (rgp_bench.measure.topology, .spectra, .paths) against hand-computed small cases."""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pytest
import torch
from tests.conftest import make_cfg
from tests.reference.npb_node_path import measure_node_path
from torch import nn

from rgp_bench.graphs import block_mask, random_regular
from rgp_bench.measure.paths import network_paths
from rgp_bench.measure.spectra import bipartite_spectrum, graph_spectrum, top_singular_values
from rgp_bench.measure.topology import layer_topology, measure_topology, node_graph_topology
from rgp_bench.models import build_model
from rgp_bench.pruning import find_prunable_layers


def _cycle(n: int) -> np.ndarray:
    return nx.to_numpy_array(nx.cycle_graph(n), dtype=np.uint8)


def _paley(q: int) -> np.ndarray:
    squares = {(x * x) % q for x in range(1, q)}
    return np.array([[int((i - j) % q in squares) for j in range(q)] for i in range(q)], dtype=np.uint8)


def _mask(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array) != 0)


# -- a layer's bipartite channel graph -------------------------------------------------------------------------------

def test_ring_layer_graph_has_the_cycle_spectrum() -> None:
    """The 2n-cycle as an n × n biadjacency (I + shift): σ_j = 2|cos(πj/n)|, (2, 2)-biregular, bound 2."""
    n = 12
    ring = np.eye(n) + np.roll(np.eye(n), 1, axis=1)
    layer = layer_topology("ring", _mask(ring))
    assert (layer.sigma1, layer.sigma2) == pytest.approx((2.0, 2 * math.cos(math.pi / n)), abs=1e-12)
    assert layer.biregular and layer.ramanujan_bound_kind == "biregular"
    assert layer.ramanujan_bound == pytest.approx(2.0)
    assert layer.ramanujan_gap == pytest.approx(2 - 2 * math.cos(math.pi / n), abs=1e-12)
    assert (layer.edges, layer.degree_out, layer.degree_in, layer.density) == (2 * n, 2.0, 2.0, 2 / n)


def test_complete_bipartite_layer_and_its_weighted_gap() -> None:
    """K(5, 8): σ₁ = √40, σ₂ = 0; bound √(8−1) + √(5−1); uniform |w| = c over a 3×3 kernel: σ₁ = 9c√40."""
    mask = torch.ones(5, 8, 3, 3, dtype=torch.bool)
    layer = layer_topology("k58", mask, weight=torch.full((5, 8, 3, 3), -0.5))
    assert (layer.sigma1, layer.sigma2) == pytest.approx((math.sqrt(40), 0.0), abs=1e-12)
    assert layer.ramanujan_bound == pytest.approx(math.sqrt(7) + 2.0)
    assert layer.ramanujan_gap == pytest.approx(math.sqrt(7) + 2.0)
    assert layer.weighted_sigma1 == pytest.approx(9 * 0.5 * math.sqrt(40))
    assert layer.weighted_spectral_gap == pytest.approx(9 * 0.5 * math.sqrt(40))


def test_conv_channel_graph_sums_over_the_kernel() -> None:
    """An edge where any kernel position is kept; the weighted edge is Σ|w| over the kept positions only."""
    mask = torch.zeros(2, 2, 3, 3, dtype=torch.bool)
    mask[0, 0, 1, 1] = True  # one tap
    mask[1, 1] = True  # the whole kernel
    weight = torch.arange(36, dtype=torch.float32).reshape(2, 2, 3, 3) - 20
    layer = layer_topology("conv", mask, weight)
    assert layer.edges == 2 and layer.isolated_out == 0 and layer.isolated_in == 0
    kept = (weight.abs() * mask).sum((2, 3))  # diag(|w[0,0,1,1]|, Σ|w[1,1]|)
    assert sorted([layer.weighted_sigma1, layer.weighted_sigma2]) == pytest.approx(
        sorted([float(kept[0, 0]), float(kept[1, 1])]))


def test_petersen_biadjacency_is_bipartite_ramanujan() -> None:
    """The Petersen adjacency as a biadjacency (its bipartite double cover): singular values |3|, |−2|, |1|."""
    layer = layer_topology("petersen", _mask(nx.to_numpy_array(nx.petersen_graph())))
    assert (layer.sigma1, layer.sigma2) == pytest.approx((3.0, 2.0), abs=1e-12)
    assert layer.ramanujan_gap == pytest.approx(2 * math.sqrt(2) - 2, abs=1e-12)


def test_irregular_layer_uses_the_average_degree_bound() -> None:
    """B = [[1,1,1],[1,0,0]]: BBᵀ = [[3,1],[1,1]] has eigenvalues 2 ± √2; d_avg = 2·4/5 over the 5 nodes."""
    spectrum = bipartite_spectrum(np.array([[1, 1, 1], [1, 0, 0]]))
    assert (spectrum.sigma1, spectrum.sigma2) == pytest.approx((math.sqrt(2 + math.sqrt(2)),
                                                               math.sqrt(2 - math.sqrt(2))), abs=1e-12)
    assert not spectrum.biregular and spectrum.ramanujan_bound_kind == "average_degree"
    assert spectrum.ramanujan_bound == pytest.approx(2 * math.sqrt(1.6 - 1))


@pytest.mark.parametrize("density", [0.05, 0.5])
def test_lanczos_singular_values_match_a_dense_svd_and_are_deterministic(density: float) -> None:
    rng = np.random.default_rng(3)
    matrix = (rng.random((300, 200)) < density) * rng.random((300, 200))
    exact = np.linalg.svd(matrix, compute_uv=False)[:2]
    sparse = top_singular_values(matrix, 2, dense_limit=16)  # forces the Lanczos path
    assert sparse == pytest.approx(exact, rel=1e-9)
    assert np.array_equal(sparse, top_singular_values(matrix, 2, dense_limit=16))


def test_channel_permutations_leave_the_layer_measures_unchanged() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((40, 30)) < 0.2
    weight = torch.from_numpy(rng.standard_normal((40, 30)))
    rows, cols = rng.permutation(40), rng.permutation(30)
    a = layer_topology("a", _mask(mask), weight)
    b = layer_topology("a", _mask(mask[rows][:, cols]), weight[rows][:, cols])
    for field in ("sigma1", "sigma2", "ramanujan_bound", "ramanujan_gap", "weighted_spectral_gap", "edges"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-12), field


# -- node graphs -----------------------------------------------------------------------------------------------------

def test_ring_node_graph() -> None:
    """C₁₀: ASPL 25/9 = the Moore bound for degree 2, diameter 5; bipartite, so μ̂ = 2cos(π/5) against 2."""
    facts = node_graph_topology(_cycle(10))
    assert (facts.aspl, facts.lower_bound, facts.gap, facts.diameter) == pytest.approx((25 / 9, 25 / 9, 0.0, 5))
    assert facts.lambda1 == pytest.approx(2.0)
    assert facts.mu_hat == pytest.approx(2 * math.cos(math.pi / 5))
    assert facts.ramanujan_gap == pytest.approx(2 - 2 * math.cos(math.pi / 5))


def test_known_ramanujan_graphs() -> None:
    """Petersen (3-regular, spectrum 3, 1, −2; a Moore graph: ASPL 5/3 at the bound), K₆ (5, −1) and the Paley
    graph of order 13 (6-regular, (−1 ± √13)/2)."""
    petersen = node_graph_topology(nx.to_numpy_array(nx.petersen_graph()))
    assert (petersen.mu_hat, petersen.ramanujan_bound) == pytest.approx((2.0, 2 * math.sqrt(2)))
    assert (petersen.aspl, petersen.lower_bound, petersen.diameter) == pytest.approx((5 / 3, 5 / 3, 2))
    complete = graph_spectrum(np.ones((6, 6)) - np.eye(6))
    assert (complete.lambda1, complete.mu_hat, complete.ramanujan_gap) == pytest.approx((5.0, 1.0, 3.0))
    paley = graph_spectrum(_paley(13))
    assert paley.regular and paley.lambda1 == pytest.approx(6.0)
    assert paley.mu_hat == pytest.approx((1 + math.sqrt(13)) / 2)
    assert paley.ramanujan and paley.ramanujan_gap == pytest.approx(2 * math.sqrt(5) - (1 + math.sqrt(13)) / 2)
    disconnected = graph_spectrum(np.kron(np.eye(2), np.ones((4, 4)) - np.eye(4)))  # two K₄: λ₂ = λ₁ = 3
    assert disconnected.mu_hat == pytest.approx(3.0) and not disconnected.ramanujan


def test_block_masks_give_back_their_node_graph() -> None:
    """RGP's mapping (graphs.block_mask) on layers of 20 → 30 → 20 channels: the Petersen graph comes back."""
    adjacency = nx.to_numpy_array(nx.petersen_graph(), dtype=np.uint8)
    masks = {"a": _mask(block_mask(adjacency, 30, 20)), "b": _mask(block_mask(adjacency, 20, 30, (3, 3)))}
    topology = measure_topology(masks, block_nodes=10)
    assert topology.node_graph is not None and topology.node_graph_note is None
    assert (topology.node_graph.edges, topology.node_graph.regular, topology.node_graph.self_loops) == (15, True, False)
    assert topology.node_graph.aspl == pytest.approx(5 / 3)
    loops = measure_topology({"a": _mask(block_mask(adjacency, 30, 20, self_loops=True))}, block_nodes=10)
    assert loops.node_graph.self_loops and loops.node_graph.edges == 15
    shuffled = {"a": masks["a"][torch.randperm(30, generator=torch.Generator().manual_seed(0))]}
    assert measure_topology(shuffled, block_nodes=10).node_graph is None
    other = {**masks, "c": _mask(block_mask(random_regular(10, 3, 1), 20, 20))}
    assert "another node graph" in measure_topology(other, block_nodes=10).node_graph_note


# -- effective paths and nodes (NPB) ---------------------------------------------------------------------------------

def _tiny_mlp() -> tuple[nn.Module, dict[str, torch.Tensor]]:
    model = nn.Sequential(nn.Linear(2, 3, bias=False), nn.ReLU(), nn.Linear(3, 3, bias=False), nn.ReLU(),
                          nn.Linear(3, 2, bias=False))
    masks = {"0": _mask([[1, 0], [1, 1], [0, 0]]),  # hidden unit h2 gets no input
             "2": _mask([[1, 0, 1], [0, 1, 0], [0, 0, 1]]),
             "4": _mask([[1, 1, 0], [0, 0, 0]])}  # output y1 gets nothing
    return model, masks


def test_effective_paths_and_nodes_of_a_three_layer_mask_by_hand() -> None:
    """Paths x0→h0→g0→y0, x0→h1→g1→y0, x1→h1→g1→y0: 3 paths; effective weights 3 + 2 + 2 of 3 + 4 + 2 kept;
    effective nodes x0, x1, h0, h1, g0, g1, y0: 7 of 2 + 3 + 3 + 2."""
    model, masks = _tiny_mlp()
    paths = network_paths(model, masks, torch.zeros(5, 2))
    assert paths.log10_paths == pytest.approx(math.log10(3), abs=1e-12)
    assert [paths.layers[n].effective_weights for n in ("0", "2", "4")] == [3, 2, 2]
    assert (paths.effective_params, paths.kept_params, paths.total_params) == (7, 9, 6 + 9 + 6)
    assert (paths.effective_nodes, paths.total_nodes) == (7, 10)
    assert (paths.layers["2"].effective_in_channels, paths.layers["2"].effective_out_channels) == (2, 2)
    assert measure_node_path(model, masks, (2,))[:2] == (3.0, 7)


def test_permuting_hidden_channels_leaves_paths_and_nodes_unchanged() -> None:
    model, masks = _tiny_mlp()
    perm = torch.tensor([2, 0, 1])
    permuted = {"0": masks["0"][perm], "2": masks["2"][:, perm], "4": masks["4"]}
    assert network_paths(model, permuted, torch.zeros(1, 2)) == network_paths(model, masks, torch.zeros(1, 2))


def test_path_counts_do_not_overflow() -> None:
    """181 all-ones 64-wide layers: 64^182 ≈ 10^328.7 paths, past float64's 1.8e308."""
    model = nn.Sequential(*[nn.Linear(64, 64, bias=False) for _ in range(181)])
    paths = network_paths(model, {}, torch.zeros(1, 64))
    assert paths.log10_paths == pytest.approx(182 * math.log10(64), rel=1e-12)
    assert paths.effective_params == paths.total_params == 181 * 64 * 64


def test_pooling_and_residual_paths_match_npb() -> None:
    """A conv net with a residual sum, max pooling and global average pooling, against NPB's float64 count."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(2, 4, 3, padding=1, bias=False)
            self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
            self.pool = nn.MaxPool2d(2)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.stem(x))
            x = self.pool(x + self.conv(x))
            return self.fc(self.gap(x).flatten(1))

    model = Net()
    generator = torch.Generator().manual_seed(0)
    masks = {"conv": torch.rand(4, 4, 3, 3, generator=generator) < 0.3}
    ours = network_paths(model, masks, torch.zeros(1, 2, 6, 6))
    paths, params, _ = measure_node_path(model, masks, (2, 6, 6))
    assert 10 ** ours.log10_paths == pytest.approx(paths, rel=1e-12)
    assert ours.effective_params == params


@pytest.fixture(scope="module")
def resnet20():
    cfg = make_cfg("model=resnet20")
    torch.manual_seed(0)
    model = build_model(cfg.model, 3, 16, 10)
    example = torch.zeros(1, 3, 16, 16)
    layers = find_prunable_layers(model, example, cfg.layers)
    generator = torch.Generator().manual_seed(1)
    masks = {layer.name: torch.rand(layer.weight_shape, generator=generator) < 0.01 for layer in layers}
    return model, masks, example


def test_resnet_paths_params_and_nodes_equal_npbs(resnet20) -> None:
    model, masks, example = resnet20
    ours = network_paths(model, masks, example)
    paths, params, nodes = measure_node_path(model, masks, tuple(example.shape[1:]))
    assert ours.log10_paths == pytest.approx(math.log10(paths), rel=1e-12)
    assert (ours.effective_params, ours.effective_nodes) == (params, nodes)
    assert ours.effective_params < ours.kept_params  # at 1 % some kept weights are on no path


def test_mlp_nodes_differ_from_npb_only_by_its_double_count() -> None:
    """NPB counts each hidden unit of an MLP twice (as one linear's output and the next one's input)."""
    cfg = make_cfg("model=mlp", "model.width=32", "model.depth=3")
    torch.manual_seed(0)
    model = build_model(cfg.model, 1, 8, 10, spatial_dims=1)
    example = torch.zeros(1, 1, 8)
    layers = find_prunable_layers(model, example, cfg.layers)
    generator = torch.Generator().manual_seed(0)
    masks = {layer.name: torch.rand(layer.weight_shape, generator=generator) < 0.1 for layer in layers}
    ours = network_paths(model, masks, example)
    paths, params, nodes = measure_node_path(model, masks, (1, 8))
    assert ours.log10_paths == pytest.approx(math.log10(paths), rel=1e-12)
    assert ours.effective_params == params
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    assert nodes - ours.effective_nodes == sum(ours.layers[n].effective_out_channels for n in linears[:-1])


def test_unsupported_operations_are_named() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 2))
    topology = measure_topology({"0": torch.ones(3, 3, dtype=torch.bool)}, model=model, example=torch.zeros(1, 3))
    assert topology.network is None and "Sigmoid" in topology.network_note
    assert topology.layers[0].weighted_spectral_gap is not None  # the rest of the panel is still there


def test_panel_on_a_model_is_json(resnet20) -> None:
    model, masks, example = resnet20
    topology = measure_topology(masks, model=model, example=example)
    data = json.loads(json.dumps(topology.to_dict(), allow_nan=False))
    assert [layer["name"] for layer in data["layers"]] == list(masks)
    prunable = sum(layer.effective_weights for layer in topology.layers)
    assert 0 < prunable < data["network"]["effective_params"]  # the dense stem and classifier count too
    assert topology.density == {name: pytest.approx(float(m.float().mean())) for name, m in masks.items()}
