"""The executors end to end on a tiny profile (a teacher and two runs that learn from it): a Ray cluster of
two nodes gives the results of the local executor to the bit, both with default options; two invocations at once train every run
once; SIGKILL at several points, then a rerun, gives the results of an uninterrupted run; so does a rerun
after files of finished runs were deleted or truncated, which --verify lists first."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

from lsml_core import tracks
from lsml_core.layout import BEST_MODEL, CHECKPOINT, EXECUTION, OUTPUTS
from lsml_core.records import read_json
from lsml_core.verify import verify_profile

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
RUN_ALL = REPO / "run_all.sh"
TINY = """name: tiny
description: A teacher and two runs that learn from it, a few batches each.
data: {dataset: demo, root: demo-tiny, image_size: 32, n_train: 64, n_val: 6, fill_prob: 0.5, selection_fraction: 0.25}
train: {pretrained: false, epochs: 2, batch_size: 16, max_batches: 2, lr_backbone: 0.05, lr_head: 0.05}
grid: {arms: [{model: mobilenet_v2, scheme: [none, instance], alpha: [0.1, 0.3]}]}
"""
# n_val: 6, fewer val images than the eight examples the label exploration shows
TEACHER = "mobilenet_v2-none-a0-s0"
TAUGHT = ("mobilenet_v2-instance-a0.1-s0", "mobilenet_v2-instance-a0.3-s0")
RESULTS = (
    "metrics.json",
    "predictions_fit.csv",
    "predictions_val.csv",
    "predictions_val_fivecrop.csv",
    "model_best.pt",
)


def command(base: Path, results: str, *options) -> list[str]:
    """run_all.sh on the tiny profile with default options (one CPU thread per run, the profile's default)."""
    paths = ("--profile", base / "tiny.yaml", "--results-dir", base / results, "--data-dir", base / "data")
    return [str(RUN_ALL), *map(str, paths), *map(str, options)]


def run_all(base: Path, results: str, *options) -> subprocess.CompletedProcess:
    return subprocess.run(command(base, results, *options), capture_output=True, text=True, timeout=900, cwd=REPO)


def outputs(base: Path, results: str) -> dict[str, bytes]:
    """Every result file of every run, by '<run>/<file>'."""
    runs = base / results / "tiny" / "runs"
    return {f"{run}/{name}": (runs / run / name).read_bytes() for run in (TEACHER, *TAUGHT) for name in RESULTS}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The tiny profile run once, uninterrupted, by the local executor: the reference."""
    base = tmp_path_factory.mktemp("executors")
    (base / "tiny.yaml").write_text(TINY)
    proc = run_all(base, "reference")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        "without encryption" not in proc.stderr + proc.stdout and "KeyboardInterrupt" not in proc.stderr + proc.stdout
    )
    assert f"finished {TEACHER}" in proc.stdout and "running, 0 queued" in proc.stdout
    return base


def test_a_two_node_ray_cluster_gives_the_local_results_to_the_bit(base):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        proc = run_all(base, "cluster", "--executor", "ray", "--address", cluster.address)
    finally:
        cluster.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "runs on the ray executor, 2 at once" in proc.stdout
    assert outputs(base, "cluster") == outputs(base, "reference")
    runs = base / "cluster" / "tiny" / "runs"
    node = {run: read_json(runs / run / EXECUTION)["node"] for run in (TEACHER, *TAUGHT)}
    # the two taught runs started together once the teacher ended: one on each node
    assert node[TAUGHT[0]] != node[TAUGHT[1]] and node[TEACHER] in node.values()


def test_two_invocations_at_once_train_every_run_once(base):
    procs = [
        subprocess.Popen(command(base, "shared", *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for extra in ((), ("--executor", "ray"))
    ]
    results = [proc.communicate(timeout=900) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err[-3000:] for _, err in results]
    for run in (TEACHER, *TAUGHT):
        assert sum(out.count(f"finished {run} (") for out, _ in results) == 1, run
    assert outputs(base, "shared") == outputs(base, "reference")
    assert (base / "shared" / "tiny" / "index.html").is_file()


KILL_POINTS = (  # (what, the executor killed there, the file whose appearance triggers the kill)
    ("the teacher after its first epoch", "ray", f"runs/{TEACHER}/checkpoint_last.pt"),
    ("the teacher's evaluation", "local", f"runs/{TEACHER}/3.0-evaluate.ipynb"),
    ("a taught run's training", "ray", f"runs/{TAUGHT[0]}/2.0-train.ipynb"),
    ("the last run's records, before its HTML", "local", f"runs/{TAUGHT[1]}/metrics.json"),
    ("the report", "local", "notebooks/5.0-report.ipynb"),
)


def test_sigkill_at_any_point_then_a_rerun_gives_the_uninterrupted_results(base):
    profile_dir = base / "killed" / "tiny"
    for what, executor, point in KILL_POINTS:
        proc = subprocess.Popen(
            command(base, "killed", "--executor", executor),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 600
        while not (profile_dir / point).exists():
            assert proc.poll() is None, f"the pipeline ended before {what} ({point})"
            assert time.monotonic() < deadline
            time.sleep(0.05)
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
