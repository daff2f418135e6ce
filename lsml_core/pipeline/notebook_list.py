"""What a track's notebooks are (where they live, what the index page calls them), apart from executing them
(`notebooks.py`, which imports papermill and nbconvert): the track contract and the report notebooks that
read it import this one."""

from dataclasses import dataclass

from lsml_core.records import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


@dataclass(frozen=True)
class Notebook:
    """A notebook of a track (`notebooks/<track>/<name>.ipynb`) and what the index page calls it."""

    name: str
    label: str
    hide_code: bool = False
