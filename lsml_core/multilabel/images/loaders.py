"""Loaders that deliver a split's batches as the model's input on the training device.

A per-sample split gets a plain DataLoader. A cached split (uint8 images, see `image_cache`) is either
streamed from its cache file a whole batch at a time (`DeviceBatches`) or, on CUDA when it fits in a
share of the free GPU memory, held whole on the GPU and gathered there (`ResidentBatches`): then no
reads, workers or image copies are left per batch to keep the GPU waiting. Both give the same
batches in the same order, and the same augmentation draws.
"""

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, Subset

from lsml_core.multilabel.images.batch_transforms import augmentation_seed, model_input
from lsml_core.multilabel.images.image_cache import CachedImages, batch_transform_of

RESIDENT_SHARE = 0.25  # a cached split is held on the GPU when it takes at most this share of its free memory
_RESIDENT: dict[tuple[str, torch.device], tuple[tuple, torch.Tensor]] = {}  # (file, device) -> (its stamp, images)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    *,
    num_workers: int = 0,
    shuffle_seed: int | None = None,
    resident: bool | None = None,
):
    """The loader of a split; shuffled with its own seeded generator when `shuffle_seed` is given.

    A cached split's uint8 batches become the model's input on `device` through its batch transform
    (seeded from `shuffle_seed`). `resident` holds the split on the device: None chooses it on CUDA
    when the split fits (`fits_on_device`), False always streams from the cache file.
    """
    generator = torch.Generator().manual_seed(shuffle_seed) if shuffle_seed is not None else None
    options = dict(num_workers=num_workers, pin_memory=device.type == "cuda", persistent_workers=False)
    transform = batch_transform_of(dataset)
    if transform is None:
        return DataLoader(
            dataset, batch_size=batch_size, shuffle=shuffle_seed is not None, generator=generator, **options
        )
    if resident or (resident is None and fits_on_device(dataset, device)):
        return ResidentBatches(dataset, batch_size, device, shuffle_seed)
    order = RandomSampler(dataset, generator=generator) if shuffle_seed is not None else SequentialSampler(dataset)
    # the DataLoader draws its base seed from `generator` before the sampler draws its permutation, as with
    # shuffle=True: without it the order would differ from the per-sample path's and from earlier results
    loader = DataLoader(
        dataset,
        batch_size=None,
        sampler=BatchSampler(order, batch_size, drop_last=False),
        generator=generator,
        **options,
    )
    return DeviceBatches(loader, transform, device, seed=shuffle_seed or 0)


def _cache_of(dataset: Dataset) -> tuple[CachedImages, list[int]]:
    """The cached split behind a (subset of a) cached dataset, and the rows the dataset takes from it."""
    if isinstance(dataset, Subset):
        return dataset.dataset, [int(i) for i in dataset.indices]
    return dataset, list(range(len(dataset)))


def fits_on_device(dataset: Dataset, device: torch.device) -> bool:
    """On CUDA: whether the cached split is already held there, or takes at most RESIDENT_SHARE of free memory."""
    if device.type != "cuda":
        return False
    base, _ = _cache_of(dataset)
    if _held(base, device) is not None:
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return int(np.prod(base.shape)) <= RESIDENT_SHARE * free


def _key_and_stamp(base: CachedImages, device: torch.device) -> tuple[tuple, tuple]:
    """(cache file, device with its index) and the file's identity: a rebuilt cache is copied again."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    stat = Path(base.path).stat()
    return (str(Path(base.path).resolve()), device), (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _held(base: CachedImages, device: torch.device) -> torch.Tensor | None:
    """The device copy of a cached split if one of the file as it is now is held, else None."""
    key, stamp = _key_and_stamp(base, device)
    held = _RESIDENT.get(key)
    return held[1] if held is not None and held[0] == stamp else None


def images_on_device(base: CachedImages, device: torch.device, chunk: int = 256) -> torch.Tensor:
    """A cached split's images [N, side, side, 3] uint8 on `device`, copied once per process and cache file
    in chunks (positional reads, so the host's resident memory stays flat); a rebuilt file replaces its copy."""
    key, stamp = _key_and_stamp(base, device)
    held = _RESIDENT.get(key)
    if held is not None and held[0] == stamp:
        return held[1]
    _RESIDENT.pop(key, None)  # an older copy of a rebuilt file: freed before the new one is made
    with torch.inference_mode(False):  # made during a prediction too, it serves training later
        pixels = torch.empty(base.shape, dtype=torch.uint8, device=device)
    for start in range(0, len(base), chunk):
        rows = list(range(start, min(start + chunk, len(base))))
        pixels[start : start + len(rows)].copy_(base.read_batch(rows)[0].permute(0, 2, 3, 1))
    _RESIDENT[key] = (stamp, pixels)
    return pixels


class ResidentBatches:
    """A cached split held whole on the device: each batch gathered and transformed there.

    The order is a shuffled DataLoader's over the split's positions (`DeviceBatches`' order), and the
    augmentation generator is seeded as `DeviceBatches` seeds it, so both give the same batches.
    """

    def __init__(self, dataset: Dataset, batch_size: int, device: torch.device, shuffle_seed: int | None = None):
        base, rows = _cache_of(dataset)
        self.dataset, self.device, self.transform = dataset, device, base.batch_transform
        self.pixels = images_on_device(base, device)
        self.rows = torch.tensor(rows, device=device)
        self.targets, self.masks = (torch.from_numpy(a[rows]).to(device) for a in (base.targets, base.masks))
        generator = torch.Generator().manual_seed(shuffle_seed) if shuffle_seed is not None else None
        self.positions = DataLoader(
            range(len(rows)), batch_size=batch_size, shuffle=shuffle_seed is not None, generator=generator
        )
        self.seed = shuffle_seed or 0

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self):
        generator = torch.Generator().manual_seed(augmentation_seed(self.seed))
        batches = list(self.positions)  # the pass's order, drawn on the host; copied to the device once
        if not batches:
            return
        order = torch.cat(batches)
        if self.device.type == "cuda":  # pinned, so the copy does not wait for the GPU's queued work
            order = order.pin_memory()
        for index in order.to(self.device, non_blocking=True).split([len(b) for b in batches]):
            images = self.pixels[self.rows[index]].permute(0, 3, 1, 2)  # channels-last strides, as read_batch
            yield model_input(images, self.transform, generator), self.targets[index], self.masks[index]


class DeviceBatches:
    """Batches of a loader moved to the device and transformed there; one generator per pass.

    On CUDA the next batch is copied and transformed on a side stream while the model works on the
    current one, so neither the copy nor the transforms wait in line behind the training step.
    """

    def __init__(self, loader, transform, device: torch.device, seed: int = 0):
        self.loader, self.transform, self.device, self.seed = loader, transform, device, seed
        self.dataset = loader.dataset

    def __len__(self) -> int:
        return len(self.loader)

    def _prepare(self, batch, generator: torch.Generator) -> tuple:
        """A loader batch as the model's input on the device (targets and masks moved along)."""
        images, targets, masks = (t.to(self.device, non_blocking=True) for t in batch)
        return model_input(images, self.transform, generator), targets, masks

    def __iter__(self):
        generator = torch.Generator().manual_seed(augmentation_seed(self.seed))
        if self.device.type != "cuda":
            yield from (self._prepare(batch, generator) for batch in self.loader)
            return
        side = torch.cuda.Stream(self.device)
        ahead = None
        for batch in self.loader:
            with torch.cuda.stream(side):
                prepared = self._prepare(batch, generator)
            if ahead is not None:
                yield ahead
            ahead = prepared
            torch.cuda.current_stream(self.device).wait_stream(side)
            for tensor in ahead:  # made on the side stream, used on the main one: keep its memory until then
                tensor.record_stream(torch.cuda.current_stream(self.device))
        if ahead is not None:
            yield ahead
