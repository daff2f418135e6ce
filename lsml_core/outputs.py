"""What a finished run produced, recorded in its folder (`outputs.json`: each file's size and SHA-256), and the
run checked against that record before it is trusted again.

Damage to an evaluation output (metrics, predictions, a rendered notebook, the run's configuration and
environment records) is repaired by executing the run's notebooks again: they resume after the last epoch
from the checkpoint, so nothing is retrained. Damage to any other file (the best model, the last
checkpoint, the history, what the epoch loop writes) means training the run again.
"""

import fnmatch
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lsml_core import layout
from lsml_core.records import file_sha256, read_json, write_json

RUN_OUTPUTS = (layout.CONFIG, layout.HISTORY, layout.CHECKPOINT, layout.BEST_MODEL, layout.METRICS)  # every track's
UNRECORDED = (layout.OUTPUTS, layout.EXECUTION)  # the record itself; the execution record changes with every attempt
REEVALUATED = (  # written again when the run's notebooks resume after the last epoch
    layout.METRICS,
    layout.predictions("*"),
    layout.PROJECTION,
    layout.CONFIG,
    layout.ENVIRONMENT,
    layout.PRETRAINED,
    layout.LABEL_NOISE,
    layout.notebook("*"),
    layout.rendered("*"),
)


def run_outputs(*splits: str) -> tuple[str, ...]:
    """The files every finished run of a track holds: RUN_OUTPUTS and its predictions on each of `splits`."""
    return RUN_OUTPUTS + tuple(layout.predictions(split) for split in splits)


@dataclass(frozen=True)
class Damage:
    """The files of a run that differ from its record (name -> how), and whether repairing them means
    training the run again (else its notebooks are executed again from its best model)."""

    files: dict[str, str]
    retrain: bool

    def describe(self) -> str:
        """`predictions_test.csv missing, model_best.pt changed`."""
        return ", ".join(f"{name} {how}" for name, how in self.files.items())

    def action(self) -> str:
        """What a rerun does about it."""
        if self.retrain:
            return "trained again from its first epoch"
        return f"evaluated again from its intact {layout.BEST_MODEL} (nothing retrained)"


def fingerprint(path: Path) -> dict:
    """A file's size and SHA-256."""
    return {"size": path.stat().st_size, "sha256": file_sha256(path)}


def produced_files(run_dir: Path) -> list[str]:
    """The names (relative to the run folder) of every file the run produced, hidden files left out."""
    paths = (p for p in sorted(Path(run_dir).rglob("*")) if p.is_file())
    names = (p.relative_to(run_dir).as_posix() for p in paths)
    return [
        name for name in names if name not in UNRECORDED and not any(part.startswith(".") for part in name.split("/"))
    ]


def record_outputs(run_dir: Path) -> None:
    """Write outputs.json: the size and SHA-256 of every file the run produced, as it is now."""
    run_dir = Path(run_dir)
    write_json(
        run_dir / layout.OUTPUTS, {"files": {name: fingerprint(run_dir / name) for name in produced_files(run_dir)}}
    )


def is_recorded(run_dir: Path) -> bool:
    """Whether the run has a record of its outputs (one finished by an older version, or killed just before it was written, has none)."""
    return (Path(run_dir) / layout.OUTPUTS).is_file()


def how_changed(path: Path, recorded: dict) -> str | None:
    """'missing', 'changed' (size first: a file of another size needs no hash) or None when it is as recorded."""
    if not path.is_file():
        return "missing"
    if path.stat().st_size != recorded["size"] or file_sha256(path) != recorded["sha256"]:
        return "changed"
    return None


def needs_training(name: str) -> bool:
    """Whether a damaged file is one that only training writes."""
    return not any(fnmatch.fnmatch(Path(name).name, pattern) for pattern in REEVALUATED)


def damage(run_dir: Path) -> Damage | None:
    """How a recorded run differs from its record; None when it is intact or has no record. A record that
    does not read is damage too: the notebooks are executed again and the record written anew."""
    run_dir = Path(run_dir)
    if not is_recorded(run_dir):
        return None
    try:
        recorded = read_json(run_dir / layout.OUTPUTS)["files"]
    except (ValueError, KeyError, TypeError):
        return Damage({layout.OUTPUTS: "unreadable"}, retrain=False)
    files = {name: how for name, entry in recorded.items() if (how := how_changed(run_dir / name, entry))}
    if not files:
        return None
    return Damage(files, retrain=any(needs_training(name) for name in files))


def missing_outputs(run_dir: Path, required: tuple[str, ...]) -> Damage | None:
    """Of the files every finished run of a track holds (`required`), those missing from a run without a record;
    None when none is."""
    files = {name: "missing" for name in required if not (Path(run_dir) / name).is_file()}
    return Damage(files, retrain=any(needs_training(name) for name in files)) if files else None


def damaged_checkpoint(path: Path) -> bool:
    """Whether a checkpoint file (torch's zip format) is there but does not read back whole: a truncated file
    or one whose bytes changed (every member's CRC is checked)."""
    if not Path(path).is_file():
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is not None
    except (zipfile.BadZipFile, OSError, EOFError):
        return True
