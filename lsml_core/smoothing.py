"""Label-smoothing schemes for multi-hot targets, and the masked mean BCE (the evaluation loss; the grouped
track's flat head trains with it).

With n classes and degree alpha, a multi-hot target y in {0, 1}^n becomes:

    none      y                                   positive 1,               negative 0
    uniform   y * (1 - alpha) + alpha / n         positive 1 - alpha + a/n, negative alpha / n
    positive  y * (1 - alpha)                     positive 1 - alpha,       negative 0
    binary    y * (1 - alpha) + alpha / 2         positive 1 - alpha/2,     negative alpha / 2
    symmetric y * (1 - 2 alpha) + alpha           positive 1 - alpha,       negative alpha
    instance  positives as uniform; negative j of an image with negatives N:
              (alpha * |N| / n) * q_j / sum_{k in N} q_k,  q = the teacher's sigmoid probabilities

`uniform` is the original study's Scheme 1 and timm's BCE smoothing, `positive` its Scheme 2, `binary`
Keras's BinaryCrossentropy(label_smoothing=alpha) convention (and timm's ASL `smoothing`), `symmetric`
mmpretrain's LabelSmoothLoss(mode='multi_label') convention (alpha must stay below 0.5, where positives
and negatives would swap). `instance` is instance-based smoothing for multi-label, after Maher & Kull: it moves the same mass per image onto the negatives as `uniform`
(alpha * |N| / n), but spreads it in proportion to a teacher's scores instead of evenly; a
teacher that scores all negatives alike gives back `uniform`. Smoothing is for training targets
only: evaluation losses use the hard labels.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def check_scheme(scheme: str, alpha: float) -> None:
    """Raise ValueError unless scheme is known and alpha lies in [0, the scheme's limit)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown smoothing scheme {scheme!r}: choose one of {', '.join(SCHEMES)}")
    limit = SCHEMES[scheme].max_alpha
    if not isinstance(alpha, (int, float)) or not 0.0 <= float(alpha) < limit:
        raise ValueError(
            f"alpha={alpha!r} is out of range for scheme {scheme!r}: it must be a number in [0, {limit:g})"
        )


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


def multi_hot_instance_targets(targets: torch.Tensor, alpha: float, teacher_probs: torch.Tensor) -> torch.Tensor:
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
    teacher run (the baseline of the same model, seed and noise rate); alpha must lie in [0, max_alpha)."""

    targets: Callable[[torch.Tensor, float, torch.Tensor | None], torch.Tensor]
    needs_teacher: bool = False
    max_alpha: float = 1.0  # alpha must lie below it


# The registry: a new scheme is one entry here (and its formula in the module docstring).
SCHEMES: dict[str, Scheme] = {
    "none": Scheme(lambda y, alpha, q: y),
    "uniform": Scheme(lambda y, alpha, q: y * (1.0 - alpha) + alpha / y.shape[1]),
    "positive": Scheme(lambda y, alpha, q: y * (1.0 - alpha)),
    "binary": Scheme(lambda y, alpha, q: y * (1.0 - alpha) + alpha / 2),
    "symmetric": Scheme(lambda y, alpha, q: y * (1.0 - 2.0 * alpha) + alpha, max_alpha=0.5),
    "instance": Scheme(lambda y, alpha, q: multi_hot_instance_targets(y, alpha, q), needs_teacher=True),
}


def smooth_targets(
    targets: torch.Tensor, scheme: str, alpha: float, teacher_probs: torch.Tensor | None = None
) -> torch.Tensor:
    """Return the smoothed float targets of a multi-hot batch (formulas in the module docstring)."""
    check_scheme(scheme, alpha)
    check_multi_hot(targets)
    return SCHEMES[scheme].targets(targets.float(), alpha, teacher_probs)


def masked_mean(losses: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-pair losses over the (image, class) pairs the mask keeps (all pairs without a mask)."""
    if mask is None:
        return losses.mean()
    mask = mask.to(losses.dtype)
    return (losses * mask).sum() / mask.sum().clamp_min(1.0)


def masked_bce_with_logits(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean binary cross-entropy over the (image, class) pairs that the mask keeps."""
    return masked_mean(F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none"), mask)
