"""RGP's C++ block-sparse kernels and the inference fusions: every form and register tile equals masked dense.

The kernels are tested where a build is cached or can be built here (``make install`` builds it); without a
compiler these tests skip. No timing assertions: tile shapes are forced, not measured.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from tests.test_speedup import TOLERANCE, masked_layer, rgp_mask
from torch import nn
from torch.nn.utils import prune

from rgp_bench.speedup import FORMS, analyse_mask, load_kernel, materialise, pack_blocks, relative_error
from rgp_bench.speedup import direct as direct_module
from rgp_bench.speedup import kernel as kernel_module
from rgp_bench.speedup.build_kernel import main as build_kernel_main
from rgp_bench.speedup.fuse import DictConv2d, DictLinear, fuse_for_inference
from rgp_bench.speedup.kernel import SimdInfo, simd_info
from rgp_bench.speedup.linear import block_bases


@pytest.fixture(scope="module")
def cpp_kernel():
    kernel = load_kernel(build=True)
    if kernel is None:
        pytest.skip(f"C++ kernel not available here ({kernel_module.kernel_status().detail})")
    return kernel


def build_form(form: str, module: nn.Module) -> nn.Module:
    return FORMS[form].build(module, pack_blocks(analyse_mask(module.weight_mask))).eval()


def masked_linear(c_in: int, c_out: int, nodes: int, degree: int, bias: bool, permute: bool = False) -> nn.Linear:
    return masked_layer(nn.Linear(c_in, c_out, bias=bias), rgp_mask(c_out, c_in, (), nodes, degree, permute=permute))


# --- the matrix product for Linear layers ("gemm") --------------------------------------------------------------

# (c_in, c_out, nodes, degree, bias, permute): outputs per chunk 8 (one vector), 3 (padded), 16 (a pair of
# vectors), 20 (a pair and a padded one), uneven and permuted groups.
GEMM_CASES = {
    "chunk_of_8": (64, 64, 8, 2, True, False),
    "chunk_of_3_padded": (40, 48, 16, 4, False, False),
    "chunk_of_16": (32, 64, 4, 2, True, False),
    "chunk_of_20": (24, 60, 3, 2, True, False),
    "uneven_permuted": (50, 70, 8, 4, False, True),
    "odd_sizes_permuted": (37, 29, 4, 2, True, True),
}


@pytest.mark.parametrize("batch", [1, 2, 5, 6, 13, 64])
@pytest.mark.parametrize("case", list(GEMM_CASES))
def test_gemm_equals_masked_linear(cpp_kernel, case, batch):
    c_in, c_out, nodes, degree, bias, permute = GEMM_CASES[case]
    module = masked_linear(c_in, c_out, nodes, degree, bias, permute)
    fast = build_form("gemm", module)
    x = torch.randn(batch, c_in, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        assert relative_error(fast(x), module(x)) <= TOLERANCE
        fast.relu = True
        assert relative_error(fast(x), module(x).relu()) <= TOLERANCE


def test_gemm_takes_leading_dimensions_and_is_deterministic(cpp_kernel):
    module = masked_linear(64, 48, 8, 2, True)
    fast = build_form("gemm", module)
    x = torch.randn(2, 3, 64)
    with torch.inference_mode():
        assert relative_error(fast(x), module(x)) <= TOLERANCE
        previous = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            one = fast(x)
            torch.set_num_threads(2)
            two = fast(x)
        finally:
            torch.set_num_threads(previous)
    assert torch.equal(one, two)


def test_gemm_folds_a_following_batch_norm(cpp_kernel):
    module = masked_linear(64, 48, 8, 2, bias=False, permute=True)
    bn = nn.BatchNorm1d(48).eval()
    with torch.no_grad():
        bn.running_mean.normal_(), bn.running_var.uniform_(0.5, 2.0), bn.weight.normal_(), bn.bias.normal_()
    fast = build_form("gemm", module)
    fast.fold_batch_norm(bn)
    x = torch.randn(5, 64)
    with torch.inference_mode():
        assert relative_error(fast(x), bn(module(x))) <= TOLERANCE


def test_block_bases_mark_only_whole_runs_of_consecutive_outputs():
    index = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 9, 8, 10, 11, 12, 13, 14, 15],
                          [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, -1, -1, -1, -1, -1]]).numpy()
    assert block_bases(index).tolist() == [[0, -1], [16, -1]]


def test_gemm_op_passes_opcheck(cpp_kernel):
    fast = build_form("gemm", masked_linear(50, 70, 8, 4, True, True))
    b = fast._buffers
    args = (torch.randn(3, 50), b["weight"], b["in_index"], b["out_index"], b["out_base"], b["bias"], 70, True)
    torch.library.opcheck(torch.ops.rgp_bench.block_sparse_linear.default, args,
                          test_utils=("test_schema", "test_faketensor"))


def test_kernel_rejects_indices_out_of_range(cpp_kernel):
    fast = build_form("gemm", masked_linear(64, 64, 8, 2, False))
    b = fast._buffers
    bad = b["in_index"].clone()
    bad[0, 0] = 64
    with pytest.raises(RuntimeError, match="in_index out of range"):
        cpp_kernel.block_sparse_linear(torch.randn(2, 64), b["weight"], bad, b["out_index"], b["out_base"], None,
                                       64, False)


# --- the convolution's register tiles: every shape this build has, forced -----------------------------------------


def _forced(monkeypatch, *, flat: tuple[int, int] | None = None, rows: tuple[int, int] | None = None) -> None:
    if flat is not None:
        monkeypatch.setattr(direct_module, "choose_tile", lambda *args: flat)
    no_rows = (1, 1, float("inf"))
    monkeypatch.setattr(direct_module, "choose_rows_tile", lambda *args: (*rows, -1.0) if rows else no_rows)


def _flat_shapes(simd) -> list[tuple[int, int]]:
    return [(v, gb) for gb in (1, 2, 4, 8) for v in range(1, simd.max_tile_vectors + 1) if simd.tile_fits(gb, v)]


@pytest.mark.parametrize("form", ["direct", "direct_shift"])
def test_every_flat_tile_equals_masked(cpp_kernel, monkeypatch, form):
    simd = simd_info(cpp_kernel)
    module = masked_layer(nn.Conv2d(20, 36, 3, 2, 1, bias=True), rgp_mask(36, 20, (3, 3), 8, 4, permute=True))
    x = torch.randn(3, 20, 9, 8)
    residual = torch.randn(3, 36, 5, 4)
    for shape in _flat_shapes(simd):
        _forced(monkeypatch, flat=shape)
        fast = build_form(form, module)
        fast.relu = True
        with torch.inference_mode():
            expected = (module(x) + residual).relu()
            assert relative_error(fast(x, residual), expected) <= TOLERANCE, shape
            assert relative_error(fast(x[:1], residual[:1]), expected[:1]) <= TOLERANCE, shape


@pytest.mark.parametrize(("c_out", "size"), [(16, (11, 19)), (32, (7, 5)), (16, (32, 32))])
def test_every_row_tile_equals_masked(cpp_kernel, monkeypatch, c_out, size):
    """Row tiles (3x3 stride 1): partial row tiles, partial vectors, several outputs per chunk, residual + ReLU."""
    simd = simd_info(cpp_kernel)
    module = masked_layer(nn.Conv2d(16, c_out, 3, 1, 1, bias=True), rgp_mask(c_out, 16, (3, 3), 16, 2))
    x = torch.randn(2, 16, *size)
    residual = torch.randn(2, c_out, *size)
    shapes = [(r, v) for v in (1, 2, 4) for r in range(1, 7) if direct_module.rows_tile_fits(r, v, simd)]
    assert shapes
    for shape in shapes:
        _forced(monkeypatch, rows=shape)
        fast = build_form("direct", module)
        assert fast.geometry(*size).tile_rows == shape[0]
        with torch.inference_mode():
            assert relative_error(fast(x), module(x)) <= TOLERANCE, shape
            fast.relu = True
            expected = (module(x) + residual).relu()
            assert relative_error(fast(x, residual), expected) <= TOLERANCE, shape
            assert relative_error(fast(x[:1], residual[:1]), expected[:1]) <= TOLERANCE, shape


# (c_in, c_out, kernel, stride, size, nodes, degree, permute): chunks of 8 and 16 outputs, 3x3 and 1x1, strides 1 and
# 2, maps that no tile shape divides.
PIXEL_CASES = [(32, 64, 3, 1, (5, 5), 8, 2, False), (16, 64, 3, 2, (9, 7), 4, 2, True),
               (32, 64, 1, 2, (8, 8), 8, 2, False), (24, 64, 3, 1, (6, 11), 4, 2, True)]


@pytest.mark.parametrize("case", PIXEL_CASES)
def test_every_pixel_tile_equals_masked(cpp_kernel, monkeypatch, case):
    """Pixel tiles (8 output channels per vector): partial tiles, permuted outputs, residual + ReLU, batch 1."""
    c_in, c_out, kernel, stride, size, nodes, degree, permute = case
    simd = simd_info(cpp_kernel)
    module = masked_layer(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=True),
                          rgp_mask(c_out, c_in, (kernel, kernel), nodes, degree, permute=permute))
    x = torch.randn(2, c_in, *size)
    shapes = [shape for shape in direct_module.PIXEL_SHAPES if direct_module.pixel_tile_fits(*shape, simd)]
    assert shapes
    for shape in shapes:
        monkeypatch.setattr(direct_module, "choose_pixel_tile", lambda *args, shape=shape: (*shape, -1.0))
        fast = build_form("direct", module)
        geometry = fast.geometry(*size)
        assert geometry.tile_kind == direct_module.PIXEL_TILES and geometry.tile_rows == shape[0]
        with torch.inference_mode():
            reference = module(x)
            residual = torch.randn_like(reference)
            assert relative_error(fast(x), reference) <= TOLERANCE, shape
            fast.relu = True
            expected = (reference + residual).relu()
            assert relative_error(fast(x, residual), expected) <= TOLERANCE, shape
            assert relative_error(fast(x[:1], residual[:1]), expected[:1]) <= TOLERANCE, shape


def test_row_tiles_are_chosen_for_narrow_chunks_only_where_they_apply(cpp_kernel):
    simd = simd_info(cpp_kernel)
    mask = rgp_mask(64, 64, (3, 3), 64, 8)
    narrow = build_form("direct", masked_layer(nn.Conv2d(64, 64, 3, 1, 1, bias=False), mask))
    assert narrow.geometry(32, 32).tile_rows > 0  # one output per chunk on a 32x32 map: vertical reuse pays
    strided = build_form("direct", masked_layer(nn.Conv2d(64, 64, 3, 2, 1, bias=False), mask))
    assert strided.geometry(32, 32).tile_kind == direct_module.FLAT_TILES
    wide = build_form("direct", masked_layer(nn.Conv2d(512, 512, 3, 1, 1, bias=False),
                                             rgp_mask(512, 512, (3, 3), 64, 8)))
    # 8 outputs per chunk on a 4x4 map: pixel tiles (an 8-float accumulator per pixel) where 8 floats fill a
    # vector (AVX2); with 16-float vectors (AVX-512) a pixel tile would use half of each, and flat tiles win.
    _, slots, _, chunk_out = wide.weight.shape
    expected = {8: direct_module.PIXEL_TILES, 16: direct_module.FLAT_TILES}
    for target in (SimdInfo(8, 16, 4), SimdInfo(16, 32, 4)):
        chosen = direct_module.plane_geometry(wide.layout, 4, 4, wide.kernel_size, wide.stride, wide.padding,
                                              wide.dilation, int(chunk_out), int(slots), target)
        assert chosen.tile_kind == expected[target.lanes], target
    assert simd.lanes in (4, 8, 16)
    if simd.lanes in expected:  # the loaded build follows the same model
        assert wide.geometry(4, 4).tile_kind == expected[simd.lanes]


def test_conv_folds_a_following_batch_norm(cpp_kernel):
    module = masked_layer(nn.Conv2d(21, 27, 3, 1, 1, bias=True), rgp_mask(27, 21, (3, 3), 8, 2, permute=True))
    bn = nn.BatchNorm2d(27).eval()
    with torch.no_grad():
        bn.running_mean.normal_(), bn.running_var.uniform_(0.5, 2.0), bn.weight.normal_(), bn.bias.normal_()
    x = torch.randn(2, 21, 7, 7)
    for form in ("direct", "direct_shift"):
        fast = build_form(form, module)
        fast.fold_batch_norm(bn)
        with torch.inference_mode():
            assert relative_error(fast(x), bn(module(x))) <= TOLERANCE


# --- fusion -------------------------------------------------------------------------------------------------------


class Block(nn.Module):
    """Conv-BN-ReLU, Conv-BN, a 1x1 conv-BN shortcut, an add (operands in either order) and a ReLU."""

    def __init__(self, shortcut_first: bool, in_place: bool) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(16, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        self.conv2, self.bn2 = nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32)
        self.shortcut = nn.Sequential(nn.Conv2d(16, 32, 1, 2, bias=False), nn.BatchNorm2d(32))
        self.shortcut_first, self.in_place = shortcut_first, in_place

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = self.shortcut(x)
        if self.in_place:
            out += skip
        else:
            out = skip + out if self.shortcut_first else out + skip
        return F.relu(out)


class FusionNet(nn.Module):
    def __init__(self, shortcut_first: bool = False, in_place: bool = False) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.block = Block(shortcut_first, in_place)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Identity(), nn.Linear(32, 32, bias=False),
                                  nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.stem(x)))


def randomise_batch_norms(model: nn.Module) -> nn.Module:
    torch.manual_seed(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_mean.normal_(), m.running_var.uniform_(0.5, 2.0), m.weight.normal_(), m.bias.normal_()
    return model.eval()


FUSION_MASKS = {"block.conv1": rgp_mask(16, 16, (3, 3), 8, 2), "block.conv2": rgp_mask(32, 16, (3, 3), 8, 2),
                "block.shortcut.0": rgp_mask(32, 16, (1, 1), 8, 2), "head.3": rgp_mask(32, 32, (), 8, 2)}
FORCED = {"block.conv1": "direct", "block.conv2": "direct_shift", "block.shortcut.0": "direct", "head.3": "gemm"}


@pytest.mark.parametrize(("shortcut_first", "in_place"), [(False, False), (True, False), (False, True)])
def test_fused_materialised_model_equals_the_masked_one(cpp_kernel, shortcut_first, in_place):
    torch.manual_seed(0)
    model = randomise_batch_norms(FusionNet(shortcut_first, in_place))
    x = torch.randn(2, 3, 8, 8)
    fast, report = materialise(model, FUSION_MASKS, x, threads=1, forms=("direct", "direct_shift", "gemm"),
                               forced=FORCED, end_to_end=False)
    assert report.fusion == "5 BatchNorms folded, 3 ReLUs and 1 residual adds fused into kernels"
    assert report.output_error <= TOLERANCE
    masked = copy.deepcopy(model)
    for name, mask in FUSION_MASKS.items():
        prune.custom_from_mask(masked.get_submodule(name), "weight", mask.float())
    x = torch.randn(3, 3, 8, 8)
    with torch.inference_mode():
        assert relative_error(fast(x), masked(x)) <= TOLERANCE
        assert relative_error(fast(x[:1]), masked(x[:1])) <= TOLERANCE
    kinds = {type(m) for m in fast.modules()}
    assert not kinds & {nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.Flatten, nn.Identity}
    assert isinstance(fast.get_submodule("stem.0"), DictConv2d) and isinstance(fast.get_submodule("head.6"), DictLinear)
    assert fast.get_submodule("block.conv1").relu and fast.get_submodule("head.3").relu
    # The add's residual and final ReLU go into one of its two kernel operands (the first that qualifies).
    assert fast.get_submodule("block.conv2").relu != fast.get_submodule("block.shortcut.0").relu


def test_fusion_leaves_what_it_cannot_prove_alone():
    class Shared(nn.Module):
        """conv's output feeds both the BN and the return value; a BatchNorm1d over a 3-D Linear output."""

        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 4, 3, 1, 1), nn.BatchNorm2d(4)
            self.linear, self.bn1d = nn.Linear(8, 8), nn.BatchNorm1d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            z = self.bn1d(self.linear(y.flatten(2)[..., :8]))  # (N, 4, 8): BatchNorm1d normalises dim 1
            return self.bn(y) + y + z.mean()

    model = randomise_batch_norms(Shared()).requires_grad_(False)
    x = torch.randn(2, 3, 4, 4)
    fused, report = fuse_for_inference(copy.deepcopy(model), x)
    assert report.batch_norms == [] and report.relus == [] and report.residuals == []
    with torch.inference_mode():
        assert torch.allclose(fused(x), model(x), atol=1e-6)


def test_an_untraceable_model_is_returned_as_it_is():
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) if x.sum() > 0 else x  # data-dependent control flow

    model = Branchy().eval()
    fused, report = fuse_for_inference(model, torch.ones(2, 4))
    assert fused is model and report.skipped.startswith("torch.fx cannot trace the model")
    assert report.describe().startswith("no fusion:")


def test_a_graph_that_does_not_run_as_traced_is_left_alone(monkeypatch):
    from rgp_bench.speedup import fuse

    def fail(self, *args):
        raise RuntimeError("in-place update of a graph input")

    monkeypatch.setattr(fuse.ShapeProp, "propagate", fail)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).eval()
    fused, report = fuse_for_inference(model, torch.ones(2, 4))
    assert fused is model and report.skipped.startswith("the traced graph does not run (RuntimeError")


def test_materialise_without_fusion_keeps_the_modules(cpp_kernel):
    torch.manual_seed(0)
    model = randomise_batch_norms(FusionNet())
    fast, report = materialise(model, FUSION_MASKS, torch.randn(2, 3, 8, 8), threads=1,
                               forms=("direct", "direct_shift", "gemm"), forced=FORCED, end_to_end=False, fuse=False)
    assert report.fusion == "off" and any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())


# --- building the kernel ------------------------------------------------------------------------------------------


def test_a_missing_compiler_is_one_clear_line_and_no_build(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(kernel_module, "_module", None)
    monkeypatch.setattr(kernel_module, "_status", None)
    monkeypatch.setenv("RGP_BENCH_EXTENSIONS_DIR", str(tmp_path / "ext"))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.delenv("RGP_BENCH_NO_CPP", raising=False)
    monkeypatch.setattr(kernel_module, "_build", lambda *a: pytest.fail("must not try to compile"))
    assert build_kernel_main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("warning:") and "no C++ compiler" in out[0] and "CXX" in out[0]


def test_build_entry_point_reports_a_cached_build_in_one_line(cpp_kernel, capsys):
    assert build_kernel_main(["--check"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("RGP C++ block-sparse kernel:") and "float lanes" in out[0]


def test_extension_name_covers_the_kernel_headers(monkeypatch, tmp_path):
    source = tmp_path / "block_sparse.cpp"
    source.write_text("// unit\n")
    monkeypatch.setattr(kernel_module, "SOURCE", source)
    name = kernel_module.extension_name()
    (tmp_path / "kernel.h").write_text("// a header\n")
    assert kernel_module.extension_name() != name


def test_runs_build_a_missing_kernel_by_default():
    from rgp_bench.config.schema import LatencyCfg

    assert LatencyCfg().build_kernel is True
