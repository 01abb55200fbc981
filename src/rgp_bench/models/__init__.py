"""Models: `build_model(cfg, in_channels, image_size, num_classes)`, from the registry that each model module fills
with `@register_model` (rgp_bench.models.registry).

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

from typing import Any

from torch import nn

from rgp_bench.core.errors import UserError, choices_error, positive_int

# Each model module registers its builders when imported, in this order: the order of MODELS.
from rgp_bench.models import mlp, resnet_cifar, vgg, torchvision_models, cnn1d  # noqa: F401  # isort: skip
from rgp_bench.models.init import init_weights
from rgp_bench.models.registry import MODEL_REGISTRY, ModelEntry, register_model

MODELS: tuple[str, ...] = tuple(MODEL_REGISTRY)


def models_for(spatial_dims: int) -> tuple[str, ...]:
    """The models that take inputs with this many spatial dims (2: images, 1: signals)."""
    return tuple(n for n, e in MODEL_REGISTRY.items() if e.spatial_dims in (None, spatial_dims))


IMAGE_MODELS: tuple[str, ...] = models_for(2)


def min_image_size(name: str, image_size: int = 32) -> int:
    """The smallest square image model `name` accepts (it may depend on the requested size)."""
    return _entry(name).min_size(image_size)[0]


def _entry(name: str) -> ModelEntry:
    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise choices_error("model", name, MODELS) from None


def build_model(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int = 2) -> nn.Module:
    """Build and initialise model `cfg.name` for inputs of in_channels × image_size^spatial_dims and num_classes.

    `spatial_dims` is 2 for images and 1 for signals (MNIST-1D). Raises UserError (one line) for an unknown
    name, non-positive sizes, or a model that does not fit the dataset (e.g. vgg16 on 8×8 images, or an
    image model on 1-D signals).
    """
    name = str(cfg.name)
    entry = _entry(name)
    in_channels = positive_int("in_channels", in_channels)
    image_size = positive_int("image_size", image_size)
    num_classes = positive_int("num_classes", num_classes)
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
    model = entry.build(cfg, in_channels, image_size, num_classes, spatial_dims)
    init_weights(model)
    return model


__all__ = ["IMAGE_MODELS", "MODELS", "build_model", "init_weights", "min_image_size", "models_for", "register_model"]
