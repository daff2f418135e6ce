"""The run loop of every track and executor: which runs to start, in what order, and what became of them.

A track plans its runs (`Track.plan`), possibly more once some have settled (the single-label track
plans the students of the teachers it chose). A run that learns from a teacher starts as soon as its
teacher has settled, not after every other run. A finished run is checked against the record of what
it produced: intact, it is skipped; damaged, it is repaired (evaluated again, or trained again) with a
line that says what and why. Folders of another configuration are refused unless --force, and a run
whose teacher was retrained since is redone (`run_task`). A run another process holds is handed back and
tried again after the others, then waited for: two invocations on one results folder share the work. A run
is said to `start` once its task holds its lock and starts it (the task marks the lock taken with this
invocation's token), not when it is handed to the executor: a run held elsewhere is never said to start twice.
"""

import fnmatch
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lsml_core import layout
from lsml_core.outputs import Damage, damaged_checkpoint, how_changed, is_recorded
from lsml_core.pipeline.locks import taken_by
from lsml_core.pipeline.notebooks import Failure, explained
from lsml_core.pipeline.progress import EpochWatcher, Progress
from lsml_core.pipeline.run_task import (
    Outcome,
    RunTask,
    damage_of,
    finished,
    now,
    record_unrecorded,
    run_lock,
    teacher_changed,
)
from lsml_core.records import read_json
from lsml_core.results import config_differences

WAIT_S = 5.0
POLL_S = 0.5  # how often the locks of runs handed to the executor but not yet started are looked at


def check_patterns(names: list[str], patterns: list[str] | None) -> None:
    """Raise ValueError when `--runs` patterns match none of the profile's run names."""
    if patterns and not any(fnmatch.fnmatch(n, p) for n in names for p in patterns):
        raise ValueError(f"--runs {patterns} matches none of: {', '.join(names)}")


def selected(name: str, patterns: list[str] | None) -> bool:
    """Whether a run's name matches one of the glob patterns (every run without patterns)."""
    return not patterns or any(fnmatch.fnmatch(name, p) for p in patterns)


def another_configuration(cfg, run_dir: Path, differing: list[str]) -> str:
    """Why a run folder written by another configuration is refused, and what to do (another thread count: the
    option that keeps its results)."""
    if differing == ["train.threads"]:
        saved = read_json(run_dir / layout.CONFIG)["train"].get("threads", 1)
        return (
            f"the run folder holds results computed on {saved} CPU thread(s), not {cfg.train.threads} (the "
            f"numbers depend on it): rerun with --threads {saved} to keep them, --force to redo the run, "
            "or use another --results-dir"
        )
    return (
        f"the run folder holds results of a different configuration ({', '.join(differing)}); "
        "rerun with --force to redo it, or use another --results-dir"
    )


def config_damaged(run_dir: Path) -> bool:
    """Whether a run's config.json differs from the record of its outputs (damaged after it finished)."""
    try:
        recorded = read_json(run_dir / layout.OUTPUTS)["files"][layout.CONFIG]
    except (OSError, ValueError, KeyError):
        return False
    return how_changed(run_dir / layout.CONFIG, recorded) is not None


def teacher_of(cfg) -> str | None:
    """The run a run learns from (None for most runs)."""
    return getattr(cfg.train, "teacher", None)


@dataclass
class Plan:
    """One invocation's runs: planned (in plan order), queued (with whether to wait for their lock next
    time), running (by executor handle; `started`: those whose task took their lock and started them, `warnings`:
    what each repairs, said then) and settled (ended here, skipped or refused)."""

    patterns: list[str] | None
    order: list[str] = field(default_factory=list)
    queue: dict = field(default_factory=dict)
    waits: set = field(default_factory=set)
    running: dict = field(default_factory=dict)
    started: set = field(default_factory=set)
    settled_names: set = field(default_factory=set)
    warnings: dict = field(default_factory=dict)  # run -> what it repairs, said when its task starts it

    def settled(self, name: str) -> bool:
        """A run this invocation will not touch (any more): settled here, or not selected by --runs."""
        return name in self.settled_names or not selected(name, self.patterns)

    def add(self, runs: list) -> None:
        """Queue the selected runs not planned before."""
        for cfg in runs:
            if cfg.name not in self.order:
                self.order.append(cfg.name)
                if selected(cfg.name, self.patterns):
                    self.queue[cfg.name] = cfg

    def ready(self) -> list:
        """Queued runs without a teacher or whose teacher has settled, in queue order."""
        return [cfg for cfg in self.queue.values() if not teacher_of(cfg) or self.settled(teacher_of(cfg))]

    def settle(self, name: str) -> None:
        self.queue.pop(name, None)
        self.started.discard(name)
        self.settled_names.add(name)

    def waiting(self) -> list:
        """Runs handed to the executor whose task has not started them yet (it may wait for their lock)."""
        return [cfg for cfg in self.running.values() if cfg.name not in self.started]

    def queued(self) -> int:
        """Runs not started yet: queued, or handed to the executor but not started by their task."""
        return len(self.queue) + len(self.waiting())


class Scheduler:
    """Runs a track's planned runs on an executor; returns the failures and the planned run names."""

    def __init__(
        self,
        track,
        profile,
        profile_dir: Path,
        data_dir: Path,
        *,
        force: bool,
        kernel: str,
        say=print,
        context: str = "",
    ):
        self.track, self.profile, self.out, self.data_dir = track, profile, profile_dir, data_dir
        self.force, self.kernel, self.say, self.context = force, kernel, say, context
        self.runs_dir = profile_dir / layout.RUNS
        self.since = now()
        self.token = uuid.uuid4().hex  # what this invocation's tasks leave beside a run's lock once they start it

    def run(self, executor, patterns: list[str] | None) -> tuple[list[Failure], list[str]]:
        plan = Plan(patterns)
        progress = Progress(executor.slots(self.profile.train.threads), context=self.context)
        watcher = EpochWatcher(progress, self.say)
        watcher.start()
        failures: list[Failure] = []
        try:
            replan = True
            while True:
                if replan:
                    plan.add(self.track.plan(self.profile, self.runs_dir, plan.settled))
                replan = self.dispatch(plan, executor, progress, failures)
                if not plan.running:
                    if replan:
                        continue
                    failures += self.never_started(plan)
                    break
                self.announce(plan, progress)
                ended = executor.wait(list(plan.running), POLL_S if plan.waiting() else WAIT_S)
                self.announce(plan, progress)  # a run that started and ended between two looks: said in order
                for handle, result in ended:
                    failures += self.ended(plan, plan.running.pop(handle), result, progress)
                    replan = True
        finally:
            watcher.stop()
        return failures, plan.order

    def dispatch(self, plan: Plan, executor, progress: Progress, failures: list) -> bool:
        """Start ready runs while slots are free; settle at once those skipped or refused.
        Returns True when a run settled here (the plan may grow)."""
        settled_here = False
        slots = executor.slots(self.profile.train.threads)
        for cfg in plan.ready():
            if len(plan.running) >= slots:
                break
            run_dir = self.runs_dir / cfg.name
            damaged = None if self.force else self.damage(run_dir)
            refusal = self.refusal(cfg, run_dir, damaged)
            skip = (
                damaged is None
                and not self.force
                and finished(run_dir, self.track.is_complete, self.track.run_notebooks)
            )
            relearn = not self.force and teacher_changed(teacher_of(cfg), run_dir)
            if refusal is not None or (skip and not relearn):
                plan.settle(cfg.name)
                settled_here = True
                if refusal is not None:
                    failures.append(refusal)
                else:
                    self.skipped(cfg, run_dir)
                continue
            plan.warnings[cfg.name] = self.warning(cfg, run_dir, damaged, relearn)
            del plan.queue[cfg.name]
            plan.running[executor.submit(self.task(cfg, run_dir, cfg.name in plan.waits))] = cfg
        progress.queued = plan.queued()
        return settled_here

    def announce(self, plan: Plan, progress: Progress) -> None:
        """Say `start` of each run whose task took its lock and started it since last looked (its mark holds
        this invocation's token); a run another process holds is not said to start until its task takes it."""
        for cfg in plan.waiting():
            if taken_by(self.out, run_lock(cfg.name)) == self.token:
                plan.started.add(cfg.name)
                progress.queued = plan.queued()
                progress.started(cfg.name, self.runs_dir / cfg.name, getattr(cfg.train, "epochs", None))
                if plan.warnings.get(cfg.name):
                    self.say(plan.warnings[cfg.name])
                self.say(f"start {cfg.name}  {progress.line()}")

    def damage(self, run_dir: Path) -> Damage | None:
        """How a run of the track differs from its record (or, without one, lacks a file a finished run holds)."""
        t = self.track
        return damage_of(run_dir, is_complete=t.is_complete, notebooks=t.run_notebooks, outputs=t.outputs)

    def skipped(self, cfg, run_dir: Path) -> None:
        """Say that a finished run is skipped; one finished without a record of its outputs has them recorded now."""
        if not is_recorded(run_dir) and record_unrecorded(self.task(cfg, run_dir, False)):
            self.say(
                f"{cfg.name}: finished, skipped; its outputs had no record (an older version, or a kill): recorded now"
            )
        else:
            self.say(f"{cfg.name}: finished, skipped (--force redoes it)")

    def warning(self, cfg, run_dir: Path, damaged: Damage | None, relearn: bool) -> str | None:
        """What a run about to start repairs and why, or that its last checkpoint is damaged (said once its task
        takes its lock and starts it: another process may repair it first); None when nothing."""
        name = cfg.name
        if relearn:
            return f"redo {name}: its teacher {teacher_of(cfg)} is not the model it learnt from; trained again"
        if damaged is not None:
            return f"repair {name}: {damaged.describe()} since it finished; {damaged.action()}"
        if damaged_checkpoint(run_dir / layout.CHECKPOINT):
            return f"warning: {run_dir / layout.CHECKPOINT} is damaged: {name} starts again from its first epoch"
        return None

    def refusal(self, cfg, run_dir: Path, damaged: Damage | None = None) -> Failure | None:
        """Why a run cannot start: its folder holds another configuration (or a config.json that does not read
        and no record to repair it from), or its teacher did not finish."""
        try:
            unchecked = self.force or (damaged is not None and layout.CONFIG in damaged.files)
            differing = [] if unchecked else config_differences(run_dir, cfg)
        except ValueError:
            return Failure(
                cfg.name,
                run_dir / layout.CONFIG,
                f"{run_dir / layout.CONFIG} does not read (damaged from outside); rerun with --force to redo the run",
            )
        if differing:
            return Failure(cfg.name, run_dir / layout.CONFIG, another_configuration(cfg, run_dir, differing))
        teacher = teacher_of(cfg)
        if teacher and not self.track.is_complete(self.runs_dir / teacher):
            return Failure(cfg.name, self.runs_dir / teacher, f"its teacher run {teacher} did not finish")
        return None

    def changed_folders(self) -> list[str]:
        """Why runs of the profile's first plan (whatever --runs selects: the report reads them all) cannot
        start because their folders hold another configuration: said before any run is trained or notebook
        executed, so that a changed profile is never reported beside the results of the profile as it was. A
        config.json that does not read or differs from its record is left to the run's repair; nothing is refused
        with --force."""
        if self.force:
            return []
        reasons = []
        for cfg in self.track.plan(self.profile, self.runs_dir, lambda name: False):
            run_dir = self.runs_dir / cfg.name
            if not (run_dir / layout.CONFIG).is_file() or config_damaged(run_dir):
                continue
            try:
                differing = config_differences(run_dir, cfg)
            except ValueError:
                continue
            if differing:
                reasons.append(f"{cfg.name}: {another_configuration(cfg, run_dir, differing)}")
        return reasons

    def task(self, cfg, run_dir: Path, wait: bool) -> RunTask:
        """What the executor needs to train `cfg` into `run_dir`."""
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
            outputs=self.track.outputs,
            since=self.since,
            force=self.force,
            wait=wait,
            threads=cfg.train.threads,
            token=self.token,
            keep_checkpoint=self.profile.keep_checkpoints,
            keep_last_weights=self.track.reads_last_weights(cfg.to_dict()),
        )

    def ended(self, plan: Plan, cfg, result, progress: Progress) -> list[Failure]:
        """Settle a run from what its task returned (an Outcome, or the exception that ended the task); a run
        another process held goes back to the end of the queue, to be waited for next time."""
        outcome = result if isinstance(result, Outcome) else None
        if outcome is not None and outcome.busy:
            progress.handed_back(cfg.name)
            plan.queue[cfg.name] = cfg
            plan.waits.add(cfg.name)
            progress.queued = plan.queued()
            self.say(f"held {cfg.name}: another process is training it, tried again later")
            return []
        plan.settle(cfg.name)
        progress.queued = plan.queued()
        seconds = progress.ended(cfg.name, trained=outcome is not None and outcome.trained)
        failure = outcome.failure if outcome else self.lost(cfg, result)
        state = "failed" if failure else ("finished" if outcome.trained else "skipped")
        note = f", {outcome.note}" if outcome and outcome.note else ""
        self.say(f"{state} {cfg.name} ({seconds:.0f} s{note})  {progress.line()}")
        return [failure] if failure else []

    def lost(self, cfg, exc: BaseException) -> Failure:
        """A task that ended without an outcome (its worker or node died, a fault outside the notebooks; a full
        disk said so in plain words)."""
        notebook = self.runs_dir / cfg.name / layout.notebook(self.track.run_notebooks[0].name)
        return Failure(cfg.name, notebook, explained(exc, f"{type(exc).__name__}: {exc}", notebook.parent))

    def never_started(self, plan: Plan) -> list[Failure]:
        """Queued runs whose teacher never settled (not planned, or a cycle of teachers), as failures."""
        failures = [
            Failure(name, self.runs_dir / name, f"its teacher {teacher_of(cfg)} was never planned to run first")
            for name, cfg in plan.queue.items()
        ]
        plan.queue.clear()
        return failures
