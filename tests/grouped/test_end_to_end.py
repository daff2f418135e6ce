"""End to end: run_all.sh runs a tiny grouped profile through the real notebooks and renders the report."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from lsml_core.grouped.config import load_profile
from tests.commands import run_all
from tests.damage import damage_every_kind, differing_results, listed_as_damaged
from tests.notebooks_as_opened import check_missing_results_named, check_track_as_opened

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TINY = """track: grouped
name: grouped-tiny
description: a few batches per run; numbers mean nothing
data: {n_labeled: 80, n_selection: 16, n_unlabeled: 40, n_test: 40}
train: {model: resnet18, batch_size: 16, max_batches: 2, epochs_plain: 1, epochs_augmented: 1, epochs_pseudo: 1,
        group_weights: {item: 5}, pseudo_precision: 0.05, pseudo_min_count: 2}
grid:
  arms:
    - {}
    - {sesemi: none}
    - {smoothing: {item: instance}}  # a smoothing arm with pseudo-labels on (the control's)
    - {head: flat}
"""
RUNS = 4


def run_tiny(base: Path, results: Path | None = None):
    """The tiny profile through run_all.sh into `results` (default: the module's results folder)."""
    return run_all(
        "--profile",
        base / "grouped-tiny.yaml",
        "--results-dir",
        results or base / "results",
        "--data-dir",
        base / "data",
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("grouped-e2e")
    (base / "grouped-tiny.yaml").write_text(TINY)
    proc = run_tiny(base)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base, base / "results" / "grouped-tiny", proc


def test_every_notebook_executed_and_rendered(tiny):
    _, out, _ = tiny
    notebooks = sorted(out.rglob("*.ipynb"))
    assert len(notebooks) == RUNS + 2
    for path in notebooks:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), path
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], path
        assert path.with_suffix(".html").read_text().count("data:image/png;base64") >= 3, path


def test_runs_metrics_and_teacher(tiny):
    _, out, _ = tiny
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == RUNS
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert set(metrics["splits"]) == {"fit", "selection", "test"} and metrics["groups"] == ["digit", "item"]
        assert set(metrics["regime"]["confidence_gap"]) == {"fit", "selection", "test"}
        assert metrics["regime"]["training"]["epochs"] == 3
        assert "Fashion-MNIST" in metrics["data_source"] and "scikit-learn digits" in metrics["data_source"]
    taught = [r for r in runs if "instance" in r.name]
    assert len(taught) == 1 and json.loads((taught[0] / "teacher.json").read_text())["teacher"] in {
        r.name for r in runs
    }
    # the smoothing arm's pseudo-labels are recorded: how many passed the threshold and how many were right
    pseudo = json.loads((taught[0] / "metrics.json").read_text())["pseudo_labels"]
    assert 0 <= pseudo["kept_right"] <= pseudo["kept"] <= 40


def test_report_holds_every_section(tiny):
    _, out, proc = tiny
    report = (out / "notebooks" / "3.0-report.html").read_text()
    assert "PosixPath" not in report  # no object repr, no path of the machine it ran on
    assert "from lsml_core" not in report and "THEIRS" in report
    for text in ("Table 1 recomputed", "Ablations", "Pseudo-labels", "Confusion matrices", "per epoch"):
        assert text in report, text
    # the control's regime first (two batches an epoch: at chance), the conclusions open with the caveat
    assert re.search(r"Regime of the control.</strong> The control baseline is (at chance level|\w+confident)", report)
    assert report.index("Regime of the control") < report.index("Table 1 recomputed")
    assert any(caveat in report for caveat in ("Some baselines are at chance level", "These conclusions are read"))
    assert "Backbones are paired by role" in report and "The harder group here is the" in report
    # generated sentences, one per ablation, with the numbers and the bootstrap's verdict
    for factor in ("sesemi labeled -&gt; none", "smoothing nosmooth -&gt; item_instance", "head grouped -&gt; flat"):
        assert re.search(
            re.escape(factor)
            + r"[^:]*: test exact match \d\.\d{3} -&gt; \d\.\d{3} \([+-]\d\.\d{3}, 95% interval \[[+-]\d\.\d{3}, "
            r"[+-]\d\.\d{3}\] over test images only, one seed: training randomness not covered\): "
            r"(higher|lower|no clear difference)\.",
            report,
        ), factor
    # smoothing per group: the more overconfident group, each group's effects, the pseudo-labels that passed
    assert "Smoothing per group" in report
    assert re.search(r"The control is (more overconfident in the (digit|item)|overconfident in no group)", report)
    for group, smoothed in (("digit", "not smoothed"), ("item", "smoothed")):
        assert re.search(
            rf"smoothing nosmooth -&gt; item_instance-a0.1-T2, {group} \({smoothed}\): accuracy \d\.\d{{3}} -&gt; "
            r"\d\.\d{3} \([+-]\d\.\d{3}, \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]\): (higher|lower|no clear difference); "
            r"ECE \d\.\d{3} -&gt; \d\.\d{3}",
            report,
        ), group
    assert re.search(
        r"control: (no unlabeled image passed|[\d,]+( on average \(range [\d,-]+\))? of the 40 unlabeled images passed)",
        report,
    )
    assert re.search(
        r"smoothing nosmooth -&gt; item_instance-a0.1-T2: (.* passed the threshold .* were exactly right|no seed)",
        report,
    )
    assert re.search(r"whether smoothing\S{1,6}s effect depends on them is not measured", report)
    answer = json.loads((out / "answer.json").read_text())
    assert any(r.startswith("smoothing nosmooth -> item_instance-a0.1-T2, item (smoothed)") for r in answer["readings"])
    index = out / "index.html"
    assert f"report: {index}" in proc.stdout.splitlines()


def test_every_notebook_runs_as_opened_in_jupyterlab(tiny, tmp_path):
    """Before results/grouped exists the profile notebooks name the command; with it, every notebook runs
    with its default parameters and its scratch run repeats the profile's first run."""
    base, out, _ = tiny
    check_missing_results_named(tmp_path, "grouped", "grouped")
    first = load_profile(out / "profile.yaml").runs()[0].name
    check_track_as_opened(
        tmp_path, "grouped", default="grouped", finished=out, data=base / "data", scratch="grouped-run", first=first
    )


def test_rerun_skips_finished_runs_and_their_notebooks(tiny):
    base, _, _ = tiny
    proc = run_tiny(base)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("finished, skipped") == RUNS
    assert "notebooks of grouped-tiny: up to date" in proc.stdout and "front page: up to date" in proc.stdout


def test_every_kind_of_file_damaged_is_listed_by_verify_then_repaired_to_the_same_numbers(tiny, tmp_path):
    base, out, _ = tiny
    copy = tmp_path / "results"
    shutil.copytree(out.parent, copy)
    dealt = damage_every_kind(copy / out.name / "runs", "2.0-train")
    verified = run_all(
        "--profile", base / "grouped-tiny.yaml", "--results-dir", copy, "--data-dir", base / "data", "--verify"
    )
    assert verified.returncode == 1, verified.stdout[-3000:] + verified.stderr[-3000:]
    for run in dealt:
        assert listed_as_damaged(verified.stdout, run), run
    proc = run_tiny(base, copy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for run in dealt:
        assert f"repair {run}: " in proc.stdout, run
    assert differing_results(copy / out.name / "runs", out / "runs") == []
    assert (
        run_all(
            "--profile", base / "grouped-tiny.yaml", "--results-dir", copy, "--data-dir", base / "data", "--verify"
        ).returncode
        == 0
    )
