"""One run as a process executes it (this one, or a Ray worker): under its folder's lock, decide whether to
skip, resume or start afresh, then execute its notebooks with its CPU threads, and record where it ran.

A run is redone from scratch when --force asked for it in this invocation (a retry of the same invocation,
after a lost worker, resumes instead) or when its teacher was retrained since it learnt from it; otherwise
a finished run is skipped and an unfinished one resumes from its last epoch.
"""

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lsml_core.fit import BEST_MODEL
from lsml_core.locks import held
from lsml_core.notebooks import Failure, Notebook, execute_all
from lsml_core.records import file_sha256, read_json, write_json

TEACHER_STAMP = "teacher.json"  # in a run that learnt from a teacher: which teacher model it saw
EXECUTION = "execution.json"  # in every run started: which invocation, where, how long (not a result)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
TRASH_DIR = ".trash"  # in the profile folder: run folders being deleted


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
    invocation: str = ""
    force: bool = False
    wait: bool = False  # wait for the run's lock when another process holds it (else hand the run back)
    threads: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of a run: its failure (None when it succeeded), whether this process trained it, whether
    another process held it (`busy`: not started, to be tried again later), a note for the log."""

    name: str
    failure: Failure | None
    trained: bool
    busy: bool = False
    note: str = ""


def new_invocation() -> str:
    """An id for one invocation of the run loop (tells its own interrupted runs from others')."""
    return uuid.uuid4().hex


def finished(run_dir: Path, is_complete: Callable[[Path], bool], notebooks: tuple[Notebook, ...]) -> bool:
    """A run is finished when its track says so and every run notebook was rendered (a run killed between
    its last record and its HTML is taken up again: it resumes after its last epoch and re-evaluates)."""
    return is_complete(run_dir) and all((run_dir / f"{nb.name}.html").is_file() for nb in notebooks)


def teacher_fingerprint(teacher: str | None, run_dir: Path) -> dict | None:
    """For a run that learns from `teacher`: the teacher's name and a hash of its best model."""
    if not teacher:
        return None
    best = run_dir.parent / teacher / BEST_MODEL
    return {"teacher": teacher, "model_best_sha256": file_sha256(best) if best.is_file() else None}


def teacher_changed(teacher: str | None, run_dir: Path) -> bool:
    """True when a run (finished or not) learnt from another model of its teacher than the present one."""
    stamp = run_dir / TEACHER_STAMP
    return stamp.is_file() and read_json(stamp) != teacher_fingerprint(teacher, run_dir)


def started_by(run_dir: Path) -> str | None:
    """The invocation that last started the run, from its execution.json."""
    path = run_dir / EXECUTION
    return read_json(path).get("invocation") if path.is_file() else None


def wipe(run_dir: Path) -> None:
    """Remove a run folder so that a kill midway never leaves a partial folder that looks finished: it is
    moved into the profile's `.trash/` first (one atomic step, outside `runs/`), then deleted, with what
    an earlier killed wipe left there."""
    if not run_dir.exists():
        return
    trash = run_dir.parent.parent / TRASH_DIR
    trash.mkdir(exist_ok=True)
    os.replace(run_dir, trash / f"{run_dir.name}-{uuid.uuid4().hex[:8]}")
    for folder in trash.iterdir():
        shutil.rmtree(folder, ignore_errors=True)  # another process may be deleting it too


@contextmanager
def thread_count(threads: int | None) -> Iterator[None]:
    """The kernels started in the block use `threads` CPU threads (OpenMP, MKL); None leaves torch's default."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    if threads is not None:
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute_run_notebooks(task: RunTask) -> Failure | None:
    """A run's notebooks (train, evaluate), up to the first failure (returned, or None)."""
    params = {"config": task.config, "run_dir": str(task.run_dir), "data_dir": str(task.data_dir)}
    failures = execute_all(task.notebook_dir, task.notebooks, task.run_dir, params, task.kernel, True)
    return next(filter(None, failures), None)


def train_run(task: RunTask, placement: dict, execute: Callable = execute_run_notebooks) -> Outcome:
    """Train and evaluate one run (`execute`, with the task's CPU threads) under its folder's lock; handed back
    `busy` when another process holds it (unless `task.wait`), skipped when another process finished it.
    Writes execution.json when it starts and when it ends, and the teacher stamp of a taught run."""
    with held(task.profile_dir, f"runs/{task.name}", f"run {task.name}", wait=task.wait) as waited:
        if waited is None:
            return Outcome(task.name, None, trained=False, busy=True)
        note = "waited for another process that held it" if waited else ""
        redo = (task.force and started_by(task.run_dir) != task.invocation) or teacher_changed(
            task.teacher, task.run_dir
        )
        if not redo and finished(task.run_dir, task.is_complete, task.notebooks):
            return Outcome(task.name, None, trained=False, note="another process finished it")
        if redo:
            wipe(task.run_dir)
        record = {"invocation": task.invocation, **placement, "threads": task.threads}
        write_json(task.run_dir / EXECUTION, record)
        if task.teacher:  # before training: a run killed midway is judged by it too
            write_json(task.run_dir / TEACHER_STAMP, teacher_fingerprint(task.teacher, task.run_dir))
        start = time.perf_counter()
        with thread_count(task.threads):
            failure = execute(task)
        ended = datetime.now(timezone.utc).isoformat(timespec="seconds")
        seconds = round(time.perf_counter() - start, 1)
        write_json(task.run_dir / EXECUTION, {**record, "seconds": seconds, "ended": ended, "failed": bool(failure)})
    return Outcome(task.name, failure, trained=True, note=note)
