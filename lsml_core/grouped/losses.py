"""The grouped track's loss: a weighted sum of per-group losses plus the weighted SESEMI loss.

    L = sum_g w_g L_g(z_g, y_g) + w_aux CE(z_aux, transform)

`grouped` head: L_g is the softmax cross-entropy of group g's block; its targets smoothed per group:
`none` (one-hot), `uniform` (torch's `label_smoothing=a`: (1 - a) onehot + a/K_g, a the degree `alpha`) or
`instance` (1 - a on the true class, a p_j / (1 - p_y) on wrong class j, p the teacher's softmax of the group at temperature T;
`lsml_core.soft_targets`). `flat` head: L_g is the binary cross-entropy of group g's columns (one
sigmoid per label) against its one-hot labels smoothed by a multi-hot scheme (`lsml_core.smoothing`;
`instance` with the teacher's sigmoids of the group), summed over the group's K_g classes and averaged
over images:

    L_g = mean_i sum_k BCE(z_ik, t_ik)

so that a flat group weighs as much per image as a softmax group. At initialisation (logits near 0) the
softmax cross-entropy's gradient per image is p - y, of norm sqrt((1 - 1/K)^2 + (K - 1)/K^2) ~ 0.95 for
K = 10, and the summed BCE's is sigmoid(z) - t, of norm sqrt(K)/2 ~ 1.58; the mean over classes would
divide the latter by K (~ 0.16, a sixth of the softmax's), and SESEMI's fixed-weight loss would then weigh
six times more in a flat run than in a grouped one, confounding the comparison of the heads.

The dose of group g (`lsml_core.dose`, history column `dose_<group>`) is measured on the targets above: a
softmax group's 1 - t_y per image (0 for `none`, a (1 - 1/K_g) for `uniform`, a for `instance`), a flat
group's |t - y| per (image, class) pair.
"""

import torch
import torch.nn.functional as F

from lsml_core import dose
from lsml_core.grouped.config import TrainConfig
from lsml_core.grouped.models import group_logits, sesemi_logits
from lsml_core.smoothing import SCHEMES
from lsml_core.soft_targets import smoothed_targets, soft_cross_entropy, softmax_instance_targets


def softmax_group_loss(
    logits: torch.Tensor, labels: torch.Tensor, scheme: str, *, alpha: float, temperature: float, teacher
) -> torch.Tensor:
    """Cross-entropy of one softmax group with `none`, `uniform` or `instance` targets."""
    if scheme == "none":
        return F.cross_entropy(logits, labels)
    if scheme == "uniform":
        return F.cross_entropy(logits, labels, label_smoothing=alpha)
    return soft_cross_entropy(logits, softmax_instance_targets(labels, teacher, alpha, temperature))


def sigmoid_group_loss(logits: torch.Tensor, labels: torch.Tensor, scheme: str, alpha: float, teacher):
    """BCE of one group's sigmoid columns against its smoothed one-hot labels, summed over the group's classes
    and averaged over images (module doc: the per-image scale of a softmax group)."""
    onehot = F.one_hot(labels, logits.shape[1]).float()
    probs = torch.sigmoid(teacher.float()) if teacher is not None else None
    targets = SCHEMES[scheme].targets(onehot, alpha, probs)
    return F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none").sum(1).mean()


def softmax_group_targets(labels: torch.Tensor, k: int, scheme: str, *, alpha: float, temperature: float, teacher):
    """The distribution one softmax group trains towards (torch's `label_smoothing` uses the uniform one)."""
    if scheme == "none":
        return F.one_hot(labels, k).float()
    if scheme == "uniform":
        return smoothed_targets(labels, k, alpha)
    return softmax_instance_targets(labels, teacher, alpha, temperature)


@torch.no_grad()
def group_doses(
    labels: torch.Tensor,
    *,
    groups: tuple[str, ...],
    sizes: tuple[int, ...],
    train: TrainConfig,
    teacher_outputs: torch.Tensor | None = None,
) -> list[tuple]:
    """Per group, (sum of the moved target mass, number of decisions) of a batch of labels [B, G] (module doc)."""
    teachers = group_logits(teacher_outputs, sizes) if teacher_outputs is not None else [None] * len(groups)
    moved = []
    for g, (group, k) in enumerate(zip(groups, sizes)):
        scheme, teacher, y = train.scheme(group), teachers[g], labels[:, g]
        if train.head == "grouped":
            targets = softmax_group_targets(
                y, k, scheme, alpha=train.alpha, temperature=train.temperature, teacher=teacher
            )
            moved.append(dose.single_label_moved(targets, y))
        else:
            onehot = F.one_hot(y, k).float()
            probs = torch.sigmoid(teacher.float()) if teacher is not None else None
            moved.append(dose.multi_hot_moved(SCHEMES[scheme].targets(onehot, train.alpha, probs), onehot))
    return moved


def group_losses(
    outputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    groups: tuple[str, ...],
    sizes: tuple[int, ...],
    train: TrainConfig,
    teacher_outputs: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """L_g of every group (unweighted), from the network's outputs on labeled images [B, ...] and labels [B, G]."""
    teachers = group_logits(teacher_outputs, sizes) if teacher_outputs is not None else [None] * len(groups)
    losses = []
    for g, (group, logits) in enumerate(zip(groups, group_logits(outputs, sizes))):
        scheme, teacher = train.scheme(group), teachers[g]
        if train.head == "grouped":
            losses.append(
                softmax_group_loss(
                    logits, labels[:, g], scheme, alpha=train.alpha, temperature=train.temperature, teacher=teacher
                )
            )
        else:
            losses.append(sigmoid_group_loss(logits, labels[:, g], scheme, train.alpha, teacher))
    return losses


def loss_parts(
    outputs: torch.Tensor,
    labels: torch.Tensor,
    aux_labels: torch.Tensor,
    *,
    groups: tuple[str, ...],
    sizes: tuple[int, ...],
    train: TrainConfig,
    teacher_outputs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum_g w_g L_g + w_aux CE(SESEMI), its group part sum_g w_g L_g): the first len(labels) rows are
    labeled images, the rest SESEMI's. The group part is what the history's `train_group_loss` averages."""
    n = len(labels)
    losses = group_losses(outputs[:n], labels, groups=groups, sizes=sizes, train=train, teacher_outputs=teacher_outputs)
    groups_part = sum(train.weight(group) * value for group, value in zip(groups, losses))
    loss = groups_part
    if len(aux_labels):
        loss = loss + train.sesemi_weight * F.cross_entropy(sesemi_logits(outputs[n:], sizes), aux_labels)
    return loss, groups_part
