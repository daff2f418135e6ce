"""Whether a profile's notebooks (or the study's front page) must be executed again: they read the profile,
its runs' records, the description of its data, the code and the kernel. When none of these changed since they
last ran to completion and what they wrote is intact, a rerun leaves them as they are instead of executing every
kernel again. The data files themselves are not hashed (the runs' records change when the data they trained on
does), nor is the profile's environment.json, rewritten by every invocation.

The record (`layout.REPORTED` in the folder) holds the SHA-256 of each input, by name, and the size and SHA-256
of every file the notebooks wrote, so that a rerun says which of them made it execute the notebooks again; it
is removed before they execute, so a kill half-way never leaves a record that vouches for half-written files.
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


def inputs_parts(root: Path, files: list[Path], texts: dict[str, str]) -> dict[str, str]:
    """Each input named: a file by its path under `root` (the SHA-256 of its content), another input by its
    name (the SHA-256 of its text), so that a rerun can say which one changed."""
    parts = {path.relative_to(root).as_posix(): hashlib.sha256(content(path)).hexdigest() for path in files}
    return parts | {name: hashlib.sha256(text.encode()).hexdigest() for name, text in texts.items()}


def folders(parent: Path) -> list[Path]:
    """The folders directly in `parent`, by name."""
    return sorted(p for p in parent.glob("*/") if p.is_dir())


def profile_inputs(out: Path, data_text: str, kernel: str) -> dict[str, str]:
    """What a profile's notebooks read: its profile.yaml, the record of every run folder's outputs, the data
    (as described), the code and the kernel that executes them, and where the folder is (its pages name it)."""
    files = [out / layout.PROFILE, *(run / layout.OUTPUTS for run in folders(out / layout.RUNS))]
    texts = {"folder": str(out.resolve()), "data": data_text, "kernel": kernel, "code": code_digest()}
    return inputs_parts(out, files, texts)


def written(folder: Path, names: list[str]) -> dict[str, dict]:
    """Size and SHA-256 of the notebooks' files that exist: `names` are paths relative to `folder`."""
    return {name: fingerprint(folder / name) for name in sorted(names) if (folder / name).is_file()}


def what_changed(folder: Path, inputs: dict[str, str], names: list[str]) -> list[str]:
    """Why the notebooks must execute again: no record of a completed execution, each input added, removed or
    changed since, each written file damaged or missing; empty when they are up to date."""
    try:
        record = read_json(folder / layout.REPORTED)
    except (OSError, ValueError):
        return ["no record of a completed execution"]
    before, files = record.get("inputs"), record.get("written")
    if not isinstance(before, dict) or not isinstance(files, dict) or not files:
        return ["a record of an earlier version, or of nothing written"]
    return [f"{name} (input)" for name in differing(before, inputs)] + [
        f"{name} (written)" for name in differing(files, written(folder, names))
    ]


def differing(before: dict, now: dict) -> list[str]:
    """The keys, sorted, whose value was added, removed or changed between two records."""
    return [name for name in sorted(before.keys() | now.keys()) if before.get(name) != now.get(name)]


def reasons(force: bool, failed: bool, folder: Path, inputs: dict[str, str], names: list[str]) -> list[str]:
    """Why the notebooks execute (--force, a failed run, `what_changed`), as a progress line shows it; empty
    when they are up to date."""
    return ["--force"] if force else ["a run failed"] if failed else what_changed(folder, inputs, names)


def shown(changes: list[str], at_most: int = 4) -> str:
    """The first reasons, and how many more."""
    more = len(changes) - at_most
    return "; ".join(changes[:at_most]) + (f"; and {more} more" if more > 0 else "")


def forget(folder: Path) -> None:
    """Remove the record before the notebooks execute again."""
    (folder / layout.REPORTED).unlink(missing_ok=True)


def remember(folder: Path, inputs: dict[str, str], names: list[str]) -> None:
    """Record the inputs and the files the notebooks wrote, once they all ran to completion."""
    write_json(folder / layout.REPORTED, {"inputs": inputs, "written": written(folder, names)})


def study_inputs(results_dir: Path, config_dir: Path, kernel: str) -> dict[str, str]:
    """What the front page reads: the study's profiles, and of each folder of the results folder its profile,
    records, answer and summary, the records of its runs and which of its pages exist (the front page links
    them); the code and the kernel."""
    files, pages = [], []
    figures = results_dir / layout.markdown_figures(layout.STUDY_PAGE)  # the front page's own, not a profile's
    for out in (folder for folder in folders(results_dir) if folder != figures):
        names = (layout.PROFILE, layout.REPORTED, *layout.PROFILE_WRITTEN)
        files += [*(out / name for name in names), *(run / layout.OUTPUTS for run in folders(out / layout.RUNS))]
        shown = [out / layout.INDEX, *sorted((out / layout.NOTEBOOKS).glob(layout.rendered("*")))]
        pages += [page.relative_to(results_dir).as_posix() for page in shown if page.is_file()]
    profiles = {f"profiles: {path.name}": path.read_text() for path in sorted(config_dir.glob("*.yaml"))}
    texts = {"folder": str(results_dir.resolve()), "profiles folder": str(config_dir), "kernel": kernel}
    texts |= {"pages": "\n".join(pages), "code": code_digest()}
    return inputs_parts(results_dir, files, profiles | texts)
