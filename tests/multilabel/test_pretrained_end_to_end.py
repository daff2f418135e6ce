"""End to end: a profile that fine-tunes from a pretraining stage trains the stage before its runs, and a second
profile with the same recipe reuses it without training it again."""

import json
import os

import pytest

from lsml_core.datasets.fashion_mnist import installed
from lsml_core.records import read_json
from tests.commands import run_all

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not installed(), reason="the stage needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"),
]

PROFILE = """
name: {name}
data: {{dataset: demo, root: demo-stage, image_size: 32, n_train: 64, n_val: 32, selection_fraction: 0.25, train_pool: 59000}}
train:
  pretrained: stage
  pretraining: {{first: 59000, count: 300, n_selection: 60, image_size: 32, epochs: 1, batch_size: 32, lr: 0.01}}
  epochs: 1
  batch_size: 16
  max_batches: 2
  lr_backbone: 0.005
  lr_head: 0.05
grid: {{arms: [{{model: resnet18, scheme: [{schemes}], alpha: 0.1}}]}}
"""


def test_the_stage_is_trained_once_before_the_runs_and_reused_by_another_profile(tmp_path):
    for name, schemes in (("first", "none, uniform"), ("second", "none, positive")):
        (tmp_path / f"{name}.yaml").write_text(PROFILE.format(name=name, schemes=schemes))
    common = ("--results-dir", tmp_path / "results", "--data-dir", tmp_path / "data")

    first = run_all("--profile", tmp_path / "first.yaml", *common)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    (stage,) = (tmp_path / "data" / "pretrained").glob("resnet18-*")
    record = read_json(stage / "record.json")
    assert record["images"]["fit"] == [59000, 59240] and record["recipe"]["epochs"] == 1
    assert first.stdout.index(f"pretraining {stage.name}:") < first.stdout.index("start resnet18-none-a0-s0")
    runs = tmp_path / "results" / "first" / "runs"
    for run in ("resnet18-none-a0-s0", "resnet18-uniform-a0.1-s0"):
        assert read_json(runs / run / "pretrained.json") == {"stage": stage.name, "sha256": record["sha256"]}
        assert json.loads((runs / run / "config.json").read_text())["train"]["pretraining"]["first"] == 59000

    trained_at = os.stat(stage / "record.json").st_mtime_ns
    second = run_all("--profile", tmp_path / "second.yaml", *common)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"pretraining {stage.name}: 1 epochs" not in second.stdout  # found stored, not trained again
    assert os.stat(stage / "record.json").st_mtime_ns == trained_at
    second_run = tmp_path / "results" / "second" / "runs" / "resnet18-positive-a0.1-s0"
    assert read_json(second_run / "pretrained.json")["sha256"] == record["sha256"]

    weights = stage / "backbone.pt"
    weights.write_bytes(weights.read_bytes()[:1000])
    verified = run_all("--profile", tmp_path / "second.yaml", *common, "--verify")
    assert verified.returncode == 1, verified.stdout[-3000:] + verified.stderr[-3000:]
    assert f"pretraining stage {stage.name}: damaged ({weights} does not match record.json)" in verified.stdout
    assert "2 runs verified, none damaged" in verified.stdout
    repaired = run_all("--profile", tmp_path / "second.yaml", *common)
    assert repaired.returncode == 0, repaired.stdout[-3000:] + repaired.stderr[-3000:]
    assert read_json(stage / "record.json")["sha256"] == record["sha256"]  # trained again to the same weights
    assert repaired.stdout.count("finished, skipped") == 2
    assert run_all("--profile", tmp_path / "second.yaml", *common, "--verify").returncode == 0
