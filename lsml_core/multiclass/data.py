"""Single-label images in memory: Fashion-MNIST or CIFAR, a selection part carved from train, batched shift/flip.

Images stay uint8 [N, C, H, W]; a batch becomes float in [0, 1] normalised with the training part's
per-channel mean and std. The selection part (fixed seed, stratified) serves every selection
(early stopping, temperature, the instance-based grid); the test split is only reported.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torchvision.transforms.v2 import functional as F

from lsml_core.datasets.cifar import load_cifar
from lsml_core.datasets.fashion_mnist import Source, load_fashion_mnist
from lsml_core.multiclass.config import DataConfig
from lsml_core.splits import Split, carve_selection


@dataclass(frozen=True)
class Splits:
    """The training part, the selection part (from train), test, the class names and the data's origin."""

    fit: Split
    selection: Split
    test: Split
    classes: tuple[str, ...]
    source: str
    mean: torch.Tensor
    std: torch.Tensor

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float32, standardised per channel with the training part's statistics."""
        return F.normalize(F.to_dtype(images, torch.float32, scale=True), self.mean.tolist(), self.std.tolist())


def load_source(cfg: DataConfig, data_dir: Path) -> Source:
    """The data set of a config: real Fashion-MNIST (never a stand-in) or CIFAR, under <data_dir>/<root>."""
    root = Path(data_dir) / cfg.root
    if cfg.dataset == "fashion_mnist":
        return load_fashion_mnist(root, Path(data_dir) / "cache", cfg.download)
    return load_cifar(cfg.dataset, root, cfg.download)


def _with_channels(images: np.ndarray) -> np.ndarray:
    """[N, H, W] grey images as [N, 1, H, W]; channel-first images as they are."""
    return images[:, None] if images.ndim == 3 else images


def load_splits(cfg: DataConfig, data_dir: Path) -> Splits:
    """The three splits of a data config, subset to its sizes with its fixed split seed."""
    source = load_source(cfg, data_dir)
    name, classes, train_y, test_y = source.name, source.classes, source.train_labels, source.test_labels
    train_x, test_x = _with_channels(source.train_images), _with_channels(source.test_images)
    n_train = cfg.n_train or len(train_y) - cfg.n_selection
    if n_train + cfg.n_selection > len(train_y):
        raise ValueError(
            f"n_train={n_train} + n_selection={cfg.n_selection} exceed the {len(train_y)} training images of {name}"
        )
    fit_idx, selection_idx = carve_selection(len(train_y), cfg.n_selection, cfg.split_seed, train_y, n_fit=n_train)
    test_idx = np.arange(len(test_y))
    if cfg.n_test is not None and cfg.n_test < len(test_y):
        test_idx, _ = train_test_split(test_idx, train_size=cfg.n_test, stratify=test_y, random_state=cfg.split_seed)
    fit = _subset(train_x, train_y, fit_idx)
    scaled = fit.images.float() / 255
    return Splits(
        fit,
        _subset(train_x, train_y, selection_idx),
        _subset(test_x, test_y, test_idx),
        tuple(classes),
        name,
        scaled.mean(dim=(0, 2, 3)),
        scaled.std(dim=(0, 2, 3)),
    )


def _subset(images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> Split:
    """The images at `indices`, kept in their original order."""
    indices = np.sort(indices)
    return Split(torch.from_numpy(images[indices]), torch.from_numpy(labels[indices]).long())


def shift_flip(images: torch.Tensor, shift: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Each image translated by its own (dx, dy) in [-shift, shift] (zero fill) and flipped with p 0.5."""
    if shift:
        height, width = images.shape[-2:]
        padded = F.pad(images, [shift])
        offsets = torch.randint(0, 2 * shift + 1, (len(images), 2), generator=generator).tolist()
        images = torch.stack([F.crop(image, top, left, height, width) for image, (top, left) in zip(padded, offsets)])
    if flip:
        chosen = torch.rand(len(images), generator=generator) < 0.5
        images = torch.where(chosen[:, None, None, None], F.horizontal_flip(images), images)
    return images


def batches(split: Split, batch_size: int, seed: int | None = None, shift: int = 0, flip: bool = False):
    """(uint8 images, labels) batches; shuffled and augmented from `seed` when it is given, in order otherwise."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    order = torch.randperm(len(split), generator=generator) if seed is not None else torch.arange(len(split))
    for start in range(0, len(split), batch_size):
        idx = order[start : start + batch_size]
        images = split.images[idx]
        if seed is not None:
            images = shift_flip(images, shift, flip, generator)
        yield images, split.labels[idx]
