"""The progress line (finished / running / queued, elapsed, time left) and the epochs of running runs."""

from lsml_core.pipeline.progress import Progress, duration, epoch_text


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_durations_read_as_hours_minutes_seconds():
    assert [duration(s) for s in (16.4, 250, 3720)] == ["16 s", "4 min 10 s", "1 h 02 min"]


def test_the_line_counts_runs_and_estimates_the_time_left_from_runs_trained(tmp_path):
    clock = Clock()
    progress = Progress(slots=2, clock=clock)
    progress.queued = 3
    progress.started("a", tmp_path / "a", 2)
    progress.started("b", tmp_path / "b", 2)
    assert progress.line() == (
        "[runs: 0 finished, 2 running, 3 queued; 0 s elapsed, time left unknown until a run finishes]"
    )
    clock.now = 100.0
    assert progress.ended("a", trained=True) == 100.0
    progress.started("skipped-elsewhere", tmp_path / "c", 2)
    progress.ended("skipped-elsewhere", trained=False)  # not counted towards the estimate
    # 3 queued x 100 s + b's remaining 0 s, over 2 at once
    assert progress.line() == "[runs: 2 finished, 1 running, 3 queued; 1 min 40 s elapsed, about 2 min 30 s left]"
    assert progress.ended("finished-elsewhere-before-its-task-started", trained=True) == 0.0  # never said to start
    assert progress.durations == [100.0] and progress.finished == 3
    progress.finished = 2
    clock.now = 160.0
    progress.queued = 2
    progress.started("d", tmp_path / "d", 2)  # d: 100 s to go, b: overdue
    assert progress.time_left() == (2 * 100 + 100) / 2


def test_the_epochs_of_running_runs_are_shown_once_each(tmp_path):
    run_dir = tmp_path / "a"
    run_dir.mkdir()
    header = "epoch,train_loss,selection_map,lr_head,seconds\n"
    (run_dir / "history.csv").write_text(header + "1,0.7,0.2,0.05,3.2\n")
    progress = Progress(slots=1, clock=Clock())
    progress.started("a", run_dir, 3)  # a resumed run: its earlier epochs are not news
    assert progress.new_epochs() == []
    (run_dir / "history.csv").write_text(header + "1,0.7,0.2,0.05,3.2\n2,0.5,0.25,0.05,3.1\n")
    assert progress.new_epochs() == ["  a: epoch 2/3 train_loss 0.5, selection_map 0.25 (3 s)"]
    assert progress.new_epochs() == []
    (run_dir / "history.csv").write_text(header + "1,0.69,0.21,0.05,3.0\n")  # started afresh (--force)
    assert progress.new_epochs() == ["  a: epoch 1/3 train_loss 0.69, selection_map 0.21 (3 s)"]
    assert epoch_text("b", {"epoch": "4", "train_loss": "0.123456"}, None) == "  b: epoch 4 train_loss 0.1235"


def test_epoch_text_shows_words_as_they_are():
    """A grouped run's history names its phase; the line shows it instead of failing on float()."""
    row = {"epoch": "2", "phase": "pseudo", "train_loss": "0.5"}
    assert epoch_text("g", row, 3) == "  g: epoch 2/3 phase pseudo, train_loss 0.5"
