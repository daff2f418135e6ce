"""The run loop shared by both tracks: finished runs skipped, other configurations refused, --force redoes."""

from dataclasses import dataclass, field

import pytest
import yaml

from lsml_core import tracks
from lsml_core.fit import BEST_MODEL
from lsml_core.records import write_json
from lsml_core.runner import Failure, check_patterns, matching, run_each


@dataclass
class Train:
    teacher: str | None = None


@dataclass
class FakeConfig:
    name: str
    value: int = 0
    train: Train = field(default_factory=Train)

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "teacher": self.train.teacher}


def finished(run_dir) -> bool:
    return (run_dir / "done").is_file()


def fake_run(calls: list):
    def run_one(cfg, run_dir):
        calls.append(cfg.name)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", cfg.to_dict())
        (run_dir / "done").write_text("")
        (run_dir / BEST_MODEL).write_text(f"{cfg.name} model {len(calls)}")  # every training gives another model
        return None

    return run_one


def test_runs_each_once_then_skips_finished(tmp_path):
    calls = []
    runs = [FakeConfig("a"), FakeConfig("b")]
    assert run_each(runs, tmp_path, False, finished, fake_run(calls)) == [None, None]
    assert run_each(runs, tmp_path, False, finished, fake_run(calls)) == []
    assert calls == ["a", "b"]


def test_refuses_a_folder_of_another_configuration_unless_forced(tmp_path):
    calls = []
    run_each([FakeConfig("a", 1)], tmp_path, False, finished, fake_run(calls))
    (failure,) = run_each([FakeConfig("a", 2)], tmp_path, False, finished, fake_run(calls))
    assert isinstance(failure, Failure) and "different configuration" in failure.error
    assert calls == ["a"]
    (tmp_path / "runs" / "a" / "stale").write_text("")
    assert run_each([FakeConfig("a", 2)], tmp_path, True, finished, fake_run(calls)) == [None]
    assert calls == ["a", "a"] and not (tmp_path / "runs" / "a" / "stale").exists()


def test_a_run_whose_teacher_was_retrained_is_redone(tmp_path):
    calls = []
    teacher, student = FakeConfig("teacher"), FakeConfig("student", train=Train(teacher="teacher"))
    run_each([teacher, student], tmp_path, False, finished, fake_run(calls))
    run_each([teacher, student], tmp_path, False, finished, fake_run(calls))
    assert calls == ["teacher", "student"]  # nothing changed: both skipped
    run_each([teacher], tmp_path, True, finished, fake_run(calls))  # --force on the teacher alone
    run_each([teacher, student], tmp_path, False, finished, fake_run(calls))
    assert calls == ["teacher", "student", "teacher", "student"]


def test_runs_patterns_that_match_nothing_are_an_error_in_every_track():
    for name in ("quick", "multiclass"):
        track, profile = tracks.load_profile(name)
        with pytest.raises(ValueError, match="matches none of"):
            check_patterns(track.run_names(profile), ["no-such-run-*"])
        check_patterns(track.run_names(profile), [f"{track.run_names(profile)[-1]}"])  # a student or a taught run
    assert matching(tracks.load_profile("quick")[1].runs(), ["mobilenet_v2-*"])[0].name.startswith("mobilenet_v2")


def test_an_unknown_track_names_the_known_ones(tmp_path):
    (tmp_path / "odd.yaml").write_text("track: grouped-by-mistake\nname: odd\n")
    with pytest.raises(ValueError, match="unknown track 'grouped-by-mistake': choose one of multilabel, multiclass"):
        tracks.load_profile(tmp_path / "odd.yaml")


def test_the_recorded_profile_loads_back_as_the_profile_that_ran(tmp_path):
    for name in ("study", "multiclass"):
        track, profile = tracks.load_profile(name)
        (tmp_path / "profile.yaml").write_text(yaml.safe_dump(profile.to_dict(), sort_keys=False))
        assert tracks.load_profile(tmp_path / "profile.yaml") == (track, profile)
