"""Executors: local runs in this process; ray runs tasks with their CPUs as torch threads, reports a task that
raised instead of stopping, and refuses resources the cluster cannot give."""

import sys
from pathlib import Path

import pytest
import ray

from lsml_core.executors import LocalExecutor, RayExecutor, check_resources, fits, make_executor
from lsml_core.scheduler import RunTask

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test's work functions travel to the workers


def task(name: str) -> RunTask:
    return RunTask(name, {}, None, Path("/nowhere") / name, Path("."), Path("."), Path("."), (), bool, "lsml")


def where(task, placement):
    if task.name == "bad":
        raise RuntimeError("the run loop broke")
    return task.name, task.threads, placement


@pytest.fixture(scope="module")
def ray_executor():
    executor = RayExecutor(where, cpus_per_run=1)
    yield executor
    executor.close()


def test_ray_runs_tasks_with_their_threads_and_returns_what_raised(ray_executor):
    handles = [ray_executor.submit(task(name)) for name in ("a", "bad")]
    done = {}
    while len(done) < 2:
        done.update(ray_executor.wait(handles, timeout=30))
    name, threads, placement = done[handles[0]]
    assert (name, threads, placement["executor"], placement["gpus"]) == ("a", 1, "ray", [])
    assert len(placement["node"]) > 10
    assert isinstance(done[handles[1]], ray.exceptions.RayTaskError) and "the run loop broke" in str(done[handles[1]])
    assert ray_executor.slots() == int(ray.cluster_resources()["CPU"]) and ray_executor.gpus == 0


def test_local_runs_at_once_and_reports_what_raised():
    executor = LocalExecutor(where, cpus_per_run=2)
    good, bad = executor.submit(task("a")), executor.submit(task("bad"))
    done = dict(executor.wait([good, bad], 0))
    assert done[good][:2] == ("a", 2) and isinstance(done[bad], RuntimeError) and executor.slots() == 1


def test_bad_executor_options_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="need --executor ray"):
        make_executor("local", where, "auto", None, None)
    with pytest.raises(ValueError, match="must be positive"):
        make_executor("local", where, None, 0, None)
    with pytest.raises(ValueError, match="asks for 3 CPU.* but the Ray cluster has 2 CPU.*lower --cpus-per-run"):
        check_resources(3, 0, {"CPU": 2})
    with pytest.raises(ValueError, match="lower --cpus-per-run / --gpus-per-run"):
        check_resources(1, 1, {"CPU": 2})
    assert fits(1.0, 1 / 3) == 3 and fits(1.0, 0.25) == 4 and fits(3.0, 2.0) == 1
