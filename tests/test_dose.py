"""The dose of every multi-hot scheme and of single-label smoothing against hand computations, the epoch meter,
the run's dose from its history, and the generated sentence in its three cases."""

import pandas as pd
import pytest
import torch

from lsml_core import dose
from lsml_core.smoothing import smooth_targets
from lsml_core.soft_targets import smoothed_targets, softmax_instance_targets

K, ALPHA = 10, 0.1


def known_targets() -> torch.Tensor:
    """4 images x 10 classes, 8 of the 40 pairs positive: pi = 0.2."""
    y = torch.zeros(4, K)
    y[0, :3] = y[1, 3] = y[2, [4, 5]] = y[3, 9] = 1
    y[3, 8] = 1
    return y


def multi_hot_dose(scheme: str, mask=None, teacher=None) -> float:
    y = known_targets()
    meter = dose.Meter()
    meter.add(*dose.multi_hot_moved(smooth_targets(y, scheme, ALPHA, teacher), y, mask))
    return meter.value()


@pytest.mark.parametrize(
    "scheme, by_hand",
    [
        ("none", 0.0),
        ("uniform", 0.2 * ALPHA * (1 - 1 / K) + 0.8 * ALPHA / K),
        ("positive", 0.2 * ALPHA),
        ("binary", ALPHA / 2),
        ("symmetric", ALPHA),
    ],
)
def test_multi_hot_dose_matches_the_hand_computation(scheme, by_hand):
    assert multi_hot_dose(scheme) == pytest.approx(by_hand, abs=1e-7)


def test_a_uniform_teacher_gives_instance_smoothing_the_uniform_dose_and_a_mask_drops_pairs():
    assert multi_hot_dose("instance", teacher=torch.full((4, K), 0.3)) == pytest.approx(multi_hot_dose("uniform"))
    mask = torch.ones(4, K)
    mask[:, 5:] = 0  # 20 pairs kept, 5 of them positive
    assert multi_hot_dose("symmetric", mask) == pytest.approx(ALPHA)
    assert multi_hot_dose("positive", mask) == pytest.approx(5 / 20 * ALPHA)


def test_single_label_dose_is_the_mass_moved_off_the_true_class():
    labels = torch.tensor([0, 3, 9, 3, 1])
    uniform = smoothed_targets(labels, K, ALPHA)
    assert dose.single_label_moved(uniform, labels)[0] / len(labels) == pytest.approx(ALPHA * (1 - 1 / K))
    half_l1 = (uniform - torch.nn.functional.one_hot(labels, K)).abs().sum(1).mean() / 2
    assert dose.single_label_moved(uniform, labels)[0] / len(labels) == pytest.approx(float(half_l1))
    instance = softmax_instance_targets(labels, torch.randn(5, K), ALPHA, 2.0)
    assert dose.single_label_moved(instance, labels)[0] / len(labels) == pytest.approx(ALPHA)


def test_the_meter_weighs_batches_by_their_decisions():
    meter = dose.Meter()
    meter.add(torch.tensor(1.0), 10)
    meter.add(torch.tensor(3.0), torch.tensor(10.0))
    assert meter.value() == pytest.approx(0.2)
    assert dose.Meter().value() != dose.Meter().value()  # NaN: no batch seen


def test_the_run_dose_is_none_where_an_epoch_did_not_record_it():
    assert dose.from_history(pd.DataFrame({"dose": [0.1, 0.3]})) == pytest.approx(0.2)
    assert dose.from_history(pd.DataFrame({"train_loss": [1.0]})) is None
    assert dose.from_history(pd.DataFrame({"dose": [None, 0.3]})) is None  # resumed from an older revision
    history = pd.DataFrame({"dose_digit": [0.0, 0.0], "dose_item": [0.09, 0.09]})
    assert dose.group_doses(history, ("digit", "item")) == pytest.approx({"digit": 0.0, "item": 0.09})
    assert dose.group_doses(pd.DataFrame({"x": [1]}), ("digit",)) is None
    assert dose.mean_recorded([0.1, 0.2]) == pytest.approx(0.15) and dose.mean_recorded([0.1, None]) is None


def test_the_sentence_in_its_three_cases_and_without_a_record():
    below = dose.sentence("uniform a=0.1", 0.025, 0.076)
    assert below == "uniform a=0.1: dose 0.025, below the baseline's overconfidence 0.076: room to calibrate."
    above = dose.sentence("symmetric a=0.1", 0.1, 0.076)
    assert "dose 0.100, at or above the baseline's overconfidence 0.076: expect underconfidence" in above
    flat = dose.sentence("uniform a=0.1", 0.025, 0.004)
    assert "the baseline is not overconfident (gap +0.004): any dose pushes it toward underconfidence" in flat
    assert "dose not recorded" in dose.sentence("uniform a=0.1", None, 0.076)
    assert "confidence gap is not recorded" in dose.sentence("uniform a=0.1", 0.025, None)
