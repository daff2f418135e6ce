"""Smoothed targets of softmax classifiers (one label per image), for every track that trains one.

With K classes, label y and degree a (`alpha`):
- uniform (torch's `CrossEntropyLoss(label_smoothing=a)` uses the same targets internally):
  t = (1 - a) onehot(y) + a / K: the true class gets 1 - a + a/K, every wrong class a/K.
- instance-based (Maher & Kull): with p = softmax(teacher logits / T), the true class gets 1 - a and
  wrong class j gets a p_j / (1 - p_y). A uniform teacher spreads a evenly, a/(K-1) per wrong class: this
  equals the uniform convention at degree a K/(K-1).
Soft targets enter `F.cross_entropy` as class probabilities: -sum_k t_k log softmax(z)_k, averaged.
"""

import torch
import torch.nn.functional as F


def smoothed_targets(labels: torch.Tensor, n_classes: int, alpha: float) -> torch.Tensor:
    """(1 - a) onehot(y) + a / K: the targets torch's `label_smoothing=a` uses internally."""
    return F.one_hot(labels, n_classes).float() * (1 - alpha) + alpha / n_classes


def softmax_instance_targets(
    labels: torch.Tensor, teacher_logits: torch.Tensor, alpha: float, temperature: float
) -> torch.Tensor:
    """1 - a on the true class; a p_j / (1 - p_y) on wrong class j, p = softmax(teacher_logits / T).

    p_j / (1 - p_y) is computed as the softmax of z/T over the wrong classes only, which stays exact
    when the teacher is so confident that 1 - p_y rounds to zero.
    """
    true = F.one_hot(labels, teacher_logits.shape[1]).bool()
    wrong = torch.softmax((teacher_logits.float() / temperature).masked_fill(true, float("-inf")), dim=1)
    return torch.where(true, 1.0 - alpha, alpha * wrong)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_k t_k log softmax(logits)_k."""
    return F.cross_entropy(logits, targets)
