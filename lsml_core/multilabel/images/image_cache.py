"""Decoded-image cache: each image decoded and resized once, stored as uint8 in a .npy file per split and size.

Two geometries, both computed with the same PIL operations as the per-sample recipe:
`train` = Resize((s, s)), exactly the training recipe's first step; `eval` = Resize(r) then the
r x r window whose centre s x s crop is exactly the recipe's Resize(r) -> CenterCrop(s). FiveCrop of
that window equals the recipe's FiveCrop for square images (the demo data); for non-square images
(VOC) its four corner crops come from the r x r window, not from the corners of the whole resized image.

A JSON sidecar holds the geometry and a fingerprint of the source files (names, sizes, mtimes);
a change of either rebuilds the cache. Items are read with positional reads rather than through a
memory map, so the pages read stay in the OS page cache and never count as the process's memory.
"""

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset
from torchvision.transforms import functional as F

from lsml_core.datasets.voc import VOCMultiLabel, load_rgb
from lsml_core.multilabel.images.transforms import Recipe
from lsml_core.records import atomic_write_text, create_temporary, read_json

GEOMETRIES = ("train", "eval")


def cache_side(recipe: Recipe, geometry: str) -> int:
    """Side of the cached square images: s for `train`, r for `eval`."""
    if geometry not in GEOMETRIES:
        raise ValueError(f"unknown cache geometry {geometry!r}: choose one of {', '.join(GEOMETRIES)}")
    return recipe.size if geometry == "train" else recipe.resize


def eval_window(image, recipe: Recipe):
    """Resize(r), then the r x r window whose torchvision centre crop of s is the recipe's CenterCrop(s)."""
    resized = F.resize(image, recipe.resize)
    width, height = resized.size
    inner = round((recipe.resize - recipe.size) / 2)
    top = round((height - recipe.size) / 2) - inner
    left = round((width - recipe.size) / 2) - inner
    return F.crop(resized, top, left, recipe.resize, recipe.resize)


def decode(path: Path, recipe: Recipe, geometry: str) -> np.ndarray:
    """One image as the cache stores it: uint8 [side, side, 3]."""
    image = load_rgb(path)
    if geometry == "train":
        image = F.resize(image, [recipe.size, recipe.size])
    else:
        image = eval_window(image, recipe)
    return np.asarray(image, dtype=np.uint8)


def fingerprint(paths: list[Path]) -> str:
    """A hash of the source files' names, sizes and modification times, in order."""
    digest = hashlib.sha256()
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{Path(path).name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _write(paths: list[Path], target: Path, recipe: Recipe, geometry: str) -> None:
    """Decode every image (threads: PIL releases the GIL) and write them, in order, into a .npy file."""
    side = cache_side(recipe, geometry)
    fd, tmp = create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as handle, ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
            header = {"descr": "|u1", "fortran_order": False, "shape": (len(paths), side, side, 3)}
            np.lib.format.write_array_header_1_0(handle, header)
            for pixels in pool.map(lambda p: decode(p, recipe, geometry), paths):
                handle.write(pixels.tobytes())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_cache(paths: list[Path], target: Path, recipe: Recipe, geometry: str) -> Path:
    """The cache of `paths` at `target` (.npy), rebuilt when the sources or the geometry changed."""
    target, sidecar = Path(target), Path(target).with_suffix(".json")
    expected = {
        "geometry": geometry,
        "side": cache_side(recipe, geometry),
        "size": recipe.size,
        "resize": recipe.resize,
        "count": len(paths),
        "sources": fingerprint(paths),
    }
    if target.is_file() and sidecar.is_file() and read_json(sidecar) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    sidecar.unlink(missing_ok=True)
    _write(paths, target, recipe, geometry)
    atomic_write_text(sidecar, json.dumps(expected, indent=2) + "\n")
    return target


def open_cache(path: Path) -> np.memmap:
    """The whole cache as a read-only memory map [N, side, side, 3]: nothing is loaded until indexed."""
    return np.load(path, mmap_mode="r")


def split_cache_path(cache_dir: Path, dataset: VOCMultiLabel, recipe: Recipe, geometry: str, count: int) -> Path:
    """`<cache_dir>/<folder>-<hash of its path>/<split>-<geometry>-<size>-<count>.npy`."""
    root = dataset.root.resolve()
    folder = f"{root.name}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"
    return Path(cache_dir) / folder / f"{dataset.split}-{geometry}-{recipe.size}-{count}.npy"


def batch_transform_of(dataset) -> Callable | None:
    """The batch transform of a (subset of a) cached split; None for a per-sample dataset."""
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    return base.batch_transform if isinstance(base, CachedImages) else None


class CachedImages(torch.utils.data.Dataset):
    """A split's first `count` images from its cache: items are (uint8 [3, side, side], target, mask).

    `batch_transform` turns a batch of these items into the model's input on the training device.
    """

    def __init__(
        self, dataset: VOCMultiLabel, cache_dir: Path, recipe: Recipe, geometry: str, *, count: int, batch_transform
    ):
        paths = [dataset.root / "JPEGImages" / name for name in dataset.filenames[:count]]
        self.path = ensure_cache(paths, split_cache_path(cache_dir, dataset, recipe, geometry, count), recipe, geometry)
        cache = open_cache(self.path)
        self.shape, self.offset = cache.shape, cache.offset
        self.ids, self.targets, self.masks = dataset.ids[:count], dataset.targets[:count], dataset.masks[:count]
        self.batch_transform = batch_transform
        self._fd = None

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None}  # a DataLoader worker opens its own file descriptor

    def __del__(self):
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def pixels(self, index: int) -> np.ndarray:
        """The cached uint8 [side, side, 3] image at `index`, read without mapping the file."""
        item = int(np.prod(self.shape[1:]))
        data = os.pread(self._file(), item, self.offset + index * item)
        return np.frombuffer(data, dtype=np.uint8).reshape(self.shape[1:])

    def read_batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images [B, 3, side, side] (uint8, channels-last strides), targets, masks: read into one buffer.

        One buffer, one read per image, no per-item tensors or collation. The channels-last strides are
        what CUDA wants; `batch_transforms.model_input` makes them contiguous on CPU.
        """
        buffer = np.empty((len(indices), *self.shape[1:]), dtype=np.uint8)
        item = buffer[0].nbytes
        for row, index in zip(buffer, indices):
            if os.preadv(self._file(), [row], self.offset + index * item) != item:
                raise OSError(f"{self.path} is shorter than its header says: delete it to rebuild the cache")
        return (
            torch.from_numpy(buffer).permute(0, 3, 1, 2),
            torch.from_numpy(self.targets[indices]),
            torch.from_numpy(self.masks[indices]),
        )

    def __getitem__(self, index: int | list[int]):
        """One item, or a whole batch when `index` is a list (the loader's batch sampler asks for those)."""
        if isinstance(index, list):
            return self.read_batch(index)
        # [3, side, side] contiguous: a permuted view would collate into a channels-last batch, on which
        # the batch transforms run about 4x slower on CPU (measured at 300 px)
        image = torch.from_numpy(np.ascontiguousarray(self.pixels(index).transpose(2, 0, 1)))
        return image, torch.from_numpy(self.targets[index]), torch.from_numpy(self.masks[index])
