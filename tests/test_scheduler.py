"""The run loop of every track and executor: finished runs skipped, other configurations refused, --force
redoes, a run starts as soon as its teacher settled, failures listed while the others go on."""

import re
import threading
import time
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import pytest
import yaml

from lsml_core import tracks
from lsml_core.layout import BEST_MODEL, CHECKPOINT, EXECUTION, OUTPUTS
from lsml_core.outputs import damage
from lsml_core.pipeline.executors import LocalExecutor, usable_cpus
from lsml_core.pipeline.locks import held
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.pipeline.notebooks import Failure
from lsml_core.pipeline.run_task import Outcome, RunTask, now, teacher_changed, train_run
from lsml_core.pipeline.run_task import finished as finished_run
from lsml_core.pipeline.scheduler import Scheduler, check_patterns, selected
from lsml_core.profiles import profile_with_threads
from lsml_core.records import read_json, write_json
from lsml_core.tracks import Track


@dataclass
class Train:
    teacher: str | None = None
    epochs: int = 1
    threads: int = 1


PROFILE = SimpleNamespace(
    train=Train(threads=usable_cpus()), keep_checkpoints=False
)  # the local executor runs one run at a time


@dataclass
class FakeConfig:
    name: str
    value: int = 0
    train: Train = field(default_factory=Train)

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "teacher": self.train.teacher}

    def differences(self, saved: dict) -> list[str]:
        mine = self.to_dict()
        return [key for key in sorted(set(saved) | set(mine)) if saved.get(key) != mine.get(key)]


def finished(run_dir) -> bool:
    return (run_dir / "done").is_file()


def fake_track(plan) -> Track:
    return Track(
        name="fake",
        title="fake",
        load_profile=None,
        prepare=None,
        plan=plan,
        run_names=None,
        is_complete=finished,
        run_notebooks=(Notebook("train", "train"),),
    )


def fake_work(calls: list, fail: tuple = ()):
    """`train_run` whose notebooks are replaced by writing the run's config, its model (another one every
    time) and its 'done' mark."""

    def notebooks(task):
        calls.append(task.name)
        if task.name in fail:
            return Failure(task.name, task.run_dir, "boom")
        task.run_dir.mkdir(parents=True, exist_ok=True)
        write_json(task.run_dir / "config.json", task.config)
        (task.run_dir / BEST_MODEL).write_text(f"{task.name} model {len(calls)}")
        (task.run_dir / "done").write_text("")
        (task.run_dir / "train.html").write_text("")
        return None

    return lambda task, placement: train_run(task, placement, notebooks)


def run(tmp_path, runs, calls, force=False, patterns=None, fail=(), executor=None):
    """The failures of scheduling `runs` (a list, or a plan function) with the fake training."""
    plan = runs if callable(runs) else lambda profile, runs_dir, settled: runs
    scheduler = Scheduler(
        fake_track(plan), PROFILE, tmp_path, tmp_path / "data", force=force, kernel="lsml", say=lambda text: None
    )
    failures, planned = scheduler.run(executor or LocalExecutor(fake_work(calls, fail)), patterns)
    return failures


def test_runs_each_once_then_skips_finished(tmp_path):
    calls = []
    runs = [FakeConfig("a"), FakeConfig("b")]
    assert run(tmp_path, runs, calls) == []
    assert run(tmp_path, runs, calls) == []
    assert calls == ["a", "b"]


def test_refuses_a_folder_of_another_configuration_unless_forced(tmp_path):
    calls = []
    run(tmp_path, [FakeConfig("a", 1)], calls)
    (failure,) = run(tmp_path, [FakeConfig("a", 2)], calls)
    assert isinstance(failure, Failure) and "different configuration (value)" in failure.error
    assert calls == ["a"]
    assert run(tmp_path, [FakeConfig("a", 2)], calls, force=True) == []
    assert calls == ["a", "a"]


def test_folders_of_another_configuration_are_named_before_anything_starts(tmp_path):
    run(tmp_path, [FakeConfig("a", 1), FakeConfig("b", 1)], [])
    (tmp_path / "runs" / "c").mkdir()
    (tmp_path / "runs" / "c" / "config.json").write_text("{trunc")  # does not read: left to the run's repair
    changed = [FakeConfig("a", 2), FakeConfig("b", 1), FakeConfig("c", 2), FakeConfig("d", 2)]

    def scheduler(force=False):
        plan = lambda profile, runs_dir, settled: changed  # noqa: E731
        return Scheduler(fake_track(plan), PROFILE, tmp_path, tmp_path, force=force, kernel="lsml")

    (reason,) = scheduler().changed_folders()
    assert reason.startswith("a: the run folder holds results of a different configuration (value)")
    assert scheduler(force=True).changed_folders() == []
    write_json(tmp_path / "runs" / "a" / "outputs.json", {"files": {"config.json": {"size": 1, "sha256": "0"}}})
    assert scheduler().changed_folders() == []  # differs from its record: damaged, repaired by the run


def test_a_run_whose_teacher_was_retrained_is_redone(tmp_path):
    calls = []
    teacher, student = FakeConfig("teacher"), FakeConfig("student", train=Train(teacher="teacher"))
    run(tmp_path, [teacher, student], calls)
    run(tmp_path, [teacher, student], calls)
    assert calls == ["teacher", "student"]  # nothing changed: both skipped
    run(tmp_path, [teacher], calls, force=True)  # --force on the teacher alone
    run(tmp_path, [teacher, student], calls)
    assert calls == ["teacher", "student", "teacher", "student"]


class ManualExecutor:
    """Two runs at once; each `wait` ends the run that `order` names next among the running ones."""

    name = "manual"

    def __init__(self, work, order: list[str]):
        self.work, self.order, self.running, self.log = work, order, {}, []

    def slots(self, cpus: int = 1) -> int:
        return 2

    def submit(self, task):
        self.log.append(f"start {task.name}")
        self.running[task.name] = task
        return task.name

    def wait(self, handles, timeout):
        name = next(n for n in self.order if n in self.running)
        self.order.remove(name)
        self.log.append(f"end {name}")
        return [(name, self.work(self.running.pop(name), {}))]


def test_a_taught_run_starts_once_its_teacher_ended_not_after_every_run(tmp_path):
    calls = []
    runs = [FakeConfig("a"), FakeConfig("slow"), FakeConfig("b"), FakeConfig("a-taught", train=Train(teacher="a"))]
    executor = ManualExecutor(fake_work(calls), ["a", "b", "a-taught", "slow"])
    assert run(tmp_path, runs, calls, executor=executor) == []
    assert executor.log == [
        "start a", "start slow", "end a", "start b", "end b", "start a-taught", "end a-taught", "end slow",
    ]  # fmt: skip


def test_a_failed_run_is_listed_its_dependants_refused_and_the_others_go_on(tmp_path):
    calls = []
    runs = [FakeConfig("t"), FakeConfig("x"), FakeConfig("t-taught", train=Train(teacher="t"))]
    failures = run(tmp_path, runs, calls, fail=("t",))
    assert [f.what for f in failures] == ["t", "t-taught"] and calls == ["t", "x"]
    assert "its teacher run t did not finish" in failures[1].error


def test_a_task_that_raised_is_a_failure_and_the_others_go_on(tmp_path):
    calls = []

    def work(task, placement):
        if task.name == "lost":
            raise RuntimeError("the worker died")
        return fake_work(calls)(task, placement)

    failures = run(tmp_path, [FakeConfig("lost"), FakeConfig("b")], calls, executor=LocalExecutor(work))
    assert [(f.what, f.error) for f in failures] == [("lost", "RuntimeError: the worker died")] and calls == ["b"]


def test_a_run_another_process_holds_is_tried_again_after_the_others_then_waited_for(tmp_path):
    calls, tries = [], []
    work = fake_work(calls)

    def sometimes_busy(task, placement):
        tries.append((task.name, task.wait))
        if task.name == "a" and not task.wait:
            return Outcome("a", None, trained=False, busy=True)
        return work(task, placement)

    runs = [FakeConfig("a"), FakeConfig("b"), FakeConfig("a-taught", train=Train(teacher="a"))]
    assert run(tmp_path, runs, calls, executor=LocalExecutor(sometimes_busy)) == []
    assert tries == [("a", False), ("b", False), ("a", True), ("a-taught", False)]
    assert calls == ["b", "a", "a-taught"]


def test_a_plan_grows_with_runs_chosen_from_settled_ones(tmp_path):
    calls, seen = [], []

    def plan(profile, runs_dir, settled):
        seen.append([name for name in ("a", "b") if settled(name)])
        chosen = [FakeConfig("a-student", train=Train(teacher="a"))] if settled("a") and settled("b") else []
        return [FakeConfig("a"), FakeConfig("b"), *chosen]

    assert run(tmp_path, plan, calls) == []
    assert calls == ["a", "b", "a-student"] and seen[0] == [] and seen[-1] == ["a", "b"]


def test_runs_not_selected_count_as_settled_and_are_not_run(tmp_path):
    calls = []
    runs = [FakeConfig("a"), FakeConfig("a-taught", train=Train(teacher="a")), FakeConfig("b")]
    (failure,) = run(tmp_path, runs, calls, patterns=["*-taught"])
    assert calls == [] and "its teacher run a did not finish" in failure.error
    run(tmp_path, runs, calls, patterns=["a"])
    assert run(tmp_path, runs, calls, patterns=["*-taught"]) == [] and calls == ["a", "a-taught"]
    assert selected("b", None) and not selected("b", ["a*"])


def test_train_run_skips_a_run_another_process_finished_and_records_where_it_ran(tmp_path):
    run_dir = tmp_path / "runs" / "a"
    run_dir.mkdir(parents=True)
    (run_dir / "done").write_text("")
    task = RunTask("a", {}, None, run_dir, tmp_path, tmp_path, tmp_path, (), finished, "lsml", since=now())
    outcome = train_run(task, {"executor": "local"})
    assert outcome == Outcome("a", None, trained=False, note="another process finished it")
    threads = []
    forced = replace(task, force=True, threads=3)
    outcome = train_run(forced, {"node": "here"}, lambda t: threads.append(t.threads))
    assert outcome == Outcome("a", None, trained=True) and not (run_dir / "done").exists()
    assert threads == [3] and read_json(run_dir / EXECUTION) | {"node": "here", "threads": 3} == read_json(
        run_dir / EXECUTION
    )
    (run_dir / "partial").write_text("")  # started since the invocation began (a retry, another's): no wipe
    train_run(forced, {}, lambda t: None)
    assert (run_dir / "partial").is_file()
    (tmp_path / ".trash" / "left-by-a-killed-wipe").mkdir(parents=True)
    train_run(replace(forced, since=now()), {}, lambda t: None)  # a later --force invocation starts afresh
    assert not (run_dir / "partial").exists() and list((tmp_path / ".trash").iterdir()) == []
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["a"]


def test_train_run_hands_back_a_run_another_process_holds(tmp_path):
    task = RunTask("a", {}, None, tmp_path / "runs" / "a", tmp_path, tmp_path, tmp_path, (), finished, "lsml")
    with held(tmp_path, "runs/a", "run a"):
        # a lock is per open file: another open file of the same lock stands for another process
        assert train_run(task, {}, lambda t: None).busy


def test_runs_patterns_that_match_nothing_are_an_error_in_every_track():
    for name in ("quick", "multiclass"):
        track, profile = tracks.load_profile(name)
        with pytest.raises(ValueError, match="matches none of"):
            check_patterns(track.run_names(profile), ["no-such-run-*"])
        check_patterns(track.run_names(profile), [f"{track.run_names(profile)[-1]}"])  # a student or a taught run


def test_an_unknown_track_names_the_known_ones(tmp_path):
    (tmp_path / "odd.yaml").write_text("track: grouped-by-mistake\nname: odd\n")
    with pytest.raises(ValueError, match="unknown track 'grouped-by-mistake': choose one of multilabel, multiclass"):
        tracks.load_profile(tmp_path / "odd.yaml")


def test_the_recorded_profile_loads_back_as_the_profile_that_ran(tmp_path):
    for name in ("study", "multiclass"):
        track, profile = tracks.load_profile(name)
        (tmp_path / "profile.yaml").write_text(yaml.safe_dump(profile.to_dict(), sort_keys=False))
        assert tracks.load_profile(tmp_path / "profile.yaml") == (track, profile)


def test_a_failed_or_untraceable_run_is_not_taken_as_finished(tmp_path):
    run_dir = tmp_path / "runs" / "s"
    run_dir.mkdir(parents=True)
    for name in ("done", "train.html"):
        (run_dir / name).write_text("")
    notebooks = (Notebook("train", "train"),)
    assert finished_run(run_dir, finished, notebooks)
    write_json(run_dir / EXECUTION, {"failed": True})  # a cell after the metrics raised
    assert not finished_run(run_dir, finished, notebooks)
    assert not teacher_changed("t", run_dir) and not teacher_changed(None, run_dir)
    (run_dir / CHECKPOINT).write_text("")  # trained, but without a record of its teacher (an older version)
    assert teacher_changed("t", run_dir) and not teacher_changed(None, run_dir)


def test_train_run_removes_an_earlier_attempts_pages_before_executing(tmp_path):
    run_dir = tmp_path / "runs" / "a"
    run_dir.mkdir(parents=True)
    (run_dir / "train.html").write_text("an earlier, failed attempt")
    notebooks = (Notebook("train", "train"),)
    task = RunTask("a", {}, None, run_dir, tmp_path, tmp_path, tmp_path, notebooks, finished, "lsml", since=now())
    seen = []
    train_run(task, {}, lambda t: seen.append((run_dir / "train.html").exists()))
    assert seen == [False]


def test_a_folder_computed_on_other_threads_is_refused_naming_the_option_that_keeps_it(tmp_path):
    track, profile = tracks.load_profile("quick")
    (cfg, *_) = track.plan(profile, tmp_path / "runs", lambda name: False)
    write_json(tmp_path / "runs" / cfg.name / "config.json", cfg.to_dict())
    two = profile_with_threads(profile, 2)
    (other, *_) = track.plan(two, tmp_path / "runs", lambda name: False)
    assert (other.name, other.train.threads, two.train.threads) == (cfg.name, 2, 2)
    failure = Scheduler(track, two, tmp_path, tmp_path, force=False, kernel="lsml").refusal(
        other, tmp_path / "runs" / cfg.name
    )
    assert "computed on 1 CPU thread(s), not 2" in failure.error and "--threads 1" in failure.error
    assert (
        Scheduler(track, profile, tmp_path, tmp_path, force=False, kernel="lsml").refusal(
            cfg, tmp_path / "runs" / cfg.name
        )
        is None
    )


def test_a_run_another_process_holds_is_said_to_start_only_once_its_lock_is_taken(tmp_path):
    calls, said, b_finished = [], [], threading.Event()

    def say(text):
        said.append((re.sub(r"\(\d+ s", "(N s", text.split("  [")[0]), time.monotonic()))
        if text.startswith("finished b"):
            b_finished.set()

    scheduler = Scheduler(fake_track(lambda *args: [FakeConfig("a"), FakeConfig("b")]), PROFILE, tmp_path, tmp_path,
                          force=False, kernel="lsml", say=say)  # fmt: skip
    results = []
    with held(tmp_path, "runs/a", "run a"):  # another process trains a
        loop = threading.Thread(target=lambda: results.append(scheduler.run(LocalExecutor(fake_work(calls)), None)))
        loop.start()
        assert b_finished.wait(timeout=60)
        time.sleep(1.5)  # a is handed to the executor again, its task waits for the lock
        released = time.monotonic()
    loop.join(timeout=60)
    assert results == [([], ["a", "b"])] and calls == ["b", "a"]
    lines = [text for text, _ in said]
    assert lines == [
        "held a: another process is training it, tried again later",
        "start b",
        "finished b (N s)",
        "start a",
        "finished a (N s, waited for another process that held it)",
    ]
    assert dict(said)["start a"] >= released


def a_checkpoint_written(task: RunTask) -> None:
    """A run's notebooks replaced: a resume checkpoint as training leaves it, then the finished mark."""
    import torch

    task.run_dir.mkdir(parents=True, exist_ok=True)
    weights = {"w": torch.arange(4.0)}
    state = {"config": {}, "epoch": 2, "best_score": 0.5, "best_epoch": 1, "history": [{"epoch": 1}, {"epoch": 2}]}
    torch.save(
        state | {"model": weights, "optimizer": {"momentum": weights}, "scheduler": {}}, task.run_dir / CHECKPOINT
    )
    (task.run_dir / "done").write_text("")


@pytest.mark.parametrize("keep_checkpoint, keep_last_weights", [(False, False), (False, True), (True, False)])
def test_a_finished_run_keeps_its_checkpoint_only_as_the_profile_and_its_evaluation_ask(
    tmp_path, keep_checkpoint, keep_last_weights
):
    import torch

    run_dir = tmp_path / "runs" / "a"
    task = RunTask("a", {}, None, run_dir, tmp_path, tmp_path, tmp_path, (), finished, "lsml")
    task = replace(task, keep_checkpoint=keep_checkpoint, keep_last_weights=keep_last_weights)
    assert train_run(task, {}, a_checkpoint_written).failure is None
    state = torch.load(run_dir / CHECKPOINT, weights_only=False)
    assert state["epoch"] == 2 and state["history"] == [{"epoch": 1}, {"epoch": 2}]
    assert ("optimizer" in state) == keep_checkpoint and state.get("finished", False) != keep_checkpoint
    assert ("model" in state) == (keep_checkpoint or keep_last_weights)
    assert damage(run_dir) is None  # its record of outputs is of the checkpoint as kept


def test_a_kill_while_the_checkpoint_is_reduced_leaves_no_stale_record_of_outputs(tmp_path, monkeypatch):
    """A repaired run's old record lists its whole checkpoint: it goes before the checkpoint is reduced, so a kill
    there leaves a run without a record (recorded on the next rerun), never one whose checkpoint reads as damaged."""
    from lsml_core import fit

    run_dir = tmp_path / "runs" / "a"
    task = RunTask("a", {}, None, run_dir, tmp_path, tmp_path, tmp_path, (), finished, "lsml")
    run_dir.mkdir(parents=True)
    (run_dir / OUTPUTS).write_text('{"files": {}}')  # the record of an earlier finish

    def killed(path, keep_weights):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit, "finish_checkpoint", killed)
    with pytest.raises(KeyboardInterrupt):
        train_run(task, {}, a_checkpoint_written)
    assert not (run_dir / OUTPUTS).exists() and damage(run_dir) is None
