"""Calibration against an arm's dose minus its baseline's overconfidence: the frame, the figure and the sentence
that says whether ECE is lowest where the dose meets the overconfidence."""

import numpy as np
import pytest

from lsml_core.multilabel import dose_response, evidence, summary
from lsml_core.multilabel.config import run_name
from lsml_core.multilabel.evaluate import Predictions, write_predictions
from lsml_core.records import write_json

CLASSES = ("a", "b", "c")
N = 400


def write_run(profile_dir, scheme: str, alpha: float, seed: int, confidence: float, dose: float, gap: float = 0.0):
    """A run that scores every pair at about `confidence`, where 80% of the pairs are positive: its pooled ECE is
    about |confidence - 0.8| (overconfident above 0.8); `dose` and the selection `gap` as its records say."""
    targets = (np.random.default_rng(0).random((N, 3)) < 0.8).astype(np.float32)
    logit = np.log(confidence / (1 - confidence))
    scores = logit + np.random.default_rng(1 + seed).normal(0, 0.01, targets.shape)
    name = run_name("resnet18", scheme, alpha, seed)
    run = profile_dir / "runs" / name
    write_json(run / "config.json", {"train": {"model": "resnet18", "scheme": scheme, "alpha": alpha, "seed": seed}})
    write_predictions(
        run / "predictions_val.csv",
        Predictions([f"i{i}" for i in range(N)], CLASSES, targets, np.ones_like(targets), scores.astype(np.float32)),
    )
    regime = {"selection_split": "selection", "confidence_gap": {"selection": {"all": gap}}}
    metrics = {"run": name, "best_epoch": 1, "temperature": 1.0, "dose": dose, "regime": regime}
    write_json(run / "metrics.json", {**metrics, "splits": {"val": {"voc2010": {"mAP": 0.5}, "sample_ap": 0.5}}})


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory):
    """A baseline overconfident by 0.10 (confidence 0.90 at accuracy 0.80); uniform smoothing at three doses:
    0.03 (to 0.87), 0.10 (to 0.80, matched) and 0.30 (to 0.60, underconfident); two seeds."""
    path = tmp_path_factory.mktemp("dose")
    for seed in (0, 1):
        write_run(path, "none", 0.0, seed, 0.90, 0.0, gap=0.10)
        for alpha, confidence in ((0.03, 0.87), (0.1, 0.80), (0.3, 0.60)):
            write_run(path, "uniform", alpha, seed, confidence, alpha)
    return path


def frame_of(profile_dir):
    runs = evidence.runs_frame(profile_dir)
    return runs, dose_response.dose_frame(runs, summary.headline_effects(profile_dir, runs, "val", n_boot=200))


def test_each_arm_sits_at_its_dose_minus_the_baselines_overconfidence(profile_dir):
    _, frame = frame_of(profile_dir)
    ece = frame[frame.metric == summary.ECE_WIDTH].set_index("arm")
    assert ece[dose_response.X].to_dict() == pytest.approx(
        {"none": -0.10, "uniform a=0.03": -0.07, "uniform a=0.1": 0.0, "uniform a=0.3": 0.20}
    )
    assert ece.loc["none", "difference"] == 0 and ece.loc["uniform a=0.1", "difference"] < 0
    assert ece.value.idxmin() == "uniform a=0.1"
    assert set(frame.metric) == set(dose_response.METRICS)
    figure = dose_response.dose_figure(frame)
    assert len(figure.axes) == len(dose_response.METRICS)
    assert figure.axes[0].get_title() == f"ResNet-18: {summary.ECE_WIDTH}"


def test_the_sentence_says_calibration_is_best_where_the_dose_meets_the_overconfidence(profile_dir):
    runs, frame = frame_of(profile_dir)
    sentences = dose_response.dose_sentences(profile_dir, runs, frame, n_boot=200)
    assert len(sentences) == 2  # both binnings
    assert sentences[0].startswith(f"ResNet-18, val, {summary.ECE_WIDTH}: lowest with uniform a=0.1 (")
    assert sentences[0].endswith("calibration is best where the dose meets the overconfidence.")


def test_when_another_arm_is_lowest_the_two_are_compared_with_an_interval(tmp_path):
    for seed in (0, 1):
        write_run(tmp_path, "none", 0.0, seed, 0.90, 0.0, gap=0.10)
        write_run(tmp_path, "uniform", 0.1, seed, 0.85, 0.09)  # matched dose, yet still overconfident
        write_run(tmp_path, "uniform", 0.3, seed, 0.80, 0.30)  # calibrated
    runs, frame = frame_of(tmp_path)
    sentence = dose_response.dose_sentences(tmp_path, runs, frame, n_boot=200)[0]
    assert (
        "lowest with uniform a=0.3" in sentence and "the dose nearest the overconfidence is uniform a=0.1's" in sentence
    )
    assert "uniform a=0.1 minus uniform a=0.3: +0.05" in sentence
    assert sentence.endswith("clearly higher: calibration is not best where the dose meets the overconfidence.")
