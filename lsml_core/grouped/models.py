"""The grouped track's network: a torchvision backbone on grey images, one linear head per label group,
and SESEMI's six-way head.

Its output is one tensor [B, K_1 + ... + K_G + 6]: each group's logits in group order, then SESEMI's.
A `grouped` run reads each group's block through a softmax, a `flat` run reads every column through a
sigmoid: the same layers, trained and read by different losses.
"""

import torch
from torch import nn

from lsml_core.backbones import build_backbone
from lsml_core.grouped.sesemi import TRANSFORMS


class GroupedNet(nn.Module):
    """backbone -> feature vector -> [one Linear per group] + Linear(6) for SESEMI, concatenated."""

    def __init__(self, backbone: str, sizes: tuple[int, ...], pretrained: bool = False):
        super().__init__()
        self.backbone, width = build_backbone(backbone, pretrained, in_channels=1)
        self.heads = nn.ModuleList(nn.Linear(width, k) for k in sizes)
        self.sesemi = nn.Linear(width, len(TRANSFORMS))
        self.sizes = tuple(sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        return torch.cat([head(features) for head in self.heads] + [self.sesemi(features)], dim=1)


def group_logits(outputs: torch.Tensor, sizes: tuple[int, ...]) -> list[torch.Tensor]:
    """Each group's block of logits, in group order."""
    return list(torch.split(outputs[:, : sum(sizes)], list(sizes), dim=1))


def sesemi_logits(outputs: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """SESEMI's six logits (the last columns)."""
    return outputs[:, sum(sizes) :]
