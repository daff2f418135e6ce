"""Calibration of multi-label scores: ECE (pooled and classwise), Brier, NLL, temperature scaling.

Every (image, class) pair is a binary event with probability p = sigmoid(logit / T). Pooled ECE
treats all unmasked pairs as one set of events; classwise ECE is the mean of the per-class ECEs.
ECE uses equal-width bins of p: sum over bins of (bin size / N) * |mean(y) - mean(p)|.
Temperature scaling divides every logit by one T > 0, fitted on NLL on the selection part; it changes no
ranking, so AP is unchanged by it. One temperature rescales the logits around zero, so it cannot remove an
offset (a model whose negatives all sit too high); Platt scaling, sigmoid(a z + b) with a slope a (= 1 / T) and
an offset b fitted on NLL on the selection part, can; with a > 0 (a model better than chance on the selection part)
it keeps every class's ranking too.
"""

import numpy as np
from scipy.special import expit, log_expit
from sklearn.linear_model import LogisticRegression

from lsml_core import calibration
from lsml_core.calibration import N_BINS, binary_ece, binary_reliability


def _pairs(targets, logits, mask) -> tuple[np.ndarray, np.ndarray]:
    """Flattened (y, logit) of the unmasked pairs."""
    targets, logits = np.asarray(targets, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    if targets.shape != logits.shape:
        raise ValueError(f"targets {targets.shape} and logits {logits.shape} must have the same shape")
    keep = np.ones(targets.shape, bool) if mask is None else np.asarray(mask) > 0
    return targets[keep], logits[keep]


def reliability(targets, logits, mask=None, temperature: float = 1.0, n_bins: int = N_BINS):
    """Per bin of pooled pairs: mean predicted probability, observed frequency, count (empty bins dropped)."""
    y, z = _pairs(targets, logits, mask)
    return binary_reliability(y, expit(z / temperature), n_bins)


def nll(targets, logits, mask=None, temperature: float = 1.0) -> float:
    """Mean binary cross-entropy against the hard labels over unmasked pairs."""
    y, z = _pairs(targets, logits, mask)
    z = z / temperature
    return float(-np.mean(y * log_expit(z) + (1 - y) * log_expit(-z)))


def classwise_ece(targets, logits, mask, temperature: float = 1.0, n_bins: int = N_BINS) -> float:
    """Mean over classes of each class's binary ECE."""
    eces = []
    for c in range(np.shape(targets)[1]):
        y, z = _pairs(targets[:, c], logits[:, c], None if mask is None else mask[:, c])
        eces.append(binary_ece(y, expit(z / temperature), n_bins))
    return float(np.nanmean(eces))


def calibration_metrics(targets, logits, mask=None, temperature: float = 1.0, n_bins: int = N_BINS) -> dict:
    """Pooled ECE, classwise ECE, Brier score and NLL of one split at a temperature."""
    targets, logits = np.asarray(targets, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    mask = np.ones(targets.shape) if mask is None else np.asarray(mask, dtype=np.float64)
    y, z = _pairs(targets, logits, mask)
    p = expit(z / temperature)
    return {
        "ece_pooled": binary_ece(y, p, n_bins),
        "ece_classwise": classwise_ece(targets, logits, mask, temperature, n_bins),
        "brier": float(np.mean((p - y) ** 2)),
        "nll": nll(targets, logits, mask, temperature),
    }


def fit_platt(targets, logits, mask=None) -> tuple[float, float]:
    """(slope a, offset b) of sigmoid(a z + b) minimising NLL on the selection part over the unmasked pairs: scikit-learn's
    unpenalised logistic regression on the logit; (1, 0), no change, when the pairs hold one label only."""
    y, z = _pairs(targets, logits, mask)
    if len(np.unique(y)) < 2:
        return 1.0, 0.0
    model = LogisticRegression(C=np.inf, tol=1e-8, max_iter=1000).fit(z[:, None], y.astype(int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def sigmoid_temperature(targets, logits, mask=None) -> float:
    """The T > 0 of sigmoid(logits / T) minimising NLL over the unmasked pairs of the selection part (see
    `lsml_core.calibration.minimising_temperature`)."""
    return calibration.minimising_temperature(lambda t: nll(targets, logits, mask, t))
