"""The report pairs a method's variants and sanity checks against the method as its defaults define it."""

from __future__ import annotations

from tests.test_report import build_report, record, write_job

from rgp_bench.record.schema import CollapseFacts

# (variant settings, sanity, per-seed best-val accuracy)
RUNS = [
    ({}, "none", [90.0, 91.0, 92.0]),  # rgp itself
    ({"start": "ring", "strategy": "none"}, "none", [85.0, 86.5, 86.0]),  # the ring-lattice ablation
    ({}, "shuffle", [90.5, 91.0, 92.5]),  # shuffled rgp masks: no drop
]


def _write(tmp_path):
    for i, (settings, sanity, accs) in enumerate(RUNS):
        for seed, acc in enumerate(accs):
            rec = record(
                "rgp",
                0.9,
                seed,
                acc,
                acc,
                run_id=f"run-{i}-{seed}",
                method_cfg={"strategy": "anneal", "start": "random", **settings},
            )
            rec.config["sanity"] = sanity
            rec.sanity = sanity
            rec.collapse = CollapseFacts(collapsed=sanity == "shuffle" and seed == 0, no_path=False, empty_layers=[],
                                         narrowest_layer="x", narrowest_kept=0.1)
            write_job(tmp_path / "runs" / f"{i}-{seed}", None, rec)


def test_variants_are_compared_with_the_default_variant_of_the_reference(tmp_path):
    _write(tmp_path)
    report = build_report([tmp_path / "runs"], tmp_path / "report", references=("rgp",))
    pairs = {(c["method"], c["reference"]) for c in report.comparisons}
    default = "rgp [start=random, strategy=anneal, sanity=none]"
    ring = "rgp [start=ring, strategy=none, sanity=none]"
    assert pairs == {(ring, default)}  # the ring ablation against rgp; never against itself or the shuffle
    (c,) = report.comparisons
    assert c["mean_diff"] == (85.0 + 86.5 + 86.0 - 90.0 - 91.0 - 92.0) / 3


def test_a_method_that_survives_shuffling_is_marked(tmp_path):
    _write(tmp_path)
    report = build_report([tmp_path / "runs"], tmp_path / "report", references=("rgp",))
    md = report.files["markdown"].read_text()
    assert "## Sanity checks (paired by seed)" in md and "learns only layer densities" in md
    assert "| collapsed |" in md  # the column appears when a run collapsed
    shuffled = next(g for g in report.groups if g["sanity"] == "shuffle")
    assert abs(shuffled["collapsed_mean"] - 1 / 3) < 1e-9
