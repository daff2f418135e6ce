"""EMNIST from tiny fake idx files in torchvision's layout: upright images, 0-based labels, clear errors."""

from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from lsml_core.datasets.emnist import EMNIST_DIGITS, EMNIST_LETTERS, load_emnist

SIZES = {"train": 12, "test": 6}


def upright_images(n: int, offset: int) -> np.ndarray:
    """Asymmetric images: a bright top bar, a dimmer left column, and the image's number in the bottom-right pixel."""
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 0, :] = 255
    images[:, 1:, 0] = 100
    images[:, 27, 27] = np.arange(offset, offset + n)
    return images


def file_labels(split: str, n: int) -> np.ndarray:
    """Labels as EMNIST writes them: digits 0..9, letters 1..26 (both ends included)."""
    if split == "digits":
        return np.arange(n) % 10
    return np.arange(n) * 25 // (n - 1) + 1


def write_idx(path: Path, array: np.ndarray) -> None:
    """A uint8 idx file: magic 0x08 + number of dims, big-endian dims, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_emnist(root: Path, letters_labels: np.ndarray | None = None) -> Path:
    """The eight unpacked files torchvision's EMNIST reads from `root`/EMNIST/raw, images stored transposed."""
    raw = root / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("digits", "letters"):
        for part, n in SIZES.items():
            images = upright_images(n, offset=0 if part == "train" else 100)
            labels = file_labels(split, n)
            if split == "letters" and part == "train" and letters_labels is not None:
                labels = letters_labels
            write_idx(raw / f"emnist-{split}-{part}-images-idx3-ubyte", images.transpose(0, 2, 1))
            write_idx(raw / f"emnist-{split}-{part}-labels-idx1-ubyte", labels)
    return raw


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("emnist")
    write_emnist(root)
    return load_emnist(root, download=False)


def test_names_classes_shapes_and_dtypes(sources):
    digits, letters = sources
    assert (digits.name, letters.name) == ("EMNIST digits", "EMNIST letters")
    assert digits.classes == EMNIST_DIGITS and len(digits.classes) == 10
    assert letters.classes == EMNIST_LETTERS and letters.classes[0] == "a" and letters.classes[-1] == "z"
    for source in sources:
        assert source.train_images.shape == (12, 28, 28) and source.test_images.shape == (6, 28, 28)
        assert source.train_images.dtype == np.uint8 and source.test_images.dtype == np.uint8
        assert source.train_labels.shape == (12,) and source.test_labels.shape == (6,)
        assert source.train_labels.dtype == np.int64 and source.test_labels.dtype == np.int64


def test_images_come_back_upright(sources):
    for source in sources:
        np.testing.assert_array_equal(source.train_images, upright_images(12, offset=0))
        np.testing.assert_array_equal(source.test_images, upright_images(6, offset=100))
        assert (source.train_images[:, 0, :] == 255).all()  # the bar is on top, not down the left side
        assert source.train_images.flags["C_CONTIGUOUS"]


def test_letter_labels_are_zero_based_and_digits_unchanged(sources):
    digits, letters = sources
    np.testing.assert_array_equal(digits.train_labels, np.arange(12) % 10)
    np.testing.assert_array_equal(letters.train_labels, file_labels("letters", 12) - 1)
    assert letters.train_labels.min() == 0 and letters.train_labels.max() == 25
    np.testing.assert_array_equal(letters.test_labels, file_labels("letters", 6) - 1)


def test_letters_file_with_label_zero_is_rejected(tmp_path):
    write_emnist(tmp_path, letters_labels=np.r_[0, file_labels("letters", 11)])
    with pytest.raises(ValueError, match=r"1\.\.26, found \[0\]"):
        load_emnist(tmp_path, download=False)


def test_missing_files_name_the_folder_and_download(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_emnist(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "EMNIST" / "raw") in message
    assert "download: true" in message and "emnist-{digits,letters}-{train,test}" in message


def test_failed_download_says_so_and_names_the_folder(tmp_path, monkeypatch):
    from torchvision.datasets import EMNIST

    def offline(self):
        raise URLError("no internet")

    monkeypatch.setattr(EMNIST, "download", offline)
    with pytest.raises(FileNotFoundError, match="no internet") as info:
        load_emnist(tmp_path, download=True)
    assert str(tmp_path / "EMNIST" / "raw") in str(info.value) and "download failed" in str(info.value)
