"""Notebooks executed by papermill (parameters injected, kernels started by `kernels.QuietKernelManager`)
and rendered to HTML by nbconvert beside the executed copy."""

from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill as pm
from nbconvert import HTMLExporter

from lsml_core import layout
from lsml_core.pipeline.kernels import kernel_manager_on_threads
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.records import REPO_ROOT, atomic_write_text

KERNEL = "lsml"


@dataclass
class Failure:
    """A notebook execution that raised: what, where its executed notebook is, and the error."""

    what: str
    notebook: Path
    error: str


def render_html(notebook: Path, hide_code: bool = False) -> Path:
    """Render an executed notebook to HTML beside it (figures embedded); `hide_code` for reader-facing pages."""
    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code, exclude_output_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    target = notebook.with_suffix(".html")
    atomic_write_text(target, body)
    return target


def execute(
    source: Path, output: Path, parameters: dict, kernel: str, hide_code: bool = False, *, threads: int | None = None
) -> Failure | None:
    """Execute one notebook with typed parameters (its kernel on `threads` CPU threads; None: every core) and
    render it; a failure (an error in a cell, a kernel that died) is returned, not raised."""
    output.parent.mkdir(parents=True, exist_ok=True)
    print(f"  {source.stem} -> {output}", flush=True)
    failure = None
    try:
        pm.execute_notebook(
            source,
            output,
            parameters=parameters,
            kernel_name=kernel,
            cwd=str(REPO_ROOT),
            progress_bar=False,
            start_timeout=300,
            kernel_manager_class=kernel_manager_on_threads(threads),
        )
    except pm.PapermillExecutionError as exc:
        failure = Failure(source.stem, output, f"{exc.ename}: {exc.evalue}")
    except RuntimeError as exc:  # nbclient's DeadKernelError: the kernel died (out of memory, killed)
        failure = Failure(source.stem, output, f"{type(exc).__name__}: {exc}")
    if output.is_file():
        render_html(output, hide_code)
    return failure


def execute_all(
    notebook_dir: Path,
    notebooks: tuple[Notebook, ...],
    folder: Path,
    parameters: dict,
    *,
    kernel: str,
    stop_on_failure: bool = False,
    threads: int | None = None,
) -> list[Failure | None]:
    """Execute notebooks of `notebook_dir` into `folder` one after the other (up to the first failure if asked),
    their kernels on `threads` CPU threads."""
    failures = []
    for notebook in notebooks:
        failures.append(
            execute(
                notebook_dir / layout.notebook(notebook.name),
                folder / layout.notebook(notebook.name),
                parameters,
                kernel,
                notebook.hide_code,
                threads=threads,
            )
        )
        if stop_on_failure and failures[-1] is not None:
            break
    return failures
