"""The multi-label run's regime record: confidence gaps equal the formula on its stored predictions, the trend
its history's, held-out mAP beside the mAP of a random ranking; the report's baseline groups."""

import numpy as np
import pandas as pd
import pytest

from lsml_core import regime
from lsml_core.layout import HISTORY
from lsml_core.multilabel.evaluate import FITTED_SCORES, evaluate_run, read_predictions
from lsml_core.multilabel.metrics import chance_map, exactly_right
from lsml_core.multilabel.report import baseline_of
from lsml_core.multilabel.train import train_run
from tests.multilabel.test_training import tiny_config

pytestmark = pytest.mark.filterwarnings("ignore:class .* has no positive examples")


def test_chance_map_is_the_mean_map_of_random_rankings_at_small_sizes():
    """At 200 images a random ranking scores above the prevalence; chance_map follows it, not the prevalence."""
    from lsml_core.multilabel.metrics import mean_average_precision

    rng = np.random.default_rng(1)
    targets = (rng.random((200, 10)) < 0.185).astype(int)
    random_maps = [mean_average_precision(targets, rng.random(targets.shape)) for _ in range(200)]
    assert chance_map(targets) == pytest.approx(np.mean(random_maps), abs=0.01)
    assert chance_map(targets) > targets.mean(0).mean() + 0.02


def test_chance_map_tends_to_the_prevalence_and_respects_the_mask():
    rng = np.random.default_rng(0)
    targets = (rng.random((4000, 3)) < [0.1, 0.3, 0.5]).astype(int)
    prevalence = targets.mean(0)
    assert chance_map(targets) == pytest.approx(prevalence.mean(), abs=0.02)
    mask = np.ones_like(targets)
    mask[:, 0] = 0  # class a never counted: the mean over b and c
    assert chance_map(targets, mask) == pytest.approx(prevalence[1:].mean(), abs=0.02)


def test_evaluate_records_the_regime_from_predictions_and_history(mosaic_voc, tmp_path):
    cfg = tiny_config(mosaic_voc, scheme="none", alpha=0.0)
    run_dir = tmp_path / "run"
    train_run(cfg, run_dir, tmp_path)
    record = evaluate_run(cfg, run_dir, tmp_path)["regime"]
    assert record["selection_split"] == "selection" and set(record["confidence_gap"]) == {
        "selection",
        "fit",
        "val",
        "val_fivecrop",
    }
    for split in ("val", "val_fivecrop"):
        pred = read_predictions(run_dir / f"predictions_{split}.csv")
        assert record["confidence_gap"][split] == pytest.approx(
            regime.binary_gaps(pred.targets, pred.scores, pred.masks)
        )
    history = pd.read_csv(run_dir / HISTORY)
    assert record["training"] == regime.training_trend(history, "train_loss", "selection_loss", FITTED_SCORES)
    assert record["training"]["epochs"] == cfg.train.epochs
    assert record["training"]["fitted_gap"] == pytest.approx(
        history.train_exact_match.iloc[-1] - history.selection_exact_match.iloc[-1]
    )
    assert record["training"]["high_rate_epochs"] == 2  # cosine over 3 epochs: 0.05, 0.0375, 0.0125
    assert 0 < record["scores"]["mAP"]["chance"] < 1


def test_exact_match_counts_an_image_right_only_when_every_unmasked_class_is():
    targets = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=float)
    logits = np.array([[2.0, -1.0, 0.5], [0.1, -3.0, 1.0], [1.0, -1.0, -2.0]])
    mask = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1]], dtype=float)  # image 3's wrong class b is left out
    assert exactly_right(targets, logits, mask).tolist() == [True, False, True]


def test_the_baseline_groups_are_bce_on_hard_clean_labels_per_model():
    assert baseline_of({"train": {"model": "resnet18", "scheme": "none", "loss": "bce"}}) == "ResNet-18 BCE"
    assert baseline_of({"train": {"model": "resnet18", "scheme": "uniform", "loss": "bce"}}) is None
    assert baseline_of({"train": {"model": "resnet18", "scheme": "none", "loss": "focal"}}) is None
    assert baseline_of({"train": {"model": "resnet18", "scheme": "none", "label_noise": 0.2}}) is None
