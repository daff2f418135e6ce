"""Single-label losses: LS two ways agree, instance targets' limits, the distillation loss against its formula."""

import re

import pytest
import torch
import torch.nn.functional as F

from lsml_core import dose
from lsml_core.multiclass.config import TrainConfig
from lsml_core.multiclass.losses import distillation_loss, objective, training_targets
from lsml_core.soft_targets import smoothed_targets, soft_cross_entropy, softmax_instance_targets

K = 5


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    return (
        torch.randn(8, K, generator=generator),
        torch.randint(0, K, (8,), generator=generator),
        torch.randn(8, K, generator=generator) * 3,
    )


def test_torch_label_smoothing_equals_explicit_targets_loss_and_gradients(batch):
    logits, labels, _ = batch
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    torch_loss = F.cross_entropy(a, labels, label_smoothing=0.1)
    explicit = soft_cross_entropy(b, smoothed_targets(labels, K, 0.1))
    torch_loss.backward()
    explicit.backward()
    torch.testing.assert_close(torch_loss, explicit)
    torch.testing.assert_close(a.grad, b.grad)
    ls, explicit = (
        objective(TrainConfig(scheme="uniform", alpha=0.1, explicit_targets=way), K) for way in (False, True)
    )
    assert ls(logits, labels) == pytest.approx(explicit(logits, labels).item(), abs=1e-6)


def test_smoothed_targets_values():
    targets = smoothed_targets(torch.tensor([1]), K, 0.1)[0]
    assert targets[1].item() == pytest.approx(0.9 + 0.1 / K) and targets[0].item() == pytest.approx(0.1 / K)


def test_instance_targets_sum_to_one_and_put_one_minus_e_on_the_true_class(batch):
    _, labels, teacher = batch
    targets = softmax_instance_targets(labels, teacher, 0.15, 2.0)
    torch.testing.assert_close(targets.sum(1), torch.ones(8))
    torch.testing.assert_close(targets[torch.arange(8), labels], torch.full((8,), 0.85))
    assert (targets >= 0).all()


def test_instance_targets_formula(batch):
    _, labels, teacher = batch
    p = torch.softmax(teacher / 2.0, dim=1)
    targets = softmax_instance_targets(labels, teacher, 0.1, 2.0)
    for i, y in enumerate(labels.tolist()):
        for j in range(K):
            if j != y:
                assert targets[i, j].item() == pytest.approx(0.1 * p[i, j].item() / (1 - p[i, y].item()), rel=1e-5)


def test_instance_targets_limits(batch):
    _, labels, teacher = batch
    torch.testing.assert_close(softmax_instance_targets(labels, teacher, 0.0, 1.0), F.one_hot(labels, K).float())
    uniform = softmax_instance_targets(labels, torch.zeros(8, K), 0.1, 1.0)
    expected = F.one_hot(labels, K).float() * 0.9 + (1 - F.one_hot(labels, K).float()) * 0.1 / (K - 1)
    torch.testing.assert_close(uniform, expected)
    # A uniform teacher gives e/(K-1) per wrong class; torch's label_smoothing=e' gives e'/K to every class,
    # so the two coincide exactly when e' = e K / (K - 1).
    torch.testing.assert_close(uniform, smoothed_targets(labels, K, 0.1 * K / (K - 1)))


def test_instance_targets_stay_finite_for_an_overconfident_teacher():
    labels = torch.tensor([0])
    targets = softmax_instance_targets(labels, torch.tensor([[200.0, 0.0, 1.0, 0.0, 0.0]]), 0.1, 1.0)
    assert torch.isfinite(targets).all() and targets.sum().item() == pytest.approx(1.0)


def test_distillation_loss_against_direct_formula(batch):
    student, labels, teacher = batch
    weight, temperature = 0.9, 20.0
    q = torch.softmax(teacher / temperature, 1)
    log_p = torch.log_softmax(student / temperature, 1)
    kl = (q * (q.log() - log_p)).sum(1).mean()
    ce = -torch.log_softmax(student, 1)[torch.arange(8), labels].mean()
    expected = weight * temperature**2 * kl + (1 - weight) * ce
    torch.testing.assert_close(distillation_loss(student, teacher, labels, weight, temperature), expected)
    assert distillation_loss(teacher, teacher, labels, 1.0, temperature).item() == pytest.approx(0.0, abs=1e-5)


def test_distillation_gradient_is_hintons(batch):
    # Hinton et al.: d(soft term)/dz = (T / B) (softmax(z/T) - softmax(v/T)) with the T^2 factor; this pins
    # the KL direction (teacher first) independently of the formula above
    student, labels, teacher = batch
    weight, temperature = 0.7, 4.0
    student = student.clone().requires_grad_(True)
    distillation_loss(student, teacher, labels, weight, temperature).backward()
    p, q = torch.softmax(student.detach() / temperature, 1), torch.softmax(teacher / temperature, 1)
    hard = torch.softmax(student.detach(), 1) - F.one_hot(labels, K)
    expected = (weight * temperature * (p - q) + (1 - weight) * hard) / len(labels)
    torch.testing.assert_close(student.grad, expected)


@pytest.mark.parametrize("explicit", [False, True])
def test_both_ways_of_label_smoothing_record_the_dose_a_times_one_minus_one_over_k(batch, explicit):
    _, labels, _ = batch
    targets = training_targets(TrainConfig(scheme="uniform", alpha=0.1, explicit_targets=explicit), K)(labels)
    assert dose.single_label_moved(targets, labels)[0] / len(labels) == pytest.approx(0.1 * (1 - 1 / K))


def test_no_smoothing_records_no_dose_instance_its_alpha_and_a_student_none(batch):
    _, labels, teacher = batch
    ce = training_targets(TrainConfig(loss="ce"), K)(labels)
    assert dose.single_label_moved(ce, labels)[0].item() == 0
    ils = training_targets(TrainConfig(scheme="instance", alpha=0.15, teacher="t"), K)(labels, teacher)
    assert dose.single_label_moved(ils, labels)[0] / len(labels) == pytest.approx(0.15)
    assert training_targets(TrainConfig(loss="kd", teacher="t"), K) is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({"loss": "ls", "alpha": 0.1}, "loss 'ls' was replaced: write `loss: ce, scheme: uniform`"),
        ({"loss": "ils", "alpha": 0.1}, "loss 'ils' was replaced: write `loss: ce, scheme: instance`"),
        ({"loss": "ls_targets"}, "write `loss: ce, scheme: uniform, explicit_targets: true`"),
        ({"scheme": "instance", "explicit_targets": True, "teacher": "t"}, "only uniform smoothing has two ways"),
        ({"loss": "kd", "scheme": "uniform", "teacher": "t"}, "a student learns a teacher's targets"),
        ({"scheme": "uniform", "teacher": "t"}, "exactly the runs of loss kd and of scheme instance learn from a"),
        ({"scheme": "label"}, "unknown scheme 'label': choose one of none, uniform, instance"),
    ],
)
def test_a_loss_or_scheme_of_an_earlier_version_or_a_wrong_pair_is_refused_naming_the_fix(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**values)
