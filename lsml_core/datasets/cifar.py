"""CIFAR-10 and CIFAR-100 through torchvision; offline and without the files, an error naming the folder."""

from pathlib import Path

import numpy as np

from lsml_core.datasets.fashion_mnist import Source

CIFAR_CLASSES = {"cifar10": "CIFAR10", "cifar100": "CIFAR100"}


def load_cifar(dataset: str, root: Path, download: bool) -> Source:
    """CIFAR-10/100 as uint8 [N, 3, 32, 32]; without the files and without `download`, FileNotFoundError."""
    import torchvision.datasets as tvd

    dataset_class = getattr(tvd, CIFAR_CLASSES[dataset])
    try:
        train = dataset_class(str(root), train=True, download=download)
        test = dataset_class(str(root), train=False, download=download)
    except (RuntimeError, OSError) as exc:  # missing files; offline download (URLError)
        raise FileNotFoundError(
            f"{dataset} is not in {root} ({exc}). Put the extracted python version there "
            f"({Path(root) / dataset_class.base_folder}/), or set `data: {{download: true}}` in the profile "
            "to let torchvision download it (internet needed)."
        ) from exc
    return Source(
        f"{CIFAR_CLASSES[dataset]} ({root})",
        tuple(train.classes),
        _channels_first(train.data),
        np.asarray(train.targets),
        _channels_first(test.data),
        np.asarray(test.targets),
    )


def _channels_first(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))
