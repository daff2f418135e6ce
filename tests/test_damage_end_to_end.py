"""End to end: a finished tiny profile damaged from outside (files deleted or truncated) is listed by --verify
and repaired by a rerun through the real notebooks, ending with the numbers of the undamaged run: evaluation
outputs (metrics, predictions, rendered notebooks, the configuration) evaluated again without training, a
damaged checkpoint started again. (A damaged model or history: the grouped and single-label end-to-end tests.)

Its val split holds six images: fewer than the eight examples the exploration notebook shows."""

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import write_mosaic_voc

from lsml_core import tracks
from lsml_core.fit import CHECKPOINT
from lsml_core.outputs import OUTPUTS
from lsml_core.verify import verify_profile

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
NONE, UNIFORM = "resnet18-none-a0-s0", "resnet18-uniform-a0.1-s0"
RESULTS = ("metrics.json", "predictions_train.csv", "predictions_val.csv", "predictions_test.csv")


def run_all(base: Path, results: Path, *options) -> subprocess.CompletedProcess:
    command = [str(REPO / "run_all.sh"), "--profile", base / "damage.yaml", "--results-dir", results]
    return subprocess.run(
        [*command, "--data-dir", base / "data", *options], capture_output=True, text=True, timeout=1500, cwd=REPO
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny profile run once: (its folder, the results folder holding it)."""
    base = tmp_path_factory.mktemp("damage-e2e")
    root = write_mosaic_voc(base / "voc", n_train=40, n_val=6)
    (base / "damage.yaml").write_text(f"""name: damage
data: {{kind: voc, root: {root}, classes: [a, b, c, d], image_size: 16}}
train: {{epochs: 1, batch_size: 8}}
grid: {{models: [resnet18], schemes: [none, uniform], alphas: [0.1]}}
""")
    proc = run_all(base, base / "results")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base, base / "results"


def damaged_copy(finished, tmp_path, damage: dict) -> tuple[Path, Path]:
    """A copy of the finished results with `damage` done: {(run, file): 'delete' | 'truncate'}."""
    base, results = finished
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    for (run, name), how in damage.items():
        path = copy / "damage" / "runs" / run / name
        if how == "delete":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return base, copy


def same_results(finished, copy: Path, run: str) -> bool:
    """Whether a run's metrics and predictions are byte for byte those of the undamaged run."""
    original = finished[1] / "damage" / "runs" / run
    return all(
        (copy / "damage" / "runs" / run / name).read_bytes() == (original / name).read_bytes() for name in RESULTS
    )


def test_a_damaged_profile_is_listed_then_repaired_to_the_undamaged_numbers(finished, tmp_path):
    track, profile = tracks.load_profile(finished[0] / "damage.yaml")
    assert not verify_profile(track, profile, finished[1], say=lambda text: None)
    assert (finished[1] / "damage" / "notebooks" / "1.0-explore-labels.html").is_file()  # six val images shown
    base, copy = damaged_copy(
        finished,
        tmp_path,
        {
            (NONE, "predictions_test.csv"): "delete",  # evaluation outputs: evaluated again
            (NONE, "metrics.json"): "truncate",
            (NONE, "3.0-evaluate.html"): "delete",
            (NONE, "2.0-train.ipynb"): "truncate",
            (NONE, "config.json"): "truncate",
            (UNIFORM, CHECKPOINT): "truncate",  # unfinished, its checkpoint damaged: a fresh start, no torch error
            (UNIFORM, "metrics.json"): "delete",
            (UNIFORM, OUTPUTS): "delete",
        },
    )
    checkpoint = (copy / "damage" / "runs" / NONE / CHECKPOINT).read_bytes()
    verified = run_all(base, copy, "--verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    damaged = "2.0-train.ipynb changed, 3.0-evaluate.html missing, config.json changed, metrics.json changed"
    assert f"{NONE}: damaged ({damaged}, predictions_test.csv missing): a rerun has it evaluated" in verified.stdout
    assert f"{UNIFORM}: unfinished, checkpoint_last.pt damaged: a rerun starts it again" in verified.stdout
    assert not (copy / "damage" / "runs" / NONE / "predictions_test.csv").exists()  # --verify changed nothing
    proc = run_all(base, copy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"repair {NONE}: {damaged}" in proc.stdout and "nothing retrained" in proc.stdout
    damaged_checkpoint = copy / "damage" / "runs" / UNIFORM / CHECKPOINT
    assert f"warning: {damaged_checkpoint} is damaged: {UNIFORM} starts again from its first epoch" in proc.stdout
    assert (copy / "damage" / "runs" / NONE / CHECKPOINT).read_bytes() == checkpoint  # not trained again
    assert same_results(finished, copy, NONE) and same_results(finished, copy, UNIFORM)
    assert not verify_profile(track, profile, copy, say=lambda text: None)
