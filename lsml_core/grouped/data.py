"""The grouped track's splits in memory and their batches: labeled, selection (labeled canvases kept
for every selection), unlabeled (labels kept only to score pseudo-labels), test; augmentation and
SESEMI images per batch.

Images stay uint8 [N, 1, side, side]; a batch becomes float, standardised with the training part's mean
and std. Augmentation (phases 2 and 3, as in the source): each image rotated by an angle drawn
uniformly from [-10, 10] degrees and shifted by up to 3% of its side in x and y (bilinear, zero fill).
"""

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lsml_core.grouped.canvases import load_canvases
from lsml_core.grouped.config import DataConfig
from lsml_core.grouped.sesemi import sesemi_batch
from lsml_core.splits import Split

MAX_DEGREES = 10.0
MAX_SHIFT = 0.03


@dataclass(frozen=True)
class Splits:
    """The four parts, the groups, their class names, where the symbols came from, the training statistics."""

    fit: Split
    selection: Split
    unlabeled: Split
    test: Split
    groups: tuple[str, ...]
    classes: tuple[tuple[str, ...], ...]
    source: str
    mean: float
    std: float

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.classes)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float32, standardised with the training part's statistics."""
        return (images.float() / 255 - self.mean) / self.std


def load_splits(cfg: DataConfig, data_dir: Path) -> Splits:
    """The canvases of a data config as the four splits, with the labeled part's statistics."""
    canvases = load_canvases(cfg, data_dir)

    def split(name: str) -> Split:
        return Split(torch.from_numpy(canvases.images[name])[:, None], torch.from_numpy(canvases.labels[name]))

    fit = split("labeled")
    scaled = fit.images.float() / 255
    return Splits(
        fit,
        split("selection"),
        split("unlabeled"),
        split("test"),
        canvases.groups,
        canvases.classes,
        canvases.source,
        float(scaled.mean()),
        float(scaled.std()),
    )


def rotate_shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """float images [N, C, H, W], each rotated by U(-10, 10) degrees and shifted by U(-3%, 3%) of its side."""
    n = len(images)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(MAX_DEGREES)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * MAX_SHIFT * 2  # grid coordinates span 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def batches(
    split: Split,
    splits: Splits,
    *,
    batch_size: int,
    seed: int,
    augment: bool,
    sesemi: str,
    unlabeled: Split | None = None,
):
    """Shuffled training batches (images [B + B_aux, 1, H, W] standardised, labels [B, groups], SESEMI labels
    [B_aux]): the SESEMI images are the batch's own images (`labeled`), as many unlabeled ones (`unlabeled`),
    or none, each under a random rotation or flip."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split), generator=generator)
    others = torch.randperm(len(unlabeled), generator=generator) if sesemi == "unlabeled" else None
    for start in range(0, len(split), batch_size):
        idx = order[start : start + batch_size]
        images = splits.normalise(split.images[idx])
        if augment:
            images = rotate_shift(images, generator)
        if sesemi == "none":
            aux, aux_labels = images[:0], torch.zeros(0, dtype=torch.long)
        else:
            drawn = others[torch.arange(start, start + len(idx)) % len(others)] if others is not None else None
            pool = images if sesemi == "labeled" else splits.normalise(unlabeled.images[drawn])
            if augment and sesemi == "unlabeled":
                pool = rotate_shift(pool, generator)
            aux, aux_labels = sesemi_batch(pool, generator)
        yield torch.cat([images, aux]), split.labels[idx], aux_labels


def in_order(split: Split, splits: Splits, batch_size: int):
    """The split's standardised images in order, for prediction."""
    for start in range(0, len(split), batch_size):
        yield splits.normalise(split.images[start : start + batch_size])
