"""A full disk said in plain words wherever a failure is reported (a notebook, a run's task, the command line):
which folder's disk, how much is free, what to do; no disk is filled, the writers raise ENOSPC instead."""

import errno

import papermill as pm
import pytest

import lsml_core.__main__ as cli
from lsml_core.pipeline import notebooks, run_task
from lsml_core.pipeline.executors import LocalExecutor
from lsml_core.pipeline.notebooks import Failure, disk_full, execute, size_text
from tests.test_scheduler import FakeConfig, fake_work, run

FULL = OSError(errno.ENOSPC, "No space left on device")


def full_disk_said(error: str, folder) -> bool:
    """Whether a failure's text names the folder's disk as full, its free space and the way out."""
    return (
        error.startswith(f"the disk of {folder} is full (")
        and " free): free space there, or rerun with --results-dir / --data-dir on another disk" in error
        and "a rerun resumes where this one stopped, nothing finished is lost" in error
    )


def papermill_raising(exc: BaseException):
    def execute_notebook(source, output, **kwargs):
        raise exc

    return execute_notebook


def test_a_notebook_that_filled_the_disk_says_so_naming_the_folder_it_wrote(tmp_path, monkeypatch):
    evalue = f"[Errno 28] No space left on device: '{tmp_path / 'runs' / 'a' / 'checkpoint_last.pt'}'"
    error = pm.PapermillExecutionError(3, 3, "fit()", "OSError", evalue, [])
    monkeypatch.setattr(pm, "execute_notebook", papermill_raising(error))
    failure = execute(tmp_path / "train.ipynb", tmp_path / "out" / "train.ipynb", {}, "lsml")
    assert full_disk_said(failure.error, tmp_path / "runs" / "a") and failure.error.endswith(f"(OSError: {evalue})")


def test_papermill_failing_to_write_the_executed_notebook_on_a_full_disk_is_a_failure_not_a_traceback(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(pm, "execute_notebook", papermill_raising(FULL))
    failure = execute(tmp_path / "report.ipynb", tmp_path / "out" / "report.ipynb", {}, "lsml")
    assert full_disk_said(failure.error, tmp_path / "out")
    monkeypatch.setattr(pm, "execute_notebook", papermill_raising(PermissionError(errno.EACCES, "Permission denied")))
    with pytest.raises(PermissionError):  # another fault of this process is raised as before
        execute(tmp_path / "report.ipynb", tmp_path / "out" / "report.ipynb", {}, "lsml")


def test_torchs_failed_write_is_a_full_disk_only_where_little_is_free(tmp_path, monkeypatch):
    text = "RuntimeError: [enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0; file write failed"
    monkeypatch.setattr(notebooks, "free_bytes", lambda folder: 2**20)
    assert disk_full(text, tmp_path) and not disk_full(text)
    monkeypatch.setattr(notebooks, "free_bytes", lambda folder: 2**40)
    assert not disk_full(text, tmp_path)
    assert not disk_full("ValueError: boom", tmp_path) and disk_full(RuntimeError("lost"), None) is False
    wrapped = RuntimeError("the task failed")
    wrapped.__cause__ = FULL
    assert disk_full(wrapped)
    assert [size_text(n) for n in (0, 512, 3 * 2**20 // 2, 12 * 2**30)] == ["0 B", "512 B", "1.5 MB", "12 GB"]


def test_a_run_whose_records_hit_a_full_disk_fails_saying_so_and_the_others_go_on(tmp_path, monkeypatch):
    calls = []
    real = run_task.write_json

    def write_json(path, value):
        if path.parent.name == "full":
            raise FULL
        real(path, value)

    monkeypatch.setattr(run_task, "write_json", write_json)
    runs = [FakeConfig("full"), FakeConfig("b")]
    (failure,) = run(tmp_path, runs, calls, executor=LocalExecutor(fake_work(calls)))
    assert failure.what == "full" and full_disk_said(failure.error, tmp_path / "runs" / "full") and calls == ["b"]


def test_the_command_line_says_the_disk_is_full_without_a_traceback(tmp_path, monkeypatch, capsys):
    def run_profile(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "demo" / "environment.json"))

    monkeypatch.setattr(cli, "run_profile", run_profile)
    assert cli.main(["--results-dir", str(tmp_path), "--data-dir", str(tmp_path / "data")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and full_disk_said(error.removeprefix("error: "), tmp_path / "demo")
    assert "Traceback" not in error


def test_the_list_of_failures_shows_the_advice(tmp_path, capsys):
    failure = Failure("a", tmp_path / "train.ipynb", notebooks.explained(FULL, f"OSError: {FULL}", tmp_path))
    assert cli.report([failure], tmp_path / "index.html", tmp_path / "front.html") == 1
    assert f"a: the disk of {tmp_path} is full (" in capsys.readouterr().err
