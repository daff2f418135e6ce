"""The tiny profile the executors' end-to-end tests share (a teacher and two runs that learn from it), the
command that runs it, and its reference run."""

import subprocess
from pathlib import Path

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
RAY_LATE = "error: Ray's node did not start within"  # Ray's start-up limit missed on a busy machine (ray#65983)
RAY_TRIES = 3  # invocations (or clusters) tried when Ray itself could not start: a busy machine, not the pipeline
RAY_PAUSE_S = 20
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


def reference(tmp_path_factory) -> Path:
    """The tiny profile run once, uninterrupted, by the local executor: the reference (each test module that
    needs it makes its own, so that the modules run on different workers)."""
    base = tmp_path_factory.mktemp("executors")
    (base / "tiny.yaml").write_text(TINY)
    proc = run_all(base, "reference")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        "without encryption" not in proc.stderr + proc.stdout and "KeyboardInterrupt" not in proc.stderr + proc.stdout
    )
    assert f"finished {TEACHER}" in proc.stdout and "running, 0 queued" in proc.stdout
    return base


def ray_could_not_start(returncode: int, printed: str) -> bool:
    """Whether an invocation ended because Ray itself could not start (exit status 2 and its refusal)."""
    return returncode == 2 and RAY_LATE in printed
