"""EMNIST digits and letters via torchvision, upright and 0-based; offline without the files, an error naming the folder.

EMNIST is NIST Special Database 19 converted to MNIST's 28x28 grey format. Two of its splits are used here:
`digits` (10 classes) and `letters` (26 classes, upper and lower case merged). Its idx files store every image
transposed (column-major), so the images are transposed back to read like MNIST, and the `letters` labels run
1..26 (0 is an unused "N/A" class), so they are shifted to 0..25.
"""

from pathlib import Path

import numpy as np

from lsml_core.datasets.fashion_mnist import Source

EMNIST_DIGITS = tuple("0123456789")
EMNIST_LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
EMNIST_SPLITS = {"digits": (EMNIST_DIGITS, 0), "letters": (EMNIST_LETTERS, 1)}  # classes, first label in the files
EMNIST_FILES = "emnist-{digits,letters}-{train,test}-{images-idx3,labels-idx1}-ubyte"


def load_emnist(root: Path, download: bool) -> tuple[Source, Source]:
    """(digits, letters) as uint8 [N, 28, 28] upright with int64 labels from 0; without the files, FileNotFoundError."""
    return emnist_source("digits", root, download), emnist_source("letters", root, download)


def emnist_source(split: str, root: Path, download: bool) -> Source:
    """One EMNIST split from (or downloaded to) `root`, upright and with 0-based labels."""
    from torchvision.datasets import EMNIST

    classes, first_label = EMNIST_SPLITS[split]
    try:
        train = EMNIST(str(root), split=split, train=True, download=download)
        test = EMNIST(str(root), split=split, train=False, download=download)
    except (RuntimeError, OSError) as exc:  # missing files; offline download (URLError)
        how = (
            "the download failed: check the internet connection"
            if download
            else "EMNIST needs the internet once: set `data: {download: true}` in the profile to let torchvision "
            "download it"
        )
        raise FileNotFoundError(
            f"EMNIST {split} is not in {Path(root) / 'EMNIST' / 'raw'} ({exc}); {how}, or put the unpacked "
            f"idx files {EMNIST_FILES} there by hand."
        ) from exc
    return Source(
        f"EMNIST {split}",
        classes,
        _upright(train.data.numpy()),
        _zero_based(train.targets.numpy(), first_label, len(classes), split),
        _upright(test.data.numpy()),
        _zero_based(test.targets.numpy(), first_label, len(classes), split),
    )


def _upright(images: np.ndarray) -> np.ndarray:
    """EMNIST's transposed images turned back so that they read like MNIST."""
    return np.ascontiguousarray(images.transpose(0, 2, 1))


def _zero_based(labels: np.ndarray, first_label: int, n_classes: int, split: str) -> np.ndarray:
    """Labels shifted to start at 0; a label outside the split's classes is a ValueError."""
    shifted = labels.astype(np.int64) - first_label
    bad = np.unique(labels[(shifted < 0) | (shifted >= n_classes)])
    if bad.size:
        raise ValueError(
            f"EMNIST {split} labels must lie in {first_label}..{first_label + n_classes - 1}, found {bad.tolist()}; "
            "the files are corrupt or from another split."
        )
    return shifted
