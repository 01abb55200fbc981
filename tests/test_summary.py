"""The summary printed after a run answers the obvious questions: the dense accuracy beside the pruned one, a
search's outcome and cost with its reward explained, the keep fraction of each group, the measured speed-up; a
skipped run says it was skipped before its stored summary."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.record_factory import dense_scores, latency, make_record

from rgp_bench.record.schema import BudgetFacts, DenseCache, Epochs
from rgp_bench.record.summary import format_summary

PATH = Path("/runs/x/results.json")


def _rows(text: str) -> dict[str, str]:
    """The summary's rows by name (continuation rows, with no name, appended to the row above)."""
    rows: dict[str, str] = {}
    last = ""
    for line in text.splitlines()[1:-1]:
        key, value = (part.strip() for part in line.split(" | ", 1))
        last = key or last
        rows[last] = f"{rows[last]} {value}" if not key else value
    return rows


def _search_record(fallback: bool = False):
    info = {"best_reward": -12.8, "best_val_top1": 87.2, "fallback": fallback,
            "keep_fraction": {f"layer{i}": 0.5 + i / 100 for i in range(6)},
            "search": {"episodes": 40, "env_steps": 200, "candidates": 120, "evaluations": 97, "seconds": 63.25,
                       "budget": "200 steps"}}
    record = make_record("gnnrl", ratio=0.5, info=info, regime="finetune")
    record.budget = BudgetFacts(basis="macs", requested=0.5, achieved=0.5012)
    record.epochs = Epochs(pretrain=5, train=5, total=10, resumed_from=0)
    record.accuracy.dense = dense_scores(91.5, epochs=5)
    record.dense_cache = DenseCache(key="abc", hit=True)
    return record


def test_a_search_run_prints_its_outcome_cost_and_keep_fractions_with_the_reward_explained():
    rows = _rows(format_summary(_search_record(), PATH))
    assert rows["search best, before training"] == ("validation top-1 87.20%, reward -12.80 (reward = validation "
                                                    "top-1 - 100: 0 is perfect)")
    assert rows["search cost"] == "97 evaluations, 120 candidates, 40 episodes in 63.2 s (budget 200 steps)"
    assert "rescaled to the MAC budget" in rows["reading the search"] and "'MACs -x %'" in rows["reading the search"]
    assert rows["keep fraction per group"] == ("layer0 0.500, layer1 0.510, layer2 0.520, layer3 0.530 "
                                               "layer4 0.540, layer5 0.550")
    assert rows["dense top-1 before pruning"] == ("91.50% after 5 epochs, loaded from the dense cache (this run "
                                                  "trained 10)")
    assert rows["ratio requested / achieved"] == "0.5000 / 0.5012 of the MACs"


def test_the_summary_states_the_run_time_its_longest_phases_and_its_peak_memory():
    record = make_record("magnitude", ratio=0.9)
    record.timings = {"build": 0.4, "prune": 0.2, "train": 14.25, "latency": 2.4, "total": 19.0}
    record.peak_memory_mib = {"build": 400.0, "train": 512.0, "latency": 620.0, "run": 620.0}
    assert _rows(format_summary(record, PATH))["run time"] == ("19.0 s (train 14.2 s, latency 2.4 s), peak memory "
                                                               "0.61 GiB")
    record.peak_memory_mib = {}  # a record written before memory was measured
    assert _rows(format_summary(record, PATH))["run time"] == "19.0 s (train 14.2 s, latency 2.4 s)"


def test_a_search_that_fell_back_says_so():
    rows = _rows(format_summary(_search_record(fallback=True), PATH))
    assert rows["search best, before training"].startswith("no candidate met the MAC budget")


def test_a_weight_method_prints_no_search_rows_and_its_speed_up():
    record = make_record("magnitude", ratio=0.9)
    record.cost.latency = latency(3.25, batch=64)
    rows = _rows(format_summary(record, PATH))
    assert not any(key.startswith(("search", "keep", "reading")) for key in rows)
    assert rows["speed-up at batch 64"].startswith("3.25× over dense, masked")
    assert rows["regime"] == "scratch, 5 epochs in total" and rows["record"] == str(PATH)
    record.epochs = Epochs(pretrain=0, train=1, total=1, resumed_from=0)
    assert _rows(format_summary(record, PATH))["regime"] == "scratch, 1 epoch in total"


def test_a_skipped_run_says_so_before_its_stored_summary(tmp_path):
    args = ["method=rgp", "train.epochs=1", "train.limit_batches=2", "model.width=16", "model.depth=2"]
    first = run_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    again = run_cli(args, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    lines = again.stdout.strip().splitlines()
    assert lines[0].startswith("skip: run ") and lines[0].endswith("Its stored summary:")
    assert lines[1].startswith("---") and lines[2].startswith("method ") and lines[-1].startswith("---")
