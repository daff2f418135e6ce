"""End to end: a finished tiny profile damaged from outside (files deleted or truncated) is verified and
repaired by a rerun through the real notebooks, ending with the numbers of the undamaged run: evaluation
outputs evaluated again without training, a damaged model trained again, a damaged checkpoint started again.

Its val split holds six images: fewer than the eight examples the exploration notebook shows."""

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import write_mosaic_voc

from lsml_core.fit import BEST_MODEL, CHECKPOINT, HISTORY
from lsml_core.outputs import OUTPUTS

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


def test_the_finished_profile_verifies_intact(finished):
    base, results = finished
    proc = run_all(base, results, "--verify")
    assert proc.returncode == 0 and "2 runs verified, none damaged" in proc.stdout, proc.stdout + proc.stderr
    assert (results / "damage" / "notebooks" / "1.0-explore-labels.html").is_file()  # six val images shown


def test_damaged_outputs_are_listed_then_evaluated_or_trained_again(finished, tmp_path):
    base, copy = damaged_copy(
        finished,
        tmp_path,
        {
            (NONE, "predictions_test.csv"): "delete",
            (NONE, "metrics.json"): "truncate",
            (NONE, "3.0-evaluate.html"): "delete",
            (UNIFORM, BEST_MODEL): "truncate",
        },
    )
    checkpoint = (copy / "damage" / "runs" / NONE / CHECKPOINT).read_bytes()
    verified = run_all(base, copy, "--verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"{NONE}: damaged (3.0-evaluate.html missing, metrics.json changed, predictions_test.csv missing)" in (
        verified.stdout
    )
    assert f"{UNIFORM}: damaged (model_best.pt changed): a rerun has it trained again" in verified.stdout
    assert not (copy / "damage" / "runs" / NONE / "predictions_test.csv").exists()  # --verify changed nothing
    proc = run_all(base, copy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"repair {NONE}: 3.0-evaluate.html missing" in proc.stdout and "nothing retrained" in proc.stdout
    assert f"repair {UNIFORM}: model_best.pt changed since it finished; trained again" in proc.stdout
    assert (copy / "damage" / "runs" / NONE / CHECKPOINT).read_bytes() == checkpoint  # not trained again
    assert same_results(finished, copy, NONE) and same_results(finished, copy, UNIFORM)
    assert run_all(base, copy, "--verify").returncode == 0


def test_a_damaged_checkpoint_history_or_configuration_ends_with_the_same_numbers(finished, tmp_path):
    base, copy = damaged_copy(
        finished,
        tmp_path,
        {
            (NONE, CHECKPOINT): "truncate",  # unfinished, its checkpoint damaged: no torch error, a fresh start
            (NONE, "metrics.json"): "delete",
            (NONE, OUTPUTS): "delete",
            (UNIFORM, "config.json"): "truncate",
            (UNIFORM, HISTORY): "delete",
            (UNIFORM, "2.0-train.ipynb"): "truncate",
        },
    )
    proc = run_all(base, copy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    checkpoint = copy / "damage" / "runs" / NONE / CHECKPOINT
    assert f"warning: {checkpoint} is damaged: {NONE} starts again from its first epoch" in proc.stdout
    assert f"repair {UNIFORM}: 2.0-train.ipynb changed, config.json changed, history.csv missing" in proc.stdout
    assert same_results(finished, copy, NONE) and same_results(finished, copy, UNIFORM)
    assert run_all(base, copy, "--verify").returncode == 0
