"""Seeded, stratified splits and the validation of split fractions."""

from __future__ import annotations

import operator

import numpy as np

from rgp_bench.core.errors import UserError

# Distinct streams for the test hold-out and the validation carve-out under one split_seed.
TEST_STREAM = 0
VAL_STREAM = 1


def check_fraction(key: str, value: float) -> float:
    """Return `value` as a float, or raise UserError unless 0 < value < 1."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"dataset.{key} must be a number in (0, 1), got {value!r}") from None
    if not 0.0 < value < 1.0:
        raise UserError(f"dataset.{key} must be in (0, 1) (exclusive), got {value}")
    return value


def check_seed(seed: int) -> int:
    """Return the split seed as an int, or raise UserError unless it is an integer >= 0.

    Ints and numpy ints only (`operator.index`): strings, floats (no silent truncation of 1.7) and bools are
    rejected.
    """
    try:
        number = operator.index(seed)
    except TypeError:
        number = -1
    if isinstance(seed, bool) or number < 0:
        raise UserError(f"dataset.split_seed must be an integer >= 0, got {seed!r}")
    return number


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int, stream: int, key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split positions 0..len(labels)-1 into (kept, held_out), holding out round(fraction*n) samples.

    Each class contributes in proportion to its size (largest-remainder rounding, so the total is
    exact). Deterministic given (labels, fraction, seed, stream); both outputs are sorted. `key`
    names the config field in the error raised when either side would be empty.
    """
    labels = np.asarray(labels)
    n = len(labels)
    k = round(fraction * n)
    if k < 1 or k > n - 1:
        raise UserError(
            f"dataset.{key}={fraction} leaves an empty split of {n} samples "
            f"(held out: {k}); choose a fraction that keeps at least one sample on each side"
        )
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * (k / n)
    take = np.floor(quota).astype(np.int64)
    short = k - int(take.sum())
    order = np.argsort(-(quota - take), kind="stable")
    take[order[:short]] += 1

    rng = np.random.default_rng([seed, stream])
    held: list[np.ndarray] = []
    for c, t in zip(classes, take, strict=True):
        members = np.flatnonzero(labels == c)
        held.append(rng.permutation(members)[:t])
    held_out = np.sort(np.concatenate(held))
    mask = np.ones(n, dtype=bool)
    mask[held_out] = False
    return np.flatnonzero(mask), held_out


def three_way_split(
    labels: np.ndarray, test_fraction: float, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices: test held out from all data, then val carved from the rest.

    `val_fraction` is a fraction of what remains after the test hold-out.
    """
    labels = np.asarray(labels)
    pool, test = stratified_split(labels, test_fraction, seed, TEST_STREAM, "test_fraction")
    keep, val = stratified_split(labels[pool], val_fraction, seed, VAL_STREAM, "val_fraction")
    return pool[keep], pool[val], test
