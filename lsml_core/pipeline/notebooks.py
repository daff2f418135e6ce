"""Notebooks executed by papermill (parameters injected, kernels started by `kernels.QuietKernelManager`)
and rendered to HTML by nbconvert beside the executed copy."""

import errno
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill as pm
from nbconvert import HTMLExporter, MarkdownExporter

from lsml_core import layout
from lsml_core.pipeline.kernels import kernel_manager_on_threads
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.records import REPO_ROOT, atomic_write_bytes, atomic_write_text

KERNEL = "lsml"


@dataclass
class Failure:
    """A notebook execution that raised: what, where its executed notebook is, and the error."""

    what: str
    notebook: Path
    error: str


DISK_FULL_TEXTS = (f"[Errno {errno.ENOSPC}]", os.strerror(errno.ENOSPC))
TORCH_WRITE_FAILED = ("file write failed", "failed writing file")  # torch's zip writer drops the errno
LOW_FREE_BYTES = 64 * 2**20  # below this, a write that failed without saying why is taken for a full disk


def size_text(size: int) -> str:
    """'0 B', '512 KB', '3.4 GB': a number of bytes as a person reads it (powers of 1,024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" or size >= 10 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def free_bytes(folder: Path) -> int | None:
    """The free space of the file system `folder` is on (of its nearest existing parent); None when unknown."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def disk_full(error: BaseException | str, folder: Path | None = None) -> bool:
    """Whether an exception (or one it was raised from, or a Ray task's cause) or an error's text says the disk
    is full: errno ENOSPC, its message, or torch's failed write on a disk with under 64 MB left in `folder`."""
    seen, pending = set(), [error]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.errno == errno.ENOSPC:
            return True
        text = item if isinstance(item, str) else f"{getattr(item, 'ename', '')}: {getattr(item, 'evalue', '')} {item}"
        if any(marker in text for marker in DISK_FULL_TEXTS):
            return True
        if folder is not None and any(marker in text for marker in TORCH_WRITE_FAILED):
            free = free_bytes(folder)
            if free is not None and free < LOW_FREE_BYTES:
                return True
        if isinstance(item, BaseException):
            pending += [item.__cause__, item.__context__, getattr(item, "cause", None)]
    return False


def full_folder(error: BaseException | str, folder: Path) -> Path:
    """The folder a full-disk error was writing in: the file it names (an OSError's, or in its text or a notebook
    error's value), else `folder`."""
    name = getattr(error, "filename", None)
    if not name:
        match = re.search(
            re.escape(os.strerror(errno.ENOSPC)) + r": '([^']+)'", f"{getattr(error, 'evalue', '')} {error}"
        )
        name = match.group(1) if match else None
    return Path(name).parent if name else Path(folder)


def disk_full_advice(folder: Path) -> str:
    """What a person reads when a disk filled up: which folder's disk, how much is free, what to do."""
    free = free_bytes(folder)
    left = f"{size_text(free)} free" if free is not None else "its free space unknown"
    return (
        f"the disk of {folder} is full ({left}): free space there, or rerun with --results-dir / --data-dir on "
        "another disk; a rerun resumes where this one stopped, nothing finished is lost"
    )


def explained(error: BaseException | str, text: str, folder: Path) -> str:
    """An error's text (`text`), opened with the advice for a full disk when `error` says the disk is full."""
    if not disk_full(error, folder):
        return text
    return f"{disk_full_advice(full_folder(error, folder))} ({text})"


def render_html(notebook: Path, hide_code: bool = False) -> Path:
    """Render an executed notebook to HTML beside it (figures embedded); `hide_code` for reader-facing pages."""
    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code, exclude_output_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    target = notebook.with_suffix(".html")
    atomic_write_text(target, body)
    return target


def render_markdown(notebook: Path) -> Path:
    """Render an executed notebook as Markdown beside it, without its code, its figures as PNG files in
    `<name>_files/` (those of an earlier rendering removed), so that it reads on a code-hosting site."""
    files = layout.markdown_figures(notebook.stem)
    exporter = MarkdownExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    node = nbformat.read(notebook, as_version=4)
    body, resources = exporter.from_notebook_node(node, resources={"output_files_dir": files})
    folder = notebook.parent / files
    folder.mkdir(exist_ok=True)
    for name, data in resources.get("outputs", {}).items():
        atomic_write_bytes(notebook.parent / name, data)
    kept = {Path(name).name for name in resources.get("outputs", {})}
    for old in folder.iterdir():
        if old.name not in kept:
            old.unlink()
    target = notebook.parent / layout.markdown(notebook.stem)
    atomic_write_text(target, re.sub(r"<style[^>]*>.*?</style>\n?", "", body, flags=re.S))  # a host strips styles
    return target


def execute(
    source: Path, output: Path, parameters: dict, kernel: str, hide_code: bool = False, *, threads: int | None = None
) -> Failure | None:
    """Execute one notebook with typed parameters (its kernel on `threads` CPU threads; None: every core) and
    render it; a failure (an error in a cell, a kernel that died, a full disk: said so in plain words) is
    returned, not raised."""
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
        failure = Failure(source.stem, output, explained(exc, f"{exc.ename}: {exc.evalue}", output.parent))
    except RuntimeError as exc:  # nbclient's DeadKernelError: the kernel died (out of memory, killed)
        failure = Failure(source.stem, output, explained(exc, f"{type(exc).__name__}: {exc}", output.parent))
    except OSError as exc:  # papermill writing the executed notebook
        if not disk_full(exc):
            raise
        failure = Failure(source.stem, output, explained(exc, f"{type(exc).__name__}: {exc}", output.parent))
    if output.is_file():
        try:
            render_html(output, hide_code)
        except OSError as exc:
            if not disk_full(exc):
                raise
            failure = failure or Failure(
                source.stem, output, explained(exc, f"{type(exc).__name__}: {exc}", output.parent)
            )
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
