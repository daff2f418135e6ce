"""A run folder written before a renaming (the splits; single-label smoothing as a scheme): read with its keys and
values mapped, brought up to date without retraining (what training wrote renamed, what evaluation wrote removed,
the folder moved to the run's name now), and left alone when it is current."""

import json

import pandas as pd
import pytest
import torch

from lsml_core.multiclass.config import RunConfig, load_profile, renamed_run
from lsml_core.outputs import record_outputs
from lsml_core.pipeline.renaming import bring_up_to_date, history_column, rename_run_folders
from lsml_core.pipeline.run_task import RunTask, teacher_changed, train_run
from lsml_core.records import file_sha256

OLD_HISTORY = {"epoch": [1, 2], "train_loss": [0.9, 0.5], "val_loss": [0.8, 0.6], "val_accuracy": [0.5, 0.7]}
NEW_COLUMNS = ["epoch", "train_loss", "selection_loss", "selection_accuracy"]


@pytest.fixture
def config() -> dict:
    return load_profile("multiclass").teacher_runs()[0].to_dict()


def old_folder(run_dir, config: dict):
    """A finished run as the revision before the renaming wrote it."""
    run_dir.mkdir(parents=True)
    saved = json.loads(json.dumps(config))
    saved["data"]["n_val"] = saved["data"].pop("n_selection")
    (run_dir / "config.json").write_text(json.dumps(saved))
    pd.DataFrame(OLD_HISTORY).to_csv(run_dir / "history.csv", index=False)
    rows = pd.DataFrame(OLD_HISTORY).to_dict("records")
    torch.save({"config": saved, "history": rows, "epoch": 2}, run_dir / "checkpoint_last.pt")
    torch.save({"weights": torch.ones(3)}, run_dir / "model_best.pt")
    (run_dir / "pseudo_labels.json").write_text(json.dumps({"threshold": 0.9, "val_count": 12}))
    (run_dir / "metrics.json").write_text(json.dumps({"splits": {"val": {}, "test": {}}}))
    (run_dir / "predictions_val.csv").write_text("label,logit_a\n0,0.5\n")
    (run_dir / "1.0-train.html").write_text("<html></html>")
    record_outputs(run_dir)
    return saved


def test_history_columns_of_the_split_that_chose_are_renamed_and_no_other():
    assert [history_column(c) for c in ["heldout_map", "val_accuracy", "val_log_loss_digit", "train_loss", "lr"]] == [
        "selection_map",
        "selection_accuracy",
        "selection_log_loss_digit",
        "train_loss",
        "lr",
    ]


def test_an_old_folder_is_renamed_and_its_evaluation_removed_but_nothing_it_trained(tmp_path, config):
    run_dir = tmp_path / "run"
    old_folder(run_dir, config)
    best = (run_dir / "model_best.pt").read_bytes()
    assert bring_up_to_date(run_dir, config) == ["data.n_val"]
    assert pd.read_csv(run_dir / "history.csv").columns.tolist() == NEW_COLUMNS
    state = torch.load(run_dir / "checkpoint_last.pt", weights_only=False)
    assert list(state["history"][0]) == NEW_COLUMNS and state["history"][1]["selection_accuracy"] == 0.7
    assert json.loads((run_dir / "pseudo_labels.json").read_text()) == {"threshold": 0.9, "selection_count": 12}
    assert (run_dir / "model_best.pt").read_bytes() == best
    for removed in ("metrics.json", "predictions_val.csv", "1.0-train.html", "outputs.json", "config.json"):
        assert not (run_dir / removed).exists(), removed


def test_a_current_folder_is_left_as_it_is(tmp_path, config):
    run_dir = tmp_path / "run"
    old_folder(run_dir, config)
    (run_dir / "config.json").write_text(json.dumps(config))
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    assert bring_up_to_date(run_dir, config) == []
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before


def test_the_run_task_evaluates_an_old_folder_again_and_says_why(tmp_path, config):
    run_dir = tmp_path / "profile" / "runs" / "a"
    old_folder(run_dir, config)
    executed = []

    def execute(task):
        executed.append(pd.read_csv(task.run_dir / "history.csv").columns.tolist())

    task = RunTask("a", config, None, run_dir, tmp_path, tmp_path / "profile", tmp_path, (), lambda d: False, "k")
    outcome = train_run(task, {}, execute=execute)
    assert executed == [NEW_COLUMNS] and (run_dir / "checkpoint_last.pt").is_file()
    assert "data.n_val were renamed: evaluated again under the new names (nothing retrained)" in outcome.note


def test_an_old_folder_whose_model_was_damaged_is_trained_again_not_renamed(tmp_path, config):
    run_dir = tmp_path / "profile" / "runs" / "a"
    old_folder(run_dir, config)
    (run_dir / "model_best.pt").write_bytes(b"damaged")
    executed = []
    task = RunTask("a", config, None, run_dir, tmp_path, tmp_path / "profile", tmp_path, (), lambda d: True, "k")
    train_run(task, {}, execute=lambda task: executed.append(sorted(p.name for p in task.run_dir.iterdir())))
    assert executed and "history.csv" not in executed[0]  # wiped and started afresh, judged by its old record


def test_a_truncated_old_checkpoint_is_left_for_the_run_to_start_again(tmp_path, config):
    run_dir = tmp_path / "run"
    old_folder(run_dir, config)
    checkpoint = run_dir / "checkpoint_last.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:40])
    assert bring_up_to_date(run_dir, config) == ["data.n_val"]
    assert pd.read_csv(run_dir / "history.csv").columns.tolist() == NEW_COLUMNS


OLD_LOSS = {"none": "ce", "uniform": "ls", "instance": "ils"}


def old_single_label_config(config: dict, teacher: str | None = None) -> dict:
    """A single-label configuration as written before smoothing was a scheme of the loss ce (and `n_val`)."""
    saved = json.loads(json.dumps(config))
    train = saved["train"]
    scheme = train.pop("scheme")
    train.pop("explicit_targets")
    train["loss"] = train["loss"] if train["loss"] == "kd" else OLD_LOSS[scheme]
    train["teacher"] = teacher
    return saved


def test_saved_single_label_configs_of_an_earlier_version_read_as_the_runs_they_are_now():
    profile = load_profile("multiclass")
    ce, uniform, instance = profile.teacher_runs()[:3]
    student = profile.student_runs([instance.name])[1]
    old = {
        "resnet8-ce-s0": old_single_label_config(ce.to_dict()),
        "resnet8-ls-a0.1-s0": old_single_label_config(uniform.to_dict()),
        "resnet8-ils-a0.05-T2-s0": old_single_label_config(instance.to_dict(), "resnet8-ce-s0"),
        "shallow-kd-T20-from-resnet8-ils-a0.05-T2-s0-ts": old_single_label_config(
            student.to_dict(), "resnet8-ils-a0.05-T2-s0"
        ),
    }
    for (old_name, saved), now in zip(old.items(), (ce, uniform, instance, student)):
        assert renamed_run(old_name) == now.name
        assert RunConfig.from_dict(saved) == now and now.differences(saved) == []


def test_single_label_folders_named_before_smoothing_was_a_scheme_move_to_their_names_without_retraining(tmp_path):
    profile = load_profile("multiclass")
    ce, instance = profile.teacher_runs()[0], profile.teacher_runs()[2]
    student = profile.student_runs([instance.name])[0]
    runs = tmp_path / "multiclass" / "runs"
    old_folder(runs / "resnet8-ce-s0", old_single_label_config(ce.to_dict()))
    old_folder(runs / "resnet8-ils-a0.05-T2-s0", old_single_label_config(instance.to_dict(), "resnet8-ce-s0"))
    taught = runs / "shallow-kd-T20-from-resnet8-ils-a0.05-T2-s0"
    old_folder(taught, old_single_label_config(student.to_dict(), "resnet8-ils-a0.05-T2-s0"))
    teacher_sha = file_sha256(runs / "resnet8-ils-a0.05-T2-s0" / "model_best.pt")
    stamp = {"teacher": "resnet8-ils-a0.05-T2-s0", "model_best_sha256": teacher_sha}
    (taught / "teacher.json").write_text(json.dumps(stamp))
    (tmp_path / "multiclass" / "selection.json").write_text(json.dumps({"per_model_seed": {}}))
    best = (taught / "model_best.pt").read_bytes()

    moved = rename_run_folders(runs, RunConfig)

    assert moved == {
        "resnet8-ce-s0": ce.name,
        "resnet8-ils-a0.05-T2-s0": instance.name,
        "shallow-kd-T20-from-resnet8-ils-a0.05-T2-s0": student.name,
    }
    assert sorted(p.name for p in runs.iterdir()) == sorted(moved.values())
    for run in (ce, instance, student):
        run_dir = runs / run.name
        assert json.loads((run_dir / "config.json").read_text()) == run.to_dict()
        assert pd.read_csv(run_dir / "history.csv").columns.tolist() == NEW_COLUMNS
        assert not (run_dir / "metrics.json").exists() and not (run_dir / "predictions_val.csv").exists()
    assert (runs / student.name / "model_best.pt").read_bytes() == best
    assert json.loads((runs / student.name / "teacher.json").read_text())["teacher"] == instance.name
    assert not teacher_changed(instance.name, runs / student.name)  # its teacher is the same model: not retrained
    assert not (tmp_path / "multiclass" / "selection.json").exists()  # it named the old runs: chosen again
    assert rename_run_folders(runs, RunConfig) == {}  # a second pass finds nothing to move


def test_a_folder_whose_name_now_is_taken_stays_where_it_is(tmp_path):
    ce = load_profile("multiclass").teacher_runs()[0]
    runs = tmp_path / "runs"
    old_folder(runs / "resnet8-ce-s0", old_single_label_config(ce.to_dict()))
    old_folder(runs / ce.name, ce.to_dict())
    assert rename_run_folders(runs, RunConfig) == {}
    assert (runs / "resnet8-ce-s0" / "metrics.json").is_file()
