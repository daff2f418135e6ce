"""Recipes: the original VOC sizes, a proportionally scaled demo recipe, FiveCrop stacking."""

import torch
from PIL import Image

from lsml_core.multilabel.images.transforms import (
    VOC_RECIPE,
    eval_transform,
    five_crop_transform,
    scaled_recipe,
    train_transform,
)


def test_voc_recipe_sizes():
    assert (VOC_RECIPE.size, VOC_RECIPE.resize, VOC_RECIPE.rotation, VOC_RECIPE.flip_p) == (300, 330, 25.0, 0.25)


def test_scaled_recipe_keeps_the_ratio():
    assert scaled_recipe(56).resize == 62 and scaled_recipe(300).resize == 330


def test_output_shapes():
    image = Image.new("RGB", (80, 60), (120, 30, 200))
    recipe = scaled_recipe(32)
    assert train_transform(recipe)(image).shape == (3, 32, 32)
    assert eval_transform(recipe)(image).shape == (3, 32, 32)
    crops = five_crop_transform(recipe)(image)
    assert crops.shape == (5, 3, 32, 32)
    assert torch.allclose(crops[4], eval_transform(recipe)(image))  # the fifth crop is the centre crop
