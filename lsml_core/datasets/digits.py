"""scikit-learn's 1,797 real 8x8 handwritten digits, upscaled to 28x28: real images that need no download."""

import numpy as np
from PIL import Image

from lsml_core.datasets.fashion_mnist import Source

DIGIT_CLASSES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SIDE = 28
N_TRAIN = 1200  # the first 1,200 digits train, the other 597 test


def digits_source(name: str = "scikit-learn digits") -> Source:
    """The digits as uint8 [N, 28, 28] (bilinear upscaling), first 1,200 for train, the rest for test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.stack(
        [
            np.asarray(Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((SIDE, SIDE), Image.BILINEAR))
            for image in digits.images
        ]
    )
    return Source(
        name, DIGIT_CLASSES, images[:N_TRAIN], digits.target[:N_TRAIN], images[N_TRAIN:], digits.target[N_TRAIN:]
    )
