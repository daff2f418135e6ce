"""Pseudo-labels for the unlabeled images, with a confidence threshold chosen on the selection part.

An image's confidence is the probability that every group is right under the model, prod_g max p_g.
The threshold is the lowest confidence t at which the selection images with confidence >= t are
at least `min_count` and exactly right (every group) at least `precision` of the time; the unlabeled
images at or above it keep their argmax labels. Without the count, one confident right selection image
would set the threshold by itself (its precision 1 is an estimate from one image). Their withheld labels
only score the result (how many kept, how many of them exactly right).
"""

import numpy as np

from lsml_core.grouped.metrics import correct


def confidence(probs: list[np.ndarray]) -> np.ndarray:
    """prod_g max_k p_g[k] per image."""
    return np.prod([p.max(1) for p in probs], axis=0)


def choose_threshold(confidence_sel: np.ndarray, right_sel: np.ndarray, precision: float, min_count: int = 1) -> float:
    """The lowest t with mean(right_sel[confidence_sel >= t]) >= precision over at least `min_count` selection
    images; inf when no t reaches it."""
    order = np.argsort(-confidence_sel, kind="stable")
    counts = np.arange(1, len(order) + 1)
    sorted_conf, hits = confidence_sel[order], np.cumsum(right_sel[order]) / counts
    last_of_tie = np.append(sorted_conf[1:] != sorted_conf[:-1], True)  # a threshold keeps every tie
    ok = np.flatnonzero((hits >= precision) & (counts >= min_count) & last_of_tie)
    return float(sorted_conf[ok[-1]]) if len(ok) else float("inf")


def select(probs_unlabeled: list[np.ndarray], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the unlabeled images at or above the threshold, their pseudo-labels [n, groups])."""
    keep = np.flatnonzero(confidence(probs_unlabeled) >= threshold)
    return keep, np.stack([p.argmax(1)[keep] for p in probs_unlabeled], axis=1).astype(np.int64)


def pseudo_labels(
    probs_sel, labels_sel, probs_unlabeled, labels_unlabeled, *, precision: float, min_count: int = 1
) -> tuple[dict, np.ndarray, np.ndarray]:
    """(a record of the choice, kept indices, their pseudo-labels)."""
    right, conf_sel = correct(labels_sel, probs_sel).all(1), confidence(probs_sel)
    threshold = choose_threshold(conf_sel, right, precision, min_count)
    keep, labels = select(probs_unlabeled, threshold)
    exact = (labels == labels_unlabeled[keep]).all(1)
    above = conf_sel >= threshold
    record = {
        "precision_asked": precision,
        "min_count": min_count,
        "threshold": threshold if np.isfinite(threshold) else None,  # None: no confidence reaches the precision
        "selection_count": int(above.sum()),  # selection images at or above the threshold
        "selection_precision": float(right[above].mean()) if np.isfinite(threshold) else None,
        "kept": int(len(keep)),
        "kept_right": int(exact.sum()),  # kept images whose pseudo-labels are all right (withheld labels)
        "fraction_kept": len(keep) / len(labels_unlabeled),
        "accuracy_of_kept": float(exact.mean()) if len(keep) else None,
    }
    return record, keep, labels
