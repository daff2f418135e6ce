"""Paired bootstrap over images, for every track: resamples as draw counts, percentile intervals, verdicts.

A resample of N images is a vector of counts (how often each image is drawn); the same counts are
applied to both arms, so the comparison is paired. A per-image statistic (1 if the image is right,
its log loss, ...) has the resample mean counts @ values / N; any other statistic of the images (an F1
from pooled counts, an ECE) is a function of the counts. Runs of several seeds are paired by position and
their differences averaged.
"""

from collections.abc import Callable

import numpy as np

CHUNK = 250  # resamples scored at once


def resample_counts(n_images: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n_images] draw counts of `n_boot` resamples with replacement."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, n_images, n_images), minlength=n_images) for _ in range(n_boot)])


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap values (NaNs left out)."""
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def paired_mean_difference(
    baseline: list[np.ndarray], other: list[np.ndarray], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Difference of the mean of a per-image statistic (other - baseline), averaged over paired runs,
    with its percentile interval; `baseline` and `other` are lists of [N] arrays on the same images."""
    if len(baseline) != len(other) or not baseline:
        raise ValueError(
            f"need the same number (>= 1) of baseline and other runs, got {len(baseline)} and {len(other)}"
        )
    differences = np.mean([np.asarray(o, np.float64) - np.asarray(b, np.float64) for b, o in zip(baseline, other)], 0)
    counts = resample_counts(len(differences), n_boot, seed)
    low, high = percentile_interval(counts @ differences / len(differences), level)
    return {
        "difference": float(differences.mean()),
        "ci_low": low,
        "ci_high": high,
        "level": level,
        "n_boot": n_boot,
        "n_runs": len(baseline),
    }


def paired_difference(
    baseline: list[Callable[[np.ndarray], np.ndarray]],
    other: list[Callable[[np.ndarray], np.ndarray]],
    n_images: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Difference of a statistic of the images (other - baseline), averaged over paired runs, with its
    percentile interval; each run is a function from draw counts [B, N] to the statistic of each resample
    [B] (counts of one: the observed value)."""
    if len(baseline) != len(other) or not baseline:
        raise ValueError(
            f"need the same number (>= 1) of baseline and other runs, got {len(baseline)} and {len(other)}"
        )

    def mean_difference(counts: np.ndarray) -> np.ndarray:
        return np.mean([o(counts) - b(counts) for b, o in zip(baseline, other)], axis=0)

    counts = resample_counts(n_images, n_boot, seed)
    boot = np.concatenate([mean_difference(counts[i : i + CHUNK]) for i in range(0, n_boot, CHUNK)])
    low, high = percentile_interval(boot, level)
    return {
        "difference": float(mean_difference(np.ones((1, n_images)))[0]),
        "ci_low": low,
        "ci_high": high,
        "level": level,
        "n_boot": n_boot,
        "n_runs": len(baseline),
    }


def verdict(result: dict) -> str:
    """`higher`, `lower`, or `no clear difference` when the interval contains zero."""
    if result["ci_low"] > 0:
        return "higher"
    if result["ci_high"] < 0:
        return "lower"
    return "no clear difference"
