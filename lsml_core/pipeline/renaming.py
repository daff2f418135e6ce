"""A run folder written before a renaming (`profiles.RENAMED`, or a value a track maps), brought up to date
without retraining.

A folder whose configuration now gives the run another name (the single-label `resnet8-ls-a0.1-s0` is
`resnet8-uniform-a0.1-s0`) is moved to that name by `rename_run_folders` before the runs are scheduled: its
config.json rewritten as the configuration reads now, the teacher records of the runs that learnt from it renamed,
its evaluation removed, and the profile's records that name runs (the grid choice) removed to be written again.

Its configuration reads with the keys mapped (`profiles.build(..., saved=True)`), so the folder is not taken for
one of another configuration. Before the run is executed again, what training wrote is renamed where the split that
chooses was called `heldout` or `val` (`heldout_map` -> `selection_map`, `val_accuracy` -> `selection_accuracy`):
history.csv's columns, the checkpoint's history and the keys of the JSON records training wrote (the
pseudo-label choice); and its evaluation outputs (metrics, predictions,
pages, the record of its outputs) are removed: the run resumes after its last epoch and is evaluated again
under the new names from its intact model.
"""

import fnmatch
import os
from pathlib import Path

import pandas as pd

from lsml_core import layout
from lsml_core.outputs import REEVALUATED, damaged_checkpoint
from lsml_core.profiles import RENAMED
from lsml_core.records import atomic_torch_save, atomic_write_text, read_json, write_json

KEPT = (layout.OUTPUTS, layout.EXECUTION, layout.TEACHER_STAMP)  # records no renaming touched
HISTORY_PREFIXES = {"heldout_": "selection_", "val_": "selection_"}  # the split that chooses, as it was called


def renamed_keys(run_dir: Path, config: dict) -> list[str]:
    """The keys (`section.key`) of a run folder's config.json that have been renamed since it was written: keys
    `RENAMED` holds that the present configuration `config` lacks in that section."""
    try:
        saved = read_json(Path(run_dir) / layout.CONFIG)
    except (OSError, ValueError):
        return []
    return [
        f"{section}.{key}"
        for section, values in saved.items()
        if isinstance(values, dict) and isinstance(config.get(section), dict)
        for key in values
        if key in RENAMED and key not in config[section]
    ]


def history_column(name: str) -> str:
    """A history column as it is named now (`heldout_map` -> `selection_map`)."""
    for old, new in HISTORY_PREFIXES.items():
        if name.startswith(old):
            return new + name.removeprefix(old)
    return name


def rename_training_records(run_dir: Path) -> None:
    """history.csv's columns, the checkpoint's history rows and the keys of training's JSON records as they are
    named now."""
    history = Path(run_dir) / layout.HISTORY
    if history.is_file():
        frame = pd.read_csv(history)
        atomic_write_text(history, frame.rename(columns=history_column).to_csv(index=False))
    checkpoint = Path(run_dir) / layout.CHECKPOINT
    if checkpoint.is_file() and not damaged_checkpoint(checkpoint):  # a damaged one restarts the run (fit.resumable)
        import torch  # only here: the pipeline modules that import this one stay light

        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        state["history"] = [{history_column(k): v for k, v in row.items()} for row in state.get("history", [])]
        atomic_torch_save(state, checkpoint)
    for record in Path(run_dir).glob("*.json"):
        if not any(fnmatch.fnmatch(record.name, p) for p in REEVALUATED) and record.name not in KEPT:
            values = read_json(record)
            if isinstance(values, dict):
                write_json(record, {history_column(k): v for k, v in values.items()})


def remove_evaluation(run_dir: Path) -> None:
    """Remove what evaluating the run writes, and the record of its outputs: the run is evaluated again."""
    for path in Path(run_dir).iterdir():
        if path.is_file() and (path.name == layout.OUTPUTS or any(fnmatch.fnmatch(path.name, p) for p in REEVALUATED)):
            path.unlink()


def bring_up_to_date(run_dir: Path, config: dict) -> list[str]:
    """Bring a run folder written before a renaming up to date (history renamed, evaluation removed); returns
    the renamed keys of its configuration (none: the folder is left as it is)."""
    keys = renamed_keys(run_dir, config)
    if keys:
        rename_training_records(run_dir)
        remove_evaluation(run_dir)
    return keys


def current_names(runs_dir: Path, run_config) -> dict[str, object]:
    """Folder name -> the configuration its config.json reads as now (`run_config.from_dict`), for every run
    folder whose configuration names it otherwise; folders without a readable configuration are left out."""
    moved = {}
    for run_dir in sorted(Path(runs_dir).glob("*/")):
        try:
            config = run_config.from_dict(read_json(run_dir / layout.CONFIG))
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if config.name != run_dir.name:
            moved[run_dir.name] = config
    return moved


def rename_teacher_stamps(runs_dir: Path, names: dict[str, str]) -> None:
    """The teacher records (teacher.json) of runs that learnt from a renamed run, naming it as it is named now."""
    for stamp in Path(runs_dir).glob(f"*/{layout.TEACHER_STAMP}"):
        try:
            values = read_json(stamp)
        except ValueError:
            continue  # a damaged stamp: the run task trains that run again
        if isinstance(values, dict) and values.get("teacher") in names:
            write_json(stamp, {**values, "teacher": names[values["teacher"]]})


def rename_run_folders(runs_dir: Path, run_config) -> dict[str, str]:
    """Move every run folder written under an earlier name to the name its configuration gives now (none is
    retrained: each is evaluated again); returns old name -> new name. A folder whose new name is taken stays."""
    runs_dir = Path(runs_dir)
    moved = {
        old: config
        for old, config in current_names(runs_dir, run_config).items()
        if not (runs_dir / config.name).exists()
    }
    for old, config in moved.items():
        run_dir = runs_dir / old
        current = config.to_dict()
        if renamed_keys(run_dir, current):
            rename_training_records(run_dir)
        remove_evaluation(run_dir)  # once, whether or not its keys were renamed: its pages name the old run
        write_json(run_dir / layout.CONFIG, current)
        os.replace(run_dir, runs_dir / config.name)
    names = {old: config.name for old, config in moved.items()}
    if names:
        rename_teacher_stamps(runs_dir, names)
        (runs_dir.parent / layout.GRID_CHOICE).unlink(missing_ok=True)
    return names
