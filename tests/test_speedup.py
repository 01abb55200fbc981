"""rgp_bench.speedup: block structure, fast forms equal to the masked layer, materialise's choices and report.

No timed assertions: selection is tested with injected timers, and real timings belong in the benchmark.
The C++ forms are tested where a build is cached (``make install`` builds it) or can be built, else skipped;
tap-sum is compiled for one tiny shape only (Inductor compiles take seconds each on this machine).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from tests.conftest import make_cfg
from torch import nn
from torch.nn.utils import prune

from rgp_bench.graphs import block_mask, build_graph, random_regular
from rgp_bench.measure.macs import mac_reduction, masked_layer_macs
from rgp_bench.models import build_model
from rgp_bench.pruning import find_prunable_layers
from rgp_bench.speedup import (
    FORMS,
    MASKED,
    FormUnavailable,
    NotBlockStructured,
    analyse_mask,
    bake_mask,
    dense_copy,
    load_kernel,
    materialise,
    pack_blocks,
    relative_error,
)
from rgp_bench.speedup import kernel as kernel_module
from rgp_bench.speedup.direct import choose_tile, tap_layout
from rgp_bench.speedup.kernel import SimdInfo
from rgp_bench.speedup.packing import choose_chunk_out
from rgp_bench.speedup.tapsum import pad_outside_graph

TOLERANCE = 1e-5


def rgp_mask(c_out: int, c_in: int, kernel: tuple[int, ...], nodes: int, degree: int, *, permute: bool = False,
             seed: int = 0) -> torch.Tensor:
    """RGP block mask of shape (c_out, c_in, *kernel), optionally with random channel permutations per side."""
    channels = block_mask(random_regular(nodes, degree, seed=seed), c_out, c_in)
    if permute:
        rng = np.random.default_rng(seed)
        channels = channels[rng.permutation(c_out)][:, rng.permutation(c_in)]
    mask = torch.from_numpy(np.ascontiguousarray(channels)).reshape(c_out, c_in, *([1] * len(kernel)))
    return mask.expand(c_out, c_in, *kernel).contiguous()


def masked_layer(module: nn.Module, mask: torch.Tensor) -> nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        module.weight.normal_()
        if module.bias is not None:
            module.bias.normal_()
    prune.custom_from_mask(module, "weight", mask.float())
    return module.eval().requires_grad_(False)


# name -> (layer factory, input shape (batch 3), nodes, degree, permute)
LAYER_CASES = {
    "conv3x3": (lambda: nn.Conv2d(32, 32, 3, 1, 1, bias=False), (3, 32, 9, 9), 8, 2, False),
    "conv3x3_stride2": (lambda: nn.Conv2d(16, 32, 3, 2, 1, bias=False), (3, 16, 11, 11), 8, 2, False),
    "shortcut1x1_stride2": (lambda: nn.Conv2d(16, 32, 1, 2, 0, bias=False), (3, 16, 8, 8), 8, 4, False),
    "uneven_channels": (lambda: nn.Conv2d(21, 27, 3, 1, 1, bias=True), (3, 21, 7, 7), 8, 2, False),
    "permuted": (lambda: nn.Conv2d(32, 32, 3, 1, 1, bias=False), (3, 32, 6, 6), 8, 2, True),
    "uneven_permuted_stride2": (lambda: nn.Conv2d(20, 36, 3, 2, 1, bias=True), (3, 20, 9, 8), 8, 4, True),
    "dilated_5x3": (lambda: nn.Conv2d(16, 16, (5, 3), 1, (4, 1), dilation=(2, 1)), (3, 16, 10, 7), 4, 2, False),
    "conv1d": (lambda: nn.Conv1d(24, 24, 5, 2, 2, bias=True), (3, 24, 19), 8, 2, False),
    "linear": (lambda: nn.Linear(64, 48, bias=True), (3, 64), 8, 2, False),
    "linear_uneven_permuted": (lambda: nn.Linear(50, 70, bias=False), (3, 50), 8, 4, True),
}


def make_case(case: str) -> tuple[nn.Module, torch.Tensor]:
    factory, shape, nodes, degree, permute = LAYER_CASES[case]
    module = factory()
    mask = rgp_mask(module.weight.shape[0], module.weight.shape[1], tuple(module.weight.shape[2:]), nodes, degree,
                    permute=permute)
    return masked_layer(module, mask), torch.randn(shape, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope="module")
def cpp_kernel():
    kernel = load_kernel(build=True)  # a fresh machine builds it here (test_kernel_builds_and_loads fails if it can't)
    if kernel is None:
        pytest.skip(f"C++ kernel not built here ({kernel_module.kernel_status().detail})")
    return kernel


# --- block structure -----------------------------------------------------------------------------------------


def test_structure_of_an_rgp_mask_has_n_uniform_groups_reading_k_groups():
    structure = analyse_mask(rgp_mask(32, 16, (3, 3), nodes=8, degree=3))
    assert len(structure.groups) == 8 and structure.uniform
    assert structure.out_sizes == [4] * 8 and structure.in_sizes == [6] * 8  # k * C_in/n
    assert structure.kept_fraction == pytest.approx(3 / 8)
    assert structure.groups[0].out_channels == (0, 1, 2, 3)
    assert structure.describe() == "8 groups x 4 out, each reading 6 in"


def test_structure_finds_permuted_groups():
    structure = analyse_mask(rgp_mask(32, 32, (3, 3), nodes=8, degree=2, permute=True))
    assert len(structure.groups) == 8 and structure.uniform
    outs = sorted(o for g in structure.groups for o in g.out_channels)
    assert outs == list(range(32))
    assert any(g.out_channels != tuple(range(g.out_channels[0], g.out_channels[0] + 4)) for g in structure.groups)


def test_structure_of_uneven_channels_reports_unequal_sizes():
    structure = analyse_mask(rgp_mask(27, 21, (1, 1), nodes=8, degree=2))
    assert not structure.uniform
    assert set(structure.out_sizes) == {3, 4} and sum(structure.out_sizes) == 27
    assert min(structure.in_sizes) < max(structure.in_sizes)


def test_structure_accepts_linear_and_conv1d_masks():
    assert len(analyse_mask(rgp_mask(16, 16, (), nodes=8, degree=2)).groups) == 8
    assert len(analyse_mask(rgp_mask(16, 16, (5,), nodes=8, degree=2)).groups) == 8


def test_mask_varying_within_kernels_is_not_block_structured():
    mask = rgp_mask(8, 8, (3, 3), nodes=4, degree=2).clone()
    mask[0, 1, 0, 0] = ~mask[0, 1, 0, 0]
    with pytest.raises(NotBlockStructured, match="varies within kernels"):
        analyse_mask(mask)


def test_identical_neighbourhoods_merge_into_one_group_and_pack_into_equal_chunks():
    adjacency = np.zeros((4, 4), dtype=int)  # nodes 0 and 1 both read {2, 3}; 2 and 3 both read {0, 1}
    adjacency[:2, 2:] = adjacency[2:, :2] = 1
    structure = analyse_mask(block_mask(adjacency, 8, 8))
    assert structure.out_sizes == [4, 4]
    packing = pack_blocks(structure)
    assert packing.chunks == 2 and packing.chunk_out == 4 and packing.padding_overhead == 1.0


# --- packing -----------------------------------------------------------------------------------------------------


def test_uniform_packing_has_no_padding_and_ordered_outputs():
    packing = pack_blocks(analyse_mask(rgp_mask(32, 16, (3, 3), nodes=8, degree=2)))
    assert (packing.chunks, packing.chunk_out, packing.chunk_in) == (8, 4, 4)
    assert packing.padding_overhead == 1.0 and packing.output_is_ordered


def test_uneven_packing_pads_and_maps_every_output_once():
    packing = pack_blocks(analyse_mask(rgp_mask(27, 21, (1, 1), nodes=8, degree=2, permute=True)))
    assert packing.padding_overhead > 1.0 and not packing.output_is_ordered
    real = packing.out_index[packing.out_index >= 0]
    assert sorted(real.tolist()) == list(range(27))
    positions = packing.output_positions()
    assert (packing.out_index.reshape(-1)[positions] == np.arange(27)).all()


def test_chunk_size_is_the_largest_with_little_output_padding():
    assert choose_chunk_out([4] * 8) == 4
    assert choose_chunk_out([1, 2] * 32) == 1  # 2 would pad a third of the outputs
    assert choose_chunk_out([3] * 56 + [4] * 8) == 3  # 4 would pad 28 %, 3 pads 8 %


def test_packed_weight_holds_exactly_the_kept_blocks():
    module, _ = make_case("uneven_permuted_stride2")
    packing = pack_blocks(analyse_mask(module.weight_mask))
    packed = packing.pack_weight(module.weight)
    assert packed.shape == (packing.chunks, packing.chunk_out, packing.chunk_in, 3, 3)
    assert torch.count_nonzero(packed) == torch.count_nonzero(module.weight)


# --- fast forms: equal to the masked layer --------------------------------------------------------------------


def _build(form: str, module: nn.Module) -> nn.Module:
    return FORMS[form].build(module, pack_blocks(analyse_mask(module.weight_mask))).eval()


@pytest.mark.parametrize("case", [c for c in LAYER_CASES if not c.startswith("linear")])
def test_gather_grouped_conv_equals_masked(case):
    module, x = make_case(case)
    with torch.inference_mode():
        assert relative_error(_build("grouped", module)(x), module(x)) <= TOLERANCE


@pytest.mark.parametrize("case", ["linear", "linear_uneven_permuted"])
def test_gather_bmm_linear_equals_masked(case):
    module, x = make_case(case)
    with torch.inference_mode():
        assert relative_error(_build("bmm", module)(x), module(x)) <= TOLERANCE
        assert relative_error(_build("bmm", module)(x[None]), module(x[None])) <= TOLERANCE  # extra leading dims


@pytest.mark.parametrize("form", ["direct", "direct_shift"])
@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_cpp_direct_form_equals_masked(cpp_kernel, case, form):
    module, x = make_case(case)
    fast = _build(form, module)
    with torch.inference_mode():
        assert relative_error(fast(x), module(x)) <= TOLERANCE
        assert relative_error(fast(x[:1]), module(x[:1])) <= TOLERANCE  # fewer images than threads


def test_cpp_direct_form_is_deterministic_across_thread_counts(cpp_kernel):
    module, x = make_case("uneven_permuted_stride2")
    fast = _build("direct_shift", module)
    previous = torch.get_num_threads()
    try:
        with torch.inference_mode():
            torch.set_num_threads(1)
            one = fast(x)
            torch.set_num_threads(2)
            two = fast(x)
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(one, two) and torch.equal(one, fast(x))


@pytest.mark.parametrize("case", [c for c in LAYER_CASES if not c.startswith("linear")])
def test_tapsum_arithmetic_equals_masked(case):
    module, x = make_case(case)
    fast = _build("tapsum", module)
    with torch.inference_mode():  # the core run eagerly: same arithmetic as compiled, no compile time
        assert relative_error(fast.core(pad_outside_graph(x, fast.pads)), module(x)) <= TOLERANCE


def test_tapsum_compiled_equals_masked_on_a_tiny_layer():
    module = masked_layer(nn.Conv2d(8, 8, 3, 1, 1, bias=True), rgp_mask(8, 8, (3, 3), nodes=8, degree=2))
    x = torch.randn(2, 8, 5, 5)
    fast = _build("tapsum", module)
    with torch.inference_mode():
        assert relative_error(fast(x), module(x)) <= TOLERANCE
    assert torch._dynamo.config.cache_size_limit >= 256  # the 9th compiled layer must not fall back to eager


@pytest.mark.slow
@pytest.mark.parametrize("case", ["conv3x3_stride2", "uneven_permuted_stride2", "conv1d"])
def test_tapsum_compiled_equals_masked(case):
    module, x = make_case(case)
    with torch.inference_mode():
        assert relative_error(_build("tapsum", module)(x), module(x)) <= TOLERANCE


def test_tapsum_refuses_layers_with_too_many_terms():
    module, _ = make_case("linear")
    with pytest.raises(FormUnavailable):
        _build("tapsum", module)
    conv = masked_layer(nn.Conv2d(64, 64, 3, 1, 1), rgp_mask(64, 64, (3, 3), nodes=4, degree=2))
    with pytest.raises(FormUnavailable, match="terms"):
        _build("tapsum", conv)


@pytest.mark.parametrize("lanes", [4, 8, 16])
def test_tap_layout_groups_taps_into_rows_per_phase(lanes):
    layout = tap_layout((3, 3), (1, 1), (1, 1), lanes)
    assert layout.phases == ((0, 0),) and len(layout.rows) == 3 and layout.shift == (0, 1, 2) * 3
    strided = tap_layout((3, 3), (2, 2), (1, 1), lanes)
    assert len(strided.phases) == 4 and sorted(strided.order) == list(range(9))
    wide = tap_layout((1, 7), (1, 1), (1, 1), lanes)  # taps 0..6 of one row: split where a vector ends
    assert len(wide.rows) == -(-7 // lanes) and wide.shift == tuple(dx % lanes for dx in range(7))


@pytest.mark.parametrize(("lanes", "registers"), [(8, 16), (16, 32), (4, 16)])
def test_register_tile_fits_the_build_and_reuses_loads(lanes, registers):
    simd = SimdInfo(lanes, registers, 12)
    for length, chunk_out, terms in ((1088, 1, 72), (80, 4, 288), (24, 8, 576), (256, 2, 8), (7, 3, 9)):
        vectors, block = choose_tile(length, chunk_out, terms, simd)
        assert 1 <= vectors <= 12 and block in (1, 2, 4, 8)
        assert vectors * block + min(vectors, block) + 1 <= registers
        if chunk_out >= 2 and length >= 4 * lanes:
            assert block >= 2  # each loaded input vector feeds several output channels


def test_bake_mask_keeps_values_and_drops_the_hook():
    module, x = make_case("conv3x3")
    baked = bake_mask(module)
    assert not prune.is_pruned(baked) and prune.is_pruned(module)
    with torch.inference_mode():
        assert torch.equal(baked(x), module(x))


# --- the kernel loader ---------------------------------------------------------------------------------------


def test_kernel_can_be_disabled(monkeypatch):
    monkeypatch.setattr(kernel_module, "_module", None)
    monkeypatch.setattr(kernel_module, "_status", None)
    monkeypatch.setenv("RGP_BENCH_NO_CPP", "1")
    assert load_kernel() is None
    assert "disabled" in kernel_module.kernel_status().detail
    module, _ = make_case("conv3x3")
    with pytest.raises(FormUnavailable, match="disabled"):
        _build("direct", module)


def test_failed_build_falls_back_cleanly(monkeypatch, tmp_path):
    broken = tmp_path / "broken.cpp"
    broken.write_text("this is not C++\n")
    monkeypatch.setattr(kernel_module, "_module", None)
    monkeypatch.setattr(kernel_module, "_status", None)
    monkeypatch.setattr(kernel_module, "SOURCE", broken)
    monkeypatch.setenv("RGP_BENCH_EXTENSIONS_DIR", str(tmp_path / "ext"))
    monkeypatch.delenv("RGP_BENCH_NO_CPP", raising=False)
    assert load_kernel(build=True) is None
    assert kernel_module.kernel_status().detail.startswith("build failed")
    assert load_kernel(build=True) is None  # remembered: no second compiler run


def test_extension_name_changes_with_the_source(monkeypatch, tmp_path):
    name = kernel_module.extension_name()
    other = tmp_path / "other.cpp"
    other.write_text("// different\n")
    monkeypatch.setattr(kernel_module, "SOURCE", other)
    assert kernel_module.extension_name() != name


@pytest.mark.slow
def test_kernel_builds_and_loads():
    assert load_kernel(build=True) is not None, kernel_module.kernel_status().detail


# --- materialise: selection (injected timers), report, models ----------------------------------------------------


def fixed_timer(seconds: dict[str, float], default: float = 1.0):
    """Timer that never runs anything: each name gets its fixed time (``default`` otherwise)."""
    calls_seen: list[list[str]] = []

    def timer(calls):
        calls_seen.append(list(calls))
        return {name: seconds.get(name, default) for name in calls}

    timer.calls_seen = calls_seen
    return timer


class TinyNet(nn.Module):
    """Stem, two maskable convs (one 3x3, one 1x1 stride 2), a maskable linear and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1)
        self.conv = nn.Conv2d(16, 16, 3, 1, 1, bias=False)
        self.down = nn.Conv2d(16, 32, 1, 2, bias=False)
        self.hidden = nn.Linear(32, 32)
        self.fc = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(torch.relu(self.stem(x))))
        x = self.down(x).mean((2, 3))
        return self.fc(torch.relu(self.hidden(x)))


def tiny_masks(permute: bool = False) -> dict[str, torch.Tensor]:
    return {"conv": rgp_mask(16, 16, (3, 3), 8, 2, permute=permute), "down": rgp_mask(32, 16, (1, 1), 8, 2),
            "hidden": rgp_mask(32, 32, (), 8, 2)}


def tiny_materialise(timer, **kwargs):
    torch.manual_seed(0)
    model = TinyNet().eval()
    kwargs.setdefault("forms", ("grouped", "bmm"))
    return model, *materialise(model, tiny_masks(), torch.randn(4, 3, 8, 8), "cpu", 1, timer=timer,
                                end_to_end=False, **kwargs)


def test_materialise_picks_the_fastest_form_only_where_faster_than_masked():
    timer = fixed_timer({MASKED: 1.0, "grouped": 0.5, "bmm": 2.0})
    _, fast, report = tiny_materialise(timer)
    chosen = report.chosen_forms()
    assert chosen == {"conv": "grouped", "down": "grouped", "hidden": MASKED}
    hidden = next(layer for layer in report.layers if layer.name == "hidden")
    assert hidden.reason.startswith("kept masked: slower") and hidden.candidate("bmm").ratio == pytest.approx(0.5)
    conv = next(layer for layer in report.layers if layer.name == "conv")
    assert conv.candidate("grouped").ratio == pytest.approx(2.0) and conv.speedup == pytest.approx(2.0)
    assert isinstance(fast.hidden, nn.Linear) and not prune.is_pruned(fast.hidden)  # kept masked, mask baked in
    assert all(MASKED in seen for seen in timer.calls_seen)  # masked dense is timed with every candidate set


def test_materialise_needs_a_margin_over_masked_dense():
    _, _, report = tiny_materialise(fixed_timer({"grouped": 0.97, "bmm": 0.97}))
    assert set(report.chosen_forms().values()) == {MASKED}
    _, _, report = tiny_materialise(fixed_timer({"grouped": 0.97, "bmm": 0.97}), min_speedup=1.0)
    assert set(report.chosen_forms().values()) == {"grouped", "bmm"}


def test_materialise_output_equals_masked_and_leaves_the_model_alone():
    model, fast, report = tiny_materialise(fixed_timer({"grouped": 0.5, "bmm": 0.5}))
    assert not any(prune.is_pruned(m) for m in model.modules())
    assert report.output_error <= TOLERANCE
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    x = torch.randn(4, 3, 8, 8)
    masked = model_copy_with_masks(model, tiny_masks())
    with torch.inference_mode():
        assert relative_error(fast(x), masked(x)) <= TOLERANCE
        assert torch.equal(fast(x), fast(x))


def test_materialise_uses_the_models_own_prune_masks():
    torch.manual_seed(0)
    model = TinyNet().eval()
    for name, mask in tiny_masks().items():
        prune.custom_from_mask(model.get_submodule(name), "weight", mask.float())
    _, report = materialise(model, None, torch.randn(2, 3, 8, 8), threads=1, forms=("grouped",),
                            timer=fixed_timer({"grouped": 0.5}), end_to_end=False)
    assert [layer.name for layer in report.layers] == ["conv", "down", "hidden"]
    assert report.chosen_forms()["hidden"] == MASKED and "no usable fast form" in report.layers[2].reason


def test_report_explains_kept_layers_and_lists_every_candidate():
    torch.manual_seed(0)
    model = TinyNet().eval()
    masks = tiny_masks()
    masks["conv"] = masks["conv"].clone()
    masks["conv"][0, 1, 0, 0] = ~masks["conv"][0, 1, 0, 0]  # not block-structured any more
    channels = np.ones((32, 16), dtype=bool)
    channels[:16, 1:] = False  # half the outputs read 1 input, half read 16: padding would double the work
    masks["down"] = torch.from_numpy(channels)[:, :, None, None]
    _, report = materialise(model, masks, torch.randn(2, 3, 8, 8), threads=1, forms=("grouped", "bmm", "tapsum"),
                            timer=fixed_timer({"bmm": 0.5}), end_to_end=False)
    conv, down, hidden = report.layers
    assert conv.reason == "kept masked: mask varies within kernels (not whole-kernel block sparsity)"
    assert down.reason.startswith("kept masked: uneven groups") and down.padding_overhead > 1.5
    assert hidden.chosen == "bmm" and [c.form for c in hidden.candidates] == ["bmm"]
    table = report.layer_table()
    for text in ("`conv`", "`down`", "`hidden`", "2.00×", "kept masked: uneven groups", "bmm"):
        assert text in table
    data = report.to_dict()
    assert data["layers"][2]["candidates"][0]["ratio"] == pytest.approx(2.0)
    assert data["threads"] == 1 and data["torch_version"] == torch.__version__ and "glibc" in data["allocator"]


def test_forced_plan_rebuilds_the_same_model_without_timing():
    _, fast, report = tiny_materialise(fixed_timer({"grouped": 0.5, "bmm": 0.5}))
    timer = fixed_timer({})
    _, again, report_again = tiny_materialise(timer, forced=report.chosen_forms())
    assert timer.calls_seen == [] and report_again.chosen_forms() == report.chosen_forms()
    x = torch.randn(4, 3, 8, 8)
    with torch.inference_mode():
        assert torch.equal(fast(x), again(x))
    with pytest.raises(ValueError, match="not usable"):
        tiny_materialise(timer, forced={"hidden": "grouped"})


def test_materialise_restores_the_thread_count():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _, _, report = tiny_materialise(fixed_timer({}))
        assert torch.get_num_threads() == 2 and report.threads == 1
    finally:
        torch.set_num_threads(previous)


def test_materialise_measures_end_to_end_with_both_baselines_named():
    torch.manual_seed(0)
    _, report = materialise(TinyNet().eval(), tiny_masks(), torch.randn(2, 3, 8, 8), threads=1,
                            forms=("grouped", "bmm"), timer=fixed_timer({"grouped": 0.5}), compile_dense=False,
                            end_to_end_rounds=2)
    e2e = report.end_to_end
    assert set(e2e.seconds) == {"dense", "masked", "materialised"} and e2e.speedup_vs_dense["dense"] == 1.0
    assert e2e.mac_limit > 1.0 and e2e.fraction_of_limit == pytest.approx(
        e2e.speedup_vs_dense["materialised"] / e2e.mac_limit)
    assert "MAC limit" in report.end_to_end_table() and "materialised" in report.end_to_end_table()


# Per model: materialised == masked within 1e-5, with each family of forms chosen everywhere it applies.
MODELS = {  # name -> (in_channels, image size, nodes, degree)
    "mlp": (1, 8, 64, 8),
    "resnet20": (3, 32, 16, 4),
    "resnet56": (3, 32, 16, 2),
    "resnet18": (3, 32, 64, 8),
    "vgg16": (3, 32, 64, 8),
}


def model_and_masks(name: str, permute: bool = False):
    in_channels, size, nodes, degree = MODELS[name]
    cfg = make_cfg(f"model={name}")
    torch.manual_seed(0)
    model = build_model(cfg.model, in_channels, size, 10).eval()
    example = torch.randn(2, in_channels, size, size)
    layers = find_prunable_layers(model, example, cfg.layers)
    adjacency, _ = build_graph(nodes, degree, strategy="none", start="random", seed=0)
    rng = np.random.default_rng(0)
    masks = {}
    for layer in layers:
        channels = block_mask(adjacency, layer.out_channels, layer.in_channels)
        if permute:
            channels = channels[rng.permutation(layer.out_channels)][:, rng.permutation(layer.in_channels)]
        block = torch.from_numpy(np.ascontiguousarray(channels))
        masks[layer.name] = block.reshape(block.shape + (1,) * (len(layer.weight_shape) - 2)).expand(
            layer.weight_shape).contiguous()
    return model, masks, example


def check_model(name: str, preferred: tuple[str, ...], permute: bool = False) -> None:
    model, masks, example = model_and_masks(name, permute)
    timer = fixed_timer(dict.fromkeys(preferred, 0.5))
    fast, report = materialise(model, masks, example, threads=1, forms=preferred, timer=timer, end_to_end=False)
    masked = model_copy_with_masks(model, masks)
    x = torch.randn_like(example)
    with torch.inference_mode():
        assert relative_error(fast(x), masked(x)) <= TOLERANCE
        assert torch.equal(fast(x), fast(x))
    assert all(layer.chosen in preferred for layer in report.layers), report.layer_table()


def model_copy_with_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    masked = copy.deepcopy(model)
    for name, mask in masks.items():
        prune.custom_from_mask(masked.get_submodule(name), "weight", mask.float())
    return masked.eval()


@pytest.mark.parametrize("name", list(MODELS))
def test_materialised_model_equals_masked_with_grouped_forms(name):
    check_model(name, ("grouped", "bmm"))


@pytest.mark.parametrize("name", list(MODELS))
def test_materialised_model_equals_masked_with_the_cpp_kernel(cpp_kernel, name):
    check_model(name, ("direct_shift", "direct"), permute=name == "resnet18")


def test_mac_counts_match_the_project_cost_model():
    from rgp_bench.measure import measure_costs

    model, masks, example = model_and_masks("resnet20")
    masked = model_copy_with_masks(model, masks)
    counts = masked_layer_macs(masked, example[:1])
    costs = measure_costs(masked, example[:1], prunable=list(masks))
    assert {c.name: c.macs for c in costs.layers} == {n: c.dense for n, c in counts.items()}
    assert mac_reduction(counts) == pytest.approx(costs.total.macs / costs.total.macs_effective, rel=1e-6)


def test_dense_copy_restores_the_unmasked_weights():
    module, _ = make_case("conv3x3")
    model = nn.Sequential(module)
    dense = dense_copy(model)
    assert not prune.is_pruned(dense)
    assert torch.equal(dense[0].weight, module.weight_orig)


def test_cpp_custom_op_passes_opcheck(cpp_kernel):
    module, x = make_case("uneven_permuted_stride2")
    fast = _build("direct_shift", module)
    g = fast.geometry(x.shape[2], x.shape[3])
    residual = torch.randn(x.shape[0], fast.out_channels, g.h_out, g.w_out)
    args = (x, fast.weight, fast.in_index, fast.out_index, fast.bias, residual, g.phases, g.row_base, g.row_end,
            list(fast.layout.shift), fast.out_channels, g.h_out, g.w_out, *fast.stride, *fast.padding, g.hq, g.wq,
            g.plane_stride, g.tile_kind, g.tile_vectors, g.tile_block, g.tile_rows, True, True)
    torch.library.opcheck(torch.ops.rgp_bench.block_sparse_conv2d.default, args,
                          test_utils=("test_schema", "test_faketensor"))


@pytest.mark.slow
def test_materialised_model_with_the_cpp_kernel_compiles_as_a_whole(cpp_kernel):
    from rgp_bench.speedup.end_to_end import compile_frozen

    _, fast, report = tiny_materialise(fixed_timer({"direct_shift": 0.5, "gemm": 0.4}), forms=("direct_shift", "gemm"))
    assert {"direct_shift", "gemm"} <= set(report.chosen_forms().values()) and "ReLUs" in report.fusion
    x = torch.randn(4, 3, 8, 8)
    with torch.inference_mode():
        assert relative_error(compile_frozen(fast)(x), fast(x)) <= TOLERANCE
