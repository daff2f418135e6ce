"""Calibration shared by the tracks: ECE of binary events in equal-width bins, reliability bins, temperature fitting.

ECE = sum over bins of (bin size / N) * |mean(y) - mean(p)|, bins of equal width on p in [0, 1]
(p = 1 falls in the last bin). Temperature scaling divides every logit by one T > 0, fitted on the
selection split's log loss; it changes no ranking.
"""

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar

N_BINS = 15


def binary_ece(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE of binary events y with probabilities p (NaN without events)."""
    if len(y) == 0:
        return float("nan")
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins))
    return float(gap.sum() / count.sum())


def binary_reliability(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS):
    """Per non-empty equal-width bin of p: mean p, observed frequency of y, count."""
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    confidence = np.bincount(bins, weights=p, minlength=n_bins)[keep] / count[keep]
    frequency = np.bincount(bins, weights=y, minlength=n_bins)[keep] / count[keep]
    return confidence, frequency, count[keep]


def fit_temperature(loss_at: Callable[[float], float]) -> float:
    """The T > 0 minimising `loss_at(T)` (a log loss), searched on log T in [-3, 3], i.e. T in [0.05, 20]."""
    result = minimize_scalar(
        lambda log_t: loss_at(float(np.exp(log_t))), bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-5}
    )
    return float(np.exp(result.x))
