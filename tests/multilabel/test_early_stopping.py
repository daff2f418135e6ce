"""Smoothing under label noise read at the best and at the last epoch, on run folders written with known effects."""

import numpy as np
import pandas as pd
import pytest
import torch

from lsml_core import fit
from lsml_core.multilabel import answer, early_stopping, evidence
from lsml_core.multilabel.config import TrainConfig, run_name
from lsml_core.multilabel.evaluate import (
    LAST_SPLIT,
    Predictions,
    ap_table,
    expected_splits,
    is_complete,
    write_predictions,
)
from lsml_core.multilabel.metrics import mean_average_precision
from lsml_core.records import write_json

CLASSES = ("a", "b", "c", "d")
N_IMAGES = 300
TARGETS = (np.random.default_rng(0).random((N_IMAGES, 4)) < 0.3).astype(np.float32)


def quality(scheme: str, noise: float, epoch: str) -> float:
    """How well a run ranks: at its best epoch every arm alike; at its last the baseline has memorised the noise
    (its ranking falls with the rate), the smoothed arm much less."""
    if epoch == "best":
        return 2.0
    return 2.0 - (4.0 if scheme == "none" else 0.5) * noise


def scores_of(scheme: str, noise: float, epoch: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, int(noise * 10), epoch == "last", scheme == "none"])
    return (quality(scheme, noise, epoch) * (2 * TARGETS - 1) + rng.normal(0, 1.5, TARGETS.shape)).astype(np.float32)


def write_run(profile_dir, scheme, alpha, seed, noise, *, last=True, gap=0.08, dose=0.0):
    name = run_name("resnet18", scheme, alpha, seed, label_noise=noise)
    run = profile_dir / "runs" / name
    train = {"model": "resnet18", "scheme": scheme, "alpha": alpha, "seed": seed, "label_noise": noise}
    write_json(run / "config.json", {"train": {**train, "evaluate_last": last}})
    masks, ids = np.ones_like(TARGETS), [f"i{i}" for i in range(N_IMAGES)]
    splits = {}
    for split, epoch in (("val", "best"), (LAST_SPLIT, "last"))[: 2 if last else 1]:
        scores = scores_of(scheme, noise, epoch, seed)
        write_predictions(run / f"predictions_{split}.csv", Predictions(ids, CLASSES, TARGETS, masks, scores))
        splits[split] = ap_table(TARGETS, scores, list(CLASSES), masks)
    trend = {
        "selection_loss_rising": True,
        "selection_loss": 1.2,
        "selection_loss_min": 1.0,
        "selection_loss_min_epoch": 3,
        "loss_gap": 0.3,
        "train_still_falling": False,
        "epochs": 10,
    }
    regime_entry = {
        "selection_split": "selection",
        "confidence_gap": {"selection": {"all": gap}},
        "training": trend,
        "scores": {"mAP": {"value": 0.8, "chance": 0.3}},
    }
    metrics = {"run": name, "best_epoch": 3, "temperature": 1.0, "splits": splits, "dose": dose, "regime": regime_entry}
    write_json(run / "metrics.json", metrics)


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("profile")
    for seed in (0, 1, 2):
        for noise in (0.0, 0.4):
            gap = 0.08 + noise / 4  # the noisy baseline is the more overconfident
            write_run(tmp_path, "none", 0.0, seed, noise, gap=gap)
            write_run(tmp_path, "uniform", 0.1, seed, noise, dose=0.025)
            write_run(tmp_path, "uniform", 0.7, seed, noise, dose=0.175)
    return tmp_path


@pytest.fixture(scope="module")
def found(profile_dir):
    return early_stopping.contrasts(profile_dir, evidence.runs_frame(profile_dir), n_boot=200)


def test_a_run_asking_for_its_last_epoch_is_finished_only_with_it(tmp_path):
    write_json(tmp_path / "config.json", {"train": {"evaluate_last": True}})
    assert expected_splits(tmp_path) == ("fit", "val", "val_fivecrop", LAST_SPLIT)
    write_json(tmp_path / "metrics.json", {"splits": {"fit": {}, "val": {}, "val_fivecrop": {}}})
    assert not is_complete(tmp_path)
    write_json(tmp_path / "metrics.json", {"splits": {"fit": {}, "val": {}, "val_fivecrop": {}, LAST_SPLIT: {}}})
    assert is_complete(tmp_path)
    write_json(tmp_path / "config.json", {"train": {}})  # written before the key existed: the reported splits
    assert expected_splits(tmp_path) == ("fit", "val", "val_fivecrop")
    (tmp_path / "config.json").unlink()
    assert expected_splits(tmp_path) == ("fit", "val", "val_fivecrop")


def test_evaluate_last_must_be_a_boolean():
    assert not TrainConfig().evaluate_last
    with pytest.raises(ValueError, match="evaluate_last='yes' must be true"):
        TrainConfig(evaluate_last="yes")


def test_load_last_reads_the_checkpoints_weights_and_epoch(tmp_path):
    model = torch.nn.Linear(2, 1)
    with pytest.raises(FileNotFoundError, match="checkpoint_last.pt is missing: train the run"):
        fit.load_last(tmp_path, model, torch.device("cpu"))
    trained = torch.nn.Linear(2, 1)
    torch.save({"epoch": 7, "model": trained.state_dict()}, tmp_path / "checkpoint_last.pt")
    assert fit.load_last(tmp_path, model, torch.device("cpu")) == 7
    assert torch.equal(model.weight, trained.weight)


def test_runs_read_at_their_last_epoch_are_found(profile_dir):
    runs = evidence.runs_frame(profile_dir)
    assert early_stopping.has_last_epoch(runs) and not early_stopping.has_last_epoch(runs[runs.split == "val"])
    assert len(early_stopping.cells(runs)) == 6


def test_a_combination_is_the_signed_sum_of_the_readings_maps(profile_dir):
    runs = early_stopping.cells(evidence.runs_frame(profile_dir))
    none, uniform = runs[("resnet18", "none", 0.4)], runs[("resnet18", "uniform a=0.1", 0.4)]
    result = early_stopping.combination(profile_dir, [(1, uniform, LAST_SPLIT), (-1, none, "val")], n_boot=200)
    expected = np.mean(
        [
            mean_average_precision(TARGETS, scores_of("uniform", 0.4, "last", s))
            - mean_average_precision(TARGETS, scores_of("none", 0.4, "best", s))
            for s in (0, 1, 2)
        ]
    )
    assert result["seeds"] == 3 and result["difference"] == pytest.approx(expected)
    assert result["ci_low"] < result["difference"] < result["ci_high"]
    assert early_stopping.combination(profile_dir, [(1, uniform, "val"), (-1, uniform.iloc[:0], "val")]) == {}


def test_contrasts_follow_the_known_effects(found):
    at = found.set_index(["arm", "noise", "contrast"]).verdict
    assert at[("uniform a=0.1", 0.4, "gain best")] == "no clear difference"  # early stopping hides the noise
    assert at[("uniform a=0.1", 0.4, "gain last")] == "higher"  # the baseline memorised it; smoothing much less
    assert at[("uniform a=0.1", 0.4, "gain minus clean last")] == "higher"
    assert at[("uniform a=0.1", 0.4, "early stopping")] == "higher"
    assert at[("uniform a=0.1", 0.4, "early stopping - smoothing")] == "higher"  # stopping early does more
    assert ("uniform a=0.1", 0.0, "gain minus clean best") not in at.index  # no difference of differences at 0
    assert set(found.contrast) == {
        "gain best",
        "gain last",
        "gain minus clean best",
        "gain minus clean last",
        "early stopping",
        "early stopping - smoothing",
    }


def test_sentences_read_each_contrast_off_its_interval(found):
    text = "\n".join(early_stopping.sentences(found))
    assert "ResNet-18, uniform a=0.1 - none at label noise 0.4 (val mAP, 3 paired seeds): smoothing's gain" in text
    assert "at the last epoch +" in text and ", a gain." in text
    assert "last epoch: the gain at noise 0.4 minus the gain on clean labels is +" in text
    assert "early stopping alone does more than smoothing without it" in text
    table = early_stopping.table(found)
    assert list(table.columns[:3]) == ["model", "arm", "noise"] and (table.model == "ResNet-18").all()


def test_each_baseline_is_read_and_each_dose_set_against_its_overconfidence(profile_dir):
    readings = early_stopping.noise_readings(profile_dir)
    assert len(readings) == 2 * 3
    assert readings[0].startswith("The ResNet-18 BCE at label noise 0 baseline is overconfident")
    assert readings[1] == (
        "ResNet-18, uniform a=0.1 at label noise 0: dose 0.025, 0.31 times its overconfidence 0.080 at its selected "
        "epoch: below it by more than 20%."
    )
    matched = "uniform a=0.7 at label noise 0.4: dose 0.175, 0.97 times its overconfidence 0.180 at its selected epoch"
    assert f"{matched}: matched (within 20%)" in readings[5]


def test_a_dose_is_read_against_the_last_epochs_overconfidence_where_it_was_read():
    assert early_stopping.dose_text(None, 0.1, 0.2) == "its dose is not recorded"
    assert early_stopping.dose_text(0.1, 0.05, 0.11) == (
        "dose 0.100, 2.00 times its overconfidence 0.050 at its selected epoch: above it by more than 20%; "
        "0.91 times its overconfidence 0.110 at its last epoch: matched (within 20%)"
    )
    assert "not overconfident at its selected epoch" in early_stopping.dose_text(0.02, -0.01, None)
    last = {"splits": {LAST_SPLIT: {"confidence_gap": {"selection": {"all": 0.1}}}}}
    assert early_stopping.last_gap([last, {"splits": {LAST_SPLIT: {"confidence_gap": {"selection": {"all": 0.2}}}}}])
    assert early_stopping.last_gap([last, {"splits": {}}]) is None
    assert early_stopping.last_gap([last]) == pytest.approx(0.1)


def test_the_answer_holds_the_gains_under_noise_at_both_epochs(found):
    effects = answer.noise_effects(found)
    arms = {e.arm for e in effects}
    assert "uniform a=0.1 at noise 0.4, last epoch" in arms and "uniform a=0.1 at noise 0, last epoch" in arms
    assert "uniform a=0.1: gain at noise 0.4 minus at 0, best epoch" in arms
    against = next(e for e in effects if e.arm == "uniform a=0.1 at its last epoch against none at its best, noise 0.4")
    row = found.set_index(["arm", "noise", "contrast"]).loc[("uniform a=0.1", 0.4, "early stopping - smoothing")]
    assert (against.difference, against.low, against.high) == pytest.approx(
        (-row.difference, -row.ci_high, -row.ci_low)
    )
    assert against.verdict == "worse"  # smoothing alone falls short of stopping early
    assert "uniform a=0.1 at noise 0, best epoch" not in arms  # the headline's own effect
    last = next(e for e in effects if e.arm == "uniform a=0.1 at noise 0.4, last epoch")
    assert last.verdict == "better" and last.seeds == 3 and last.metric == "mAP"


def test_nothing_is_read_at_the_last_epoch_without_such_runs(tmp_path):
    for scheme, alpha in (("none", 0.0), ("uniform", 0.1)):
        write_run(tmp_path, scheme, alpha, 0, 0.0, last=False)
    runs = evidence.runs_frame(tmp_path)
    assert not early_stopping.has_last_epoch(runs) and "early stopping" not in evidence.findings(tmp_path, runs, 50)
    assert early_stopping.contrasts(tmp_path, runs, 50).empty
    assert isinstance(early_stopping.contrasts(tmp_path, runs, 50), pd.DataFrame)
