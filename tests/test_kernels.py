"""Kernels started at the same moment each get sockets of their own and the CPU threads asked of them; none
talks TCP, none leaves a file."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import nbformat

from lsml_core.pipeline.notebooks import execute
from lsml_core.records import REPO_ROOT

THREE_AT_ONCE = """
import multiprocessing, sys
from pathlib import Path
import nbformat
from lsml_core.pipeline.notebooks import execute

def one(i):
    return execute(Path(sys.argv[1]) / "a.ipynb", Path(sys.argv[1]) / f"out{i}.ipynb", {}, "lsml")

if __name__ == "__main__":
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 6 * 7\\nprint(x)")])
    nbformat.write(nb, sys.argv[1] + "/a.ipynb")
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        print("failures:", pool.map(one, range(3)))
"""


def test_kernels_started_together_run_on_sockets_of_their_own(tmp_path):
    script = tmp_path / "three_at_once.py"
    script.write_text(THREE_AT_ONCE)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert "failures: [None, None, None]" in proc.stdout, proc.stderr[-2000:]
    assert "without encryption" not in proc.stderr and "KeyboardInterrupt" not in proc.stdout + proc.stderr
    assert "42" in (tmp_path / "out2.ipynb").read_text()
    assert not list(REPO_ROOT.glob("kernel-ipc*"))


def test_kernels_started_at_once_from_threads_of_one_process_compute_on_their_own_threads(tmp_path):
    cell = "import os, torch\nprint('threads', torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), tmp_path / "a.ipynb")
    before = os.environ.get("OMP_NUM_THREADS")

    def one(threads: int):
        return execute(tmp_path / "a.ipynb", tmp_path / f"out{threads}.ipynb", {}, "lsml", threads=threads)

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(one, (1, 3))) == [None, None]
    # torch caps its threads at the cores there are: the environment shows what the kernel was given
    assert "threads 1 1" in (tmp_path / "out1.ipynb").read_text() and " 3\\n" in (tmp_path / "out3.ipynb").read_text()
    assert os.environ.get("OMP_NUM_THREADS") == before  # nothing of this process changed
