"""Decoded-image cache: the recipe's pixels, rebuilt on a changed file or size, read without loading it."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from lsml_core.datasets.voc import VOCMultiLabel, load_rgb
from lsml_core.multilabel.images.image_cache import CachedImages, decode, ensure_cache, eval_window, open_cache
from lsml_core.multilabel.images.transforms import Recipe, scaled_recipe
from tests.conftest import write_xml

RECIPE = scaled_recipe(32)


def voc_like(root: Path, sizes: list[tuple[int, int]], seed: int = 0) -> Path:
    """A VOC-layout folder with one random JPEG (width, height) per size, all in split `train`."""
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = [f"img_{i:04d}" for i in range(len(sizes))]
    for image_id, (width, height) in zip(ids, sizes):
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
            root / "JPEGImages" / f"{image_id}.jpg"
        )
        write_xml(root / "Annotations" / f"{image_id}.xml", f"{image_id}.jpg", [("a", 0)])
    (root / "ImageSets" / "Main" / "train.txt").write_text("".join(f"{i}\n" for i in ids))
    return root


def paths_of(root: Path) -> list[Path]:
    return sorted((root / "JPEGImages").glob("*.jpg"))


@pytest.mark.parametrize("recipe", [scaled_recipe(32), scaled_recipe(17), Recipe(size=16, resize=19)])
@pytest.mark.parametrize("width, height", [(50, 40), (37, 61), (45, 45), (500, 375), (333, 500)])
def test_centre_crop_of_the_eval_window_is_the_recipes_centre_crop(recipe, width, height):
    image = Image.fromarray(np.random.default_rng(width).integers(0, 255, (height, width, 3), dtype=np.uint8))
    expected = T.Compose([T.Resize(recipe.resize), T.CenterCrop(recipe.size)])(image)
    window = eval_window(image, recipe)
    assert window.size == (recipe.resize, recipe.resize)
    assert np.array_equal(np.asarray(T.CenterCrop(recipe.size)(window)), np.asarray(expected))


def test_cache_holds_the_pixels_of_direct_decoding(tmp_path):
    root = voc_like(tmp_path / "voc", [(50, 40), (40, 50), (64, 64)])
    for geometry, direct in (
        ("train", T.Resize((RECIPE.size, RECIPE.size))),
        ("eval", lambda im: eval_window(im, RECIPE)),
    ):
        cache = open_cache(ensure_cache(paths_of(root), tmp_path / f"{geometry}.npy", RECIPE, geometry))
        assert isinstance(cache, np.memmap) and cache.dtype == np.uint8
        for i, path in enumerate(paths_of(root)):
            assert np.array_equal(cache[i], np.asarray(direct(load_rgb(path))))


def test_five_crop_of_the_eval_window_is_the_recipes_for_square_images(tmp_path):
    root = voc_like(tmp_path / "voc", [(56, 56)])
    image = load_rgb(paths_of(root)[0])
    expected = T.Compose([T.Resize(RECIPE.resize), T.FiveCrop(RECIPE.size)])(image)
    got = T.FiveCrop(RECIPE.size)(Image.fromarray(decode(paths_of(root)[0], RECIPE, "eval")))
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(got, expected))


def test_a_changed_source_file_rebuilds_the_cache(tmp_path):
    root = voc_like(tmp_path / "voc", [(50, 40), (40, 50)])
    target = ensure_cache(paths_of(root), tmp_path / "c.npy", RECIPE, "train")
    before = np.array(open_cache(target))
    stamp = target.stat().st_mtime_ns
    assert ensure_cache(paths_of(root), target, RECIPE, "train").stat().st_mtime_ns == stamp  # unchanged: reused
    changed = paths_of(root)[1]
    Image.new("RGB", (40, 50), (10, 200, 30)).save(changed)
    after = open_cache(ensure_cache(paths_of(root), target, RECIPE, "train"))
    assert np.array_equal(after[0], before[0]) and not np.array_equal(after[1], before[1])
    assert np.array_equal(after[1], decode(changed, RECIPE, "train"))


def test_a_changed_size_rebuilds_the_cache(tmp_path):
    root = voc_like(tmp_path / "voc", [(50, 40)])
    target = ensure_cache(paths_of(root), tmp_path / "c.npy", RECIPE, "train")
    assert open_cache(target).shape == (1, 32, 32, 3)
    assert open_cache(ensure_cache(paths_of(root), target, scaled_recipe(24), "train")).shape == (1, 24, 24, 3)


def resident_bytes() -> int:
    """This process's resident memory (VmRSS), in bytes."""
    line = next(s for s in Path("/proc/self/status").read_text().splitlines() if s.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_reading_every_image_keeps_the_cache_out_of_resident_memory(tmp_path):
    root = voc_like(tmp_path / "voc", [(8, 8)] * 300)
    dataset = CachedImages(
        VOCMultiLabel(root, "train", ("a",)),
        tmp_path / "cache",
        scaled_recipe(128),
        "train",
        count=300,
        batch_transform=None,
    )
    cache_bytes = os.path.getsize(dataset.path)
    dataset[0]
    before = resident_bytes()
    checksum = sum(int(dataset[i][0][0, 0, 0]) for i in range(len(dataset)))
    assert checksum >= 0 and cache_bytes > 14_000_000
    assert resident_bytes() - before < cache_bytes / 4


def test_cached_dataset_items_and_labels(tmp_path):
    root = voc_like(tmp_path / "voc", [(50, 40), (40, 50)])
    voc = VOCMultiLabel(root, "train", ("a", "b"))
    dataset = CachedImages(voc, tmp_path / "cache", RECIPE, "eval", count=2, batch_transform=None)
    image, target, mask = dataset[1]
    assert image.dtype == torch.uint8 and image.shape == (3, RECIPE.resize, RECIPE.resize)
    assert np.array_equal(image.permute(1, 2, 0).numpy(), decode(paths_of(root)[1], RECIPE, "eval"))
    assert target.tolist() == [1.0, 0.0] and mask.tolist() == [1.0, 1.0] and dataset.ids == voc.ids


def test_cached_items_collate_into_a_channels_first_batch(tmp_path):
    # a channels-last batch makes the batch transforms about 4x slower on CPU
    root = voc_like(tmp_path / "voc", [(50, 40), (40, 50)])
    dataset = CachedImages(
        VOCMultiLabel(root, "train", ("a", "b")), tmp_path / "cache", RECIPE, "eval", count=2, batch_transform=None
    )
    images, _, _ = next(iter(torch.utils.data.DataLoader(dataset, batch_size=2)))
    assert images.is_contiguous()


def test_a_batch_read_equals_its_items_stacked(tmp_path):
    root = voc_like(tmp_path / "voc", [(50, 40), (40, 50), (30, 30)])
    dataset = CachedImages(
        VOCMultiLabel(root, "train", ("a", "b")), tmp_path / "cache", RECIPE, "train", count=3, batch_transform=None
    )
    images, targets, masks = dataset[[2, 0, 2]]
    items = [dataset[i] for i in (2, 0, 2)]
    assert images.is_contiguous(memory_format=torch.channels_last)  # the layout CUDA wants
    for batch, part in zip((images, targets, masks), range(3)):
        assert torch.equal(batch, torch.stack([item[part] for item in items]))
