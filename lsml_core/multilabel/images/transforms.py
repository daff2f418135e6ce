"""Image recipes: the original study's VOC recipe and a proportionally scaled one for small images.

Train: Resize((s, s)) -> RandomChoice[ColorJitter(brightness 0.8-1.2), RandomGrayscale(0.25)]
-> RandomHorizontalFlip(0.25) -> RandomRotation(25) -> ToTensor -> Normalize.
Eval: Resize(r) -> CenterCrop(s). Test: Resize(r) -> FiveCrop(s), a [5, C, s, s] tensor per image.
VOC uses s = 300, r = 330; a scaled recipe keeps r / s = 1.1.
"""

from dataclasses import dataclass

import torch
from torchvision import transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """Sizes and augmentation strengths of one data recipe."""

    size: int = 300
    resize: int = 330
    brightness: tuple[float, float] = (0.8, 1.2)
    grayscale_p: float = 0.25
    flip_p: float = 0.25
    rotation: float = 25.0


VOC_RECIPE = Recipe()


def scaled_recipe(size: int) -> Recipe:
    """The VOC recipe for images of side `size`: the eval resize keeps the ratio 330 / 300."""
    if size < 8:
        raise ValueError(f"image_size={size} is too small: use at least 8 pixels")
    return Recipe(size=size, resize=round(size * VOC_RECIPE.resize / VOC_RECIPE.size))


def _normalize() -> list:
    return [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def train_transform(recipe: Recipe) -> T.Compose:
    """The augmented training transform of the original study."""
    return T.Compose(
        [
            T.Resize((recipe.size, recipe.size)),
            T.RandomChoice([T.ColorJitter(brightness=recipe.brightness), T.RandomGrayscale(recipe.grayscale_p)]),
            T.RandomHorizontalFlip(recipe.flip_p),
            T.RandomRotation(recipe.rotation),
            *_normalize(),
        ]
    )


def eval_transform(recipe: Recipe) -> T.Compose:
    """Resize then centre crop, no augmentation: train, held-out and val evaluation."""
    return T.Compose([T.Resize(recipe.resize), T.CenterCrop(recipe.size), *_normalize()])


def five_crop_transform(recipe: Recipe) -> T.Compose:
    """Resize then the four corner crops and the centre crop, stacked: the `test` split."""
    normalize = T.Compose(_normalize())
    return T.Compose(
        [
            T.Resize(recipe.resize),
            T.FiveCrop(recipe.size),
            T.Lambda(lambda crops: torch.stack([normalize(crop) for crop in crops])),
        ]
    )
