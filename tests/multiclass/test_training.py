"""A tiny single-label run writes its outputs, resumes to the same result, and feeds instance targets and a student."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from lsml_core.multiclass.config import DataConfig, RunConfig, TrainConfig
from lsml_core.multiclass.data import Splits
from lsml_core.multiclass.evaluate import evaluate_run, is_complete
from lsml_core.multiclass.train import train_run
from lsml_core.splits import Split
from tests.conftest import synthetic_source


def tiny_splits() -> Splits:
    source = synthetic_source(n=64)
    as_split = lambda x, y: Split(torch.from_numpy(x[:, None]), torch.from_numpy(y).long())
    fit, val = (
        as_split(source.train_images[:48], source.train_labels[:48]),
        as_split(source.train_images[48:], source.train_labels[48:]),
    )
    return Splits(
        fit,
        val,
        as_split(source.test_images, source.test_labels),
        source.classes,
        "synthetic",
        torch.tensor([0.5]),
        torch.tensor([0.25]),
    )


def run(**train) -> RunConfig:
    return RunConfig(
        profile="t",
        data=DataConfig(projection_classes=[0, 1, 2]),
        train=TrainConfig(**{"model": "resnet8", "epochs": 2, "batch_size": 16, "patience": 5, **train}),
    )


def test_tiny_run_writes_outputs_and_resumes(tmp_path):
    splits, cfg = tiny_splits(), run()
    full = train_run(cfg, tmp_path / "full", tmp_path, splits)
    assert len(full) == 2 and {"train_loss", "train_accuracy", "selection_loss", "selection_accuracy", "lr"} <= set(
        full.columns
    )
    assert full.dose.tolist() == [0.0, 0.0]  # CE trains on one-hot targets
    one = replace(cfg, train=replace(cfg.train, epochs=1))
    train_run(one, tmp_path / "resumed", tmp_path, splits)
    checkpoint = torch.load(tmp_path / "resumed" / "checkpoint_last.pt", weights_only=False)
    checkpoint["config"] = cfg.to_dict()  # the same run, interrupted after its first epoch
    torch.save(checkpoint, tmp_path / "resumed" / "checkpoint_last.pt")
    resumed = train_run(cfg, tmp_path / "resumed", tmp_path, splits)
    pd.testing.assert_frame_equal(full.drop(columns="seconds"), resumed.drop(columns="seconds"))
    metrics = evaluate_run(cfg, tmp_path / "full", tmp_path, splits)
    assert is_complete(tmp_path / "full") and metrics["temperature"] > 0
    assert set(metrics["splits"]["test"]["after"]) == {"accuracy", "log_loss", "ece", "classwise_ece", "brier"}
    assert np.array(metrics["confusion_matrix"]).sum() == len(splits.test)
    for name in (
        "history.csv",
        "predictions_selection.csv",
        "predictions_test.csv",
        "projection_test.npz",
        "model_best.pt",
    ):
        assert (tmp_path / "full" / name).is_file()
    projection = np.load(tmp_path / "full" / "projection_test.npz")
    assert projection["templates"].shape == (3, projection["features"].shape[1])
    assert set(projection["labels"]) <= {0, 1, 2} and projection["classes"].tolist() == [0, 1, 2]


def test_a_damaged_checkpoint_starts_the_run_again_with_a_warning_naming_it(tmp_path):
    splits, cfg = tiny_splits(), run()
    full = train_run(cfg, tmp_path / "run", tmp_path, splits)
    checkpoint = tmp_path / "run" / "checkpoint_last.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.warns(UserWarning, match=f"{checkpoint} is damaged .*starts again from its first epoch"):
        again = train_run(cfg, tmp_path / "run", tmp_path, splits)
    pd.testing.assert_frame_equal(full.drop(columns="seconds"), again.drop(columns="seconds"))


def test_instance_and_distillation_runs_use_the_teacher(tmp_path):
    splits = tiny_splits()
    teacher = run(max_batches=1)
    train_run(teacher, tmp_path / teacher.name, tmp_path, splits)
    evaluate_run(teacher, tmp_path / teacher.name, tmp_path, splits)
    ils = run(max_batches=1, scheme="instance", alpha=0.1, temperature=2.0, teacher=teacher.name)
    student = RunConfig(
        profile="t",
        data=teacher.data,
        train=TrainConfig(
            model="shallow",
            loss="kd",
            temperature=20.0,
            teacher=teacher.name,
            teacher_scaled=True,
            epochs=1,
            max_batches=1,
        ),
    )
    for cfg in (ils, student):
        history = train_run(cfg, tmp_path / cfg.name, tmp_path, splits)
        assert np.isfinite(history.train_loss).all()
    assert pd.read_csv(tmp_path / ils.name / "history.csv").dose.tolist() == pytest.approx([0.1, 0.1])
    assert "dose" not in pd.read_csv(tmp_path / student.name / "history.csv")  # distillation is not smoothing
    assert evaluate_run(student, tmp_path / student.name, tmp_path, splits)["dose"] is None


def test_label_smoothing_in_the_loss_records_its_dose(tmp_path):
    splits, cfg = tiny_splits(), run(max_batches=1, scheme="uniform", alpha=0.1)
    history = train_run(cfg, tmp_path / cfg.name, tmp_path, splits)
    assert history.dose.tolist() == pytest.approx([0.1 * (1 - 1 / len(splits.classes))] * 2)
    assert evaluate_run(cfg, tmp_path / cfg.name, tmp_path, splits)["dose"] == pytest.approx(history.dose.mean())


@pytest.mark.parametrize("schedule, rates", [("constant", [0.05, 0.05, 0.05]), ("step", [0.05, 0.01, 0.002])])
def test_a_constant_rate_never_decays_and_the_step_schedule_still_does(tmp_path, schedule, rates):
    cfg = run(schedule=schedule, epochs=3, step_size=1, gamma=0.2)
    history = train_run(cfg, tmp_path / schedule, tmp_path, tiny_splits())
    assert history.lr.tolist() == pytest.approx(rates)
    assert cfg.train.run_name.endswith("-constant-s0") == (schedule == "constant")
