"""The grouped run's regime record: per-group gaps, chance of each group and of the exact match, the training
trend on the weighted group losses (SESEMI left out), and the fallback for histories written before."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from lsml_core import regime
from lsml_core.grouped.config import DataConfig, RunConfig, TrainConfig
from lsml_core.grouped.run_regime import chance_scores, group_gaps, run_regime, trend
from lsml_core.grouped.train import weighted_log_loss
from lsml_core.regime import majority_frequency

GROUPS = ("digit", "item")


def cfg(**train) -> RunConfig:
    return RunConfig(profile="t", data=DataConfig(), train=TrainConfig(group_weights={"item": 5}, **train))


def history(with_group_loss: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4, 5],
            "train_loss": [9.0, 7.0, 6.0, 5.5, 5.4],  # includes SESEMI
            "selection_log_loss_digit": [2.0, 1.5, 1.2, 1.25, 1.3],
            "selection_log_loss_item": [1.0, 0.8, 0.7, 0.72, 0.75],
        }
    )
    if with_group_loss:
        frame["train_group_loss"] = [8.0, 5.0, 3.0, 2.0, 1.9]
    return frame


def test_weighted_log_loss_weighs_each_group():
    assert weighted_log_loss(history(), cfg(), GROUPS).tolist() == pytest.approx([7.0, 5.5, 4.7, 4.85, 5.05])


def test_trend_compares_the_weighted_group_losses(tmp_path):
    history().to_csv(tmp_path / "history.csv", index=False)
    got = trend(tmp_path, cfg(), GROUPS)
    assert got["train_column"] == "train_group_loss" and got["selection_column"] == "selection_group_loss"
    assert got["loss_gap"] == pytest.approx(5.05 - 1.9)
    assert got["selection_loss_min_epoch"] == 3 and got["selection_loss_rising"]
    assert got["late_share_of_fall"] == pytest.approx((2.0 - 1.9) / (8.0 - 1.9))  # last fifth: one epoch
    assert not got["train_still_falling"]


def test_trend_of_an_old_history_falls_back_to_the_training_loss(tmp_path):
    history(with_group_loss=False).to_csv(tmp_path / "history.csv", index=False)
    got = trend(tmp_path, cfg(), GROUPS)
    assert got["train_column"] == "train_loss" and got["loss_gap"] == pytest.approx(5.05 - 5.4)


def test_chance_is_the_majority_class_and_exact_match_the_product():
    labels = np.array([[0, 1], [0, 2], [0, 1], [1, 0]])
    assert majority_frequency(labels[:, 0]) == 0.75 and majority_frequency(labels[:, 1]) == 0.5
    metrics = {"accuracy_digit": 0.77, "accuracy_item": 0.6, "exact_match": 0.5}
    scores = chance_scores(labels, metrics, GROUPS)
    assert scores["accuracy_digit"] == {"value": 0.77, "chance": 0.75}
    assert scores["exact_match"] == {"value": 0.5, "chance": 0.375}
    assert regime.near_chance(scores) == ["accuracy_digit"]  # (0.77 - 0.75) / 0.25 = 0.08; the others 0.2


def test_group_gaps_are_each_groups_top_label_gap():
    rng = np.random.default_rng(0)
    probs = [softmax(rng.normal(size=(30, k)) * 2, axis=1) for k in (10, 4)]
    labels = np.stack([rng.integers(0, 10, 30), rng.integers(0, 4, 30)], 1)
    gaps = group_gaps(labels, probs, GROUPS)
    for g, group in enumerate(GROUPS):
        expected = probs[g].max(1).mean() - (probs[g].argmax(1) == labels[:, g]).mean()
        assert gaps[group] == pytest.approx(expected)


def test_run_regime_records_every_split_and_reads_as_a_sentence(tmp_path):
    history().to_csv(tmp_path / "history.csv", index=False)
    labels = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    sure = [np.eye(10)[[0, 1, 2, 5]] * 0.9 + 0.01, np.eye(4)[[0, 1, 2, 3]] * 0.96 + 0.01]
    metrics = {"accuracy_digit": 0.75, "accuracy_item": 1.0, "exact_match": 0.75}
    record = run_regime(cfg(), tmp_path, {s: (labels, sure, metrics) for s in ("fit", "selection", "test")}, GROUPS)
    assert set(record["confidence_gap"]) == {"fit", "selection", "test"} and record["selection_split"] == "selection"
    assert record["confidence_gap"]["selection"]["digit"] == pytest.approx(0.91 - 0.75)
    sentence = regime.reading(regime.summarise([record]), "control")
    assert "overconfident on the selection split by 0.160" in sentence
