"""A run computed once serves every profile of a results folder: found by its identity, taken over with its model
files hard-linked and its own configuration and record, never from a damaged, unfinished or other run."""

import json
import os

import pytest

from lsml_core import layout
from lsml_core.outputs import damage, record_outputs
from lsml_core.pipeline.sharing import find_donor, never_started, take_over
from lsml_core.records import atomic_write_bytes, write_json

CONFIG = {"track": "t", "profile": "converged", "data": {"n": 10}, "train": {"seed": 0, "lr": 0.05}}


def finished_run(results, profile: str, name: str = "r-s0", config: dict = CONFIG, teacher: dict | None = None):
    """A finished, recorded run of `profile` in `results`: a model, a checkpoint, metrics and a rendered page."""
    run_dir = results / profile / layout.RUNS / name
    run_dir.mkdir(parents=True)
    (results / profile / layout.PROFILE).write_text(f"name: {profile}\n")
    write_json(run_dir / layout.CONFIG, {**config, "profile": profile})
    write_json(run_dir / layout.EXECUTION, {"started": "t0", "ended": "t1", "seconds": 12.0, "failed": False})
    (run_dir / layout.BEST_MODEL).write_bytes(b"best weights")
    (run_dir / layout.CHECKPOINT).write_bytes(b"last checkpoint")
    write_json(run_dir / layout.METRICS, {"accuracy": 0.9})
    (run_dir / "notebooks").mkdir()
    (run_dir / "notebooks" / "page.html").write_text("<html></html>")
    if teacher is not None:
        write_json(run_dir / layout.TEACHER_STAMP, teacher)
    record_outputs(run_dir)
    return run_dir


def is_finished(run_dir) -> bool:
    return (run_dir / layout.METRICS).is_file()


def test_the_same_run_of_another_profile_is_found_and_taken_over_with_its_models_linked(tmp_path):
    donor = finished_run(tmp_path, "converged")
    mine = tmp_path / "demo" / layout.RUNS / "r-s0"
    config = {**CONFIG, "profile": "demo"}
    assert never_started(mine) and find_donor(mine, config, None, is_finished) == donor
    take_over(donor, mine, config)
    assert json.loads((mine / layout.CONFIG).read_text())["profile"] == "demo"
    assert json.loads((mine / layout.EXECUTION).read_text())["shared_from"] == "converged/r-s0"
    assert (mine / "notebooks" / "page.html").read_text() == "<html></html>"
    for model in (layout.BEST_MODEL, layout.CHECKPOINT):  # one copy on disk
        assert os.path.samefile(mine / model, donor / model)
    assert not os.path.samefile(mine / layout.METRICS, donor / layout.METRICS)
    assert damage(mine) is None and damage(donor) is None and not never_started(mine)
    assert not (tmp_path / "demo" / layout.SHARING / "r-s0").exists()
    atomic_write_bytes(mine / layout.BEST_MODEL, b"retrained")  # a rewrite in one profile never reaches the other
    assert (donor / layout.BEST_MODEL).read_bytes() == b"best weights" and damage(donor) is None


def test_what_the_taking_profile_keeps_of_the_checkpoint_replaces_its_link_never_the_donors_file(tmp_path):
    donor = finished_run(tmp_path, "converged")
    mine = tmp_path / "demo" / layout.RUNS / "r-s0"
    take_over(
        donor,
        mine,
        {**CONFIG, "profile": "demo"},
        lambda folder: atomic_write_bytes(folder / layout.CHECKPOINT, b"kept"),
    )
    assert (mine / layout.CHECKPOINT).read_bytes() == b"kept" and damage(mine) is None  # recorded as kept
    assert (donor / layout.CHECKPOINT).read_bytes() == b"last checkpoint" and damage(donor) is None
    assert os.path.samefile(mine / layout.BEST_MODEL, donor / layout.BEST_MODEL)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda run: write_json(run / layout.CONFIG, {**CONFIG, "train": {"seed": 0, "lr": 0.1}}),  # another recipe
        lambda run: (run / layout.METRICS).unlink(),  # unfinished
        lambda run: (run / layout.BEST_MODEL).write_bytes(b"damaged"),  # differs from its record
        lambda run: (run / layout.OUTPUTS).unlink(),  # no record of what it produced
    ],
    ids=["another-configuration", "unfinished", "damaged", "unrecorded"],
)
def test_no_other_run_is_taken(tmp_path, spoil):
    spoil(finished_run(tmp_path, "converged"))
    mine = tmp_path / "demo" / layout.RUNS / "r-s0"
    assert find_donor(mine, {**CONFIG, "profile": "demo"}, None, is_finished) is None


def test_a_taught_run_is_taken_only_from_the_very_teacher_model_this_profile_holds(tmp_path):
    stamp = {"teacher": "t-s0", "model_best_sha256": "abc"}
    donor = finished_run(tmp_path, "converged", teacher=stamp)
    mine = tmp_path / "demo" / layout.RUNS / "r-s0"
    assert find_donor(mine, CONFIG, stamp, is_finished) == donor
    assert find_donor(mine, CONFIG, {**stamp, "model_best_sha256": "other"}, is_finished) is None


def test_a_folder_without_a_profile_is_no_profile_of_the_results_folder(tmp_path):
    (finished_run(tmp_path, "converged").parent.parent / layout.PROFILE).unlink()
    assert find_donor(tmp_path / "demo" / layout.RUNS / "r-s0", CONFIG, None, is_finished) is None


def test_a_profiles_own_run_is_not_its_donor_and_the_first_profile_by_name_is(tmp_path):
    first, second = finished_run(tmp_path, "a"), finished_run(tmp_path, "b")
    assert find_donor(first, CONFIG, None, is_finished) == second
    assert find_donor(tmp_path / "c" / layout.RUNS / "r-s0", CONFIG, None, is_finished) == first
