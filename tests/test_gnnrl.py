"""GNN-RL's parts: the network graph of every zoo model, its states and their batching, the exact channel counts,
the policy rescale, shared actions, the MAC budget on the masks, determinism and one-line errors.

Searches here use a cheap deterministic stand-in for the validation reward (a function of the masked weights);
tests/test_gnnrl_search.py runs them on real validation accuracy.
"""

from __future__ import annotations

import copy
import functools
import subprocess
import sys

import pytest
import torch
from tests.conftest import make_cfg
from torch import nn

from rgp_bench.config import conf_dir
from rgp_bench.core.errors import UserError
from rgp_bench.core.layer_types import WEIGHT_LAYERS
from rgp_bench.gnnrl.counts import PolicyCounts
from rgp_bench.gnnrl.env import ChannelEnv, share_actions
from rgp_bench.gnnrl.features import MOTIF_ROLES, StateBuilder, collate, motif_graph
from rgp_bench.gnnrl.graph import OP_KINDS, build_network_graph
from rgp_bench.measure import measure_costs
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.models import MODELS, build_model
from rgp_bench.pruning import apply_channel_gates, apply_masks, apply_param_masks, find_prunable_layers
from rgp_bench.pruning.channels import ChannelMacs, find_channel_groups, keep_for_policy, reachable_reduction
from rgp_bench.pruning.channels.problem import ChannelProblem
from rgp_bench.pruning.layers import execution_order
from rgp_bench.run.preflight import preflight

torch.set_num_threads(1)  # many small models: threads only add synchronisation here


@functools.cache
def _built(name: str) -> tuple[nn.Module, torch.Tensor, tuple[str, ...]]:
    """A small zoo model (seeded), an example input and its prunable layer names."""
    cfg = make_cfg(f"model={name}", "model.width=64", "model.depth=3")
    torch.manual_seed(0)
    if name == "cnn1d":
        model, example = build_model(cfg.model, 1, 40, 10, spatial_dims=1), torch.randn(1, 1, 40)
    elif name == "mlp":  # digits-sized, so the hidden layers hold most of the MACs
        model, example = build_model(cfg.model, 1, 8, 10), torch.randn(1, 1, 8, 8)
    else:
        model, example = build_model(cfg.model, 3, 32, 10), torch.randn(1, 3, 32, 32)
    layers = find_prunable_layers(model, example, cfg.layers, channels=True)
    return model.eval(), example, tuple(layer.name for layer in layers)


@functools.cache
def _problem(name: str) -> ChannelProblem:
    model, example, prunable = _built(name)
    groups = tuple(find_channel_groups(model, example, prunable))
    return ChannelProblem(model, groups, ChannelMacs.measure(model, example, groups))


def pseudo_reward(model: nn.Module) -> float:
    """A deterministic stand-in for validation top-1 that depends on the masks (in [0, 100))."""
    return float(sum(p.detach().abs().sum() for p in model.parameters())) % 100.0


def _env(name: str, ratio: float = 0.5, lower: float = 0.1) -> ChannelEnv:
    return ChannelEnv(_problem(name), ratio, lower, pseudo_reward, "gnnrl")


def _layers(name: str, model: nn.Module):
    _, example, _ = _built(name)
    return find_prunable_layers(model, example, make_cfg(f"model={name}").layers, channels=True)


def _search(method: str, name: str, ratio: float, *overrides: str, seed: int = 0, **context):
    """Run `method` on a fresh copy of the small model `name`, with the pseudo reward unless given one."""
    model, example, _ = _built(name)
    model = copy.deepcopy(model)
    cfg = make_cfg(f"method={method}", *overrides).method
    ctx = MaskContext(seed=seed, model=copy.deepcopy(model), example=example,
                      evaluate=context.pop("evaluate", pseudo_reward), **context)
    layers = _layers(name, model)
    return get_method(method).compute_masks(cfg, layers, ratio, ctx), model, layers


# --- the network as a graph ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_network_graph_of_every_zoo_model(name: str) -> None:
    model, example, _ = _built(name)
    problem = _problem(name)
    graph = build_network_graph(model, example, problem.groups)
    weight_layers = [n for n, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]
    # One motif per conv/linear layer of the model, in the order forward runs them.
    assert sorted(graph.layers) == sorted(weight_layers) and graph.num_layers == len(weight_layers)
    assert list(graph.layers) == execution_order(model, example)
    layer_edges = graph.edge_layer[graph.edge_layer >= 0]
    assert sorted(layer_edges.tolist()) == list(range(graph.num_layers))  # one level-2 edge per layer
    # Data flow: every tensor but the input is written by an operation; residual adds read two tensors.
    targets = graph.edge_index[1]
    inputs = (graph.node_roles == 0).nonzero().flatten().tolist()
    assert set(range(graph.num_nodes)) - set(targets.tolist()) == set(inputs) and len(inputs) == 1
    add = OP_KINDS.index("add")
    adds = targets[graph.edge_op == add]
    assert all(int((adds == v).sum()) == 2 for v in adds.unique())
    residual = sum(1 for n in model.modules() if type(n).__name__ in ("BasicBlock", "Bottleneck"))
    residual += sum(1 for n in model.modules() if type(n).__name__ == "InvertedResidual" and n.use_res_connect)
    assert adds.unique().numel() == residual
    shortcuts = int((graph.edge_op == OP_KINDS.index("shortcut")).sum())
    assert shortcuts == sum(type(m).__name__ == "PadShortcut" for m in model.modules())
    # The dense state: 4 quotient nodes per motif, kept fraction 1 everywhere, finite features.
    counts = PolicyCounts(problem.groups, problem.macs, share_actions(problem.groups))
    state = StateBuilder(graph, counts)(counts.channels, 0.5, 0.0)
    assert state.motif_x.shape[:2] == (graph.num_layers, MOTIF_ROLES) and state.net_x.shape[0] == graph.num_nodes
    assert torch.isfinite(state.motif_x).all() and torch.isfinite(state.net_x).all()
    assert torch.allclose(state.net_x[:, 3], torch.ones(graph.num_nodes))


def test_graph_state_follows_the_current_channel_counts() -> None:
    env = _env("resnet20")
    graph = build_network_graph(env.problem.model, _built("resnet20")[1], env.problem.groups)
    builder = StateBuilder(graph, env.counts)
    dense = builder(env.counts.channels, 0.5, 0.0)
    preserve = torch.ones(env.actions)
    preserve[1] = 0.25  # the first block group (conv1 of the first block) keeps 4 of 16 channels
    pruned = builder(env.counts.group_counts(preserve), 0.5, 0.2)
    group = env.action_groups[1][0]
    reader = next(m.module for g in env.problem.groups if g.id == group for m in g.with_role("consumer"))
    layer = graph.layers.index(reader)
    assert dense.motif_width[layer] == 16 and pruned.motif_width[layer] == 4
    written = [v for v, g in enumerate(graph.node_group) if g == group]
    assert written and all(float(pruned.net_x[v, 3]) == 0.25 for v in written)
    assert float(pruned.net_x[0, -3]) < float(dense.net_x[0, -3])  # current MACs / dense
    assert float(pruned.net_x[0, -1]) == pytest.approx(0.2)  # step / max_steps


def test_the_closed_form_motif_gcn_is_pyg_gcn_on_the_full_motif() -> None:
    from rgp_bench.gnnrl.encoder import MotifEncoder

    torch.manual_seed(0)
    encoder = MotifEncoder(in_features=6).eval()
    role_features = torch.randn(MOTIF_ROLES, 6)
    widths = (1, 7, 300)
    with torch.no_grad():
        closed = encoder(role_features.expand(len(widths), -1, -1), torch.tensor(widths, dtype=torch.float32))
        for row, n in enumerate(widths):
            roles, edges = motif_graph(n)
            h = torch.tanh(encoder.conv(role_features[roles], edges))  # torch_geometric's GCNConv, 2n + 2 nodes
            full = torch.tanh(encoder.out(h.mean(0)))
            assert roles.numel() == 2 * n + 2 and edges.shape[1] == 3 * n
            assert torch.allclose(full, closed[row], atol=1e-5), n


def test_network_message_passing_is_the_authors_layer_in_torch_geometric() -> None:
    """The precomputed level-2 pass equals the authors' multi_stage_conv as a PyG MessagePassing layer: self-loops
    with feature 1, norm deg^-1/2 deg^-1/2 on in-degrees, message norm * W(x_j * e_ij), sum aggregation."""
    from torch_geometric.nn import MessagePassing
    from torch_geometric.utils import add_self_loops, degree

    from rgp_bench.gnnrl.encoder import EdgeFeatureConv

    class AuthorsConv(MessagePassing):
        def __init__(self, lin: nn.Linear) -> None:
            super().__init__(aggr="add")
            self.lin = lin

        def forward(self, x, edge_index, edge_attr):
            edge_index, edge_attr = add_self_loops(edge_index, edge_attr, fill_value=1.0, num_nodes=x.size(0))
            deg = degree(edge_index[1], x.size(0), dtype=x.dtype)
            norm = deg.pow(-0.5)[edge_index[0]] * deg.pow(-0.5)[edge_index[1]]
            return self.propagate(edge_index, x=x, edge_attr=edge_attr, norm=norm)

        def message(self, x_j, edge_attr, norm):
            return norm[:, None] * self.lin(x_j * edge_attr)

    env = _env("resnet20")
    graph = build_network_graph(env.problem.model, _built("resnet20")[1], env.problem.groups)
    batch = collate([StateBuilder(graph, env.counts)(env.counts.channels, 0.5, 0.0)] * 2)
    torch.manual_seed(0)
    conv = EdgeFeatureConv()
    x = torch.randn(batch.net_x.shape[0], 20)
    edge_attr = torch.randn(batch.net_edge_op.numel(), 20)
    real = batch.net_source.numel() - x.shape[0]  # the edges before the self-loops
    edge_index = torch.stack([batch.net_source[:real], batch.net_target[:real]])
    with torch.no_grad():
        ours = conv(x, batch.net_source, batch.net_target, batch.net_norm, edge_attr)
        theirs = AuthorsConv(conv.lin)(x, edge_index, edge_attr)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_a_batch_of_states_gives_each_state_its_own_embedding() -> None:
    from rgp_bench.gnnrl.encoder import ActorCritic

    env = _env("resnet20")
    graph = build_network_graph(env.problem.model, _built("resnet20")[1], env.problem.groups)
    builder = StateBuilder(graph, env.counts)
    generator = torch.Generator().manual_seed(0)
    states = [builder(env.counts.group_counts(0.1 + 0.9 * torch.rand(env.actions, generator=generator)), 0.5, s / 5)
              for s in range(5)]
    torch.manual_seed(0)
    policy = ActorCritic(env.actions).eval()
    with torch.no_grad():
        batched = policy.actor_encoder(collate(states))
        single = torch.cat([policy.actor_encoder(collate([s])) for s in states])
        values = policy.value(collate(states))
    assert batched.shape == (5, 50) and values.shape == (5,)
    assert torch.allclose(batched, single, atol=1e-6)  # batching does not mix states (the authors' torch.cat bug)
    assert len({tuple(row.round(decimals=6).tolist()) for row in batched}) == 5


# --- channel counts, the policy rescale and shared actions ----------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "resnet20", "vgg16", "mobilenet_v2", "cnn1d"])
def test_policy_counts_equal_channel_macs_on_the_keep_sets(name: str) -> None:
    env = _env(name, ratio=0.0)
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        preserve = 0.1 + 0.9 * torch.rand(env.actions, generator=generator)
        keep = env.keep(preserve)
        counts = env.counts.group_counts(preserve)
        assert counts.tolist() == [int(keep[gid].sum()) for gid in env.counts.group_ids]
        assert env.counts.macs(counts) == env.problem.macs.macs(keep)
        widths = env.problem.macs.layer_widths(keep)
        assert env.counts.layer_widths(counts).tolist() == [list(widths[n]) for n in env.counts.layer_names]


def _one_channel_macs(problem: ChannelProblem) -> int:
    """An upper bound on the MACs one channel of any prunable group costs (all its rows and columns, dense)."""
    dense = problem.macs.dense_layer_macs()
    modules = dict(problem.model.named_modules())
    return max(sum(dense[m.module] // modules[m.module].weight.shape[m.dim]
                   for m in g.with_role("producer", "consumer", "depthwise")) for g in problem.groups if g.prunable)


@pytest.mark.parametrize("direction", ["up", "down"])
def test_keep_for_policy_keeps_the_proportions_within_the_bounds(direction: str) -> None:
    problem = _problem("resnet20")
    env = _env("resnet20")
    policy = env.fractions(torch.linspace(0.9, 0.2, env.actions))
    ratio = 0.3 if direction == "up" else 0.8  # the policy itself removes about 0.54 of the MACs
    budget = keep_for_policy(problem.macs, env.scores, policy, ratio, lower=0.1)
    assert budget.macs == problem.macs.macs(budget.keep)
    assert 0 <= (budget.reduction - ratio) * problem.macs.total <= _one_channel_macs(problem)
    kept = {g.id: float(budget.keep[g.id].float().mean()) for g in problem.groups if g.prunable}
    scale = [kept[gid] / policy[gid] for gid in kept if 0.1 + 1 / 16 < kept[gid] < 1 - 1 / 16]
    assert (min(scale) > 1) if direction == "up" else (max(scale) < 1)
    sizes = {g.id: g.channels for g in problem.groups}
    assert max(scale) - min(scale) <= 2 * max(1 / (policy[g] * sizes[g]) for g in kept)  # one common factor
    assert all(kept[gid] >= 0.1 - 1 / sizes[gid] for gid in kept)
    with pytest.raises(UserError, match=r"not reachable .* keep fractions in \[0.1, 1\] reach reductions"):
        keep_for_policy(problem.macs, env.scores, policy, 0.99, lower=0.1)
    assert reachable_reduction(problem.macs, env.scores, policy, 0.1) == pytest.approx(env.reachable)


def test_residual_streams_share_one_action() -> None:
    problem = _problem("resnet20")
    env = _env("resnet20")
    residual = {g.id for g in problem.groups if g.prunable and g.kind == "residual"}
    # The authors' a0: the stem and every block's conv2, in all three stages (3 streams); one action per conv1.
    assert len(residual) == 3 and set(env.action_groups[0]) == residual and "conv1" in residual
    assert all(len(gids) == 1 for gids in env.action_groups[1:]) and env.actions == 1 + 9
    result, _, _ = _search("gnnrl", "resnet20", 0.5, "method.episodes=6")
    info = result.info
    assert info["shared_action_groups"] == list(env.action_groups[0])
    assert len({info["policy"][gid] for gid in residual}) == 1
    sizes = {g.id: g.channels for g in problem.groups}
    fractions = [info["keep_fraction"][gid] for gid in residual]
    assert max(fractions) - min(fractions) <= 1 / min(sizes[g] for g in residual)


@pytest.mark.parametrize("method", ["gnnrl", "random_search"])
def test_the_mac_budget_is_met_within_one_channel_on_the_masks(method: str) -> None:
    key = "episodes" if method == "gnnrl" else "evaluations"
    ratio = 0.45
    result, model, layers = _search(method, "resnet20", ratio, f"method.{key}=6")
    apply_masks(layers, result.masks)
    apply_param_masks(model, result.param_masks)
    apply_channel_gates(model, result.input_gates)
    _, example, prunable = _built("resnet20")
    dense = measure_costs(_built("resnet20")[0], example, set(prunable))
    pruned = measure_costs(model, example, set(prunable), dense_macs=dense.module_macs)
    achieved = 1 - pruned.total.macs_effective / dense.total.macs
    assert 0 <= (achieved - ratio) * dense.total.macs <= _one_channel_macs(_problem("resnet20"))
    assert result.info["mac_budget"]["achieved"] == pytest.approx(achieved, abs=1e-12)
    assert result.info["search"]["episodes"] == 6 and len(result.info["reward_curve"]) == 6


def test_the_same_seed_gives_the_same_masks_and_another_seed_another_search() -> None:
    runs = [_search("gnnrl", "mlp", 0.3, "method.episodes=25", seed=seed)[0] for seed in (0, 0, 1)]
    first, again, other = runs
    assert all(torch.equal(first.masks[k], again.masks[k]) for k in first.masks)
    assert all(torch.equal(first.param_masks[k], again.param_masks[k]) for k in first.param_masks)
    assert first.info["reward_curve"] == again.info["reward_curve"] and first.info["policy"] == again.info["policy"]
    assert first.info["reward_curve"] != other.info["reward_curve"]


# --- progress, logging and errors ------------------------------------------------------------------------------


def test_progress_lines_and_the_reward_curve_go_to_the_log(caplog) -> None:
    logged: list[dict] = []
    with caplog.at_level("INFO", logger="rgp_bench.gnnrl.search"):
        result, _, _ = _search("random_search", "mlp", 0.3, "method.evaluations=20", log=logged.append)
    lines = [r.getMessage() for r in caplog.records if "random_search evaluations" in r.getMessage()]
    assert len(lines) == 10 and lines[-1].startswith("random_search evaluations 20/20: best reward")
    episodes = len(result.info["reward_curve"])
    assert [row["random_search/episode"] for row in logged] == list(range(1, episodes + 1))
    assert [row["random_search/reward"] for row in logged] == pytest.approx(result.info["reward_curve"], abs=1e-4)
    assert logged[-1]["random_search/best_reward"] == result.info["best_reward"]
    assert logged[-1]["random_search/evaluations"] == 20
    search = result.info["search"]
    # The budget is 20 distinct keep sets: as many draws as it takes (each draw one step and one candidate).
    assert search["evaluations"] == 20 and search["candidates"] == search["episodes"] == search["env_steps"] == episodes
    assert search["seconds"] > 0 and search["budget"] == "20 evaluations"
    best = result.info["best_curve"]
    assert best[-1][1] == pytest.approx(result.info["best_reward"], abs=1e-4) and best[-1][0] <= 20
    assert [n for n, _ in best] == sorted({n for n, _ in best}) and [r for _, r in best] == sorted(r for _, r in best)


@pytest.mark.parametrize(("overrides", "message"), [
    (["method=gnnrl", "method.episodes=0"], "method.episodes=0 is invalid; valid choices: auto or an integer >= 1"),
    (["method=gnnrl", "method.episodes=-3"], "method.episodes=-3 is invalid"),
    (["method=random_search", "method.evaluations=0"], "method.evaluations=0 is invalid"),
    (["method=gnnrl", "method.lower_bound=0"], "method.lower_bound=0.0 is out of range; valid range: (0.0, 1.0]"),
    (["method=gnnrl", "train.regime=scratch"],
     "train.regime=scratch is not supported by method gnnrl; valid choices: auto, finetune"),
    (["method=random_search", "train.regime=scratch"], "is not supported by method random_search"),
])
def test_bad_settings_get_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(UserError) as error:
        preflight(overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("method", ["gnnrl", "random_search"])
def test_an_unreachable_budget_gets_one_line_with_the_reachable_range(method: str) -> None:
    reachable = _env("resnet20").reachable
    with pytest.raises(UserError) as error:
        _search(method, "resnet20", 0.99)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"ratio=0.99 is not reachable by {method} on this model")
    assert f"valid range: [0, {reachable:.6f}]" in message


@pytest.mark.parametrize("method", ["gnnrl", "random_search"])
def test_preflight_accepts_what_the_authors_action_space_reaches_on_resnet56(method: str) -> None:
    """All three residual streams are prunable (the stem's included), so 0.975 of ResNet-56's MACs can go at lower
    bound 0.1 (at most 0.9885); 0.99 cannot, and says so before anything runs."""
    preflight([f"method={method}", "model=resnet56", "dataset=synthetic", "ratio=0.975"])
    with pytest.raises(UserError) as error:
        preflight([f"method={method}", "model=resnet56", "dataset=synthetic", "ratio=0.99"])
    assert "valid range: [0, 0.988" in str(error.value) and "\n" not in str(error.value)


def test_presets_keep_the_authors_episode_budget_and_compose_with_the_controls() -> None:
    presets = sorted(p.stem for p in (conf_dir() / "experiment").glob("gnnrl_*.yaml"))
    assert len(presets) == 7
    for preset in presets:
        cfg = make_cfg(f"experiment={preset}")
        assert (cfg.method.name, cfg.method.episodes) == ("gnnrl", 15000), preset
    control = make_cfg(f"experiment={presets[0]}", "method=random_search")
    assert control.method.name == "random_search" and control.ratio == make_cfg(f"experiment={presets[0]}").ratio


def test_importing_the_methods_does_not_import_torch_geometric() -> None:
    code = "import sys, rgp_bench.methods, rgp_bench.gnnrl.search; print('torch_geometric' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"



def test_the_benchmark_tables_pair_the_searches_by_seed_at_equal_evaluations(tmp_path) -> None:
    from benchmarks.gnnrl import RunRow, best_at, curve_table, draw, method_table, paired_table

    def record(method: str, seed: int, top1: float, best: float | None = None, evaluations: int = 0) -> dict:
        info = {} if best is None else {
            "search": {"seconds": 2.0, "evaluations": evaluations, "env_steps": 100, "ppo_updates": 1},
            "best_val_top1": best, "best_curve": [[1, best - 110.0], [evaluations // 2, best - 100.0]]}
        return {"method": method, "seed": seed, "status": "complete", "method_info": info,
                "accuracy": {"final": {"top1": top1}}, "cost": {"reduction": {"macs": 0.5}}}

    runs = [RunRow.of(r) for r in (
        record("gnnrl", 0, 90.0, 60.0, 40), record("gnnrl", 1, 92.0, 64.0, 50),
        record("random_search", 0, 91.0, 58.0, 40), record("random_search", 1, 91.0, 61.0, 50),
        record("uniform", 0, 91.0), record("uniform", 1, 93.0))]
    rows = method_table(runs).splitlines()
    assert rows[2] == ("| gnnrl | 2 | 2.0 ± 0.0 | 100 ± 0 | 1 ± 0 | 45 ± 7 | 62.00 ± 2.83 | 91.00 ± 1.41 | "
                       "0.5000 ± 0.0000 |")
    assert rows[4] == "| uniform | 2 | — | — | — | — | — | 92.00 ± 1.41 | 0.5000 ± 0.0000 |" and len(rows) == 5
    paired = paired_table(runs).splitlines()
    assert paired[2].startswith("| best val top-1 before FT | 2 | 2.50 | 0.71 | 5.00 |")
    assert paired[2].endswith("| 2 of 2 seeds |")
    assert paired[3] == "| test top-1 after FT | 2 | 0.00 | 1.41 | 0.00 | 1.000 | 1 of 2 seeds |"
    assert best_at([[1, -50.0], [7, -40.0]], 0) is None and best_at([[1, -50.0], [7, -40.0]], 6) == -50.0
    curve = curve_table(runs).splitlines()
    assert curve[0] == "| best val top-1 (%) after n evaluations | 1 | 10 | 30 | 40 |"
    assert curve[2] == "| gnnrl | 52.00 ± 2.83 | 52.00 ± 2.83 | 62.00 ± 2.83 | 62.00 ± 2.83 |"
    draw({"toy": runs}, tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 1000
