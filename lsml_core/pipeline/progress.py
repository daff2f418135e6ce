"""The progress of a profile's runs: one line (finished / running / queued, elapsed, estimated time left)
whenever a run starts or ends, and each running run's epochs as its training writes them."""

import csv
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lsml_core import layout

SHOWN_EVERY_S = 10.0  # how often the epochs of running runs are looked for


def duration(seconds: float) -> str:
    """'1 h 02 min', '4 min 10 s' or '16 s'."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def history_rows(run_dir: Path) -> list[dict]:
    """The epochs a run's training has written so far (history.csv), as text fields."""
    try:
        with open(Path(run_dir) / layout.HISTORY, newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


def shown_value(value: str) -> str:
    """A history field as the epoch line shows it: numbers to four digits, words (a phase) as they are."""
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value


def epoch_text(name: str, row: dict, epochs: int | None) -> str:
    """'  <run>: epoch 2/5 train_loss 0.4312, selection_map 0.5120 (3 s)': the row's losses, scores and words."""
    shown = [f"{key} {shown_value(value)}" for key, value in row.items() if key not in ("epoch", "seconds") and value]
    shown = [text for text in shown if not text.startswith("lr")]
    total = f"/{epochs}" if epochs else ""
    seconds = f" ({float(row['seconds']):.0f} s)" if row.get("seconds") else ""
    return f"  {name}: epoch {row.get('epoch')}{total} {', '.join(shown)}{seconds}"


@dataclass
class Running:
    """A running run: where its history is written, its epochs, when it started, the epochs shown."""

    run_dir: Path
    epochs: int | None
    started: float
    epochs_seen: int


@dataclass
class Progress:
    """Counts and times of one invocation's runs; `line()` the overall progress, `new_epochs()` the news.

    Time left = (mean duration of the runs trained so far) x (queued runs + what the running ones still
    need) / the runs that execute at once; unknown until a run was trained."""

    slots: int
    clock: Callable[[], float] = time.monotonic
    context: str = ""  # what the line opens with (`--all`: which profile of how many)
    finished: int = 0
    queued: int = 0
    durations: list[float] = field(default_factory=list)
    running: dict[str, Running] = field(default_factory=dict)

    def __post_init__(self):
        self.start = self.clock()
        self._lock = threading.Lock()

    def started(self, name: str, run_dir: Path, epochs: int | None) -> None:
        with self._lock:
            self.running[name] = Running(run_dir, epochs, self.clock(), len(history_rows(run_dir)))

    def ended(self, name: str, trained: bool) -> float:
        """Mark a run ended; returns its seconds (counted towards the estimate when it `trained`), 0 for a run
        that ended without starting (another process finished it, or its task failed before it started)."""
        with self._lock:
            run = self.running.pop(name, None)
            seconds = self.clock() - run.started if run is not None else 0.0
            self.finished += 1
            if trained and run is not None:
                self.durations.append(seconds)
        return seconds

    def handed_back(self, name: str) -> None:
        """A run that did not start after all (another process held it): neither running nor finished."""
        with self._lock:
            self.running.pop(name, None)

    def time_left(self) -> float | None:
        """Seconds until the queued and running runs are done, from the runs trained so far (None before)."""
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        now = self.clock()
        still = sum(max(mean - (now - run.started), 0.0) for run in self.running.values())
        return (self.queued * mean + still) / max(self.slots, 1)

    def line(self) -> str:
        left = self.time_left()
        estimate = "time left unknown until a run finishes" if left is None else f"about {duration(left)} left"
        context = f"{self.context}; " if self.context else ""
        return (
            f"[{context}runs: {self.finished} finished, {len(self.running)} running, {self.queued} queued; "
            f"{duration(self.clock() - self.start)} elapsed, {estimate}]"
        )

    def new_epochs(self) -> list[str]:
        """The epoch lines the running runs wrote since last asked."""
        with self._lock:
            running = list(self.running.items())
        lines = []
        for name, run in running:
            rows = history_rows(run.run_dir)
            if len(rows) < run.epochs_seen:  # the run was started afresh
                run.epochs_seen = 0
            lines += [epoch_text(name, row, run.epochs) for row in rows[run.epochs_seen :]]
            run.epochs_seen = max(run.epochs_seen, len(rows))
        return lines


class EpochWatcher(threading.Thread):
    """Prints the running runs' new epochs every `every` seconds until stopped."""

    def __init__(self, progress: Progress, say: Callable[[str], None] = print, every: float = SHOWN_EVERY_S):
        super().__init__(daemon=True)
        self.progress, self.say, self.every = progress, say, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.show()

    def show(self) -> None:
        for line in self.progress.new_epochs():
            self.say(line)

    def stop(self) -> None:
        self.stopped.set()
        self.show()
