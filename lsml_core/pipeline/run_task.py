"""One run as a process executes it (this one, or a Ray worker): under its folder's lock, decide whether to
skip, resume, take over the same run finished by another profile (`sharing`) or start afresh, then execute its notebooks (their kernels on the run's CPU threads), and record
where it ran.

A run is redone from scratch when --force asked for it and it was last started before this invocation
began (a retry after a lost worker, or a run another invocation started meanwhile, is not), when its
teacher was retrained since it learnt from it, or when a file that only training writes differs from the
record of what it produced (`outputs`); a run whose evaluation outputs differ from that record executes its
notebooks again (they resume after the last epoch); an intact finished run is skipped and an unfinished
one resumes from its last epoch. A run that finishes here has its outputs recorded.
"""

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lsml_core import layout
from lsml_core.outputs import Damage, damage, damaged_checkpoint, is_recorded, missing_outputs, record_outputs
from lsml_core.pipeline.locks import held, mark_taken
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.pipeline.notebooks import Failure, execute_all
from lsml_core.pipeline.renaming import bring_up_to_date
from lsml_core.pipeline.sharing import find_donor, never_started, take_over
from lsml_core.records import file_sha256, read_json, write_json


@dataclass(frozen=True)
class RunTask:
    """Everything a process needs to train one run and evaluate it (picklable, for Ray)."""

    name: str
    config: dict
    teacher: str | None
    run_dir: Path
    data_dir: Path
    profile_dir: Path
    notebook_dir: Path
    notebooks: tuple[Notebook, ...]
    is_complete: Callable[[Path], bool]
    kernel: str
    outputs: tuple[str, ...] = ()  # the files every finished run of the track holds
    since: str = ""  # when the invocation began (ISO time, UTC): --force redoes runs started before it
    force: bool = False
    wait: bool = False  # wait for the run's lock when another process holds it (else hand the run back)
    threads: int | None = None  # the CPU threads its kernels compute with (the run's train.threads)
    token: str = ""  # left beside the run's lock once this task holds it and starts the run (`locks.mark_taken`)
    keep_checkpoint: bool = False  # the profile's keep_checkpoints; else a finished run's is `finish_checkpoint`ed
    keep_last_weights: bool = False  # its evaluation reads its last epoch's weights (`Track.reads_last_weights`)


@dataclass(frozen=True)
class Outcome:
    """What became of a run: its failure (None when it succeeded), whether this process trained it, whether
    another process held it (`busy`: not started, to be tried again later), a note for the log."""

    name: str
    failure: Failure | None
    trained: bool
    busy: bool = False
    note: str = ""


def run_lock(name: str) -> str:
    """The name of a run's lock in its profile folder (`locks.held`)."""
    return f"{layout.RUNS}/{name}"


def now() -> str:
    """The present time as ISO text (UTC, microseconds): what execution.json records and `since` holds."""
    return datetime.now(timezone.utc).isoformat()


def execution_record(run_dir: Path) -> dict:
    """The run's execution.json ({} before it was first started, or when it was damaged from outside)."""
    try:
        return read_json(run_dir / layout.EXECUTION)
    except (OSError, ValueError):
        return {}


def finished(run_dir: Path, is_complete: Callable[[Path], bool], notebooks: tuple[Notebook, ...]) -> bool:
    """A run is finished when its track says so, its last execution did not fail and every run notebook was
    rendered (a run killed between its last record and its HTML is taken up again: it resumes after its
    last epoch and re-evaluates)."""
    rendered = all((run_dir / layout.rendered(nb.name)).is_file() for nb in notebooks)
    return is_complete(run_dir) and rendered and not execution_record(run_dir).get("failed", False)


def damage_of(
    run_dir: Path, *, is_complete: Callable[[Path], bool], notebooks: tuple[Notebook, ...], outputs: tuple[str, ...]
) -> Damage | None:
    """How a run differs from the record of what it produced; for a finished run without a record, which of the
    files every finished run of its track holds (`outputs`) are missing; None when nothing is damaged."""
    if is_recorded(run_dir):
        return damage(run_dir)
    return missing_outputs(run_dir, outputs) if finished(run_dir, is_complete, notebooks) else None


def teacher_fingerprint(teacher: str | None, run_dir: Path) -> dict | None:
    """For a run that learns from `teacher`: the teacher's name and a hash of its best model."""
    if not teacher:
        return None
    best = run_dir.parent / teacher / layout.BEST_MODEL
    return {"teacher": teacher, "model_best_sha256": file_sha256(best) if best.is_file() else None}


def teacher_changed(teacher: str | None, run_dir: Path) -> bool:
    """True when a taught run (finished or not) learnt from another model of its teacher than the present
    one, or trained without a record of which (a folder of an older version)."""
    if not teacher:
        return False
    stamp = run_dir / layout.TEACHER_STAMP
    if not stamp.is_file():
        return (run_dir / layout.CHECKPOINT).is_file()
    try:
        return read_json(stamp) != teacher_fingerprint(teacher, run_dir)
    except ValueError:  # a stamp damaged from outside: which teacher it learnt from is unknown
        return True


def forced(task: "RunTask") -> bool:
    """--force redoes a run last started before this invocation began (not one it or another started since)."""
    started = execution_record(task.run_dir).get("started")
    return task.force and (started is None or started < task.since)


def wipe(run_dir: Path) -> None:
    """Remove a run folder so that a kill midway never leaves a partial folder that looks finished: it is
    moved into the profile's `.trash/` first (one atomic step, outside `runs/`), then deleted, with what
    an earlier killed wipe left there."""
    if not run_dir.exists():
        return
    trash = run_dir.parent.parent / layout.TRASH
    trash.mkdir(exist_ok=True)
    os.replace(run_dir, trash / f"{run_dir.name}-{uuid.uuid4().hex[:8]}")
    for folder in trash.iterdir():
        shutil.rmtree(folder, ignore_errors=True)  # another process may be deleting it too


def execute_run_notebooks(task: RunTask) -> Failure | None:
    """A run's notebooks (train, evaluate), up to the first failure (returned, or None)."""
    params = {"config": task.config, "run_dir": str(task.run_dir), "data_dir": str(task.data_dir)}
    failures = execute_all(
        task.notebook_dir,
        task.notebooks,
        task.run_dir,
        params,
        kernel=task.kernel,
        stop_on_failure=True,
        threads=task.threads,
    )
    return next(filter(None, failures), None)


def train_run(task: RunTask, placement: dict, execute: Callable = execute_run_notebooks) -> Outcome:
    """Train and evaluate one run (`execute`, with the task's CPU threads) under its folder's lock; handed back
    `busy` when another process holds it (unless `task.wait`), skipped when another process finished it.
    Marks the lock taken with the task's token once it starts (the scheduler says `start` then, not before);
    writes execution.json when it starts and when it ends, and the teacher stamp of a taught run."""
    lock = run_lock(task.name)
    with held(task.profile_dir, lock, f"run {task.name}", wait=task.wait) as waited:
        if waited is None:
            return Outcome(task.name, None, trained=False, busy=True)
        note = "waited for another process that held it" if waited else ""
        damaged = damage_of(task.run_dir, is_complete=task.is_complete, notebooks=task.notebooks, outputs=task.outputs)
        redo = forced(task) or teacher_changed(task.teacher, task.run_dir) or (damaged is not None and damaged.retrain)
        renamed = [] if redo else bring_up_to_date(task.run_dir, task.config)  # judged by its record first
        if renamed:
            note = f"written before {', '.join(renamed)} were renamed: evaluated again under the new names (nothing retrained)"
            damaged = None  # its evaluation outputs and their record are gone: it is evaluated again
        if not redo and damaged is None and finished(task.run_dir, task.is_complete, task.notebooks):
            return Outcome(task.name, None, trained=False, note="another process finished it")
        donor = shared_run(task) if not task.force and never_started(task.run_dir) else None
        if donor is not None:
            take_over(donor, task.run_dir, task.config, lambda folder: finish_run(task, folder))
            return Outcome(task.name, None, trained=False, note=f"computed once for {donor.parent.parent.name}: shared")
        if task.token:
            mark_taken(task.profile_dir, lock, task.token)
        if redo:
            wipe(task.run_dir)
        started = {"started": now(), **placement, "threads": task.threads}
        write_json(task.run_dir / layout.EXECUTION, started)
        for notebook in task.notebooks:  # an earlier attempt's pages must not make the run look finished
            (task.run_dir / layout.rendered(notebook.name)).unlink(missing_ok=True)
        if task.teacher:  # before training: a run killed midway is judged by it too
            write_json(task.run_dir / layout.TEACHER_STAMP, teacher_fingerprint(task.teacher, task.run_dir))
        start = time.perf_counter()
        failure = execute(task)
        ended = now()
        seconds = round(time.perf_counter() - start, 1)
        write_json(
            task.run_dir / layout.EXECUTION, {**started, "seconds": seconds, "ended": ended, "failed": bool(failure)}
        )
        if finished(task.run_dir, task.is_complete, task.notebooks):
            (task.run_dir / layout.OUTPUTS).unlink(missing_ok=True)  # a kill next leaves no record, never a stale one
            finish_run(task, task.run_dir)
            record_outputs(task.run_dir)
    return Outcome(task.name, failure, trained=True, note=note)


def finish_run(task: RunTask, run_dir: Path) -> None:
    """A finished run's checkpoint (in `run_dir`: its folder, or the folder it is taken over in) reduced to what a
    rerun reads (`fit.finish_checkpoint`), unless the profile keeps checkpoints; a copy shared by a hard link
    is replaced, never written through."""
    path = run_dir / layout.CHECKPOINT
    if not task.keep_checkpoint and path.is_file() and not damaged_checkpoint(path):  # a damaged one: the record's
        from lsml_core import fit  # only here: torch, which the pipeline's other modules do not import

        fit.finish_checkpoint(path, task.keep_last_weights)


def shared_run(task: RunTask) -> Path | None:
    """The same run finished in another profile of the results folder (`sharing.find_donor`), or None."""
    stamp = teacher_fingerprint(task.teacher, task.run_dir)
    return find_donor(task.run_dir, task.config, stamp, lambda d: finished(d, task.is_complete, task.notebooks))


def record_unrecorded(task: RunTask) -> bool:
    """Record the outputs of a finished run without a record (an older version finished it, or a kill came
    between its last page and its record), as they are now, under its lock; False when another process holds
    it or it is not such a run."""
    with held(task.profile_dir, run_lock(task.name), f"run {task.name}", wait=False) as waited:
        if waited is None or is_recorded(task.run_dir):
            return False
        if not finished(task.run_dir, task.is_complete, task.notebooks):
            return False
        record_outputs(task.run_dir)
        return True
