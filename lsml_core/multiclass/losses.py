"""Single-label losses: cross-entropy, label smoothing two ways, instance-based smoothing, distillation.

With K classes, label y and degree e:
- `ls` (torch's `CrossEntropyLoss(label_smoothing=e)`) and `ls_targets` (explicit targets) both train on
  t = (1 - e) onehot(y) + e / K: the true class gets 1 - e + e/K, every wrong class e/K.
- `ils` (Maher & Kull): with p = softmax(teacher logits / T), the true class gets 1 - e and wrong class j
  gets e p_j / (1 - p_y). A uniform teacher spreads e evenly, e/(K-1) per wrong class: this equals torch's
  convention at degree e K/(K-1) (tested).
Soft targets enter `F.cross_entropy` as class probabilities: -sum_k t_k log softmax(z)_k, averaged.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def smoothed_targets(labels: torch.Tensor, n_classes: int, epsilon: float) -> torch.Tensor:
    """(1 - e) onehot(y) + e / K: the targets torch's `label_smoothing=e` uses internally."""
    return F.one_hot(labels, n_classes).float() * (1 - epsilon) + epsilon / n_classes


def instance_targets(
    labels: torch.Tensor, teacher_logits: torch.Tensor, epsilon: float, temperature: float
) -> torch.Tensor:
    """1 - e on the true class; e p_j / (1 - p_y) on wrong class j, p = softmax(teacher_logits / T).

    p_j / (1 - p_y) is computed as the softmax of z/T over the wrong classes only, which stays exact
    when the teacher is so confident that 1 - p_y rounds to zero.
    """
    true = F.one_hot(labels, teacher_logits.shape[1]).bool()
    wrong = torch.softmax((teacher_logits.float() / temperature).masked_fill(true, float("-inf")), dim=1)
    return torch.where(true, 1.0 - epsilon, epsilon * wrong)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_k t_k log softmax(logits)_k."""
    return F.cross_entropy(logits, targets)


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, alpha: float, temperature: float
) -> torch.Tensor:
    """a T^2 KL(q || p) + (1 - a) CE(student, y), q = softmax(teacher/T), p = softmax(student/T) (Hinton).

    KL(q || p) = (1/B) sum_i sum_k q_ik (log q_ik - log p_ik), torch's `kl_div(log p, q, "batchmean")`.
    The study brief writes KL(student/T || teacher/T); this is the standard direction, teacher first.
    """
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.softmax(teacher_logits.float() / temperature, dim=1),
        reduction="batchmean",
    )
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)


@dataclass(frozen=True)
class Loss:
    """A training loss: `fn(logits, labels, teacher_logits, train config) -> loss`; `needs_teacher`: it learns
    from a teacher run; `arm`: its name in the report's tables."""

    fn: Callable
    arm: str
    needs_teacher: bool = False


# The registry: a new loss is one entry here (and its formula in the module docstring).
LOSSES: dict[str, Loss] = {
    "ce": Loss(lambda z, y, q, t, k: F.cross_entropy(z, y), "CE"),
    "ls": Loss(lambda z, y, q, t, k: F.cross_entropy(z, y, label_smoothing=t.epsilon), "LS"),
    "ls_targets": Loss(
        lambda z, y, q, t, k: soft_cross_entropy(z, smoothed_targets(y, k, t.epsilon)), "LS (explicit targets)"
    ),
    "ils": Loss(
        lambda z, y, q, t, k: soft_cross_entropy(z, instance_targets(y, q, t.epsilon, t.temperature)),
        "ILS",
        needs_teacher=True,
    ),
    "kd": Loss(
        lambda z, y, q, t, k: distillation_loss(z, q, y, t.kd_alpha, t.temperature), "student", needs_teacher=True
    ),
}


def objective(train, n_classes: int) -> Callable:
    """The training loss of a run: `(logits, labels, teacher_logits or None) -> loss`."""
    loss = LOSSES[train.loss]
    return lambda logits, labels, teacher_logits=None: loss.fn(logits, labels, teacher_logits, train, n_classes)
