"""The label-noise injector: rates, matched counts, masks, seeding."""

import numpy as np
import pytest

from lsml_core.multilabel.noise import corrupt_labels


def labels(n=4000, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, classes)) < 0.2).astype(np.float32)
    mask = (rng.random((n, classes)) > 0.05).astype(np.float32)
    return targets, mask


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.4])
def test_rates_and_matched_counts(rate):
    targets, mask = labels()
    noisy, record = corrupt_labels(targets, mask, rate, seed=1)
    valid = mask > 0
    positives = (targets > 0) & valid
    dropped = positives & (noisy == 0)
    added = (targets == 0) & valid & (noisy == 1)
    assert dropped.sum() / positives.sum() == pytest.approx(rate, abs=0.02)
    assert added.sum() == pytest.approx(dropped.sum(), rel=0.1)  # matched expected count
    assert (record["dropped"], record["added"]) == (dropped.sum(), added.sum())
    assert np.array_equal(noisy[~valid], targets[~valid])  # masked pairs untouched


def test_zero_rate_is_identity_and_seed_repeats():
    targets, mask = labels()
    assert np.array_equal(corrupt_labels(targets, mask, 0.0, 3)[0], targets)
    assert np.array_equal(corrupt_labels(targets, mask, 0.2, 3)[0], corrupt_labels(targets, mask, 0.2, 3)[0])
    assert not np.array_equal(corrupt_labels(targets, mask, 0.2, 3)[0], corrupt_labels(targets, mask, 0.2, 4)[0])


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_bad_rate(rate):
    targets, mask = labels(n=10)
    with pytest.raises(ValueError, match="label_noise"):
        corrupt_labels(targets, mask, rate, 0)
