"""The run record as a typed dataclass tree; `to_dict()` gives the `results.json` layout (docs/results-record.md).

Field order is the file's key order. `RunRecord.from_dict` reads a record of this schema back and raises
`RecordError` when it is not one, so a reader never works on a guess; files of older schemas are read (and
upgraded) by `rgp_bench.record.read`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rgp_bench.record.costs import CostTotals, LayerCost, Reduction
from rgp_bench.record.topology import Topology
from rgp_bench.record.typed import RecordError, build

SCHEMA_VERSION = 3


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
    # "dense", "masked" and, where measured, "materialised", "twin" (equal-MAC dense) and "dense_compiled".
    variants: dict[str, VariantLatency]
    # Relative spread (IQR over median) of the headline variant's per-round speed-ups, and whether it stayed above
    # the protocol's noise threshold after the extra rounds.
    spread: float = 0.0
    noisy: bool = False


@dataclass
class MaterialisedLayer:
    """What the materialised form does with one masked layer, and its measured speed-up over the masked layer."""

    name: str
    form: str
    speedup: float
    reason: str


@dataclass
class LatencyProtocol:
    """How the latency was measured: batch sizes after fitting, rounds, time spent, and whether it was reused."""

    batch_sizes: list[int]
    rounds: int
    seconds: float
    budget_s: float
    # The structure key: runs whose models share it (architecture, mask structure, threads, protocol) share timings.
    structure_key: str
    # The run whose measurement this is, when reused from the cache (None: measured by this run).
    reused_from: str | None = None


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
    # Which variant the headline `speedup` is ("materialised" or "masked": the fastest deployable form).
    headline: str = "materialised"
    # How "masked" ran: the masks multiplied into the weights once ("folded") or on every call ("per call").
    masked_form: str = "per call"
    # Dense MACs / effective MACs: the speed-up that skipping every pruned MAC would give, and the headline's
    # fraction of it.
    mac_limit: float | None = None
    fraction_of_limit: float | None = None
    # The headline over the dense model compiled (torch.compile), and over an equal-MAC dense twin.
    speedup_vs_compiled: float | None = None
    speedup_vs_twin: float | None = None
    twin: str | None = None
    # Effective MACs per second of the headline form over those of a large dense matrix product on the same threads.
    efficiency: float | None = None
    peak_macs_per_second: float | None = None
    noisy: bool = False
    protocol: LatencyProtocol | None = None


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
    # None in records upgraded from schema 2, which did not check it.
    collapse: CollapseFacts | None
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
    # The applied masks' topology panel (docs/topology.md); None in records written before it was measured.
    topology: Topology | None = None
    # Peak resident memory (MiB) of each phase of this attempt and of the run (`run`); empty in older records.
    peak_memory_mib: dict[str, float] = dataclasses.field(default_factory=dict)

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
        return build(cls, {k: v for k, v in data.items() if k not in ("schema_version", "status")})

