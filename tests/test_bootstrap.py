"""Intervals over seeds and images: coverage of a known difference in simulated studies, one-seed intervals,
differences of differences."""

import numpy as np
import pytest

from lsml_core.bootstrap import (
    COVERS_BOTH,
    ONE_SEED,
    difference_of_differences,
    paired_mean_difference,
    verdict,
)
from lsml_core.calibration import mean_of_counts

TRUE_DIFFERENCE = 0.3


def simulated_study(rng, *, n_images: int, n_seeds: int, seed_sd: float, image_sd: float = 1.0, noise_sd: float = 0.5):
    """Per-image values of both arms for one study: other - baseline = TRUE_DIFFERENCE + an image effect
    (shared by every seed) + a seed effect (shared by every image) + noise; the images are a fresh sample."""
    level = rng.normal(0, 1, n_images)  # how hard each image is, the same for both arms
    image_effect = rng.normal(0, image_sd, n_images)
    baseline, other = [], []
    for _ in range(n_seeds):
        baseline.append(level + rng.normal(0, noise_sd, n_images))
        shift = TRUE_DIFFERENCE + image_effect + rng.normal(0, seed_sd)
        other.append(level + shift + rng.normal(0, noise_sd, n_images))
    return baseline, other


def images_only_covers(baseline, other, n_boot: int) -> bool:
    """Whether the interval over images alone (seeds' differences averaged, images resampled: the interval
    every report used before seeds were covered) holds the true difference."""
    averaged = [np.mean(other, 0) - np.mean(baseline, 0)]
    result = paired_mean_difference([np.zeros_like(averaged[0])], averaged, n_boot=n_boot)
    return result["ci_low"] <= TRUE_DIFFERENCE <= result["ci_high"]


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_the_95_interval_covers_a_known_difference_about_95_percent_of_the_time(n_seeds):
    rng = np.random.default_rng(n_seeds)
    studies, covered, covered_images_only = 400, 0, 0
    for study in range(studies):
        baseline, other = simulated_study(rng, n_images=200, n_seeds=n_seeds, seed_sd=0.15)
        result = paired_mean_difference(baseline, other, n_boot=200, seed=study)
        covered += result["ci_low"] <= TRUE_DIFFERENCE <= result["ci_high"]
        covered_images_only += images_only_covers(baseline, other, n_boot=200)
    # 400 studies: the coverage's standard error is about 0.011
    assert 0.92 <= covered / studies <= 0.985
    assert covered_images_only / studies < 0.88


def test_without_seed_variance_the_interval_stays_close_to_the_images_only_one():
    rng = np.random.default_rng(11)
    baseline, other = simulated_study(rng, n_images=300, n_seeds=3, seed_sd=0.0)
    both = paired_mean_difference(baseline, other, n_boot=400)
    assert both["covers"] == COVERS_BOTH and both["n_runs"] == 3
    assert both["se_seeds"] < both["se_images"]
    assert both["ci_high"] - both["ci_low"] < 2.5 * 2 * 1.96 * both["se_images"]


def test_one_seed_covers_images_only_and_says_so():
    rng = np.random.default_rng(2)
    baseline, other = simulated_study(rng, n_images=200, n_seeds=1, seed_sd=0.3)
    result = paired_mean_difference(baseline, other, n_boot=300)
    assert ONE_SEED in result["covers"] and result["se_seeds"] == 0
    expected = np.mean(other[0] - baseline[0])
    assert result["difference"] == pytest.approx(expected)
    assert result["ci_low"] < expected < result["ci_high"]


def test_seed_spread_widens_the_interval_and_can_change_the_verdict():
    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, 500)
    baseline = [base, base, base]
    # every seed's arm is better on these images by 0.05 on average, but the seeds disagree strongly
    other = [base + 0.05 + shift + rng.normal(0, 0.05, 500) for shift in (-0.2, 0.05, 0.3)]
    result = paired_mean_difference(baseline, other, n_boot=300)
    averaged = paired_mean_difference([base], [np.mean(other, 0)], n_boot=300)
    assert verdict(averaged) == "higher" and verdict(result) == "no clear difference"
    assert result["ci_high"] - result["ci_low"] > 5 * (averaged["ci_high"] - averaged["ci_low"])


def test_a_difference_of_differences_is_the_gain_minus_the_reference_gain():
    rng = np.random.default_rng(8)
    n = 400
    clean_base, noisy_base = rng.normal(0, 1, n), rng.normal(0, 1, n)
    clean_arm, noisy_arm = clean_base + 0.1, noisy_base + 0.5 + rng.normal(0, 0.2, n)
    result = difference_of_differences(
        [mean_of_counts(noisy_base)],
        [mean_of_counts(noisy_arm)],
        [mean_of_counts(clean_base)],
        [mean_of_counts(clean_arm)],
        n,
    )
    assert result["difference"] == pytest.approx(np.mean(noisy_arm - noisy_base) - 0.1)
    assert verdict(result) == "higher"
    with pytest.raises(ValueError, match="same number"):
        difference_of_differences([mean_of_counts(noisy_base)], [], [], [], n)


def test_identical_arms_have_a_zero_width_interval():
    values = np.random.default_rng(0).random(100)
    result = paired_mean_difference([values, values], [values.copy(), values.copy()], n_boot=50)
    assert result["difference"] == result["ci_low"] == result["ci_high"] == 0
    assert verdict(result) == "no clear difference"


def test_seed_by_image_noise_is_counted_once():
    """Seeds that are right on different images (no seed effect, no image effect): the interval neither misses
    the difference nor doubles that noise into an interval far wider than it needs."""
    rng = np.random.default_rng(21)
    studies, covered, widths = 300, 0, []
    for study in range(studies):
        baseline, other = simulated_study(rng, n_images=300, n_seeds=3, seed_sd=0.0, image_sd=0.0, noise_sd=1.0)
        result = paired_mean_difference(baseline, other, n_boot=200, seed=study)
        covered += result["ci_low"] <= TRUE_DIFFERENCE <= result["ci_high"]
        widths.append(result["ci_high"] - result["ci_low"])
    # the mean of 3 seeds' differences over 300 images: sd sqrt(2 * 1.0 / (3 * 300)); ideal 95% width 4 sd
    assert 0.91 <= covered / studies <= 0.985
    assert np.median(widths) < 1.3 * 2 * 1.96 * np.sqrt(2 / 900)
