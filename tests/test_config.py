"""Config composition, schema validation and the one-line errors of the pre-flight check."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from tests.conftest import make_cfg

from rgp_bench.core.errors import UserError
from rgp_bench.data import DATASETS
from rgp_bench.methods import METHODS
from rgp_bench.methods.magnitude import MagnitudeCfg
from rgp_bench.methods.rgp import RGPCfg
from rgp_bench.models import MODELS
from rgp_bench.run.configs import group_options
from rgp_bench.run.preflight import preflight
from rgp_bench.run.validate import validate_config


def test_defaults_compose_to_rgp_on_digits_mlp():
    cfg = make_cfg()
    assert (cfg.method.name, cfg.dataset.name, cfg.model.name, cfg.ratio, cfg.seed) == ("rgp", "digits", "mlp", 0.9, 0)
    assert OmegaConf.get_type(cfg.method) is RGPCfg
    validate_config(cfg)


@pytest.mark.parametrize("group", ["dataset", "model", "method", "hardware", "train", "logger"])
def test_every_group_option_composes_and_validates(group):
    options = [o for o in group_options(group) if not o.endswith("_schema")]
    assert options
    for option in options:
        cfg = make_cfg(f"{group}={option}")
        if group != "hardware" or option in ("auto", "cpu"):
            validate_config(cfg)


def test_group_options_match_registries():
    assert set(group_options("dataset")) == set(DATASETS)
    assert set(group_options("model")) == set(MODELS)
    # Every registered method is an option; other options are presets of a registered method (e.g. rgp_ring).
    assert set(METHODS) <= set(group_options("method"))
    assert {make_cfg(f"method={option}").method.name for option in group_options("method")} == set(METHODS)


def test_method_schema_follows_the_selected_method():
    cfg = make_cfg("method=magnitude", "method.scope=layer")
    assert OmegaConf.get_type(cfg.method) is MagnitudeCfg
    assert cfg.method.scope == "layer"


@pytest.mark.parametrize(("argv", "expected"), [
    (["ratio=abc"], "ratio='abc' is invalid; valid range: [0.0, 1.0)"),
    (["ratio=1.0"], "ratio=1.0 is out of range; valid range: [0.0, 1.0)"),
    (["ratio=-0.1"], "ratio=-0.1 is out of range"),
    (["-m", "ratio=0.5,1.5"], "ratio=1.5 is out of range"),
    (["method=foo"], "unknown method option 'foo'; valid choices: "),
    (["dataset=mnist"], "unknown dataset option 'mnist'; valid choices: cifar10, cifar100, digits, imagenet"),
    (["model=resnet34"], "unknown model option 'resnet34'; valid choices: cnn1d, mlp, mobilenet_v2, resnet110"),
    (["hardware=tpu"], "unknown hardware option 'tpu'; valid choices: auto, cpu, cuda, cuda_amp"),
    (["train=long"], "unknown train option 'long'; valid choices: default"),
    (["logger=mlflow"], "unknown logger option 'mlflow'; valid choices: none, wandb, wandb_online"),
    (["-m", "method=rgp,bogus"], "unknown method option 'bogus'"),
    (["method.degre=3"], "unknown key 'method.degre'; valid keys of method: degree, graph_iters"),
    (["ratoi=0.5"], "unknown key 'ratoi'; valid keys at the top level"),
    (["train.optimizer=rmsprop"], "unknown train.optimizer 'rmsprop'; valid choices: adam, sgd"),
    (["method.strategy=best"], "unknown method.strategy 'best'; valid choices: anneal, greedy, none, reference"),
    (["method=magnitude", "method.scope=row"], "unknown method.scope 'row'; valid choices: global, layer"),
    (["method.nodes=two"], "method.nodes='two' is invalid; valid choices: auto or an integer >= 3"),
    (["train.epochs=-1"], "train.epochs=-1 is invalid"),
    (["layers.types=[Conv3d]"], "unknown layers.types entry 'Conv3d'; valid choices: Conv1d, Conv2d, Linear"),
    (["-m", "--cfg", "job"], "conflicting flags --cfg and --multirun; use only one of --run, --multirun (-m)"),
    (["train.momentum=-1"], "train.momentum=-1.0 is out of range; valid range: [0.0, 1.0)"),
    (["train.weight_decay=-1"], "train.weight_decay=-1.0 is invalid; valid range: a number >= 0"),
    (["train.nesterov=true", "train.momentum=0"], "train.nesterov=true needs train.momentum > 0"),
    (["train.step_size=0"], "train.step_size=0 is invalid; valid range: an integer >= 1"),
    (["train.gamma=0"], "train.gamma=0.0 is invalid; valid range: a number > 0"),
    (["method=magnitude", "train.finetune_lr=-0.1"], "train.finetune_lr=-0.1 is invalid; valid: null or a number > 0"),
    (["method.graph_seconds=-1"], "method.graph_seconds=-1.0 is invalid; valid: null or a number > 0"),
    (["method.graph_iters=1.5"], "method.graph_iters=1.5 is invalid; valid: null or an integer >= 0"),
    (["method=magnitude", "method.nodes=8"],
     "unknown key 'method.nodes'; valid keys of method: name, scope"),
    (["-m", "method=choice(rgp,bogus)"], "unknown method option 'bogus'"),
    (["-m", "model=mlp,vgg16"], "model vgg16 needs images of at least 32x32 pixels (5 max-pools); the dataset has 8x8"),
    (["train.pretrain_epochs=1.5"], "train.pretrain_epochs=1.5 is invalid; valid: null or an integer >= 0"),
    (["train.regime=sometimes"], "unknown train.regime 'sometimes'; valid choices: auto, finetune, scratch"),
    (["hardware.precision=fp8"], "unknown hardware.precision 'fp8'; valid choices: bf16, fp16, fp32"),
    (["logger.mode=loud"], "unknown logger.mode 'loud'; valid choices: disabled, offline, online"),
    (["layers.types=[]"], "layers.types=[] is invalid; valid: at least one of Conv1d, Conv2d, Linear"),
    (["dataset.val_fraction=1.5"], "dataset.val_fraction=1.5 is out of range; valid range: (0.0, 1.0)"),
    (["model.width=0"], "model.width=0 is invalid; valid range: an integer >= 1"),
    (["method.degree=0"], "method.degree=0 is invalid; valid: null or an integer >= 2"),
    (["seed=-1"], "seed=-1 is out of range; valid range: [0, 4294967295]"),
    (["method=gnnrl", "method.search_finetune_batches=-1"], "method.search_finetune_batches=-1 is invalid"),
])
def test_preflight_gives_one_line_naming_value_and_choices(argv, expected):
    with pytest.raises(UserError) as err:
        preflight(argv)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_preflight_accepts_sweeps_and_hydra_flags():
    preflight(["-m", "method=rgp,magnitude,random", "seed=0,1,2", "ratio=0.5,0.9", "hydra/launcher=basic",
               "hydra.job.chdir=false"])
    preflight(["--cfg", "job", "method=magnitude", "--package", "method"])
    preflight(["-m", "method=choice(rgp,random)", "model=glob(resnet*)"])
