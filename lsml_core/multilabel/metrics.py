"""Average-precision metrics for multi-label classification.

Per-class AP comes in three flavours so results can be compared with every
convention found in the literature: the official VOC2010+ all-point
interpolation, the VOC2007 11-point interpolation and scikit-learn's
non-interpolated step sum. Precision/recall points always come from
``sklearn.metrics.precision_recall_curve``, which treats tied scores as one
block, so every result is independent of the input order. A mask of 0/1 per
(image, class) pair removes pairs (e.g. VOC "difficult" objects) from the
ranking entirely.
"""

import warnings

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

AP_METHODS = ("voc2010", "voc2007", "sklearn")

CHANCE_DRAWS = 50  # random rankings averaged by chance_map


def _as_array(x) -> np.ndarray:
    """Turn a numpy array, list or torch tensor into a numpy array, keeping its dtype."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_binary(x: np.ndarray, name: str) -> np.ndarray:
    """Return `x` as a bool array, failing on any value other than 0 or 1."""
    bad = x[~np.isin(x, (0, 1))]
    if bad.size:
        raise ValueError(f"{name} must contain only 0 and 1, got value {bad[0]!r}")
    return x.astype(bool)


def _checked(targets, scores, mask, ndim: int | None = None):
    """Validate and convert (targets, scores, mask) into (bool, numeric, bool) arrays of one shape."""
    targets, scores = _as_array(targets), _as_array(scores)
    mask = np.ones(targets.shape, dtype=bool) if mask is None else _as_array(mask)
    if not targets.shape == scores.shape == mask.shape:
        raise ValueError(
            f"targets, scores and mask must have the same shape, got {targets.shape}, {scores.shape} and {mask.shape}"
        )
    if ndim is not None and targets.ndim != ndim:
        raise ValueError(f"expected {ndim}-D arrays, got shape {targets.shape}")
    if not np.issubdtype(scores.dtype, np.number):
        raise ValueError(f"scores must be numeric, got dtype {scores.dtype}")
    bad = scores[~np.isfinite(scores)]
    if bad.size:
        raise ValueError(f"scores must be finite, got value {bad[0]!r}")
    return _check_binary(targets, "targets"), scores, _check_binary(mask, "mask")


def _voc2010(precision: np.ndarray, recall: np.ndarray) -> float:
    """All-point interpolated AP: area under the non-increasing precision envelope (inputs in sklearn order)."""
    mrec = np.concatenate(([0.0], recall[::-1], [1.0]))
    mpre = np.concatenate(([0.0], precision[::-1], [0.0]))
    envelope = np.maximum.accumulate(mpre[::-1])[::-1]
    return float(np.sum(np.diff(mrec) * envelope[1:]))


def _voc2007(precision: np.ndarray, recall: np.ndarray) -> float:
    """11-point AP: mean over t = 0, 0.1, ..., 1 (exact k/10) of max precision at recall >= t."""
    levels = np.arange(11) / 10
    best = [precision[recall >= t].max(initial=0.0) for t in levels]
    return float(np.mean(best))


def _class_ap(targets: np.ndarray, scores: np.ndarray, method: str) -> float:
    """AP of one class's binary ranking with at least one positive."""
    if method == "sklearn":
        return float(average_precision_score(targets, scores))
    precision, recall, _ = precision_recall_curve(targets, scores)
    # Drop the (precision=1, recall=0) end point sklearn appends.
    precision, recall = precision[:-1], recall[:-1]
    return _voc2010(precision, recall) if method == "voc2010" else _voc2007(precision, recall)


def average_precision(targets, scores, method: str = "voc2010", mask=None) -> np.ndarray:
    """Per-class AP (shape [n_classes]) of a multi-label problem; NaN where a class has no positives."""
    if method not in AP_METHODS:
        raise ValueError(f"unknown AP method {method!r}, expected one of {AP_METHODS}")
    targets, scores, mask = _checked(targets, scores, mask, ndim=2)
    ap = np.full(targets.shape[1], np.nan)
    for c in range(targets.shape[1]):
        keep = mask[:, c]
        if not targets[keep, c].any():
            warnings.warn(f"class {c} has no positive examples; its AP is NaN", UserWarning, stacklevel=2)
            continue
        ap[c] = _class_ap(targets[keep, c], scores[keep, c], method)
    return ap


def _nanmean(ap: np.ndarray) -> float:
    """Mean of the non-NaN values; NaN (without numpy's RuntimeWarning) if there are none."""
    return float("nan") if np.isnan(ap).all() else float(np.nanmean(ap))


def mean_average_precision(targets, scores, method: str = "voc2010", mask=None) -> float:
    """Macro mean of per-class AP, leaving out classes with no positives (NaN)."""
    return _nanmean(average_precision(targets, scores, method=method, mask=mask))


def exactly_right(targets, logits, mask):
    """Per image, every unmasked class decided right at p >= 0.5 (logit >= 0): numpy arrays or torch tensors
    [N, C] alike, so the training loop counts its batches on the device and the selection part reads the same."""
    return (((logits >= 0) == (targets > 0.5)) | (mask <= 0)).all(1)


def chance_map(targets, mask=None, *, draws: int = CHANCE_DRAWS, seed: int = 0) -> float:
    """The mAP a random ranking scores in expectation: the mean mAP of `draws` seeded uniform random scores of
    the same targets and mask. For many images it tends to the mean prevalence of the classes with a positive;
    for a few hundred it lies above it (a random ranking's AP is biased upwards on small samples)."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():  # classes without a positive: the run's own mAP has warned already
        warnings.simplefilter("ignore")
        maps = [mean_average_precision(targets, rng.random(targets.shape), mask=mask) for _ in range(draws)]
    return float(np.mean(maps))


def step_average_precision(targets: np.ndarray, scores: np.ndarray) -> float:
    """sklearn's AP of one binary ranking with a positive, without its per-call checks:
    sum over blocks of tied scores, best first, of (R_k - R_{k-1}) * P_k."""
    order = np.argsort(-scores, kind="mergesort")
    ranked, hits = scores[order], targets[order]
    ends = np.append(np.flatnonzero(np.diff(ranked)), len(ranked) - 1)  # last index of each block of ties
    tp = np.cumsum(hits)[ends]
    precision, recall = tp / (ends + 1), tp / tp[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def sample_average_precision(targets, scores, mask=None) -> float:
    """The original study's per-image AP: sklearn's AP over one image's class scores, averaged over images."""
    targets, scores, mask = _checked(targets, scores, mask, ndim=2)
    per_image = [step_average_precision(t[m], s[m]) for t, s, m in zip(targets, scores, mask) if t[m].any()]
    return float(np.mean(per_image)) if per_image else float("nan")


def _pooled(targets, scores, mask):
    """Validated unmasked (target, score) pairs of any shape, flattened into one ranking."""
    targets, scores, mask = _checked(targets, scores, mask)
    if not targets[mask].any():
        raise ValueError("a precision/recall curve needs at least one unmasked positive, got none")
    return targets[mask], scores[mask]


def precision_recall(targets, scores, mask=None):
    """Precision and recall points (sklearn order) of one class's or a pooled ranking, masked pairs dropped."""
    return precision_recall_curve(*_pooled(targets, scores, mask))


def micro_precision_recall(targets, scores, mask=None):
    """Micro-averaged PR curve: every unmasked (image, class) pair pooled as one binary ranking."""
    targets, scores = _pooled(targets, scores, mask)
    precision, recall, _ = precision_recall_curve(targets, scores)
    return precision, recall, float(average_precision_score(targets, scores))


def _json_float(x: float) -> float | None:
    """A float, or None for NaN, so the value survives JSON serialisation."""
    return None if np.isnan(x) else float(x)


def ap_table(targets, scores, class_names, mask=None) -> dict:
    """Every AP variant for one split: {method: {"mAP", "per_class"}, "sample_ap"}, NaN stored as None."""
    names = list(class_names)
    n_classes = np.shape(_as_array(targets))[-1]
    if len(names) != n_classes:
        raise ValueError(f"got {len(names)} class names for {n_classes} classes")
    table = {}
    for method in AP_METHODS:
        ap = average_precision(targets, scores, method=method, mask=mask)
        table[method] = {
            "mAP": _json_float(_nanmean(ap)),
            "per_class": {name: _json_float(v) for name, v in zip(names, ap)},
        }
    table["sample_ap"] = _json_float(sample_average_precision(targets, scores, mask=mask))
    return table
