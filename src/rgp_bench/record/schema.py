"""The run record as a typed dataclass tree; `to_dict()` gives the `results.json` layout (docs/results-record.md).

Field order is the file's key order. `RunRecord.from_dict` reads a stored record back and raises
`RecordError` when it is not a complete record of this schema, so a reader never works on a guess.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

from rgp_bench.record.costs import CostTotals, LayerCost, Reduction

SCHEMA_VERSION = 3


class RecordError(ValueError):
    """A stored record that is not a complete run record of this schema."""


@dataclass
class Epochs:
    pretrain: int
    train: int
    total: int
    # Epochs restored from a checkpoint instead of trained in this process.
    resumed_from: int


@dataclass
class FinalScores:
    """Test scores at the last epoch (percent; loss is mean cross-entropy)."""

    epoch: int
    loss: float
    top1: float
    top5: float


@dataclass
class BestValScores:
    """Test scores at the epoch with the best validation accuracy (ties: lower validation loss)."""

    epoch: int
    val_top1: float
    loss: float
    top1: float
    top5: float


@dataclass
class DenseScores:
    """Test scores of the dense model before pruning (finetune regime), after `epochs` of dense training.

    Not the dense reference of the run: the pruned model trains `epochs.total` epochs, more than these (a dense run,
    `method=dense_finetune`, is the reference at equal epochs). Records written before `epochs` was added lack it.
    """

    loss: float
    top1: float
    top5: float
    epochs: int | None = None


@dataclass
class Accuracy:
    final: FinalScores
    best_val: BestValScores
    dense: DenseScores | None = None


@dataclass
class Sparsity:
    requested: float
    # Over the prunable layers' weights.
    achieved: float
    # Over every parameter of the model.
    overall: float


@dataclass
class BudgetFacts:
    """What `ratio` asked for and what the masks achieved, on the method's budget basis."""

    # "weights": a fraction of the prunable layers' weights; "macs": a fraction of the model's total MACs.
    basis: str
    requested: float
    achieved: float


@dataclass
class VariantLatency:
    """One variant at one batch size: seconds per forward pass, and the speed-up over dense (same rounds)."""

    median: float
    iqr: float
    measurements: int
    speedup: float


@dataclass
class BatchLatency:
    batch_size: int
    # "dense", "masked" and, where there is one, "materialised".
    variants: dict[str, VariantLatency]


@dataclass
class MaterialisedLayer:
    """What the materialised form does with one masked layer, and its measured speed-up over the masked layer."""

    name: str
    form: str
    speedup: float
    reason: str


@dataclass
class Latency:
    """Measured inference latency (eval mode, torch.inference_mode, torch.utils.benchmark, variants interleaved)."""

    device: str
    threads: int
    torch_version: str
    allocator: str
    # How the materialised variant was made ("channels removed", "block-sparse forms where faster"), or None.
    materialised: str | None
    kernel: str
    # Materialised (else masked) over dense at the largest batch size.
    speedup: float
    speedup_batch: int
    batches: list[BatchLatency]
    layers: list[MaterialisedLayer]


@dataclass
class Cost:
    mac_convention: str
    dense: CostTotals
    pruned: CostTotals
    prunable: CostTotals
    prunable_dense: CostTotals
    reduction: Reduction
    layers: list[LayerCost]
    latency: Latency | None = None


@dataclass
class HistoryRow:
    """One training epoch."""

    phase: str
    epoch: int
    lr: float
    train_loss: float
    train_top1: float
    val_loss: float
    val_top1: float
    seconds: float


@dataclass
class CollapseFacts:
    """Whether the masks disconnect the network (rgp_bench.pruning.collapse)."""

    # No input-output path survives, or some prunable layer keeps no weight.
    collapsed: bool
    no_path: bool
    empty_layers: list[str]
    narrowest_layer: str
    narrowest_kept: float


@dataclass
class DenseCache:
    key: str
    hit: bool


@dataclass(frozen=True)
class MethodStyle:
    """How a method is drawn in every report and plot: a colour and a matplotlib marker."""

    color: str
    marker: str


@dataclass(frozen=True)
class MethodFacts:
    """What the method declared about itself at registration (rgp_bench.methods.register_method), recorded so the
    report needs neither the method's code nor torch."""

    # Its masks have RGP's regular block structure, so the block kernels of rgp_bench.speedup apply.
    block_structured: bool
    # The run's model has a materialised (physically smaller or block-kernel) form that `export --materialise` writes.
    exportable: bool
    style: MethodStyle


@dataclass
class RunRecord:
    """Everything one completed run measured, with its identity and provenance."""

    run_id: str
    method: str
    dataset: str
    model: str
    ratio: float
    seed: int
    regime: str
    # The sanity check applied to the masks: none, shuffle, reinit or invert.
    sanity: str
    created: str
    epochs: Epochs
    accuracy: Accuracy
    sparsity: Sparsity
    budget: BudgetFacts
    collapse: CollapseFacts
    cost: Cost
    # Method-specific facts (e.g. rgp: nodes, degree, aspl ...).
    method_info: dict[str, Any]
    history: list[HistoryRow]
    dense_cache: DenseCache | None
    timings: dict[str, float]
    config: dict[str, Any]
    environment: dict[str, Any]
    output_dir: str
    # The method's settings at their schema defaults, so a report tells a variant from the default without the
    # method's code (empty in records written before it was recorded).
    method_defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    # What the method declared at registration (None in records written before it was recorded).
    method_facts: MethodFacts | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as `results.json` stores it (without `schema_version` and `status`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> RunRecord:
        """Read a stored record (with or without `schema_version`/`status`); raise RecordError if it does not fit."""
        if not isinstance(data, dict):
            raise RecordError("not a JSON object")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise RecordError(f"schema_version {version!r}, this code reads {SCHEMA_VERSION}")
        return _build(cls, {k: v for k, v in data.items() if k not in ("schema_version", "status")}, "")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(kind: Any, value: object, where: str) -> Any:
    """Convert parsed JSON `value` into type `kind`, checking it on the way."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        return _build(options[0], value, where)
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise RecordError(f"{where or 'record'} is not an object")
        hints = _hints(kind)
        out = {}
        for f in dataclasses.fields(kind):
            key = f"{where}.{f.name}" if where else f.name
            if f.name not in value:
                if f.default is not dataclasses.MISSING:
                    out[f.name] = f.default
                    continue
                raise RecordError(f"missing key {key!r}")
            out[f.name] = _build(hints[f.name], value[f.name], key)
        return kind(**out)
    if origin is list:
        if not isinstance(value, list):
            raise RecordError(f"{where} is not a list")
        (item,) = typing.get_args(kind)
        return [_build(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{where} is not an object")
        _, item = typing.get_args(kind)
        if not dataclasses.is_dataclass(item):
            return value
        return {k: _build(item, v, f"{where}.{k}") for k, v in value.items()}
    return _scalar(kind, value, where)


def _scalar(kind: Any, value: object, where: str) -> Any:
    if kind is Any:
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecordError(f"{where} is not a number: {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(f"{where} is not an integer: {value!r}")
        return value
    if (kind is bool and not isinstance(value, bool)) or (kind is str and not isinstance(value, str)):
        raise RecordError(f"{where} is not a {kind.__name__}: {value!r}")
    return value
