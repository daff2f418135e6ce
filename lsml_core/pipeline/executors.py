"""Where runs execute: `local` (in this process, no Ray started) or `ray` (each run a Ray task, on this machine
or a cluster). Both execute as many runs at once as the CPUs (and GPUs) hold, each run on its own CPU threads
(`RunTask.threads`, its configuration's `train.threads`): the same runs on the same threads, whichever executor.

An executor takes `RunTask`s (`submit`) and hands back what ended (`wait`): (handle, Outcome or the
exception that ended the task). `slots(cpus)` says how many runs of `cpus` threads may execute at once.
"""

import os
import queue
import socket
import threading
import time
from collections.abc import Callable

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # runs exchange no data through Ray, only small records
CONNECT_TIMEOUT_S = 30.0
RAY_STARTS = 3  # tries at starting a local Ray instance whose node did not register in time
RAY_PAUSE_S = 10.0  # between two tries


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which a batch scheduler may narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ExecutorError(RuntimeError):
    """An executor that could not start, said with what to do."""


def child_pids() -> set[int]:
    """The processes this process started, and theirs."""
    import psutil

    return {child.pid for child in psutil.Process().children(recursive=True)}


def end_processes(pids: set[int]) -> None:
    """End the given processes (those that still run), waiting a few seconds for each."""
    import psutil

    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
            processes[-1].kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(processes, timeout=10)


def start_local_ray(ray, say=print, pause_s: float = RAY_PAUSE_S) -> None:
    """Start a new Ray instance on this machine. Ray gives its node 30 s to register, which a busy machine can
    exceed ("timed out during startup"): the half-started processes are ended and Ray started again, up to
    RAY_STARTS times, then refused with what to do."""
    for attempt in range(1, RAY_STARTS + 1):
        before = child_pids()
        try:
            ray.init(
                address="local",
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                log_to_driver=False,
            )
            return
        except Exception as exc:
            if "timed out during startup" not in str(exc):
                raise
            ray.shutdown()
            end_processes(child_pids() - before)
            if attempt == RAY_STARTS:
                raise ExecutorError(
                    f"Ray's node did not start within Ray's own 30 s limit, {RAY_STARTS} times (the machine is too "
                    "busy for it): run again when it is less loaded, or use --executor local"
                ) from exc
            say(
                f"Ray's node did not start in time (a busy machine): starting Ray again ({attempt + 1} of {RAY_STARTS})"
            )
            time.sleep(pause_s)


class LocalExecutor:
    """Runs in this process, each in a thread of its own that waits for the run's notebook kernels: as many at
    once as this machine's CPUs hold at `cpus` threads per run."""

    name = "local"

    def __init__(self, work: Callable):
        self.work = work
        self.done: queue.Queue = queue.Queue()

    def slots(self, cpus: int = 1) -> int:
        return max(1, usable_cpus() // cpus)

    def submit(self, task) -> object:
        handle = object()
        threading.Thread(target=self.execute, args=(handle, task), name=f"run {task.name}", daemon=True).start()
        return handle

    def execute(self, handle: object, task) -> None:
        placement = {"executor": self.name, "node": socket.gethostname()}
        try:
            result = self.work(task, placement)
        except Exception as exc:  # a fault of the run loop itself, reported like a failed run
            result = exc
        self.done.put((handle, result))

    def wait(self, handles: list, timeout: float) -> list:
        """What ended, after at most `timeout` seconds for the first."""
        try:
            done = [self.done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self.done.empty():
            done.append(self.done.get())
        return done

    def close(self) -> None:
        pass


def run_in_ray(work: Callable, task):
    """A run as a Ray task: without GPUs it sees none (Ray leaves CUDA_VISIBLE_DEVICES alone then); its
    placement (node, GPUs) is recorded beside it."""
    import ray

    context = ray.get_runtime_context()
    gpus = [str(gpu) for gpu in ray.get_gpu_ids()]
    if not gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    placement = {"executor": "ray", "node": context.get_node_id(), "host": socket.gethostname(), "gpus": gpus}
    return work(task, placement)


def fits(available: float, per_run: float) -> int:
    """How many runs of `per_run` fit in `available` (a little slack for fractions like 1/3)."""
    return int(available / per_run + 1e-9)


def runs_on_node(resources: dict, cpus: float, gpus: float) -> int:
    """How many runs of `cpus` CPUs and `gpus` GPUs one node holds at once: a fraction of a GPU packs runs
    on each GPU, whole GPUs are not shared."""
    by_cpu = fits(resources.get("CPU", 0), cpus)
    return min(by_cpu, gpu_runs(resources, gpus)) if gpus else by_cpu


def gpu_runs(resources: dict, gpus: float) -> int:
    """How many runs of `gpus` GPUs a node's GPUs hold at once (fractions packed on each GPU)."""
    n_gpus = int(resources.get("GPU", 0))
    return n_gpus * fits(1.0, gpus) if gpus < 1 else fits(n_gpus, gpus)


def check_resources(cpus: float, gpus: float, nodes: list[dict]) -> None:
    """Refuse resources per run that no node of the cluster can give a single run."""
    if cpus <= 0:
        raise ValueError(f"--threads {cpus} must be positive")
    if gpus < 0:
        raise ValueError(f"--gpus-per-run {gpus} must be at least 0")
    if not any(runs_on_node(node, cpus, gpus) for node in nodes):
        have = ", ".join(f"{node.get('CPU', 0):g} CPU / {node.get('GPU', 0):g} GPU" for node in nodes)
        raise ValueError(
            f"a run asks for {cpus:g} CPU(s) and {gpus:g} GPU(s) but no node of the Ray cluster has them "
            f"(nodes: {have}): lower --threads / --gpus-per-run"
        )


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse an --address HOST:PORT where nothing accepts a connection within `timeout` seconds, before Ray's
    client would retry for minutes ('auto' is left to Ray, which finds a cluster of this machine or says so)."""
    if address == "auto":
        return
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        raise ValueError(f"--address {address!r} must be 'auto' or HOST:PORT of a Ray head, e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(
            f"no Ray cluster answers at --address {address} within {timeout:g} s ({exc}): start one there with "
            "`ray start --head` (it prints the address to give), or leave out --address to start Ray on this machine"
        ) from None


class RayExecutor:
    """Each run a Ray task with as many CPUs as its threads and `gpus_per_run` GPUs (fractions pack several runs
    on a GPU); Ray gives the task only its GPUs (CUDA_VISIBLE_DEVICES). A task lost with its worker or node is retried (`retries`); the retry resumes the run. The
    tasks' own output stays in Ray's logs: this process reports their starts, epochs and ends."""

    name = "ray"

    def __init__(
        self,
        work: Callable,
        address: str | None = None,
        gpus_per_run: float | None = None,
        retries: int = 3,
    ):
        import ray

        self.ray = ray
        if address is None:  # a new Ray instance on this machine, even where one is running
            start_local_ray(ray)
        else:
            check_reachable(address)
            ray.init(address=address, log_to_driver=False)
        nodes = self.nodes()
        self.gpus = gpus_per_run if gpus_per_run is not None else float(any(n.get("GPU", 0) >= 1 for n in nodes))
        try:
            check_resources(1, self.gpus, nodes)
        except ValueError:
            ray.shutdown()
            raise
        self.remote, self.retries = ray.remote(run_in_ray), retries
        self.work = work

    def nodes(self) -> list[dict]:
        """The resources of each live node."""
        return [node["Resources"] for node in self.ray.nodes() if node["Alive"]]

    def slots(self, cpus: int = 1) -> int:
        """How many runs of `cpus` threads the cluster holds at once (refused when no node holds one)."""
        nodes = self.nodes()
        check_resources(cpus, self.gpus, nodes)
        return max(1, sum(runs_on_node(node, cpus, self.gpus) for node in nodes))

    def submit(self, task):
        options = {"num_cpus": task.threads or 1, "num_gpus": self.gpus, "max_retries": self.retries}
        return self.remote.options(**options).remote(self.work, task)

    def wait(self, handles: list, timeout: float) -> list:
        ready, _ = self.ray.wait(handles, num_returns=len(handles), timeout=timeout, fetch_local=True)
        done = []
        for handle in ready:
            try:
                done.append((handle, self.ray.get(handle)))
            except self.ray.exceptions.RayError as exc:
                done.append((handle, exc))
        return done

    def close(self) -> None:
        self.ray.shutdown()


def make_executor(name: str, work: Callable, address: str | None, gpus: float | None):
    """The executor called `name` (local or ray); the Ray options are refused with `local`."""
    if name == "local":
        if address is not None or gpus is not None:
            raise ValueError("--address and --gpus-per-run need --executor ray")
        return LocalExecutor(work)
    if name == "ray":
        return RayExecutor(work, address, gpus)
    raise ValueError(f"unknown executor {name!r}: choose local or ray")
