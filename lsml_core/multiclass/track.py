"""The single-label track as the runner sees it: teachers, and the students of the teachers chosen once settled."""

from pathlib import Path

from lsml_core import layout
from lsml_core.multiclass.config import Profile, load_profile
from lsml_core.multiclass.data import load_splits
from lsml_core.multiclass.evaluate import is_complete
from lsml_core.multiclass.selection import student_runs
from lsml_core.outputs import run_outputs
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.records import read_json
from lsml_core.tracks import Track


def run_names(profile: Profile) -> list[str]:
    """Every run of the grid, and the students of every teacher that could be chosen."""
    grid = profile.teacher_runs()
    teachers = [r.name for r in grid if profile.is_teacher(r.train)]
    return [r.name for r in grid] + [r.name for r in profile.student_runs(teachers)]


def selection_accuracy(run_dir: Path) -> str:
    """The run's selection accuracy for the index page."""
    return f"{read_json(run_dir / layout.METRICS)['splits']['selection']['before']['accuracy']:.4f}"


TRACK = Track(
    name="multiclass",
    title="Label smoothing, single-label track",
    load_profile=load_profile,
    prepare=lambda profile, data_dir: load_splits(profile.data, data_dir).source,
    plan=lambda profile, runs_dir, settled: profile.teacher_runs() + student_runs(profile, runs_dir, settled),
    run_names=run_names,
    is_complete=is_complete,
    run_notebooks=(Notebook("1.0-train", "train and evaluate"),),
    report_notebooks=(Notebook("2.0-report", "Report: single-label track", hide_code=True),),
    index_score=("selection accuracy", selection_accuracy),
    outputs=run_outputs("selection", "test"),
)
