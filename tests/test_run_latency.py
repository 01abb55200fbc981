"""Every run measures its inference latency (dense, masked, materialised) unless told not to, and records it."""

from __future__ import annotations

import pytest
from tests.conftest import read_results, run_cli

LATENCY = ["measure.latency.enabled=true", "measure.latency.batch_sizes=[1,8]", "measure.latency.rounds=2",
           "measure.latency.max_rounds=2", "measure.latency.min_run_time=0.01"]
TINY = ["train.epochs=1", "train.pretrain_epochs=1", "model.width=64", "model.depth=3", "hardware.threads=1"]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "ratio", "materialised"), [
    ("uniform", 0.5, "channels removed"), ("rgp", 0.75, None), ("magnitude", 0.75, None)])
def test_the_record_holds_the_measured_latency(method, ratio, materialised, tmp_path):
    proc = run_cli([f"method={method}", f"ratio={ratio}", *TINY, *LATENCY], tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = read_results(tmp_path / "run")
    latency = record["cost"]["latency"]
    assert (latency["device"], latency["threads"]) == ("cpu", 1) and latency["torch_version"]
    assert [b["batch_size"] for b in latency["batches"]] == [1, 8] and latency["speedup_batch"] == 8
    for batch in latency["batches"]:
        variants = batch["variants"]
        assert variants["dense"]["speedup"] == pytest.approx(1.0)
        assert all(v["median"] > 0 and v["iqr"] >= 0 and v["measurements"] == 2 for v in variants.values())
    if materialised is not None:
        assert latency["materialised"] == materialised and "materialised" in latency["batches"][-1]["variants"]
    if method == "rgp":  # every block-masked layer is listed with its choice and measured ratio (or why kept)
        prunable = {row["name"] for row in record["cost"]["layers"] if row["prunable"]}
        assert {layer["name"] for layer in latency["layers"]} == prunable
        assert all(layer["speedup"] > 0 and layer["reason"] for layer in latency["layers"])
    if method == "magnitude":  # unstructured masks: no layer has a faster form
        assert latency["materialised"] is None and "materialised" not in latency["batches"][-1]["variants"]
    assert record["timings"]["latency"] > 0
    # masked as deployed (masks folded into the weights); the MAC limit and the fraction of it reached
    assert latency["masked_form"] == "folded" and latency["headline"] in ("materialised", "masked")
    assert latency["mac_limit"] > 1 and latency["fraction_of_limit"] == pytest.approx(
        latency["speedup"] / latency["mac_limit"])
    assert latency["efficiency"] > 0 and latency["peak_macs_per_second"] > 0
    assert "twin" in latency["batches"][-1]["variants"] and latency["speedup_vs_twin"] > 0, latency["twin"]
    protocol = latency["protocol"]
    assert protocol["batch_sizes"] == [1, 8] and protocol["reused_from"] is None and protocol["seconds"] > 0
    assert "speed-up at batch 8" in proc.stdout and "MAC limit" in proc.stdout


@pytest.mark.slow
def test_a_second_seed_with_the_same_structure_reuses_the_timing(tmp_path):
    """Latency depends on the architecture and the mask structure: another seed of RGP measures nothing."""
    common = ["method=rgp", "ratio=0.75", *TINY, *LATENCY]
    first = run_cli([*common, "seed=0"], tmp_path)  # the same cache_dir for both runs
    assert first.returncode == 0, first.stderr
    one = read_results(tmp_path / "run")
    second = run_cli([*common, "seed=1"], tmp_path)
    assert second.returncode == 0, second.stderr
    two = read_results(tmp_path / "run")
    assert two["cost"]["latency"]["protocol"]["reused_from"] == one["run_id"] != two["run_id"]
    assert two["cost"]["latency"]["batches"] == one["cost"]["latency"]["batches"]
    assert "latency measured by" in second.stdout


def test_latency_is_off_in_the_fast_path(tmp_path):
    proc = run_cli(TINY, tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = read_results(tmp_path / "run")
    assert record["cost"]["latency"] is None and "latency" not in record["timings"]
