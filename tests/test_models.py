"""Model registry: shapes, parameter counts, conventions the pruning code relies on, errors."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from rgp_bench.config.schema import ModelCfg
from rgp_bench.core.errors import UserError
from rgp_bench.models import IMAGE_MODELS, MODELS, build_model, register_model
from rgp_bench.models.registry import at_least
from rgp_bench.models.resnet_cifar import PadShortcut


def make(name: str, in_channels: int = 3, image_size: int = 32, num_classes: int = 10, **kw) -> nn.Module:
    torch.manual_seed(0)
    return build_model(OmegaConf.structured(ModelCfg(name=name, **kw)), in_channels, image_size, num_classes)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def execution_order(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the Conv2d/Linear modules in the order forward runs them (repeats kept)."""
    order: list[str] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, name=name: order.append(name))
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return order


def test_a_model_name_is_registered_once() -> None:
    assert MODELS[:2] == ("mlp", "resnet20") and MODELS[-1] == "cnn1d"  # the modules' import order
    with pytest.raises(ValueError, match="'vgg16' is registered twice"):
        register_model("vgg16", min_size=at_least(1, "any"))(lambda cfg, c, s, k, d: nn.Identity())


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("in_channels", [3, 1])
def test_every_model_builds_and_runs(name: str, in_channels: int) -> None:
    model = make(name, in_channels=in_channels, num_classes=7).eval()
    x = torch.randn(2, in_channels, 32, 32)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 7)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_pruning_conventions(name: str) -> None:
    model = make(name).eval()
    layers = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    order = execution_order(model, torch.randn(2, 3, 32, 32))
    # Every conv/linear runs exactly once (no sharing, nothing dead) and the stem / classifier
    # are first / last both in execution and in registration order.
    assert sorted(order) == sorted(layers)
    assert order[0] == layers[0] and order[-1] == layers[-1]
    stem, head = dict(model.named_modules())[order[0]], dict(model.named_modules())[order[-1]]
    assert (stem.in_channels if isinstance(stem, nn.Conv2d) else stem.in_features) in (3, 3 * 32 * 32)
    assert isinstance(head, nn.Linear) and head.out_features == 10
    ptrs = [p.data_ptr() for p in model.parameters()]
    assert len(ptrs) == len(set(ptrs))


@pytest.mark.parametrize("name", ["mlp", "resnet20"])
def test_digits_sized_models(name: str) -> None:
    model = make(name, in_channels=1, image_size=8).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("resnet20", 269_722),
        ("resnet56", 853_018),
        ("resnet110", 1_727_962),
        ("resnet18", 11_173_962),
        ("vgg16", 15_249_354),
    ],
)
def test_parameter_counts(name: str, expected: int) -> None:
    assert abs(n_params(make(name)) - expected) <= 0.01 * expected


def test_vgg16_structure() -> None:
    model = make("vgg16")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == 13
    assert [(m.in_features, m.out_features) for m in linears] == [(512, 512), (512, 512), (512, 10)]


def test_option_a_shortcuts_have_no_parameters() -> None:
    model = make("resnet56")
    shortcuts = [m for m in model.modules() if isinstance(m, PadShortcut)]
    assert len(shortcuts) == 2  # one per downsampling stage
    assert all(n_params(m) == 0 for m in shortcuts)
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 1 + 2 * 27  # stem + 2 per block
    y = shortcuts[0](torch.randn(2, 16, 32, 32))
    assert y.shape == (2, 32, 16, 16)
    assert (y[:, :8] == 0).all() and (y[:, 24:] == 0).all()


def test_resnet18_uses_projection_shortcuts() -> None:
    model = make("resnet18")
    one_by_one = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert len(one_by_one) == 3
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)


def test_same_seed_same_weights_and_kaiming_init() -> None:
    a, b = make("resnet20"), make("resnet20")
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    torch.manual_seed(1)
    c = build_model(OmegaConf.structured(ModelCfg(name="resnet20")), 3, 32, 10)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    conv = a.layers[2][0].conv2.weight  # 64×64×3×3: std should be sqrt(2 / fan_in)
    assert conv.std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)
    assert torch.equal(a.fc.bias, torch.zeros(10))
    assert torch.equal(a.bn1.weight, torch.ones(16)) and torch.equal(a.bn1.bias, torch.zeros(16))


def test_torchvision_models_adapt_small_inputs() -> None:
    r50 = make("resnet50", in_channels=1)
    assert r50.conv1.in_channels == 1 and r50.conv1.stride == (1, 1)
    assert isinstance(r50.maxpool, nn.Identity)
    mb = make("mobilenet_v2")
    assert mb.features[0][0].stride == (1, 1)
    big = make("resnet50", image_size=64)
    assert big.conv1.kernel_size == (7, 7) and isinstance(big.maxpool, nn.MaxPool2d)


def test_mlp_width_and_depth() -> None:
    model = make("mlp", in_channels=1, image_size=8, width=32, depth=3)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 32), (32, 32), (32, 10)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == 3


def test_misfit_model_is_a_user_error() -> None:
    with pytest.raises(UserError, match=r"vgg16 needs images of at least 32x32.*has 8x8"):
        make("vgg16", in_channels=1, image_size=8)
    with pytest.raises(UserError, match="mobilenet_v2"):
        make("mobilenet_v2", image_size=8)


def test_unknown_model_and_bad_sizes() -> None:
    with pytest.raises(UserError, match="'resnet99'") as info:
        make("resnet99")
    assert "vgg16" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UserError, match="num_classes"):
        make("resnet20", num_classes=0)
    with pytest.raises(UserError, match="in_channels"):
        make("mlp", in_channels=0)
    with pytest.raises(UserError, match=r"model\.depth"):
        make("mlp", depth=0)
