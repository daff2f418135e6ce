"""The pretraining stage: its images, its record, reuse by key, resume after SIGKILL, repair of damaged weights,
and the backbone a fine-tuned run starts from."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lsml_core.multilabel import pretraining
from lsml_core.records import file_sha256, read_json

REPO = Path(__file__).resolve().parents[2]
TINY = {"first": 100, "count": 300, "n_selection": 60, "image_size": 16, "epochs": 3, "batch_size": 16, "lr": 0.01}


class Synthetic:
    """400 grey 28 x 28 'items' of 4 classes, each a bright band of 7 rows at its class's height."""

    name = "synthetic items"
    train_labels = np.random.default_rng(0).integers(0, 4, 400)
    train_images = np.zeros((400, 28, 28), dtype=np.uint8)
    for band in range(7):
        train_images[np.arange(400), 7 * train_labels + band, :] = 255


def tiny_stage(**recipe) -> pretraining.Stage:
    return pretraining.stage_of("resnet18", {**TINY, **recipe})


def test_recipes_out_of_range_are_refused():
    with pytest.raises(ValueError, match="within Fashion-MNIST's 60000 training images"):
        pretraining.Recipe(first=55_000, count=10_000)
    with pytest.raises(ValueError, match="n_selection=0"):
        pretraining.Recipe(n_selection=0)
    with pytest.raises(ValueError, match="unknown pretraining key"):
        pretraining.stage_of("resnet18", {"epoch": 3})


def test_each_item_sits_in_one_cell_of_an_empty_canvas():
    items = np.full((5, 28, 28), 200, dtype=np.uint8)
    canvases = pretraining.canvases(items, grid=2, size=56, rng=np.random.default_rng(0))
    assert canvases.shape == (5, 3, 56, 56) and canvases.dtype == torch.uint8
    for canvas in canvases[:, 0]:
        cells = [canvas[r : r + 28, c : c + 28].float().mean().item() for r in (0, 28) for c in (0, 28)]
        assert sorted(cells) == [0.0, 0.0, 0.0, 200.0]


def test_the_stage_name_is_its_recipe_model_and_threads():
    assert tiny_stage().name == tiny_stage().name != tiny_stage(epochs=4).name
    assert tiny_stage().name != pretraining.stage_of("mobilenet_v2", TINY).name
    assert tiny_stage().name != pretraining.stage_of("resnet18", TINY, threads=2).name
    assert tiny_stage().name.startswith("resnet18-")


def test_a_stage_trains_on_its_own_threads_and_leaves_the_process_as_it_was(monkeypatch, tmp_path):
    seen, before = [], torch.get_num_threads()
    monkeypatch.setattr(pretraining, "train_on_threads", lambda *args: seen.append(torch.get_num_threads()))
    images = np.zeros((TINY["first"] + TINY["count"], 28, 28), dtype=np.uint8)
    stage = pretraining.stage_of("resnet18", TINY, threads=2)
    pretraining.train_stage(stage, tmp_path, images, np.zeros(len(images), dtype=np.int64), "test")
    assert seen == [2] and torch.get_num_threads() == before


def test_a_stage_is_trained_once_recorded_and_reused(tmp_path):
    stage, loads = tiny_stage(), []
    record = pretraining.ensure(stage, tmp_path, lambda: loads.append(1) or Synthetic)
    folder = pretraining.stage_dir(tmp_path, stage)
    assert record["sha256"] == file_sha256(folder / pretraining.WEIGHTS) and record == read_json(folder / "record.json")
    assert record["images"] == {"set": "Fashion-MNIST training images", "fit": [100, 340], "selection": [340, 400]}
    assert record["recipe"]["epochs"] == 3 and record["source"] == "synthetic items" and record["threads"] == 1
    assert record["selection_accuracy"] > 0.5  # well above the 0.25 of chance: it learned the items
    history = (folder / "history.csv").stat().st_mtime_ns
    assert pretraining.ensure(stage, tmp_path, lambda: loads.append(1) or Synthetic) == record
    assert loads == [1] and (folder / "history.csv").stat().st_mtime_ns == history


def test_damaged_weights_are_listed_by_verify_then_made_again_from_the_checkpoint(tmp_path):
    stage = tiny_stage(epochs=1)
    name = f"pretraining stage {stage.name}"
    assert pretraining.stage_state(stage, tmp_path) == (
        name,
        "not trained yet: a rerun trains it before its runs",
        False,
    )
    record = pretraining.ensure(stage, tmp_path, lambda: Synthetic)
    assert pretraining.stage_state(stage, tmp_path) == (name, "intact: a rerun reuses it", False)
    weights = pretraining.stage_dir(tmp_path, stage) / pretraining.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:100])
    assert not pretraining.intact(weights.parent)
    assert pretraining.stage_state(stage, tmp_path) == (
        name,
        f"damaged ({weights} does not match record.json): a rerun trains it again first",
        True,
    )
    assert pretraining.ensure(stage, tmp_path, lambda: Synthetic)["sha256"] == record["sha256"]


KILLED = """
import sys
from lsml_core.multilabel import pretraining
from tests.multilabel.test_pretraining import Synthetic, tiny_stage
pretraining.ensure(tiny_stage(epochs=4), sys.argv[1], lambda: Synthetic)
"""


def test_a_stage_killed_mid_training_resumes_to_the_same_weights(tmp_path):
    straight = pretraining.ensure(tiny_stage(epochs=4), tmp_path / "a", lambda: Synthetic)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp_path / "b")], cwd=REPO, env=env)
    history = pretraining.stage_dir(tmp_path / "b", tiny_stage(epochs=4)) / "history.csv"
    deadline = time.monotonic() + 300
    while not history.is_file() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(pd.read_csv(history)) < 4  # killed before its last epoch
    resumed = pretraining.ensure(tiny_stage(epochs=4), tmp_path / "b", lambda: Synthetic)
    assert resumed["sha256"] == straight["sha256"]


def test_a_backbone_is_loaded_from_a_stage_without_its_classifier(tmp_path):
    stage = tiny_stage(epochs=1)
    with pytest.raises(FileNotFoundError, match="run_all.sh trains it before the runs"):
        pretraining.load_backbone(pretraining.classifier("resnet18", 4), tmp_path, stage)
    pretraining.ensure(stage, tmp_path, lambda: Synthetic)
    model = pretraining.classifier("resnet18", 4)
    fresh_head = model.fc.weight.clone()
    pretraining.load_backbone(model, tmp_path, stage)
    saved = torch.load(pretraining.stage_dir(tmp_path, stage) / pretraining.WEIGHTS, weights_only=True)
    assert torch.equal(model.conv1.weight, saved["conv1.weight"]) and "fc.weight" not in saved
    assert torch.equal(model.fc.weight, fresh_head)


def test_the_stages_stored_before_the_selection_part_was_renamed_keep_their_names():
    from lsml_core.multilabel.config import load_profile

    names = sorted({run.train.stage.name for run in load_profile("pretrained").runs()})
    assert names == ["mobilenet_v2-2bc8970a322f", "resnet18-66694de0968e"]  # as the stages were first named


def test_a_recipe_of_an_earlier_version_is_refused_in_a_profile_and_read_in_a_saved_record():
    from lsml_core.multilabel.config import RunConfig, load_profile

    with pytest.raises(ValueError, match="`heldout` was renamed `n_selection`"):
        pretraining.stage_of("resnet18", {"heldout": 60})
    stage = tiny_stage()
    saved = stage.to_dict()
    saved["recipe"]["heldout"] = saved["recipe"].pop("n_selection")
    assert stage.differences(saved) == []  # an old stage's checkpoint resumes
    run = load_profile("pretrained").runs()[0]
    old = run.to_dict()
    old["train"]["pretraining"]["heldout"] = old["train"]["pretraining"].pop("n_selection")
    assert RunConfig.from_dict(old) == run and run.differences(old) == []  # an old run is not trained again
