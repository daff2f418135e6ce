"""Where runs execute: `local` (one after the other in this process, no Ray started) or `ray` (each run a
Ray task, as many at once as the nodes of the machine or cluster have CPUs and GPUs for).

An executor takes `RunTask`s (`submit`) and hands back what ended (`wait`): (handle, Outcome or the
exception that ended the task). `slots()` says how many runs may execute at once.
"""

import os
import socket
from collections.abc import Callable
from dataclasses import replace

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # runs exchange no data through Ray, only small records
CONNECT_TIMEOUT_S = 30.0


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
        raise ValueError(f"--cpus-per-run {cpus} must be positive")
    if gpus < 0:
        raise ValueError(f"--gpus-per-run {gpus} must be at least 0")
    if not any(runs_on_node(node, cpus, gpus) for node in nodes):
        have = ", ".join(f"{node.get('CPU', 0):g} CPU / {node.get('GPU', 0):g} GPU" for node in nodes)
        raise ValueError(
            f"a run asks for {cpus:g} CPU(s) and {gpus:g} GPU(s) but no node of the Ray cluster has them "
            f"(nodes: {have}): lower --cpus-per-run / --gpus-per-run"
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
    """Each run a Ray task with `cpus_per_run` CPUs and `gpus_per_run` GPUs (fractions pack several runs on a
    GPU); Ray gives the task only its GPUs (CUDA_VISIBLE_DEVICES) and the run's torch threads follow its
    CPUs. A task lost with its worker or node is retried (`retries`); the retry resumes the run. The
    tasks' own output stays in Ray's logs: this process reports their starts, epochs and ends."""

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
        if address is None:  # a new Ray instance on this machine, even where one is running
            ray.init(
                address="local",
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                log_to_driver=False,
            )
        else:
            check_reachable(address)
            ray.init(address=address, log_to_driver=False)
        try:
            nodes = self.nodes()
            self.gpus = gpus_per_run if gpus_per_run is not None else float(any(n.get("GPU", 0) >= 1 for n in nodes))
            self.cpus = cpus_per_run if cpus_per_run is not None else default_cpus(nodes, self.gpus)
            check_resources(self.cpus, self.gpus, nodes)
        except ValueError:
            ray.shutdown()
            raise
        self.threads = threads_of(self.cpus)
        self.remote = ray.remote(run_in_ray).options(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=retries)
        self.work = work

    def nodes(self) -> list[dict]:
        """The resources of each live node."""
        return [node["Resources"] for node in self.ray.nodes() if node["Alive"]]

    def slots(self) -> int:
        return max(1, sum(runs_on_node(node, self.cpus, self.gpus) for node in self.nodes()))

    def submit(self, task):
        return self.remote.remote(self.work, replace(task, threads=self.threads))

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


def default_cpus(nodes: list[dict], gpus: float) -> float:
    """1 CPU per run without GPUs; with GPUs, each GPU node's CPUs shared among the runs its GPUs hold at once
    (the smallest share over the GPU nodes)."""
    if not gpus:
        return 1.0
    shares = [node.get("CPU", 1) // max(1, gpu_runs(node, gpus)) for node in nodes if node.get("GPU", 0) > 0]
    return float(max(1, int(min(shares, default=1))))


def make_executor(name: str, work: Callable, address: str | None, cpus: float | None, gpus: float | None):
    """The executor called `name` (local or ray); the Ray options are refused with `local`."""
    if name == "local":
        if address is not None or gpus is not None:
            raise ValueError("--address and --gpus-per-run need --executor ray")
        if cpus is not None and cpus <= 0:
            raise ValueError(f"--cpus-per-run {cpus} must be positive")
        return LocalExecutor(work, cpus)
    if name == "ray":
        return RayExecutor(work, address, cpus, gpus)
    raise ValueError(f"unknown executor {name!r}: choose local or ray")
