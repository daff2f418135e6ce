"""CP, CR, CF1, OP, OR, OF1 against scikit-learn; the decision rules; per-class thresholds."""

import numpy as np
import pytest
from scipy.special import logit
from sklearn.metrics import f1_score, precision_recall_fscore_support

from lsml_core.multilabel.decisions import (
    best_thresholds,
    count_matrices,
    decide,
    decision_metrics,
    scores_from_counts,
)


def problem(seed=0, n=200, c=6):
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, c)) < 0.3).astype(np.float32)
    logits = rng.normal(size=(n, c)) + 1.5 * targets
    return targets, logits


def sklearn_scores(targets, decisions, labels):
    """CP, CR, CF1 (macro over `labels`) and OP, OR, OF1 (micro over all classes) from scikit-learn."""
    cp, cr, cf1, _ = precision_recall_fscore_support(
        targets, decisions, labels=labels, average="macro", zero_division=0
    )
    op, orr, of1, _ = precision_recall_fscore_support(targets, decisions, average="micro", zero_division=0)
    return {"CP": cp, "CR": cr, "CF1": cf1, "OP": op, "OR": orr, "OF1": of1}


@pytest.mark.parametrize("rule", ["t0.5", "top3", "tuned"])
def test_every_rule_matches_scikit_learn(rule):
    targets, logits = problem()
    thresholds = np.linspace(0.3, 0.8, targets.shape[1])
    ours = decision_metrics(targets, logits, thresholds=thresholds)[rule]
    decisions = decide(logits, rule, thresholds).astype(int)
    expected = sklearn_scores(targets.astype(int), decisions, labels=list(range(targets.shape[1])))
    assert ours == pytest.approx(expected, abs=1e-12)


def test_classes_without_positives_are_left_out_of_class_means_but_not_overall():
    targets, logits = problem(seed=1)
    targets[:, 2] = 0
    ours = decision_metrics(targets, logits)["t0.5"]
    decisions = decide(logits, "t0.5").astype(int)
    present = [c for c in range(targets.shape[1]) if c != 2]
    assert ours == pytest.approx(sklearn_scores(targets.astype(int), decisions, present), abs=1e-12)


def test_masked_pairs_are_left_out():
    targets, logits = problem(seed=2)
    mask = np.random.default_rng(3).random(targets.shape) > 0.2
    ours = decision_metrics(targets, logits, mask)["t0.5"]
    decisions = decide(logits, "t0.5")
    per_class = [
        precision_recall_fscore_support(
            targets[mask[:, c], c], decisions[mask[:, c], c], average="binary", zero_division=0
        )[:3]
        for c in range(targets.shape[1])
    ]
    assert ours["CP"] == pytest.approx(np.mean([p for p, _, _ in per_class]))
    assert ours["CR"] == pytest.approx(np.mean([r for _, r, _ in per_class]))
    assert ours["CF1"] == pytest.approx(np.mean([f for _, _, f in per_class]))
    assert ours["OF1"] == pytest.approx(f1_score(targets[mask], decisions[mask]))


def test_top3_says_yes_to_exactly_three_labels_the_highest():
    _, logits = problem(seed=4)
    decisions = decide(logits, "top3")
    assert (decisions.sum(axis=1) == 3).all()
    lowest_chosen = np.where(decisions, logits, np.inf).min(axis=1)
    highest_left = np.where(decisions, -np.inf, logits).max(axis=1)
    assert (lowest_chosen >= highest_left).all()
    assert (decide(logits[:, :2], "top3").sum(axis=1) == 2).all()


def test_threshold_half_is_logit_zero():
    decisions = decide(np.array([[-1e-9, 0.0, 2.0]]), "t0.5")
    assert decisions.tolist() == [[False, True, True]]


def test_nobody_predicted_gives_zero_precision_and_all_empty_gives_nan():
    tp, fp, fn = np.zeros(3), np.zeros(3), np.array([2.0, 1.0, 0.0])
    scores = scores_from_counts(tp, fp, fn)
    assert scores["CP"] == 0 and scores["CR"] == 0 and scores["OF1"] == 0
    assert np.isnan(scores_from_counts(tp, fp, np.zeros(3))["CF1"])


def test_counts_per_resample_equal_metrics_on_the_resampled_rows():
    targets, logits = problem(seed=5, n=50)
    rows = np.random.default_rng(0).integers(0, 50, 50)
    weights = np.bincount(rows, minlength=50).astype(float)
    tp, fp, fn = (weights @ m for m in count_matrices(targets, decide(logits, "t0.5")))
    expected = decision_metrics(targets[rows], logits[rows])["t0.5"]
    assert {k: float(v) for k, v in scores_from_counts(tp, fp, fn).items()} == pytest.approx(expected)


def test_best_thresholds_maximise_f1_on_their_own_pairs():
    targets, logits = problem(seed=6)
    thresholds = best_thresholds(targets, logits)
    for c in range(targets.shape[1]):
        chosen = f1_score(targets[:, c], decide(logits, "tuned", thresholds)[:, c])
        for t in np.linspace(0.01, 0.99, 99):
            assert chosen >= f1_score(targets[:, c], logits[:, c] >= logit(t)) - 1e-12


def test_best_threshold_of_a_class_without_positives_is_one_half():
    targets, logits = problem(seed=7)
    targets[:, 0] = 0
    assert best_thresholds(targets, logits)[0] == 0.5


def test_unknown_rule_and_missing_thresholds_are_refused():
    _, logits = problem()
    with pytest.raises(ValueError, match="unknown decision rule 'top5'"):
        decide(logits, "top5")
    with pytest.raises(ValueError, match="one threshold per class"):
        decide(logits, "tuned", [0.5])


def test_best_thresholds_leave_masked_pairs_out_and_take_the_lowest_of_tied_thresholds():
    targets = np.array([[1], [0], [1], [0]], dtype=np.float32)
    logits = logit(np.array([[0.9], [0.8], [0.6], [0.2]]))
    mask = np.array([[1], [0], [1], [1]])
    # without the masked negative at 0.8, every cut at or below 0.6 keeps both positives and only they are above 0.2
    assert best_thresholds(targets, logits, mask)[0] == pytest.approx(0.6)
    assert best_thresholds(targets, logits)[0] == pytest.approx(0.6)  # 0.6: F1 0.8, as 0.9 (F1 0.67) is worse
    # cuts at 0.9 (TP 1, FN 1) and at 0.3 (TP 2, FP 2) both give F1 2/3: the lower one is kept
    tied_targets = np.array([[1], [0], [0], [1]], dtype=np.float32)
    tied = logit(np.array([[0.9], [0.6], [0.5], [0.3]]))
    assert best_thresholds(tied_targets, tied)[0] == pytest.approx(0.3)
