"""Every refusal of a profile value names one problem: the value that is wrong, never one that is fine."""

import re

import pytest

from lsml_core import tracks
from lsml_core.grouped import config as grouped
from lsml_core.multiclass import config as multiclass
from lsml_core.multilabel import config as multilabel
from lsml_core.multilabel.pretraining import Recipe
from lsml_core.pipeline.executors import check_resources


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
        (multilabel.DataConfig, {"dataset": "voc", "classes": ["a", "a"]}, "classes=['a', 'a'] must be distinct names"),
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
    with pytest.raises(ValueError, match=r"^--threads 0 must be positive$"):
        check_resources(0, 0, [{"CPU": 2}])


DEGREE = "one name for the smoothing degree in every track"
NETWORK = "one name for the network in every track"


@pytest.mark.parametrize(
    "text, old, new, why, where",
    [
        ("train: {epsilon: 0.1}", "epsilon", "alpha", DEGREE, "section 'train'"),
        ("train: {backbone: resnet18}", "backbone", "model", NETWORK, "section 'train'"),
        ("track: multiclass\ntrain: {epsilon: 0.1}", "epsilon", "alpha", DEGREE, "section 'train'"),
        (
            "track: multiclass\ntrain: {kd_alpha: 0.9}",
            "kd_alpha",
            "kd_weight",
            "alpha names the smoothing degree in every track",
            "section 'train'",
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


MULTICLASS_0_7 = """track: multiclass
grid:
  models: [resnet8]
  seeds: [0, 1, 2]
  ls_alpha: 0.1
  ls_targets: false
  ils_alphas: [0.05, 0.1]
  ils_temperatures: [2, 8]
  selection_metric: accuracy
  student: shallow
  kd_weight: 0.9
  kd_temperature: 20
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "grids: [{models: [resnet18]}]",
            r"`grids` \(a list of blocks\) was replaced by one `grid` of `seeds` and `arms` in every track: each "
            r"block becomes an arm .* what a block left to its defaults is written out \(models \[resnet18, "
            r"mobilenet_v2\], schemes \[none, uniform, positive\], alphas \[0.1\]\), e.g. grid: \{seeds: \[0, 1\], "
            r"arms: \[\{model: \[resnet18, mobilenet_v2\], scheme",
        ),
        (
            "grid: {models: [resnet18], schemes: [none]}",
            r"grid key\(s\) \['models', 'schemes'\] were replaced \(grid.models: an arm's `model` \(a list: one run "
            r"per model\); grid.schemes: an arm's `scheme`\)",
        ),
        ("grid: {lrs: [0.1]}", r"\(grid.lrs: an arm's `lr`\)"),
        ("track: multiclass\ngrid: {ls_epsilon: 0.1}", r"\(grid.ls_epsilon: an arm \{scheme: uniform, alpha"),
        ("track: multiclass\ngrid: {kd_alpha: 0.9}", r"\(grid.kd_alpha: `distillation.kd_weight`\)"),
        (
            MULTICLASS_0_7,
            r"grid key\(s\) \['ils_alphas', 'ils_temperatures', 'kd_temperature', 'kd_weight', 'ls_alpha', "
            r"'ls_targets', 'models', 'selection_metric', 'student'\] were replaced .*grid.ls_targets: an arm "
            r"\{scheme: uniform, alpha: ..., explicit_targets: true\} \(or nothing, for false\).* e.g. grid: "
            r"\{seeds: \[0, 1\], arms: \[\{scheme: none\}, .*distillation: \{selection_metric",
        ),
        (
            "grid: [{model: resnet18}]",
            r"grid must be a mapping of `seeds` and `arms` \(a list of arms goes under grid.arms\)",
        ),
        (
            "track: grouped\ngrid: {models: [resnet18]}",
            r"e.g. grid: \{seeds: \[0, 1\], arms: \[\{\}, \{sesemi: none\}\]\}",
        ),
    ],
)
def test_a_grid_of_an_earlier_shape_is_refused_saying_how_it_is_written_now(tmp_path, text, message):
    path = tmp_path / "old.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as refused:
        tracks.load_profile(path)
    assert f"profile {path}; a results folder's profile.yaml is rewritten by ./run_all.sh --profile NAME" in str(
        refused.value
    )


@pytest.mark.parametrize(
    "arm, message",
    [
        (
            "{schemes: [none, uniform]}",
            r"`schemes` in arm \{'schemes': \['none', 'uniform'\]\} of profile old is now an arm's `scheme`",
        ),
        ("{model: resnet18, seeds: [0], lrs: [0.1]}", r"`lrs` in arm .* is now an arm's `lr`"),
    ],
)
def test_an_old_key_inside_an_arm_says_how_it_is_written_now(tmp_path, arm, message):
    path = tmp_path / "old.yaml"
    path.write_text(f"grid: {{arms: [{arm}]}}")
    with pytest.raises(ValueError, match=message):
        tracks.load_profile(path)


def test_a_run_configuration_saved_with_an_old_key_reads_with_the_key_renamed():
    run = multiclass.load_profile("multiclass").teacher_runs()[1]  # LS at alpha 0.1
    saved = run.to_dict()
    saved["train"]["epsilon"] = saved["train"].pop("alpha")
    saved["data"]["n_val"] = saved["data"].pop("n_selection")
    assert multiclass.RunConfig.from_dict(saved) == run  # a results folder written before the renaming is not retrained
    assert run.differences(saved) == [] and run.differences(run.to_dict()) == []
    saved["train"]["alpha"] = 0.2  # the old key beside its new one: another configuration
    assert run.differences(saved) == ["*"]


def test_the_backbones_a_profile_may_name_are_those_the_registry_builds():
    from lsml_core.backbones import MODELS
    from lsml_core.checks import BACKBONES

    assert tuple(MODELS) == BACKBONES


@pytest.mark.parametrize("track", ["multilabel", "multiclass", "grouped"])
def test_keep_checkpoints_is_a_profile_key_of_every_track_and_must_be_true_or_false(tmp_path, track):
    path = tmp_path / "p.yaml"
    path.write_text(f"track: {track}\nname: p\nkeep_checkpoints: true\n")
    assert tracks.load_profile(path)[1].keep_checkpoints is True
    path.write_text(f"track: {track}\nname: p\n")
    assert tracks.load_profile(path)[1].keep_checkpoints is False
    path.write_text(f"track: {track}\nname: p\nkeep_checkpoints: sometimes\n")
    with pytest.raises(ValueError, match="keep_checkpoints='sometimes' in profile .* must be true"):
        tracks.load_profile(path)
