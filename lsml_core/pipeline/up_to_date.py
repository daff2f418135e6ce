"""Whether a profile's notebooks (or the study's front page) must be executed again: they read the profile,
its runs' records, the data and the code. When none of these changed since they last ran to completion and
what they wrote is intact, a rerun leaves them as they are instead of executing every kernel again.

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
    """SHA-256 over the package's modules and the notebooks (name and content), and the installed packages."""
    digest = hashlib.sha256(repr(sorted(package_versions().items())).encode())
    for folder, pattern in CODE:
        for path in sorted((repo / folder).rglob(pattern)):
            digest.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def inputs_digest(files: list[Path], texts: list[str]) -> str:
    """SHA-256 over input files (name and content; an absent one counted as absent) and other inputs as text."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0" + (path.read_bytes() if path.is_file() else b"<absent>") + b"\0")
    for text in texts:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()


def profile_inputs(out: Path, data_text: str) -> str:
    """What a profile's notebooks read: its profile.yaml, the record of every run folder's outputs, the data
    and the code."""
    runs = sorted(p for p in (out / layout.RUNS).glob("*/") if p.is_dir())
    files = [out / layout.PROFILE, *(run / layout.OUTPUTS for run in runs)]
    return inputs_digest(files, [data_text, code_digest()])


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


def study_inputs(results_dir: Path, config_dir: Path) -> str:
    """What the front page reads: the study's profiles, and of each profile folder its profile.yaml, the records
    of its notebooks and runs, its answer and summary, and the code."""
    files = sorted(config_dir.glob("*.yaml"))
    for out in sorted(p for p in results_dir.glob("*/") if (p / layout.PROFILE).is_file()):
        runs = sorted(p for p in (out / layout.RUNS).glob("*/") if p.is_dir())
        names = (layout.PROFILE, layout.REPORTED, *layout.PROFILE_WRITTEN)
        files += [*(out / name for name in names), *(run / layout.OUTPUTS for run in runs)]
    return inputs_digest(files, [str(config_dir), code_digest()])
