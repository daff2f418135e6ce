"""The registry of tracks: a profile's `track:` names one (default `multilabel`).

A new track is a folder `lsml_core/<track>/` whose `track.py` defines `TRACK` (a `runner.Track`),
a folder `notebooks/<track>/`, and its name in `NAMES`. Track modules are imported when a track is asked
for, so that what needs only the names (the front page) does not load every track's models.
"""

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from lsml_core.profiles import read_profile_yaml

if TYPE_CHECKING:
    from lsml_core.runner import Track

NAMES = ("multilabel", "multiclass", "grouped")  # in the order the reports and the front page show them


def get(name: str) -> "Track":
    """The track called `name`; the error lists the known ones."""
    if name not in NAMES:
        raise ValueError(f"unknown track {name!r}: choose one of {', '.join(NAMES)} (the profile's `track:` key)")
    return import_module(f"lsml_core.{name}.track").TRACK


def load_profile(name_or_path: str | Path):
    """(track, profile) of a profile name in configs/, a YAML path, or a results folder's profile.yaml."""
    track = get(read_profile_yaml(name_or_path)[0])
    return track, track.load_profile(name_or_path)
