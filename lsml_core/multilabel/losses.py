"""Training losses of the multi-label track, each on (smoothed) targets and averaged over the unmasked pairs.

With p = sigmoid(z) for logit z and target y in [0, 1] (hard, or smoothed by a scheme of
`lsml_core.smoothing`), per (image, class) pair:

    bce         -[y log p + (1 - y) log(1 - p)]
    focal       a_t (1 - p_t)^g * bce,  p_t = p y + (1 - p)(1 - y),  a_t = a y + (1 - a)(1 - y),  a = 0.25, g = 2
                (torchvision.ops.sigmoid_focal_loss; Lin et al. 2017)
    asymmetric  -[y (1 - p)^g+ log p + (1 - y) p_m^g- log(1 - p_m)],  p_m = max(p - m, 0),  g+ = 0, g- = 4, m = 0.05
                (timm.loss.AsymmetricLossMultiLabel; Ridnik et al. 2021, the paper's defaults; for soft
                targets timm blends the two focusing weights as (1 - p_t)^(g+ y + g- (1 - y)); the gradient
                flows through the focusing weight, timm's default, where the official ASL training
                scripts stop it)

Every smoothing scheme combines with every loss: the scheme makes the targets, the loss scores them.
"""

from collections.abc import Callable
from functools import cache

import torch
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from lsml_core.smoothing import SCHEMES, check_multi_hot, check_scheme, masked_mean

FOCAL_ALPHA, FOCAL_GAMMA = 0.25, 2.0
ASL_GAMMA_NEG, ASL_GAMMA_POS, ASL_CLIP = 4.0, 0.0, 0.05


@cache
def asymmetric_loss() -> nn.Module:
    """timm's ASL with the paper's defaults, per pair; timm is imported on first use (it costs a kernel ~0.7 s)."""
    from timm.loss import AsymmetricLossMultiLabel

    return AsymmetricLossMultiLabel(gamma_neg=ASL_GAMMA_NEG, gamma_pos=ASL_GAMMA_POS, clip=ASL_CLIP, reduction="none")


# The registry: a new loss is one entry here (and its formula in the module docstring).
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "bce": lambda z, y: nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none"),
    "focal": lambda z, y: sigmoid_focal_loss(z, y, alpha=FOCAL_ALPHA, gamma=FOCAL_GAMMA, reduction="none"),
    "asymmetric": lambda z, y: asymmetric_loss()(z, y),
}


def check_loss(loss: str) -> None:
    """Raise ValueError unless the loss is known."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)}")


class MultiLabelLoss(nn.Module):
    """A loss of the registry on targets smoothed inside by a scheme (loss-based smoothing)."""

    def __init__(self, loss: str = "bce", scheme: str = "none", alpha: float = 0.0):
        super().__init__()
        check_loss(loss)
        check_scheme(scheme, alpha)
        self.loss, self.scheme, self.alpha = loss, scheme, float(alpha)

    def forward(
        self,
        logits: torch.Tensor,
        targets: torch.Tensor,
        mask: torch.Tensor | None = None,
        teacher_probs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return masked_mean(LOSSES[self.loss](logits.float(), self.targets(targets, teacher_probs)), mask)

    def targets(self, targets: torch.Tensor, teacher_probs: torch.Tensor | None = None) -> torch.Tensor:
        """The smoothed targets the loss scores (also what the run's dose is measured on)."""
        check_multi_hot(targets)
        return SCHEMES[self.scheme].targets(targets.float(), self.alpha, teacher_probs)

    def extra_repr(self) -> str:
        return f"loss={self.loss!r}, scheme={self.scheme!r}, alpha={self.alpha}"
