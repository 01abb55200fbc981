"""Model registry: `build_model(cfg, in_channels, image_size, num_classes)`.

Conventions the pruning code relies on: every prunable layer is an nn.Conv2d or nn.Linear (no
functional convs), no weight is shared, the stem is the first conv/linear that forward runs and the
classifier the last, and option-A shortcuts have no parameters. All models are initialised with
`init_weights` (Kaiming-normal fan_in/relu, zero biases, BN 1/0), so a seed fixes the weights. A model may
declare `FIXED_WIDTH_LAYERS`: layers whose output channels channel methods leave alone (VGG-16's hidden FC
layers; see rgp_bench.pruning.layers).

Each model declares the smallest image it accepts: its total downsampling factor (VGG: five 2×2
max-pools, a hard limit). Smaller inputs are rejected rather than silently degenerating to 1×1 maps
in the later stages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from rgp_bench.core.errors import UserError, choices_error, positive_int
from rgp_bench.models.cnn1d import CNN1D, min_length
from rgp_bench.models.init import init_weights
from rgp_bench.models.mlp import MLP
from rgp_bench.models.resnet_cifar import resnet18_cifar, resnet_cifar
from rgp_bench.models.torchvision_models import (
    mobilenet_v2_adapted,
    resnet50_adapted,
    total_stride,
)
from rgp_bench.models.vgg import VGG

MODELS: tuple[str, ...] = (
    "mlp",
    "resnet20",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet18",
    "vgg16",
    "resnet50",
    "mobilenet_v2",
    "cnn1d",
)


@dataclass(frozen=True)
class _Entry:
    build: Callable[[object, int, int, int], nn.Module]  # (cfg, in_channels, image_size, num_classes)
    # image_size -> (minimum image size, why), evaluated for the requested size.
    min_size: Callable[[int], tuple[int, str]]
    # Input dimensionality the model takes: 2 (images), 1 (signals), or None (any: the MLP flattens).
    spatial_dims: int | None = 2



def _mlp(cfg, c: int, s: int, k: int, spatial_dims: int = 2) -> nn.Module:
    width = positive_int("model.width", cfg.width)
    depth = positive_int("model.depth", cfg.depth)
    return MLP(c * s**spatial_dims, width, depth, k)


def _tv_min(name: str) -> Callable[[int], tuple[int, str]]:
    def rule(size: int) -> tuple[int, str]:
        stride = total_stride(name, size)
        return stride, f"total stride {stride} with the CIFAR-style stem"

    return rule


_REGISTRY: dict[str, _Entry] = {
    "mlp": _Entry(_mlp, lambda s: (1, "any size"), spatial_dims=None),
    "resnet20": _Entry(lambda cfg, c, s, k: resnet_cifar(20, c, k), lambda s: (4, "2 stride-2 stages")),
    "resnet44": _Entry(lambda cfg, c, s, k: resnet_cifar(44, c, k), lambda s: (4, "2 stride-2 stages")),
    "resnet56": _Entry(lambda cfg, c, s, k: resnet_cifar(56, c, k), lambda s: (4, "2 stride-2 stages")),
    "resnet110": _Entry(lambda cfg, c, s, k: resnet_cifar(110, c, k), lambda s: (4, "2 stride-2 stages")),
    "resnet18": _Entry(lambda cfg, c, s, k: resnet18_cifar(c, k), lambda s: (8, "3 stride-2 stages")),
    "vgg16": _Entry(lambda cfg, c, s, k: VGG(c, k), lambda s: (32, "5 max-pools")),
    "resnet50": _Entry(lambda cfg, c, s, k: resnet50_adapted(c, s, k), _tv_min("resnet50")),
    "mobilenet_v2": _Entry(lambda cfg, c, s, k: mobilenet_v2_adapted(c, s, k), _tv_min("mobilenet_v2")),
    "cnn1d": _Entry(lambda cfg, c, s, k: CNN1D(c, s, k), lambda s: (min_length(), "three stride-2 convolutions"),
                    spatial_dims=1),
}
assert tuple(_REGISTRY) == MODELS


def models_for(spatial_dims: int) -> tuple[str, ...]:
    """The models that take inputs with this many spatial dims (2: images, 1: signals)."""
    return tuple(n for n, e in _REGISTRY.items() if e.spatial_dims in (None, spatial_dims))


IMAGE_MODELS: tuple[str, ...] = models_for(2)


def min_image_size(name: str, image_size: int = 32) -> int:
    """The smallest square image model `name` accepts (it may depend on the requested size)."""
    if name not in _REGISTRY:
        raise choices_error("model", name, MODELS)
    return _REGISTRY[name].min_size(image_size)[0]


def build_model(cfg, in_channels: int, image_size: int, num_classes: int, spatial_dims: int = 2) -> nn.Module:
    """Build and initialise model `cfg.name` for inputs of in_channels × image_size^spatial_dims and num_classes.

    `spatial_dims` is 2 for images and 1 for signals (MNIST-1D). Raises UserError (one line) for an unknown
    name, non-positive sizes, or a model that does not fit the dataset (e.g. vgg16 on 8×8 images, or an
    image model on 1-D signals).
    """
    name = str(cfg.name)
    if name not in _REGISTRY:
        raise choices_error("model", name, MODELS)
    in_channels = positive_int("in_channels", in_channels)
    image_size = positive_int("image_size", image_size)
    num_classes = positive_int("num_classes", num_classes)
    entry = _REGISTRY[name]
    if entry.spatial_dims is not None and entry.spatial_dims != spatial_dims:
        kinds = {1: "1-D signals", 2: "images"}
        fits = sorted(models_for(spatial_dims))
        raise UserError(f"model {name} takes {kinds[entry.spatial_dims]}, but the dataset has "
                        f"{kinds[spatial_dims]}; valid models for it: {', '.join(fits)}")
    need, why = entry.min_size(image_size)
    if image_size < need:
        raise UserError(
            f"model {name} needs images of at least {need}x{need} pixels ({why}); "
            f"the dataset has {image_size}x{image_size}" if spatial_dims == 2 else
            f"model {name} needs signals of length at least {need} ({why}); the dataset's have length {image_size}"
        )
    if entry.spatial_dims is None:
        model = entry.build(cfg, in_channels, image_size, num_classes, spatial_dims)  # type: ignore[call-arg]
    else:
        model = entry.build(cfg, in_channels, image_size, num_classes)
    init_weights(model)
    return model


__all__ = ["IMAGE_MODELS", "MODELS", "build_model", "init_weights", "min_image_size", "models_for"]
