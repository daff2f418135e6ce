"""Profiles: the shipped ones load, the grid expands as documented, bad values are named."""

import pytest

from lsml_core import tracks
from lsml_core.layout import PROFILE
from lsml_core.multilabel.config import RunConfig, load_profile
from lsml_core.profiles import CONFIG_DIR, ran_or_named, results_folder


@pytest.mark.parametrize(
    "name, n_runs",
    [
        ("demo", 6),
        ("quick", 18),
        ("voc2012", 6),
        ("study", 63),
        ("conventions", 21),
        ("study-gpu", 30),
        ("converged", 78),
        ("pretrained", 36),
        ("noise", 27),
    ],
)
def test_shipped_profiles_load(name, n_runs):
    profile = load_profile(name)
    assert profile.name == name and len(profile.runs()) == n_runs


def test_grid_arms_are_merged_and_instance_runs_follow_their_teachers():
    runs = load_profile("study").runs()
    names = [r.name for r in runs]
    assert len(set(names)) == len(names)
    for i, run in enumerate(runs):
        if run.train.scheme == "instance":
            assert run.train.teacher in names[:i]
    assert "resnet18-uniform-a0.1-s0-n0.4" in names and "mobilenet_v2-binary-a0.3-s0" in names


def test_grid_runs_baseline_once_per_model_and_seed():
    names = [run.name for run in load_profile("demo").runs()]
    assert names[:3] == ["resnet18-none-a0-s0", "resnet18-uniform-a0.1-s0", "resnet18-positive-a0.1-s0"]
    assert len(set(names)) == len(names)


def test_losses_are_named_in_run_names_and_their_instance_runs_learn_from_the_bce_baseline(tmp_path):
    path = tmp_path / "losses.yaml"
    path.write_text(
        "name: losses\ngrid:\n  arms:\n    - {model: resnet18, loss: [bce, focal], scheme: [none, instance], alpha: 0.1}\n"
    )
    runs = {r.name: r for r in load_profile(path).runs()}
    assert set(runs) == {
        "resnet18-none-a0-s0",
        "resnet18-instance-a0.1-s0",
        "resnet18-focal-none-a0-s0",
        "resnet18-focal-instance-a0.1-s0",
    }
    assert runs["resnet18-focal-instance-a0.1-s0"].train.teacher == "resnet18-none-a0-s0"
    path.write_text("name: losses\ngrid:\n  arms: [{loss: hinge}]\n")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        load_profile(path)


def test_a_learning_rate_grid_names_its_rates_and_keeps_the_recipes_backbone_ratio(tmp_path):
    path = tmp_path / "lrs.yaml"
    path.write_text(
        "name: lrs\ntrain: {lr_backbone: 0.01, lr_head: 0.1}\ngrid:\n  arms:\n    - {}\n"
        "    - {loss: focal, lr: [0.02, 0.2]}\n"
    )
    runs = {r.name: r.train for r in load_profile(path).runs()}
    assert set(runs) == {"resnet18-none-a0-s0", "resnet18-focal-none-a0-s0-lr0.02", "resnet18-focal-none-a0-s0-lr0.2"}
    assert (runs["resnet18-none-a0-s0"].lr_head, runs["resnet18-none-a0-s0"].lr_in_name) == (0.1, False)
    low = runs["resnet18-focal-none-a0-s0-lr0.02"]
    assert low.lr_head == 0.02 and low.lr_backbone == pytest.approx(0.002) and low.lr_in_name


def test_an_instance_run_in_a_learning_rate_grid_learns_from_the_baseline_at_its_rate(tmp_path):
    path = tmp_path / "lrs.yaml"
    path.write_text("name: lrs\ngrid: {arms: [{scheme: [none, instance], alpha: 0.1, lr: [0.02, 0.2]}]}\n")
    runs = {r.name: r.train for r in load_profile(path).runs()}
    assert runs["resnet18-instance-a0.1-s0-lr0.02"].teacher == "resnet18-none-a0-s0-lr0.02"
    assert runs["resnet18-instance-a0.1-s0-lr0.2"].teacher == "resnet18-none-a0-s0-lr0.2"


def test_voc2012_profile_is_the_original_recipe():
    profile = load_profile("voc2012")
    t = profile.train
    assert (profile.data.dataset, profile.data.image_size, t.batch_size, t.epochs, t.cosine_t_max) == (
        "voc",
        300,
        8,
        15,
        12,
    )
    assert (t.lr_backbone, t.lr_head, t.momentum, t.pretrained) == (1.5e-4, 5e-2, 0.9, "imagenet")


def test_the_grouped_converged_profile_runs_table_1s_arms_over_three_seeds():
    track, profile = tracks.load_profile("grouped-converged")
    t, d = profile.train, profile.data
    assert track.name == "grouped" and profile.grid.seeds == [0, 1, 2] and len(profile.runs()) == 15
    assert (d.image_size, d.symbol_size, d.n_labeled, d.n_selection) == (32, 16, 3000, 500)
    assert (t.model, t.sesemi, t.epochs, t.lr, t.lr_drop) == ("resnet18", "labeled", 9, 0.001, 0.3)
    assert t.group_weights == {"digit": 1, "item": 2}  # the harder group (the item) weighted most, as the source
    assert t.pseudo and t.pseudo_precision >= 0.6 and 30 <= t.pseudo_min_count <= d.n_selection
    arms = [r.train for r in profile.runs() if r.train.seed == 0]
    assert [(a.model, a.sesemi, a.weight("item")) for a in arms] == [
        ("resnet18", "labeled", 2),
        ("resnet18", "labeled", 1),
        ("mobilenet_v2", "labeled", 2),
        ("resnet18", "none", 2),
        ("resnet18", "unlabeled", 2),
    ]


def test_run_config_round_trips_through_a_dict():
    run = load_profile("quick").runs()[1]
    assert RunConfig.from_dict(run.to_dict()) == run


@pytest.mark.parametrize(
    "text, message",
    [
        ("grid: {arms: [{scheme: uniform, alpha: [0.1, 1.2]}]}", "alpha=1.2"),
        ("grid: {arms: [{scheme: smooth}]}", "unknown smoothing scheme"),
        ("grid: {arms: [{model: [resnet18, vgg]}]}", "unknown model"),
        ("grid: {arms: [{seed: 1}]}", "cannot be set there"),
        ("grid: {arms: [{lr_head: 0.1, learning_rate: 1}]}", r"key\(s\) \['learning_rate'\]"),
        ("grid: {seeds: 0}", "grid.seeds=0 must be a non-empty list of integers"),
        ("grid: {arms: [{seeds: [0.5]}]}", "must be a non-empty list of integers"),
        ("grid: {arms: {scheme: none}}", "grid.arms=.* must be a non-empty list of mappings"),
        ("train: {learning_rate: 1}", "unknown key"),
        ("data: {kind: voc}", "`kind` was renamed `dataset`"),
        ("data: {dataset: cifar}", "unknown data set"),
        ("data: {data_path: gpu}", "unknown data_path 'gpu': choose one of cached, pil"),
        ("extra: 1", "unknown section"),
        ("grid: {arms: [{lr: [0.1, 0]}]}", "lr_backbone=0.0 must be positive"),
    ],
)
def test_bad_profiles_are_named(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_profile(path)


def test_instance_without_baseline_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("grid: {arms: [{scheme: [uniform, instance], alpha: 0.1}]}")
    with pytest.raises(ValueError, match="learns from the teacher run resnet18-none-a0-s0, which is not among"):
        load_profile(path)


def test_unknown_profile_lists_the_known_ones():
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    assert "conventions, converged, demo" in known
    with pytest.raises(ValueError, match=known):
        load_profile("nope")


def test_a_missing_profile_file_is_said_to_be_missing_with_the_command_that_writes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"results/quick/profile.yaml is missing: ./run_all.sh --profile quick"):
        load_profile("../../results/quick/profile.yaml")
    with pytest.raises(FileNotFoundError, match=r"^the profile file .*mine.yaml is missing$"):
        load_profile(tmp_path / "mine.yaml")


def test_a_results_folder_is_checked_for_its_profile_before_it_is_read(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"results/demo/profile.yaml is missing: ./run_all.sh --profile demo"):
        results_folder(tmp_path / "results" / "demo")
    (tmp_path / "results" / "demo").mkdir(parents=True)
    (tmp_path / "results" / "demo" / PROFILE).write_text("name: demo\n")
    assert results_folder(tmp_path / "results" / "demo") == tmp_path / "results" / "demo"


def test_a_run_notebook_takes_the_profile_its_results_folder_ran_else_the_named_one(tmp_path):
    assert ran_or_named(tmp_path / "demo", "demo") == "demo"
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / PROFILE).write_text("name: mine\n")
    assert ran_or_named(tmp_path / "demo", "demo") == tmp_path / "demo" / PROFILE
