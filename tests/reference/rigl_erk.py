"""rigl's Erdős–Rényi(-Kernel) layer sparsities (compact transcription).

Source: google-research/rigl, commit d39fc7d46505cb3196cb1edeb32ed0b6dd44c0f9, `rigl/sparse_utils.py`:
`get_sparsities_erdos_renyi` (with `get_n_zeros` = floor(sparsity · size), no custom sparsities,
`erk_power_scale` = DEFAULT_ERK_SCALE = 1.0).

Semantics kept: shapes are in TensorFlow's layout (conv kernels [kh, kw, in, out], dense [in, out]), because the
ER variant (`include_kernel=False`) takes (n_in, n_out) from the *last two* dims; the right-hand side counts the
floor number of zeros per layer; every layer tied at the largest raw probability is made dense, one round at a
time, until ε · max raw probability ≤ 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def get_n_zeros(size: int, sparsity: float) -> int:
    return int(np.floor(sparsity * size))


def get_sparsities_erdos_renyi(shapes: Sequence[Sequence[int]], default_sparsity: float, include_kernel: bool,
                               erk_power_scale: float = 1.0) -> list[float]:
    """Per-layer sparsities (fraction of zeros), in the order of `shapes` (TensorFlow layout)."""
    is_eps_valid = False
    dense_layers: set[int] = set()
    while not is_eps_valid:
        divisor = 0.0
        rhs = 0.0
        raw_probabilities: dict[int, float] = {}
        for i, shape_list in enumerate(shapes):
            n_param = np.prod(shape_list)
            n_zeros = get_n_zeros(n_param, default_sparsity)
            if i in dense_layers:
                rhs -= n_zeros
            else:
                n_ones = n_param - n_zeros
                rhs += n_ones
                if include_kernel:
                    raw_probabilities[i] = (np.sum(shape_list) / np.prod(shape_list)) ** erk_power_scale
                else:
                    n_in, n_out = shape_list[-2:]
                    raw_probabilities[i] = (n_in + n_out) / (n_in * n_out)
                divisor += raw_probabilities[i] * n_param
        eps = rhs / divisor
        max_prob = np.max(list(raw_probabilities.values()))
        max_prob_one = max_prob * eps
        if max_prob_one > 1:
            is_eps_valid = False
            for i, mask_raw_prob in raw_probabilities.items():
                if mask_raw_prob == max_prob:
                    dense_layers.add(i)
        else:
            is_eps_valid = True
    return [0.0 if i in dense_layers else 1.0 - eps * raw_probabilities[i] for i in range(len(shapes))]


def tf_layout(torch_shape: Sequence[int]) -> tuple[int, ...]:
    """A PyTorch weight shape (out, in, *kernel) in TensorFlow's layout (*kernel, in, out)."""
    out, inp, *kernel = torch_shape
    return (*kernel, inp, out)
