"""Classifiers for 28x28 and 32x32 inputs, each with `features()` (the penultimate layer) and `head`.

- `resnet8` / `resnet20`: the CIFAR ResNet of He et al. (3 stages of 16-32-64 channels, 1 or 3 basic
  blocks each, global average pooling).
- `shallow`: Maher & Kull's distillation student: 3 blocks (conv 3x3, BN, ReLU, max-pool 2) of 32-64-128
  channels, FC 128 + ReLU, dropout 0.5, FC K.
- `minigooglenet`: MiniGoogLeNet as in Rosebrock, "Label smoothing with Keras, TensorFlow, and Deep Learning"
  (2019) (conv 96; inception 32+32, 32+48; downsample 80;
  inception 112+48, 96+64, 80+80, 48+96; downsample 96; inception 176+160 twice; global average pool (their
  7x7 pool at 32x32, adaptive so that 28x28 works); dropout 0.5).
"""

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int | str = "same") -> nn.Sequential:
    """conv, batch norm, ReLU."""
    padding = 0 if stride > 1 and padding == "same" else padding
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Classifier(nn.Module):
    """A feature extractor (image -> penultimate vector) and a linear head."""

    def __init__(self, body: nn.Module, n_features: int, n_classes: int):
        super().__init__()
        self.body, self.head = body, nn.Linear(n_features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (1x1 projection when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.convs(x) + self.shortcut(x))


def resnet_body(in_channels: int, blocks: int) -> nn.Sequential:
    layers, c_in = [conv_bn(in_channels, 16, 3)], 16
    for stage, width in enumerate((16, 32, 64)):
        for i in range(blocks):
            layers.append(BasicBlock(c_in, width, 2 if stage and not i else 1))
            c_in = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def shallow_body(in_channels: int, image_size: int) -> nn.Sequential:
    layers, c_in = [], in_channels
    for width in (32, 64, 128):
        layers += [conv_bn(c_in, width, 3), nn.MaxPool2d(2)]
        c_in, image_size = width, image_size // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * image_size**2, 128), nn.ReLU(), nn.Dropout(0.5))


class Inception(nn.Module):
    """A 1x1 and a 3x3 convolution side by side, concatenated."""

    def __init__(self, c_in: int, c1: int, c3: int):
        super().__init__()
        self.one, self.three = conv_bn(c_in, c1, 1), conv_bn(c_in, c3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.one(x), self.three(x)], dim=1)


class Downsample(nn.Module):
    """A strided 3x3 convolution beside a 3x3 max-pool (stride 2), concatenated."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv, self.pool = conv_bn(c_in, c_out, 3, stride=2), nn.MaxPool2d(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


def minigooglenet_body(in_channels: int) -> nn.Sequential:
    return nn.Sequential(
        conv_bn(in_channels, 96, 3),
        Inception(96, 32, 32),
        Inception(64, 32, 48),
        Downsample(80, 80),
        Inception(160, 112, 48),
        Inception(160, 96, 64),
        Inception(160, 80, 80),
        Inception(160, 48, 96),
        Downsample(144, 96),
        Inception(240, 176, 160),
        Inception(336, 176, 160),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.5),
    )


# The registry: name -> (in_channels, image_size, n_classes) -> model. A new model is one entry.
MODELS = {
    "resnet8": lambda c, size, k: Classifier(resnet_body(c, 1), 64, k),
    "resnet20": lambda c, size, k: Classifier(resnet_body(c, 3), 64, k),
    "shallow": lambda c, size, k: Classifier(shallow_body(c, size), 128, k),
    "minigooglenet": lambda c, size, k: Classifier(minigooglenet_body(c), 336, k),
}


def build_model(name: str, n_classes: int, in_channels: int, image_size: int) -> Classifier:
    """One of MODELS for images [in_channels, image_size, image_size]."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name](in_channels, image_size, n_classes)
