"""Profiles (plain YAML) and run configurations: reading, checking, saving, for every track.

A profile's YAML names its track (`track: multiclass`; without the key, `multilabel`) and holds the
sections that track's `Profile` declares; an unknown key is an error that lists the allowed ones, a key
renamed since (`RENAMED`) an error naming its new name. A run's configuration is saved as JSON beside its
results and read back with the same types.
"""

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import yaml

from lsml_core import layout
from lsml_core.checks import check_choice, check_compute, check_each, check_max_batches
from lsml_core.records import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "configs"
DEFAULT_TRACK = "multilabel"
STUDY_KINDS = ("cpu", "gpu", "none")  # a profile's `study:` key: what `run_all.sh --all` does with it


# Keys renamed so that every track says the same thing the same way: old key -> (new key, why). A profile, a grid
# or a grouped arm that still uses an old key is refused naming the new one; nothing is translated silently.
RENAMED = {
    "epsilon": ("alpha", "one name for the smoothing degree in every track"),
    "kd_alpha": ("kd_weight", "alpha names the smoothing degree in every track"),
    "backbone": ("model", "one name for the network in every track"),
    "kind": ("dataset", "one name for the data set in every track"),
    "side": ("image_size", "one name for the images' side in every track"),
    "heldout_fraction": ("selection_fraction", "the split that chooses is `selection` in every track"),
    "n_val": ("n_selection", "the split that chooses is `selection` in every track; `val` is only ever reported"),
    "heldout": ("n_selection", "the split that chooses is `selection` in every track (the pretraining recipe's)"),
}


# Keys of the grids before they took one shape in every track: old key -> how it is written now.
REPLACED = {
    "models": "an arm's `model` (a list: one run per model)",
    "losses": "an arm's `loss`",
    "schemes": "an arm's `scheme`",
    "alphas": "an arm's `alpha`",
    "lrs": "an arm's `lr`",
    "label_noise": "an arm's `label_noise`",
    "ls_alpha": "an arm {scheme: uniform, alpha: ...}",
    "ls_epsilon": "an arm {scheme: uniform, alpha: ...}",
    "ls_targets": "an arm {scheme: uniform, alpha: ..., explicit_targets: true} (or nothing, for false)",
    "ils_alphas": "an arm {scheme: instance, alpha: [...], temperature: [...]}",
    "ils_epsilons": "an arm {scheme: instance, alpha: [...], temperature: [...]}",
    "ils_temperatures": "an arm {scheme: instance, alpha: [...], temperature: [...]}",
    "selection_metric": "`distillation.selection_metric`",
    "student": "`distillation.student`",
    "kd_weight": "`distillation.kd_weight`",
    "kd_alpha": "`distillation.kd_weight`",
    "kd_temperature": "`distillation.kd_temperature`",
}
EXAMPLES = {  # the grid of each track, as it is written now
    "multilabel": "grid: {seeds: [0, 1], arms: [{model: [resnet18, mobilenet_v2], scheme: [none, uniform], alpha: 0.1}]}",
    "multiclass": "grid: {seeds: [0, 1], arms: [{scheme: none}, {scheme: uniform, alpha: 0.1}, {scheme: instance, "
    "alpha: [0.05, 0.1], temperature: [2, 8]}]}, distillation: {selection_metric: accuracy, student: shallow, kd_weight: 0.9, "
    "kd_temperature: 20}",
    "grouped": "grid: {seeds: [0, 1], arms: [{}, {sesemi: none}]}",
}


def check_grid_keys(track: str, values: dict, where: str) -> None:
    """Refuse a grid written in an earlier shape (`grids:` blocks, or a track's own keys), saying how it is
    written now (a results folder's profile.yaml is rewritten by running its profile again)."""
    rewrite = (
        f"e.g. {EXAMPLES.get(track, EXAMPLES['multilabel'])} ({where}; a results folder's profile.yaml is rewritten "
        "by ./run_all.sh --profile NAME)"
    )
    if "grids" in values:
        raise ValueError(
            "`grids` (a list of blocks) was replaced by one `grid` of `seeds` and `arms` in every track: each block "
            "becomes an arm with its keys in the singular (models -> model) and its own `seeds`, and what a block "
            "left to its defaults is written out (models [resnet18, mobilenet_v2], schemes [none, uniform, "
            f"positive], alphas [0.1]), {rewrite}"
        )
    grid = values.get("grid", {})
    if not isinstance(grid, dict):
        raise ValueError(
            f"grid must be a mapping of `seeds` and `arms` (a list of arms goes under grid.arms), {rewrite}"
        )
    replaced = sorted(set(grid) & set(REPLACED))
    if replaced:
        how = "; ".join(f"grid.{key}: {REPLACED[key]}" for key in replaced)
        raise ValueError(
            f"grid key(s) {replaced} were replaced ({how}): the grid is `seeds` and `arms` in every track, {rewrite}"
        )


def check_renamed(keys, known, where: str) -> None:
    """Raise ValueError naming the new name of the first of `keys` that `known` lacks and `RENAMED` holds."""
    for key in sorted(set(keys) - set(known)):
        if key in RENAMED:
            new, why = RENAMED[key]
            raise ValueError(f"`{key}` was renamed `{new}` ({why}): rename the key in {where}")


def with_renamed_keys(values: dict, known) -> dict:
    """A saved record's keys as they are named now: each key `known` lacks and `RENAMED` holds gets its new name,
    unless the record holds the new name too (then the old key stays, and is refused as unknown)."""

    def now(key: str) -> str:
        new = RENAMED[key][0] if key not in known and key in RENAMED else key
        return key if new != key and new in values else new

    return {now(key): value for key, value in values.items()}


def build(cls, values: dict | None, section: str, source: str | None = None, saved: bool = False):
    """Instantiate a config dataclass, naming any key it does not know (a renamed key with its new name);
    `source`: the profile the values come from. A saved record (`saved`: config.json, a checkpoint) is read
    with its renamed keys mapped (and its values, where the type maps them: `cls.saved`), so that a results folder
    written before a renaming is not retrained."""
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    if saved:
        values = with_renamed_keys(values, known)
        values = cls.saved(values) if hasattr(cls, "saved") else values  # values renamed since, as the type says
    check_renamed(values, known, f"section {section!r} of {source}" if source else f"section {section!r}")
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in section {section!r}; allowed: {sorted(known)}")
    return cls(**values)


def profile_path(name_or_path: str | Path) -> Path:
    """A profile's YAML file, from its name (configs/<name>.yaml) or a path; a path to no file is said to be
    missing (a results folder's profile.yaml with the command that writes it)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    if path.suffix in (".yaml", ".yml"):
        made_by = (
            f": ./run_all.sh --profile {path.parent.name} writes it (with the results of that profile)"
            if path.name == layout.PROFILE
            else ""
        )
        raise FileNotFoundError(f"the profile file {path} is missing{made_by}")
    path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ValueError(
            f"unknown profile {str(name_or_path)!r}: choose one of {', '.join(names)} or give the path of a YAML file"
        )
    return path


def results_folder(profile_dir: str | Path) -> Path:
    """A profile's results folder, checked to hold the profile.yaml its run wrote (else the error names the
    command that writes it): a report opened before its profile has run says so first."""
    return profile_path(Path(profile_dir) / layout.PROFILE).parent


def ran_or_named(results_dir: str | Path, name: str) -> str | Path:
    """The profile a results folder ran (its profile.yaml), else the profile `name` in configs/: a run notebook
    opened as it is trains a run of the profile whose results lie beside it."""
    ran = Path(results_dir) / layout.PROFILE
    return ran if ran.is_file() else name


def read_profile_yaml(name_or_path: str | Path) -> tuple[str, dict]:
    """(track, the YAML's values) of a profile; the track is `multilabel` unless the YAML names another."""
    path = profile_path(name_or_path)
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"profile {path} must be a YAML mapping of sections, got {type(values).__name__}")
    values.setdefault("name", path.stem)
    check_choice(f"study kind of profile {path}", values.pop("study", "cpu"), STUDY_KINDS)
    return values.pop("track", DEFAULT_TRACK), values


def read_track_yaml(track: str, name_or_path: str | Path) -> dict:
    """The YAML's values of a profile of `track` (a profile of another track is refused)."""
    found, values = read_profile_yaml(name_or_path)
    if found != track:
        raise ValueError(f"profile {name_or_path} is of track {found!r}, not {track!r}")
    check_grid_keys(track, values, f"profile {name_or_path}")
    return values


def study_kind(path: Path) -> str:
    """What `run_all.sh --all` does with a profile (its YAML's `study:` key, default cpu): cpu, regenerate it;
    gpu, regenerate it where a GPU is present; none, leave it out (a profile for the tests)."""
    values = yaml.safe_load(Path(path).read_text()) or {}
    kind = values.get("study", "cpu") if isinstance(values, dict) else "cpu"
    check_choice(f"study kind of profile {path}", kind, STUDY_KINDS)
    return kind


VALUES = ("name", "description", "keep_checkpoints")  # a profile's keys that hold a value, not a section


def build_profile(cls, values: dict, source: str, track: str, **built):
    """A track's `Profile` from a YAML's values: each section built as the type its field declares
    (`built`: sections the track has built itself)."""
    types = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ValueError(
            f"unknown section(s) {unknown} in profile {source} (track {track}); allowed: track, {', '.join(types)}"
        )
    sections = {
        key: values[key] if key in VALUES else build(types[key], values.get(key), key, source)
        for key in types
        if key in values or key not in (*VALUES, *built)
    }
    if not isinstance(sections.get("keep_checkpoints", False), bool):
        raise ValueError(
            f"keep_checkpoints={sections['keep_checkpoints']!r} in profile {source} must be true (a finished run keeps "
            "its resume checkpoint) or false (the default: it keeps what re-evaluation reads)"
        )
    return cls(**sections, **built)


def with_track(track: str, values: dict) -> dict:
    """`values` marked with their track, first; the default track stays unmarked (as its YAML is)."""
    return values if track == DEFAULT_TRACK else {"track": track, **values}


@dataclass(frozen=True, kw_only=True)
class TrainBase:
    """What every track's training recipe has: the seed, the batches a training pass takes at the most, where
    and how a run computes (`lsml_core.compute`), and the CPU threads it computes with. A run's numbers depend
    on the threads (the order of floating-point sums), so they are part of its configuration: the same profile
    gives the same numbers under every executor and on machines with any number of cores."""

    threads: int = 1
    seed: int = 0
    max_batches: int | None = None  # null: every batch
    device: str = "auto"  # auto (CUDA when present), cuda or cpu
    precision: str = "auto"  # auto (measured per model and device: fp32 on a CPU, fp16 on CUDA), fp32, bf16, fp16
    memory_format: str = "contiguous"  # or channels_last, or auto (the measured choice per model and device)

    def __post_init__(self):
        check_each("be at least 1 (the CPU threads of each run)", lambda n: n >= 1, threads=self.threads)
        check_max_batches(self.max_batches)
        check_compute(self.precision, self.memory_format)


def profile_with_threads(profile, threads: int | None):
    """`profile` with its runs on `threads` CPU threads (`--threads`; None keeps the profile's own)."""
    return profile if threads is None else replace(profile, train=replace(profile.train, threads=threads))


@dataclass(frozen=True, kw_only=True)
class ProfileBase:
    """What every track's profile has: a name, a description, one data config and one training recipe."""

    name: str
    description: str = ""
    keep_checkpoints: bool = False  # runs finished here keep a whole resume checkpoint (else fit.finish_checkpoint)

    track = DEFAULT_TRACK
    run_config = None  # the track's RunConfig class

    def run(self, **train):
        """One run of this profile: its data config and its recipe with `train`'s fields replaced."""
        return self.run_config(profile=self.name, data=self.data, train=replace(self.train, **train))

    def to_dict(self) -> dict:
        """The resolved profile as `profile.yaml` holds it; `load_profile` reads it back."""
        return with_track(self.track, asdict(self))


@dataclass(frozen=True, kw_only=True)
class RunConfigBase:
    """Everything that determines one run; saved as config.json beside its results.

    A track subclasses it with typed `data` and `train` fields; its `train` config names the run
    (`run_name`).
    """

    profile: str

    track = DEFAULT_TRACK

    @property
    def name(self) -> str:
        return self.train.run_name

    def to_dict(self) -> dict:
        return with_track(self.track, asdict(self))

    def differences(self, saved: dict) -> list[str]:
        """The keys (`section.key`) where a saved configuration differs from this one; keys added to the
        configuration since it was saved count as their defaults (so a folder of an earlier version still
        matches), a saved configuration that no longer reads differs as a whole (`*`)."""
        try:
            saved = type(self).from_dict(saved).to_dict()
        except (ValueError, TypeError, KeyError):
            return ["*"]
        mine, differing = self.to_dict(), []
        for section in sorted(set(saved) | set(mine)):
            old, new = saved.get(section), mine.get(section)
            if isinstance(old, dict) and isinstance(new, dict):
                differing += [f"{section}.{k}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            elif old != new:
                differing.append(section)
        return differing

    @classmethod
    def from_dict(cls, values: dict):
        """Read a saved configuration back, its sections as the types the fields declare."""
        types = {f.name: f.type for f in fields(cls)}
        values = {k: v for k, v in values.items() if k != "track"}
        return cls(
            profile=values["profile"],
            data=build(types["data"], values["data"], "data", saved=True),
            train=build(types["train"], values["train"], "train", saved=True),
        )
