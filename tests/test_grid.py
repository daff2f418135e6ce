"""The grid: one shape in every track (seeds x arms, an arm's lists crossed), each run once, teachers first."""

from dataclasses import dataclass

import pytest

from lsml_core.grid import Grid, as_field_types, check_arm_keys, profile_runs
from lsml_core.profiles import ProfileBase, RunConfigBase, TrainBase


@dataclass(frozen=True, kw_only=True)
class Train(TrainBase):
    """A recipe of a made-up track: a model, a smoothing degree, a learning rate, a teacher."""

    model: str = "a"
    alpha: float = 0.0
    lr: float = 0.1
    teacher: str | None = None

    @property
    def run_name(self) -> str:
        return f"{self.model}-a{self.alpha:g}-s{self.seed}"


@dataclass(frozen=True)
class Data:
    """The made-up track's data: nothing to configure."""


@dataclass(frozen=True, kw_only=True)
class Run(RunConfigBase):
    data: Data
    train: Train


@dataclass(frozen=True, kw_only=True)
class Profile(ProfileBase):
    data: Data
    train: Train
    grid: Grid

    run_config = Run


def runs(grid: Grid, teacher=lambda train: None, hint="add it") -> list:
    return profile_runs(Profile(name="p", data=Data(), train=Train(), grid=grid), teacher=teacher, teacher_hint=hint)


def test_an_arms_lists_are_crossed_and_every_arm_runs_once_per_seed_a_whole_seed_first():
    cells = list(Grid(seeds=[0, 1], arms=[{"model": ["a", "b"], "alpha": [0.1, 0.2]}, {}]).cells())
    assert cells[:5] == [
        {"model": "a", "alpha": 0.1, "seed": 0},
        {"model": "a", "alpha": 0.2, "seed": 0},
        {"model": "b", "alpha": 0.1, "seed": 0},
        {"model": "b", "alpha": 0.2, "seed": 0},
        {"seed": 0},
    ]
    assert len(cells) == 10 and [c["seed"] for c in cells] == [0] * 5 + [1] * 5


def test_an_arms_own_seeds_replace_the_grids_and_with_seeds_drops_them():
    grid = Grid(seeds=[0, 1, 2], arms=[{"alpha": 0.1}, {"alpha": 0.3, "seeds": [1]}])
    assert [(c["alpha"], c["seed"]) for c in grid.cells()] == [(0.1, 0), (0.1, 1), (0.3, 1), (0.1, 2)]
    assert [(c["alpha"], c["seed"]) for c in grid.with_seeds([5]).cells()] == [(0.1, 5), (0.3, 5)]


def test_whole_numbers_for_float_fields_are_made_floats_so_a_runs_configuration_does_not_depend_on_how_it_was_written():
    changes = as_field_types(Train, {"alpha": 1, "lr": 2, "seed": 3, "model": "a"})
    assert changes == {"alpha": 1.0, "lr": 2.0, "seed": 3, "model": "a"}
    assert [type(v) for v in changes.values()] == [float, float, int, str]
    assert runs(Grid(arms=[{"alpha": 0}])) == runs(Grid(arms=[{"alpha": 0.0}]))


def test_the_same_run_from_two_arms_is_kept_once_and_two_different_runs_of_one_name_are_refused():
    assert [r.name for r in runs(Grid(arms=[{"model": ["a", "b"]}, {"model": "a"}]))] == ["a-a0-s0", "b-a0-s0"]
    with pytest.raises(ValueError, match="two different runs named a-a0-s0: they differ only in keys the run name"):
        runs(Grid(arms=[{}, {"lr": 0.5}]))


def test_a_taught_run_follows_its_teacher_which_must_be_among_the_runs():
    def teacher(train):
        return {"alpha": 0.0} if train.get("alpha", 0.0) > 0 else None

    taught = runs(Grid(arms=[{"alpha": [0.1, 0.0]}]), teacher)
    assert [(r.name, r.train.teacher) for r in taught] == [("a-a0-s0", None), ("a-a0.1-s0", "a-a0-s0")]
    with pytest.raises(
        ValueError,
        match="a run learns from the teacher run a-a0-s0, which is not among the profile's runs: add it",
    ):
        runs(Grid(arms=[{"alpha": 0.1}]), teacher)


@pytest.mark.parametrize(
    "arms, message",
    [
        ([{"seed": 1}], r"key\(s\) \['seed'\] in arm \{'seed': 1\} cannot be set there"),
        ([{"teacher": "x"}], r"key\(s\) \['teacher'\]"),
        (
            [{"alpha": 0.1, "beta": 2}],
            r"key\(s\) \['beta'\] .*allowed: \['alpha', 'device', 'lr', 'max_batches', 'memory_format', 'model', "
            r"'precision', 'seeds', 'threads'\]",
        ),
        ([{"epsilon": 0.1}], "`epsilon` was renamed `alpha`"),
    ],
)
def test_an_arm_sets_train_keys_only(arms, message):
    with pytest.raises(ValueError, match=message):
        check_arm_keys(Grid(arms=arms), Train, (), "profile p")


def test_a_track_may_allow_a_shortcut_key_in_its_arms():
    check_arm_keys(Grid(arms=[{"step": 0.1}]), Train, ("step",), "profile p")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"seeds": []}, r"grid.seeds=\[\] must be a non-empty list of integers"),
        ({"seeds": [True]}, r"grid.seeds=\[True\] must be"),
        ({"arms": []}, r"grid.arms=\[\] must be a non-empty list of mappings"),
        ({"arms": ["alpha"]}, r"grid.arms=\['alpha'\] must be"),
        ({"arms": [{"seeds": 1}]}, r"seeds of arm \{'seeds': 1\}=1 must be a non-empty list of integers"),
    ],
)
def test_a_malformed_grid_is_named(values, message):
    with pytest.raises(ValueError, match=message):
        Grid(**values)


def test_a_taught_run_whose_teacher_of_that_name_has_another_recipe_is_refused_with_the_keys_that_differ():
    def teacher(train):
        return {"alpha": 0.0} if train.get("alpha", 0.0) > 0 else None

    with pytest.raises(
        ValueError,
        match=r"teacher run a-a0-s0, but the profile's run of that name differs in "
        r"\['train.lr'\] from the teacher it needs: add it",
    ):
        runs(Grid(arms=[{}, {"alpha": 0.1, "lr": 0.5}]), teacher)


def test_an_empty_list_in_an_arm_is_refused_instead_of_giving_no_run():
    with pytest.raises(ValueError, match=r"gives no run: \['model'\] list\(s\) nothing"):
        Grid(arms=[{"model": [], "alpha": 0.1}])


def test_a_taught_run_comes_after_its_teacher_within_its_seed():
    def teacher(train):
        return {"alpha": 0.0} if train.get("alpha", 0.0) > 0 else None

    ordered = runs(Grid(seeds=[0, 1], arms=[{"alpha": [0.1, 0.0]}]), teacher)
    assert [r.name for r in ordered] == ["a-a0-s0", "a-a0.1-s0", "a-a0-s1", "a-a0.1-s1"]
