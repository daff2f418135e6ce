"""Whether a profile's notebooks (or the study's front page) must be executed again: they read the profile,
its runs' records, the description of its data, the code and the kernel. When none of these changed since they
last ran to completion and what they wrote is intact, a rerun leaves them as they are instead of executing every
kernel again. The data files themselves are not hashed (the runs' records change when the data they trained on
does), nor is the profile's environment.json, rewritten by every invocation.

The record (`layout.REPORTED` in the folder) holds a digest of the inputs and the size and SHA-256 of every
file the notebooks wrote; it is removed before they execute, so a kill half-way never leaves a record that
vouches for half-written files.
"""

import hashlib
from pathlib import Path

from lsml_core import layout
from lsml_core.outputs import fingerprint
from lsml_core.records import REPO_ROOT, package_versions, read_json, write_json

CODE = (("lsml_core", "*.py"), ("notebooks", layout.notebook("*")))  # what the notebooks execute, under the repository


def code_digest(repo: Path = REPO_ROOT) -> str:
    """SHA-256 over the package's modules and the notebooks (name and content; hidden folders such as
    JupyterLab's .ipynb_checkpoints left out), and the installed packages."""
    digest = hashlib.sha256(repr(sorted(package_versions().items())).encode())
    for folder, pattern in CODE:
        for path in sorted((repo / folder).rglob(pattern)):
            name = path.relative_to(repo).as_posix()
            if not any(part.startswith(".") for part in name.split("/")):
                digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def content(path: Path) -> bytes:
    """A file's bytes; an absent one (or one removed meanwhile by another invocation) counted as absent."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return b"<absent>"


def inputs_digest(files: list[Path], texts: list[str]) -> str:
    """SHA-256 over input files (name and content) and other inputs as text."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0" + content(path) + b"\0")
    for text in texts:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()


def folders(parent: Path) -> list[Path]:
    """The folders directly in `parent`, by name."""
    return sorted(p for p in parent.glob("*/") if p.is_dir())


def profile_inputs(out: Path, data_text: str, kernel: str) -> str:
    """What a profile's notebooks read: its profile.yaml, the record of every run folder's outputs, the data
    (as described), the code and the kernel that executes them."""
    files = [out / layout.PROFILE, *(run / layout.OUTPUTS for run in folders(out / layout.RUNS))]
    return inputs_digest(files, [data_text, kernel, code_digest()])


def written(folder: Path, names: list[str]) -> dict[str, dict]:
    """Size and SHA-256 of the notebooks' files that exist: `names` are paths relative to `folder`."""
    return {name: fingerprint(folder / name) for name in sorted(names) if (folder / name).is_file()}


def is_up_to_date(folder: Path, inputs: str, names: list[str]) -> bool:
    """Whether the notebooks last ran to completion on these inputs and every file they wrote is as they left it."""
    try:
        record = read_json(folder / layout.REPORTED)
    except (OSError, ValueError):
        return False
    return (
        record.get("inputs") == inputs and record.get("written") == written(folder, names) and bool(record["written"])
    )


def forget(folder: Path) -> None:
    """Remove the record before the notebooks execute again."""
    (folder / layout.REPORTED).unlink(missing_ok=True)


def remember(folder: Path, inputs: str, names: list[str]) -> None:
    """Record the inputs and the files the notebooks wrote, once they all ran to completion."""
    write_json(folder / layout.REPORTED, {"inputs": inputs, "written": written(folder, names)})


def study_inputs(results_dir: Path, config_dir: Path, kernel: str) -> str:
    """What the front page reads: the study's profiles, and of each folder of the results folder its profile,
    records, answer and summary, the records of its runs and which of its pages exist (the front page links
    them); the code and the kernel."""
    files, pages = sorted(config_dir.glob("*.yaml")), []
    for out in folders(results_dir):
        names = (layout.PROFILE, layout.REPORTED, *layout.PROFILE_WRITTEN)
        files += [*(out / name for name in names), *(run / layout.OUTPUTS for run in folders(out / layout.RUNS))]
        shown = [out / layout.INDEX, *sorted((out / layout.NOTEBOOKS).glob(layout.rendered("*")))]
        pages += [str(page) for page in shown if page.is_file()]
    return inputs_digest(files, [str(config_dir), kernel, "\n".join(pages), code_digest()])
