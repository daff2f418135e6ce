"""The multi-label losses: BCE, focal and asymmetric against their formulas (values and gradients), smoothing
inside the loss equal to smoothing outside, masks."""

import pytest
import torch
from timm.loss import AsymmetricLossMultiLabel
from torchvision.ops import sigmoid_focal_loss

from lsml_core.multilabel.losses import LOSSES, MultiLabelLoss
from lsml_core.smoothing import SCHEMES, masked_bce_with_logits, smooth_targets


def batch(seed=0, n=6, c=5):
    torch.manual_seed(seed)
    targets = (torch.rand(n, c) > 0.6).float()
    return targets, torch.randn(n, c) * 3, (torch.rand(n, c) > 0.2).float(), torch.rand(n, c)


def focal_formula(z, y, a=0.25, g=2.0):
    """Lin et al.'s focal loss per pair, written out."""
    p = torch.sigmoid(z)
    p_t = p * y + (1 - p) * (1 - y)
    a_t = a * y + (1 - a) * (1 - y)
    return -a_t * (1 - p_t) ** g * (y * torch.log(p) + (1 - y) * torch.log(1 - p))


def asymmetric_formula(z, y, g_pos=0.0, g_neg=4.0, m=0.05):
    """Ridnik et al.'s ASL per pair for hard targets, written out."""
    p = torch.sigmoid(z)
    p_m = (p - m).clamp_min(0)
    return -(y * (1 - p) ** g_pos * torch.log(p) + (1 - y) * p_m**g_neg * torch.log(1 - p_m))


def bce_formula(z, y):
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


@pytest.mark.parametrize(
    "loss, formula", [("bce", bce_formula), ("focal", focal_formula), ("asymmetric", asymmetric_formula)]
)
def test_loss_and_gradient_equal_the_formula_on_hard_targets(loss, formula):
    targets, logits, mask, _ = batch()
    ours_z = logits.clone().requires_grad_(True)
    theirs_z = logits.double().clone().requires_grad_(True)
    ours = MultiLabelLoss(loss)(ours_z, targets, mask)
    expected = (formula(theirs_z, targets.double()) * mask).sum() / mask.sum()
    ours.backward()
    expected.backward()
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(ours_z.grad.double(), theirs_z.grad, rtol=1e-4, atol=1e-7)


def test_focal_with_gamma_zero_and_alpha_half_is_half_bce():
    targets, logits, _, _ = batch(1)
    half_bce = 0.5 * torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    assert torch.allclose(sigmoid_focal_loss(logits, targets, alpha=0.5, gamma=0.0, reduction="none"), half_bce)


def test_asymmetric_is_timm_with_the_papers_defaults():
    targets, logits, _, _ = batch(2)
    smoothed = smooth_targets(targets, "uniform", 0.1)
    reference = AsymmetricLossMultiLabel(gamma_neg=4, gamma_pos=0, clip=0.05, reduction="mean")(logits, smoothed)
    assert torch.allclose(LOSSES["asymmetric"](logits, smoothed).mean(), reference)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_smoothing_inside_the_loss_equals_smoothing_outside(loss, scheme):
    targets, logits, mask, teacher = batch(3)
    inside = MultiLabelLoss(loss, scheme, 0.1)(logits, targets, mask, teacher)
    outside = LOSSES[loss](logits, smooth_targets(targets, scheme, 0.1, teacher))
    assert torch.allclose(inside, (outside * mask).sum() / mask.sum())


def test_bce_is_the_masked_evaluation_bce_and_ignores_masked_pairs():
    targets, logits, mask, _ = batch(4)
    assert torch.equal(MultiLabelLoss("bce")(logits, targets, mask), masked_bce_with_logits(logits, targets, mask))
    expected = torch.nn.BCEWithLogitsLoss()(logits[mask > 0], targets[mask > 0])
    assert torch.allclose(MultiLabelLoss("bce")(logits, targets, mask), expected)


def test_unknown_loss_and_soft_targets_are_refused():
    with pytest.raises(ValueError, match="unknown loss 'hinge': choose one of bce, focal, asymmetric"):
        MultiLabelLoss("hinge")
    with pytest.raises(ValueError, match="multi-hot"):
        MultiLabelLoss("focal")(torch.zeros(2, 2), torch.full((2, 2), 0.5))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_loss_scores_the_targets_the_dose_is_measured_on(scheme):
    targets, logits, mask, teacher = batch(5)
    criterion = MultiLabelLoss("bce", scheme, 0.1)
    assert torch.equal(criterion.targets(targets, teacher), smooth_targets(targets, scheme, 0.1, teacher))
    scored = masked_bce_with_logits(logits, criterion.targets(targets, teacher), mask)
    assert torch.allclose(criterion(logits, targets, mask, teacher), scored)
