"""Smoothing formulas, argument checks, and explicit smoothing = loss-based smoothing."""

import pytest
import torch

from lsml_core.smoothing import SCHEMES, SmoothedBCEWithLogitsLoss, masked_bce_with_logits, smooth_targets

TARGETS = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])


@pytest.mark.parametrize(
    "scheme, positive, negative",
    [
        ("none", 1.0, 0.0),
        ("uniform", 1 - 0.2 + 0.2 / 4, 0.2 / 4),
        ("positive", 1 - 0.2, 0.0),
    ],
)
def test_formulas(scheme, positive, negative):
    smoothed = smooth_targets(TARGETS, scheme, 0.2)
    assert torch.allclose(smoothed[TARGETS == 1], torch.tensor(positive))
    assert torch.allclose(smoothed[TARGETS == 0], torch.tensor(negative))


def test_uniform_divides_by_classes_not_batch():
    # The original batch-level helper divided by the batch size; a 2-image batch must give alpha / n_classes.
    assert smooth_targets(TARGETS, "uniform", 0.1)[0, 1].item() == pytest.approx(0.1 / 4)


def test_alpha_zero_is_identity():
    for scheme in SCHEMES:
        assert torch.equal(smooth_targets(TARGETS, scheme, 0.0, torch.rand(TARGETS.shape)), TARGETS)


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5, float("nan"), "0.1"])
def test_alpha_out_of_range(alpha):
    with pytest.raises(ValueError, match="alpha"):
        smooth_targets(TARGETS, "uniform", alpha)


def test_unknown_scheme_names_allowed():
    with pytest.raises(ValueError, match="none, uniform, positive, binary, instance"):
        smooth_targets(TARGETS, "label", 0.1)
    with pytest.raises(ValueError, match="unknown smoothing scheme"):
        SmoothedBCEWithLogitsLoss("keras", 0.1)


@pytest.mark.parametrize("bad", [torch.tensor([[0.5, 1.0]]), torch.tensor([1.0, 0.0]), [[1, 0]]])
def test_targets_must_be_multi_hot(bad):
    with pytest.raises(ValueError, match="targets"):
        smooth_targets(bad, "uniform", 0.1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_explicit_equals_loss_based(scheme):
    torch.manual_seed(0)
    targets = (torch.rand(6, 5) > 0.6).float()
    mask = (torch.rand(6, 5) > 0.2).float()
    logits_a = torch.randn(6, 5, requires_grad=True)
    logits_b = logits_a.detach().clone().requires_grad_(True)
    teacher = torch.rand(6, 5)
    explicit = masked_bce_with_logits(logits_a, smooth_targets(targets, scheme, 0.1, teacher), mask)
    loss_based = SmoothedBCEWithLogitsLoss(scheme, 0.1)(logits_b, targets, mask, teacher)
    explicit.backward()
    loss_based.backward()
    assert torch.allclose(explicit, loss_based)
    assert torch.allclose(logits_a.grad, logits_b.grad)


def test_loss_matches_torch_bce_and_ignores_masked_pairs():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    full = torch.nn.BCEWithLogitsLoss()(logits, smooth_targets(targets, "uniform", 0.1))
    assert torch.allclose(SmoothedBCEWithLogitsLoss("uniform", 0.1)(logits, targets), full)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    masked = SmoothedBCEWithLogitsLoss("none")(logits, targets, mask)
    expected = torch.nn.BCEWithLogitsLoss()(logits[mask > 0], targets[mask > 0])
    assert torch.allclose(masked, expected)


def test_binary_is_keras_convention():
    smoothed = smooth_targets(TARGETS, "binary", 0.2)
    assert torch.allclose(smoothed[TARGETS == 1], torch.tensor(0.9))
    assert torch.allclose(smoothed[TARGETS == 0], torch.tensor(0.1))


def test_instance_conserves_the_uniform_mass_per_image():
    torch.manual_seed(1)
    targets = (torch.rand(8, 6) > 0.6).float()
    teacher = torch.rand(8, 6)
    instance = smooth_targets(targets, "instance", 0.3, teacher)
    uniform = smooth_targets(targets, "uniform", 0.3)
    assert torch.allclose(instance.sum(dim=1), uniform.sum(dim=1))
    assert torch.allclose(instance[targets == 1], uniform[targets == 1])
    negatives = instance * (1 - targets)
    expected = (
        (0.3 * (1 - targets).sum(1, keepdim=True) / 6)
        * teacher
        * (1 - targets)
        / (teacher * (1 - targets)).sum(1, keepdim=True)
    )
    assert torch.allclose(negatives, expected)


def test_instance_with_a_uniform_teacher_is_uniform():
    teacher = torch.full(TARGETS.shape, 0.37)
    assert torch.allclose(smooth_targets(TARGETS, "instance", 0.1, teacher), smooth_targets(TARGETS, "uniform", 0.1))


def test_instance_needs_a_teacher():
    with pytest.raises(ValueError, match="teacher probabilities"):
        smooth_targets(TARGETS, "instance", 0.1)
