"""Splits held in memory, and the selection part carved from a training split (fixed by a seed, never reported).

Every track names its splits by role: `fit` (what the weights learn from), `selection` (what chooses the
epoch, a grid point, a temperature, thresholds), and the reported `val` / `test` that never choose.
"""

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Split:
    """uint8 images [N, C, H, W] and their int64 labels ([N], or [N, groups] with one label per group)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def carve_selection(
    n: int, n_selection: int, seed: int, labels: np.ndarray | None = None, n_fit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(training part, selection part) of `range(n)`, both sorted.

    With single-label `labels`: stratified by scikit-learn's `train_test_split` (`n_fit` images kept for
    training, default all the others). Without: a seeded permutation whose first `n_selection`
    indices are selected (multi-hot targets have no single class to stratify by).
    """
    if not 1 <= n_selection < n:
        raise ValueError(f"the selection part must hold between 1 and {n - 1} of the {n} images, got {n_selection}")
    if labels is None:
        order = np.random.default_rng(seed).permutation(n)
        return np.sort(order[n_selection:]), np.sort(order[:n_selection])
    fit, selection = train_test_split(
        np.arange(n), train_size=n_fit or n - n_selection, test_size=n_selection, stratify=labels, random_state=seed
    )
    return np.sort(fit), np.sort(selection)
