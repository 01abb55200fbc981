"""Pruning-at-initialisation baselines (SNIP, GraSP, SynFlow, ERK/ER) and the RGP graph ablations.

Scores are checked against independent computations (autograd through a mask, an explicit Hessian, SynFlow's
closed form on a linear network), densities against their formulas, and every method on a run whose test split
raises when touched.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from benchmarks.collapse import measure
from tests.conftest import make_cfg, poisoned_bench, read_results, run_cli
from tests.test_presets import sweep_values
from torch import nn
from torch.func import functional_call

from rgp_bench.config.choices import Scope
from rgp_bench.graphs import path_stats, ring_lattice
from rgp_bench.methods import METHODS, MaskContext, get_method
from rgp_bench.methods.base import check_result
from rgp_bench.methods.block_random import erdos_renyi_graph
from rgp_bench.methods.grasp import class_balanced_sample
from rgp_bench.methods.synflow import linearised, synflow_scores
from rgp_bench.pruning import mask_sparsity
from rgp_bench.pruning.densities import erdos_renyi_densities, erdos_renyi_weight, exact_counts
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_top
from rgp_bench.run.pipeline import mask_context

NEW = ("snip", "grasp", "synflow", "erk", "er", "block_random")
SMALL = ("dataset=digits", "model.width=64", "model.depth=3", "train.batch_size=32")
RATIO = 0.75  # k = 16 of n = 64 for block_random


pytestmark = pytest.mark.usefixtures("one_thread")



@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    """A built run (digits, MLP 64 -> 3 x 64 -> 10; two 64x64 prunable layers) whose test split is poisoned."""
    return poisoned_bench(*SMALL, f"cache_dir={tmp_path_factory.mktemp('cache')}")


def _run(poisoned, name: str, *extra: str, seed: int = 0, ratio: float = RATIO):
    base, hw, bench = poisoned
    cfg = make_cfg(*SMALL, f"method={name}", f"ratio={ratio}", f"seed={seed}", f"cache_dir={base.cache_dir}", *extra)
    method = get_method(name)
    return method.compute_masks(cfg.method, bench.layers, cfg.ratio, mask_context(method, cfg, bench, hw)), bench


@pytest.mark.parametrize("name", NEW)
def test_exact_sparsity_determinism_and_training_data_only(poisoned, name: str) -> None:
    result, bench = _run(poisoned, name)
    check_result(result, bench.layers, name)
    total = sum(m.numel() for m in result.masks.values())
    assert sum(int(m.sum()) for m in result.masks.values()) == total - round(RATIO * total)  # exact count
    again, _ = _run(poisoned, name)
    assert all(torch.equal(result.masks[k], again.masks[k]) for k in result.masks)
    if name != "synflow":  # data-free and draw-free: the mask depends on the model only
        other, _ = _run(poisoned, name, seed=1)
        assert any(not torch.equal(result.masks[k], other.masks[k]) for k in result.masks)


@pytest.mark.parametrize("name", ["snip", "grasp", "synflow", "magnitude"])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_scored_methods_masks_are_keep_top_of_their_scores(poisoned, name: str, scope: str) -> None:
    extra = ["method.iterations=10"] if name == "synflow" else []
    result, _ = _run(poisoned, name, f"method.scope={scope}", *extra)
    assert METHODS[name].scored and set(result.scores) == set(result.masks)
    names = list(result.masks)
    again = keep_top([result.scores[n] for n in names], RATIO, Scope[scope])
    assert all(torch.equal(result.masks[n], m) for n, m in zip(names, again, strict=True))
    if scope == "layer":
        for n in names:
            assert int(result.masks[n].sum()) == result.masks[n].numel() - round(RATIO * result.masks[n].numel())


# --- scores against independent computations, on a tiny network ------------------------------------------------


def _tiny():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    layers = [PrunableLayer(name, model.get_submodule(name), i) for i, name in enumerate(("0", "2", "4"))]
    batches = [(torch.randn(8, 5, dtype=torch.float64), torch.randint(0, 3, (8,))) for _ in range(2)]
    ctx = MaskContext(seed=0, model=copy.deepcopy(model), example=batches[0][0][:1], num_classes=3,
                      train_batches=lambda count=None: iter(batches[:count]))
    return model, layers, batches, ctx


def _loss(model, params, batches, temperature=1.0):
    return sum(nn.functional.cross_entropy(functional_call(model, params, (x,)) / temperature, y) for x, y in batches)


def test_snip_scores_equal_the_mask_gradient():
    model, layers, batches, ctx = _tiny()
    cfg = make_cfg("method=snip", "method.batches=2").method
    result = get_method("snip").compute_masks(cfg, layers, 0.5, ctx)
    # SNIP's definition: |dL/dc| of a multiplicative mask c at c = 1.
    weights = {f"{layer.name}.weight": layer.module.weight.detach() for layer in layers}
    gates = {k: torch.ones_like(w, requires_grad=True) for k, w in weights.items()}
    params = {**dict(model.named_parameters()), **{k: weights[k] * gates[k] for k in weights}}
    grads = torch.autograd.grad(_loss(model, params, batches), list(gates.values()))
    for layer, g in zip(layers, grads, strict=True):
        torch.testing.assert_close(result.scores[layer.name], g.abs(), rtol=1e-10, atol=1e-14)


def test_grasp_scores_equal_theta_times_hessian_gradient_and_remove_the_largest_s():
    model, layers, batches, ctx = _tiny()
    cfg = make_cfg("method=grasp", "method.samples_per_class=2").method
    x, y = class_balanced_sample(iter(batches), 3, 2)  # the data GraSP scores on: two halves of this sample
    halves = [(x[:3], y[:3]), (x[3:], y[3:])]
    ratio = 0.5
    result = get_method("grasp").compute_masks(cfg, layers, ratio, ctx)
    keys = [f"{layer.name}.weight" for layer in layers]
    shapes = [layer.weight_shape for layer in layers]
    theta = torch.cat([layer.module.weight.detach().reshape(-1) for layer in layers])
    others = {k: v.detach() for k, v in model.named_parameters() if k not in keys}

    def loss(flat):
        chunks = torch.split(flat, [math.prod(s) for s in shapes])
        params = {**others, **{k: c.view(s) for k, c, s in zip(keys, chunks, shapes, strict=True)}}
        return _loss(model, params, halves, cfg.temperature)

    g = torch.autograd.functional.jacobian(loss, theta)
    hessian = torch.autograd.functional.hessian(loss, theta)
    expected = theta * (hessian @ g)
    got = torch.cat([result.scores[layer.name].reshape(-1) for layer in layers])
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-18)
    # Wang et al.: S = -theta * Hg, and the weights with the largest S are removed.
    s = -expected
    kept = torch.cat([result.masks[layer.name].reshape(-1) for layer in layers])
    assert int((~kept).sum()) == round(ratio * theta.numel())
    assert s[~kept].min() >= s[kept].max()


def _two_layer_linear():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5, bias=False), nn.Linear(5, 4, bias=False))
    layers = [PrunableLayer(name, model.get_submodule(name), i) for i, name in enumerate(("0", "1"))]
    return model, layers


def _closed_form(w1: torch.Tensor, w2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """R = 1ᵀ|W2||W1|1: ∂R/∂|W1|_ij = Σ_k |W2|_ki, ∂R/∂|W2|_ki = Σ_j |W1|_ij; score = |w| ⊙ ∂R/∂|w|."""
    a1, a2 = w1.abs().double(), w2.abs().double()
    return a1 * a2.sum(0)[:, None], a2 * a1.sum(1)[None, :]


def test_synflow_scores_match_the_closed_form_of_a_two_layer_linear_network():
    model, _ = _two_layer_linear()
    scores = synflow_scores(linearised(model), ["0", "1"], torch.randn(1, 6))
    s1, s2 = _closed_form(model[0].weight.detach(), model[1].weight.detach())
    torch.testing.assert_close(scores["0"], s1, rtol=1e-12, atol=0)
    torch.testing.assert_close(scores["1"], s2, rtol=1e-12, atol=0)
    assert scores["0"].dtype == torch.float64
    # Conservation (Tanaka et al., Theorem 1): every layer's scores sum to R = 1ᵀ|W2||W1|1.
    flow = (model[1].weight.double().abs() @ model[0].weight.double().abs()).sum()
    for name in ("0", "1"):
        assert scores[name].sum().item() == pytest.approx(flow.item(), rel=1e-12)


def test_synflow_iterates_the_closed_form_on_an_exponential_schedule():
    model, layers = _two_layer_linear()
    ratio, rounds = 0.8, 3
    cfg = make_cfg("method=synflow", f"method.iterations={rounds}").method
    result = get_method("synflow").compute_masks(
        cfg, layers, ratio, MaskContext(seed=0, model=copy.deepcopy(model), example=torch.randn(1, 6)))
    w1, w2 = model[0].weight.detach().double(), model[1].weight.detach().double()
    m1, m2 = torch.ones_like(w1, dtype=torch.bool), torch.ones_like(w2, dtype=torch.bool)
    total = w1.numel() + w2.numel()
    for t in range(1, rounds + 1):  # the reference loop, by closed form
        s1, s2 = _closed_form(w1 * m1, w2 * m2)
        flat = torch.cat([s1.reshape(-1), s2.reshape(-1)])
        alive = torch.cat([m1.reshape(-1), m2.reshape(-1)])
        drop = round((1 - (1 - ratio) ** (t / rounds)) * total) - int((~alive).sum())
        order = torch.argsort(torch.where(alive, flat, torch.tensor(math.inf, dtype=torch.float64)))
        alive[order[:drop]] = False
        m1, m2 = alive[: w1.numel()].view_as(w1), alive[w1.numel():].view_as(w2)
    assert torch.equal(result.masks["0"], m1) and torch.equal(result.masks["1"], m2)
    assert mask_sparsity(result.masks) == pytest.approx(round(ratio * total) / total, abs=1e-12)


def test_synflow_round_removals_follow_the_reference_rule_and_never_pass_the_final_count():
    from rgp_bench.methods.synflow import round_removals

    scores = torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    alive = torch.tensor([False, True, True, True, True, True, True, True])
    # Before the last round: k = int((1 - d) n) = 4; every survivor scoring <= the 4th smallest (0.5) goes, ties too.
    assert round_removals(scores, alive, 0.5, final=6).tolist() == [1, 2, 3]
    # ... unless that would pass the final count: then the lowest of them.
    assert round_removals(scores, alive, 0.5, final=2).tolist() == [1]
    assert round_removals(scores, alive, 0.95, final=6).tolist() == []  # k = int(0.4) < 1
    # The last round (density None): exactly `final` pruned in all, lowest survivors first.
    assert sorted(round_removals(scores, alive, None, final=5).tolist()) == [1, 2, 3, 4]


def test_synflow_never_collapses_the_default_mlp():
    """Tanaka et al.: at densities down to 10^-3.5 SynFlow keeps an input-output path (the benchmark's row)."""
    cells = measure(methods=[("synflow", "synflow", ())])
    assert [c.density for c in cells] == pytest.approx([1e-1, 1e-2, 1e-3, 10**-3.5])
    for cell in cells:
        assert not cell.collapse.collapsed, (cell.density, cell.collapse)
        assert len(cell.collapse.kept_fraction) == 3  # the three 512x512 hidden layers


# --- ERK / ER ---------------------------------------------------------------------------------------------------


def test_erk_densities_follow_the_formula_with_iterative_capping():
    shapes = [(4, 4, 1, 1), (16, 8, 3, 3), (64, 16, 3, 3), (128, 64, 3, 3), (10, 128)]
    density = 0.05
    d, eps = erdos_renyi_densities(shapes, density, kernel=True)
    sizes = [math.prod(s) for s in shapes]
    raw = [sum(s) / math.prod(s) for s in shapes]
    # Round 1 caps the 1x1 conv (the largest raw weight); the linear layer fits (0.996) until that cap raises ε.
    assert [x == 1.0 for x in d] == [True, False, False, False, True]
    eps_round1 = density * sum(sizes) / sum(r * n for r, n in zip(raw, sizes, strict=True))
    eps_round2 = (density * sum(sizes) - sizes[0]) / sum(r * n for r, n in zip(raw[1:], sizes[1:], strict=True))
    assert eps_round1 * raw[0] > 1.0 >= eps_round1 * raw[4] and eps_round2 * raw[4] > 1.0
    for i in (1, 2, 3):
        assert d[i] == pytest.approx(eps * raw[i], rel=1e-12) and d[i] < 1.0
    assert sum(x * n for x, n in zip(d, sizes, strict=True)) == pytest.approx(density * sum(sizes), rel=1e-12)
    # ER drops the kernel: (out + in) / (out * in).
    assert erdos_renyi_weight((64, 16, 3, 3), kernel=False) == pytest.approx(80 / 1024)
    er, _ = erdos_renyi_densities(shapes, density, kernel=False)
    assert er[3] / er[2] == pytest.approx((192 / 8192) / (80 / 1024))


def test_exact_counts_sum_to_the_total_and_stay_within_one():
    targets, sizes = [10.4, 0.6, 7.5, 3.5], [20, 1, 10, 4]
    counts = exact_counts(targets, sizes, 22)
    assert sum(counts) == 22 and all(abs(c - t) < 1 for c, t in zip(counts, targets, strict=True))
    assert counts == [10, 1, 8, 3]  # largest remainders first (0.6, then 0.5 tied: the earlier layer)
    assert exact_counts([1.0, 1.0], [1, 1], 2) == [1, 1]


@pytest.mark.parametrize("name", ["erk", "er"])
def test_erk_and_er_masks_realise_their_densities_exactly(name: str):
    cfg = make_cfg("model=resnet20", f"method={name}")
    from rgp_bench.models import build_model
    from rgp_bench.pruning import find_prunable_layers

    torch.manual_seed(0)
    model = build_model(cfg.model, 3, 32, 10)
    layers = find_prunable_layers(model, torch.randn(1, 3, 32, 32), cfg.layers)
    ratio = 0.95
    result = get_method(name).compute_masks(cfg.method, layers, ratio, MaskContext(seed=0))
    sizes = [layer.module.weight.numel() for layer in layers]
    keep = sum(sizes) - round(ratio * sum(sizes))
    d, _ = erdos_renyi_densities([layer.weight_shape for layer in layers], keep / sum(sizes), kernel=name == "erk")
    kept = [int(result.masks[layer.name].sum()) for layer in layers]
    assert sum(kept) == keep
    assert all(abs(k - x * n) < 1 for k, x, n in zip(kept, d, sizes, strict=True))
    assert result.info["densities"] == {layer.name: k / n for layer, k, n in zip(layers, kept, sizes, strict=True)}


# --- RGP ablations ----------------------------------------------------------------------------------------------


def test_block_random_keeps_rgps_nodes_degree_and_edge_count_but_not_regularity(poisoned):
    rgp, bench = _run(poisoned, "rgp")
    for seed in range(3):
        ablation, _ = _run(poisoned, "block_random", seed=seed)
        info = ablation.info
        assert (info["nodes"], info["degree"], info["nominal_ratio"]) == (rgp.info["nodes"], rgp.info["degree"],
                                                                         rgp.info["nominal_ratio"])
        assert info["edges"] == info["nodes"] * info["degree"] // 2 == 64 * 16 // 2
        assert not info["regular"] and info["degree_min"] < info["degree"] < info["degree_max"]
        for layer in bench.layers:  # a 64x64 layer with 64 nodes: the mask is the adjacency itself
            adjacency = ablation.masks[layer.name].int()
            assert torch.equal(adjacency, adjacency.T) and int(adjacency.diagonal().sum()) == 0
            assert int(adjacency.sum()) == 2 * info["edges"]
        assert mask_sparsity(ablation.masks) == mask_sparsity(rgp.masks) == RATIO


def test_erdos_renyi_graph_is_seeded_simple_and_has_m_edges():
    a = erdos_renyi_graph(64, 128, seed=3)
    assert (a == a.T).all() and a.diagonal().sum() == 0 and a.sum() == 256
    assert (a == erdos_renyi_graph(64, 128, seed=3)).all() and not (a == erdos_renyi_graph(64, 128, seed=4)).all()


@pytest.mark.parametrize(("preset", "start", "strategy", "permuted"), [
    ("rgp_random_regular", "random", "none", False),
    ("rgp_ring", "ring", "none", False),
    ("rgp_permuted", "random", "anneal", True),
])
def test_rgp_ablation_presets_are_rgp_with_only_the_graph_changed(poisoned, tmp_path, preset, start, strategy,
                                                                   permuted):
    cfg = make_cfg(f"method={preset}")
    default = make_cfg("method=rgp")
    assert cfg.method.name == "rgp"
    changed = {k for k in default.method if cfg.method[k] != default.method[k]}
    assert changed == {k for k, v in (("start", start), ("strategy", strategy), ("permute_layers", permuted))
                       if default.method[k] != v}
    layers = poisoned[2].layers
    result = get_method("rgp").compute_masks(cfg.method, layers, RATIO, MaskContext(seed=0, cache_dir=tmp_path))
    assert (result.info["start"], result.info["strategy"]) == (start, strategy)
    if preset == "rgp_ring":
        assert result.info["aspl"] == pytest.approx(path_stats(ring_lattice(64, 16)).aspl)
    block = result.masks[layers[0].name].int()
    assert torch.equal(block, block.T) != permuted  # the identity node map gives the symmetric adjacency


def test_rgp_ablations_preset_sweeps_five_variants_and_dense_over_three_seeds():
    sweep = sweep_values("rgp_ablations")
    assert sweep == {"method": ["rgp", "rgp_random_regular", "rgp_ring", "rgp_permuted", "block_random", "dense"],
                     "seed": [0, 1, 2]}
    from tests.test_presets import compose_with_hydra

    reference = compose_with_hydra("experiment=rgp_ablations").hydra.callbacks.sweep_report.reference
    assert list(reference) == ["rgp", "dense"]
    cells = {(m, s): make_cfg("experiment=rgp_ablations", f"method={m}", f"seed={s}")
             for m in sweep["method"] for s in sweep["seed"]}
    assert len(cells) == 18
    assert {c.ratio for c in cells.values()} == {0.9375} and {c.model.name for c in cells.values()} == {"mlp"}
    assert {c.method.name for c in cells.values()} == {"rgp", "block_random", "dense"}


@pytest.mark.slow
def test_rgp_ring_preset_runs_through_the_cli(tmp_path):
    proc = run_cli(["method=rgp_ring", "train.epochs=1", "train.limit_batches=1", "hardware=cpu"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = read_results(tmp_path / "run")
    assert record["method"] == "rgp" and record["method_info"]["start"] == "ring"
    assert record["config"]["method"]["strategy"] == "none"


def test_grasp_sample_larger_than_a_class_is_a_one_line_error(tmp_path):
    """GraSP's class-balanced sample needs `samples_per_class` training samples of every class (digits: ~110)."""
    proc = run_cli(["method=grasp", "method.samples_per_class=1000", "hardware=cpu"], tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert "method.samples_per_class=1000" in line and "valid: an integer in [1, " in line
    assert "Traceback" not in proc.stderr
