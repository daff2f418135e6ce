"""What a track is (the contract between the shared pipeline and each track) and the registry of tracks: a
profile's `track:` names one (default `multilabel`).

A track owes three things, listed here once: `TRACK` (a `Track`: what the runner, the scheduler and `--verify`
call), the modules of `MODULES` (what its notebooks call, each a `Protocol`) and the files of `FILES`. A new
track meets them and adds its name to `NAMES`; docs/extending.md is the checklist and
tests/test_track_contract.py checks every registered track against it. Track modules are imported when a track
is asked for, so that what needs only the names (the front page) does not load every track's models.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Protocol

import pandas as pd

from lsml_core.answers import Answer
from lsml_core.pipeline.notebook_list import NOTEBOOK_DIR, Notebook
from lsml_core.profiles import ProfileBase, RunConfigBase, read_profile_yaml

RUN_PARAMETERS = ("config", "run_dir", "data_dir")  # what `run_task` gives every run notebook
PROFILE_PARAMETERS = ("profile_dir", "data_dir")  # what `runner` gives every profile and report notebook


@dataclass(frozen=True)
class Track:
    """What the runner, the scheduler and `--verify` call of a track: `TRACK` in `lsml_core/<track>/track.py`."""

    name: str
    """The registered name: the track's folder in lsml_core/, notebooks/ and tests/, and a profile's `track:`."""
    title: str
    """The heading of the track's index pages and of its answers on the front page."""
    load_profile: Callable[[str | Path], ProfileBase]
    """Read and check a profile of this track (a name in configs/, a YAML path, a results folder's profile.yaml)."""
    prepare: Callable[[ProfileBase, Path], str]
    """`prepare(profile, data_dir)`: make the data (caches, pretraining stages) before any run; says their source."""
    plan: Callable[[ProfileBase, Path, Callable[[str], bool]], list[RunConfigBase]]
    """`plan(profile, runs_dir, settled)`: the runs known so far, asked again as runs settle (`settled(name)`)."""
    run_names: Callable[[ProfileBase], list[str]]
    """Every run the profile can have, in the index page's order (for checking `--runs` patterns)."""
    is_complete: Callable[[Path], bool]
    """Whether a run folder holds a finished run's results (its metrics.json holds every reported split)."""
    run_notebooks: tuple[Notebook, ...]
    """notebooks/<track>/<name>.ipynb run per run in order, each with a `parameters` cell assigning `RUN_PARAMETERS`."""
    profile_notebooks: tuple[Notebook, ...] = ()
    """notebooks/<track>/<name>.ipynb run once per profile after the runs, each assigning `PROFILE_PARAMETERS`."""
    report_notebooks: tuple[Notebook, ...] = ()
    """Profile notebooks run after `summarise`; one shown without code calls `write_answer` and `write_headline`."""
    summarise: Callable[[Path], None] | None = None
    """`summarise(profile_dir)`: tables written after the runs, before the reports (e.g. summary.csv), or None."""
    index_score: tuple[str, Callable[[Path], str]] = ("", lambda run_dir: "")
    """(column header, run folder -> text): the score of each finished run on the index page."""
    warning: Callable[[str], bool] = field(default=lambda source: False)
    """Whether the data's source (what `prepare` returned) is a stand-in the index page warns of."""
    outputs: tuple[str, ...] = ()
    """The files every finished run holds, `outputs.RUN_OUTPUTS` among them (a finished run lacking one is repaired)."""
    reads_last_weights: Callable[[dict], bool] = field(default=lambda config: False)
    """Whether the evaluation of a run (its config.json) reads its last epoch's weights: a finished run's checkpoint
    keeps them then, else only its records (`fit.finish_checkpoint`)."""
    shared_states: Callable[[ProfileBase, Path], list[tuple[str, str, bool]]] = field(
        default=lambda profile, data_dir: []
    )
    """For `--verify`: (name, what it holds and a rerun does, damaged?) of what the runs share outside their folders."""

    @property
    def notebook_dir(self) -> Path:
        """notebooks/<track>/: where the track's notebooks are."""
        return NOTEBOOK_DIR / self.name


class TrackModule(Protocol):
    """`lsml_core/<track>/track.py`: the track as the runner sees it."""

    TRACK: Track
    """The track's `Track`, whose `name` is its registered name."""


class TrainModule(Protocol):
    """`lsml_core/<track>/train.py`: what the track's run notebook calls to train a run."""

    def train_run(self, cfg: RunConfigBase, run_dir: Path, data_dir: Path, splits: object = None) -> pd.DataFrame:
        """Train (or resume) one run into `run_dir` on its CPU threads (`@threads.on_run_threads`); its history."""


class EvaluateModule(Protocol):
    """`lsml_core/<track>/evaluate.py`: what the track's run notebook calls to evaluate a run."""

    def evaluate_run(self, cfg: RunConfigBase, run_dir: Path, data_dir: Path, splits: object = None) -> dict:
        """Write the run's predictions and metrics.json from its best model; `@threads.on_run_threads` too."""


class AnswerModule(Protocol):
    """`lsml_core/<track>/answer.py`: what the track's report notebook hands to `answers.write_answer`."""

    answer: Callable[..., Answer]
    """`answer(profile_dir, ...)`: the profile's answer for the front page, from the frames its report computed."""


MODULES = {"track": TrackModule, "train": TrainModule, "evaluate": EvaluateModule, "answer": AnswerModule}


@dataclass(frozen=True)
class FileDuty:
    """A file a track owes outside its modules (`<track>` stands for its name) and what it holds."""

    path: str
    holds: str


FILES = (
    FileDuty("tests/<track>/__init__.py", "the track's tests, in a folder of their own that imports no other track"),
    FileDuty("docs/architecture.md", "the track's row in the table of tracks and its folder in the layout"),
    FileDuty("docs/tracks/<track>.md", "the track's page: its question, data, models, losses, metrics and report"),
    FileDuty("configs/*.yaml", "at least one profile whose `track:` is the track's name"),
)

NAMES = ("multilabel", "multiclass", "grouped")  # in the order the reports and the front page show them


def get(name: str) -> Track:
    """The track called `name`; the error lists the known ones."""
    if name not in NAMES:
        raise ValueError(f"unknown track {name!r}: choose one of {', '.join(NAMES)} (the profile's `track:` key)")
    return import_module(f"lsml_core.{name}.track").TRACK


def load_profile(name_or_path: str | Path):
    """(track, profile) of a profile name in configs/, a YAML path, or a results folder's profile.yaml."""
    track = get(read_profile_yaml(name_or_path)[0])
    return track, track.load_profile(name_or_path)
