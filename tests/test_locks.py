"""Locks on run folders: a second process waits and says so; a holder killed by SIGKILL leaves no stale lock."""

import signal
import subprocess
import sys
import time

from lsml_core.pipeline.locks import held, lock_path, mark_taken, taken_by, taken_path

HOLDER = """
import sys, time
from pathlib import Path
from lsml_core.pipeline.locks import held
with held(Path(sys.argv[1]), "run-a", "run a"):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def start_holder(folder, seconds: float) -> subprocess.Popen:
    """Another process that holds the lock `run-a` of `folder` for `seconds`, once it says so."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_process_waits_for_the_holder_and_says_so(tmp_path):
    holder, said = start_holder(tmp_path, 1.5), []
    start = time.monotonic()
    with held(tmp_path, "run-a", "run a", say=said.append) as waited:
        assert time.monotonic() - start > 0.5 and holder.wait(timeout=30) == 0  # it released, then exits
    assert waited and said == ["run a: another process holds it, waiting for it to finish"]
    with held(tmp_path, "run-a", "run a", say=said.append) as waited:
        assert waited is False and len(said) == 1
    assert lock_path(tmp_path, "run-a") == tmp_path / ".locks" / "run-a.lock"


def test_without_waiting_a_held_lock_is_not_taken(tmp_path):
    holder, said = start_holder(tmp_path, 600), []
    try:
        with held(tmp_path, "run-a", "run a", wait=False, say=said.append) as waited:
            assert waited is None and said == []
    finally:
        holder.kill()
        holder.wait()


def test_a_holder_killed_by_sigkill_leaves_no_stale_lock(tmp_path):
    holder, said = start_holder(tmp_path, 600), []
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    start = time.monotonic()
    with held(tmp_path, "run-a", "run a", say=said.append) as waited:
        assert not waited and said == [] and time.monotonic() - start < 5


def test_a_taken_mark_lies_beside_the_lock_and_survives_another_process_trying_it(tmp_path):
    assert taken_by(tmp_path, "runs/a") is None
    with held(tmp_path, "runs/a", "run a"):
        mark_taken(tmp_path, "runs/a", "token-1")
        with held(tmp_path, "runs/a", "run a", wait=False) as waited:  # another open file: another process
            assert waited is None
    assert (
        taken_by(tmp_path, "runs/a") == "token-1"
        and taken_path(tmp_path, "runs/a").parent == lock_path(tmp_path, "runs/a").parent
    )
