"""Structured-config schemas: every Hydra group is typed, every choice is an enum, every range is declared here.

The YAML files under `conf/` hold only what differs from these defaults. Method schemas live with their
methods (`rgp_bench.methods.*`) and are registered from the method registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from rgp_bench.config.choices import Device, LayerType, LoggerMode, Optimizer, Precision, Regime, Sanity, Schedule
from rgp_bench.config.fields import Effect, KeysFrom, NonEmpty, Number, setting

FRACTION = Number(lo=0.0, hi=1.0, lo_open=True)  # (0, 1)
SEED = Number(lo=0, hi=2**32 - 1, hi_open=False, integer=True)
POSITIVE_INT = Number(lo=1, integer=True)
NON_NEGATIVE_INT = Number(lo=0, integer=True)
MIN_SAMPLES = Number(lo=20, integer=True)  # MNIST-1D: two signals per class
# The keys a report groups runs by (dataset, model, ratio, seed): part of everything but never a variant.
IDENTITY = Effect.ALL & ~Effect.VARIANT
# Numerics that can move the last bits (so they name the run and the dense weights) but not the experiment.
NUMERICS = Effect.RESULT | Effect.DENSE


@dataclass
class DatasetCfg:
    """Which data to load and how to split it. The test split is used for reporting only."""

    name: str = setting(MISSING, effect=IDENTITY)
    root: str = setting("data", effect=Effect.NONE)
    download: bool = setting(False, effect=Effect.NONE)
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


# Arguments of mnist1d's generator that rgp-bench sets itself, not through `dataset.generator`.
MNIST1D_OWN_KEYS = ("num_samples", "seed", "url")


def mnist1d_generator_options() -> list[str]:
    """The arguments of mnist1d's generator that `dataset.generator` may change."""
    from mnist1d.data import get_dataset_args  # the generator package: only when its options are checked

    return sorted(k for k in get_dataset_args(as_dict=True) if k not in MNIST1D_OWN_KEYS)


@dataclass
class Mnist1dCfg(DatasetCfg):
    """MNIST-1D, generated offline: `num_samples` signals (80 % train, 20 % test by default, as published)."""

    name: str = "mnist1d"
    num_samples: int = setting(5000, check=MIN_SAMPLES)
    # The generator's seed (42 = the published dataset); split_seed seeds the validation carve-out.
    generator_seed: int = setting(42, check=SEED)
    # Other arguments of mnist1d.data.get_dataset_args (e.g. shuffle_seq, train_split, final_seq_length).
    generator: dict[str, Any] = setting(check=KeysFrom(mnist1d_generator_options), factory=dict)


@dataclass
class ModelCfg:
    """Architecture. Models adapt to the dataset's channels, image size and class count."""

    name: str = setting(MISSING, effect=IDENTITY)
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

    # auto = the method's canonical regime. Reports group by the resolved regime, so it names no variant.
    regime: Regime = setting(Regime.auto, effect=Effect.RESULT)
    # The pruned (or continued) phase; the dense cache hashes the pretraining epochs on their own.
    epochs: int = setting(30, check=NON_NEGATIVE_INT, effect=Effect.RESULT | Effect.VARIANT)
    # Dense epochs before pruning in the finetune regime; None = same as `epochs`.
    pretrain_epochs: int | None = setting(None, check=Number(lo=0, integer=True, nullable=True),
                                          effect=Effect.RESULT | Effect.VARIANT)
    batch_size: int = setting(128, check=POSITIVE_INT)
    eval_batch_size: int = setting(512, check=POSITIVE_INT, effect=Effect.RESULT)
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
    finetune_lr: float | None = setting(None, check=Number(lo=0, lo_open=True, nullable=True),
                                        effect=Effect.RESULT | Effect.RECIPE | Effect.VARIANT)
    # Debug/smoke budget: at most this many batches per epoch in training and evaluation (null = all).
    limit_batches: int | None = setting(None, check=Number(lo=1, integer=True, nullable=True))
    progress: bool = setting(True, effect=Effect.NONE)


@dataclass
class HardwareCfg:
    """Where and how to compute."""

    name: str = setting("auto", effect=Effect.NONE)
    # The device and the data-loader workers can change the last bits, not the experiment.
    device: Device = setting(Device.auto, effect=NUMERICS)
    precision: Precision = Precision.fp32
    workers: int = setting(0, check=NON_NEGATIVE_INT, effect=NUMERICS)
    deterministic: bool = True
    # torch's intra-op threads; null = the cores available to the process (1 in a joblib worker). Part of a
    # run's identity: results depend on it in the last bits.
    threads: int | None = setting(None, check=Number(lo=1, integer=True, nullable=True))


# Latency settings change the measured speed-ups (part of a run's identity), never the accuracy: they neither split
# a report's comparisons nor a wandb recipe.
TIMING = Effect.RESULT


@dataclass
class LatencyCfg:
    """Measured inference latency of the run's model: dense, masked (masks folded into the weights), materialised and
    an equal-MAC dense twin, timed interleaved; cached by the model's structure, so a sweep's seeds measure once."""

    enabled: bool = True
    # Batch sizes to time; each is capped so that one batch holds at most `max_batch_elements` input values (a
    # 224x224 image batch is timed at 8, not 64). The largest is the headline.
    batch_sizes: list[int] = setting(check=NonEmpty("at least one batch size"), factory=lambda: [1, 64], effect=TIMING)
    max_batch_elements: int = setting(2**21, check=POSITIVE_INT, effect=TIMING)
    # Threads the timing runs on (null: the run's threads). One thread is the figure that survives a busy machine.
    threads: int | None = setting(1, check=Number(lo=1, integer=True, nullable=True), effect=TIMING)
    # Interleaved rounds per batch size: at least `rounds`; more, up to `max_rounds`, while the speed-ups' relative
    # spread (IQR over median of the per-round ratios) is above `noise`; a figure still above it is flagged noisy.
    rounds: int = setting(3, check=POSITIVE_INT, effect=TIMING)
    max_rounds: int = setting(15, check=POSITIVE_INT, effect=TIMING)
    noise: float = setting(0.1, check=Number(lo=0, lo_open=True), effect=TIMING)
    # Seconds each measurement runs (torch.utils.benchmark blocked_autorange).
    min_run_time: float = setting(0.02, check=Number(lo=0, lo_open=True), effect=TIMING)
    # Seconds the protocol aims to spend (extra rounds stop here; per-layer form choice gets half of it), and the
    # hard limit after which no layer is timed and no round started. A cache hit costs nothing.
    budget_s: float = setting(1.5, check=Number(lo=0, lo_open=True), effect=TIMING)
    limit_s: float = setting(60.0, check=Number(lo=0, lo_open=True), effect=TIMING)
    # The speed-up over an equal-MAC dense twin (uniformly thinner channels, materialised), and over the dense
    # model compiled by torch.compile (Inductor; about 25 s of compilation on this project's CPU: off by default).
    twin: bool = setting(True, effect=TIMING)
    compiled: bool = setting(False, effect=TIMING)
    # Reuse the timing of an identically structured model measured earlier on this machine (cache_dir/latency).
    cache: bool = setting(True, effect=Effect.NONE)
    # Build RGP's C++ block-sparse kernels when no build is cached for this machine and torch version (about a
    # minute, once; a log line says so; `make install` normally built them already). false: use them only if cached.
    build_kernel: bool = setting(True, effect=TIMING)


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
    logger: LoggerCfg = setting(MISSING, effect=Effect.NONE)
    layers: LayersCfg = field(default_factory=LayersCfg)
    measure: MeasureCfg = field(default_factory=MeasureCfg)
    # Fraction removed, in [0, 1): of the prunable weights, or of the model's MACs for MAC-budget methods.
    ratio: float = setting(0.9, check=Number(lo=0.0, hi=1.0), effect=IDENTITY)
    seed: int = setting(0, check=SEED, effect=IDENTITY)
    # A sanity check on the method's masks (Frankle et al., ICLR 2021): shuffle each layer's mask (keeps layer
    # densities), reinit (keep the masks, draw new weights; finetune regime), invert (keep the lowest scores).
    sanity: Sanity = Sanity["none"]
    # Where reusable artefacts live: graphs, dense checkpoints, and the run store (checkpoints + records).
    cache_dir: str = setting("${oc.env:RGP_BENCH_CACHE,.rgp_cache}", effect=Effect.NONE)
    # Skip a run whose identical config already completed (its record is copied into the new run dir).
    skip_complete: bool = setting(True, effect=Effect.NONE)


GROUP_SCHEMAS: dict[str, type] = {
    "dataset": DatasetCfg,
    "model": ModelCfg,
    "hardware": HardwareCfg,
    "train": TrainCfg,
    "logger": LoggerCfg,
}
