"""Label statistics for the exploration notebook: counts, cardinality, co-occurrence, smoothing examples."""

import numpy as np
import pandas as pd
import torch

from lsml_core.smoothing import SCHEMES, smooth_targets


def label_counts(targets_by_split: dict[str, np.ndarray], classes: tuple[str, ...]) -> pd.DataFrame:
    """Images per class and split (a class counted once per image), with each split's image total."""
    table = pd.DataFrame({split: (t > 0).sum(axis=0) for split, t in targets_by_split.items()}, index=list(classes))
    table.loc["(images)"] = [len(t) for t in targets_by_split.values()]
    return table


def cardinality(targets: np.ndarray) -> pd.Series:
    """How many images carry 1, 2, ... labels."""
    return pd.Series((targets > 0).sum(axis=1)).value_counts().sort_index().rename_axis("labels per image")


def cooccurrence(targets: np.ndarray, classes: tuple[str, ...]) -> pd.DataFrame:
    """Images in which both classes occur (the diagonal: images of the class)."""
    hot = (targets > 0).astype(np.int64)
    return pd.DataFrame(hot.T @ hot, index=list(classes), columns=list(classes))


def smoothing_example(
    target: np.ndarray, classes: tuple[str, ...], alpha: float, teacher_probs: np.ndarray
) -> pd.DataFrame:
    """What each scheme makes of one multi-hot target vector (rows: schemes, columns: classes); a scheme whose
    alpha limit `alpha` reaches (`symmetric` from 0.5) is left out.

    `instance` needs a teacher; here any vector of class scores (e.g. class frequencies) illustrates it.
    """
    hard = torch.as_tensor(target, dtype=torch.float32).reshape(1, -1)
    teacher = torch.as_tensor(teacher_probs, dtype=torch.float32).reshape(1, -1)
    rows = {
        scheme: smooth_targets(hard, scheme, 0.0 if scheme == "none" else alpha, teacher)[0].numpy()
        for scheme, spec in SCHEMES.items()
        if alpha < spec.max_alpha
    }
    return pd.DataFrame(rows, index=list(classes)).T
