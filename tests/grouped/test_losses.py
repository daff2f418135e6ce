"""Grouped track losses, pseudo-labels and configuration: the weighted loss against its formula, per-group
smoothing (torch's and explicit targets agree), the flat sigmoid arm, threshold choice, run names."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lsml_core.grouped.config import DataConfig, Grid, Profile, TrainConfig
from lsml_core.grouped.losses import group_doses, group_losses, loss_parts
from lsml_core.grouped.metrics import group_probabilities, split_metrics
from lsml_core.grouped.pseudo import choose_threshold, confidence, pseudo_labels
from lsml_core.soft_targets import smoothed_targets, softmax_instance_targets

GROUPS, SIZES = ("digit", "item"), (10, 4)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    outputs = torch.randn(8 + 5, sum(SIZES) + 6, generator=g, requires_grad=True)
    labels = torch.stack([torch.randint(0, k, (8,), generator=g) for k in SIZES], 1)
    return outputs, labels, torch.randint(0, 6, (5,), generator=g)


def test_total_loss_is_the_weighted_sum_of_group_and_sesemi_losses(batch):
    outputs, labels, aux = batch
    train = TrainConfig(group_weights={"item": 5.0}, sesemi_weight=0.5)
    expected = (
        1.0 * F.cross_entropy(outputs[:8, :10], labels[:, 0])
        + 5.0 * F.cross_entropy(outputs[:8, 10:14], labels[:, 1])
        + 0.5 * F.cross_entropy(outputs[8:, 14:], aux)
    )
    torch.testing.assert_close(loss_parts(outputs, labels, aux, groups=GROUPS, sizes=SIZES, train=train)[0], expected)
    no_aux = loss_parts(outputs[:8], labels, aux[:0], groups=GROUPS, sizes=SIZES, train=train)[0]
    torch.testing.assert_close(no_aux, expected - 0.5 * F.cross_entropy(outputs[8:, 14:], aux))


def test_uniform_smoothing_of_one_group_equals_explicit_targets(batch):
    outputs, labels, _ = batch
    train = TrainConfig(smoothing={"item": "uniform"}, alpha=0.2)
    digit, item = group_losses(outputs[:8], labels, groups=GROUPS, sizes=SIZES, train=train)
    explicit = -(smoothed_targets(labels[:, 1], 4, 0.2) * F.log_softmax(outputs[:8, 10:14], 1)).sum(1).mean()
    torch.testing.assert_close(item, explicit)
    torch.testing.assert_close(digit, F.cross_entropy(outputs[:8, :10], labels[:, 0]))  # the other group unsmoothed
    grads = [torch.autograd.grad(loss, outputs)[0] for loss in (item, explicit)]
    torch.testing.assert_close(*grads)


def test_instance_smoothing_uses_each_groups_teacher_block(batch):
    outputs, labels, _ = batch
    teacher = torch.randn(8, sum(SIZES) + 6, generator=torch.Generator().manual_seed(1))
    train = TrainConfig(smoothing={"digit": "instance", "item": "instance"}, alpha=0.1, temperature=2.0, teacher="t")
    digit, item = group_losses(outputs[:8], labels, groups=GROUPS, sizes=SIZES, train=train, teacher_outputs=teacher)
    targets = softmax_instance_targets(labels[:, 1], teacher[:, 10:14], 0.1, 2.0)
    torch.testing.assert_close(item, -(targets * F.log_softmax(outputs[:8, 10:14], 1)).sum(1).mean())
    assert torch.allclose(targets.sum(1), torch.ones(8))


def test_flat_head_is_a_sigmoid_per_label_with_multi_hot_smoothing(batch):
    outputs, labels, _ = batch
    train = TrainConfig(head="flat", smoothing={"digit": "uniform"}, alpha=0.1)
    digit, item = group_losses(outputs[:8], labels, groups=GROUPS, sizes=SIZES, train=train)
    onehot = F.one_hot(labels[:, 0], 10).float()

    def summed_bce(logits, targets):  # summed over the group's classes, averaged over images
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(1).mean()

    torch.testing.assert_close(digit, summed_bce(outputs[:8, :10], onehot * 0.9 + 0.01))
    torch.testing.assert_close(item, summed_bce(outputs[:8, 10:14], F.one_hot(labels[:, 1], 4).float()))


def per_image_gradient_norms(head: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """||d L_digit / d z_i|| * N for each image i: the gradient one image's logits get, undone of the mean over
    images (the digit group alone, K = 10)."""
    outputs = torch.cat([logits, torch.zeros(len(logits), 4)], 1).requires_grad_(True)
    digit, _ = group_losses(
        outputs, torch.stack([labels, labels % 4], 1), groups=GROUPS, sizes=SIZES, train=TrainConfig(head=head)
    )
    (grad,) = torch.autograd.grad(digit, outputs)
    return grad[:, :10].norm(dim=1) * len(logits)


@pytest.mark.parametrize("scale", [0.0, 0.1])  # logits at initialisation: zero, or small random ones
def test_flat_and_softmax_groups_weigh_the_same_per_image(scale):
    # At z = 0, softmax CE's gradient p - y has norm sqrt(0.9^2 + 9 * 0.1^2) = 0.949 and the summed BCE's
    # sigmoid(z) - y has norm sqrt(10) / 2 = 1.581: a ratio of 1.67. A mean over the 10 classes would make it
    # 0.167, a sixth; the bound [1/2, 2] holds the two heads to the same order and fails the mean.
    g = torch.Generator().manual_seed(0)
    logits, labels = scale * torch.randn(64, 10, generator=g), torch.randint(0, 10, (64,), generator=g)
    softmax_norm = per_image_gradient_norms("grouped", logits, labels)
    flat_norm = per_image_gradient_norms("flat", logits, labels)
    ratio = (flat_norm / softmax_norm).mean().item()
    assert 0.5 <= ratio <= 2.0
    if scale == 0:
        assert softmax_norm[0].item() == pytest.approx((0.9**2 + 9 * 0.01) ** 0.5, rel=1e-5)
        assert ratio == pytest.approx(10**0.5 / 2 / (0.9**2 + 9 * 0.01) ** 0.5, rel=1e-5)
    mean_bce = F.binary_cross_entropy_with_logits(logits.requires_grad_(True), F.one_hot(labels, 10).float())
    (grad,) = torch.autograd.grad(mean_bce, logits)
    assert (grad.norm(dim=1) * len(logits) / softmax_norm).mean().item() < 0.5  # the old mean fails the bound


def test_group_probabilities_and_metrics():
    logits = np.array([[3.0, 0.0, 0.0, 2.0, -1.0, 0.0], [0.0, 3.0, 0.0, -1.0, 2.0, 0.0]])  # 2 groups of 3 (+0 aux)
    labels = np.array([[0, 0], [1, 0]])
    for head in ("grouped", "flat"):
        probs = group_probabilities(logits, (3, 3), head)
        assert all(np.allclose(p.sum(1), 1) for p in probs)
        metrics = split_metrics(labels, logits, ("a", "b"), (3, 3), head)
        assert metrics["accuracy_a"] == 1.0 and metrics["accuracy_b"] == 0.5 and metrics["exact_match"] == 0.5
        onehot = np.eye(3)[labels[:, 1]]
        assert metrics["brier_b"] == pytest.approx(((probs[1] - onehot) ** 2).sum(1).mean())


def test_threshold_is_the_lowest_confidence_reaching_the_precision():
    conf = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    right = np.array([1, 1, 0, 1, 0, 0], bool)
    assert choose_threshold(conf, right, 0.75) == 0.8  # top 4: 3 of 4 right
    assert choose_threshold(conf, right, 1.0) == 0.95
    assert choose_threshold(conf, ~right & False, 0.5) == float("inf")
    tied = np.array([0.9, 0.9, 0.5])
    assert choose_threshold(tied, np.array([1, 0, 0], bool), 0.6) == float("inf")  # a threshold keeps both ties


def test_threshold_needs_enough_validation_images():
    conf, right = np.array([0.9, 0.5, 0.4, 0.3]), np.array([1, 0, 0, 0], bool)
    assert choose_threshold(conf, right, 0.6) == 0.9  # one sure, right image sets it alone
    assert choose_threshold(conf, right, 0.6, min_count=2) == float("inf")
    conf, right = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 1, 0, 0], bool)
    assert choose_threshold(conf, right, 1.0, min_count=2) == 0.95  # two images, both right
    assert choose_threshold(conf, right, 0.75, min_count=4) == 0.8  # top 4: 3 of 4 right
    assert choose_threshold(conf, right, 0.75, min_count=5) == float("inf")  # top 5 or 6: below 0.75


def test_pseudo_labels_keep_confident_images_and_score_them():
    sure, unsure = np.array([[0.98, 0.01, 0.01]]), np.array([[0.4, 0.3, 0.3]])
    probs_val = [np.vstack([sure, sure, unsure])]
    labels_val = np.array([[0], [0], [1]])
    probs_unl = [np.vstack([sure, unsure, sure[:, [1, 0, 2]]])]
    record, keep, labels = pseudo_labels(probs_val, labels_val, probs_unl, np.array([[0], [0], [0]]), precision=0.9)
    assert keep.tolist() == [0, 2] and labels[:, 0].tolist() == [0, 1]
    assert record["fraction_kept"] == pytest.approx(2 / 3) and record["accuracy_of_kept"] == 0.5
    assert record["kept"] == 2 and record["kept_right"] == 1 and record["selection_count"] == 2
    none, keep, _ = pseudo_labels(
        probs_val, labels_val, probs_unl, np.array([[0], [0], [0]]), precision=0.9, min_count=3
    )
    assert none["threshold"] is None and none["kept"] == 0 and none["kept_right"] == 0 and not len(keep)
    assert none["selection_count"] == 0 and none["min_count"] == 3
    assert confidence([np.array([[0.5, 0.5]]), np.array([[0.2, 0.8]])])[0] == pytest.approx(0.4)


def test_run_names_phases_and_teachers():
    profile = Profile(
        name="p",
        data=DataConfig(),
        train=TrainConfig(group_weights={"item": 5}),
        grid=Grid(seeds=[0, 1], arms=[{}, {"sesemi": "none"}, {"smoothing": {"item": "instance"}}]),
    )
    runs = profile.runs()
    assert runs[0].name == "mobilenet_v2-grouped-aux_labeled-w1_5-nosmooth-pl-s0"
    taught = [r for r in runs if r.train.teacher]
    assert [r.train.teacher for r in taught] == [runs[0].name, runs[0].name.replace("-s0", "-s1")]
    assert runs[-1] in taught and runs[0].train.phase(1) == "plain" and runs[0].train.phase(6) == "pseudo"


@pytest.mark.parametrize(
    "arms, message",
    [
        ([{"sesemi": "none", "smoothing": {"item": "instance"}}], "learns from the teacher run .* not among"),
        ([{"colour": 1}], "unknown"),
        ([{"smoothing": {"letter": "uniform"}}], "label group"),
        ([{"smoothing": {"item": "binary"}}], "smoothing scheme"),
        ([{"seed": 3}], "grid.seeds"),
        ([{}, {"lr": 0.1}], "two different runs named"),
        ([{"group_weights": {"item": "five"}}], "must be a number >= 0"),
    ],
)
def test_bad_arms_are_refused(arms, message):
    with pytest.raises(ValueError, match=message):
        Profile(name="p", data=DataConfig(), train=TrainConfig(), grid=Grid(arms=arms))


@pytest.mark.parametrize("count", [0, 2.5, True, "50"])
def test_pseudo_min_count_must_be_a_positive_integer(count):
    with pytest.raises(ValueError, match="pseudo_min_count"):
        TrainConfig(pseudo_min_count=count)


def test_pseudo_min_count_must_fit_the_validation_images():
    with pytest.raises(ValueError, match="pseudo_min_count=50 exceeds n_selection=40"):
        Profile(name="p", data=DataConfig(n_selection=40), train=TrainConfig(), grid=Grid())
    Profile(
        name="p", data=DataConfig(n_selection=40), train=TrainConfig(pseudo=False), grid=Grid()
    )  # no threshold needed
    Profile(name="p", data=DataConfig(n_selection=40), train=TrainConfig(pseudo_min_count=40), grid=Grid())


def test_canvas_side_bounds_the_symbol_size():
    assert DataConfig(image_size=32, symbol_size=16).image_size == 32
    with pytest.raises(ValueError, match=r"\[8, image_size // 2 = 16\]"):
        DataConfig(image_size=32, symbol_size=17)


def test_group_doses_per_head_and_scheme(batch):
    outputs, labels, _ = batch
    n = len(labels)

    def doses(**train):
        teacher = outputs.detach()[:n] if "instance" in train.get("smoothing", {}).values() else None
        moved = group_doses(labels, groups=GROUPS, sizes=SIZES, train=TrainConfig(**train), teacher_outputs=teacher)
        return [float(mass) / float(decisions) for mass, decisions in moved]

    assert doses(smoothing={"item": "uniform"}, alpha=0.1) == pytest.approx([0.0, 0.1 * (1 - 1 / 4)])
    assert doses(smoothing={"digit": "instance"}, alpha=0.2, teacher="t") == pytest.approx([0.2, 0.0])
    flat = doses(head="flat", smoothing={"digit": "binary", "item": "uniform"}, alpha=0.1)
    assert flat == pytest.approx([0.1 / 2, 0.25 * 0.1 * (1 - 1 / 4) + 0.75 * 0.1 / 4])  # item: pi = 1/4
