"""Label-smoothing schemes for multi-hot targets, and a BCE loss that smooths inside.

With n classes and degree alpha, a multi-hot target y in {0, 1}^n becomes:

    none      y                                   positive 1,               negative 0
    uniform   y * (1 - alpha) + alpha / n         positive 1 - alpha + a/n, negative alpha / n
    positive  y * (1 - alpha)                     positive 1 - alpha,       negative 0
    binary    y * (1 - alpha) + alpha / 2         positive 1 - alpha/2,     negative alpha / 2
    instance  positives as uniform; negative j of an image with negatives N:
              (alpha * |N| / n) * q_j / sum_{k in N} q_k,  q = the teacher's sigmoid probabilities

`uniform` is the original study's Scheme 1, `positive` its Scheme 2, `binary` Keras's
BinaryCrossentropy(label_smoothing=alpha) convention. `instance` is instance-based smoothing for
multi-label, after Maher & Kull: it moves the same mass per image onto the negatives as `uniform`
(alpha * |N| / n), but spreads it in proportion to a teacher's scores instead of evenly; a
teacher that scores all negatives alike gives back `uniform`. Smoothing is for training targets
only: evaluation losses use the hard labels.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def check_scheme(scheme: str, alpha: float) -> None:
    """Raise ValueError unless scheme is known and alpha lies in [0, 1)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown smoothing scheme {scheme!r}: choose one of {', '.join(SCHEMES)}")
    if not isinstance(alpha, (int, float)) or not 0.0 <= float(alpha) < 1.0:
        raise ValueError(f"alpha={alpha!r} is out of range: it must be a number in [0, 1)")


def check_multi_hot(targets: torch.Tensor) -> None:
    """Raise ValueError unless targets is a 2-D tensor of zeros and ones.

    The values are checked on CPU tensors only: on a GPU the check would make the host wait for the
    device every batch. The loaders' targets are built as zeros and ones (`voc.VOCMultiLabel`).
    """
    if not isinstance(targets, torch.Tensor) or targets.ndim != 2:
        shape = tuple(targets.shape) if hasattr(targets, "shape") else type(targets).__name__
        raise ValueError(f"targets must be a 2-D tensor [batch, n_classes]; got {shape}")
    if targets.device.type == "cpu" and not torch.all((targets == 0) | (targets == 1)):
        bad = targets[(targets != 0) & (targets != 1)].flatten()[:3].tolist()
        raise ValueError(f"targets must be multi-hot (only 0 and 1); found values such as {bad}")


def instance_targets(targets: torch.Tensor, alpha: float, teacher_probs: torch.Tensor) -> torch.Tensor:
    """Instance-based targets: the mass `uniform` gives an image's negatives, spread by the teacher's scores."""
    if teacher_probs is None or teacher_probs.shape != targets.shape:
        shape = None if teacher_probs is None else tuple(teacher_probs.shape)
        raise ValueError(
            f"scheme 'instance' needs teacher probabilities of the targets' shape {tuple(targets.shape)}; got {shape}"
        )
    n = targets.shape[1]
    negative = 1.0 - targets
    weights = teacher_probs.float().clamp_min(1e-12) * negative
    mass = alpha * negative.sum(dim=1, keepdim=True) / n
    spread = mass * weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return targets * (1.0 - alpha + alpha / n) + spread


@dataclass(frozen=True)
class Scheme:
    """How a scheme makes targets: `targets(y, alpha, teacher_probs)`; `needs_teacher`: it learns from a
    teacher run (the baseline of the same model, seed and noise rate)."""

    targets: Callable[[torch.Tensor, float, torch.Tensor | None], torch.Tensor]
    needs_teacher: bool = False


# The registry: a new scheme is one entry here (and its formula in the module docstring).
SCHEMES: dict[str, Scheme] = {
    "none": Scheme(lambda y, alpha, q: y),
    "uniform": Scheme(lambda y, alpha, q: y * (1.0 - alpha) + alpha / y.shape[1]),
    "positive": Scheme(lambda y, alpha, q: y * (1.0 - alpha)),
    "binary": Scheme(lambda y, alpha, q: y * (1.0 - alpha) + alpha / 2),
    "instance": Scheme(lambda y, alpha, q: instance_targets(y, alpha, q), needs_teacher=True),
}


def smooth_targets(
    targets: torch.Tensor, scheme: str, alpha: float, teacher_probs: torch.Tensor | None = None
) -> torch.Tensor:
    """Return the smoothed float targets of a multi-hot batch (formulas in the module docstring)."""
    check_scheme(scheme, alpha)
    check_multi_hot(targets)
    return SCHEMES[scheme].targets(targets.float(), alpha, teacher_probs)


def masked_bce_with_logits(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
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

    def forward(
        self,
        logits: torch.Tensor,
        targets: torch.Tensor,
        mask: torch.Tensor | None = None,
        teacher_probs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        check_multi_hot(targets)
        smoothed = SCHEMES[self.scheme].targets(targets.float(), self.alpha, teacher_probs)
        return masked_bce_with_logits(logits, smoothed, mask)

    def extra_repr(self) -> str:
        return f"scheme={self.scheme!r}, alpha={self.alpha}"
