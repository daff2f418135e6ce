"""Paired bootstrap: weighted AP equals AP on repeated rows; known answers."""

import numpy as np
import pytest

from lsml_core.bootstrap import resample_counts, verdict
from lsml_core.multilabel.map_bootstrap import paired_bootstrap, per_class_ap
from lsml_core.multilabel.metrics import average_precision


def data(seed=0, n=120, classes=4):
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, classes)) < 0.3).astype(np.float32)
    scores = np.round(targets + rng.normal(0, 0.8, (n, classes)), 1)  # rounded: plenty of ties
    mask = (rng.random((n, classes)) > 0.1).astype(np.float32)
    return targets, scores, mask


def test_weighted_ap_equals_ap_on_the_resample_with_repeated_rows():
    targets, scores, mask = data()
    counts = resample_counts(len(targets), 5, seed=1)
    weighted = per_class_ap(targets, scores, mask, counts)
    for b, row in enumerate(counts):
        rows = np.repeat(np.arange(len(targets)), row)
        with np.errstate(all="ignore"):
            expected = average_precision(targets[rows], scores[rows], mask=mask[rows])
        np.testing.assert_allclose(weighted[b], expected, rtol=1e-12)


def test_identical_arms_give_exactly_zero():
    targets, scores, mask = data()
    result = paired_bootstrap(targets, [scores], [scores.copy()], mask=mask, n_boot=200)
    assert result["difference"] == 0 and result["ci_low"] == 0 and result["ci_high"] == 0
    assert verdict(result) == "no clear difference"


def test_a_clearly_better_arm_has_an_interval_above_zero():
    targets, scores, mask = data(n=300)
    perfect = targets + 0.01 * np.random.default_rng(5).random(targets.shape)
    result = paired_bootstrap(targets, [scores], [perfect], mask=mask, n_boot=300)
    observed = np.nanmean(average_precision(targets, perfect, mask=mask)) - np.nanmean(
        average_precision(targets, scores, mask=mask)
    )
    assert result["difference"] == pytest.approx(observed)
    assert 0 < result["ci_low"] <= result["difference"] <= result["ci_high"]
    assert (
        verdict(result) == "higher"
        and verdict(paired_bootstrap(targets, [perfect], [scores], mask=mask, n_boot=100)) == "lower"
    )
    assert np.all(result["per_class"]["difference"] > 0)


def test_several_runs_average_their_differences():
    targets, scores, mask = data()
    _, noisy, _ = data(seed=7)
    two = paired_bootstrap(targets, [scores, scores], [noisy, scores], mask=mask, n_boot=50)
    one = paired_bootstrap(targets, [scores], [noisy], mask=mask, n_boot=50)
    assert two["difference"] == pytest.approx(one["difference"] / 2)
    with pytest.raises(ValueError, match="same number"):
        paired_bootstrap(targets, [scores], [], mask=mask)
