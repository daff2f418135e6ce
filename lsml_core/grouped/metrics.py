"""Metrics of the grouped track, per label group and over the whole canvas.

p_g: a group's class probabilities: the softmax of its logits (`grouped` head), or its sigmoids divided
by their sum (`flat` head, whose outputs are not a distribution). Per group: accuracy (argmax right),
log loss (mean -log p_g[y]), Brier score (mean sum_k (p_g,k - onehot_k)^2), top-label ECE
(`calibration.binary_ece`, 15 bins, of "the argmax is right" at confidence max p_g) and the confusion matrix. Exact match: every group right.
For intervals over images (`lsml_core.bootstrap`) the same statistics are functions of draw counts [B, N]
(`image_statistics`): the per-image means through `calibration.mean_of_counts`, the ECE through
`calibration.ece_of_counts`.
"""

import numpy as np
from scipy.special import expit, softmax
from sklearn.metrics import confusion_matrix

from lsml_core.calibration import binary_ece, ece_of_counts, mean_of_counts

EPS = 1e-12


def group_probabilities(logits: np.ndarray, sizes: tuple[int, ...], head: str) -> list[np.ndarray]:
    """p_g of every group from the network's outputs [N, sum K_g (+ 6)]."""
    bounds = np.cumsum((0,) + tuple(sizes))
    blocks = [np.asarray(logits[:, a:b], np.float64) for a, b in zip(bounds[:-1], bounds[1:])]
    if head == "grouped":
        return [softmax(block, axis=1) for block in blocks]
    return [expit(block) / np.maximum(expit(block).sum(1, keepdims=True), EPS) for block in blocks]


def correct(labels: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    """[N, groups] booleans: whether each group's argmax is its label."""
    return np.stack([p.argmax(1) == labels[:, g] for g, p in enumerate(probs)], axis=1)


def split_metrics(labels: np.ndarray, logits: np.ndarray, groups, sizes, head: str) -> dict:
    """Per-group accuracy, log loss, Brier score (sum_k (p_k - onehot_k)^2, averaged over images) and ECE, and the
    exact match, of one split."""
    probs = group_probabilities(logits, sizes, head)
    right = correct(labels, probs)
    metrics = {"exact_match": float(right.all(1).mean())}
    for g, (group, p) in enumerate(zip(groups, probs)):
        y = labels[:, g]
        metrics[f"accuracy_{group}"] = float(right[:, g].mean())
        metrics[f"log_loss_{group}"] = float(-np.log(np.maximum(p[np.arange(len(y)), y], EPS)).mean())
        metrics[f"brier_{group}"] = float(((p - np.eye(p.shape[1])[y]) ** 2).sum(1).mean())
        metrics[f"ece_{group}"] = binary_ece(right[:, g].astype(float), p.max(1))
    return metrics


def confusion_matrices(labels: np.ndarray, logits: np.ndarray, groups, sizes, head: str) -> dict:
    """group -> confusion matrix (rows: true class, columns: predicted)."""
    probs = group_probabilities(logits, sizes, head)
    return {
        group: confusion_matrix(labels[:, g], p.argmax(1), labels=range(sizes[g])).tolist()
        for g, (group, p) in enumerate(zip(groups, probs))
    }


def image_statistics(labels: np.ndarray, logits: np.ndarray, groups, sizes, head: str) -> dict:
    """`split_metrics`' names -> a function from draw counts [B, N] to that metric on each resample (module doc);
    on every image once (counts of ones) each gives `split_metrics`' value."""
    probs = group_probabilities(logits, sizes, head)
    right = correct(labels, probs)
    statistics = {"exact_match": mean_of_counts(right.all(1))}
    for g, (group, p) in enumerate(zip(groups, probs)):
        y, keep = labels[:, g], np.ones((len(labels), 1), bool)
        statistics[f"accuracy_{group}"] = mean_of_counts(right[:, g])
        statistics[f"log_loss_{group}"] = mean_of_counts(-np.log(np.maximum(p[np.arange(len(y)), y], EPS)))
        statistics[f"brier_{group}"] = mean_of_counts(((p - np.eye(p.shape[1])[y]) ** 2).sum(1))
        statistics[f"ece_{group}"] = ece_of_counts(right[:, g, None].astype(float), p.max(1)[:, None], keep)
    return statistics
