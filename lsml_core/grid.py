"""The runs of a profile, in one shape in every track: `grid: {seeds: [...], arms: [...]}`.

An arm is a change to the profile's `train` section; a list value gives one run per element, and the
lists of an arm are crossed (every combination). Every arm runs once per seed; `{}` is the train section as
it is; an arm's own `seeds` replace the grid's for that arm. For example

    arms: [{model: [resnet18, mobilenet_v2], scheme: [none, uniform], alpha: 0.1},
           {scheme: uniform, alpha: [0.05, 0.2], seeds: [0]}]

gives four runs per seed of the grid and two more with seed 0. A run that learns from a teacher names it
by the track's rule (its own configuration with a few keys changed), and that very configuration must be one
of the profile's runs.
"""

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields, replace

from lsml_core.profiles import REPLACED, check_renamed


@dataclass(frozen=True, kw_only=True)
class Grid:
    """Every arm (changes to the train section; lists crossed) once per seed."""

    seeds: list[int] = field(default_factory=lambda: [0])
    arms: list[dict] = field(default_factory=lambda: [{}])

    def __post_init__(self):
        if not self.arms or not all(isinstance(arm, dict) for arm in self.arms):
            raise ValueError(f"grid.arms={self.arms!r} must be a non-empty list of mappings ({{}}: the train section)")
        for where, seeds in [("grid.seeds", self.seeds)] + [
            (f"seeds of arm {a}", a["seeds"]) for a in self.arms if "seeds" in a
        ]:
            if not isinstance(seeds, list) or not seeds or not all(type(s) is int for s in seeds):
                raise ValueError(f"{where}={seeds!r} must be a non-empty list of integers")
        for arm in self.arms:
            empty = sorted(key for key, value in arm.items() if value == [])
            if empty:
                raise ValueError(f"arm {arm} of grid.arms gives no run: {empty} list(s) nothing; give a value")

    def with_seeds(self, seeds: list[int]) -> "Grid":
        """This grid with every arm run at `seeds` (the arms' own seeds dropped)."""
        arms = [{key: value for key, value in arm.items() if key != "seeds"} for arm in self.arms]
        return replace(self, seeds=list(seeds), arms=arms)

    def cells(self) -> Iterator[dict]:
        """Each run's changes to the train section, with its seed: per seed (a whole seed's runs before the
        next), per arm that runs it, every combination of the arm's lists (the first key outermost)."""
        seeds = sorted({seed for arm in self.arms for seed in arm.get("seeds", self.seeds)})
        for seed in seeds:
            for arm in self.arms:
                if seed not in arm.get("seeds", self.seeds):
                    continue
                changes = {key: value for key, value in arm.items() if key != "seeds"}
                axes = [value if isinstance(value, list) else [value] for value in changes.values()]
                for values in itertools.product(*axes):
                    yield {**dict(zip(changes, values)), "seed": seed}


def check_arm_keys(grid: Grid, train_type, shortcuts: Iterable[str], where: str) -> None:
    """An arm sets keys of the train section (or the track's `shortcuts`), never `seed` or `teacher`: the grid's
    seeds and the track's rule set those."""
    known = {f.name for f in fields(train_type)} | set(shortcuts) | {"seeds"}
    for arm in grid.arms:
        check_renamed(arm, known, f"grid.arms of {where}")
        for key in sorted(set(arm) - known):
            if key in REPLACED:
                raise ValueError(f"`{key}` in arm {arm} of {where} is now {REPLACED[key]}")
        wrong = sorted(set(arm) - known | {"seed", "teacher"} & set(arm))
        if wrong:
            raise ValueError(
                f"grid.arms: key(s) {wrong} in arm {arm} cannot be set there (unknown, or `seed` and `teacher`, "
                f"which grid.seeds or the arm's `seeds` and the profile set); allowed: "
                f"{sorted(known - {'seed', 'teacher'})}"
            )


def as_field_types(train_type, changes: dict) -> dict:
    """`changes` with whole numbers given for float fields made floats (YAML reads `2` as an int), so that a
    run's configuration is the same however its numbers were written."""
    floats = {f.name for f in fields(train_type) if f.type is float or f.type == (float | None)}
    return {
        key: float(value) if key in floats and isinstance(value, int) and not isinstance(value, bool) else value
        for key, value in changes.items()
    }


def unique_runs(runs: list, teachers: dict, teacher_hint: str) -> list:
    """The runs once each (two cells may give the same run), per seed with teachers first; refused when two
    different configurations share a name, or a run's teacher (`teachers`: name -> the configuration it must
    have) is not among them (`teacher_hint`: how to add it)."""
    by_name: dict = {}
    for run in runs:
        if by_name.setdefault(run.name, run) != run:
            raise ValueError(
                f"grid.arms give two different runs named {run.name}: they differ only in keys the run name leaves "
                "out (epochs, batch_size, weights, ...; a multi-label learning rate is named by an arm's `lr`); "
                "vary those in another profile"
            )
    for name, teacher in teachers.items():
        if name not in by_name:
            raise ValueError(
                f"a run learns from the teacher run {name}, which is not among the profile's runs: {teacher_hint}"
            )
        if by_name[name] != teacher:
            differing = teacher.differences(by_name[name].to_dict())
            raise ValueError(
                f"a run learns from the teacher run {name}, but the profile's run of that name differs in "
                f"{differing} from the teacher it needs: {teacher_hint}"
            )
    return sorted(by_name.values(), key=lambda r: (r.train.seed, r.train.teacher is not None))


def profile_runs(
    profile, *, teacher: Callable[[dict], dict | None], teacher_hint: str, changes=None, shortcuts: Iterable[str] = ()
) -> list:
    """Every run of `profile.grid`, once each, teachers first, its arms' keys checked first. A cell's changes
    (`changes(cell)`: the track's `shortcuts` resolved) are made to the train section; a run for whose changes `teacher` gives the teacher's
    changes (else None) learns from the run those make, which must be one of the profile's runs
    (`teacher_hint`: how to add it)."""
    train_type = type(profile.train)
    check_arm_keys(profile.grid, train_type, shortcuts, f"profile {profile.name}")
    runs, teachers = [], {}
    for cell in profile.grid.cells():
        train = as_field_types(train_type, changes(cell) if changes else cell)
        teacher_changes = teacher(train)
        if teacher_changes is None:
            runs.append(profile.run(**train))
            continue
        needed = profile.run(**{**train, **teacher_changes})
        teachers[needed.name] = needed
        runs.append(profile.run(**train, teacher=needed.name))
    return unique_runs(runs, teachers, teacher_hint)
