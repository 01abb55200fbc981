"""Parity of the weight-pruning methods with their reference code (tests/reference/), mask against mask.

Each project method runs through the registry as the runner calls it, next to a transcription of its reference,
on the same model, weights and data: the digits MLP (512 x 4, the runner's own seeded training batches) and
ResNet-20 at CIFAR shape (seeded random batches), at ratio 0.9. Masks are compared by Jaccard over the kept
weights of the prunable layers. Where the project follows the reference the test asserts Jaccard >= 0.999 (the
only differences left are the last weight or two of the count: the project removes exactly round(ratio * n));
where it deviates on purpose the test pins the measured figure (docs/fidelity.md has the ledger).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

import numpy as np
import pytest
import torch
from tests.conftest import make_cfg, poisoned_bench
from tests.reference import grasp_authors, rgp_densemask, rgp_ring, rigl_erk, snip_public, synaptic_flow
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import prune

from rgp_bench.core.errors import UserError
from rgp_bench.graphs import build_graph, ring_lattice
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.methods.block_random import erdos_renyi_graph
from rgp_bench.methods.grasp import class_balanced_sample
from rgp_bench.models import build_model
from rgp_bench.pruning import find_prunable_layers
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.run.pipeline import mask_context

RATIO = 0.9
DENSITY = 1.0 - RATIO
FOLLOWS = 0.999  # Jaccard of a method that follows its reference
SYNFLOW_ROUNDS = 20  # the schedule, count and tie rules are the same at the paper's 100 rounds (measured: 0.99996)
Masks = Mapping[str, torch.Tensor]

pytestmark = pytest.mark.usefixtures("one_thread")


def jaccard(a: Masks, b: Masks) -> float:
    """|a ∩ b| / |a ∪ b| over the kept weights of all layers of `a`."""
    inter = sum(int((a[n] & b[n]).sum()) for n in a)
    union = sum(int((a[n] | b[n]).sum()) for n in a)
    return inter / union


def kept(masks: Masks) -> int:
    return sum(int(m.sum()) for m in masks.values())


def names_of(layers: list[PrunableLayer]) -> list[str]:
    return [layer.name for layer in layers]


# --- the two parity models ---------------------------------------------------------------------------------------


class Bench:
    """A model, its prunable layers and one input, plus how to run a method on it and the data its reference sees."""

    def __init__(self, model: nn.Module, layers: list[PrunableLayer], example: torch.Tensor,
                 context: Callable[[str], MaskContext], batches: Callable[[int | None], list], num_classes: int,
                 grasp_per_class: int):
        self.model, self.layers, self.example = model, layers, example
        self.context, self.batches, self.num_classes = context, batches, num_classes
        self.grasp_per_class = grasp_per_class  # GraSP's samples_per_class on this model's data

    def masks(self, name: str, *overrides: str) -> dict[str, torch.Tensor]:
        """The project's masks: `get_method(name).compute_masks(cfg.method, layers, ratio, ctx)`."""
        cfg = make_cfg(f"method={name}", *overrides)
        return get_method(name).compute_masks(cfg.method, self.layers, RATIO, self.context(name)).masks


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> Bench:
    """The default run's digits MLP (512 x 4: three 512x512 prunable layers), seed 0, the runner's own context."""
    cache = f"cache_dir={tmp_path_factory.mktemp('cache')}"
    _, hw, bench = poisoned_bench("dataset=digits", "model=mlp", cache)

    def context(name: str) -> MaskContext:
        return mask_context(get_method(name), make_cfg("dataset=digits", f"method={name}", cache), bench, hw)

    def batches(count: int | None) -> list:  # the same seeded stream of training batches a method draws
        return list(context("snip").train_batches(count))

    return Bench(bench.model, bench.layers, bench.example, context, batches, bench.data.num_classes, 10)


def cifar_batches(count: int, size: int, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded N(0, 1) CIFAR-shape batches; labels cycle through the 10 classes in a seeded order."""
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(count * size) % 10)[torch.randperm(count * size, generator=generator)]
    return [(torch.randn(size, 3, 32, 32, generator=generator), labels[i * size:(i + 1) * size])
            for i in range(count)]


def zoo_model(name: str, *overrides: str) -> tuple[nn.Module, list[PrunableLayer], torch.Tensor]:
    """A zoo model at CIFAR shape with the project's init under seed 0, and its prunable layers."""
    cfg = make_cfg(f"model={name}", *overrides)
    torch.manual_seed(0)
    model = build_model(cfg.model, 3, 32, 10)
    example = torch.randn(1, 3, 32, 32)
    return model, find_prunable_layers(model, example, cfg.layers), example


@pytest.fixture(scope="module")
def resnet20() -> Bench:
    model, layers, example = zoo_model("resnet20")
    data = cifar_batches(4, 32)

    def context(_name: str) -> MaskContext:
        return MaskContext(seed=0, model=copy.deepcopy(model), example=example, num_classes=10,
                           train_batches=lambda count=None: iter(data[:count]))

    # GraSP: two samples per class (halves of 10) keep the double backprop quick; the protocol is the same.
    return Bench(model, layers, example, context, lambda count: data[:count], 10, 2)


@pytest.fixture(params=["mlp", "resnet20"])
def bench(request) -> Bench:
    return request.getfixturevalue(request.param)


# --- SNIP --------------------------------------------------------------------------------------------------------


def test_snip_matches_the_references_with_batchnorm_in_inference_mode(bench: Bench) -> None:
    """snip-public prunes with `is_train: False` and the Synaptic-Flow port in `model.eval()`: BN in inference mode."""
    project = bench.masks("snip")
    batches = bench.batches(1)
    names = names_of(bench.layers)
    port = synaptic_flow.prune_loop(bench.model, names, lambda m, k: synaptic_flow.snip_score(m, k, batches), DENSITY)
    assert jaccard(project, port) >= FOLLOWS
    assert kept(port) - kept(project) in (0, 1)  # the port keeps N - int(0.9 N), the project N - round(0.9 N)
    model = copy.deepcopy(bench.model).eval()
    scores = synaptic_flow.snip_score(model, {n: torch.ones_like(model.get_submodule(n).weight) for n in names},
                                      batches)
    assert jaccard(project, snip_public.create_sparse_mask(scores, RATIO)) >= FOLLOWS
    per_layer = bench.masks("snip", "method.scope=layer")  # the port's `local` scope
    local = synaptic_flow.prune_loop(bench.model, names, lambda m, k: synaptic_flow.snip_score(m, k, batches),
                                     DENSITY, scope="local")
    assert jaccard(per_layer, local) >= FOLLOWS
    # The project's former behaviour, BN in training mode, gives other masks entirely (measured 0.128 on the MLP,
    # 0.117 on ResNet-20; the audit's 0.180 / 0.117 were on other batches).
    train_mode = synaptic_flow.prune_loop(bench.model, names, lambda m, k: synaptic_flow.snip_score(m, k, batches),
                                          DENSITY, train_mode=True)
    assert jaccard(project, train_mode) < 0.2


# --- GraSP -------------------------------------------------------------------------------------------------------


def _grasp_overrides(bench: Bench, reinit: bool) -> tuple[str, ...]:
    return f"method.samples_per_class={bench.grasp_per_class}", f"method.reinit_linear={str(reinit).lower()}"


@pytest.mark.parametrize("reinit", [False, True])
def test_grasp_matches_the_authors_pruner(bench: Bench, reinit: bool) -> None:
    """Class-balanced sample, two halves, g over both halves, Hg summed per half in training mode, T = 200."""
    project = bench.masks("grasp", *_grasp_overrides(bench, reinit))
    inputs, targets = grasp_authors.grasp_fetch_data(bench.batches(None), bench.num_classes, bench.grasp_per_class)
    torch.manual_seed(0)  # the authors' reinit draws from the global generator; the project's from one seeded so
    reference = grasp_authors.grasp(bench.model, RATIO, inputs, targets, names_of(bench.layers), reinit=reinit)
    assert jaccard(project, reference) >= FOLLOWS
    # The authors keep every score <= the smallest removed one (one more weight) and remove int(), not round().
    assert kept(reference) - kept(project) in (0, 1, 2)


@pytest.mark.parametrize(("model", "expected"), [("mlp", 0.053), ("resnet20", 0.233)])
def test_grasp_reinit_linear_is_the_authors_quirk_and_changes_the_masks(request, model: str,
                                                                         expected: float) -> None:
    """The authors' `reinit=True` redraws every nn.Linear (the classifier too) before scoring: off by default."""
    bench: Bench = request.getfixturevalue(model)
    plain = bench.masks("grasp", *_grasp_overrides(bench, False))
    reinit = bench.masks("grasp", *_grasp_overrides(bench, True))
    assert jaccard(plain, reinit) == pytest.approx(expected, abs=0.02)


def test_grasp_sample_is_the_authors_class_balanced_fetch() -> None:
    batches = cifar_batches(3, 16, seed=4)
    x, y = class_balanced_sample(iter(batches), 10, 3)
    ref_x, ref_y = grasp_authors.grasp_fetch_data(iter(batches), 10, 3)
    assert torch.equal(x, ref_x) and torch.equal(y, ref_y)
    assert y.tolist() == [c for c in range(10) for _ in range(3)]  # class by class: the halves split the classes
    counts = torch.bincount(torch.cat([labels for _, labels in batches]), minlength=10)
    fewest, rarest = int(counts.min()), int(counts.argmin())
    with pytest.raises(UserError, match=rf"samples_per_class={fewest + 1} .* class {rarest} .*\[1, {fewest}\]$"):
        class_balanced_sample(iter(batches), 10, fewest + 1)


# --- SynFlow -----------------------------------------------------------------------------------------------------


def synflow_reference(bench: Bench, model: nn.Module | None = None,
                      dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Synaptic-Flow's `prune_loop` with `SynFlow.score`, exponential schedule, global scope, eval mode."""
    model = bench.model if model is None else model
    shape = tuple(bench.example.shape[1:])
    return synaptic_flow.prune_loop(model, names_of(bench.layers),
                                    lambda m, k: synaptic_flow.synflow_score(m, k, shape), DENSITY,
                                    epochs=SYNFLOW_ROUNDS, dtype=dtype)


def trained_batchnorm(model: nn.Module, seed: int = 5) -> nn.Module:
    """A copy whose BN running statistics, γ and β are non-trivial, as after training (the finetune regime)."""
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                n = module.num_features
                module.running_mean.copy_(0.5 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.25 + 1.5 * torch.rand(n, generator=generator))
                module.weight.copy_(1.0 + 0.5 * torch.randn(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
    return model


def bn_as_identity(model: nn.Module) -> nn.Module:
    """A copy with every BN replaced by the identity: the project's linearisation before the parity fix."""
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if isinstance(module, _BatchNorm):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())
    return model


def _synflow(bench: Bench, model: nn.Module, scope: str = "global") -> dict[str, torch.Tensor]:
    ctx = MaskContext(seed=0, model=copy.deepcopy(model), example=bench.example)
    cfg = make_cfg("method=synflow", f"method.iterations={SYNFLOW_ROUNDS}", f"method.scope={scope}")
    return get_method("synflow").compute_masks(cfg.method, bench.layers, RATIO, ctx).masks


def test_synflow_matches_the_reference_at_initialisation(bench: Bench) -> None:
    """Same score (|.| of the state dict, eval BN, ones input), schedule, kthvalue count and `<=` tie rule."""
    project = _synflow(bench, bench.model)
    reference = synflow_reference(bench)  # in the reference's float32 (the project scores in float64)
    assert jaccard(project, reference) >= FOLLOWS
    assert kept(reference) - kept(project) in (0, 1)  # int() vs round() in the last round


def test_synflow_layer_scope_matches_the_references_local_scope(resnet20: Bench) -> None:
    """`scope: layer` is the reference's `local` mask: the same count and tie rule within each layer."""
    shape = tuple(resnet20.example.shape[1:])
    reference = synaptic_flow.prune_loop(resnet20.model, names_of(resnet20.layers),
                                         lambda m, k: synaptic_flow.synflow_score(m, k, shape), DENSITY,
                                         scope="local", epochs=SYNFLOW_ROUNDS)
    assert jaccard(_synflow(resnet20, resnet20.model, "layer"), reference) >= FOLLOWS


def test_synflow_copy_is_the_references_linearize() -> None:
    """|.| of every floating state entry (BN running statistics, γ, β included), eval mode, float64; ReLU6 becomes
    ReLU (deliberate: a clip at 6 would cut path sums), pruning masks folded in."""
    from rgp_bench.pruning.linearise import synflow_copy

    model = trained_batchnorm(nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU6(), nn.Linear(6, 3)))
    prune.custom_from_mask(model[3], "weight", torch.arange(18).reshape(3, 6) % 2 == 0)
    copy_ = synflow_copy(model)
    assert not copy_.training and isinstance(copy_[2], nn.ReLU) and not isinstance(copy_[2], nn.ReLU6)
    folded = model[3].weight.detach()
    for key, value in copy_.state_dict().items():
        original = folded if key == "3.weight" else model.state_dict()[key]
        if value.is_floating_point():
            assert value.dtype == torch.float64 and torch.equal(value, original.double().abs()), key
    assert torch.equal(copy_.state_dict()["1.num_batches_tracked"], model[1].num_batches_tracked)


@pytest.mark.parametrize(("model", "expected"), [("mlp", 0.150), ("resnet20", 0.230)])
def test_synflow_matches_the_reference_with_trained_batchnorm(request, model: str, expected: float) -> None:
    """On a trained model the reference's |running mean|, |running var|, |γ|, |β| in eval-mode BN matter; the former
    BN-as-identity linearisation gave other masks (the pinned Jaccard)."""
    bench: Bench = request.getfixturevalue(model)
    trained = trained_batchnorm(bench.model)
    project = _synflow(bench, trained)
    assert jaccard(project, synflow_reference(bench, trained)) >= FOLLOWS
    assert jaccard(project, synflow_reference(bench, bn_as_identity(trained))) == pytest.approx(expected, abs=0.02)


def test_synflow_scores_in_float64_where_the_float32_reference_overflows() -> None:
    """Deliberate deviation: float32 path sums overflow on ResNet-56 (every reference score is inf or nan)."""
    from rgp_bench.methods.synflow import linearised, synflow_scores

    model, layers, example = zoo_model("resnet56")
    names = names_of(layers)
    reference = copy.deepcopy(model).eval()
    masks = {n: torch.ones_like(reference.get_submodule(n).weight) for n in names}
    float32 = torch.cat([s.reshape(-1) for s in synaptic_flow.synflow_score(reference, masks, (3, 32, 32)).values()])
    assert not torch.isfinite(float32).any()
    float64 = torch.cat([s.reshape(-1) for s in synflow_scores(linearised(model), names, example).values()])
    assert torch.isfinite(float64).all() and float64.dtype == torch.float64


# --- the layer set (all methods) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "expected"), [("mlp", 0.780), ("resnet20", 0.948)])
def test_layer_set_deviation_pinned_on_synflow(request, model: str, expected: float) -> None:
    """Deliberate deviation shared by every method: the references also prune the stem and the classifier, the
    project leaves them dense (one layer set for all methods). SynFlow (data-free) measures it on common layers."""
    bench: Bench = request.getfixturevalue(model)
    every = [layer.name for layer in find_prunable_layers(
        bench.model, bench.example, make_cfg("layers.exclude_stem=false", "layers.exclude_classifier=false").layers)]
    shape = tuple(bench.example.shape[1:])
    reference = synaptic_flow.prune_loop(bench.model, every, lambda m, k: synaptic_flow.synflow_score(m, k, shape),
                                         DENSITY, epochs=SYNFLOW_ROUNDS)
    common = {n: reference[n] for n in names_of(bench.layers)}
    assert jaccard(_synflow(bench, bench.model), common) == pytest.approx(expected, abs=0.02)


# --- ERK / ER ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "name", "expected"), [
    ("mlp", "erk", 3.8e-6), ("mlp", "er", 3.8e-6), ("resnet20", "erk", 2.71e-4), ("resnet20", "er", 6.43e-5)])
def test_erdos_renyi_densities_match_rigl(request, model: str, name: str, expected: float) -> None:
    """rigl's densities are real numbers (its right-hand side counts floor(sparsity · n) zeros per layer); the
    project's are exact integer counts with exactly round(ratio · n) removed in all. Pinned: the largest per-layer
    density difference, under two weights of any layer."""
    bench: Bench = request.getfixturevalue(model)
    result = get_method(name).compute_masks(make_cfg(f"method={name}").method, bench.layers, RATIO,
                                            MaskContext(seed=0))
    sizes = [layer.module.weight.numel() for layer in bench.layers]
    rigl = rigl_erk.get_sparsities_erdos_renyi([rigl_erk.tf_layout(layer.weight_shape) for layer in bench.layers],
                                               RATIO, include_kernel=name == "erk")
    ours = [result.info["densities"][layer.name] for layer in bench.layers]
    theirs = [1.0 - s for s in rigl]
    assert all(abs(d - r) * n < 2.0 for d, r, n in zip(ours, theirs, sizes, strict=True))
    assert max(abs(d - r) for d, r in zip(ours, theirs, strict=True)) == pytest.approx(expected, rel=0.01)


# --- RGP block masks and its ablations ---------------------------------------------------------------------------


def _rgp(layers: list[PrunableLayer], nodes: int, degree: int, tmp_path, *overrides: str):
    cfg = make_cfg("method=rgp", f"method.nodes={nodes}", f"method.degree={degree}", "method.strategy=none",
                   *overrides)
    result = get_method("rgp").compute_masks(cfg.method, layers, RATIO, MaskContext(seed=0, cache_dir=tmp_path))
    adjacency, _ = build_graph(nodes, degree, strategy="none", start="random", seed=0, cache_dir=tmp_path)
    return result, adjacency


def densemask(adjacency: np.ndarray, layer: PrunableLayer) -> torch.Tensor:
    """The authors' `compute_densemask` of the graph for this layer, as a boolean weight mask."""
    dense = rgp_densemask.compute_densemask(adjacency.astype(float), layer.out_channels, layer.in_channels,
                                            layer.weight_shape[2:])
    return torch.from_numpy(np.ascontiguousarray(dense != 0))


@pytest.mark.parametrize(("model", "nodes"), [("resnet56", 16), ("vgg16", 64), ("resnet18", 64), ("mlp", 64)])
def test_rgp_masks_equal_compute_densemask_on_divisible_layers(tmp_path, model: str, nodes: int) -> None:
    """Every prunable layer of these models divides evenly by n: both group_sizes settings are the authors' map."""
    _, layers, _ = zoo_model(model)
    assert all(layer.out_channels % nodes == 0 and layer.in_channels % nodes == 0 for layer in layers)
    for group_sizes in ("larger_first", "permuted"):
        result, adjacency = _rgp(layers, nodes, 4, tmp_path, f"method.group_sizes={group_sizes}")
        for layer in layers:
            assert torch.equal(result.masks[layer.name], densemask(adjacency, layer)), (group_sizes, layer.name)


def test_rgp_permuted_group_sizes_equal_compute_densemask_on_non_divisible_layers(tmp_path) -> None:
    """MobileNet-v2 at n = 16: the authors permute the group sizes (seed 1); `larger_first` (the default) gives the
    first groups the extra channels: other masks on those layers, the same kept fraction."""
    _, layers, _ = zoo_model("mobilenet_v2")
    uneven = [layer.name for layer in layers if layer.out_channels % 16 or layer.in_channels % 16]
    assert len(uneven) == 4
    permuted, adjacency = _rgp(layers, 16, 4, tmp_path, "method.group_sizes=permuted")
    default, _ = _rgp(layers, 16, 4, tmp_path)
    for layer in layers:
        assert torch.equal(permuted.masks[layer.name], densemask(adjacency, layer)), layer.name
        assert torch.equal(default.masks[layer.name], permuted.masks[layer.name]) == (layer.name not in uneven)
    assert kept(default.masks) == kept(permuted.masks)
    assert permuted.info["group_sizes"] == "permuted"


def test_rgp_ring_preset_is_the_authors_ring_lattice_for_even_degrees() -> None:
    """`rgp_ring` (even k) masks with the authors' `first_regular_graph`, the start M0 of their optimiser."""
    for nodes, degree in ((64, 4), (16, 4), (64, 16)):
        assert np.array_equal(ring_lattice(nodes, degree), rgp_ring.first_regular_graph(degree, nodes))


def test_rgp_ring_preset_odd_degrees_relabel_the_authors_graph_with_the_same_aspl() -> None:
    """Odd k: the project's circulant C_n(1..(k-1)/2, n/2) is not the authors' `last_regular_graph` (the complement
    of a ring lattice, C_n((n-k+1)/2..n/2)): another labelling, so other masks, with the same ASPL (measured for
    n = 64, k = 3, 5, 7, 15 and n = 16, k = 3, 5). A deviation the rgp_ring preset keeps (see the ledger)."""
    from rgp_bench.graphs import path_stats

    for nodes, degree in ((64, 3), (64, 7), (16, 5)):
        ours, theirs = ring_lattice(nodes, degree), rgp_ring.last_regular_graph(degree, nodes).astype(np.uint8)
        assert not np.array_equal(ours, theirs)
        assert (theirs.sum(axis=1) == degree).all()
        assert path_stats(ours).aspl == pytest.approx(path_stats(theirs).aspl, rel=1e-12)


def test_block_random_masks_are_compute_densemask_of_its_random_graph(mlp: Bench) -> None:
    cfg = make_cfg("method=block_random")
    result = get_method("block_random").compute_masks(cfg.method, mlp.layers, RATIO, MaskContext(seed=3))
    nodes, degree = result.info["nodes"], result.info["degree"]
    adjacency = erdos_renyi_graph(nodes, nodes * degree // 2, 3)
    for layer in mlp.layers:
        assert torch.equal(result.masks[layer.name], densemask(adjacency, layer))


# --- magnitude and random ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_magnitude_equals_torch_prune_l1_unstructured(mlp: Bench, scope: str) -> None:
    project = mlp.masks("magnitude", f"method.scope={scope}")
    model = copy.deepcopy(mlp.model)
    params = [(model.get_submodule(name), "weight") for name in names_of(mlp.layers)]
    if scope == "global":
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=RATIO)
    else:
        for module, param in params:
            prune.l1_unstructured(module, param, amount=RATIO)
    reference = {name: module.weight_mask.bool() for name, (module, _) in zip(names_of(mlp.layers), params,
                                                                              strict=True)}
    assert all(torch.equal(project[n], reference[n]) for n in reference)


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_random_keeps_torch_random_unstructured_counts(bench: Bench, scope: str) -> None:
    """torch.nn.utils.prune.RandomUnstructured prunes round(amount · n) entries of each tensor at random (global:
    of all of them); the project's draws differ, its counts must not."""
    project = bench.masks("random", f"method.scope={scope}")
    sizes = {layer.name: layer.module.weight.numel() for layer in bench.layers}
    if scope == "layer":
        assert all(int(project[n].sum()) == size - round(RATIO * size) for n, size in sizes.items())
    else:
        total = sum(sizes.values())
        assert kept(project) == total - round(RATIO * total)
