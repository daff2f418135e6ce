"""Multi-label runs fine-tuned from a pretraining stage: the profile keys, the images kept apart, the backbone a
run starts from and its record; `pretrained: true/false` of earlier profiles still reads."""

import numpy as np
import pytest
import torch

from lsml_core.layout import PRETRAINED
from lsml_core.multilabel import pretraining
from lsml_core.multilabel.config import DataConfig, RunConfig, TrainConfig, load_profile
from lsml_core.multilabel.demo_data import MosaicSpec, make_mosaics
from lsml_core.multilabel.train import initial_model
from lsml_core.records import read_json
from tests.multilabel.test_pretraining import TINY, Synthetic
from tests.multilabel.test_training import tiny_config


def test_pretrained_reads_none_imagenet_stage_and_the_booleans_of_earlier_profiles():
    assert TrainConfig(pretrained=False).pretrained == "none" and TrainConfig(pretrained=True).pretrained == "imagenet"
    assert TrainConfig(pretrained="stage").pretraining == pretraining.Recipe()
    with pytest.raises(ValueError, match="unknown pretrained 'cifar': choose one of none, imagenet, stage"):
        TrainConfig(pretrained="cifar")
    with pytest.raises(ValueError, match="set pretrained: stage"):
        TrainConfig(pretraining={"epochs": 3})


def test_a_configuration_saved_with_pretrained_false_still_matches(tmp_path):
    cfg = tiny_config(tmp_path)
    saved = cfg.to_dict()
    saved["train"]["pretrained"] = False
    assert cfg.differences(saved) == []


@pytest.mark.parametrize(
    "data, message",
    [
        ("{dataset: demo, image_size: 32}", "set data.train_pool: 50000 or lower"),
        ("{dataset: demo, image_size: 32, train_pool: 55000}", "set data.train_pool: 50000 or lower"),
        (
            "{dataset: demo, image_size: 48, train_pool: 50000}",
            "pretraining.image_size=32 differs from data.image_size=48",
        ),
    ],
)
def test_a_stage_must_not_see_the_profiles_images_and_must_see_their_size(tmp_path, data, message):
    path = tmp_path / "p.yaml"
    path.write_text(f"data: {data}\ntrain: {{pretrained: stage}}\n")
    with pytest.raises(ValueError, match=message):
        load_profile(path)


def test_the_shipped_pretrained_profile_keeps_its_stage_apart():
    profile = load_profile("pretrained")
    recipe = profile.train.pretraining
    assert profile.data.train_pool <= recipe.first and recipe.image_size == profile.data.image_size
    assert profile.train.lr_backbone < profile.train.lr_head  # fine-tuning: the backbone learns slower
    stages = {run.train.stage.name for run in profile.runs()}
    assert len(stages) == len({r.train.model for r in profile.runs()})  # one stage per model, shared by its runs


def test_mosaics_draw_only_from_the_training_pool():
    images = np.arange(1000, dtype=np.uint8).reshape(1000, 1, 1).repeat(28, 1).repeat(28, 2)
    labels = np.arange(1000) % 10
    pool = 300
    _, cell_labels = make_mosaics(
        images[:pool], labels[:pool], 200, MosaicSpec(train_pool=pool), np.random.default_rng(0)
    )
    assert cell_labels.max() < 10 and (cell_labels >= 0).any()
    assert MosaicSpec().train_pool is None  # by default every training image, as before


def test_a_fine_tuned_run_starts_from_the_stage_backbone_and_records_it(tmp_path):
    recipe = {**TINY, "epochs": 1}
    cfg = RunConfig(
        profile="test",
        data=DataConfig(dataset="voc", root=str(tmp_path), classes=["a", "b", "c", "d"], image_size=16),
        train=TrainConfig(model="resnet18", pretrained="stage", pretraining=recipe, lr_backbone=0.01, lr_head=0.05),
    )
    record = pretraining.ensure(cfg.train.stage, tmp_path, lambda: Synthetic)
    model = initial_model(cfg, 4, torch.device("cpu"), tmp_path / "run", tmp_path)
    saved = torch.load(pretraining.stage_dir(tmp_path, cfg.train.stage) / pretraining.WEIGHTS, weights_only=True)
    assert torch.equal(model.layer4[1].conv2.weight, saved["layer4.1.conv2.weight"])
    assert read_json(tmp_path / "run" / PRETRAINED) == {"stage": record["stage"], "sha256": record["sha256"]}
    assert cfg.to_dict()["train"]["pretraining"]["epochs"] == 1  # config.json names the stage's recipe


@pytest.mark.parametrize("pool", [-1, 0, 60_001])
def test_a_train_pool_outside_fashion_mnist_is_refused_by_name(pool):
    with pytest.raises(ValueError, match=f"train_pool={pool} must lie in"):
        DataConfig(dataset="demo", train_pool=pool)
