"""Single-label losses: cross-entropy, label smoothing two ways, instance-based smoothing, distillation.

With K classes, label y and degree a (`alpha`):
- `ls` (torch's `CrossEntropyLoss(label_smoothing=a)`) and `ls_targets` (explicit targets) both train on
  t = (1 - a) onehot(y) + a / K (`lsml_core.soft_targets.smoothed_targets`).
- `ils` (Maher & Kull): the true class gets 1 - a and wrong class j gets a p_j / (1 - p_y), p the
  teacher's softmax at temperature T (`lsml_core.soft_targets.softmax_instance_targets`).
The run's dose (`lsml_core.dose`) is 1 - t_y averaged over the training images: 0 for `ce`, a (1 - 1/K) for
`ls` and `ls_targets` alike, a for `ils`; a `kd` student records none (its soft targets are a teacher's).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lsml_core.soft_targets import smoothed_targets, soft_cross_entropy, softmax_instance_targets


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, weight: float, temperature: float
) -> torch.Tensor:
    """w T^2 KL(q || p) + (1 - w) CE(student, y), w the `weight` of the KL term, q = softmax(teacher/T), p = softmax(student/T) (Hinton).

    KL(q || p) = (1/B) sum_i sum_k q_ik (log q_ik - log p_ik), torch's `kl_div(log p, q, "batchmean")`.
    Maher & Kull write KL(student/T || teacher/T); this is the standard direction, teacher first.
    """
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.softmax(teacher_logits.float() / temperature, dim=1),
        reduction="batchmean",
    )
    return weight * temperature**2 * soft + (1 - weight) * F.cross_entropy(student_logits, labels)


@dataclass(frozen=True)
class Loss:
    """A training loss: `fn(logits, labels, teacher_logits, train config, K) -> loss`; `needs_teacher`: it learns
    from a teacher run; `arm`: its name in the report's tables; `targets(labels, teacher_logits, train config, K)`:
    the distribution it trains towards, on which the run's dose is measured (`lsml_core.dose`), None for
    distillation (a teacher's targets, not smoothing: no dose)."""

    fn: Callable
    arm: str
    needs_teacher: bool = False
    targets: Callable | None = None


# The registry: a new loss is one entry here (and its formula in the module docstring).
LOSSES: dict[str, Loss] = {
    "ce": Loss(lambda z, y, q, t, k: F.cross_entropy(z, y), "CE", targets=lambda y, q, t, k: F.one_hot(y, k).float()),
    "ls": Loss(
        lambda z, y, q, t, k: F.cross_entropy(z, y, label_smoothing=t.alpha),
        "LS",
        targets=lambda y, q, t, k: smoothed_targets(y, k, t.alpha),
    ),
    "ls_targets": Loss(
        lambda z, y, q, t, k: soft_cross_entropy(z, smoothed_targets(y, k, t.alpha)),
        "LS (explicit targets)",
        targets=lambda y, q, t, k: smoothed_targets(y, k, t.alpha),
    ),
    "ils": Loss(
        lambda z, y, q, t, k: soft_cross_entropy(z, softmax_instance_targets(y, q, t.alpha, t.temperature)),
        "ILS",
        needs_teacher=True,
        targets=lambda y, q, t, k: softmax_instance_targets(y, q, t.alpha, t.temperature),
    ),
    "kd": Loss(
        lambda z, y, q, t, k: distillation_loss(z, q, y, t.kd_weight, t.temperature), "student", needs_teacher=True
    ),
}


def objective(train, n_classes: int) -> Callable:
    """The training loss of a run: `(logits, labels, teacher_logits or None) -> loss`."""
    loss = LOSSES[train.loss]
    return lambda logits, labels, teacher_logits=None: loss.fn(logits, labels, teacher_logits, train, n_classes)


def training_targets(train, n_classes: int) -> Callable | None:
    """The distribution a run trains towards: `(labels, teacher_logits or None) -> [B, K]`; None for distillation."""
    loss = LOSSES[train.loss]
    if loss.targets is None:
        return None
    return lambda labels, teacher_logits=None: loss.targets(labels, teacher_logits, train, n_classes)
