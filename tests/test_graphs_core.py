"""Constructors, exact ASPL, bounds, metrics and masks of rgp_bench.graphs."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from rgp_bench.graphs import (
    GraphError,
    aspl,
    aspl_lower_bound,
    average_clustering,
    block_mask,
    check_feasible,
    diameter_lower_bound,
    feasible_degree,
    gap,
    graph_metrics,
    path_stats,
    random_regular,
    ring_lattice,
    spectral_gaps,
    split_sizes,
    validate_regular,
)
from rgp_bench.graphs.construct import from_edges


def _nx(adj: np.ndarray) -> nx.Graph:
    return nx.from_numpy_array(np.asarray(adj))


# --- constructors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(3, 2), (10, 3), (16, 4), (64, 7), (64, 8), (65, 4), (130, 5), (20, 19), (40, 33)])
def test_random_regular_is_simple_regular_connected(n, k):
    adj = random_regular(n, k, seed=1)
    assert adj.dtype == np.uint8 and adj.shape == (n, n)
    validate_regular(adj, k)
    g = _nx(adj)
    assert nx.is_connected(g) and all(d == k for _, d in g.degree())


def test_random_regular_is_seeded():
    assert np.array_equal(random_regular(64, 6, seed=3), random_regular(64, 6, seed=3))
    assert not np.array_equal(random_regular(64, 6, seed=3), random_regular(64, 6, seed=4))


@pytest.mark.parametrize("n,k", [(64, 4), (64, 8), (16, 6), (64, 3), (64, 5), (10, 9), (12, 11), (8, 2)])
def test_ring_lattice(n, k):
    adj = ring_lattice(n, k)
    validate_regular(adj, k)
    if k % 2 == 0:
        assert nx.is_isomorphic(_nx(adj), nx.watts_strogatz_graph(n, k, 0.0))
    else:  # documented odd-k construction: circulant C_n(1..(k-1)/2, n/2)
        assert nx.is_isomorphic(_nx(adj), nx.circulant_graph(n, [*range(1, (k - 1) // 2 + 1), n // 2]))


def test_ring_lattice_matches_authors_table():
    assert aspl(ring_lattice(64, 4)) == pytest.approx(8.381, abs=5e-4)
    assert aspl(ring_lattice(64, 8)) == pytest.approx(4.444, abs=5e-4)
    assert aspl(ring_lattice(64, 20)) == pytest.approx(2.095, abs=5e-4)


@pytest.mark.parametrize(
    "n,k,fragment",
    [
        (63, 7, "n·k must be even"),
        (8, 8, "degree must be in [2, 7]"),
        (8, 9, "[2, 7]"),
        (8, 1, "degree 1"),
        (8, 0, "[2, 7]"),
        (8, -2, "[2, 7]"),
        (2, 1, "nodes 2"),
        (0, 2, "nodes 0"),
    ],
)
def test_infeasible_requests(n, k, fragment):
    for fn in (check_feasible, ring_lattice, random_regular):
        with pytest.raises(GraphError) as err:
            fn(n, k)
        assert fragment in str(err.value) and "\n" not in str(err.value)


def test_non_integer_request():
    with pytest.raises(GraphError):
        check_feasible(64.0, 8)
    with pytest.raises(GraphError):
        check_feasible(64, True)


def test_validate_regular_rejects_bad_graphs():
    ok = ring_lattice(8, 2)
    bad = ok.copy()
    bad[0, 0] = 1
    with pytest.raises(GraphError, match="self-loops"):
        validate_regular(bad)
    bad = ok.copy()
    bad[0, 4] = 1
    with pytest.raises(GraphError, match="symmetric"):
        validate_regular(bad)
    bad[4, 0] = 1
    with pytest.raises(GraphError, match="regular"):
        validate_regular(bad)
    two_cycles = np.zeros((8, 8), dtype=np.uint8)
    for c in (range(4), range(4, 8)):
        c = list(c)
        for a, b in zip(c, c[1:] + c[:1], strict=True):
            two_cycles[a, b] = two_cycles[b, a] = 1
    with pytest.raises(GraphError, match="disconnected"):
        validate_regular(two_cycles)
    with pytest.raises(GraphError, match="degree 2, expected 4"):
        validate_regular(ok, 4)
    with pytest.raises(GraphError, match="0 or 1"):
        validate_regular(ok * 2)
    with pytest.raises(GraphError, match="square"):
        validate_regular(np.zeros((3, 4)))


@pytest.mark.parametrize(
    "n,ratio,k",
    [
        (64, 0.9, 6),
        (64, 0.875, 8),
        (64, 0.75, 16),
        (64, 0.9375, 4),
        (64, 0.90625, 6),
        (64, 0.0, 63),
        (64, 1.0, 2),
        (63, 0.9, 6),
        (63, 0.92, 6),
        (16, 0.75, 4),
        (3, 0.5, 2),
        (5, 0.5, 2),
        (7, 0.3, 4),  # target 4.9: 4 is nearer than 6 (rounding to 5 first used to give 6)
        (9, 0.0, 8),
    ],
)
def test_feasible_degree(n, ratio, k):
    got = feasible_degree(n, ratio)
    assert got == k
    check_feasible(n, got)


def test_feasible_degree_tie_goes_up():
    # n = 63 needs even k; target 5 (63 * 0.92 -> round(5.04) = 5) is equidistant from 4 and 6 -> 6
    assert feasible_degree(63, 1 - 5 / 63) == 6
    # the unrounded target decides: n = 20, ratio 0.875 keeps 2.5 -> tie between 2 and 3 -> 3 (not round(2.5) = 2)
    assert feasible_degree(20, 0.875) == 3
    assert feasible_degree(65, 1 - 5 / 65) == 6  # odd n: 4 and 6 are equally near 5 -> 6


def test_feasible_degree_is_nearest_to_the_unrounded_target():
    # n = 65 needs even k; keeping 4.6 is nearer 4 (0.6) than 6 (1.4); rounding first (5) used to give 6
    assert feasible_degree(65, 1 - 4.6 / 65) == 4
    assert feasible_degree(65, 1 - 5.4 / 65) == 6
    assert feasible_degree(21, 1 - 3.4 / 21) == 4 and feasible_degree(21, 1 - 2.6 / 21) == 2


@pytest.mark.parametrize("n,ratio", [(2, 0.5), (1, 0.0), (64, 1.5), (64, -0.1), (64, "x")])
def test_feasible_degree_errors(n, ratio):
    with pytest.raises(GraphError):
        feasible_degree(n, ratio)


# --- exact ASPL -----------------------------------------------------------------------------------------------


def test_aspl_matches_networkx_on_many_random_graphs():
    rng = np.random.default_rng(0)
    checked = 0
    for trial in range(120):
        n = int(rng.integers(2, 150))
        if trial % 3 == 0:  # random regular
            k = int(rng.integers(2, min(n, 12))) if n > 3 else 2
            if n < 3 or (n * k) % 2:
                continue
            g = nx.random_regular_graph(k, n, seed=trial)
        elif trial % 3 == 1:  # Erdős–Rényi, often disconnected
            g = nx.gnp_random_graph(n, float(rng.uniform(0.01, 0.3)), seed=trial)
        else:  # sparse trees / paths: long diameters
            g = nx.random_labeled_tree(n, seed=trial) if n > 1 else nx.empty_graph(1)
        adj = nx.to_numpy_array(g, nodelist=range(n), dtype=np.uint8)
        stats = path_stats(adj)
        assert stats.connected == nx.is_connected(g)
        if stats.connected:
            assert stats.aspl == pytest.approx(nx.average_shortest_path_length(g), rel=1e-12)
            assert stats.diameter == nx.diameter(g)
            assert aspl(adj) == pytest.approx(nx.average_shortest_path_length(g), rel=1e-12)
        else:
            assert stats.aspl == float("inf") and stats.diameter == -1
            with pytest.raises(GraphError, match="disconnected"):
                aspl(adj)
        checked += 1
    assert checked > 80


@pytest.mark.parametrize("n", [63, 64, 65, 127, 128, 129, 200])
def test_aspl_word_boundaries(n):
    g = nx.cycle_graph(n)
    adj = nx.to_numpy_array(g, dtype=np.uint8)
    assert aspl(adj) == pytest.approx(nx.average_shortest_path_length(g))
    adj2 = adj.copy()
    adj2[0, 1] = adj2[1, 0] = adj2[n // 2, n // 2 + 1] = adj2[n // 2 + 1, n // 2] = 0
    assert not path_stats(adj2).connected


def test_aspl_single_node_and_isolated():
    assert aspl(np.zeros((1, 1))) == 0.0
    assert not path_stats(np.zeros((3, 3))).connected


# --- lower bound, metrics ------------------------------------------------------------------------------------


def test_lower_bound_known_values():
    assert aspl_lower_bound(16, 4) == pytest.approx(1.73333, abs=1e-5)
    assert aspl_lower_bound(64, 8) == pytest.approx(1.8730, abs=1e-4)
    assert aspl_lower_bound(256, 8) == pytest.approx(2.7176, abs=1e-4)
    assert aspl_lower_bound(64, 4) == pytest.approx(2.857, abs=1e-3)
    assert aspl_lower_bound(64, 16) == pytest.approx(1.746, abs=1e-3)
    assert aspl_lower_bound(10, 3) == pytest.approx(aspl(nx.to_numpy_array(nx.petersen_graph())))
    assert diameter_lower_bound(64, 8) == 2 and diameter_lower_bound(256, 8) == 3
    assert aspl_lower_bound(9, 8) == 1.0
    assert gap(2.0, 1.6) == pytest.approx(0.25)


def test_lower_bound_holds_and_cycle_is_tight():
    for n, k, seed in [(30, 3, 0), (64, 6, 1), (100, 4, 2)]:
        assert aspl(random_regular(n, k, seed)) >= aspl_lower_bound(n, k)
    for n in (9, 10):
        assert aspl(ring_lattice(n, 2)) == pytest.approx(aspl_lower_bound(n, 2))


def test_graph_metrics_against_networkx():
    adj = random_regular(40, 5, seed=2)
    g = _nx(adj)
    m = graph_metrics(adj)
    assert m["nodes"] == 40 and m["degree"] == 5 and m["connected"]
    assert m["aspl"] == pytest.approx(nx.average_shortest_path_length(g))
    assert m["diameter"] == nx.diameter(g)
    assert m["clustering"] == pytest.approx(nx.average_clustering(g))
    assert m["algebraic_connectivity"] == pytest.approx(sorted(nx.laplacian_spectrum(g))[1], rel=1e-9)
    assert m["spectral_gap"] == pytest.approx(m["algebraic_connectivity"])
    assert m["gap"] == pytest.approx((m["aspl"] - m["lower_bound"]) / m["lower_bound"])
    assert average_clustering(ring_lattice(64, 4)) == pytest.approx(0.5)
    assert spectral_gaps(np.ones((5, 5)) - np.eye(5))[1] == pytest.approx(5.0)


def test_graph_metrics_without_a_connected_bound():
    # max degree 1 on 4 nodes (a perfect matching): no connected graph exists, so no finite bound, no error
    m = graph_metrics(from_edges(4, np.array([[0, 1], [2, 3]])))
    assert (m["degree"], m["connected"], m["aspl"], m["diameter"]) == (1, False, math.inf, -1)
    assert m["lower_bound"] == math.inf and math.isnan(m["gap"]) and m["diameter_lower_bound"] == -1
    empty = graph_metrics(np.zeros((3, 3), dtype=np.uint8))  # max degree 0
    assert empty["lower_bound"] == math.inf and math.isnan(empty["gap"]) and empty["diameter_lower_bound"] == -1
    k2 = graph_metrics(from_edges(2, np.array([[0, 1]])))  # a single edge is connected: the bound still applies
    assert (k2["aspl"], k2["lower_bound"], k2["gap"], k2["diameter_lower_bound"]) == (1.0, 1.0, 0.0, 1)
    single = graph_metrics(np.zeros((1, 1), dtype=np.uint8))
    assert (single["lower_bound"], single["gap"], single["diameter_lower_bound"]) == (0.0, 0.0, 0)


# --- masks ---------------------------------------------------------------------------------------------------


def test_split_sizes():
    assert split_sizes(64, 64).tolist() == [1] * 64
    assert split_sizes(10, 4).tolist() == [3, 3, 2, 2]
    assert split_sizes(130, 64).sum() == 130
    with pytest.raises(GraphError, match="exceeds channels"):
        split_sizes(16, 64)
    with pytest.raises(GraphError):
        split_sizes(16, 0)


def test_block_mask_shape_and_content():
    adj = ring_lattice(8, 2)
    m = block_mask(adj, 16, 24, (3, 3))
    assert m.shape == (16, 24, 3, 3) and m.dtype == bool
    so, si = split_sizes(16, 8), split_sizes(24, 8)
    out_group = np.repeat(np.arange(8), so)
    in_group = np.repeat(np.arange(8), si)
    expect = adj[out_group][:, in_group].astype(bool)
    assert np.array_equal(m[..., 0, 0], expect) and np.array_equal(m[..., 2, 1], expect)
    assert m[..., 0, 0].mean() == pytest.approx(2 / 8)
    loops = block_mask(adj, 16, 24, self_loops=True)
    assert loops.shape == (16, 24)
    assert np.array_equal(loops, expect | (out_group[:, None] == in_group[None, :]))
    assert loops.mean() == pytest.approx(3 / 8)
    assert block_mask(adj, 8, 8, 3).shape == (8, 8, 3, 3)
    uneven = block_mask(random_regular(8, 3, 0), 10, 9, (1,))
    assert uneven.shape == (10, 9, 1)


def test_block_mask_errors():
    adj = ring_lattice(8, 2)
    with pytest.raises(GraphError, match="exceeds channels"):
        block_mask(adj, 4, 16)
    with pytest.raises(GraphError, match="exceeds channels"):
        block_mask(adj, 16, 7)
    with pytest.raises(GraphError, match="square"):
        block_mask(np.ones((3, 4)), 8, 8)
    with pytest.raises(GraphError, match="kernel_size"):
        block_mask(adj, 8, 8, (3, 0))
