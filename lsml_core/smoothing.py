"""Label-smoothing schemes for multi-hot targets, and a BCE loss that smooths inside.

With n classes and degree alpha, a multi-hot target y in {0, 1}^n becomes:

    none      y                                   positive 1,               negative 0
    uniform   y * (1 - alpha) + alpha / n         positive 1 - alpha + a/n, negative alpha / n
    positive  y * (1 - alpha)                     positive 1 - alpha,       negative 0

`uniform` is the original study's Scheme 1, `positive` its Scheme 2. Smoothing is for training
targets only: evaluation losses use the hard labels.
"""
import torch
import torch.nn.functional as F
from torch import nn

SCHEMES = ("none", "uniform", "positive")


def check_scheme(scheme: str, alpha: float) -> None:
    """Raise ValueError unless scheme is known and alpha lies in [0, 1)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown smoothing scheme {scheme!r}: choose one of {', '.join(SCHEMES)}")
    if not isinstance(alpha, (int, float)) or not 0.0 <= float(alpha) < 1.0:
        raise ValueError(f"alpha={alpha!r} is out of range: it must be a number in [0, 1)")


def check_multi_hot(targets: torch.Tensor) -> None:
    """Raise ValueError unless targets is a 2-D tensor of zeros and ones."""
    if not isinstance(targets, torch.Tensor) or targets.ndim != 2:
        shape = tuple(targets.shape) if hasattr(targets, "shape") else type(targets).__name__
        raise ValueError(f"targets must be a 2-D tensor [batch, n_classes]; got {shape}")
    if not torch.all((targets == 0) | (targets == 1)):
        bad = targets[(targets != 0) & (targets != 1)].flatten()[:3].tolist()
        raise ValueError(f"targets must be multi-hot (only 0 and 1); found values such as {bad}")


def smooth_targets(targets: torch.Tensor, scheme: str, alpha: float) -> torch.Tensor:
    """Return the smoothed float targets of a multi-hot batch (formulas in the module docstring)."""
    check_scheme(scheme, alpha)
    check_multi_hot(targets)
    targets = targets.float()
    if scheme == "none":
        return targets
    if scheme == "uniform":
        return targets * (1.0 - alpha) + alpha / targets.shape[1]
    return targets * (1.0 - alpha)


def masked_bce_with_logits(logits: torch.Tensor, targets: torch.Tensor,
                           mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy over the (image, class) pairs that the mask keeps."""
    losses = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
    if mask is None:
        return losses.mean()
    mask = mask.to(losses.dtype)
    return (losses * mask).sum() / mask.sum().clamp_min(1.0)


class SmoothedBCEWithLogitsLoss(nn.Module):
    """BCE-with-logits whose hard multi-hot targets are smoothed inside (loss-based smoothing)."""

    def __init__(self, scheme: str = "none", alpha: float = 0.0):
        super().__init__()
        check_scheme(scheme, alpha)
        self.scheme, self.alpha = scheme, float(alpha)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return masked_bce_with_logits(logits, smooth_targets(targets, self.scheme, self.alpha), mask)

    def extra_repr(self) -> str:
        return f"scheme={self.scheme!r}, alpha={self.alpha}"
