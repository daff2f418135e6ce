"""The image recipe applied to whole uint8 batches [B, 3, H, W] on the training device.

Train: per sample, RandomChoice[brightness factor in (0.8, 1.2), grayscale with p 0.25], horizontal
flip with p 0.25, rotation by an angle in (-25, 25) degrees (nearest, black fill), then Normalize:
the per-sample recipe's steps and probabilities, with each sample's parameters drawn from a seeded
generator. Unlike the PIL recipe, the steps compute in float and do not round to uint8 between steps.
Eval: centre crop; test: FiveCrop. Both take the cache's `eval` windows (see `image_cache`).
"""

import math

import numpy as np
import torch
import torch.nn.functional as nnf
from torchvision.transforms.v2 import functional as F

from lsml_core.multilabel.images.transforms import IMAGENET_MEAN, IMAGENET_STD, Recipe

_STATS: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}


def imagenet_stats(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The ImageNet mean and std as float32 [3, 1, 1] tensors on `device`, made once per device.

    torchvision's `normalize` copies them from Python lists every call: on CUDA a copy that waits
    for the GPU, twice per batch.
    """
    if device not in _STATS:
        with torch.inference_mode(False):  # made during a prediction too, they serve training later
            _STATS[device] = tuple(
                torch.tensor(v, dtype=torch.float32).view(-1, 1, 1).to(device) for v in (IMAGENET_MEAN, IMAGENET_STD)
            )
    return _STATS[device]


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] float images -> float32 normalised with the ImageNet mean and std (torchvision's ops)."""
    mean, std = imagenet_stats(images.device)
    return F.to_dtype(images, torch.float32, scale=True).sub(mean).div_(std)


def rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image counter-clockwise about its centre by its own angle; nearest, black outside."""
    height, width = images.shape[-2:]
    angle = degrees.to(images.device, torch.float32) * (math.pi / 180)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.zeros(len(images), 2, 3, device=images.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * height / width
    theta[:, 1, 0], theta[:, 1, 1] = sin * width / height, cos
    grid = nnf.affine_grid(theta, list(images.shape), align_corners=False)
    return nnf.grid_sample(images, grid, mode="nearest", padding_mode="zeros", align_corners=False)


class TrainBatch:
    """The augmented training recipe on a uint8 batch; `generator` (CPU) draws every sample's parameters."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    def parameters(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Per-sample draws: brightness factor (1 when not chosen), grayscale, flip, angle."""
        r = self.recipe

        def uniform(low, high):
            return low + (high - low) * torch.rand(n, generator=generator)

        jitter = torch.rand(n, generator=generator) < 0.5
        low, high = r.brightness
        return {
            "factor": torch.where(jitter, uniform(low, high), torch.ones(n)),
            "gray": ~jitter & (torch.rand(n, generator=generator) < r.grayscale_p),
            "flip": torch.rand(n, generator=generator) < r.flip_p,
            "angle": uniform(-r.rotation, r.rotation),
        }

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        draws = self.parameters(len(images), generator)
        stacked = torch.stack([v.float() for v in draws.values()])
        if images.is_cuda:  # one copy to the device, without waiting for the work queued before it
            stacked = stacked.pin_memory().to(images.device, non_blocking=True)
        p = {k: v.view(-1, 1, 1, 1).to(draws[k].dtype) for k, v in zip(draws, stacked)}
        x = F.to_dtype(images, torch.float32, scale=True)
        x = (x * p["factor"]).clamp_(0, 1)
        x = torch.where(p["gray"], F.rgb_to_grayscale(x, num_output_channels=3), x)
        x = torch.where(p["flip"], F.horizontal_flip(x), x)
        return normalize(rotate(x, p["angle"].flatten()))


class CentreCropBatch:
    """Evaluation: the centre s x s crop of each cached window, normalised."""

    def __init__(self, recipe: Recipe):
        self.size = [recipe.size, recipe.size]

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return normalize(F.center_crop(images, self.size))


class FiveCropBatch:
    """Test: the four corner crops and the centre crop of each window, [B, 5, 3, s, s], normalised."""

    def __init__(self, recipe: Recipe):
        self.size = [recipe.size, recipe.size]

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return normalize(torch.stack(F.five_crop(images, self.size), dim=1))


def augmentation_seed(shuffle_seed: int) -> int:
    """A seed for the augmentation generator, independent of the shuffle generator seeded with the same value."""
    return int(np.random.SeedSequence([shuffle_seed, 1]).generate_state(1, np.uint64)[0] >> 1)


def model_input(images: torch.Tensor, transform, generator: torch.Generator | None) -> torch.Tensor:
    """A uint8 batch on its device, transformed, in the layout the model wants there.

    CPU transforms run ~4x slower on channels-last uint8 batches; CUDA wants that layout.
    """
    layout = torch.channels_last if images.is_cuda else torch.contiguous_format
    images = transform(images.contiguous(memory_format=layout), generator)
    return images.contiguous(memory_format=layout) if images.ndim == 4 else images
