"""MNIST-1D: generated offline and deterministically, split without overlap, the paper's CNN counted exactly, and
RGP's block masks on Conv1d layers."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from tests.conftest import make_cfg

from rgp_bench.core.errors import UserError
from rgp_bench.data import build_data
from rgp_bench.data.mnist1d import generator_args, load_arrays
from rgp_bench.measure import measure_costs
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.models import build_model
from rgp_bench.pruning import find_prunable_layers
from rgp_bench.run.preflight import preflight


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # the network is blocked: generation must not need it
        def refuse(*_args, **_kwargs):
            raise OSError("network access is blocked in this test")

        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        return build_data(make_cfg("dataset=mnist1d").dataset, tmp_path_factory.mktemp("cache"))


def _indices(dataset) -> set[int]:
    return set(dataset.indices.tolist())


def test_default_arguments_give_the_published_split(bundle):
    assert (len(bundle.train) + len(bundle.val), len(bundle.test)) == (4000, 1000)
    assert len(bundle.val) == 400  # dataset.val_fraction 0.1 of the training part
    x, y = bundle.train[0]
    assert x.shape == (1, 40) and x.dtype == torch.float32 and 0 <= y < 10
    assert (bundle.in_channels, bundle.image_size, bundle.num_classes, bundle.spatial_dims) == (1, 40, 10, 1)


def test_splits_never_overlap_and_cover_every_class(bundle):
    train, val, test = _indices(bundle.train), _indices(bundle.val), _indices(bundle.test)
    assert not (train & val or train & test or val & test)
    assert len(train | val | test) == 5000
    for split in (bundle.train, bundle.val, bundle.test):
        assert set(split.labels.tolist()) == set(range(10))


def test_the_same_arguments_give_identical_arrays_and_the_cache_is_used(tmp_path):
    args = generator_args(make_cfg("dataset=mnist1d", "dataset.num_samples=200").dataset)
    first = load_arrays(args, tmp_path)
    assert list((tmp_path / "mnist1d").glob("*.npz"))
    cached = load_arrays(args, tmp_path)
    fresh = load_arrays(args, None)
    for key in first:
        assert np.array_equal(first[key], cached[key]) and np.array_equal(first[key], fresh[key])
    other = load_arrays(generator_args(make_cfg("dataset=mnist1d", "dataset.num_samples=200",
                                                "dataset.generator_seed=7").dataset), None)
    assert not np.array_equal(first["x"], other["x"])


def test_generation_leaves_the_global_random_state_alone():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    load_arrays(generator_args(make_cfg("dataset=mnist1d", "dataset.num_samples=100").dataset), None)
    assert np.random.rand() == expected


def test_cnn1d_counts_its_macs_exactly():
    torch.manual_seed(0)
    model = build_model(make_cfg("model=cnn1d").model, 1, 40, 10, spatial_dims=1)
    cost = measure_costs(model, torch.zeros(1, 1, 40), set())
    # lengths 40 -> 19 -> 10 -> 5 (kernel 5 / 3 / 3, stride 2, padding 1); 25 channels; Linear(125, 10)
    expected = {"conv1": 19 * 25 * 5, "conv2": 10 * 25 * 25 * 3, "conv3": 5 * 25 * 25 * 3, "fc": 125 * 10}
    assert {row.name: row.macs for row in cost.layers} == expected
    assert cost.total.macs == sum(expected.values())
    assert cost.total.params == 25 * 5 + 25 + 2 * (25 * 25 * 3 + 25) + 125 * 10 + 10


def test_rgp_masks_on_conv1d_are_the_block_structure(tmp_path):
    cfg = make_cfg("dataset=mnist1d", "model=cnn1d", "method=rgp", "ratio=0.6", "method.nodes=5")
    torch.manual_seed(0)
    model = build_model(cfg.model, 1, 40, 10, spatial_dims=1)
    layers = find_prunable_layers(model, torch.zeros(1, 1, 40), cfg.layers)
    assert [layer.name for layer in layers] == ["conv2", "conv3"]
    result = get_method("rgp").compute_masks(cfg.method, layers, 0.6, MaskContext(seed=0, cache_dir=tmp_path))
    assert (result.info["nodes"], result.info["degree"]) == (5, 2)
    for layer in layers:
        mask = result.masks[layer.name]
        assert mask.shape == (25, 25, 3)
        assert torch.equal(mask, mask[:, :, :1].expand_as(mask))  # whole kernels kept or removed
        blocks = mask[::5, ::5, 0].int()  # 5 nodes of 5 channels each
        assert torch.equal(mask[:, :, 0].int(), blocks.repeat_interleave(5, 0).repeat_interleave(5, 1))
        assert torch.equal(blocks, blocks.T) and int(blocks.trace()) == 0 and set(blocks.sum(1).tolist()) == {2}


def test_image_models_refuse_signals_and_the_mlp_takes_them():
    with pytest.raises(UserError, match="model resnet20 takes images, but the dataset has 1-D signals; "
                                        "valid models for it: cnn1d, mlp"):
        build_model(make_cfg("model=resnet20").model, 1, 40, 10, spatial_dims=1)
    mlp = build_model(make_cfg("model=mlp", "model.width=32").model, 1, 40, 10, spatial_dims=1)
    assert mlp(torch.zeros(2, 1, 40)).shape == (2, 10)


@pytest.mark.parametrize(("argv", "expected"), [
    (["dataset=mnist1d", "dataset.num_samples=5"], "dataset.num_samples=5 is invalid; valid range: an integer >= 20"),
    (["dataset=mnist1d", "+dataset.generator.colour=red"],
     "unknown dataset.generator option 'colour'; valid choices: corr_noise_scale, final_seq_length"),
    (["dataset=mnist1d", "dataset.generator.shuffle_seq=true"],
     "dataset.generator takes new keys with a leading +, e.g. +dataset.generator.shuffle_seq=VALUE"),
])
def test_bad_values_are_one_line(argv, expected):
    with pytest.raises(UserError) as err:
        preflight(argv)
    assert expected in str(err.value) and "\n" not in str(err.value)
