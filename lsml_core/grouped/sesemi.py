"""SESEMI's self-supervised task (Tran 2019): which of six transforms was applied to an image.

Labels: 0 unchanged, 1 rotated 90 degrees, 2 rotated 180, 3 rotated 270 (counter-clockwise, as
`torch.rot90`), 4 flipped left-right, 5 flipped upside down. The images must be square.
"""

import torch

TRANSFORMS = (
    lambda x: x,
    lambda x: torch.rot90(x, 1, dims=(-2, -1)),
    lambda x: torch.rot90(x, 2, dims=(-2, -1)),
    lambda x: torch.rot90(x, 3, dims=(-2, -1)),
    lambda x: torch.flip(x, dims=(-1,)),
    lambda x: torch.flip(x, dims=(-2,)),
)
NAMES = ("identity", "rotate 90", "rotate 180", "rotate 270", "flip left-right", "flip upside down")


def sesemi_batch(images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(each image under a transform drawn uniformly from the six, the transforms' labels)."""
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"SESEMI needs square images (rotations keep their shape); got {tuple(images.shape[-2:])}")
    labels = torch.randint(0, len(TRANSFORMS), (len(images),), generator=generator)
    out = images.clone()
    for label, transform in enumerate(TRANSFORMS):
        chosen = labels == label
        if chosen.any():
            out[chosen] = transform(images[chosen])
    return out, labels
