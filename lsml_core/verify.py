"""`run_all.sh --verify`: every run folder of a profile checked against the record of what it produced, with
what a rerun would do about it; nothing is changed, no data prepared, no executor started."""

from collections.abc import Callable
from pathlib import Path

from lsml_core.fit import CHECKPOINT
from lsml_core.outputs import damaged_checkpoint, is_recorded
from lsml_core.run_task import damage_of, finished
from lsml_core.scheduler import selected


def run_state(run_dir: Path, track) -> tuple[str, bool]:
    """(what a run folder holds and what a rerun does about it, whether it is damaged)."""
    damaged = damage_of(run_dir, is_complete=track.is_complete, notebooks=track.run_notebooks, outputs=track.outputs)
    if damaged is not None:
        return f"damaged ({damaged.describe()}): a rerun has it {damaged.action()}", True
    if finished(run_dir, track.is_complete, track.run_notebooks):
        if not is_recorded(run_dir):
            return (
                "finished without a record of its outputs (an older version, or killed before it): a rerun records them",
                False,
            )
        return "finished, intact: a rerun skips it", False
    if damaged_checkpoint(run_dir / CHECKPOINT):
        return f"unfinished, {CHECKPOINT} damaged: a rerun starts it again from its first epoch", True
    return "unfinished: a rerun resumes it", False


def verify_profile(
    track, profile, results_dir: Path, patterns: list[str] | None = None, say: Callable[[str], None] = print
) -> bool:
    """Say the state of every run folder of the profile (those `patterns` select); True when one is damaged."""
    runs_dir = Path(results_dir) / profile.name / "runs"
    folders = sorted(p for p in runs_dir.glob("*/") if selected(p.name, patterns)) if runs_dir.is_dir() else []
    if not folders:
        say(f"no run folders in {runs_dir}: nothing to verify")
        return False
    states = {folder.name: run_state(folder, track) for folder in folders}
    for name, (text, _) in states.items():
        say(f"{name}: {text}")
    damaged = [name for name, (_, bad) in states.items() if bad]
    if damaged:
        say(f"{len(damaged)} of {len(states)} runs damaged; ./run_all.sh with the same options repairs them")
    else:
        say(f"{len(states)} runs verified, none damaged")
    return bool(damaged)
