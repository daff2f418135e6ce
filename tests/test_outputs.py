"""A finished run is checked, not trusted: its record of outputs, the repairs a rerun makes (evaluated again
or trained again, said in the log), runs finished without a record, damaged checkpoints, --verify."""

import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import torch

from lsml_core import fit
from lsml_core.layout import BEST_MODEL, CHECKPOINT, HISTORY, OUTPUTS
from lsml_core.outputs import Damage, damage, damaged_checkpoint, is_recorded, record_outputs
from lsml_core.pipeline.executors import LocalExecutor, usable_cpus
from lsml_core.pipeline.locks import held
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.pipeline.run_task import train_run
from lsml_core.pipeline.scheduler import Scheduler
from lsml_core.pipeline.verify import verify_profile
from lsml_core.records import write_json
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
    train: Train = field(default_factory=Train)

    def to_dict(self) -> dict:
        return {"name": self.name, "train": {"teacher": self.train.teacher}}

    def differences(self, saved: dict) -> list[str]:
        return [] if saved == self.to_dict() else ["name"]


def complete(run_dir) -> bool:
    return (run_dir / "metrics.json").is_file()


TRACK = Track(
    name="fake",
    title="fake",
    load_profile=None,
    prepare=None,
    plan=lambda profile, runs_dir, settled: [FakeConfig("a"), FakeConfig("b")],
    run_names=None,
    is_complete=complete,
    run_notebooks=(Notebook("train", "train"),),
    outputs=(BEST_MODEL, "metrics.json", "predictions_test.csv"),
)


def notebooks(trained: list):
    """A run's notebooks as the real ones behave: training resumes (a model and history are written only when
    there are none: `trained` lists those runs), evaluation always writes its outputs again."""

    def execute(task):
        run_dir = task.run_dir
        if not (run_dir / BEST_MODEL).is_file():
            trained.append(task.name)
            (run_dir / BEST_MODEL).write_text(f"{task.name} model {len(trained)}")
            (run_dir / HISTORY).write_text("epoch\n1\n")
        write_json(run_dir / "config.json", task.config)
        (run_dir / "metrics.json").write_text(f"metrics of {(run_dir / BEST_MODEL).read_text()}")
        (run_dir / "predictions_test.csv").write_text("id,score\n1,0.5\n")
        (run_dir / "train.html").write_text("page")
        return None

    return execute


def rerun(tmp_path, trained: list, track: Track = TRACK) -> list[str]:
    """The log lines of one invocation over the fake profile."""
    lines = []
    scheduler = Scheduler(track, PROFILE, tmp_path, tmp_path / "data", force=False, kernel="lsml", say=lines.append)
    work = LocalExecutor(lambda task, placement: train_run(task, placement, notebooks(trained)))
    assert scheduler.run(work, None)[0] == []
    return lines


def test_a_finished_run_records_every_output_and_is_skipped_while_intact(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    run_dir = tmp_path / "runs" / "a"
    assert is_recorded(run_dir) and damage(run_dir) is None
    record = (run_dir / OUTPUTS).read_text()
    assert "execution.json" not in record and OUTPUTS not in record
    for name in ("metrics.json", "predictions_test.csv", BEST_MODEL, HISTORY, "config.json", "train.html"):
        assert f'"{name}"' in record
    assert "a: finished, skipped (--force redoes it)" in rerun(tmp_path, trained)
    assert trained == ["a", "b"]


def test_a_damaged_evaluation_output_is_evaluated_again_without_training(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    run_dir = tmp_path / "runs" / "a"
    model = (run_dir / BEST_MODEL).read_text()
    (run_dir / "predictions_test.csv").unlink()
    (run_dir / "metrics.json").write_text("truncated")
    assert damage(run_dir) == Damage({"metrics.json": "changed", "predictions_test.csv": "missing"}, retrain=False)
    lines = rerun(tmp_path, trained)
    assert (
        "repair a: metrics.json changed, predictions_test.csv missing since it finished; evaluated again from its "
        "intact model_best.pt (nothing retrained)" in lines
    )
    assert trained == ["a", "b"] and (run_dir / BEST_MODEL).read_text() == model
    assert (run_dir / "predictions_test.csv").is_file() and damage(run_dir) is None
    assert "b: finished, skipped (--force redoes it)" in lines


def test_a_damaged_model_or_history_is_trained_again(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    for name, spoil in ((BEST_MODEL, "truncate"), (HISTORY, "delete")):
        path = tmp_path / "runs" / "b" / name
        if spoil == "truncate":
            path.write_bytes(path.read_bytes()[:3])
        else:
            path.unlink()
        lines = rerun(tmp_path, trained)
        how = "changed" if spoil == "truncate" else "missing"
        assert f"repair b: {name} {how} since it finished; trained again from its first epoch" in lines
        assert damage(tmp_path / "runs" / "b") is None
    assert trained == ["a", "b", "b", "b"]


def test_a_run_finished_without_a_record_is_recorded_on_the_first_rerun(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    (tmp_path / "runs" / "a" / OUTPUTS).unlink()
    lines = rerun(tmp_path, trained)
    assert any(line.startswith("a: finished, skipped; its outputs had no record") for line in lines)
    assert is_recorded(tmp_path / "runs" / "a") and trained == ["a", "b"]


def test_a_run_without_a_record_lacking_an_output_is_repaired_not_skipped(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    for name in (OUTPUTS, "predictions_test.csv"):
        (tmp_path / "runs" / "a" / name).unlink()
    lines = rerun(tmp_path, trained)
    assert "repair a: predictions_test.csv missing since it finished; evaluated again" in " ".join(lines)
    assert is_recorded(tmp_path / "runs" / "a") and trained == ["a", "b"]


def test_an_unreadable_record_or_config_is_repaired_not_a_crash(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    (tmp_path / "runs" / "a" / OUTPUTS).write_text("{")
    (tmp_path / "runs" / "b" / "config.json").write_text("{")
    lines = rerun(tmp_path, trained)
    assert "repair a: outputs.json unreadable since it finished; evaluated again" in " ".join(lines)
    assert any(line.startswith("repair b: config.json changed") for line in lines)
    assert trained == ["a", "b"] and damage(tmp_path / "runs" / "a") is None


def test_a_config_that_does_not_read_without_a_record_is_refused_naming_it(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    (tmp_path / "runs" / "a" / "config.json").write_text("{")
    (tmp_path / "runs" / "a" / OUTPUTS).unlink()
    scheduler = Scheduler(
        TRACK, PROFILE, tmp_path, tmp_path / "data", force=False, kernel="lsml", say=lambda text: None
    )
    work = LocalExecutor(lambda task, placement: train_run(task, placement, notebooks(trained)))
    (failure,) = scheduler.run(work, None)[0]
    assert str(tmp_path / "runs" / "a" / "config.json") in failure.error and "--force" in failure.error


def test_verify_lists_the_damage_and_what_a_rerun_does_changing_nothing(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    profile = type("Profile", (), {"name": tmp_path.name})
    lines = []
    assert not verify_profile(TRACK, profile, tmp_path.parent, say=lines.append)
    assert lines[-1] == "2 runs verified, none damaged"
    (tmp_path / "runs" / "a" / "predictions_test.csv").unlink()
    (tmp_path / "runs" / "b" / BEST_MODEL).write_text("another model")
    before = sorted(p.name for p in (tmp_path / "runs").rglob("*"))
    lines = []
    assert verify_profile(TRACK, profile, tmp_path.parent, say=lines.append)
    assert lines[0] == (
        "a: damaged (predictions_test.csv missing): a rerun has it evaluated again from its intact model_best.pt "
        "(nothing retrained)"
    )
    assert lines[1] == "b: damaged (model_best.pt changed): a rerun has it trained again from its first epoch"
    assert "2 of 2 runs damaged" in lines[2] and sorted(p.name for p in (tmp_path / "runs").rglob("*")) == before
    (tmp_path / "runs" / "c").mkdir()
    (tmp_path / "runs" / "c" / CHECKPOINT).write_bytes(b"PK\x03\x04 cut short")
    lines = []
    verify_profile(TRACK, profile, tmp_path.parent, ["c"], say=lines.append)
    assert lines[0] == "c: unfinished, checkpoint_last.pt damaged: a rerun starts it again from its first epoch"


def test_verify_names_a_taught_run_whose_teacher_is_damaged_or_another_model(tmp_path):
    taught = replace(TRACK, plan=lambda profile, runs_dir, settled: [FakeConfig("t"), FakeConfig("s", Train("t"))])
    profile, trained = type("Profile", (), {"name": tmp_path.name}), []
    rerun(tmp_path, trained, taught)
    assert not verify_profile(taught, profile, tmp_path.parent, say=lambda text: None)
    teacher = tmp_path / "runs" / "t"
    (teacher / BEST_MODEL).write_text("a damaged model")
    lines = []
    assert verify_profile(taught, profile, tmp_path.parent, say=lines.append)
    assert lines[:2] == [
        "s: its teacher t is damaged: a rerun trains t first, and this run again only if t's model comes out different",
        "t: damaged (model_best.pt changed): a rerun has it trained again from its first epoch",
    ]
    assert lines[2] == "1 of 2 runs damaged; ./run_all.sh with the same options repairs them"
    rerun(tmp_path, trained, taught)
    assert trained == ["t", "s", "t", "s"]
    assert not verify_profile(taught, profile, tmp_path.parent, say=lambda text: None)
    (teacher / BEST_MODEL).write_text("the teacher trained again elsewhere")
    record_outputs(teacher)  # intact, but not the model its student learnt from
    lines = []
    assert verify_profile(taught, profile, tmp_path.parent, say=lines.append)
    assert lines[:2] == [
        "s: its teacher t is not the model it learnt from: a rerun trains this run again",
        "t: finished, intact: a rerun skips it",
    ]


def test_a_damaged_checkpoint_is_passed_over_with_a_warning_naming_it(tmp_path):
    path = tmp_path / CHECKPOINT
    torch.save({"weights": torch.arange(1000.0)}, path)
    assert fit.resumable(path) and not damaged_checkpoint(path)
    whole = path.read_bytes()
    flipped = bytearray(whole)
    flipped[len(whole) // 3] ^= 0xFF  # torch.load would read it without a word
    for damaged in (whole[: len(whole) // 2], bytes(flipped), b""):
        path.write_bytes(damaged)
        assert damaged_checkpoint(path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert not fit.resumable(path)
        assert f"{path} is damaged" in str(caught[0].message) and "first epoch" in str(caught[0].message)
    assert not fit.resumable(tmp_path / "none.pt") and not damaged_checkpoint(tmp_path / "none.pt")


def test_a_rerun_says_a_damaged_checkpoint_of_an_unfinished_run_is_started_again(tmp_path):
    run_dir = tmp_path / "runs" / "a"
    run_dir.mkdir(parents=True)
    (run_dir / CHECKPOINT).write_bytes(b"not a zip")
    trained = []
    lines = rerun(tmp_path, trained)
    assert f"warning: {run_dir / CHECKPOINT} is damaged: a starts again from its first epoch" in lines
    assert trained == ["a", "b"]


def test_a_damaged_teacher_is_trained_again_first_then_its_student_redone(tmp_path):
    student = FakeConfig("b", train=Train(teacher="a"))
    taught = replace(TRACK, plan=lambda profile, runs_dir, settled: [FakeConfig("a"), student])
    trained = []
    rerun(tmp_path, trained, taught)
    (tmp_path / "runs" / "a" / BEST_MODEL).write_bytes(b"")
    lines = rerun(tmp_path, trained, taught)
    assert lines.index("repair a: model_best.pt changed since it finished; trained again from its first epoch") < (
        lines.index("redo b: its teacher a is not the model it learnt from; trained again")
    )
    assert trained == ["a", "b", "a", "b"]


def test_what_a_run_repairs_is_said_once_its_task_starts_it_not_while_another_process_holds_it(tmp_path):
    trained = []
    rerun(tmp_path, trained)
    (tmp_path / "runs" / "a" / "predictions_test.csv").unlink()
    lines, results = [], []
    scheduler = Scheduler(TRACK, PROFILE, tmp_path, tmp_path / "data", force=False, kernel="lsml", say=lines.append)
    work = LocalExecutor(lambda task, placement: train_run(task, placement, notebooks(trained)))
    with held(tmp_path, "runs/a", "run a"):  # another process holds a
        loop = threading.Thread(target=lambda: results.append(scheduler.run(work, None)))
        loop.start()
        deadline = time.monotonic() + 60
        while not any(line.startswith("held a") for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(line.startswith("repair a") for line in lines)
    loop.join(timeout=60)
    said = [line.split("  [")[0] for line in lines]
    repair = next(i for i, line in enumerate(said) if line.startswith("repair a: predictions_test.csv missing"))
    assert (
        said[repair + 1] == "start a"
        and said.index("held a: another process is training it, tried again later") < repair
    )
