"""Precision, recall and F1 of yes/no label decisions: the multi-label metrics CP, CR, CF1, OP, OR, OF1.

A rule turns scores into decisions: `t0.5` says yes where sigmoid(logit) >= 0.5; `top3` says yes to each
image's three highest-scoring classes (ties by class order); `tuned` says yes where sigmoid(logit) >= t_c,
with per-class thresholds t_c chosen on the selection part of train (maximum F1 there). Masked pairs (VOC
"difficult") are left out, as for AP. From the counts TP_c, FP_c, FN_c of each class c:

    CP  = mean_c TP_c / (TP_c + FP_c)        CR  = mean_c TP_c / (TP_c + FN_c)
    CF1 = mean_c 2 TP_c / (2 TP_c + FP_c + FN_c)
    OP  = sum TP / sum (TP + FP)             OR  = sum TP / sum (TP + FN)
    OF1 = 2 OP OR / (OP + OR)

Class means run over the classes with at least one positive (a class nobody predicts has precision 0),
as scikit-learn's `precision_recall_fscore_support(average="macro", zero_division=0)` over those labels
(mmpretrain's MultiLabelMetric averages over every class: the same when every class has a positive); the
overall ones pool every pair (scikit-learn's "micro"). ML-GCN and ASL print CF1 as 2 CP CR / (CP + CR)
instead, which is never below the mean of the per-class F1s. Per-class thresholds are fitted on the
selection part's single-crop scores; on `val_fivecrop` (FiveCrop-averaged logits, a narrower spread) they apply as
they are, so `tuned` on val_fivecrop also measures how well they transfer.
"""

import numpy as np
from scipy.special import expit
from sklearn.metrics import precision_recall_curve

NAMES = ("CP", "CR", "CF1", "OP", "OR", "OF1")
RULES = {
    "t0.5": "threshold 0.5",
    "top3": "the top 3 labels per image",
    "tuned": "per-class thresholds chosen on the selection part of train",
}
TOP_K = 3


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64), where=denominator > 0)


def scores_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """CP, CR, CF1, OP, OR, OF1 from per-class counts [..., n_classes] (formulas in the module docstring)."""
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    has_positive = (tp + fn) > 0
    n_classes = has_positive.sum(axis=-1)

    def class_mean(values: np.ndarray) -> np.ndarray:
        total = np.where(has_positive, values, 0.0).sum(axis=-1)
        return np.divide(total, n_classes, out=np.full(total.shape, np.nan), where=n_classes > 0)

    op = _ratio(tp.sum(-1), (tp + fp).sum(-1))
    recall_all = _ratio(tp.sum(-1), (tp + fn).sum(-1))
    return {
        "CP": class_mean(_ratio(tp, tp + fp)),
        "CR": class_mean(_ratio(tp, tp + fn)),
        "CF1": class_mean(_ratio(2 * tp, 2 * tp + fp + fn)),
        "OP": op,
        "OR": recall_all,
        "OF1": _ratio(2 * op * recall_all, op + recall_all),
    }


def decide(logits, rule: str, thresholds=None) -> np.ndarray:
    """Boolean decisions [N, n_classes] of a rule (see the module docstring) from logits."""
    logits = np.asarray(logits, dtype=np.float64)
    if rule == "t0.5":
        return expit(logits) >= 0.5
    if rule == "top3":
        k = min(TOP_K, logits.shape[1])
        top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
        decisions = np.zeros(logits.shape, dtype=bool)
        np.put_along_axis(decisions, top, True, axis=1)
        return decisions
    if rule == "tuned":
        if thresholds is None or len(thresholds) != logits.shape[1]:
            raise ValueError(f"rule 'tuned' needs one threshold per class ({logits.shape[1]}), got {thresholds!r}")
        return expit(logits) >= np.asarray(thresholds, dtype=np.float64)
    raise ValueError(f"unknown decision rule {rule!r}: choose one of {', '.join(RULES)}")


def count_matrices(targets, decisions, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image and class: 0/1 arrays [N, n_classes] of true positives, false positives and false negatives,
    masked pairs zero everywhere; summing (or weighting) over images gives the counts."""
    targets = np.asarray(targets) > 0
    keep = np.ones(targets.shape, bool) if mask is None else np.asarray(mask) > 0
    if decisions.shape != targets.shape or keep.shape != targets.shape:
        raise ValueError(f"targets {targets.shape}, decisions {decisions.shape} and mask {keep.shape} must match")
    return (
        (decisions & targets & keep).astype(np.float64),
        (decisions & ~targets & keep).astype(np.float64),
        (~decisions & targets & keep).astype(np.float64),
    )


def decision_metrics(targets, logits, mask=None, thresholds=None) -> dict[str, dict[str, float]]:
    """{rule: {CP, CR, CF1, OP, OR, OF1}} of one split; `tuned` only when per-class thresholds are given."""
    rules = [r for r in RULES if r != "tuned" or thresholds is not None]
    table = {}
    for rule in rules:
        tp, fp, fn = (m.sum(axis=0) for m in count_matrices(targets, decide(logits, rule, thresholds), mask))
        table[rule] = {name: _json(value) for name, value in scores_from_counts(tp, fp, fn).items()}
    return table


def _json(value) -> float | None:
    """A float for metrics.json, None for NaN."""
    value = float(value)
    return None if np.isnan(value) else value


def best_thresholds(targets, logits, mask=None) -> np.ndarray:
    """Per class, the probability threshold with the highest F1 on these pairs (0.5 for a class without
    positives); the lowest such threshold when several tie."""
    targets, logits = np.asarray(targets) > 0, np.asarray(logits, dtype=np.float64)
    keep = np.ones(targets.shape, bool) if mask is None else np.asarray(mask) > 0
    thresholds = np.full(targets.shape[1], 0.5)
    for c in range(targets.shape[1]):
        y, p = targets[keep[:, c], c], expit(logits[keep[:, c], c])
        if not y.any():
            continue
        precision, recall, cuts = precision_recall_curve(y, p)
        f1 = _ratio(2 * precision[:-1] * recall[:-1], precision[:-1] + recall[:-1])
        thresholds[c] = cuts[int(np.argmax(f1))]
    return thresholds
