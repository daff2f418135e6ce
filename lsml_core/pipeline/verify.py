"""`run_all.sh --verify`: every run folder of a profile checked against the record of what it produced, with
what a rerun would do about it; nothing is changed, no data prepared, no executor started."""

from collections.abc import Callable
from functools import cache, partial
from pathlib import Path

from lsml_core import layout
from lsml_core.outputs import damaged_checkpoint, is_recorded
from lsml_core.pipeline.run_task import damage_of, finished, teacher_changed
from lsml_core.pipeline.scheduler import selected
from lsml_core.records import read_json


def teacher_named(run_dir: Path) -> str | None:
    """The teacher a run's config.json names (None: no teacher, or no readable configuration)."""
    try:
        return read_json(run_dir / layout.CONFIG)["train"].get("teacher")
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def teacher_state(run_dir: Path, damage: Callable) -> tuple[str, bool] | None:
    """What a rerun does to a taught run because of its teacher, and whether that is damage (None: the teacher
    is the model it learnt from). A damaged or missing teacher is trained first; trained again it gives the
    same model (deterministic), so the run is redone only if the teacher comes out different."""
    teacher = teacher_named(run_dir)
    if teacher is None:
        return None
    teacher_dir = run_dir.parent / teacher
    damaged = damage(teacher_dir)
    if not teacher_dir.is_dir() or (damaged is not None and damaged.retrain):
        how = "missing" if not teacher_dir.is_dir() else "damaged"
        return (
            f"its teacher {teacher} is {how}: a rerun trains {teacher} first, and this run again only if "
            f"{teacher}'s model comes out different",
            False,
        )
    if teacher_changed(teacher, run_dir):
        return f"its teacher {teacher} is not the model it learnt from: a rerun trains this run again", True
    return None


def run_state(run_dir: Path, track, damage: Callable) -> tuple[str, bool]:
    """(what a run folder holds and what a rerun does about it, whether it is damaged); `damage(folder)` is the
    track's damage of a run folder, read once per folder (a teacher's is asked again by each of its runs)."""
    damaged = damage(run_dir)
    if damaged is not None:
        return f"damaged ({damaged.describe()}): a rerun has it {damaged.action()}", True
    relearn = teacher_state(run_dir, damage)
    if relearn is not None:
        return relearn
    if finished(run_dir, track.is_complete, track.run_notebooks):
        if not is_recorded(run_dir):
            return (
                "finished without a record of its outputs (an older version, or killed before it): a rerun records them",
                False,
            )
        return "finished, intact: a rerun skips it", False
    if damaged_checkpoint(run_dir / layout.CHECKPOINT):
        return f"unfinished, {layout.CHECKPOINT} damaged: a rerun starts it again from its first epoch", True
    return "unfinished: a rerun resumes it", False


def verify_profile(
    track,
    profile,
    results_dir: Path,
    patterns: list[str] | None = None,
    say: Callable[[str], None] = print,
    *,
    data_dir: Path | None = None,
) -> bool:
    """Say the state of every run folder of the profile (those `patterns` select) and, given `data_dir`, of
    what its runs share there; True when one is damaged."""
    shared = track.shared_states(profile, Path(data_dir)) if data_dir is not None else []
    for name, text, _ in shared:
        say(f"{name}: {text}")
    runs_dir = Path(results_dir) / profile.name / layout.RUNS
    folders = sorted(p for p in runs_dir.glob("*/") if selected(p.name, patterns)) if runs_dir.is_dir() else []
    if not folders:
        say(f"no run folders in {runs_dir}: nothing to verify")
        return any(bad for _, _, bad in shared)
    damage = cache(
        partial(damage_of, is_complete=track.is_complete, notebooks=track.run_notebooks, outputs=track.outputs)
    )
    states = {folder.name: run_state(folder, track, damage) for folder in folders}
    for name, (text, _) in states.items():
        say(f"{name}: {text}")
    return say_totals(states, shared, say)


def say_totals(states: dict[str, tuple[str, bool]], shared: list[tuple[str, str, bool]], say) -> bool:
    """Say how many runs and which shared states are damaged, with the command that repairs them; True if any."""
    damaged = [name for name, (_, bad) in states.items() if bad]
    shared_damaged = [name for name, _, bad in shared if bad]
    if damaged:
        say(f"{len(damaged)} of {len(states)} runs damaged; ./run_all.sh with the same options repairs them")
    else:
        say(f"{len(states)} runs verified, none damaged")
    if shared_damaged:
        say(f"damaged: {', '.join(shared_damaged)}; ./run_all.sh with the same options repairs it before the runs")
    return bool(damaged or shared_damaged)
