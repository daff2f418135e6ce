"""The difference in mAP between two arms, with its interval over seeds and images (`lsml_core.bootstrap`).

Image resamples are draw counts, the same for both arms. AP with counts as weights equals AP
on the resample with repeated rows (ties form one block either way), which lets all resamples of a
class be scored at once: VOC2010 all-point interpolated AP, as in `metrics.average_precision`.
"""

import numpy as np

from lsml_core.bootstrap import check_paired, contrast_interval


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
    """Difference in mAP (other - baseline) over paired runs (seeds), with the interval of `lsml_core.bootstrap`
    (seeds and images; images only with one seed).

    `baseline` and `other` are lists of score arrays on the same images, paired by position.
    Returns the observed difference, its CI, and per-class observed differences with their CIs.
    """
    check_paired(baseline, other)

    def contrast(b: np.ndarray, o: np.ndarray):
        """Draw counts [B, N] -> [B, 1 + n_classes]: the mAP difference, then each class's AP difference; each
        run's per-class AP computed once for both."""

        def under(weights: np.ndarray) -> np.ndarray:
            ap_b, ap_o = per_class_ap(targets, b, mask, weights), per_class_ap(targets, o, mask, weights)
            return np.column_stack([np.nanmean(ap_o, axis=1) - np.nanmean(ap_b, axis=1), ap_o - ap_b])

        return under

    n_images = np.shape(targets)[0]
    contrasts = [contrast(b, o) for b, o in zip(baseline, other)]
    result = contrast_interval(contrasts, n_images, n_boot=n_boot, seed=seed, level=level)
    per_class = {k: result[k][1:] for k in ("difference", "ci_low", "ci_high")}
    return {
        **{k: (float(v[0]) if isinstance(v, np.ndarray) else v) for k, v in result.items()},
        "per_class": per_class,
    }
