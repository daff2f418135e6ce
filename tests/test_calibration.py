"""Calibration metrics against scikit-learn and loops written out, and temperature scaling."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from lsml_core.multilabel import calibration
from lsml_core.multilabel.metrics import mean_average_precision


def sample(seed=0, n=400, classes=5, overconfidence=3.0):
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(-1.0, 2.0, (n, classes))
    targets = (rng.random((n, classes)) < expit(true_logits)).astype(np.float32)
    return targets, true_logits * overconfidence


def ece_by_loop(y, p, n_bins=15):
    total = 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        inside = (p >= low) & ((p < high) if b < n_bins - 1 else (p <= high))
        if inside.any():
            total += inside.sum() / len(p) * abs(y[inside].mean() - p[inside].mean())
    return total


def test_pooled_ece_brier_nll_against_sklearn_and_a_loop():
    targets, logits = sample()
    y, p = targets.ravel(), expit(logits.ravel())
    metrics = calibration.calibration_metrics(targets, logits)
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["nll"] == pytest.approx(log_loss(y, p), rel=1e-6)
    assert metrics["ece_pooled"] == pytest.approx(ece_by_loop(y, p))
    prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
    counts = np.histogram(p, bins=np.linspace(0, 1, 16))[0]
    assert metrics["ece_pooled"] == pytest.approx(np.sum(counts[counts > 0] / len(p) * np.abs(prob_true - prob_pred)))


def test_classwise_ece_is_the_mean_of_per_class_eces_and_respects_the_mask():
    targets, logits = sample(seed=1)
    mask = np.ones_like(targets)
    mask[:50, 0] = 0
    expected = np.mean([ece_by_loop(targets[mask[:, c] > 0, c], expit(logits[mask[:, c] > 0, c])) for c in range(5)])
    assert calibration.calibration_metrics(targets, logits, mask)["ece_classwise"] == pytest.approx(expected)


def test_temperature_recovers_known_overconfidence_and_leaves_ap_unchanged():
    targets, logits = sample(seed=2, n=3000, overconfidence=3.0)
    t = calibration.sigmoid_temperature(targets, logits)
    assert t == pytest.approx(3.0, rel=0.1)
    best = calibration.nll(targets, logits, temperature=t)
    assert best <= calibration.nll(targets, logits, temperature=t * 1.05)
    assert best <= calibration.nll(targets, logits, temperature=t / 1.05)
    before, after = (calibration.calibration_metrics(targets, logits, temperature=x)["ece_pooled"] for x in (1.0, t))
    assert after < before
    assert mean_average_precision(targets, logits / t) == mean_average_precision(targets, logits)


def test_reliability_bins_sum_to_all_pairs():
    targets, logits = sample(seed=3)
    confidence, frequency, count = calibration.reliability(targets, logits)
    assert count.sum() == targets.size and ((0 <= confidence) & (confidence <= 1)).all()
    assert ((0 <= frequency) & (frequency <= 1)).all()


def test_equal_mass_ece_against_a_loop_over_quantile_bins():
    from lsml_core.calibration import binary_ece

    rng = np.random.default_rng(3)
    p = rng.beta(0.5, 3.0, 900)  # most probabilities near zero, as the negatives of a multi-label split
    y = (rng.random(900) < p**0.8).astype(float)
    edges = np.quantile(p, np.linspace(0, 1, 16))
    total = 0.0
    for b in range(15):
        inside = (p >= edges[b]) & ((p < edges[b + 1]) if b < 14 else (p <= edges[b + 1]))
        assert abs(inside.sum() - 60) <= 1  # equal mass: 900 / 15 events a bin
        total += inside.sum() / len(p) * abs(y[inside].mean() - p[inside].mean())
    assert binary_ece(y, p, equal_mass=True) == pytest.approx(total)
    assert binary_ece(y, p, equal_mass=True) != pytest.approx(binary_ece(y, p))


def test_platt_scaling_removes_an_offset_a_temperature_cannot():
    targets, logits = sample(seed=5, overconfidence=1.0)
    shifted = logits + 2.0  # every pair's logit too high by the same offset
    slope, offset = calibration.fit_platt(targets, shifted)
    assert slope == pytest.approx(1.0, abs=0.1) and offset == pytest.approx(-2.0, abs=0.2)
    temperature = calibration.sigmoid_temperature(targets, shifted)
    after_t = calibration.calibration_metrics(targets, shifted, temperature=temperature)
    after_platt = calibration.calibration_metrics(targets, slope * shifted + offset)
    assert after_platt["nll"] < after_t["nll"] and after_platt["ece_pooled"] < after_t["ece_pooled"]
    assert calibration.fit_platt(np.ones((3, 2)), np.zeros((3, 2))) == (1.0, 0.0)
