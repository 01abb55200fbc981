"""Every registered method, in every variant of its choices, on the same prunable layers: the method contract.

The cases are generated from the registry, so a new method (or a plugin named in $RGP_BENCH_PLUGINS) is
covered by these tests without editing this file.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from enum import Enum

import pytest
import torch
from tests.conftest import make_cfg, poisoned_bench

from rgp_bench.config.choices import Budget
from rgp_bench.core.errors import UserError
from rgp_bench.measure import measure_costs
from rgp_bench.methods import METHODS, MaskContext, Method, MethodStyle, get_method
from rgp_bench.methods.base import check_result
from rgp_bench.models import IMAGE_MODELS, build_model
from rgp_bench.pruning import (
    apply_channel_gates,
    apply_masks,
    apply_param_masks,
    current_masks,
    find_prunable_layers,
    mask_sparsity,
)
from rgp_bench.report.style import KNOWN
from rgp_bench.run.pipeline import mask_context
from rgp_bench.speedup.structure import analyse_mask

# Small settings per model, so a contract case builds in well under a second.
BENCH_SETTINGS = {"mlp": ["dataset=digits", "model.width=32", "model.depth=3"],
                  "resnet20": ["dataset=synthetic", "dataset.num_samples=64"]}
RATIO = 0.75  # exactly reachable by RGP at n=64 (k=16), n=32 (k=8) and n=16 (k=4)
# MAC budgets remove a fraction of all MACs, including the dense stem's and classifier's: keep it reachable.
MAC_RATIO = 0.3
# The search methods' default budgets scale with the model (hundreds of episodes on resnet20); the contract
# needs a search, not a good one.
SEARCH_BUDGET = {"gnnrl": ["method.episodes=8"], "random_search": ["method.evaluations=8"]}
# The contract's synthetic ResNet data holds 4 training samples of some class; GraSP's default sample needs 10.
SMALL_DATA = {"grasp": ["method.samples_per_class=2"]}


def ratio_for(name: str) -> float:
    return MAC_RATIO if get_method(name).budget == Budget.macs else RATIO


def method_variants(method: Method) -> list[list[str]]:
    """The default settings, then each non-default value of each choice field, one at a time."""
    variants: list[list[str]] = [[]]
    for f in dataclasses.fields(method.schema):
        default = f.default
        if isinstance(default, Enum):
            variants += [[f"method.{f.name}={value.value}"] for value in type(default) if value != default]
    return variants


CASES = [pytest.param(name, extra, id="-".join([name, *(e.split(".", 1)[1] for e in extra)]))
         for name, method in sorted(METHODS.items()) for extra in method_variants(method)]



@pytest.fixture(scope="module")
def benches(tmp_path_factory):
    """A built run (data, model, layers, costs) per contract model; the test split is poisoned."""
    out = {}
    for model_name, settings in BENCH_SETTINGS.items():
        out[model_name] = poisoned_bench(f"model={model_name}", *settings,
                                         f"cache_dir={tmp_path_factory.mktemp('cache')}", "train.batch_size=16",
                                         "train.limit_batches=2")
    return out


def _masks(benches, model_name: str, name: str, extra: list[str], seed: int = 0):
    base, hw, bench = benches[model_name]
    cfg = make_cfg(f"model={model_name}", *BENCH_SETTINGS[model_name], f"method={name}", f"ratio={ratio_for(name)}",
                   f"seed={seed}", f"cache_dir={base.cache_dir}", "train.batch_size=16", "train.limit_batches=2",
                   *SEARCH_BUDGET.get(name, []), *SMALL_DATA.get(name, []), *extra)
    method = get_method(name)
    # Only what the method declares: using anything else raises MissingNeed.
    return method.compute_masks(cfg.method, bench.layers, cfg.ratio, mask_context(method, cfg, bench, hw)), bench


@pytest.mark.parametrize("model_name", sorted(BENCH_SETTINGS))
@pytest.mark.parametrize(("name", "extra"), CASES)
def test_method_contract(benches, model_name: str, name: str, extra: list[str]) -> None:
    result, bench = _masks(benches, model_name, name, extra)
    check_result(result, bench.layers, name)
    if get_method(name).budget == Budget.weights:
        assert mask_sparsity(result.masks) == pytest.approx(RATIO, abs=1e-3)
    elif get_method(name).budget == Budget.none:  # the dense reference keeps every weight, whatever the ratio
        assert mask_sparsity(result.masks) == 0.0 and not result.param_masks and not result.input_gates
    else:  # the exact MAC count of the masked model (checked against physical removal in test_channels)
        model = copy.deepcopy(bench.model)
        layers = find_prunable_layers(model, bench.example, benches[model_name][0].layers)
        apply_masks(layers, result.masks)
        apply_param_masks(model, result.param_masks)
        apply_channel_gates(model, result.input_gates)
        pruned = measure_costs(model, bench.example, bench.prunable, dense_macs=bench.dense_cost.module_macs)
        achieved = 1 - pruned.total.macs_effective / bench.dense_cost.total.macs
        assert achieved == pytest.approx(result.info["mac_budget"]["achieved"], abs=1e-12)
        assert MAC_RATIO <= achieved < MAC_RATIO + 0.02
    if get_method(name).block_structured:  # what it declares: every mask is block-regular (speedup's forms apply)
        for mask in result.masks.values():
            analyse_mask(mask)  # raises NotBlockStructured otherwise
    again, _ = _masks(benches, model_name, name, extra)
    assert all(torch.equal(result.masks[k], again.masks[k]) for k in result.masks)  # deterministic under a seed
    assert all(torch.equal(result.param_masks[k], again.param_masks[k]) for k in result.param_masks)


@pytest.fixture(scope="module")
def graph_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("graphs")


@pytest.mark.parametrize("model_name", IMAGE_MODELS)
@pytest.mark.parametrize("name", sorted(m for m in METHODS if not METHODS[m].needs))
def test_data_free_method_on_every_model(name: str, model_name: str, graph_cache) -> None:
    cfg = make_cfg(f"model={model_name}", "model.width=64", "model.depth=3", f"method={name}", f"ratio={RATIO}")
    torch.manual_seed(0)
    model = build_model(cfg.model, 3, 32, 10)
    layers = find_prunable_layers(model, torch.randn(1, 3, 32, 32), cfg.layers)
    result = get_method(name).compute_masks(cfg.method, layers, RATIO, MaskContext(seed=0, cache_dir=graph_cache))
    check_result(result, layers, name)
    if get_method(name).budget == Budget.weights:
        assert mask_sparsity(result.masks) == pytest.approx(RATIO, abs=1e-3)


def test_every_method_declares_its_own_style_and_the_report_fallback_agrees() -> None:
    """Each registered method has a colour-and-marker pair no other method has; records written before the record
    carried `method_facts` are drawn from the report's KNOWN table, which must say the same for built-in methods."""
    pairs = {name: (method.style.color, method.style.marker) for name, method in METHODS.items()}
    assert all(isinstance(method.style, MethodStyle) for method in METHODS.values())
    assert len(set(pairs.values())) == len(pairs), pairs
    built_in = {name for name, method in METHODS.items() if method.compute_masks.__module__.startswith("rgp_bench.")}
    assert {name: KNOWN[name] for name in built_in} == {name: METHODS[name].style for name in built_in}


def test_exportable_follows_the_budget_and_the_block_structure() -> None:
    for method in METHODS.values():
        assert method.exportable == (method.budget != Budget.weights or method.block_structured)
        assert method.facts.style == method.style and method.facts.exportable == method.exportable


def test_every_method_has_a_yaml_and_a_schema_default_name() -> None:
    from rgp_bench.config import conf_dir

    for name, method in METHODS.items():
        if method.compute_masks.__module__.startswith("rgp_bench."):
            assert (conf_dir() / "method" / f"{name}.yaml").is_file(), name
        assert make_cfg(f"method={name}").method.name == name


def test_layerwise_methods_hit_the_ratio_in_every_layer(benches) -> None:
    _, _, bench = benches["resnet20"]
    for name, extra in (("rgp", []), ("random", ["method.scope=layer"]), ("magnitude", ["method.scope=layer"])):
        result, _ = _masks(benches, "resnet20", name, extra)
        for layer in bench.layers:
            assert mask_sparsity({layer.name: result.masks[layer.name]}) == pytest.approx(RATIO, abs=2e-3)


@pytest.mark.parametrize("model_name", ["mlp", "resnet20", "resnet18", "vgg16", "resnet50", "mobilenet_v2"])
def test_prunable_set_excludes_stem_classifier_and_grouped_convs(model_name):
    cfg = make_cfg(f"model={model_name}", "model.width=64")
    torch.manual_seed(0)
    model = build_model(cfg.model, 3, 32, 10)
    names = [layer.name for layer in find_prunable_layers(model, torch.randn(1, 3, 32, 32), cfg.layers)]
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert convs[0] not in names and convs[-1] not in names
    assert all(getattr(model.get_submodule(n), "groups", 1) == 1 for n in names)
    assert len(names) == len(set(names)) > 0


def test_masks_are_applied_through_torch_prune_and_frozen(benches):
    result, bench = _masks(benches, "resnet20", "random", [])
    model = copy.deepcopy(bench.model)
    layers = find_prunable_layers(model, bench.example, benches["resnet20"][0].layers)
    apply_masks(layers, result.masks)
    for layer in layers:
        assert hasattr(layer.module, "weight_orig") and hasattr(layer.module, "weight_mask")
        assert torch.equal(current_masks(layers)[layer.name], result.masks[layer.name])
        assert torch.count_nonzero(layer.module.weight[~result.masks[layer.name]]) == 0


def test_rgp_auto_nodes_capped_at_narrowest_layer_and_degree_from_ratio(benches):
    info = _masks(benches, "resnet20", "rgp", [])[0].info
    assert info["nodes"] == 16 and info["degree"] == 4
    assert "capped at 16" in info["nodes_note"]
    for key in ("aspl", "lower_bound", "diameter", "clustering"):
        assert math.isfinite(info[key])


def _resnet18_layers():
    cfg = make_cfg("model=resnet18")
    torch.manual_seed(0)
    model = build_model(cfg.model, 3, 32, 10)
    return find_prunable_layers(model, torch.randn(1, 3, 32, 32), cfg.layers)


def test_rgp_nearest_feasible_degree_and_nominal_ratio(tmp_path):
    cfg = make_cfg("method=rgp", "ratio=0.9")
    info = get_method("rgp").compute_masks(cfg.method, _resnet18_layers(), 0.9,
                                           MaskContext(seed=0, cache_dir=tmp_path)).info
    assert (info["nodes"], info["degree"]) == (64, 6)
    assert info["nominal_ratio"] == pytest.approx(1 - 6 / 64)


def test_rgp_block_structure_is_the_same_graph_in_every_layer(graph_cache):
    layers = _resnet18_layers()
    cfg = make_cfg("method=rgp", f"ratio={RATIO}")
    result = get_method("rgp").compute_masks(cfg.method, layers, RATIO, MaskContext(seed=0, cache_dir=graph_cache))
    graphs = []
    for layer in layers:
        mask = result.masks[layer.name][:, :, 0, 0] if len(layer.weight_shape) == 4 else result.masks[layer.name]
        go, gi = layer.out_channels // 64, layer.in_channels // 64
        graphs.append(mask[::go, ::gi].int())
    adjacency = graphs[0]
    assert torch.equal(adjacency, adjacency.T) and int(adjacency.diagonal().sum()) == 0
    assert all(torch.equal(g, adjacency) for g in graphs)


def test_rgp_explicit_nodes_larger_than_a_layer_is_an_error(benches):
    with pytest.raises(UserError, match=r"method.nodes=32 is larger than masked layer .* \(16 channels\); "
                                        r"valid choices: auto or an integer in \[3, 16\]"):
        _masks(benches, "resnet20", "rgp", ["method.nodes=32"])


def test_random_and_rgp_masks_change_with_the_seed(benches):
    for name in ("random", "rgp"):
        a, _ = _masks(benches, "resnet20", name, [], seed=3)
        c, _ = _masks(benches, "resnet20", name, [], seed=4)
        assert any(not torch.equal(a.masks[k], c.masks[k]) for k in a.masks)


def test_magnitude_keeps_the_largest_weights(benches):
    result, bench = _masks(benches, "mlp", "magnitude", ["method.scope=global"])
    kept = torch.cat([layer.module.weight.detach().abs()[result.masks[layer.name]] for layer in bench.layers])
    dropped = torch.cat([layer.module.weight.detach().abs()[~result.masks[layer.name]] for layer in bench.layers])
    assert kept.min() >= dropped.max()


def test_an_undeclared_need_is_refused():
    ctx = MaskContext(seed=0)
    with pytest.raises(RuntimeError, match="did not declare needs"):
        ctx.evaluate(torch.nn.Linear(1, 1))
    with pytest.raises(RuntimeError, match="did not declare needs"):
        next(iter(ctx.train_batches(1)))
