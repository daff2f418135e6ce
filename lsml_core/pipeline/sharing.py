"""A run computed once serves every profile of a results folder that asks for it.

A run is identified by its configuration without the profile's name (`answers.run_identity`: the model, recipe,
data and seed). Before a run that was never started here is trained, the other profiles of the same results
folder are searched for a finished, undamaged run of the same name and identity (a taught run: learnt from the
very teacher model this profile holds); when one is found its files are taken over instead of training: the
model files (`*.pt`, written only by atomic replacement, so a rewrite in one profile never reaches the other)
as hard links, one copy on disk (a copy where the two folders are on different file systems), every other file
as a copy. The run then holds its own configuration (this profile's name), an execution record naming where it
was computed, and its own record of outputs, so `--verify`, damage repair and the locks treat it like any run.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from lsml_core import layout
from lsml_core.answers import run_identity
from lsml_core.outputs import damage, is_recorded, record_outputs
from lsml_core.records import read_json, write_json

LINKED = "*.pt"  # the files shared by a hard link: large, and only ever replaced whole


def never_started(run_dir: Path) -> bool:
    """Whether a run has nothing of its own yet: no execution record and no checkpoint."""
    return not (run_dir / layout.EXECUTION).exists() and not (run_dir / layout.CHECKPOINT).exists()


def same_run(run_dir: Path, config: dict, teacher_stamp: dict | None) -> bool:
    """Whether a finished run folder of another profile is this run: the same identity, and for a taught run
    the same teacher model (`teacher_stamp`: this profile's fingerprint of it)."""
    try:
        if run_identity(read_json(run_dir / layout.CONFIG)) != run_identity(config):
            return False
        return teacher_stamp is None or read_json(run_dir / layout.TEACHER_STAMP) == teacher_stamp
    except (OSError, ValueError):
        return False


def find_donor(
    run_dir: Path, config: dict, teacher_stamp: dict | None, finished: Callable[[Path], bool]
) -> Path | None:
    """The first (by profile name) finished, recorded and undamaged run of the same name and identity in another
    profile of the results folder (a folder holding its profile.yaml); None when there is none."""
    results = run_dir.parent.parent.parent
    for other in sorted(results.glob(f"*/{layout.RUNS}/{run_dir.name}")):
        if other.resolve() == run_dir.resolve() or not (other.parent.parent / layout.PROFILE).is_file():
            continue
        if not same_run(other, config, teacher_stamp):
            continue
        if finished(other) and is_recorded(other) and damage(other) is None:
            return other
    return None


def take_over(donor: Path, run_dir: Path, config: dict, finish: Callable[[Path], None] = lambda folder: None) -> None:
    """`run_dir` made a finished run from `donor`'s files (module doc): linked or copied into a folder of the
    profile outside `runs/`, the configuration and execution record its own, `finish(folder)` (what this profile
    keeps of a finished run's checkpoint), the outputs recorded, then moved into place in one step, so a kill
    midway leaves no half-shared run."""
    staging = run_dir.parent.parent / layout.SHARING / run_dir.name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for path in donor.rglob("*"):
        target = staging / path.relative_to(donor)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        elif path.match(LINKED):
            link_or_copy(path, target)
        else:
            shutil.copy2(path, target)
    write_json(staging / layout.CONFIG, config)
    computed = read_json(donor / layout.EXECUTION)
    write_json(staging / layout.EXECUTION, {**computed, "shared_from": f"{donor.parent.parent.name}/{donor.name}"})
    finish(staging)
    record_outputs(staging)
    if run_dir.exists():  # never started: nothing of its own (an empty folder, a notebook not yet executed)
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, run_dir)


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link of `source` at `target` (one copy on disk), or a copy where the file system refuses one."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
