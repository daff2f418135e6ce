"""The run loop of every track and executor: which runs to train, in what order, and what became of them.

A track plans its runs (`Track.plan`), possibly more once some have settled (the single-label track
plans the students of the teachers it chose). A run that learns from a teacher starts as soon as its
teacher has settled, not after every other run. Finished runs are skipped, folders of another
configuration refused unless --force, and a finished run whose teacher was retrained since is redone.
A run holds its folder's lock while it trains (`locks`), so a second invocation on the same results
waits for it and then skips it.
"""

import fnmatch
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lsml_core.fit import BEST_MODEL
from lsml_core.locks import held
from lsml_core.notebooks import Failure, Notebook, execute_all
from lsml_core.progress import EpochWatcher, Progress
from lsml_core.records import file_sha256, read_json, write_json
from lsml_core.results import same_config

TEACHER_STAMP = "teacher.json"  # in a run that learnt from a teacher: which teacher model it saw
EXECUTION = "execution.json"  # in every run trained: where and how long (not part of its results)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
WAIT_S = 5.0


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
    redo: bool = False
    threads: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of a run: its failure (None when it succeeded), whether this process trained it, and a
    note for the log (it waited for another process, which finished it)."""

    name: str
    failure: Failure | None
    trained: bool
    note: str = ""


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
    """True when a finished run's teacher was retrained (by --force) after the run learnt from it."""
    stamp = run_dir / TEACHER_STAMP
    return stamp.is_file() and read_json(stamp) != teacher_fingerprint(teacher, run_dir)


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
    """Train and evaluate one run (`execute`, with the task's CPU threads) under its folder's lock; skipped when
    another process finished it meanwhile. Writes the teacher stamp of a taught run and execution.json."""
    with held(task.profile_dir, task.name, f"run {task.name}") as waited:
        note = "waited for another process that held it; " if waited else ""
        if not task.redo and finished(task.run_dir, task.is_complete, task.notebooks):
            return Outcome(task.name, None, trained=False, note=note + "another process finished it")
        if task.redo:
            shutil.rmtree(task.run_dir, ignore_errors=True)
        if task.teacher:  # before training: a run killed midway and resumed later is judged by it too
            write_json(task.run_dir / TEACHER_STAMP, teacher_fingerprint(task.teacher, task.run_dir))
        start = time.perf_counter()
        with thread_count(task.threads):
            failure = execute(task)
        write_json(
            task.run_dir / EXECUTION,
            {
                **placement,
                "threads": task.threads,
                "seconds": round(time.perf_counter() - start, 1),
                "ended": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "failed": failure is not None,
            },
        )
    return Outcome(task.name, failure, trained=True, note=note.removesuffix("; "))


def check_patterns(names: list[str], patterns: list[str] | None) -> None:
    """Raise ValueError when `--runs` patterns match none of the profile's run names."""
    if patterns and not any(fnmatch.fnmatch(n, p) for n in names for p in patterns):
        raise ValueError(f"--runs {patterns} matches none of: {', '.join(names)}")


def selected(name: str, patterns: list[str] | None) -> bool:
    """Whether a run's name matches one of the glob patterns (every run without patterns)."""
    return not patterns or any(fnmatch.fnmatch(name, p) for p in patterns)


def teacher_of(cfg) -> str | None:
    return getattr(cfg.train, "teacher", None)


@dataclass
class Plan:
    """The state of one invocation's runs: planned (in plan order), queued, running, settled."""

    patterns: list[str] | None
    order: list[str]
    queue: dict
    running: dict
    done: set

    def settled(self, name: str) -> bool:
        """A run this invocation will not touch (any more): ended here, or not selected by --runs."""
        return name in self.done or not selected(name, self.patterns)

    def add(self, runs: list) -> None:
        for cfg in runs:
            if cfg.name not in self.order:
                self.order.append(cfg.name)
                if selected(cfg.name, self.patterns):
                    self.queue[cfg.name] = cfg

    def ready(self) -> list:
        """Queued runs without a teacher or whose teacher has settled, in plan order."""
        return [cfg for cfg in self.queue.values() if not teacher_of(cfg) or self.settled(teacher_of(cfg))]


class Scheduler:
    """Runs a track's planned runs on an executor; returns the failures and the planned run names."""

    def __init__(self, track, profile, profile_dir: Path, data_dir: Path, force: bool, kernel: str, say=print):
        self.track, self.profile, self.out, self.data_dir = track, profile, profile_dir, data_dir
        self.force, self.kernel, self.say = force, kernel, say
        self.runs_dir = profile_dir / "runs"

    def run(self, executor, patterns: list[str] | None) -> tuple[list[Failure], list[str]]:
        plan = Plan(patterns, [], {}, {}, set())
        progress = Progress(executor.slots())
        watcher = EpochWatcher(progress, self.say)
        watcher.start()
        failures: list[Failure] = []
        try:
            replan = True
            while True:
                if replan:
                    plan.add(self.track.plan(self.profile, self.runs_dir, plan.settled))
                replan = self.dispatch(plan, executor, progress, failures)
                progress.queued = len(plan.queue)
                if not plan.running:
                    if replan:
                        continue
                    failures += self.never_started(plan)
                    break
                for handle, result in executor.wait(list(plan.running), WAIT_S):
                    failures += self.ended(plan, plan.running.pop(handle), result, progress)
                    replan = True
        finally:
            watcher.stop()
        return failures, plan.order

    def dispatch(self, plan: Plan, executor, progress: Progress, failures: list) -> bool:
        """Start the ready runs while slots are free; settle at once those skipped or refused.
        Returns True when a run settled here (the plan may grow)."""
        settled_here = False
        for cfg in plan.ready():
            run_dir = self.runs_dir / cfg.name
            refusal = self.refusal(cfg, run_dir)
            done = finished(run_dir, self.track.is_complete, self.track.run_notebooks)
            stale = done and teacher_changed(teacher_of(cfg), run_dir)
            if refusal is not None or (done and not self.force and not stale):
                del plan.queue[cfg.name]
                plan.done.add(cfg.name)
                settled_here = True
                if refusal is not None:
                    failures.append(refusal)
                else:
                    self.say(f"{cfg.name}: finished, skipped (--force redoes it)")
                continue
            if len(plan.running) >= executor.slots():
                continue
            del plan.queue[cfg.name]
            progress.queued = len(plan.queue)
            progress.started(cfg.name, run_dir, getattr(cfg.train, "epochs", None))
            note = ": its teacher was retrained, redone" if stale else ""
            self.say(f"start {cfg.name}{note}  {progress.line()}")
            plan.running[executor.submit(self.task(cfg, run_dir, self.force or stale))] = cfg
        return settled_here

    def refusal(self, cfg, run_dir: Path) -> Failure | None:
        """Why a run cannot start: its folder holds another configuration, or its teacher did not finish."""
        if not self.force and not same_config(run_dir, cfg):
            return Failure(
                cfg.name,
                run_dir / "config.json",
                "the run folder holds results of a different configuration; rerun with --force to redo it, "
                "or use another --results-dir",
            )
        teacher = teacher_of(cfg)
        if teacher and not self.track.is_complete(self.runs_dir / teacher):
            return Failure(cfg.name, self.runs_dir / teacher, f"its teacher run {teacher} did not finish")
        return None

    def task(self, cfg, run_dir: Path, redo: bool) -> RunTask:
        return RunTask(
            name=cfg.name,
            config=cfg.to_dict(),
            teacher=teacher_of(cfg),
            run_dir=run_dir,
            data_dir=self.data_dir,
            profile_dir=self.out,
            notebook_dir=self.track.notebook_dir,
            notebooks=self.track.run_notebooks,
            is_complete=self.track.is_complete,
            kernel=self.kernel,
            redo=redo,
        )

    def ended(self, plan: Plan, cfg, result, progress: Progress) -> list[Failure]:
        """Settle a run from what its task returned (an Outcome, or the exception that ended the task)."""
        plan.done.add(cfg.name)
        outcome = result if isinstance(result, Outcome) else None
        seconds = progress.ended(cfg.name, trained=outcome is not None and outcome.trained)
        failure = outcome.failure if outcome else self.lost(cfg, result)
        state = "failed" if failure else ("finished" if outcome.trained else "skipped")
        note = f", {outcome.note}" if outcome and outcome.note else ""
        self.say(f"{state} {cfg.name} ({seconds:.0f} s{note})  {progress.line()}")
        return [failure] if failure else []

    def lost(self, cfg, exc: BaseException) -> Failure:
        """A task that ended without an outcome (its worker or node died, a fault outside the notebooks)."""
        notebook = self.runs_dir / cfg.name / f"{self.track.run_notebooks[0].name}.ipynb"
        return Failure(cfg.name, notebook, f"{type(exc).__name__}: {exc}")

    def never_started(self, plan: Plan) -> list[Failure]:
        """Queued runs whose teacher is neither planned nor settled (an inconsistent plan), as failures."""
        failures = [
            Failure(name, self.runs_dir / name, f"its teacher {teacher_of(cfg)} is not a run of this profile")
            for name, cfg in plan.queue.items()
        ]
        plan.queue.clear()
        return failures
