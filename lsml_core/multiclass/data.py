"""Single-label images in memory: Fashion-MNIST or CIFAR, a validation part carved from train, batched shift/flip.

Images stay uint8 [N, C, H, W]; a batch becomes float in [0, 1] normalised with the training part's
per-channel mean and std. The validation part (fixed seed, stratified) serves every selection
(early stopping, temperature, the instance-based grid); the test split is only reported.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torchvision.transforms.v2 import functional as F

from lsml_core.demo_data import DEBIAN_FASHION_DIR, FASHION_FILES, fashion_mnist_from_folder, fashion_source
from lsml_core.multiclass.config import DataConfig

CIFAR_CLASSES = {"cifar10": "CIFAR10", "cifar100": "CIFAR100"}


@dataclass(frozen=True)
class Split:
    """uint8 images [N, C, H, W] and int64 labels [N]."""
    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Splits:
    """The training part, the validation part (from train), test, the class names and the data's origin."""
    fit: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    source: str
    mean: torch.Tensor
    std: torch.Tensor

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float32, standardised per channel with the training part's statistics."""
        return F.normalize(F.to_dtype(images, torch.float32, scale=True), self.mean.tolist(), self.std.tolist())


def _cifar(cfg: DataConfig, data_dir: Path):
    """CIFAR-10/100 through torchvision; without the files and without `download: true`, an error naming the folder."""
    import torchvision.datasets as tvd
    root = Path(data_dir) / cfg.root
    dataset_class = getattr(tvd, CIFAR_CLASSES[cfg.dataset])
    try:
        train = dataset_class(str(root), train=True, download=cfg.download)
        test = dataset_class(str(root), train=False, download=cfg.download)
    except (RuntimeError, OSError) as exc:   # missing files; offline download (URLError)
        raise FileNotFoundError(
            f"{cfg.dataset} is not in {root} ({exc}). Put the extracted python version there "
            f"({root / dataset_class.base_folder}/), or set `data: {{download: true}}` in the profile "
            "to let torchvision download it (internet needed).") from exc
    return (f"{CIFAR_CLASSES[cfg.dataset]} ({root})", tuple(train.classes), _channels_first(train.data),
            np.asarray(train.targets), _channels_first(test.data), np.asarray(test.targets))


def _channels_first(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def _fashion(cfg: DataConfig, data_dir: Path, debian_dir: Path = DEBIAN_FASHION_DIR):
    """Real Fashion-MNIST: the Debian package, else torchvision's files under <data_dir>/<root> (downloaded
    with `download: true`); never the demo data's digits fallback, which would not be Fashion-MNIST."""
    if all((debian_dir / f"{name}.gz").is_file() for name in FASHION_FILES):
        source = fashion_mnist_from_folder(debian_dir, Path(data_dir) / "cache")
    else:
        from torchvision.datasets import FashionMNIST
        root = Path(data_dir) / cfg.root
        try:
            source = fashion_source(FashionMNIST, root, cfg.download, f"Fashion-MNIST (torchvision, {root})")
        except (RuntimeError, OSError) as exc:
            raise FileNotFoundError(
                f"Fashion-MNIST is neither installed ({debian_dir}) nor in {root} ({exc}). Install it with "
                "'sudo apt-get install dataset-fashion-mnist', or set `data: {download: true}` in the profile to "
                "let torchvision download it (internet needed).") from exc
    return (source.name, source.classes, source.train_images[:, None], source.train_labels,
            source.test_images[:, None], source.test_labels)


def load_splits(cfg: DataConfig, data_dir: Path) -> Splits:
    """The three splits of a data config, subset to its sizes with its fixed split seed."""
    name, classes, train_x, train_y, test_x, test_y = (_fashion(cfg, data_dir) if cfg.dataset == "fashion_mnist"
                                                       else _cifar(cfg, data_dir))
    n_train = cfg.n_train or len(train_y) - cfg.n_val
    if n_train + cfg.n_val > len(train_y):
        raise ValueError(f"n_train={n_train} + n_val={cfg.n_val} exceed the {len(train_y)} training images of {name}")
    fit_idx, val_idx = train_test_split(np.arange(len(train_y)), train_size=n_train, test_size=cfg.n_val,
                                        stratify=train_y, random_state=cfg.split_seed)
    test_idx = np.arange(len(test_y))
    if cfg.n_test is not None and cfg.n_test < len(test_y):
        test_idx, _ = train_test_split(test_idx, train_size=cfg.n_test, stratify=test_y, random_state=cfg.split_seed)
    fit = _subset(train_x, train_y, fit_idx)
    scaled = fit.images.float() / 255
    return Splits(fit, _subset(train_x, train_y, val_idx), _subset(test_x, test_y, test_idx), tuple(classes), name,
                  scaled.mean(dim=(0, 2, 3)), scaled.std(dim=(0, 2, 3)))


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
        images = torch.stack([F.crop(image, top, left, height, width)
                              for image, (top, left) in zip(padded, offsets)])
    if flip:
        chosen = torch.rand(len(images), generator=generator) < 0.5
        images = torch.where(chosen[:, None, None, None], F.horizontal_flip(images), images)
    return images


def batches(split: Split, batch_size: int, seed: int | None = None, shift: int = 0, flip: bool = False):
    """(uint8 images, labels) batches; shuffled and augmented from `seed` when it is given, in order otherwise."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    order = torch.randperm(len(split), generator=generator) if seed is not None else torch.arange(len(split))
    for start in range(0, len(split), batch_size):
        idx = order[start:start + batch_size]
        images = split.images[idx]
        if seed is not None:
            images = shift_flip(images, shift, flip, generator)
        yield images, split.labels[idx]
