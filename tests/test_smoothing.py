"""Smoothing formulas, argument checks, and explicit smoothing = loss-based smoothing."""

import pytest
import torch

from lsml_core.smoothing import SCHEMES, smooth_targets

TARGETS = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])


@pytest.mark.parametrize(
    "scheme, positive, negative",
    [
        ("none", 1.0, 0.0),
        ("uniform", 1 - 0.2 + 0.2 / 4, 0.2 / 4),
        ("positive", 1 - 0.2, 0.0),
        ("binary", 1 - 0.2 / 2, 0.2 / 2),
        ("symmetric", 1 - 0.2, 0.2),
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
    with pytest.raises(ValueError, match="none, uniform, positive, binary, symmetric, instance"):
        smooth_targets(TARGETS, "label", 0.1)


def test_symmetric_refuses_alpha_that_swaps_positives_and_negatives():
    assert smooth_targets(TARGETS, "symmetric", 0.49)[0, 0] > smooth_targets(TARGETS, "symmetric", 0.49)[0, 1]
    with pytest.raises(ValueError, match=r"scheme 'symmetric': it must be a number in \[0, 0.5\)"):
        smooth_targets(TARGETS, "symmetric", 0.5)


@pytest.mark.parametrize("bad", [torch.tensor([[0.5, 1.0]]), torch.tensor([1.0, 0.0]), [[1, 0]]])
def test_targets_must_be_multi_hot(bad):
    with pytest.raises(ValueError, match="targets"):
        smooth_targets(bad, "uniform", 0.1)


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
