"""Calibration shared by the tracks: ECE of binary events in equal-width or equal-mass bins, reliability bins,
temperature fitting, and calibration statistics of resampled images.

ECE = sum over bins of (bin size / N) * |mean(y) - mean(p)|. Equal-width bins split p in [0, 1] into N_BINS
intervals of one width (p = 1 falls in the last bin); equal-mass bins (Nixon et al. 2019, "Measuring
calibration in deep learning") put their edges at the quantiles of the observed p, so each holds about as
many events, and a mass of near-zero probabilities (the negatives of a multi-label split) no longer fills one
bin. Temperature scaling divides every logit by one T > 0, fitted on the selection split's log loss; it
changes no ranking.

For intervals over images (`lsml_core.bootstrap`) every statistic is a function of draw counts [B, N]: an
image holds M binary events (its classes, or its top label), and an ECE under counts c is
sum_b |sum_i c_i sum_{j in b} (y_ij - p_ij)| / sum_i c_i m_i, the ECE of the resampled events; a mean of a
per-image value v_i (its Brier score or log loss) is c @ v / sum c.
"""

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar

N_BINS = 15


def binary_ece(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS, equal_mass: bool = False) -> float:
    """ECE of binary events y with probabilities p in equal-width (or equal-mass) bins; NaN without events."""
    if len(y) == 0:
        return float("nan")
    bins = bin_index(p, n_bins, equal_mass_edges(p, n_bins) if equal_mass else None)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins))
    return float(gap.sum() / count.sum())


def equal_mass_edges(p: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """The n_bins - 1 inner edges of equal-mass bins: the quantiles of the observed p."""
    return np.quantile(np.asarray(p, np.float64), np.linspace(0, 1, n_bins + 1)[1:-1])


def bin_index(p: np.ndarray, n_bins: int = N_BINS, edges: np.ndarray | None = None) -> np.ndarray:
    """The bin of every p: equal-width bins, or the bins between `edges` (`equal_mass_edges`)."""
    if edges is None:
        return np.minimum((np.asarray(p) * n_bins).astype(int), n_bins - 1)
    return np.searchsorted(edges, p, side="right")


def ece_of_counts(y: np.ndarray, p: np.ndarray, keep: np.ndarray, n_bins: int = N_BINS, equal_mass: bool = False):
    """ECE under draw counts [B, N] of the binary events y, p [N, M] (keep [N, M]: which count), a function
    (module docstring); equal-mass bins take their edges from the observed events."""
    y, p, keep = np.asarray(y, np.float64), np.asarray(p, np.float64), np.asarray(keep, bool)
    edges = equal_mass_edges(p[keep], n_bins) if equal_mass else None
    one_hot = (bin_index(p, n_bins, edges)[..., None] == np.arange(n_bins)) & keep[..., None]
    n = one_hot.sum(axis=1)
    gap = (one_hot * (y - p)[..., None]).sum(axis=1)
    return lambda counts: np.abs(counts @ gap).sum(axis=1) / (counts @ n).sum(axis=1)


def mean_of_counts(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The mean of a per-image value [N] under draw counts [B, N]: counts @ values / sum counts."""
    values = np.asarray(values, np.float64)
    return lambda counts: counts @ values / counts.sum(axis=1)


def binary_reliability(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS):
    """Per non-empty equal-width bin of p: mean p, observed frequency of y, count."""
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    confidence = np.bincount(bins, weights=p, minlength=n_bins)[keep] / count[keep]
    frequency = np.bincount(bins, weights=y, minlength=n_bins)[keep] / count[keep]
    return confidence, frequency, count[keep]


def minimising_temperature(loss_at: Callable[[float], float]) -> float:
    """The T > 0 minimising `loss_at(T)` (a log loss), searched on log T in [-3, 3], i.e. T in [0.05, 20]."""
    result = minimize_scalar(
        lambda log_t: loss_at(float(np.exp(log_t))), bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-5}
    )
    return float(np.exp(result.x))
