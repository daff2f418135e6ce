"""The instance-based grid point chosen on the selection part, per model and seed, and the teachers to distil.

`settled(name)` says a run will not change any more in this invocation: a choice is made only among
settled runs, and only once every grid point of its model and seed has settled.
"""

from collections.abc import Callable
from pathlib import Path

from lsml_core import layout
from lsml_core.multiclass.config import Profile, RunConfig
from lsml_core.multiclass.evaluate import is_complete
from lsml_core.records import read_json, write_json


def selection_score(run_dir: Path, metric: str) -> float:
    """Selection accuracy, or minus the selection log loss: higher is better either way."""
    before = read_json(run_dir / layout.METRICS)["splits"]["selection"]["before"]
    return before["accuracy"] if metric == "accuracy" else -before["log_loss"]


def group_of(run: RunConfig) -> str:
    """The model, schedule and seed a grid point is chosen among: `model-s<seed>` (`model-constant-s<seed>` at a
    constant learning rate)."""
    constant = "-constant" if run.train.schedule == "constant" else ""
    return f"{run.train.model}{constant}-s{run.train.seed}"


def waiting_groups(profile: Profile, settled: Callable[[str], bool]) -> set[str]:
    """The model-seed groups with a grid point not settled yet."""
    return {group_of(run) for run in profile.teacher_runs() if run.train.scheme == "instance" and not settled(run.name)}


def select_instance_runs(profile: Profile, runs_dir: Path, settled: Callable[[str], bool]) -> dict[str, dict]:
    """Per `model-s<seed>` whose grid points have all settled: every finished grid point's selection score
    and the best one (ties: first in grid order)."""
    grid = [run for run in profile.teacher_runs() if run.train.scheme == "instance"]
    waiting = waiting_groups(profile, settled)
    chosen: dict[str, dict] = {}
    for run in grid:
        if group_of(run) in waiting or not is_complete(runs_dir / run.name):
            continue
        entry = chosen.setdefault(group_of(run), {"scores": {}, "chosen": None})
        entry["scores"][run.name] = score = selection_score(runs_dir / run.name, profile.distillation.selection_metric)
        if entry["chosen"] is None or score > entry["scores"][entry["chosen"]]:
            entry["chosen"] = run.name
    return chosen


def teachers_to_distil(profile: Profile, runs_dir: Path, settled: Callable[[str], bool]) -> list[str]:
    """CE, LS and the chosen instance-based run of every model and seed that teach (`Profile.is_teacher`; settled,
    finished runs only); writes selection.json once every group has chosen."""
    chosen = select_instance_runs(profile, runs_dir, settled)
    if not waiting_groups(profile, settled):
        write_json(
            runs_dir.parent / layout.GRID_CHOICE,
            {"metric": profile.distillation.selection_metric, "per_model_seed": chosen},
        )
    grid = {r.name: r for r in profile.teacher_runs()}
    teachers = [
        name
        for name, r in grid.items()
        if r.train.scheme in ("none", "uniform")
        and profile.is_teacher(r.train)
        and settled(name)
        and is_complete(runs_dir / name)
    ]
    return teachers + [entry["chosen"] for entry in chosen.values() if profile.is_teacher(grid[entry["chosen"]].train)]


def student_runs(profile: Profile, runs_dir: Path, settled: Callable[[str], bool]) -> list[RunConfig]:
    """The distillation runs of the settled, finished teachers."""
    return profile.student_runs(teachers_to_distil(profile, runs_dir, settled))
