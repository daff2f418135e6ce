"""Loaders of cached splits: streamed and device-resident batches are the same batches, seeded alike."""

import os

import pytest
import torch

from lsml_core.multilabel.images import loaders
from lsml_core.multilabel.images.batch_transforms import TrainBatch
from lsml_core.multilabel.images.loaders import (
    DeviceBatches,
    ResidentBatches,
    fits_on_device,
    images_on_device,
    make_loader,
)
from lsml_core.multilabel.images.transforms import scaled_recipe
from lsml_core.multilabel.splits import build_splits
from tests.multilabel.test_batch_transforms import uint8_batch
from tests.multilabel.test_data_path import data_config

pytestmark = pytest.mark.filterwarnings("ignore:class .* has no positive examples")
CPU = torch.device("cpu")


class ListLoader(list):
    dataset = None


def test_device_batches_repeat_with_the_seed():
    def run(seed):
        loader = ListLoader([(uint8_batch(4, 16, 16, seed=i), torch.zeros(4, 2), torch.ones(4, 2)) for i in range(3)])
        return [images for images, _, _ in DeviceBatches(loader, TrainBatch(scaled_recipe(16)), CPU, seed=seed)]

    first, again, other = run(7), run(7), run(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert first[0].is_contiguous()


@pytest.fixture
def splits(mosaic_voc, tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "_RESIDENT", {})  # each test loads its own caches
    return build_splits(data_config(mosaic_voc, "cached"), tmp_path)


@pytest.mark.parametrize(
    "split, seed", [("training", 3), ("training", 10_008), ("selection", None), ("val_fivecrop", None)]
)
def test_resident_batches_equal_the_streamed_ones(splits, split, seed):
    dataset = getattr(splits, split)
    resident = make_loader(dataset, 5, CPU, shuffle_seed=seed, resident=True)
    streamed = make_loader(dataset, 5, CPU, shuffle_seed=seed, resident=False)
    assert isinstance(resident, ResidentBatches) and isinstance(streamed, DeviceBatches)
    assert len(resident) == len(streamed) > 1 and resident.dataset is dataset
    batches = list(zip(resident, streamed))
    assert len(batches) == len(streamed)
    for (a, ta, ma), (b, tb, mb) in batches:
        assert torch.equal(a, b) and torch.equal(ta, tb) and torch.equal(ma, mb)


def test_a_second_pass_draws_new_augmentations_only_with_a_new_seed(splits):
    def first_images(seed):
        return next(iter(make_loader(splits.training, 5, CPU, shuffle_seed=seed, resident=True)))[0]

    assert torch.equal(first_images(4), first_images(4)) and not torch.equal(first_images(4), first_images(5))


def test_the_device_copy_is_made_once_per_cache_file_and_holds_its_pixels(splits):
    base = splits.training.dataset
    pixels = images_on_device(base, CPU)
    assert pixels.shape == base.shape and pixels.dtype == torch.uint8
    assert torch.equal(pixels[3], torch.from_numpy(base.pixels(3).copy()))
    assert images_on_device(base, CPU) is pixels and len(loaders._RESIDENT) == 1
    assert ResidentBatches(splits.training, 4, CPU).pixels is pixels  # later passes reuse it
    stat = base.path.stat()
    os.utime(base.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # as if the cache file were rebuilt
    again = images_on_device(base, CPU)
    assert again is not pixels and torch.equal(again, pixels) and len(loaders._RESIDENT) == 1


def test_streamed_is_the_choice_on_cpu_and_where_the_split_does_not_fit(splits, monkeypatch):
    assert not fits_on_device(splits.training, CPU)
    assert isinstance(make_loader(splits.training, 5, CPU, shuffle_seed=1), DeviceBatches)
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)  # no GPU here: what a CUDA machine answers
    cache_bytes = int(torch.tensor(splits.training.dataset.shape).prod())
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (4 * cache_bytes, 8 * cache_bytes))
    assert fits_on_device(splits.training, cuda)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (4 * cache_bytes - 4, 8 * cache_bytes))
    assert not fits_on_device(splits.training, cuda)
