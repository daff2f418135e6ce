"""The registry of tracks: a profile's `track:` names one (default `multilabel`).

A new track is a folder `lsml_core/<track>/` whose `track.py` defines `TRACK` (a `runner.Track`),
a folder `notebooks/<track>/`, and one line here.
"""

from pathlib import Path

from lsml_core.grouped.track import TRACK as GROUPED
from lsml_core.multiclass.track import TRACK as MULTICLASS
from lsml_core.multilabel.track import TRACK as MULTILABEL
from lsml_core.profiles import read_profile_yaml
from lsml_core.runner import Track

TRACKS: dict[str, Track] = {track.name: track for track in (MULTILABEL, MULTICLASS, GROUPED)}


def get(name: str) -> Track:
    """The track called `name`; the error lists the known ones."""
    if name not in TRACKS:
        raise ValueError(f"unknown track {name!r}: choose one of {', '.join(TRACKS)} (the profile's `track:` key)")
    return TRACKS[name]


def load_profile(name_or_path: str | Path):
    """(track, profile) of a profile name in configs/, a YAML path, or a results folder's profile.yaml."""
    track = get(read_profile_yaml(name_or_path)[0])
    return track, track.load_profile(name_or_path)
