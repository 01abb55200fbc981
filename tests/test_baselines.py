"""Schema of baselines/*.yaml (published reference numbers) and the loader in rgp_bench.report.published."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from rgp_bench.core.errors import UserError
from rgp_bench.report import published as bl

BASELINES = Path(__file__).resolve().parents[1] / "baselines"
FILES = bl.baseline_files(BASELINES)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def test_the_three_sources_are_there() -> None:
    ids = {_load(p)["source"]["id"] for p in FILES}
    assert {"rgp-readme-imagenet-resnet50", "rgp-figures-aspl", "gnnrl-readme"} <= ids
    assert len(ids) == len(FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_follows_schema(path: Path) -> None:
    doc = _load(path)
    assert bl.validate(doc) == []
    # The same rules, spelled out independently of the validator.
    src, conv = doc["source"], doc["convention"]
    assert src["citation"].strip() and src["where"].strip() and src["short"].strip()
    assert src["kind"] in ("table", "figure", "text")
    assert any(src.get(k) for k in ("arxiv", "doi", "url")), "each file must name where its numbers come from"
    if src.get("repo"):
        assert isinstance(src["commit"], str) and src["commit"]
    for key, allowed in {
        "reduction": {"nominal", "exact", "estimated", "unknown"},
        "cost_unit": {"MACs", "FLOPs", "unknown"},
        "accuracy_epoch": {"final", "best_epoch", "best_val", "unknown"},
        "ratio_basis": {"weights", "parameters", "flops", "none"},
        "published_as": {"remaining", "removed"},
    }.items():
        assert conv[key] in allowed, key
    assert set(conv["accuracy"]) <= {"top1", "top5"} and conv["accuracy"]
    assert isinstance(conv["read_off_figure"], bool)
    assert doc["entries"]
    for e in doc["entries"]:
        for k in ("dataset", "model", "method", "label"):
            assert isinstance(e[k], str) and e[k]
        for k in ("ratio", "params_reduction", "macs_reduction"):
            assert k in e and (e[k] is None or (_num(e[k]) and 0.0 <= e[k] <= 1.0)), (k, e)
        assert _num(e["top1"]) and 0.0 <= e["top1"] <= 100.0
        assert e.get("top5") is None or (_num(e["top5"]) and 0.0 <= e["top5"] <= 100.0)
        if "top5" in e and e["top5"] is not None:
            assert "top5" in conv["accuracy"]
    loaded = bl.load_file(path)
    assert len(loaded.entries) == len(doc["entries"])


def _entries(source_id: str) -> list[bl.PublishedEntry]:
    (src,) = [s for s in bl.load_published(BASELINES) if s.source["id"] == source_id]
    return list(src.entries)


def test_rgp_imagenet_values() -> None:
    es = {e.label: e for e in _entries("rgp-readme-imagenet-resnet50")}
    assert (es["baseline (theirs)"].top1, es["baseline (theirs)"].top5) == (76.22, 93.00)
    assert es["baseline (theirs)"].macs_reduction == 0.0
    e16 = es["RGP 64_16"]
    assert (e16.top1, e16.top5, e16.params_reduction, e16.macs_reduction) == (72.68, 91.06, 0.75, 0.75)
    # nominal reductions: 1 - k/64
    for e in es.values():
        if e.degree:
            assert e.params_reduction == pytest.approx(1 - e.degree / 64)
    assert e16.matches("ImageNet", "ResNet-50")


def test_rgp_figure_values() -> None:
    src = next(s for s in bl.load_published(BASELINES) if s.source["id"] == "rgp-figures-aspl")
    assert src.convention["read_off_figure"] is True and src.convention["uncertainty"] == 0.2
    es = {(e.dataset, e.model, e.label): e for e in src.entries}
    best4 = es[("cifar10", "resnet18", "64_4 best")]
    ring4 = es[("cifar10", "resnet18", "64_4 ring")]
    assert (best4.top1, best4.aspl, ring4.top1, ring4.aspl) == (91.8, 3.046, 90.4, 8.381)
    assert es[("tinyimagenet", "resnet18", "64_20 ring")].top1 == 62.7
    assert es[("cifar100", "vgg16_bn", "64_20 best")].approximate
    assert best4.matches("cifar10", "cResNet18") and es[("svhn", "vgg16_bn", "64_8 ring")].matches("svhn", "vgg16")
    # 6 CIFAR/SVHN panels x 7 points + TinyImageNet 8 points
    assert len(src.entries) == 6 * 7 + 8


def test_gnnrl_values() -> None:
    es = {(e.dataset, e.model, e.label): e for e in _entries("gnnrl-readme")}
    r56 = es[("cifar10", "resnet56", "ResNet-56 50% FLOPs")]
    assert (r56.top1, r56.macs_reduction, r56.params_reduction, r56.ratio) == (93.49, 0.5, None, None)
    vgg = es[("imagenet", "vgg16", "VGG-16 20% FLOPs")]
    assert (vgg.top1, vgg.macs_reduction, vgg.extra["delta_top1"]) == (70.992, 0.8, 0.49)
    assert all(e.params_reduction is None for e in es.values()) and len(es) == 9


def _good_doc() -> dict:
    return copy.deepcopy(_load(BASELINES / "gnnrl_readme.yaml"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["entries"][0].update(macs_reduction=1.5), "fraction"),
        (lambda d: d["entries"][0].update(top1=101.0), "accuracy"),
        (lambda d: d["entries"][0].pop("params_reduction"), "missing key 'params_reduction'"),
        (lambda d: d["entries"][0].update(top_1=90.0), "unknown key 'top_1'"),
        (lambda d: d["convention"].update(reduction="approximately"), "convention.reduction"),
        (lambda d: d["convention"].update(cost_unit="GFLOPs"), "convention.cost_unit"),
        (lambda d: d["convention"].update(accuracy=["top3"]), "convention.accuracy"),
        (lambda d: [d["source"].pop(k) for k in ("arxiv", "url")], "at least one of arxiv, doi, url"),
        (lambda d: d["source"].pop("commit"), "source.commit"),
        (lambda d: d["source"].pop("citation"), "missing key 'citation'"),
        (lambda d: d.update(entries=[]), "entries"),
    ],
)
def test_validate_rejects(mutate, message: str) -> None:
    doc = _good_doc()
    mutate(doc)
    errors = bl.validate(doc)
    assert any(message in e for e in errors), errors


def test_loader_ignores_runs_and_rejects_duplicates(tmp_path: Path) -> None:
    (tmp_path / "runs" / "x").mkdir(parents=True)
    (tmp_path / "runs" / "x" / "config.yaml").write_text("not a baselines file: [")
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(_good_doc(), allow_unicode=True))
    assert [s.source["id"] for s in bl.load_published(tmp_path)] == ["gnnrl-readme"]
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(_good_doc(), allow_unicode=True))
    with pytest.raises(UserError, match="used by both"):
        bl.load_published(tmp_path)
    bad = _good_doc()
    bad["entries"][0]["top1"] = "high"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True))
    with pytest.raises(UserError, match=r"invalid baselines file .*b\.yaml"):
        bl.load_published(tmp_path)
    assert bl.load_published(tmp_path / "nowhere") == []


def test_configs_presets_and_baselines_cite_no_file_outside_the_repository() -> None:
    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("conf/**/*.yaml"), *root.glob("baselines/**/*.yaml"), root / "baselines" / "README.md"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for outside in ("/work/", "shared/research", "rgp-method.md", "gnn-rl-method.md", "research notes"):
            assert outside not in text, f"{path.relative_to(root)} cites {outside!r}"
