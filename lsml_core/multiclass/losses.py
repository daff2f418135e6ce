"""Single-label losses: cross-entropy towards hard or smoothed targets (a smoothing `scheme`), and distillation.

A run's loss is `ce` (cross-entropy, with the targets of its scheme) or `kd` (a student distilled from a teacher).
With K classes, label y and degree a (`alpha`), the schemes (`lsml_core.soft_targets`):
- `none`: t = onehot(y), plain cross-entropy.
- `uniform`: t = (1 - a) onehot(y) + a / K, by torch's `CrossEntropyLoss(label_smoothing=a)`, or with
  `explicit_targets` by building t and taking the soft cross-entropy (the two ways the Keras/TensorFlow source
  contrasts; the same targets).
- `instance` (Maher & Kull): the true class gets 1 - a and wrong class j gets a p_j / (1 - p_y), p the teacher's
  softmax at temperature T.
The run's dose (`lsml_core.dose`) is 1 - t_y averaged over the training images: 0 for `none`, a (1 - 1/K) for
`uniform` either way, a for `instance`; a `kd` student records none (its soft targets are a teacher's).
The reports label the arms as Maher & Kull do: CE (`none`), LS (`uniform`), ILS (`instance`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lsml_core.soft_targets import smoothed_targets, soft_cross_entropy, softmax_instance_targets

LOSSES = ("ce", "kd")
STUDENT = "student"  # the arm of a distilled run in the tables


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
class Scheme:
    """A smoothing scheme of softmax targets: `targets(labels, teacher_logits, train config, K) -> [B, K]`, the
    distribution a `ce` run trains towards (on which its dose is measured); `arm`: its name in the report's
    tables; `needs_teacher`: its targets come from a teacher run's logits."""

    targets: Callable
    arm: str
    needs_teacher: bool = False


# The registry: a new scheme is one entry here (and its formula in the module docstring).
SCHEMES: dict[str, Scheme] = {
    "none": Scheme(lambda y, q, t, k: F.one_hot(y, k).float(), "CE"),
    "uniform": Scheme(lambda y, q, t, k: smoothed_targets(y, k, t.alpha), "LS"),
    "instance": Scheme(
        lambda y, q, t, k: softmax_instance_targets(y, q, t.alpha, t.temperature), "ILS", needs_teacher=True
    ),
}
EXPLICIT = " (explicit targets)"  # the arm of uniform smoothing by explicit targets: "LS (explicit targets)"
ARMS = (*(scheme.arm for scheme in SCHEMES.values()), SCHEMES["uniform"].arm + EXPLICIT, STUDENT)


def arm_of(train: Mapping) -> str:
    """The arm of a run's recipe (a config.json `train` section) in the tables: CE, LS, ILS, LS (explicit
    targets), or `student` for a distilled run."""
    if train["loss"] == "kd":
        return STUDENT
    return SCHEMES[train["scheme"]].arm + (EXPLICIT if train.get("explicit_targets") else "")


def needs_teacher(train) -> bool:
    """Whether a recipe learns from a teacher run: distillation, or a scheme whose targets come from one."""
    return train.loss == "kd" or SCHEMES[train.scheme].needs_teacher


def objective(train, n_classes: int) -> Callable:
    """The training loss of a run: `(logits, labels, teacher_logits or None) -> loss`."""
    if train.loss == "kd":
        return lambda z, y, q=None: distillation_loss(z, q, y, train.kd_weight, train.temperature)
    if train.scheme == "none":
        return lambda z, y, q=None: F.cross_entropy(z, y)
    if train.scheme == "uniform" and not train.explicit_targets:
        return lambda z, y, q=None: F.cross_entropy(z, y, label_smoothing=train.alpha)
    targets = SCHEMES[train.scheme].targets
    return lambda z, y, q=None: soft_cross_entropy(z, targets(y, q, train, n_classes))


def training_targets(train, n_classes: int) -> Callable | None:
    """The distribution a run trains towards: `(labels, teacher_logits or None) -> [B, K]`; None for distillation."""
    if train.loss == "kd":
        return None
    targets = SCHEMES[train.scheme].targets
    return lambda labels, teacher_logits=None: targets(labels, teacher_logits, train, n_classes)
