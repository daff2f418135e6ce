"""Batched transforms: the per-sample recipe in distribution, FiveCrop and centre crop exactly, seeded."""

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as F

from lsml_core.multilabel.images.batch_transforms import CentreCropBatch, FiveCropBatch, TrainBatch, normalize, rotate
from lsml_core.multilabel.images.image_cache import eval_window
from lsml_core.multilabel.images.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Recipe,
    eval_transform,
    five_crop_transform,
    scaled_recipe,
    train_transform,
)

RECIPE = scaled_recipe(16)
LOW, HIGH = normalize(torch.zeros(3, 1, 1)).flatten(), normalize(torch.ones(3, 1, 1)).flatten()


def uint8_batch(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def pil(image: torch.Tensor) -> Image.Image:
    return Image.fromarray(image.permute(1, 2, 0).numpy())


def window_batch(images: list[Image.Image], recipe: Recipe) -> torch.Tensor:
    """The cache's `eval` windows of PIL images, as a uint8 batch."""
    return torch.stack([torch.from_numpy(np.array(eval_window(im, recipe))).permute(2, 0, 1) for im in images])


def test_train_batch_shapes_and_ranges():
    out = TrainBatch(RECIPE)(uint8_batch(32, 16, 16), torch.Generator().manual_seed(0))
    assert out.shape == (32, 3, 16, 16) and out.dtype == torch.float32
    per_channel = out.transpose(0, 1).flatten(1)
    assert (per_channel.min(1).values >= LOW - 1e-5).all() and (per_channel.max(1).values <= HIGH + 1e-5).all()


def test_parameter_rates_are_the_recipes():
    p = TrainBatch(RECIPE).parameters(40_000, torch.Generator().manual_seed(0))
    jitter = p["factor"] != 1
    assert abs(jitter.float().mean() - 0.5) < 0.01  # RandomChoice of two
    assert abs(p["gray"].float().mean() - 0.5 * 0.25) < 0.01  # grayscale only when chosen
    assert not (p["gray"] & jitter).any()
    assert abs(p["flip"].float().mean() - 0.25) < 0.01
    assert p["factor"].min() >= 0.8 and p["factor"].max() <= 1.2
    assert p["angle"].abs().max() <= 25 and abs(p["angle"].mean()) < 0.5


def per_sample(recipe: Recipe, images: torch.Tensor, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    transform = train_transform(recipe)
    return torch.stack([transform(pil(image)) for image in images])


def test_flip_rate_matches_the_per_sample_recipe():
    recipe = Recipe(size=16, resize=18, brightness=(1.0, 1.0), grayscale_p=0.0, rotation=0.0)
    images = uint8_batch(1, 16, 16).expand(2000, -1, -1, -1).contiguous()
    plain, flipped = normalize(images[0]), normalize(F.horizontal_flip(images[0]))
    for out in (TrainBatch(recipe)(images, torch.Generator().manual_seed(1)), per_sample(recipe, images, 1)):
        is_flipped = torch.tensor([torch.allclose(o, flipped, atol=1e-5) for o in out])
        assert all(torch.allclose(o, plain, atol=1e-5) or f for o, f in zip(out, is_flipped))
        assert abs(is_flipped.float().mean() - 0.25) < 0.03


def test_train_batch_matches_the_per_sample_recipe_in_distribution():
    images = uint8_batch(1, 16, 16).expand(3000, -1, -1, -1).contiguous()
    batched = TrainBatch(RECIPE)(images, torch.Generator().manual_seed(2))
    reference = per_sample(RECIPE, images, 2)
    for out in (batched, reference):
        assert out.shape == reference.shape

    def gray_rate(out):  # all three channels equal once the normalisation is undone
        pixels = out * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        return ((pixels[:, 0] - pixels[:, 1]).abs().amax((1, 2)) < 0.01).float().mean()

    assert abs(gray_rate(batched) - gray_rate(reference)) < 0.03
    assert abs(gray_rate(batched) - 0.125) < 0.03
    means_b, means_r = batched.mean((1, 2, 3)), reference.mean((1, 2, 3))
    assert abs(means_b.mean() - means_r.mean()) < 0.02 and abs(means_b.std() - means_r.std()) < 0.02
    assert abs((batched == LOW.view(3, 1, 1)).float().mean() - (reference == LOW.view(3, 1, 1)).float().mean()) < 0.01


def test_rotation_equals_torchvisions_per_image():
    images = uint8_batch(5, 20, 30).float()
    angles = torch.tensor([0.0, 12.5, -25.0, 7.0, 90.0])
    expected = torch.stack([F.rotate(image, float(angle)) for image, angle in zip(images, angles)])
    assert torch.equal(rotate(images, angles), expected)


def test_five_crop_batch_equals_torchvisions_five_crop_per_image():
    images = uint8_batch(4, 18, 18)
    got = FiveCropBatch(RECIPE)(images)
    expected = torch.stack([torch.stack([normalize(c) for c in T.FiveCrop(16)(image)]) for image in images])
    assert got.shape == (4, 5, 3, 16, 16) and torch.equal(got, expected)


def test_batched_eval_and_test_equal_the_per_sample_recipe_on_square_images():
    recipe = scaled_recipe(32)
    images = [pil(image) for image in uint8_batch(3, 40, 40)]
    windows = window_batch(images, recipe)
    assert torch.allclose(
        CentreCropBatch(recipe)(windows), torch.stack([eval_transform(recipe)(im) for im in images]), atol=1e-6
    )
    assert torch.allclose(
        FiveCropBatch(recipe)(windows), torch.stack([five_crop_transform(recipe)(im) for im in images]), atol=1e-6
    )


def test_batched_centre_crop_equals_the_per_sample_recipe_on_any_image():
    recipe = scaled_recipe(32)
    images = [pil(image) for image in uint8_batch(1, 50, 70)] + [pil(image) for image in uint8_batch(1, 61, 37)]
    windows = window_batch(images, recipe)
    assert torch.allclose(
        CentreCropBatch(recipe)(windows), torch.stack([eval_transform(recipe)(im) for im in images]), atol=1e-6
    )
