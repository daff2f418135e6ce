"""The executors end to end on a tiny profile (a teacher and two runs that learn from it): a Ray cluster of
two nodes gives the results of the local executor to the bit, both with default options; two invocations at
once train every run once, and say so once."""

import subprocess
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

from lsml_core.layout import EXECUTION
from lsml_core.records import read_json
from tests.executors_tiny import TAUGHT, TEACHER, command, outputs, reference, run_all

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return reference(tmp_path_factory)


def test_a_two_node_ray_cluster_gives_the_local_results_to_the_bit(base):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        proc = run_all(base, "cluster", "--executor", "ray", "--address", cluster.address)
    finally:
        cluster.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "runs on the ray executor, 2 at once" in proc.stdout
    assert outputs(base, "cluster") == outputs(base, "reference")
    runs = base / "cluster" / "tiny" / "runs"
    node = {run: read_json(runs / run / EXECUTION)["node"] for run in (TEACHER, *TAUGHT)}
    # the two taught runs started together once the teacher ended: one on each node
    assert node[TAUGHT[0]] != node[TAUGHT[1]] and node[TEACHER] in node.values()


def test_two_invocations_at_once_train_every_run_once(base):
    procs = [
        subprocess.Popen(command(base, "shared", *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for extra in ((), ("--executor", "ray"))
    ]
    results = [proc.communicate(timeout=900) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err[-3000:] for _, err in results]
    for run in (TEACHER, *TAUGHT):
        assert sum(out.count(f"finished {run} (") for out, _ in results) == 1, run
        assert sum(out.count(f"start {run}  [") for out, _ in results) == 1, run  # said once, by the one that took it
    assert outputs(base, "shared") == outputs(base, "reference")
    assert (base / "shared" / "tiny" / "index.html").is_file()
