"""Executors: local runs in this process, as many at once as the CPUs hold; ray runs tasks with as many CPUs as
their threads, reports a task that raised instead of stopping, and refuses resources the cluster cannot give."""

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

from lsml_core.pipeline.executors import (
    RAY_STARTS,
    ExecutorError,
    LocalExecutor,
    RayExecutor,
    check_reachable,
    check_resources,
    fits,
    make_executor,
    runs_on_node,
    start_local_ray,
    usable_cpus,
)
from lsml_core.pipeline.run_task import RunTask

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test's work functions travel to the workers


def task(name: str, threads: int = 1) -> RunTask:
    return RunTask(
        name, {}, None, Path("/nowhere") / name, Path("."), Path("."), Path("."), (), bool, "lsml", threads=threads
    )


def where(task, placement):
    if task.name == "bad":
        raise RuntimeError("the run loop broke")
    return task.name, task.threads, placement


@pytest.fixture(scope="module")
def ray_executor():
    executor = RayExecutor(where)
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
    cpus = int(ray.cluster_resources()["CPU"])
    assert ray_executor.slots(1) == cpus and ray_executor.slots(cpus) == 1 and ray_executor.gpus == 0
    with pytest.raises(ValueError, match=f"asks for {cpus + 1} CPU"):
        ray_executor.slots(cpus + 1)


def test_local_runs_several_at_once_and_reports_what_raised():
    executor = LocalExecutor(where)
    started = threading.Barrier(2, timeout=30)  # both runs must be executing at once to pass it

    def together(task, placement):
        started.wait()
        return where(task, placement)

    executor.work = together
    good, bad = executor.submit(task("a", threads=2)), executor.submit(task("bad"))
    done = {}
    while len(done) < 2:
        done.update(executor.wait([good, bad], 30))
    assert done[good][:2] == ("a", 2) and isinstance(done[bad], RuntimeError)
    assert executor.slots(1) == usable_cpus() and executor.slots(usable_cpus()) == 1 and executor.slots(999) == 1


def test_bad_executor_options_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="need --executor ray"):
        make_executor("local", where, "auto", None)
    with pytest.raises(ValueError, match="asks for 3 CPU.* no node .*nodes: 2 CPU / 0 GPU.*lower --threads"):
        check_resources(3, 0, [{"CPU": 2}])
    head, gpu_node = {"CPU": 64}, {"CPU": 8, "GPU": 1}
    with pytest.raises(ValueError, match="no node"):  # 72 CPUs in all, but on no single node
        check_resources(72, 0, [head, gpu_node])
    with pytest.raises(ValueError, match="no node"):  # 4 GPUs in all, one per node
        check_resources(1, 4, [gpu_node] * 4)
    check_resources(8, 1, [head, gpu_node])
    assert fits(1.0, 1 / 3) == 3 and fits(1.0, 0.25) == 4 and fits(3.0, 2.0) == 1


def test_runs_per_node_pack_fractions_of_each_gpu_and_share_its_cpus():
    two_gpus = {"CPU": 16, "GPU": 2}
    assert runs_on_node(two_gpus, 1, 0.4) == 4  # two per GPU, not five
    assert runs_on_node(two_gpus, 1, 0.25) == 8 and runs_on_node(two_gpus, 4, 0.25) == 4
    assert runs_on_node(two_gpus, 1, 2) == 1 and runs_on_node({"CPU": 2}, 1, 0) == 2


def test_an_address_where_no_cluster_answers_is_refused_at_once_and_starts_no_ray(monkeypatch):
    with socket.socket() as probe:  # a port of this machine where nothing listens once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = []
    monkeypatch.setattr(ray, "init", lambda *args, **kwargs: started.append(kwargs))
    begin = time.monotonic()
    with pytest.raises(ValueError, match=f"no Ray cluster answers at --address 127.0.0.1:{port} .*ray start --head"):
        RayExecutor(where, address=f"127.0.0.1:{port}")
    assert time.monotonic() - begin < 5 and started == []
    with pytest.raises(ValueError, match="must be 'auto' or HOST:PORT"):
        check_reachable("nowhere")
    with socket.create_server(("127.0.0.1", 0)) as server:
        check_reachable(f"127.0.0.1:{server.getsockname()[1]}")


class SlowRay:
    """A Ray whose node misses its start-up limit `late` times, each time leaving a process it started behind."""

    def __init__(self, late: int, error: str = "The current node timed out during startup. This could happen ..."):
        self.late, self.error, self.inits, self.shutdowns, self.left = late, error, 0, 0, []

    def init(self, **options):
        self.inits += 1
        if self.inits <= self.late:
            self.left.append(subprocess.Popen(["sleep", "60"]))  # a half-started node's process
            raise Exception(self.error)

    def shutdown(self):
        self.shutdowns += 1


def test_a_ray_node_late_on_a_busy_machine_is_started_again_its_processes_ended():
    said = []
    slow = SlowRay(late=RAY_STARTS - 1)
    start_local_ray(slow, say=said.append, pause_s=0)
    assert (slow.inits, slow.shutdowns) == (RAY_STARTS, RAY_STARTS - 1)
    assert all(process.poll() is not None for process in slow.left)  # ended, not left running
    assert said[0].startswith("Ray's node did not start in time") and f"(2 of {RAY_STARTS})" in said[0]


def test_a_ray_node_late_every_time_is_refused_with_what_to_do_and_other_errors_pass_at_once():
    never = SlowRay(late=RAY_STARTS)
    with pytest.raises(ExecutorError, match="use --executor local"):
        start_local_ray(never, say=lambda text: None, pause_s=0)
    assert never.inits == RAY_STARTS and all(process.poll() is not None for process in never.left)
    other = SlowRay(late=1, error="no space left for the object store")
    with pytest.raises(Exception, match="no space left"):
        start_local_ray(other, say=lambda text: None, pause_s=0)
    assert other.inits == 1
    other.left[0].kill()
