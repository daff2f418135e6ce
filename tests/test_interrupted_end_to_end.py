"""Interrupted and damaged runs end to end on the executors' tiny profile: SIGKILL at several points, then a
rerun, gives the results of an uninterrupted run; so does a rerun after files of finished runs were deleted or
truncated, which --verify lists first."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lsml_core import tracks
from lsml_core.layout import BEST_MODEL, CHECKPOINT, OUTPUTS
from lsml_core.pipeline.verify import verify_profile
from tests.executors_tiny import (
    RAY_PAUSE_S,
    RAY_TRIES,
    TAUGHT,
    TEACHER,
    command,
    outputs,
    ray_could_not_start,
    reference,
    run_all,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return reference(tmp_path_factory)


KILL_POINTS = (  # (what, the executor killed there, the file whose appearance triggers the kill)
    ("the teacher after its first epoch", "ray", f"runs/{TEACHER}/checkpoint_last.pt"),
    ("the teacher's evaluation", "local", f"runs/{TEACHER}/3.0-evaluate.ipynb"),
    ("a taught run's training", "ray", f"runs/{TAUGHT[0]}/2.0-train.ipynb"),
    ("the last run's records, before its HTML", "local", f"runs/{TAUGHT[1]}/metrics.json"),
    ("the report", "local", "notebooks/5.0-report.ipynb"),
)


def invoke_until(base: Path, executor: str, point: Path, what: str) -> subprocess.Popen:
    """An invocation of the tiny profile, once `point` exists (started again when Ray itself could not start:
    a busy machine, not the pipeline; any other end before `point` fails the test with what it printed)."""
    for _ in range(RAY_TRIES):
        log = base / f"killed-{executor}.log"
        with log.open("w") as printed:
            proc = subprocess.Popen(
                command(base, "killed", "--executor", executor),
                stdout=printed,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 600
        while not point.exists() and proc.poll() is None:
            assert time.monotonic() < deadline, f"{what} not reached in 10 minutes:\n{log.read_text()[-3000:]}"
            time.sleep(0.05)
        if point.exists():
            return proc
        text = log.read_text()
        assert ray_could_not_start(proc.returncode, text), (
            f"the pipeline ended before {what} ({point}):\n{text[-3000:]}"
        )
        time.sleep(RAY_PAUSE_S)
    raise AssertionError(f"Ray could not start in {RAY_TRIES} invocations before {what}:\n{text[-3000:]}")


def test_sigkill_at_any_point_then_a_rerun_gives_the_uninterrupted_results(base):
    profile_dir = base / "killed" / "tiny"
    for what, executor, point in KILL_POINTS:
        proc = invoke_until(base, executor, profile_dir / point, what)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(2)  # the kernels notice their parent is gone and exit (ipykernel's parent poller)
    proc = run_all(base, "killed")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert outputs(base, "killed") == outputs(base, "reference")
    assert (profile_dir / "notebooks" / "5.0-report.html").is_file()
    for run in (TEACHER, *TAUGHT):  # a run killed between its last record and its HTML was taken up again
        assert (profile_dir / "runs" / run / "3.0-evaluate.html").is_file(), run


DAMAGE = {  # (run, file): how
    (TEACHER, "predictions_val_fivecrop.csv"): "delete",  # evaluation outputs: evaluated again, nothing retrained
    (TEACHER, "metrics.json"): "truncate",
    (TEACHER, "3.0-evaluate.html"): "delete",
    (TEACHER, "2.0-train.ipynb"): "truncate",
    (TEACHER, "config.json"): "truncate",
    (TAUGHT[0], CHECKPOINT): "truncate",  # unfinished with a damaged checkpoint: started again, no torch error
    (TAUGHT[0], "metrics.json"): "delete",
    (TAUGHT[0], OUTPUTS): "delete",
    (TAUGHT[1], BEST_MODEL): "truncate",  # a damaged model: trained again
}


def test_damaged_runs_are_listed_by_verify_then_repaired_to_the_uninterrupted_results(base):
    track, profile = tracks.load_profile(base / "tiny.yaml")
    assert not verify_profile(track, profile, base / "reference", say=lambda text: None)
    shutil.copytree(base / "reference", base / "damaged")
    runs = base / "damaged" / "tiny" / "runs"
    for (run, name), how in DAMAGE.items():
        path = runs / run / name
        if how == "delete":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    teacher_checkpoint = (runs / TEACHER / CHECKPOINT).read_bytes()
    verified = run_all(base, "damaged", "--verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    damaged = "2.0-train.ipynb changed, 3.0-evaluate.html missing, config.json changed, metrics.json changed"
    assert (
        f"{TEACHER}: damaged ({damaged}, predictions_val_fivecrop.csv missing): a rerun has it evaluated"
        in verified.stdout
    )
    assert f"{TAUGHT[0]}: unfinished, checkpoint_last.pt damaged: a rerun starts it again" in verified.stdout
    assert f"{TAUGHT[1]}: damaged (model_best.pt changed): a rerun has it trained again" in verified.stdout
    assert not (runs / TEACHER / "predictions_val_fivecrop.csv").exists()  # --verify changed nothing
    proc = run_all(base, "damaged")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"repair {TEACHER}: {damaged}" in proc.stdout and "nothing retrained" in proc.stdout
    checkpoint = runs / TAUGHT[0] / CHECKPOINT
    assert f"warning: {checkpoint} is damaged: {TAUGHT[0]} starts again from its first epoch" in proc.stdout
    assert f"repair {TAUGHT[1]}: model_best.pt changed since it finished; trained again" in proc.stdout
    assert (runs / TEACHER / CHECKPOINT).read_bytes() == teacher_checkpoint  # the teacher was not trained again
    assert outputs(base, "damaged") == outputs(base, "reference")
    assert not verify_profile(track, profile, base / "damaged", say=lambda text: None)
