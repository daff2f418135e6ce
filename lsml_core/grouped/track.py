"""The grouped track as the runner sees it: the canvases, the runs (teachers first), notebooks, index column."""

from pathlib import Path

from lsml_core import layout
from lsml_core.grouped.canvases import load_canvases
from lsml_core.grouped.config import Profile, load_profile
from lsml_core.grouped.evaluate import is_complete
from lsml_core.outputs import run_outputs
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.records import read_json
from lsml_core.tracks import Track


def selection_exact_match(run_dir: Path) -> str:
    """The run's selection exact match for the index page."""
    return f"{read_json(run_dir / layout.METRICS)['splits']['selection']['exact_match']:.4f}"


def plan(profile: Profile, runs_dir: Path, settled) -> list:
    """The runs without a teacher, then those that learn from one (each starts once its teacher settled)."""
    runs = profile.runs()
    return [r for r in runs if r.train.teacher is None] + [r for r in runs if r.train.teacher is not None]


TRACK = Track(
    name="grouped",
    title="Label smoothing, grouped track",
    load_profile=load_profile,
    prepare=lambda profile, data_dir: load_canvases(profile.data, data_dir).source,
    plan=plan,
    run_names=lambda profile: [r.name for r in profile.runs()],
    is_complete=is_complete,
    run_notebooks=(Notebook("2.0-train", "train and evaluate"),),
    profile_notebooks=(Notebook("1.0-explore-data", "Explore the canvases"),),
    report_notebooks=(Notebook("3.0-report", "Report: grouped track", hide_code=True),),
    index_score=("selection exact match", selection_exact_match),
    outputs=run_outputs("selection", "test"),
)
