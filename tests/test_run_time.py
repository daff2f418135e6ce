"""Where a run's time goes, read back from its records and its executed notebooks."""

import json

from benchmarks import run_time


def executed_notebook(path, total, cells):
    cells = [{"cell_type": "code", "metadata": {"papermill": {"duration": d}}, "source": ""} for d in cells]
    path.write_text(json.dumps({"cells": cells, "metadata": {"papermill": {"duration": total}}}))


def test_a_runs_time_is_split_into_epochs_notebooks_and_the_rest(tmp_path, capsys):
    run = tmp_path / "demo" / "runs" / "resnet18-none-a0-s0"
    run.mkdir(parents=True)
    (run / "execution.json").write_text(json.dumps({"seconds": 100.0}))
    (run / "history.csv").write_text("epoch,seconds\n1,30\n2,40\n")
    executed_notebook(run / "2.0-train.ipynb", 80.0, [0.0, 5.0, 72.0])
    executed_notebook(run / "3.0-evaluate.ipynb", 15.0, [None, 12.0])
    (tmp_path / "demo" / "runs" / "unstarted").mkdir()
    running = tmp_path / "demo" / "runs" / "running"
    running.mkdir()
    (running / "execution.json").write_text(json.dumps({"started": "now"}))
    (running / "history.csv").write_text("epoch,seconds\n1,30\n")
    frame = run_time.runs_frame(tmp_path / "demo")
    row = frame.iloc[0]
    assert list(frame.run) == ["resnet18-none-a0-s0"] and row.epochs == 70 and row.outside_epochs == 30
    assert (row.train_notebook, row.train_slowest_cell, row.evaluate_slowest_cell) == (80, 72, 12)
    run_time.main([str(tmp_path / "demo")])
    assert "resnet18" in capsys.readouterr().out
