"""A tiny grouped run goes through its three phases, resumes to the same result, saves its pseudo-labels,
teaches an instance-smoothed run, and is evaluated into metrics.json."""

import pandas as pd
import pytest

from lsml_core import fit
from lsml_core.grouped import pseudo, train
from lsml_core.grouped.config import RunConfig, TrainConfig
from lsml_core.grouped.evaluate import evaluate_run, is_complete
from lsml_core.grouped.train import train_run
from lsml_core.layout import PSEUDO_LABELS, PSEUDO_RECORD
from tests.grouped.test_data import small, tiny_splits


def run(**train) -> RunConfig:
    recipe = dict(model="resnet18", batch_size=16, max_batches=2, epochs_plain=1, epochs_augmented=1, epochs_pseudo=1)
    return RunConfig(profile="t", data=small(), train=TrainConfig(**{**recipe, "pseudo_precision": 0.01, **train}))


def test_three_phases_resume_and_pseudo_labels(tmp_path, monkeypatch):
    splits, cfg = tiny_splits(), run(epochs_pseudo=2)
    monkeypatch.setattr(pseudo, "choose_threshold", lambda *a: 0.0)  # an untrained model: keep every image
    full = train_run(cfg, tmp_path / "full", tmp_path, splits)
    assert full.phase.tolist() == ["plain", "augmented", "pseudo", "pseudo"]
    assert full.lr.tolist() == [1e-3, 1e-3 * 0.3, 1e-3 * 0.3 * 0.3, 1e-3 * 0.3 * 0.3]
    assert (tmp_path / "full" / PSEUDO_LABELS).is_file() and (tmp_path / "full" / PSEUDO_RECORD).is_file()
    assert full.train_images.tolist() == [60, 60, 90, 90]  # the unlabeled images joined phase 3

    real_fit = fit.fit
    for stop in (2, 3):  # interrupted before its pseudo-labels, then after its first pseudo-labeled epoch
        monkeypatch.setattr(
            fit,
            "fit",
            lambda run, run_dir, epoch, **k: real_fit(run, run_dir, epoch, **(k | {"epochs": stop})),
        )
        train_run(cfg, tmp_path / "resumed", tmp_path, splits)
        assert (tmp_path / "resumed" / PSEUDO_LABELS).exists() == (stop == 3)
    monkeypatch.setattr(fit, "fit", real_fit)
    monkeypatch.setattr(train, "pseudo_labels", lambda *a: pytest.fail("a resumed run reuses its saved pseudo-labels"))
    resumed = train_run(cfg, tmp_path / "resumed", tmp_path, splits)
    pd.testing.assert_frame_equal(full.drop(columns="seconds"), resumed.drop(columns="seconds"))

    metrics = evaluate_run(cfg, tmp_path / "full", tmp_path, splits)
    assert is_complete(tmp_path / "full") and set(metrics["splits"]) == {"fit", "selection", "test"}
    assert set(metrics["confusion_matrices"]) == {"digit", "item"} and metrics["pseudo_labels"]["kept"] == 30
    assert (tmp_path / "full" / "predictions_test.csv").is_file()
    assert set(metrics["regime"]["confidence_gap"]) == {"fit", "selection", "test"}
    assert set(metrics["regime"]["confidence_gap"]["selection"]) == {"digit", "item"}
    assert metrics["regime"]["training"]["epochs"] == 4
    assert metrics["regime"]["training"]["train_column"] == "train_group_loss"
    assert set(metrics["regime"]["scores"]) == {"accuracy_digit", "accuracy_item", "exact_match"}
    assert (full.train_group_loss < full.train_loss).all()  # SESEMI on labeled images adds to the training loss
    assert full.dose_digit.tolist() == full.dose_item.tolist() == [0.0] * 4  # the control: no smoothing
    assert metrics["dose"] == {"digit": 0.0, "item": 0.0}


def test_instance_run_learns_from_its_teacher_and_flat_runs_train(tmp_path):
    splits = tiny_splits()
    teacher = run(epochs_augmented=0, epochs_pseudo=0, sesemi="none")
    train_run(teacher, tmp_path / teacher.name, tmp_path, splits)
    taught = run(
        epochs_augmented=0, epochs_pseudo=0, sesemi="none", smoothing={"item": "instance"}, teacher=teacher.name
    )
    history = train_run(taught, tmp_path / taught.name, tmp_path, splits)
    alone = run(epochs_augmented=0, epochs_pseudo=0, sesemi="none", smoothing={"item": "uniform"})
    uniform = train_run(alone, tmp_path / alone.name, tmp_path, splits)
    assert history.train_loss.notna().all() and history.train_loss.iloc[0] != uniform.train_loss.iloc[0]
    assert uniform.train_group_loss.tolist() == pytest.approx(uniform.train_loss.tolist())  # without SESEMI
    assert history.dose_item.tolist() == pytest.approx([0.1]) and history.dose_digit.tolist() == [0.0]
    assert uniform.dose_item.tolist() == pytest.approx([0.1 * (1 - 1 / splits.sizes[1])])
    flat = run(epochs_augmented=0, epochs_pseudo=0, head="flat", smoothing={"digit": "binary"}, sesemi="unlabeled")
    assert train_run(flat, tmp_path / flat.name, tmp_path, splits).train_loss.notna().all()
