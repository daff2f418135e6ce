"""End to end: run_all.sh runs a tiny single-label profile through the real notebooks and renders the report."""

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from lsml_core.multiclass.config import load_profile
from tests.commands import run_all
from tests.damage import damage_every_kind, differing_results, listed_as_damaged
from tests.notebooks_as_opened import check_missing_results_named, check_track_as_opened

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TINY = """track: multiclass
name: mc-tiny
description: a few batches per run; numbers mean nothing
data: {n_train: 256, n_selection: 128, n_test: 200}
train: {epochs: 2, batch_size: 32, max_batches: 3, patience: 2}
grid:
  arms:
    - {scheme: none}
    - {scheme: uniform, alpha: 0.1}
    - {scheme: uniform, alpha: 0.1, explicit_targets: true}
    - {scheme: instance, alpha: 0.1, temperature: [2, 4]}
    - {model: shallow, scheme: none}
distillation: {kd_temperature: [2, 20], teacher_scaled: [false]}
"""
# CE, LS, LS by explicit targets, 2 ILS grid points, the student model trained alone; then CE, LS and the chosen ILS
# point each distilled at T 2 and 20 (as trained, not temperature-scaled)
TEACHERS, STUDENTS = 6, 6


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("mc-e2e")
    (base / "mc-tiny.yaml").write_text(TINY)
    proc = run_all("--profile", base / "mc-tiny.yaml", "--results-dir", base / "results", "--data-dir", base / "data")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base / "results" / "mc-tiny", proc


def test_every_notebook_executed_and_rendered(tiny):
    out, _ = tiny
    notebooks = sorted(out.rglob("*.ipynb"))
    assert len(notebooks) == TEACHERS + STUDENTS + 1
    for path in notebooks:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), path
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], path
        assert book.metadata.kernelspec.name == "lsml"
        assert path.with_suffix(".html").read_text().count("data:image/png;base64") >= (
            2 if "train" in path.stem else 8
        ), path


def test_runs_metrics_and_selection(tiny):
    out, _ = tiny
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == TEACHERS + STUDENTS
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert set(metrics["splits"]) == {"selection", "test"} and metrics["temperature"] > 0
        assert "Fashion-MNIST" in metrics["data_source"]
        assert set(metrics["regime"]["confidence_gap"]) == {"selection", "test"}
    selection = json.loads((out / "selection.json").read_text())["per_model_seed"]["resnet8-s0"]
    assert selection["chosen"] in selection["scores"] and len(selection["scores"]) == 2


def test_report_holds_every_section(tiny):
    out, proc = tiny
    report = (out / "notebooks" / "2.0-report.html").read_text()
    assert "PosixPath" not in report  # no object repr, no path of the machine it ran on
    assert "from lsml_core" not in report and "THEIRS" in report
    for text in (
        "LS lowers ECE vs CE",
        "ILS at least as accurate as LS",
        "LS teacher distils worse",
        "Reliability diagrams",
        "confusion matrix",
        "Penultimate layer",
        "Distillation into the shallow student",
        "classwise_ece",
    ):
        assert text in report, text
    # the generated regime sentence of the CE baseline, then the conclusions opening with the caveat
    assert re.search(
        r"<strong>Regime.</strong> The CE \(resnet8\) baseline is ((over|under)confident|calibrated|at chance)", report
    )
    assert re.search(r"<strong>Conclusions.</strong> (These conclusions|Some baselines)", report)
    # the generated sentences (not the static text): one per claim, with the model and the seed count
    assert re.search(
        r"LS lowers ECE vs CE \(resnet8\): (reproduced|contradicted|inconclusive) \(one seed: training randomness "
        r"not covered\) \(ours: difference [+-]\d\.\d{4}, 95% interval \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\] over the "
        r"test images only \(one seed\)\)",
        report,
    )
    for student in ("shallow from resnet8, T=2", "shallow from resnet8, T=20"):
        assert f"LS teacher distils worse than CE teacher (student accuracy) ({student}): " in report
        assert f"ILS teacher's student more accurate than the student trained alone ({student}): " in report
    assert re.search(r"resnet8: (explicit smoothed targets and smoothing in the loss|the two ways differ)", report)
    assert "Two ways to smooth" in report
    index = out / "index.html"
    assert f"report: {index}" in proc.stdout.splitlines()
    links = re.findall(r'href="([^"]+)"', index.read_text())
    assert len(links) == 1 + TEACHERS + STUDENTS and all((out / link).is_file() for link in links)


def test_every_notebook_runs_as_opened_in_jupyterlab(tiny, tmp_path):
    """Before results/multiclass exists the report names the command; with it, every notebook runs with its
    default parameters and its scratch run repeats the profile's first run."""
    out, _ = tiny
    check_missing_results_named(tmp_path, "multiclass", "multiclass")
    first = load_profile(out / "profile.yaml").teacher_runs()[0].name
    check_track_as_opened(
        tmp_path,
        "multiclass",
        default="multiclass",
        finished=out,
        data=out.parents[1] / "data",
        scratch="multiclass-run",
        first=first,
    )


def test_rerun_skips_finished_runs_and_their_notebooks(tiny):
    out, _ = tiny
    base = out.parent.parent
    proc = run_all("--profile", base / "mc-tiny.yaml", "--results-dir", out.parent, "--data-dir", base / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("finished, skipped") == TEACHERS + STUDENTS
    assert "notebooks of mc-tiny: up to date" in proc.stdout and "front page: up to date" in proc.stdout


def teacher_of(run_dir: Path) -> str | None:
    """The run a taught run learnt from, None for a teacher."""
    return json.loads((run_dir / "config.json").read_text())["train"].get("teacher")


def test_every_kind_of_file_damaged_is_repaired_a_damaged_teacher_first_and_its_students_kept(tiny, tmp_path):
    out, _ = tiny
    base, copy = out.parent.parent, tmp_path / "results"
    shutil.copytree(out.parent, copy)
    runs = copy / out.name / "runs"
    taught = {p.name: teacher_of(p) for p in sorted((out / "runs").iterdir())}
    teacher = min(t for t in set(taught.values()) - {None} if list(taught.values()).count(t) >= 2)
    students = [run for run, its_teacher in taught.items() if its_teacher == teacher]
    others = [run for run in taught if run not in (teacher, *students[:2])]
    # one taught run's metrics (first damage) and the teacher's deleted model_best.pt (fifth) damaged, the other
    # taught run left out of the deal (kept)
    order = [students[0], *others[:3], teacher, *others[3:]]
    dealt = damage_every_kind(runs, "1.0-train", order)
    assert "model_best.pt" in dealt[teacher] and students[0] in dealt and students[1] not in dealt
    kept = {s: os.stat(runs / s / "model_best.pt").st_mtime_ns for s in students if s not in dealt}
    command = ("--profile", base / "mc-tiny.yaml", "--results-dir", copy, "--data-dir", base / "data")
    verified = run_all(*command, "--verify")
    assert verified.returncode == 1, verified.stdout[-3000:] + verified.stderr[-3000:]
    for run in (*dealt, *students):
        assert listed_as_damaged(verified.stdout, run), run
    proc = run_all(*command)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"repair {teacher}: model_best.pt " in proc.stdout
    assert proc.stdout.index(f"repair {teacher}: ") < proc.stdout.index(f"repair {students[0]}: ")
    assert kept and all(os.stat(runs / s / "model_best.pt").st_mtime_ns == mtime for s, mtime in kept.items())
    assert differing_results(runs, out / "runs") == []
    assert run_all(*command, "--verify").returncode == 0


def test_a_second_profile_of_the_same_runs_shares_them_and_trains_nothing(tiny, tmp_path):
    """A run computed once serves every profile of the results folder: a twin profile (another name, the same runs)
    takes every run over, its model files hard-linked, and its report renders from them."""
    out, _ = tiny
    results = tmp_path / "results"
    shutil.copytree(out, results / "mc-tiny")
    twin = tmp_path / "mc-twin.yaml"
    twin.write_text(TINY.replace("name: mc-tiny", "name: mc-twin"))
    proc = run_all("--profile", twin, "--results-dir", results, "--data-dir", out.parents[1] / "data")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("computed once for mc-tiny: shared") == TEACHERS + STUDENTS
    assert "epoch 1/" not in proc.stdout  # nothing trained
    for run in sorted((results / "mc-twin" / "runs").iterdir()):
        mine, theirs = run, results / "mc-tiny" / "runs" / run.name
        assert os.path.samefile(mine / "model_best.pt", theirs / "model_best.pt")
        assert json.loads((mine / "config.json").read_text())["profile"] == "mc-twin"
        assert (mine / "metrics.json").read_bytes() == (theirs / "metrics.json").read_bytes()
    assert (results / "mc-twin" / "notebooks" / "2.0-report.html").is_file()
    assert (
        run_all(
            "--profile", twin, "--results-dir", results, "--data-dir", out.parents[1] / "data", "--verify"
        ).returncode
        == 0
    )
