"""Training and evaluation on a tiny VOC-format fixture: resume, NaN stop, outputs, the voc2012 path."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lsml_core.fit import LossLog, NonFiniteLossError, finish_checkpoint, load_last
from lsml_core.layout import CHECKPOINT
from lsml_core.multilabel import train as training
from lsml_core.multilabel.config import DataConfig, RunConfig, TrainConfig, load_profile
from lsml_core.multilabel.evaluate import evaluate_run, is_complete, read_predictions
from lsml_core.multilabel.splits import labels_of, run_splits
from lsml_core.multilabel.train import forward_logits, make_fit, make_optimizer, train_run
from lsml_core.seeding import make_deterministic

pytestmark = pytest.mark.filterwarnings("ignore:class .* has no positive examples")


def tiny_config(root, **train) -> RunConfig:
    data = DataConfig(
        dataset="voc", root=str(root), classes=["a", "b", "c", "d"], image_size=16, selection_fraction=0.25
    )
    values = dict(model="resnet18", scheme="uniform", alpha=0.1, epochs=3, batch_size=8, lr_backbone=0.05, lr_head=0.05)
    return RunConfig(profile="test", data=data, train=TrainConfig(**{**values, **train}))


class Interrupt(Exception):
    pass


def interrupt_after_first_epoch(row):
    if row["epoch"] == 1:
        raise Interrupt


def test_resume_gives_the_same_result_as_an_uninterrupted_run(mosaic_voc, tmp_path):
    cfg = tiny_config(mosaic_voc)
    straight = train_run(cfg, tmp_path / "a", tmp_path)
    with pytest.raises(Interrupt):
        train_run(cfg, tmp_path / "b", tmp_path, on_epoch_end=interrupt_after_first_epoch)
    assert torch.load(tmp_path / "b" / CHECKPOINT, weights_only=False)["epoch"] == 1
    resumed = train_run(cfg, tmp_path / "b", tmp_path)
    columns = ["epoch", "train_loss", "selection_loss", "selection_map", "lr_backbone", "lr_head"]
    pd.testing.assert_frame_equal(straight[columns], resumed[columns])
    metrics_a, metrics_b = evaluate_run(cfg, tmp_path / "a", tmp_path), evaluate_run(cfg, tmp_path / "b", tmp_path)
    assert metrics_a == metrics_b


def test_outputs_of_a_run(mosaic_voc, tmp_path):
    cfg = tiny_config(mosaic_voc, epochs=2)
    run_dir = tmp_path / "run"
    train_run(cfg, run_dir, tmp_path)
    metrics = evaluate_run(cfg, run_dir, tmp_path)
    assert is_complete(run_dir)
    for name in ("config.json", "environment.json", "history.csv", "model_best.pt", CHECKPOINT):
        assert (run_dir / name).is_file()
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history.columns) == [
        "epoch",
        "train_loss",
        "train_exact_match",
        "dose",
        "selection_loss",
        "selection_map",
        "selection_exact_match",
        "lr_backbone",
        "lr_head",
        "seconds",
    ]
    for split in ("fit", "val", "val_fivecrop"):
        table = metrics["splits"][split]
        assert set(table) == {"voc2010", "voc2007", "sklearn", "sample_ap", "decisions", "calibration"}
        assert set(table["decisions"]) == {"t0.5", "top3", "tuned"}
        calibration = table["calibration"]
        assert set(calibration["before"]) == {"ece_pooled", "ece_classwise", "brier", "nll"}
        assert calibration["map_after_temperature"] == pytest.approx(table["voc2010"]["mAP"], abs=1e-12)
        assert calibration["after"]["nll"] <= calibration["before"]["nll"] + 0.05
        pred = read_predictions(run_dir / f"predictions_{split}.csv")
        assert pred.scores.dtype == np.float32 and pred.classes == ("a", "b", "c", "d")
    assert len(read_predictions(run_dir / "predictions_fit.csv").ids) == 30  # the training part, 40 - 10 held out
    assert metrics["best_epoch"] in (1, 2) and metrics["temperature"] > 0
    assert list(metrics["thresholds"]) == ["a", "b", "c", "d"]
    targets, masks, _ = labels_of(run_splits(cfg, tmp_path).training)  # uniform a = 0.1, K = 4, by hand:
    positives, negatives = (targets * masks).sum(), ((1 - targets) * masks).sum()
    by_hand = (positives * 0.1 * (1 - 1 / 4) + negatives * 0.1 / 4) / (positives + negatives)
    assert history.dose.tolist() == pytest.approx([by_hand] * 2)  # every epoch sees every training image
    assert metrics["dose"] == pytest.approx(by_hand)


def uniform_dose(targets, masks, alpha: float = 0.1, k: int = 4) -> float:
    """The dose of uniform smoothing on multi-hot targets, by hand: alpha (1 - 1/K) per positive, alpha / K per negative."""
    positives, negatives = (targets * masks).sum(), ((1 - targets) * masks).sum()
    return (positives * alpha * (1 - 1 / k) + negatives * alpha / k) / (positives + negatives)


def test_the_epochs_learn_from_the_training_view_not_the_reported_fit_split(mosaic_voc, tmp_path):
    cfg = tiny_config(mosaic_voc, epochs=1, label_noise=0.3)
    history = train_run(cfg, tmp_path / "run", tmp_path)
    splits = run_splits(cfg, tmp_path)
    learned, clean = (labels_of(view)[:2] for view in (splits.training, splits.fit))
    assert uniform_dose(*learned) != pytest.approx(uniform_dose(*clean))  # the noise changed the labels learnt from
    assert history.dose.tolist() == pytest.approx([uniform_dose(*learned)])


def test_instance_run_learns_from_its_teacher_under_label_noise(mosaic_voc, tmp_path):
    runs = tmp_path / "runs"
    teacher = tiny_config(mosaic_voc, scheme="none", alpha=0.0, epochs=1, label_noise=0.2)
    train_run(teacher, runs / teacher.name, tmp_path)
    student = tiny_config(mosaic_voc, scheme="instance", epochs=1, label_noise=0.2, teacher=teacher.name)
    history = train_run(student, runs / student.name, tmp_path)
    assert np.isfinite(history.train_loss).all()
    record = json.loads((runs / student.name / "label_noise.json").read_text())
    assert record["rate"] == 0.2 and record["dropped"] > 0
    assert student.name == "resnet18-instance-a0.1-s0-n0.2"


def test_instance_run_without_trained_teacher_is_a_clear_error(mosaic_voc, tmp_path):
    student = tiny_config(mosaic_voc, scheme="instance", epochs=1, teacher="resnet18-none-a0-s0")
    with pytest.raises(FileNotFoundError, match="train the run resnet18-none-a0-s0 first"):
        train_run(student, tmp_path / "runs" / student.name, tmp_path)


def test_rerun_of_a_finished_run_trains_nothing(mosaic_voc, tmp_path):
    cfg = tiny_config(mosaic_voc, epochs=1)
    first = train_run(cfg, tmp_path / "r", tmp_path)
    again = train_run(cfg, tmp_path / "r", tmp_path)
    pd.testing.assert_frame_equal(first, again)


def test_checkpoint_of_another_config_is_refused(mosaic_voc, tmp_path):
    train_run(tiny_config(mosaic_voc, epochs=1), tmp_path / "r", tmp_path)
    with pytest.raises(ValueError, match=r"different configuration \(train.alpha\)"):
        train_run(tiny_config(mosaic_voc, epochs=1, alpha=0.2), tmp_path / "r", tmp_path)


def test_a_configuration_saved_before_keys_were_added_is_the_same_configuration(mosaic_voc, tmp_path):
    cfg = tiny_config(mosaic_voc, epochs=2)
    with pytest.raises(Interrupt):
        train_run(cfg, tmp_path / "r", tmp_path, on_epoch_end=interrupt_after_first_epoch)
    state = torch.load(tmp_path / "r" / CHECKPOINT, weights_only=False)
    for key in ("precision", "memory_format"):  # as 0.5.0 wrote them
        del state["config"]["train"][key]
    torch.save(state, tmp_path / "r" / CHECKPOINT)
    assert cfg.differences(state["config"]) == [] and cfg.differences({**state["config"], "data": {"bogus": 1}}) == [
        "*"
    ]
    assert list(train_run(cfg, tmp_path / "r", tmp_path).epoch) == [1, 2]  # resumed, not refused


class ExplodesInSecondEpoch(nn.Module):
    """A model whose logits turn NaN after four training batches (one epoch of the fixture)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.fc, self.calls = inner, inner.fc, 0

    def forward(self, x):
        self.calls += int(self.training)
        out = self.inner(x)
        return out * float("nan") if self.calls > 4 else out


def test_nan_loss_stops_with_a_clear_message_and_keeps_checkpoints(mosaic_voc, tmp_path, monkeypatch):
    real_build = training.build_model
    monkeypatch.setattr(training, "build_model", lambda *a, **k: ExplodesInSecondEpoch(real_build(*a, **k)))
    with pytest.raises(NonFiniteLossError, match="epoch 2/3, batch 0: the training loss is nan"):
        train_run(tiny_config(mosaic_voc), tmp_path / "r", tmp_path)
    assert torch.load(tmp_path / "r" / CHECKPOINT, weights_only=False)["epoch"] == 1
    assert (tmp_path / "r" / "model_best.pt").is_file()


class CountingTensor:
    """Stands in for a loss: counts how often the log reads it back."""

    def __init__(self, value):
        self.value = torch.tensor(value)

    def detach(self):
        return self.value


def test_the_loss_log_reads_back_every_few_batches_and_names_the_bad_one(monkeypatch):
    reads = []
    real_stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda tensors: reads.append(len(tensors)) or real_stack(tensors))
    log = LossLog("run epoch 1/2", every=3)
    losses = [0.5, 0.25, 1.0, 2.0, 0.125]
    for step, value in enumerate(losses):
        log.add(step, CountingTensor(value), n=2 + step)
    assert reads == [3]  # nothing read back until three batches are pending
    assert log.mean() == pytest.approx(sum(v * (2 + i) for i, v in enumerate(losses)) / sum(range(2, 7)))
    assert reads == [3, 2]
    log = LossLog("run epoch 1/2", every=3)
    log.add(0, CountingTensor(0.5), 4)
    log.add(1, CountingTensor(float("inf")), 4)
    with pytest.raises(NonFiniteLossError, match="run epoch 1/2, batch 1: the training loss is inf"):
        log.add(2, CountingTensor(0.5), 4)


def test_sgd_is_fused_on_cuda_only_without_a_loss_scaler():
    model = training.build_model("resnet18", 2)
    on_cpu = make_optimizer(
        model, lr_backbone=0.1, lr_head=0.2, momentum=0.9, weight_decay=1e-4, device=torch.device("cpu")
    )
    on_cuda = make_optimizer(
        model, lr_backbone=0.1, lr_head=0.2, momentum=0.9, weight_decay=1e-4, device=torch.device("cuda")
    )  # built, not stepped, without a GPU
    scaled = make_optimizer(
        model,
        lr_backbone=0.1,
        lr_head=0.2,
        momentum=0.9,
        weight_decay=1e-4,
        device=torch.device("cuda"),
        loss_scaling=True,
    )
    assert on_cpu.defaults["fused"] is None and not getattr(on_cpu, "_step_supports_amp_scaling", False)
    assert on_cuda.defaults["fused"] is True
    assert scaled.defaults["fused"] is None and not getattr(scaled, "_step_supports_amp_scaling", False)
    assert [g["lr"] for g in on_cpu.param_groups] == [g["lr"] for g in on_cuda.param_groups] == [0.1, 0.2]


def test_a_checkpoint_written_on_another_device_resumes_with_this_devices_sgd(tmp_path):
    cfg = tiny_config(tmp_path)
    run = make_fit(cfg, 4, torch.device("cpu"), tmp_path / "run", tmp_path)
    state = run.state()
    for group in state["optimizer"]["param_groups"]:
        group["fused"] = True  # as a CUDA run writes it
    torch.save(state, tmp_path / CHECKPOINT)
    run.load(tmp_path / CHECKPOINT)
    assert [g["fused"] for g in run.optimizer.param_groups] == [None, None]


def test_five_crop_logits_are_averaged_before_the_sigmoid():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    crops = torch.randn(3, 5, 3, 4, 4)
    expected = torch.stack([model(c).mean(dim=0) for c in crops])
    assert torch.allclose(forward_logits(model, crops), expected, atol=1e-6)


def test_voc2012_profile_code_path_on_a_voc_fixture(voc_folder, tmp_path):
    """The voc2012 profile's data and recipe (300 px, VOC classes, difficult ignored), without downloads."""
    profile = load_profile("voc2012")
    (voc_folder / "ImageSets" / "Main" / "val.txt").write_text("2008_000001\n2008_000002\n")
    data = replace(profile.data, root=str(voc_folder.parent.parent), selection_fraction=0.34)
    train = replace(profile.train, pretrained=False, epochs=1, batch_size=2, num_workers=0)
    cfg = RunConfig(profile="voc2012", data=data, train=train)
    train_run(cfg, tmp_path / "run", tmp_path)
    metrics = evaluate_run(cfg, tmp_path / "run", tmp_path)
    pred = read_predictions(tmp_path / "run" / "predictions_val_fivecrop.csv")
    assert len(pred.classes) == 20 and pred.masks[1, pred.classes.index("bottle")] == 0  # difficult-only: ignored
    assert set(metrics["splits"]) == {"fit", "val", "val_fivecrop"}


def test_cpu_runs_get_deterministic_kernels_and_cuda_runs_autotuned_ones():
    make_deterministic(torch.device("cuda"))  # only flags: needs no GPU
    assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    make_deterministic("cpu")
    assert not torch.backends.cudnn.benchmark and torch.are_deterministic_algorithms_enabled()


def test_a_diverging_model_stops_with_the_divergence_message_not_an_ap_error(mosaic_voc, tmp_path):
    """A learning rate far too high: the run stops naming what happened and what to change."""
    cfg = tiny_config(mosaic_voc, lr_backbone=1e8, lr_head=1e8, epochs=2)
    with pytest.raises(NonFiniteLossError, match="Lower the learning rate") as error:
        train_run(cfg, tmp_path / "run", tmp_path)
    assert "scores must be finite" not in str(error.value)


def test_a_finished_checkpoint_keeps_what_a_rerun_reads_and_nothing_is_trained_again(mosaic_voc, tmp_path):
    cfg = tiny_config(mosaic_voc, epochs=2, evaluate_last=True)
    run_dir = tmp_path / "run"
    history = train_run(cfg, run_dir, tmp_path)
    metrics, best = evaluate_run(cfg, run_dir, tmp_path), (run_dir / "model_best.pt").read_bytes()
    whole = (run_dir / CHECKPOINT).stat().st_size
    assert finish_checkpoint(run_dir / CHECKPOINT, keep_weights=True)
    assert not finish_checkpoint(run_dir / CHECKPOINT, keep_weights=True)  # already finished: left as it is
    assert (run_dir / CHECKPOINT).stat().st_size < 0.6 * whole  # SGD's momentum gone, the weights kept
    pd.testing.assert_frame_equal(train_run(cfg, run_dir, tmp_path), history)  # resumed: nothing left to train
    assert (run_dir / "model_best.pt").read_bytes() == best
    assert evaluate_run(cfg, run_dir, tmp_path) == metrics  # val_last read from the weights kept
    assert finish_checkpoint(run_dir / CHECKPOINT, keep_weights=False) is False
    other = tmp_path / "other"
    train_run(replace(cfg, train=replace(cfg.train, evaluate_last=False)), other, tmp_path)
    finish_checkpoint(other / CHECKPOINT, keep_weights=False)
    assert (other / CHECKPOINT).stat().st_size < 0.05 * whole  # the records only
    with pytest.raises(FileNotFoundError, match="holds no weights"):
        load_last(other, make_fit(cfg, 4, torch.device("cpu"), other, tmp_path).model, torch.device("cpu"))


def test_a_checkpoint_of_the_earlier_format_resumes(tmp_path):
    """0.1.0 named the best score per track (`best_map`, `best_accuracy`) and the schedule `schedule`."""
    cfg = tiny_config(tmp_path)
    run = make_fit(cfg, 4, torch.device("cpu"), tmp_path / "run", tmp_path)
    state = run.state()
    state["best_map"], state["schedule"] = 0.25, state.pop("scheduler")
    del state["best_score"], state["scaler"]
    torch.save(state, tmp_path / CHECKPOINT)
    run.load(tmp_path / CHECKPOINT)
    assert run.best_score == 0.25
    finish_checkpoint(tmp_path / CHECKPOINT, keep_weights=False)  # a finished run of that format keeps its score
    finished = make_fit(cfg, 4, torch.device("cpu"), tmp_path / "run", tmp_path)
    finished.load(tmp_path / CHECKPOINT)
    assert finished.best_score == 0.25 and finished.finished
