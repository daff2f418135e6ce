"""Fashion-MNIST: the Debian package `dataset-fashion-mnist`, else torchvision's files (downloaded on request).

`Source` is the form every single-label image source takes here: uint8 images split as the source
splits them, with their labels and class names.
"""

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_CLASSES = (
    "tshirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
)
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class Source:
    """Single-label uint8 images ([N, H, W] grey or [N, C, H, W]) with their labels, split as the source splits them."""

    name: str
    classes: tuple[str, ...]
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def fashion_mnist_from_folder(folder: Path, cache_dir: Path) -> Source:
    """Fashion-MNIST read by torchvision from the four idx .gz files in `folder` (unpacked once into `cache_dir`)."""
    from torchvision.datasets import FashionMNIST

    raw = Path(cache_dir) / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        if not (raw / name).is_file():
            with gzip.open(folder / f"{name}.gz") as src, open(raw / f"{name}.part", "wb") as dst:
                shutil.copyfileobj(src, dst)
            (raw / f"{name}.part").replace(raw / name)
    return fashion_source(FashionMNIST, cache_dir, download=False, name=f"Fashion-MNIST ({folder})")


def fashion_source(dataset_class, root: Path, download: bool, name: str) -> Source:
    """Fashion-MNIST's four arrays through a torchvision dataset class, from (or downloaded to) `root`."""
    train = dataset_class(str(root), train=True, download=download)
    test = dataset_class(str(root), train=False, download=download)
    return Source(
        name, FASHION_CLASSES, train.data.numpy(), train.targets.numpy(), test.data.numpy(), test.targets.numpy()
    )


def installed(debian_dir: Path = DEBIAN_FASHION_DIR) -> bool:
    """Whether the Debian package's four files are there."""
    return all((debian_dir / f"{name}.gz").is_file() for name in FASHION_FILES)


def load_fashion_mnist(
    root: Path, cache_dir: Path, download: bool, debian_dir: Path = DEBIAN_FASHION_DIR, name: str | None = None
) -> Source:
    """Real Fashion-MNIST: the Debian package, else torchvision's files under `root` (downloaded with
    `download`); without either, FileNotFoundError saying how to install it."""
    if installed(debian_dir):
        return fashion_mnist_from_folder(debian_dir, cache_dir)
    from torchvision.datasets import FashionMNIST

    name = name or f"Fashion-MNIST (torchvision, {root})"
    try:
        return fashion_source(FashionMNIST, root, download, name)
    except (RuntimeError, OSError) as exc:  # missing files; offline download (URLError)
        raise FileNotFoundError(
            f"Fashion-MNIST is neither installed ({debian_dir}) nor in {root} ({exc}). Install it with "
            "'sudo apt-get install dataset-fashion-mnist', or set `data: {download: true}` in the profile to "
            "let torchvision download it (internet needed)."
        ) from exc
