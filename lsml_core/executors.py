"""Where runs execute: `local` (one after the other in this process, no Ray started) or `ray` (each run a
Ray task, as many at once as the machine or cluster has CPUs and GPUs for).

An executor takes `RunTask`s (`submit`) and hands back what ended (`wait`): (handle, Outcome or the
exception that ended the task). `slots()` says how many runs may execute at once.
"""

import math
import socket
from collections.abc import Callable
from dataclasses import replace

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # runs exchange no data through Ray, only small records


def threads_of(cpus: float | None) -> int | None:
    """The torch threads of a run given `cpus` (None: torch's default, every core)."""
    return None if cpus is None else max(1, int(cpus))


class LocalExecutor:
    """Runs in this process, one after the other: `submit` runs the task at once."""

    name = "local"

    def __init__(self, work: Callable, cpus_per_run: float | None = None):
        self.work, self.threads = work, threads_of(cpus_per_run)
        self.done: list = []

    def slots(self) -> int:
        return 1

    def submit(self, task) -> object:
        handle = object()
        placement = {"executor": self.name, "node": socket.gethostname()}
        try:
            self.done.append((handle, self.work(replace(task, threads=self.threads), placement)))
        except Exception as exc:  # a fault of the run loop itself, reported like a failed run
            self.done.append((handle, exc))
        return handle

    def wait(self, handles: list, timeout: float) -> list:
        done, self.done = self.done, []
        return done

    def close(self) -> None:
        pass


def run_in_ray(work: Callable, task):
    """A run as a Ray task: its placement (node, GPUs) recorded beside it."""
    import ray

    context = ray.get_runtime_context()
    placement = {"executor": "ray", "node": context.get_node_id(), "host": socket.gethostname()}
    placement["gpus"] = [str(gpu) for gpu in ray.get_gpu_ids()]
    return work(task, placement)


class RayExecutor:
    """Each run a Ray task with `cpus_per_run` CPUs and `gpus_per_run` GPUs (fractions pack several runs on a
    GPU); Ray gives the task only its GPUs (CUDA_VISIBLE_DEVICES) and the run's torch threads follow its
    CPUs. A task lost with its worker or node is retried (`retries`). The tasks' own output stays in Ray's
    logs: this process reports their starts, epochs and ends."""

    name = "ray"

    def __init__(
        self,
        work: Callable,
        address: str | None = None,
        cpus_per_run: float | None = None,
        gpus_per_run: float | None = None,
        retries: int = 3,
    ):
        import ray

        self.ray = ray
        if address is None:
            ray.init(include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
        total = ray.cluster_resources()
        self.gpus = gpus_per_run if gpus_per_run is not None else (1.0 if total.get("GPU", 0) >= 1 else 0.0)
        self.cpus = cpus_per_run if cpus_per_run is not None else self.default_cpus(total)
        try:
            check_resources(self.cpus, self.gpus, total)
        except ValueError:
            ray.shutdown()
            raise
        self.threads = threads_of(self.cpus)
        self.remote = ray.remote(run_in_ray).options(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=retries)
        self.work = work

    def default_cpus(self, total: dict) -> float:
        """1 CPU per run without GPUs; with GPUs, the CPUs shared among the runs the GPUs hold at once."""
        if not self.gpus:
            return 1.0
        return float(max(1, int(total.get("CPU", 1) // max(1, fits(total.get("GPU", 0), self.gpus)))))

    def slots(self) -> int:
        total = self.ray.cluster_resources()
        by_cpu = fits(total.get("CPU", 0), self.cpus) if self.cpus else math.inf
        by_gpu = fits(total.get("GPU", 0), self.gpus) if self.gpus else math.inf
        return max(1, min(by_cpu, by_gpu)) if math.isfinite(min(by_cpu, by_gpu)) else 1

    def submit(self, task):
        return self.remote.remote(self.work, replace(task, threads=self.threads))

    def wait(self, handles: list, timeout: float) -> list:
        ready, _ = self.ray.wait(handles, num_returns=len(handles), timeout=timeout, fetch_local=True)
        if not ready:
            return []
        done = []
        for handle in ready:
            try:
                done.append((handle, self.ray.get(handle)))
            except self.ray.exceptions.RayError as exc:
                done.append((handle, exc))
        return done

    def close(self) -> None:
        self.ray.shutdown()


def fits(available: float, per_run: float) -> int:
    """How many runs of `per_run` fit in `available` (a little slack for fractions like 1/3)."""
    return int(available / per_run + 1e-9)


def check_resources(cpus: float, gpus: float, total: dict) -> None:
    """Refuse resources per run that the cluster cannot give a single run."""
    if cpus <= 0 or gpus < 0:
        raise ValueError(f"--cpus-per-run {cpus} must be positive and --gpus-per-run {gpus} at least 0")
    if cpus > total.get("CPU", 0) or gpus > total.get("GPU", 0):
        raise ValueError(
            f"a run asks for {cpus} CPU(s) and {gpus} GPU(s) but the Ray cluster has {total.get('CPU', 0)} CPU(s) "
            f"and {total.get('GPU', 0)} GPU(s): lower --cpus-per-run / --gpus-per-run"
        )


def make_executor(name: str, work: Callable, address: str | None, cpus: float | None, gpus: float | None):
    """The executor called `name` (local or ray); the Ray options are refused with `local`."""
    if cpus is not None and cpus <= 0:
        raise ValueError(f"--cpus-per-run {cpus} must be positive")
    if name == "local":
        if address is not None or gpus is not None:
            raise ValueError("--address and --gpus-per-run need --executor ray")
        return LocalExecutor(work, cpus)
    if name == "ray":
        return RayExecutor(work, address, cpus, gpus)
    raise ValueError(f"unknown executor {name!r}: choose local or ray")
