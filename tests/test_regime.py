"""The regime diagnostic against its formulas, and the sentences it generates."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax

from lsml_core import regime


def test_top_label_gap_is_mean_max_softmax_minus_accuracy():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(50, 4)) * 3, rng.integers(0, 4, 50)
    p = softmax(logits, axis=1)
    expected = np.mean([p[i].max() for i in range(50)]) - np.mean([p[i].argmax() == labels[i] for i in range(50)])
    assert regime.top_label_gap(p, labels) == pytest.approx(expected)


def test_top_label_gap_of_a_certain_wrong_model_is_one():
    assert regime.top_label_gap(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(1.0)


def test_binary_gaps_by_hand_with_a_mask():
    targets = np.array([[1, 0], [0, 1]], dtype=float)
    logits = np.array([[2.0, -1.0], [0.5, 7.0]])
    mask = np.array([[1, 1], [1, 0]], dtype=float)  # the last pair is left out
    p = expit(np.array([2.0, -1.0, 0.5]))
    confidence = np.maximum(p, 1 - p)
    correct = np.array([1.0, 1.0, 0.0])  # 0.5 -> sigmoid > 0.5 predicts 1 for a negative: wrong
    gaps = regime.binary_gaps(targets, logits, mask)
    assert gaps["all"] == pytest.approx(confidence.mean() - correct.mean())
    assert gaps["positives"] == pytest.approx(confidence[0] - 1.0)
    assert gaps["negatives"] == pytest.approx(confidence[1:].mean() - correct[1:].mean())


def test_binary_gaps_without_positives_are_nan():
    gaps = regime.binary_gaps(np.zeros((2, 2)), np.zeros((2, 2)))
    assert np.isnan(gaps["positives"]) and gaps["negatives"] == pytest.approx(0.5 - 0.0)  # p = 0.5 predicts 1: wrong


def history(train, selection) -> pd.DataFrame:
    return pd.DataFrame({"train_loss": train, "selection_loss": selection})


def test_training_trend_of_a_converged_overfitting_run():
    train = [1.0, 0.5, 0.3, 0.2, 0.15, 0.12, 0.11, 0.105, 0.1, 0.1]
    selection = [0.9, 0.6, 0.5, 0.45, 0.44, 0.45, 0.47, 0.5, 0.52, 0.53]
    trend = regime.training_trend(history(train, selection), "train_loss", "selection_loss")
    # the last fifth (2 epochs) holds (0.105 - 0.1) / 0.9 of the fall
    assert trend["late_share_of_fall"] == pytest.approx(0.005 / 0.9)
    assert not trend["train_still_falling"]
    assert trend["selection_loss_rising"] and trend["selection_loss_min_epoch"] == 5
    assert trend["loss_gap"] == pytest.approx(0.43)


def test_training_trend_of_an_underfitted_run():
    trend = regime.training_trend(history([1.0, 0.8, 0.6, 0.45], [0.9, 0.8, 0.7, 0.6]), "train_loss", "selection_loss")
    assert trend["train_still_falling"] and not trend["selection_loss_rising"]


def run_record(
    gap: float, falling: bool, rising: bool, value: float = 0.8, chance: float = 0.1, fitted: float = 0.0
) -> dict:
    """A record whose training loss still fell at a high rate when `falling`, whose selection loss rose 10% from
    its minimum when `rising`, with training accuracy `fitted` above the selection split's 0.8."""
    trend = {
        "epochs": 40,
        "loss_gap": 0.3,
        "train_still_falling": False,
        "selection_loss": 0.55 if rising else 0.5,
        "selection_loss_min": 0.5,
        "selection_loss_min_epoch": 20 if rising else 40,
        "selection_loss_rising": rising,
        "high_rate_epochs": 20,
        "falling_at_high_rate": falling,
        "fitted_scores": {"accuracy": {"fitted": 0.8 + fitted, "selection": 0.8}},
        "fitted_gap": fitted,
    }
    return regime.record(
        selection_split="selection",
        gaps={"selection": {"all": gap, "positives": 0.1, "negatives": 0.0}},
        trend=trend,
        scores={"mAP": {"value": value, "chance": chance}},
    )


def test_an_overconfident_converged_baseline_reads_the_regime_of_the_claims():
    summary = regime.summarise([run_record(0.05, False, True), run_record(0.03, False, False, fitted=0.1)])
    assert summary["gap"] == pytest.approx(0.04) and regime.label(summary) == "overconfident"
    assert summary["converged"] == 2 and regime.kind(summary) == "overconfident"
    sentence = regime.reading(summary, "BCE")
    assert "overconfident on the selection split by 0.040" in sentence
    assert "its selection loss up 10% from its minimum at epoch 20 (1 of 2 runs)" in sentence
    assert "training accuracy 0.85 against 0.80 on the selection split, so converged" in sentence
    assert "the regime of the published claims" in sentence


def test_an_overconfident_baseline_without_a_signal_is_not_the_regime_of_the_claims():
    summary = regime.summarise([run_record(0.05, False, True), run_record(0.05, False, False, fitted=0.01)])
    sentence = regime.reading(summary, "BCE")
    assert "not shown converged (1 of 2 runs converged)" in sentence
    assert "the regime of the published claims" not in sentence and "though not shown converged" in sentence
    assert regime.kind(summary) == regime.UNCONVERGED
    assert "not shown converged" in regime.conclusion_caveat(["overconfident", regime.UNCONVERGED])
    assert regime.axis(False, [summary]) == "from scratch, underfitted"


def test_an_underconfident_falling_baseline_reads_underfitted():
    sentence = regime.reading(regime.summarise([run_record(-0.03, True, False)]), "CE")
    assert "underconfident" in sentence and "still falling at epoch 20" in sentence
    assert "an underfitted regime" in sentence and "not tested here" in sentence


def test_a_small_gap_reads_calibrated_and_chance_overrides_everything():
    assert regime.label(regime.summarise([run_record(0.005, False, False)])) == "calibrated"
    at_chance = regime.summarise([run_record(0.2, False, True, value=0.105, chance=0.1)])
    assert regime.label(at_chance) == "chance"
    assert "at chance level" in regime.reading(at_chance, "control")


def test_group_gaps_take_the_largest_magnitude():
    assert regime.headline_gap({"digit": 0.02, "item": -0.05}) == -0.05
    assert regime.headline_gap({"all": 0.01, "positives": 0.3}) == 0.01


def test_conclusion_caveat_follows_the_regimes():
    assert "regime of the published claims" in regime.conclusion_caveat(["overconfident", "overconfident"])
    assert "not overconfident" in regime.conclusion_caveat(["overconfident", "underconfident"])
    assert "chance level" in regime.conclusion_caveat(["chance"])


def write_run(profile_dir, name: str, config: dict, metrics: dict) -> None:
    run_dir = profile_dir / "runs" / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_profile_readings_group_the_baselines_and_name_unrecorded_ones(tmp_path):
    write_run(tmp_path, "a-s0", {"model": "a", "base": True}, {"splits": {}, "regime": run_record(0.05, False, True)})
    write_run(tmp_path, "a-s1", {"model": "a", "base": True}, {"splits": {}, "regime": run_record(0.03, False, True)})
    write_run(tmp_path, "a-arm", {"model": "a", "base": False}, {"splits": {}, "regime": run_record(-0.5, True, False)})
    write_run(tmp_path, "b-s0", {"model": "b", "base": True}, {"splits": {}})  # evaluated before the diagnostic

    readings = regime.profile_readings(tmp_path, lambda c: c["model"] if c["base"] else None)
    assert [kind for kind, _ in readings] == ["overconfident", "unrecorded"]  # both runs' selection loss rose
    assert "by 0.040" in readings[0][1] and "--force" in readings[1][1]
    assert "not recorded" in regime.conclusion_caveat([kind for kind, _ in readings])


def test_a_diverged_baseline_reads_invalid_not_underconfident():
    """NaN gaps or losses (a diverged run) are no regime: the sentence and the caveat say so."""
    trend = regime.training_trend(pd.DataFrame({"t": [1.0, np.nan], "s": [1.0, np.nan]}), "t", "s")
    rec = regime.record(selection_split="val", gaps={"val": float("nan")}, trend=trend, scores={})
    summary = regime.summarise([rec])
    assert regime.label(summary) == "invalid"
    assert "not finite" in regime.reading(summary, "CE") and "underconfident" not in regime.reading(summary, "CE")
    assert "diverged" in regime.conclusion_caveat(["overconfident", "invalid"])


def test_a_training_loss_that_rose_is_not_read_as_still_falling():
    trend = regime.training_trend(pd.DataFrame({"t": [0.5, 0.4, 0.6], "s": [0.5, 0.5, 0.5]}), "t", "s")
    assert trend["train_not_decreasing"] and trend["train_still_falling"]  # not converged either way
    rec = regime.record(selection_split="val", gaps={"val": 0.05}, trend=trend, scores={})
    sentence = regime.reading(regime.summarise([rec]), "BCE")
    assert "no lower after 3 epochs than after the first" in sentence and "still falling" not in sentence


def test_without_a_baseline_the_caveat_says_the_regime_is_unknown():
    assert "not known" in regime.conclusion_caveat([])
    assert "not known" in regime.conclusion_caveat(["unknown"])


def cosine(epochs: int, peak: float = 0.1) -> np.ndarray:
    """The learning rate of each epoch of a cosine schedule to zero, as history.csv records it."""
    return peak * 0.5 * (1 + np.cos(np.pi * np.arange(epochs) / epochs))


def decayed() -> pd.DataFrame:
    """21 epochs whose training loss falls in step with a cosine rate: flat at the end only because the rate is."""
    rate = cosine(21)
    train = 1.0 - 0.4 * np.cumsum(rate)
    return pd.DataFrame(
        {"train_loss": train, "val_loss": train + 0.05, "lr": rate, "train_accuracy": 0.6, "val_accuracy": 0.58}
    )


SCORES = {"accuracy": ("train_accuracy", "val_accuracy")}


def test_a_loss_flat_only_because_the_rate_decayed_is_not_converged():
    history = decayed()
    trend = regime.training_trend(history, "train_loss", "val_loss", SCORES)
    assert not trend["train_still_falling"]  # flat by the last fifth's rule...
    assert trend["high_rate_epochs"] == 11 and trend["falling_at_high_rate"]  # ...but still falling at half the peak
    train = history.train_loss.to_numpy()
    assert trend["high_rate_share_of_fall"] == pytest.approx((train[0] - train[10]) / (train[0] - train[-1]))
    assert trend["converged"] is False
    rec = regime.record(selection_split="val", gaps={"val": 0.05}, trend=trend, scores={})
    summary = regime.summarise([rec])
    sentence = regime.reading(summary, "CE")
    assert "still falling at epoch 11, the last at 50% or more of its peak learning rate" in sentence
    assert "so not converged" in sentence and "published claims" not in sentence
    assert regime.axis(False, [summary]) == "from scratch, underfitted"


def plateau(rising: bool = False, fitted: float = 0.6) -> pd.DataFrame:
    """20 epochs whose training loss flattens at the peak rate (a step schedule drops it at epoch 15)."""
    epochs = np.arange(20)
    train = 0.2 + 0.8 * np.exp(-epochs / 1.5)
    selection = 0.5 + 0.02 * np.abs(epochs - 9) if rising else np.full(20, 0.5)  # rising: lowest at epoch 10
    rate = np.where(np.arange(20) < 15, 0.1, 0.01)
    return pd.DataFrame(
        {"train_loss": train, "val_loss": selection, "lr": rate, "train_accuracy": fitted, "val_accuracy": 0.58}
    )


def test_a_selection_loss_rising_from_its_minimum_reads_converged():
    trend = regime.training_trend(plateau(rising=True), "train_loss", "val_loss", SCORES)
    assert not trend["falling_at_high_rate"] and trend["selection_loss_rising"] and trend["converged"]
    assert trend["selection_loss_rise"] == pytest.approx(0.2 / 0.5)
    summary = regime.summarise([regime.record(selection_split="val", gaps={"val": 0.05}, trend=trend, scores={})])
    sentence = regime.reading(summary, "CE")
    assert "its val loss up 40% from its minimum at epoch 10" in sentence and "so converged" in sentence
    assert sentence.endswith("the regime of the published claims.")
    assert regime.axis(False, [summary]) == "from scratch, converged"


def test_a_large_fitted_gap_reads_converged_and_a_small_one_does_not():
    trend = regime.training_trend(plateau(fitted=0.99), "train_loss", "val_loss", SCORES)
    assert trend["fitted_gap"] == pytest.approx(0.99 - 0.58) and trend["converged"]
    summary = regime.summarise([regime.record(selection_split="val", gaps={"val": 0.05}, trend=trend, scores={})])
    assert "training accuracy 0.99 against 0.58 on the val split, so converged" in regime.reading(summary, "CE")
    small = regime.training_trend(plateau(fitted=0.6), "train_loss", "val_loss", SCORES)
    assert small["converged"] is False  # 0.02 is within FITTED_GAP and the selection loss never rose


def test_the_largest_group_gap_is_read():
    history = plateau().assign(train_accuracy_b=0.9, val_accuracy_b=0.7)
    scores = {**SCORES, "accuracy (b)": ("train_accuracy_b", "val_accuracy_b")}
    trend = regime.training_trend(history, "train_loss", "val_loss", scores)
    assert trend["fitted_gap_score"] == "accuracy (b)" and trend["fitted_gap"] == pytest.approx(0.2)


def test_records_of_an_older_revision_read_as_convergence_not_recorded():
    old = run_record(0.05, False, True)
    for field in ("high_rate_epochs", "falling_at_high_rate", "fitted_scores", "fitted_gap"):
        del old["training"][field]
    summary = regime.summarise([old])
    assert summary["converged"] is None and regime.kind(summary) == "unrecorded"
    sentence = regime.reading(summary, "BCE")
    assert "convergence not recorded" in sentence and "--force" in sentence and "published claims" not in sentence
    assert regime.axis(False, [summary]) == "not read" and regime.axis(True, [summary]) == "pretrained, fine-tuned"


def test_a_history_without_learning_rates_or_scores_records_no_convergence():
    trend = regime.training_trend(plateau(rising=True).drop(columns="lr"), "train_loss", "val_loss")
    assert trend["falling_at_high_rate"] is None and trend["fitted_gap"] is None and trend["converged"] is None


def test_a_pretrained_overconfident_baseline_needs_no_convergence_signal():
    summary = {
        "selection_split": "selection",
        "runs": 1,
        "gap": 0.05,
        "loss_gap": 0.1,
        "falling": 1,
        "not_decreasing": 0,
        "rising": 0,
        "epochs": 10,
        "near_chance": [],
        "scores": {},
        "converged": 0,
    }
    assert regime.kind(summary, pretrained=True) == "overconfident"
    assert regime.reading(summary, "ResNet-18 BCE", pretrained=True).endswith(
        "the regime of the published claims (a pretrained backbone, fine-tuned)."
    )
    assert regime.kind(summary) != "overconfident"  # from scratch it must be shown converged


def test_a_rate_cut_after_a_few_epochs_leaves_the_high_rate_rule_unread():
    epochs = 12
    history = pd.DataFrame(
        {
            "train_loss": np.linspace(2.0, 0.2, epochs),  # falls at every epoch of its 3 high-rate ones
            "val_loss": [1.0] * 6 + [1.1] * 6,  # up from its minimum
            "lr": [0.1] * 3 + [0.03] * 9,
        }
    )
    trend = regime.training_trend(history, "train_loss", "val_loss")
    assert trend["high_rate_epochs"] == 3 and trend["falling_at_high_rate"] is None
    assert trend["converged"] is True  # read from the selection loss rising
