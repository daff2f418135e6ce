"""Notebooks opened from notebooks/ in JupyterLab and run as they are, in a folder laid out like a checkout."""

import os
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from lsml_core.pipeline.kernels import QuietKernelManager

REPO = Path(__file__).resolve().parent.parent


def link_or_copy(source: str, target: str) -> None:
    """Model files are linked (large, only read), every other file copied (a notebook may rewrite it)."""
    if source.endswith(".pt"):
        os.symlink(source, target)
    else:
        shutil.copy2(source, target)


def checkout_with(tmp: Path, results: dict[str, Path], data: Path) -> Path:
    """A folder like a checkout (notebooks/, configs/, data/) whose results/<name> holds each finished
    profile folder given for it, as the README's first command leaves results/demo."""
    home = tmp / "checkout"
    shutil.copytree(REPO / "notebooks", home / "notebooks")
    (home / "configs").symlink_to(REPO / "configs")
    (home / "data").symlink_to(data)
    (home / "results").mkdir()
    for name, finished in results.items():
        shutil.copytree(finished, home / "results" / name, copy_function=link_or_copy)
    return home


def run_as_opened(notebook: Path) -> nbformat.NotebookNode:
    """Execute a notebook with its default parameters from its own folder, as JupyterLab runs it (on the
    pipeline's kernel manager: sockets of its own, so kernels started at once in other tests never collide)."""
    return papermill.execute_notebook(
        str(notebook),
        str(notebook),
        kernel_name="lsml",
        cwd=str(notebook.parent),
        progress_bar=False,
        start_timeout=300,
        kernel_manager_class=QuietKernelManager,
    )


def outputs_text(book: nbformat.NotebookNode) -> str:
    """Everything an executed notebook showed as text or markdown."""
    parts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
    return "\n".join(parts)


def check_track_as_opened(tmp: Path, track: str, *, default: str, finished: Path, data: Path, scratch: str, first: str):
    """Run every notebook of `track` as opened after the README's first command, with `finished` as
    results/<default>; the scratch run the run notebook trains (results/scratch/<scratch>) gives the
    numbers of the profile's first run (`first`) to the bit. Returns the checkout."""
    home = checkout_with(tmp, {default: finished}, data)
    for notebook in sorted((home / "notebooks" / track).glob("*.ipynb")):
        run_as_opened(notebook)
    trained = home / "results" / "scratch" / scratch
    predictions = sorted(path.name for path in (finished / "runs" / first).glob("predictions_*.csv"))
    assert predictions, f"{first} wrote no predictions"
    for name in ("config.json", "metrics.json", *predictions):
        assert (trained / name).read_bytes() == (finished / "runs" / first / name).read_bytes(), name
    return home


def check_missing_results_named(tmp: Path, track: str, default: str) -> None:
    """Before results/<default> exists, the track's profile notebooks say which command makes it."""
    home = checkout_with(tmp / "empty", {}, tmp)
    checked = 0
    for notebook in sorted((home / "notebooks" / track).glob("*.ipynb")):
        parameters = next(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
        if "profile_dir" in parameters:
            with pytest.raises(PapermillExecutionError, match=f"./run_all.sh --profile {default} writes it"):
                run_as_opened(notebook)
            checked += 1
    assert checked, f"no profile notebook in notebooks/{track}"
