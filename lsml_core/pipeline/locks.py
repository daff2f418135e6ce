"""Locks on run folders and on a profile's shared steps, so that two `run_all.sh` on one results folder
(or the tasks of one Ray cluster) never do the same work at once nor write the same file together.

Each lock is an OS file lock (filelock: `flock` on Linux, which NFS clients honour across machines) in
`<folder>/.locks/<name>.lock`; the system releases it when its holder exits, even by SIGKILL, so a
killed process never leaves a stale lock behind. A file system without `flock` is an error, not a
silent fallback to lock files that a killed holder would leave behind.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from lsml_core import layout
from lsml_core.records import atomic_write_text


def lock_path(folder: Path, name: str) -> Path:
    """Where the lock `name` of `folder` lives."""
    return Path(folder) / layout.LOCKS / f"{name}.lock"


def taken_path(folder: Path, name: str) -> Path:
    """Where the mark of the last task that took the lock `name` of `folder` to work lives (beside the lock: the
    lock file itself is truncated by every process that tries it)."""
    return Path(folder) / layout.LOCKS / f"{name}.taken"


def mark_taken(folder: Path, name: str, token: str) -> None:
    """Leave `token` beside the lock `name` of `folder`, which this process holds: the invocation that owns the
    token reads there that its task (in this process or a Ray worker, on the shared folder) took it."""
    atomic_write_text(taken_path(folder, name), token)


def taken_by(folder: Path, name: str) -> str | None:
    """The token of the last task that took the lock `name` of `folder` to work; None before any did."""
    try:
        return taken_path(folder, name).read_text()
    except FileNotFoundError:
        return None


@contextmanager
def held(
    folder: Path, name: str, what: str, wait: bool = True, say: Callable[[str], None] = print
) -> Iterator[bool | None]:
    """Hold the lock `name` of `folder` for the block. If another process holds it: with `wait`, say so and
    wait for it; without, do not take it.

    Yields whether it had to wait (the other process may have done the work meanwhile), or None when
    another process holds it and `wait` is False."""
    path = lock_path(folder, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, fallback_to_soft=False)
    waited = False
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            yield None
            return
        say(f"{what}: another process holds it, waiting for it to finish")
        waited = True
        lock.acquire()
    try:
        yield waited
    finally:
        lock.release()
