"""Every refusal of a profile value names one problem: the value that is wrong, never one that is fine."""

import re

import pytest

from lsml_core import tracks
from lsml_core.executors import check_resources
from lsml_core.grouped import config as grouped
from lsml_core.multiclass import config as multiclass
from lsml_core.multilabel import config as multilabel
from lsml_core.multilabel.pretraining import Recipe


@pytest.mark.parametrize(
    "make, values, message",
    [
        (grouped.TrainConfig, {"pseudo_precision": 1.5}, "pseudo_precision=1.5 must lie in (0, 1]"),
        (grouped.TrainConfig, {"temperature": 0}, "temperature=0 must be > 0"),
        (grouped.TrainConfig, {"alpha": 1.0}, "alpha=1.0 must lie in [0, 1)"),
        (grouped.TrainConfig, {"lr_drop": 2}, "lr_drop=2 must lie in (0, 1]"),
        (grouped.TrainConfig, {"batch_size": 0}, "batch_size=0 must be >= 1"),
        (grouped.TrainConfig, {"epochs_pseudo": -1}, "epochs_pseudo=-1 must be >= 0"),
        (grouped.TrainConfig, {"sesemi_weight": -1}, "sesemi_weight=-1 must be a number >= 0"),
        (grouped.TrainConfig, {"group_weights": {"item": -2}}, "group_weights['item']=-2 must be a number >= 0"),
        (grouped.DataConfig, {"n_test": 0}, "n_test=0 must be >= 1"),
        (multiclass.TrainConfig, {"kd_weight": 2}, "kd_weight=2 must lie in [0, 1]"),
        (multiclass.TrainConfig, {"patience": 0}, "patience=0 must be >= 1"),
        (multiclass.DataConfig, {"n_test": 0}, "n_test=0 must be positive, or null for all"),
        (multiclass.DataConfig, {"projection_classes": [0, 1]}, "projection_classes=[0, 1] must name exactly three"),
        (multilabel.TrainConfig, {"lr_head": 0}, "lr_head=0 must be positive"),
        (multilabel.TrainConfig, {"batch_size": 0}, "batch_size=0 must be at least 1"),
        (multilabel.DataConfig, {"kind": "voc", "classes": ["a", "a"]}, "classes=['a', 'a'] must be distinct names"),
        (Recipe, {"lr": 0}, "lr=0 must be positive"),
    ],
)
def test_a_refusal_names_only_the_wrong_value(make, values, message):
    with pytest.raises(ValueError) as refused:
        make(**values)
    assert str(refused.value).startswith(message)
    named = set(re.findall(r"([\w\[\]']+)=", str(refused.value)))
    assert named == {message.split("=")[0]}, str(refused.value)


def test_phases_that_add_up_to_no_epoch_and_bad_resources_are_one_problem_each():
    with pytest.raises(ValueError, match="^epochs_plain, epochs_augmented and epochs_pseudo are all 0"):
        grouped.TrainConfig(epochs_plain=0, epochs_augmented=0, epochs_pseudo=0)
    with pytest.raises(ValueError, match=r"^--gpus-per-run -1 must be at least 0$"):
        check_resources(1, -1, [{"CPU": 2}])
    with pytest.raises(ValueError, match=r"^--cpus-per-run 0 must be positive$"):
        check_resources(0, 0, [{"CPU": 2}])


DEGREE = "one name for the smoothing degree in every track"
NETWORK = "one name for the network in every track"


@pytest.mark.parametrize(
    "text, old, new, why, where",
    [
        ("train: {epsilon: 0.1}", "epsilon", "alpha", DEGREE, "section 'train'"),
        ("train: {backbone: resnet18}", "backbone", "model", NETWORK, "section 'train'"),
        ("track: multiclass\ntrain: {epsilon: 0.1}", "epsilon", "alpha", DEGREE, "section 'train'"),
        ("track: multiclass\ngrid: {ls_epsilon: 0.1}", "ls_epsilon", "ls_alpha", DEGREE, "section 'grid'"),
        ("track: multiclass\ngrid: {ils_epsilons: [0.1]}", "ils_epsilons", "ils_alphas", DEGREE, "section 'grid'"),
        (
            "track: multiclass\ngrid: {kd_alpha: 0.9}",
            "kd_alpha",
            "kd_weight",
            "alpha names the smoothing degree in every track",
            "section 'grid'",
        ),
        ("track: grouped\ntrain: {epsilon: 0.2}", "epsilon", "alpha", DEGREE, "section 'train'"),
        ("track: grouped\ntrain: {backbone: resnet18}", "backbone", "model", NETWORK, "section 'train'"),
        (
            "track: grouped\ngrid: {arms: [{}, {backbone: mobilenet_v2}]}",
            "backbone",
            "model",
            NETWORK,
            "grid.arms of profile old",
        ),
    ],
)
def test_a_renamed_key_is_refused_with_its_new_name_in_every_track(tmp_path, text, old, new, why, where):
    path = tmp_path / "old.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as refused:
        tracks.load_profile(path)
    place = where if where.startswith("grid.arms") else f"{where} of {path}"
    assert str(refused.value) == f"`{old}` was renamed `{new}` ({why}): rename the key in {place}"


def test_a_run_configuration_saved_with_an_old_key_reads_as_another_configuration():
    run = multiclass.load_profile("multiclass").teacher_runs()[1]  # LS at alpha 0.1
    saved = run.to_dict()
    saved["train"]["epsilon"] = saved["train"].pop("alpha")
    with pytest.raises(ValueError, match="`epsilon` was renamed `alpha`"):
        multiclass.RunConfig.from_dict(saved)
    assert run.differences(saved) == ["*"] and run.differences(run.to_dict()) == []
