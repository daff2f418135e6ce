"""Intervals of a difference between two arms that cover both the sampling of images and training randomness.

A study compares arms trained with S seeds (seed s of one arm paired with seed s of the other) and evaluated
on the same N images. Its estimate is the mean over seeds of the per-seed difference, d = mean_s d_s, and
its error has two sources (Bouthillier et al. 2021, "Accounting for variance in machine learning
benchmarks"): which images were sampled (shared by every seed) and how each seed's training went.

- Images: a resample of the N images is a vector of draw counts (how often each image is drawn); the same
  counts are applied to every run of both arms, so the comparison is paired. A per-image statistic (1 if
  the image is right, its log loss, ...) has the resample mean counts @ values / N; any other statistic of
  the images (an F1 from pooled counts, an ECE, an mAP) is a function of the counts. v_images is the
  variance over B resamples of the seed-averaged difference.
- Seeds: var_s(d_s) / S, the squared standard error of the mean of the per-seed differences (observed on all
  images), with S - 1 degrees of freedom. Each d_s also carries its own seed-by-image noise (a seed right on
  other images than another), which v_images already holds at its share 1/S; so v_seeds = max(var_s(d_s) / S
  - (w - v_images) / (S - 1), 0), where w = mean_s var_B(d_s) is a seed's own image variance: w - v_images
  estimates that noise's variance times (1 - 1/S), and the subtraction counts it once.

The interval is d +- t_q(df) sqrt(v_images + v_seeds), q = (1 + level) / 2, with the Welch-Satterthwaite
degrees of freedom df = (v_images + v_seeds)^2 / (v_seeds^2 / (S - 1)) (the image part taken as exact).
With one seed v_seeds cannot be estimated: the interval covers images only (df infinite) and says so
(`ONE_SEED`). `tests/test_bootstrap.py` simulates studies with a known difference to show that the 95%
interval covers it about 95% of the time, and the images-only interval less when seeds differ.
"""

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import stats

from lsml_core.calibration import mean_of_counts

CHUNK = 250  # resamples scored at once
COVERS_BOTH = "seeds and images"
ONE_SEED = "one seed: training randomness not covered"


@lru_cache(maxsize=4)
def resample_counts(n_images: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n_images] draw counts of `n_boot` resamples with replacement (read-only; drawn once per
    arguments, since a report compares every arm and metric on the same resamples)."""
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n_images, n_images), minlength=n_images) for _ in range(n_boot)])
    counts.flags.writeable = False
    return counts


def covers(n_seeds: int) -> str:
    """What an interval from `n_seeds` paired seeds covers, in words."""
    return COVERS_BOTH if n_seeds > 1 else f"images only ({ONE_SEED})"


def seed_image_interval(per_seed: np.ndarray, seed_boot: np.ndarray, level: float = 0.95) -> dict:
    """The interval of the module docstring from the per-seed observed differences [S, ...] and each seed's
    differences under the same image resamples [B, S, ...] (trailing dimensions, e.g. classes, handled
    elementwise; NaNs left out)."""
    per_seed, seed_boot = np.asarray(per_seed, np.float64), np.asarray(seed_boot, np.float64)
    n_seeds = len(per_seed)
    difference = np.nanmean(per_seed, axis=0)
    v_images = np.nanvar(np.nanmean(seed_boot, axis=1), axis=0, ddof=1)
    if n_seeds > 1:
        within = np.nanmean(np.nanvar(seed_boot, axis=0, ddof=1), axis=0)  # w: a seed's own image variance
        interaction = np.maximum(within - v_images, 0) / (n_seeds - 1)
        v_seeds = np.maximum(np.nanvar(per_seed, axis=0, ddof=1) / n_seeds - interaction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            df = np.where(v_seeds > 0, (n_seeds - 1) * ((v_images + v_seeds) / v_seeds) ** 2, np.inf)
    else:
        v_seeds, df = np.zeros_like(v_images), np.full_like(v_images, np.inf)
    half = stats.t.ppf((1 + level) / 2, df) * np.sqrt(v_images + v_seeds)
    return {
        "difference": difference,
        "ci_low": difference - half,
        "ci_high": difference + half,
        "se_images": np.sqrt(v_images),
        "se_seeds": np.sqrt(v_seeds),
        "df": df,
    }


def contrast_interval(
    contrasts: list[Callable[[np.ndarray], np.ndarray]],
    n_images: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """The interval of a contrast between arms, one function per seed from draw counts [B, N] to that seed's
    contrast under each resample ([B], or [B, ...]): a difference (other - baseline), or a difference of
    differences. Floats for a scalar contrast, arrays otherwise; also `level`, `n_boot`, `n_runs`, `covers`."""
    if not contrasts:
        raise ValueError("need at least one paired run to compare")

    def each_seed(counts: np.ndarray) -> np.ndarray:
        return np.stack([contrast(counts) for contrast in contrasts], axis=1)

    counts = resample_counts(n_images, n_boot, seed)
    boot = np.concatenate([each_seed(counts[i : i + CHUNK]) for i in range(0, n_boot, CHUNK)])
    per_seed = each_seed(np.ones((1, n_images)))[0]
    result = seed_image_interval(per_seed, boot, level)
    if np.ndim(result["difference"]) == 0:
        result = {k: float(v) for k, v in result.items()}
    return {**result, "level": level, "n_boot": n_boot, "n_runs": len(contrasts), "covers": covers(len(contrasts))}


def check_paired(*arms: list) -> None:
    """Raise ValueError unless every arm holds the same number (>= 1) of runs, paired by position (seeds)."""
    sizes = [len(arm) for arm in arms]
    if len(set(sizes)) != 1 or not sizes[0]:
        raise ValueError(f"need the same number (>= 1) of runs in every arm (paired by seed), got {sizes}")


def paired_difference(
    baseline: list[Callable[[np.ndarray], np.ndarray]],
    other: list[Callable[[np.ndarray], np.ndarray]],
    n_images: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Difference of a statistic of the images (other - baseline) over paired runs, with the interval of the
    module docstring; each run is a function from draw counts [B, N] to the statistic of each resample [B]."""
    check_paired(baseline, other)
    contrasts = [lambda counts, b=b, o=o: o(counts) - b(counts) for b, o in zip(baseline, other)]
    return contrast_interval(contrasts, n_images, n_boot=n_boot, seed=seed, level=level)


def difference_of_differences(
    baseline: list[Callable[[np.ndarray], np.ndarray]],
    other: list[Callable[[np.ndarray], np.ndarray]],
    reference_baseline: list[Callable[[np.ndarray], np.ndarray]],
    reference_other: list[Callable[[np.ndarray], np.ndarray]],
    n_images: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """(other - baseline) - (reference_other - reference_baseline) over paired runs on the same images, with the
    interval of the module docstring: e.g. smoothing's gain under label noise minus its gain on clean labels."""
    check_paired(baseline, other, reference_baseline, reference_other)
    contrasts = [
        lambda counts, b=b, o=o, rb=rb, ro=ro: (o(counts) - b(counts)) - (ro(counts) - rb(counts))
        for b, o, rb, ro in zip(baseline, other, reference_baseline, reference_other)
    ]
    return contrast_interval(contrasts, n_images, n_boot=n_boot, seed=seed, level=level)


def paired_mean_difference(
    baseline: list[np.ndarray], other: list[np.ndarray], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Difference of the mean of a per-image statistic (other - baseline) over paired runs, with the interval of
    the module docstring; `baseline` and `other` are lists of [N] arrays on the same images."""
    check_paired(baseline, other)
    n_images = len(baseline[0])
    return paired_difference(
        [mean_of_counts(b) for b in baseline],
        [mean_of_counts(o) for o in other],
        n_images,
        n_boot=n_boot,
        seed=seed,
        level=level,
    )


def verdict(result: dict) -> str:
    """`higher`, `lower`, or `no clear difference` when the interval contains zero."""
    if result["ci_low"] > 0:
        return "higher"
    if result["ci_high"] < 0:
        return "lower"
    return "no clear difference"
