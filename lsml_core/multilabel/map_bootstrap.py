"""Paired bootstrap over images of the difference in mAP between two sets of scores.

Resamples are draw counts (`lsml_core.bootstrap`), the same for both arms. AP with counts as weights equals AP
on the resample with repeated rows (ties form one block either way), which lets all resamples of a
class be scored at once: VOC2010 all-point interpolated AP, as in `metrics.average_precision`.
"""

import numpy as np

from lsml_core.bootstrap import CHUNK, percentile_interval, resample_counts


def weighted_voc2010_ap(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """VOC2010 AP of one class under each row of `weights` ([B, N]); NaN where a resample has no positive."""
    order = np.argsort(-scores, kind="stable")
    y, s, w = y[order].astype(np.float64), scores[order], weights[:, order].astype(np.float64)
    ends = np.append(np.flatnonzero(np.diff(s) != 0), len(s) - 1)  # last row of each block of tied scores
    tp = np.cumsum(w * y, axis=1)[:, ends]
    fp = np.cumsum(w * (1.0 - y), axis=1)[:, ends]
    n_pos = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / n_pos
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
    rows = len(w)
    mrec = np.hstack([np.zeros((rows, 1)), recall, np.ones((rows, 1))])
    mpre = np.hstack([np.zeros((rows, 1)), precision, np.zeros((rows, 1))])
    envelope = np.maximum.accumulate(mpre[:, ::-1], axis=1)[:, ::-1]
    ap = np.sum(np.diff(mrec, axis=1) * envelope[:, 1:], axis=1)
    return np.where(n_pos[:, 0] > 0, ap, np.nan)


def per_class_ap(targets, scores, mask, weights) -> np.ndarray:
    """[B, n_classes] VOC2010 AP of every class under every resample; masked pairs left out."""
    targets, scores = np.asarray(targets), np.asarray(scores)
    mask = np.ones(targets.shape, bool) if mask is None else np.asarray(mask) > 0
    columns = []
    for c in range(targets.shape[1]):
        keep = mask[:, c]
        columns.append(weighted_voc2010_ap(targets[keep, c], scores[keep, c], weights[:, keep]))
    return np.stack(columns, axis=1)


def paired_bootstrap(
    targets, baseline: list, other: list, *, mask=None, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Difference in mAP (other - baseline), averaged over paired runs (e.g. seeds), with a percentile CI.

    `baseline` and `other` are lists of score arrays on the same images, paired by position.
    Returns the observed difference, its CI, and per-class observed differences with their CIs.
    """
    if len(baseline) != len(other) or not baseline:
        raise ValueError(
            f"need the same number (>= 1) of baseline and other runs, got {len(baseline)} and {len(other)}"
        )
    n_images = np.shape(targets)[0]

    def differences(weights) -> tuple[np.ndarray, np.ndarray]:
        """(mAP difference [B], per-class AP difference [B, n_classes]) under each row of `weights`,
        averaged over the paired runs; each run's per-class AP computed once for both."""
        maps, classes = [], []
        for b, o in zip(baseline, other):
            ap_b, ap_o = per_class_ap(targets, b, mask, weights), per_class_ap(targets, o, mask, weights)
            maps.append(np.nanmean(ap_o, axis=1) - np.nanmean(ap_b, axis=1))
            classes.append(ap_o - ap_b)
        return np.mean(maps, axis=0), np.mean(classes, axis=0)

    counts = resample_counts(n_images, n_boot, seed)
    boot_map, boot_class = zip(*(differences(counts[start : start + CHUNK]) for start in range(0, n_boot, CHUNK)))
    boot_map, boot_class = np.concatenate(boot_map), np.concatenate(boot_class)
    observed_map, observed_class = differences(np.ones((1, n_images)))
    low, high = percentile_interval(boot_map, level)
    tail = 100 * (1 - level) / 2
    class_low, class_high = np.nanpercentile(boot_class, [tail, 100 - tail], axis=0)
    return {
        "difference": float(observed_map[0]),
        "ci_low": low,
        "ci_high": high,
        "level": level,
        "n_boot": n_boot,
        "n_runs": len(baseline),
        "per_class": {"difference": observed_class[0], "ci_low": class_low, "ci_high": class_high},
    }
