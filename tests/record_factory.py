"""Run records for tests, built as the typed `RunRecord` (so every record a test writes is one the reader accepts)
and written as the run writes them (`stored_form`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rgp_bench.record.costs import CostTotals, LayerCost, Reduction
from rgp_bench.record.io import stored_form
from rgp_bench.record.schema import (
    Accuracy,
    BatchLatency,
    BestValScores,
    BudgetFacts,
    CollapseFacts,
    Cost,
    DenseScores,
    Epochs,
    FinalScores,
    Latency,
    RunRecord,
    Sparsity,
    VariantLatency,
)

MAC_CONVENTION = "1 MAC = one fused multiply-add (fvcore)"


def method_defaults(method: str) -> dict[str, Any]:
    """The method's schema defaults as a run records them (empty for a name the registry does not know)."""
    from rgp_bench.methods import METHODS
    from rgp_bench.run.assemble import method_defaults as defaults_of

    return defaults_of(METHODS[method]) if method in METHODS else {}


def make_record(
    method: str = "rgp",
    ratio: float = 0.5,
    seed: int = 0,
    best: float = 90.0,
    final: float = 90.0,
    *,
    dataset: str = "digits",
    model: str = "mlp",
    regime: str = "scratch",
    method_cfg: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
    run_id: str | None = None,
    epochs: int = 5,
) -> RunRecord:
    """A complete record of one run: test top-1 `best` at the best-validation epoch (validation one point higher)
    and `final` at the last; a weight budget met exactly; params reduced by 0.98 * ratio and MACs by 0.97 * ratio
    of a 1000-parameter, 2000-MAC model; no layers, latency, history or dense phase."""
    config = {
        "dataset": {"name": dataset, "root": "data"},
        "model": {"name": model, "width": 64},
        "method": {"name": method, **(method_cfg or {})},
        "train": {"epochs": epochs, "regime": "auto"},
        "ratio": ratio,
        "seed": seed,
        "hardware": {"device": "cpu"},
    }
    dense = CostTotals(params=1000, params_nonzero=1000, macs=2000, macs_effective=2000)
    pruned = CostTotals(params=1000, params_nonzero=round(1000 * (1 - ratio * 0.98)), macs=2000,
                        macs_effective=round(2000 * (1 - ratio * 0.97)))
    return RunRecord(
        run_id=run_id or f"{method}-{ratio}-{seed}-{best}", method=method, dataset=dataset, model=model,
        ratio=ratio, seed=seed, regime=regime, sanity="none", created="2026-11-21T08:00:00+00:00",
        epochs=Epochs(pretrain=0, train=epochs, total=epochs, resumed_from=0),
        accuracy=Accuracy(final=FinalScores(epoch=epochs, loss=0.1, top1=final, top5=99.0),
                          best_val=BestValScores(epoch=epochs - 1, val_top1=best + 1, loss=0.1, top1=best, top5=99.5)),
        sparsity=Sparsity(requested=ratio, achieved=ratio, overall=ratio * 0.95),
        budget=BudgetFacts(basis="weights", requested=ratio, achieved=ratio),
        collapse=CollapseFacts(collapsed=False, no_path=False, empty_layers=[], narrowest_layer="fc",
                               narrowest_kept=1 - ratio),
        cost=Cost(mac_convention=MAC_CONVENTION, dense=dense, pruned=pruned, prunable=pruned, prunable_dense=dense,
                  reduction=Reduction(params=ratio * 0.98, macs=ratio * 0.97, prunable_params=ratio,
                                      prunable_macs=ratio),
                  layers=[]),
        method_info=info if info is not None else ({"nodes": 8, "degree": 2, "aspl": 2.5} if method == "rgp" else {}),
        history=[], dense_cache=None, timings={"total": 1.0}, config=config,
        environment={"git": {"commit": "abc123", "dirty": False}}, output_dir="/elsewhere",
        method_defaults=method_defaults(method),
    )  # fmt: skip


def dense_scores(top1: float, epochs: int | None = 5) -> DenseScores:
    """The dense model's test scores before pruning (finetune regime); `epochs` None as in older records."""
    return DenseScores(loss=0.2, top1=top1, top5=99.0, epochs=epochs)


def layer(name: str, density: float, *, prunable: bool = True, params: int = 100) -> LayerCost:
    """A conv layer of `params` weights, `density` of them kept."""
    kept = round(params * density)
    return LayerCost(name=name, type="Conv2d", shape=[params], prunable=prunable, params=params, nonzero=kept,
                     density=density, macs=params, macs_effective=kept)


def latency(speedup: float, batch: int = 64) -> Latency:
    """A latency measurement whose materialised (else masked) form is `speedup` times faster than dense."""
    variants = {"dense": VariantLatency(median=0.002, iqr=0.0, measurements=5, speedup=1.0),
                "masked": VariantLatency(median=0.002 / speedup, iqr=0.0, measurements=5, speedup=speedup)}
    return Latency(device="cpu", threads=2, torch_version="2.0", allocator="default", materialised=None,
                   kernel="none", speedup=speedup, speedup_batch=batch,
                   batches=[BatchLatency(batch_size=batch, variants=variants)], layers=[])


def stored(record: RunRecord) -> dict[str, Any]:
    """The record as results.json holds it."""
    return json.loads(json.dumps(stored_form(record)))


def write_results_file(job: Path, record: RunRecord | dict[str, Any]) -> Path:
    """Write `record` (typed, or a stored layout a test edited) as the job's results.json."""
    job.mkdir(parents=True, exist_ok=True)
    path = job / "results.json"
    path.write_text(json.dumps(stored(record) if isinstance(record, RunRecord) else record), encoding="utf-8")
    return path


def as_version(stored_record: dict[str, Any], version: int) -> dict[str, Any]:
    """A stored record in the layout an older schema wrote (docs/results-record.md lists what each version added;
    `method_defaults` and `topology` came after version 3 was current, so older files never have them)."""
    old = json.loads(json.dumps(stored_record))
    old["schema_version"] = version
    if version < 3:
        for key in ("sanity", "collapse", "method_defaults", "topology"):
            old.pop(key)
        old["cost"].pop("latency")
    if version < 2:
        old.pop("budget")
    return old
