"""Structured-config schemas: every Hydra group is typed, so typos and wrong types fail at compose time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class DatasetCfg:
    """Which data to load and how to split it. The test split is used for reporting only."""

    name: str = MISSING
    root: str = "data"
    download: bool = False
    # Validation is carved from the training set with a seeded split (never the test set).
    val_fraction: float = 0.1
    # Datasets without an official test split (digits, synthetic) hold this fraction out as test.
    test_fraction: float = 0.2
    split_seed: int = 0
    augment: bool = True
    # Only used by the synthetic dataset; real datasets fix these themselves.
    channels: int = 3
    image_size: int = 32
    num_classes: int = 10
    num_samples: int = 512


@dataclass
class ModelCfg:
    """Architecture. Models adapt to the dataset's channels, image size and class count."""

    name: str = MISSING
    # mlp only: hidden width and number of hidden layers (graph2nn style).
    width: int = 512
    depth: int = 4


@dataclass
class MethodCfg:
    """Fields every pruning method has. `regime: auto` means the method's canonical regime."""

    name: str = MISSING
    canonical_regime: str = "scratch"


@dataclass
class RGPCfg(MethodCfg):
    name: str = "rgp"
    canonical_regime: str = "scratch"
    # "auto" = 64 capped at the narrowest masked layer; an int is used as is (error if too large).
    nodes: Any = "auto"
    # None = derived from the ratio (nearest feasible degree); an int overrides the ratio.
    degree: Any = None
    self_loops: bool = False
    strategy: str = "anneal"
    start: str = "random"
    graph_iters: Any = None
    graph_seconds: Any = None
    # Ablation: permute the node->channel map independently in every layer.
    permute_layers: bool = False
    # Rescale the init by 1/sqrt(density) to keep the dense fan-in variance.
    rescale_init: bool = False


@dataclass
class MagnitudeCfg(MethodCfg):
    name: str = "magnitude"
    canonical_regime: str = "finetune"
    scope: str = "global"


@dataclass
class RandomCfg(MethodCfg):
    name: str = "random"
    canonical_regime: str = "scratch"
    scope: str = "layer"


@dataclass
class LayersCfg:
    """Which layers are prunable. Every method prunes exactly this set."""

    types: list[str] = field(default_factory=lambda: ["Conv2d", "Linear"])
    exclude_stem: bool = True
    exclude_classifier: bool = True
    # Grouped/depthwise convs (e.g. MobileNet-v2) have no channel-to-channel block structure; dense by default.
    include_grouped: bool = False
    # Extra module names (as in model.named_modules()) to leave dense.
    exclude: list[str] = field(default_factory=list)


@dataclass
class TrainCfg:
    """Training budget and recipe. `regime` picks scratch (prune at init) or finetune (train dense first)."""

    regime: str = "auto"
    epochs: int = 30
    # Dense epochs before pruning in the finetune regime; None = same as `epochs`.
    pretrain_epochs: Any = None
    batch_size: int = 128
    eval_batch_size: int = 512
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    step_size: int = 30
    gamma: float = 0.1
    label_smoothing: float = 0.0
    # Learning rate for the fine-tuning phase; None = same as `lr`.
    finetune_lr: Any = None
    # Debug/smoke budget: at most this many batches per epoch in training and evaluation (null = all).
    limit_batches: Any = None
    progress: bool = True


@dataclass
class HardwareCfg:
    """Where and how to compute."""

    name: str = "auto"
    device: str = "auto"
    precision: str = "fp32"
    workers: int = 0
    deterministic: bool = True


@dataclass
class LoggerCfg:
    """Experiment tracking. A logger failure never fails the run."""

    name: str = "wandb"
    mode: str = "offline"
    project: str = "rgp-bench"
    entity: Any = None
    tags: list[str] = field(default_factory=list)


@dataclass
class BenchCfg:
    """The root config: groups plus the top-level comparison keys."""

    dataset: DatasetCfg = MISSING
    model: ModelCfg = MISSING
    method: Any = MISSING
    hardware: HardwareCfg = MISSING
    train: TrainCfg = MISSING
    logger: LoggerCfg = MISSING
    layers: LayersCfg = field(default_factory=LayersCfg)
    # Fraction of weights removed from the prunable layers.
    ratio: float = 0.9
    seed: int = 0
    # Where reusable artefacts live: graphs, dense checkpoints, and the run store (checkpoints + records).
    cache_dir: str = "${oc.env:RGP_BENCH_CACHE,.rgp_cache}"
    # Skip a run whose identical config already completed (its record is copied into the new run dir).
    skip_complete: bool = True


METHOD_SCHEMAS: dict[str, type[MethodCfg]] = {
    "rgp": RGPCfg,
    "magnitude": MagnitudeCfg,
    "random": RandomCfg,
}


def register() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="bench_schema", node=BenchCfg)
    cs.store(group="dataset", name="dataset_schema", node=DatasetCfg)
    cs.store(group="model", name="model_schema", node=ModelCfg)
    cs.store(group="hardware", name="hardware_schema", node=HardwareCfg)
    cs.store(group="train", name="train_schema", node=TrainCfg)
    cs.store(group="logger", name="logger_schema", node=LoggerCfg)
    for name, schema in METHOD_SCHEMAS.items():
        cs.store(group="method", name=f"{name}_schema", node=schema)
