"""What a track is (`Track`, the contract between the runner and the tracks) and the registry of tracks: a
profile's `track:` names one (default `multilabel`).

A new track is a folder `lsml_core/<track>/` whose `track.py` defines `TRACK` (a `Track`), a folder
`notebooks/<track>/`, and its name in `NAMES`. Track modules are imported when a track is asked
for, so that what needs only the names (the front page) does not load every track's models.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from lsml_core.notebooks import NOTEBOOK_DIR, Notebook
from lsml_core.profiles import read_profile_yaml


@dataclass(frozen=True)
class Track:
    """What the runner needs to know of a track.

    - `prepare(profile, data_dir)`: make sure the data (and their image caches) exist; returns where they
      came from. Runs never prepare data themselves.
    - `plan(profile, runs_dir, settled)`: the runs known so far; asked again whenever runs settle
      (`settled(name)`: the run will not change in this invocation), so a track may add runs chosen from
      finished ones. A run whose config names a `teacher` starts once that teacher has settled.
    - `run_names(profile)`: every run the profile can have (for checking `--runs` patterns).
    - `summarise(profile_dir)`: tables written after the runs (e.g. summary.csv), or None.
    - `index_score`: (column header, run folder -> text) of the index page.
    - `outputs`: the files every finished run holds (a run finished without a record of its outputs lacking
      one is repaired, not skipped).
    - `shared_states(profile, data_dir)`: for `--verify`, what the runs share outside their folders (a
      pretraining stage) as (name, what it holds and what a rerun does, whether it is damaged).
    """

    name: str
    title: str
    load_profile: Callable
    prepare: Callable
    plan: Callable
    run_names: Callable
    is_complete: Callable[[Path], bool]
    run_notebooks: tuple[Notebook, ...]
    profile_notebooks: tuple[Notebook, ...] = ()
    report_notebooks: tuple[Notebook, ...] = ()
    summarise: Callable | None = None
    index_score: tuple[str, Callable[[Path], str]] = ("", lambda run_dir: "")
    warning: Callable[[str], bool] = field(default=lambda source: False)
    outputs: tuple[str, ...] = ()
    shared_states: Callable[[object, Path], list[tuple[str, str, bool]]] = field(default=lambda profile, data_dir: [])

    @property
    def notebook_dir(self) -> Path:
        return NOTEBOOK_DIR / self.name


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
