"""Accuracy, log loss, top-label and classwise ECE, Brier, reliability bins and temperature scaling of softmax outputs.

p = softmax(logits / T). Top-label ECE: the binary ECE (`calibration.binary_ece`, 15 equal-width bins) of
the events "the top class is right" at probability max_k p_k. Classwise ECE: the mean over classes k of
the binary ECE of "the label is k" at probability p_k. Brier: mean over images of sum_k (p_k - onehot_k)^2.
Log loss: mean of -log p_y. T is fitted on the selection part's log loss, never on test.
"""

import numpy as np
from scipy.special import log_softmax, softmax

from lsml_core import calibration
from lsml_core.calibration import N_BINS, binary_ece, binary_reliability

METRICS = ("accuracy", "log_loss", "ece", "classwise_ece", "brier")


def log_loss(labels: np.ndarray, logits: np.ndarray, temperature: float = 1.0) -> float:
    """Mean -log softmax(logits / T)_y."""
    logp = log_softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def top_label_ece(labels: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE of the top-label confidence against whether the top label is right."""
    return binary_ece((probs.argmax(1) == labels).astype(float), probs.max(1), n_bins)


def classwise_ece(labels: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Mean over classes of the binary ECE of p_k against (label == k)."""
    return float(np.mean([binary_ece((labels == k).astype(float), probs[:, k], n_bins) for k in range(probs.shape[1])]))


def brier(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean over images of the squared distance between p and the one-hot label."""
    onehot = np.eye(probs.shape[1])[labels]
    return float(((probs - onehot) ** 2).sum(1).mean())


def split_metrics(labels: np.ndarray, logits: np.ndarray, temperature: float = 1.0) -> dict:
    """Every metric of METRICS for one split at a temperature."""
    labels = np.asarray(labels)
    probs = softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return {
        "accuracy": float((probs.argmax(1) == labels).mean()),
        "log_loss": log_loss(labels, logits, temperature),
        "ece": top_label_ece(labels, probs),
        "classwise_ece": classwise_ece(labels, probs),
        "brier": brier(labels, probs),
    }


def top_label_reliability(labels: np.ndarray, logits: np.ndarray, temperature: float = 1.0, n_bins: int = N_BINS):
    """Per non-empty bin of top-label confidence: mean confidence, accuracy, count."""
    probs = softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return binary_reliability((probs.argmax(1) == np.asarray(labels)).astype(float), probs.max(1), n_bins)


def softmax_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """The T > 0 of softmax(logits / T) minimising the log loss (see `lsml_core.calibration.minimising_temperature`)."""
    return calibration.minimising_temperature(lambda t: log_loss(labels, logits, t))
