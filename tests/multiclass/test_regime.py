"""The regime a single-label run records (against its formulas on the stored predictions and history), and the
sentences the report generates from its CE baselines' records."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from lsml_core import regime
from lsml_core.multiclass.evaluate import FITTED_SCORES, evaluate_run, read_predictions
from lsml_core.multiclass.report import conclusion_caveat, dose_readings, regime_readings, regime_table
from lsml_core.multiclass.train import train_run
from tests.multiclass.test_training import run, tiny_splits


def test_evaluate_records_the_regime_of_its_stored_predictions_and_history(tmp_path):
    splits, cfg = tiny_splits(), run()
    cfg = replace(cfg, train=replace(cfg.train, epochs=3))
    train_run(cfg, tmp_path, tmp_path, splits)
    evaluate_run(cfg, tmp_path, tmp_path, splits)
    record = json.loads((tmp_path / "metrics.json").read_text())["regime"]
    assert record["selection_split"] == "selection" and set(record["confidence_gap"]) == {"selection", "test"}
    for split in ("selection", "test"):
        labels, logits = read_predictions(tmp_path / f"predictions_{split}.csv")
        exp = np.exp(logits - logits.max(1, keepdims=True))
        confidence = (exp / exp.sum(1, keepdims=True)).max(1)  # max_k softmax_k at T = 1
        accuracy = (logits.argmax(1) == labels).mean()
        assert record["confidence_gap"][split] == pytest.approx(confidence.mean() - accuracy, abs=1e-9)
    history = pd.read_csv(tmp_path / "history.csv")
    trend = record["training"]
    assert trend["epochs"] == 3 and trend["train_loss"] == pytest.approx(history.train_loss.iloc[-1])
    assert trend["selection_loss"] == pytest.approx(history.selection_loss.iloc[-1])
    assert trend["loss_gap"] == pytest.approx(history.selection_loss.iloc[-1] - history.train_loss.iloc[-1])
    assert trend["selection_loss_min"] == pytest.approx(history.selection_loss.min())
    labels, logits = read_predictions(tmp_path / "predictions_selection.csv")
    counts = np.bincount(labels)
    assert record["scores"]["accuracy"] == {
        "value": pytest.approx((logits.argmax(1) == labels).mean()),
        "chance": pytest.approx(counts.max() / counts.sum()),  # always answering the most frequent class
    }


def write_run(
    profile_dir, name: str, *, loss="ce", scheme="none", model="resnet8", gap: float | None = None, falling=False
):
    """A finished run folder: config.json, and metrics.json with a regime entry unless `gap` is None."""
    run_dir = profile_dir / "runs" / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(
        json.dumps({"train": {"loss": loss, "scheme": scheme, "model": model, "seed": 0}})
    )
    metrics = {"splits": {}}
    if gap is not None:
        history = pd.DataFrame(
            {
                "train_loss": [1.0, 0.85, 0.7, 0.55, 0.4] if falling else [1.0, 0.3, 0.1, 0.05, 0.05],
                "selection_loss": [0.9, 0.6, 0.5, 0.45, 0.44] if falling else [0.9, 0.5, 0.45, 0.5, 0.6],
                "lr": [0.1] * 5,  # the rate never decayed: a falling loss was still falling at its peak rate
                "train_accuracy": [0.5, 0.7, 0.8, 0.85, 0.9],
                "selection_accuracy": [0.5, 0.6, 0.65, 0.66, 0.66],
            }
        )
        metrics["regime"] = regime.record(
            selection_split="selection",
            gaps={"selection": gap, "test": gap + 0.01},
            trend=regime.training_trend(history, "train_loss", "selection_loss", FITTED_SCORES),
            scores={"accuracy": {"value": 0.9, "chance": 0.1}},
        )
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_an_overconfident_converged_ce_baseline_reads_the_regime_of_the_claims(tmp_path):
    write_run(tmp_path, "resnet8-none-a0-s0", loss="ce", gap=0.05)
    write_run(tmp_path, "resnet8-none-a0-s1", loss="ce", gap=0.03)
    write_run(tmp_path, "resnet8-uniform-a0.1-s0", scheme="uniform", gap=-0.2, falling=True)  # not a baseline
    write_run(tmp_path, "shallow-kd-T20-from-resnet8-none-a0-s0", loss="kd", model="shallow", gap=-0.1)
    (sentence, kind), *others = regime_readings(tmp_path, "mc")
    assert not others and kind == "overconfident"
    assert sentence.startswith("The CE (resnet8) baseline is overconfident on the selection split by 0.040")
    assert "its training loss flat after 5 epochs" in sentence
    assert "its selection loss up 33% from its minimum at epoch 3 (2 of 2 runs)" in sentence
    assert "training accuracy 0.90 against 0.66 on the selection split, so converged" in sentence
    assert sentence.endswith("the regime of the published claims.")
    assert conclusion_caveat([(sentence, kind)]).startswith("These conclusions are read from overconfident baselines")


def test_an_underconfident_still_learning_baseline_says_the_claims_are_not_tested(tmp_path):
    write_run(tmp_path, "resnet8-none-a0-s0", loss="ce", gap=-0.04, falling=True)
    write_run(tmp_path, "resnet20-none-a0-s0", loss="ce", model="resnet20", gap=0.02)
    readings = regime_readings(tmp_path, "mc")
    assert [kind for _, kind in readings] == ["overconfident", "underconfident"]  # models by name
    sentence = readings[1][0]
    assert sentence.startswith("The CE (resnet8) baseline is underconfident on the selection split by 0.040")
    assert "its training loss still falling at epoch 5, the last at 50% or more of its peak learning rate" in sentence
    assert sentence.endswith(
        "an underfitted regime; the published claims, which concern an overconfident baseline, are not tested here."
    )
    assert "not overconfident" in conclusion_caveat(readings)


def test_runs_of_an_older_revision_say_the_regime_is_not_recorded_and_how_to_redo_it(tmp_path):
    write_run(tmp_path, "resnet8-none-a0-s0", loss="ce", gap=0.05)
    write_run(tmp_path, "resnet8-none-a0-s1", loss="ce")  # finished before regimes were recorded
    ((sentence, kind),) = regime_readings(tmp_path, "multiclass")
    assert kind == "unrecorded" and "not recorded" in sentence and "1 of its 2 runs" in sentence
    assert "`./run_all.sh --profile multiclass --force`" in sentence
    assert "not recorded" in conclusion_caveat([(sentence, kind)])
    assert regime_table(tmp_path).run.tolist() == ["resnet8-none-a0-s0"]


def test_no_ce_run_reads_as_unknown(tmp_path):
    (tmp_path / "runs").mkdir()
    ((sentence, kind),) = regime_readings(tmp_path, "mc")
    assert kind == "unknown" and "No CE baseline has finished" in sentence
    assert "not known" in conclusion_caveat([(sentence, kind)])
    assert regime_table(tmp_path).empty


def test_regime_table_shows_each_split_and_the_trend(tmp_path):
    write_run(tmp_path, "resnet8-none-a0-s0", loss="ce", gap=0.05)
    row = regime_table(tmp_path).iloc[0]
    assert row["confidence - accuracy (selection)"] == pytest.approx(0.05)
    assert row["confidence - accuracy (test)"] == pytest.approx(0.06)
    assert row["epochs"] == 5 and not row["training loss still falling"] and row["selection loss rising"]
    assert row["training - selection accuracy"] == pytest.approx(0.24) and row["converged"]


def test_each_smoothed_arm_reads_its_dose_beside_the_ce_baselines_gap(tmp_path):
    def write(name, loss, scheme, alpha, metrics):
        (tmp_path / "runs" / name).mkdir(parents=True)
        train = {"model": "resnet8", "loss": loss, "scheme": scheme, "alpha": alpha}
        (tmp_path / "runs" / name / "config.json").write_text(json.dumps({"train": train}))
        (tmp_path / "runs" / name / "metrics.json").write_text(json.dumps(metrics))

    entry = {"selection_split": "selection", "confidence_gap": {"selection": 0.08}}
    write("ce", "ce", "none", 0.0, {"dose": 0.0, "regime": entry})
    write("ls", "ce", "uniform", 0.1, {"dose": 0.09})
    write("kd", "kd", "none", 0.0, {"dose": None})  # a student: no dose, no CE baseline of its own
    assert dose_readings(tmp_path) == [
        "CE (resnet8), LS a=0.1: dose 0.090, at or above the baseline's overconfidence 0.080: expect underconfidence."
    ]
