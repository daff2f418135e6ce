"""Single-label calibration metrics against written-out loops and scikit-learn; temperature fitting."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from lsml_core.multiclass.metrics import softmax_temperature, split_metrics


def loop_ece(correct, confidence, n_bins=15):
    """ECE written out: for each equal-width bin (the last one closed), |accuracy - confidence| weighted by its size."""
    total = 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        inside = [i for i, c in enumerate(confidence) if low <= c < high or (b == n_bins - 1 and c == 1.0)]
        if inside:
            total += (
                len(inside)
                / len(confidence)
                * abs(np.mean([correct[i] for i in inside]) - np.mean([confidence[i] for i in inside]))
            )
    return total


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) * 2
    logits[np.arange(300), labels] += 1.5
    return labels, logits


def test_ece_top_label_and_classwise_against_loops(data):
    labels, logits = data
    probs = softmax(logits, axis=1)
    metrics = split_metrics(labels, logits)
    assert metrics["ece"] == pytest.approx(loop_ece(probs.argmax(1) == labels, probs.max(1)))
    classwise = np.mean([loop_ece(labels == k, probs[:, k]) for k in range(4)])
    assert metrics["classwise_ece"] == pytest.approx(classwise)


def test_brier_log_loss_accuracy_against_sklearn(data):
    labels, logits = data
    probs = softmax(logits / 1.7, axis=1)
    metrics = split_metrics(labels, logits, temperature=1.7)
    assert metrics["log_loss"] == pytest.approx(sk_log_loss(labels, probs, labels=range(4)))
    assert metrics["brier"] == pytest.approx(brier_score_loss(labels, probs, labels=range(4), scale_by_half=False))
    assert metrics["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == labels))


def test_temperature_fit_recovers_known_overconfidence():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(size=(20000, 5)) * 2
    labels = np.array([rng.choice(5, p=p) for p in softmax(true_logits, axis=1)])
    assert softmax_temperature(labels, true_logits * 3.0) == pytest.approx(3.0, rel=0.05)
    calibrated = split_metrics(labels, true_logits * 3.0, temperature=softmax_temperature(labels, true_logits * 3.0))
    assert calibrated["ece"] < split_metrics(labels, true_logits * 3.0)["ece"]
