"""Structured-config schemas: every Hydra group is typed, every choice is an enum, every range is declared here.

The YAML files under `conf/` hold only what differs from these defaults. Method schemas live with their
methods (`rgp_bench.methods.*`) and are registered from the method registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from rgp_bench.config.choices import Device, LayerType, LoggerMode, Optimizer, Precision, Regime, Sanity, Schedule
from rgp_bench.config.fields import KeysFrom, NonEmpty, Number, setting

FRACTION = Number(lo=0.0, hi=1.0, lo_open=True)  # (0, 1)
SEED = Number(lo=0, hi=2**32 - 1, hi_open=False, integer=True)
POSITIVE_INT = Number(lo=1, integer=True)
NON_NEGATIVE_INT = Number(lo=0, integer=True)
MIN_SAMPLES = Number(lo=20, integer=True)  # MNIST-1D: two signals per class


@dataclass
class DatasetCfg:
    """Which data to load and how to split it. The test split is used for reporting only."""

    name: str = MISSING
    root: str = "data"
    download: bool = False
    # Validation is carved from the training set with a seeded split (never the test set).
    val_fraction: float = setting(0.1, check=FRACTION)
    # Datasets without an official test split (digits, synthetic) hold this fraction out as test.
    test_fraction: float = setting(0.2, check=FRACTION)
    split_seed: int = setting(0, check=SEED)
    augment: bool = True
    # Only used by the synthetic dataset; real datasets fix these themselves.
    channels: int = setting(3, check=POSITIVE_INT)
    image_size: int = setting(32, check=POSITIVE_INT)
    num_classes: int = setting(10, check=Number(lo=2, integer=True))
    num_samples: int = setting(512, check=POSITIVE_INT)


def _mnist1d_options() -> list[str]:
    from rgp_bench.data.mnist1d import generator_options

    return generator_options()


@dataclass
class Mnist1dCfg(DatasetCfg):
    """MNIST-1D, generated offline: `num_samples` signals (80 % train, 20 % test by default, as published)."""

    name: str = "mnist1d"
    num_samples: int = setting(5000, check=MIN_SAMPLES)
    # The generator's seed (42 = the published dataset); split_seed seeds the validation carve-out.
    generator_seed: int = setting(42, check=SEED)
    # Other arguments of mnist1d.data.get_dataset_args (e.g. shuffle_seq, train_split, final_seq_length).
    generator: dict[str, Any] = setting(check=KeysFrom(_mnist1d_options), factory=dict)


@dataclass
class ModelCfg:
    """Architecture. Models adapt to the dataset's channels, image size and class count."""

    name: str = MISSING
    # mlp only: hidden width and number of hidden layers (graph2nn style).
    width: int = setting(512, check=POSITIVE_INT)
    depth: int = setting(4, check=POSITIVE_INT)


@dataclass
class LayersCfg:
    """Which layers are prunable. Every method prunes exactly this set."""

    types: list[LayerType] = setting(check=NonEmpty("at least one of " + ", ".join(LayerType.values())),
                                     factory=lambda: [LayerType.Conv1d, LayerType.Conv2d, LayerType.Linear])
    exclude_stem: bool = True
    exclude_classifier: bool = True
    # Grouped/depthwise convs (e.g. MobileNet-v2) have no channel-to-channel block structure; dense by default.
    include_grouped: bool = False
    # Extra module names (as in model.named_modules()) to leave dense.
    exclude: list[str] = field(default_factory=list)


@dataclass
class TrainCfg:
    """Training budget and recipe. `regime` picks scratch (prune at init) or finetune (train dense first)."""

    # auto = the method's canonical regime.
    regime: Regime = Regime.auto
    epochs: int = setting(30, check=NON_NEGATIVE_INT)
    # Dense epochs before pruning in the finetune regime; None = same as `epochs`.
    pretrain_epochs: int | None = setting(None, check=Number(lo=0, integer=True, nullable=True))
    batch_size: int = setting(128, check=POSITIVE_INT)
    eval_batch_size: int = setting(512, check=POSITIVE_INT)
    optimizer: Optimizer = Optimizer.sgd
    lr: float = setting(0.1, check=Number(lo=0, lo_open=True))
    momentum: float = setting(0.9, check=Number(lo=0.0, hi=1.0))
    nesterov: bool = False
    weight_decay: float = setting(5e-4, check=Number(lo=0))
    schedule: Schedule = Schedule.cosine
    step_size: int = setting(30, check=POSITIVE_INT)
    gamma: float = setting(0.1, check=Number(lo=0, lo_open=True))
    label_smoothing: float = setting(0.0, check=Number(lo=0.0, hi=1.0))
    # Learning rate for the fine-tuning phase; None = same as `lr`.
    finetune_lr: float | None = setting(None, check=Number(lo=0, lo_open=True, nullable=True))
    # Debug/smoke budget: at most this many batches per epoch in training and evaluation (null = all).
    limit_batches: int | None = setting(None, check=Number(lo=1, integer=True, nullable=True))
    progress: bool = True


@dataclass
class HardwareCfg:
    """Where and how to compute."""

    name: str = "auto"
    device: Device = Device.auto
    precision: Precision = Precision.fp32
    workers: int = setting(0, check=NON_NEGATIVE_INT)
    deterministic: bool = True
    # torch's intra-op threads; null = the cores available to the process (1 in a joblib worker). Part of a
    # run's identity: results depend on it in the last bits.
    threads: int | None = setting(None, check=Number(lo=1, integer=True, nullable=True))


@dataclass
class LatencyCfg:
    """Measured inference latency of the run's model: dense, masked and materialised, timed interleaved."""

    # On for real runs; the tests' fast path turns it off.
    enabled: bool = True
    batch_sizes: list[int] = setting(check=NonEmpty("at least one batch size"), factory=lambda: [1, 64])
    # Interleaved rounds per batch size, and the seconds each measurement runs (torch.utils.benchmark).
    rounds: int = setting(5, check=POSITIVE_INT)
    min_run_time: float = setting(0.05, check=Number(lo=0, lo_open=True))
    # Build RGP's C++ block-sparse kernels when no build is cached for this machine and torch version (about a
    # minute, once; a log line says so; `make install` normally built them already). false: use them only if cached.
    build_kernel: bool = True


@dataclass
class MeasureCfg:
    latency: LatencyCfg = field(default_factory=LatencyCfg)


@dataclass
class LoggerCfg:
    """Experiment tracking. A logger failure never fails the run."""

    name: str = "wandb"
    mode: LoggerMode = LoggerMode.offline
    project: str = "rgp-bench"
    entity: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class BenchCfg:
    """The root config: groups plus the top-level comparison keys."""

    dataset: DatasetCfg = MISSING
    model: ModelCfg = MISSING
    method: Any = MISSING  # a method's own schema (rgp_bench.methods), chosen by the `method` group
    hardware: HardwareCfg = MISSING
    train: TrainCfg = MISSING
    logger: LoggerCfg = MISSING
    layers: LayersCfg = field(default_factory=LayersCfg)
    measure: MeasureCfg = field(default_factory=MeasureCfg)
    # Fraction removed, in [0, 1): of the prunable weights, or of the model's MACs for MAC-budget methods.
    ratio: float = setting(0.9, check=Number(lo=0.0, hi=1.0))
    seed: int = setting(0, check=SEED)
    # A sanity check on the method's masks (Frankle et al., ICLR 2021): shuffle each layer's mask (keeps layer
    # densities), reinit (keep the masks, draw new weights; finetune regime), invert (keep the lowest scores).
    sanity: Sanity = Sanity["none"]  # type: ignore[valid-type]
    # Where reusable artefacts live: graphs, dense checkpoints, and the run store (checkpoints + records).
    cache_dir: str = "${oc.env:RGP_BENCH_CACHE,.rgp_cache}"
    # Skip a run whose identical config already completed (its record is copied into the new run dir).
    skip_complete: bool = True


GROUP_SCHEMAS: dict[str, type] = {
    "dataset": DatasetCfg,
    "model": ModelCfg,
    "hardware": HardwareCfg,
    "train": TrainCfg,
    "logger": LoggerCfg,
}


def register() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent), the methods' from the method registry.

    Each method is stored as `<name>_schema` (its YAML lists it in `defaults`); a method without a YAML file
    in `conf/method/` (e.g. a plugin) is also stored as `<name>` itself, so `method=<name>` still works.
    """
    from rgp_bench.config.location import conf_dir
    from rgp_bench.methods import METHODS

    cs = ConfigStore.instance()
    cs.store(name="bench_schema", node=BenchCfg)
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group=group, name=f"{group}_schema", node=schema)
    cs.store(group="dataset", name="mnist1d_schema", node=Mnist1dCfg)
    yaml_methods = {p.stem for p in (conf_dir() / "method").glob("*.yaml")}
    for name, method in METHODS.items():
        cs.store(group="method", name=f"{name}_schema", node=method.schema)
        if name not in yaml_methods:
            cs.store(group="method", name=name, node=method.schema)
