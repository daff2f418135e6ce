"""A run folder written before the renaming of the splits: read with its keys mapped, brought up to date without
retraining (what training wrote renamed, what evaluation wrote removed), and left alone when it is current."""

import json

import pandas as pd
import pytest
import torch

from lsml_core.multiclass.config import load_profile
from lsml_core.outputs import record_outputs
from lsml_core.pipeline.renaming import bring_up_to_date, history_column
from lsml_core.pipeline.run_task import RunTask, train_run

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
