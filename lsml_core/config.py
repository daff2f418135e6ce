"""Profiles (plain YAML) and the configuration of one run, checked when they are read."""
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import yaml

from lsml_core.models import check_model_name
from lsml_core.records import REPO_ROOT
from lsml_core.smoothing import check_scheme
from lsml_core.voc import DIFFICULT_POLICIES

CONFIG_DIR = REPO_ROOT / "configs"
DATA_KINDS = ("demo", "voc")
DATA_PATHS = ("cached", "pil")


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Which data set, how its labels are read, and the held-out part of train used for selection."""
    kind: str = "demo"
    root: str = "demo"
    year: str = "2012"
    download: bool = False
    classes: list[str] | None = None
    difficult: str = "ignore"
    image_size: int = 56
    heldout_fraction: float = 0.1
    split_seed: int = 0
    n_train: int = 4000
    n_val: int = 1000
    fill_prob: float = 0.5
    demo_seed: int = 0
    max_images: int | None = None
    data_path: str = "cached"   # cached: decoded once, batches transformed on the device; pil: per sample

    def __post_init__(self):
        if self.kind not in DATA_KINDS:
            raise ValueError(f"unknown data kind {self.kind!r}: choose one of {', '.join(DATA_KINDS)}")
        if self.data_path not in DATA_PATHS:
            raise ValueError(f"unknown data_path {self.data_path!r}: choose one of {', '.join(DATA_PATHS)}")
        if self.difficult not in DIFFICULT_POLICIES:
            raise ValueError(f"unknown difficult policy {self.difficult!r}: choose one of {', '.join(DIFFICULT_POLICIES)}")
        if self.classes is not None and (self.kind != "voc" or len(set(self.classes)) != len(self.classes)):
            raise ValueError(f"classes={self.classes} must be distinct names, and only for kind: voc "
                             "(the demo data record their own classes)")
        if not 0.0 < self.heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction={self.heldout_fraction} must lie in (0, 1)")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One model x scheme x alpha x seed, and the optimisation recipe."""
    model: str = "resnet18"
    scheme: str = "none"
    alpha: float = 0.0
    seed: int = 0
    pretrained: bool = False
    epochs: int = 6
    batch_size: int = 64
    lr_backbone: float = 0.05
    lr_head: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    cosine_t_max: int | None = None
    num_workers: int = 0
    max_batches: int | None = None
    device: str = "auto"
    label_noise: float = 0.0
    teacher: str | None = None
    teacher_temperature: float = 1.0
    compile: bool = False   # torch.compile the model (opt-in; worth it on CUDA)

    def __post_init__(self):
        check_model_name(self.model)
        check_scheme(self.scheme, self.alpha)
        if not 0.0 <= self.label_noise < 1.0:
            raise ValueError(f"label_noise={self.label_noise} is out of range: it must lie in [0, 1)")
        if (self.scheme == "instance") != (self.teacher is not None):
            raise ValueError(f"scheme {self.scheme!r} with teacher={self.teacher!r}: the scheme 'instance' needs "
                             "a teacher run (the baseline of the same model and seed), and only it takes one")
        if self.teacher_temperature <= 0:
            raise ValueError(f"teacher_temperature={self.teacher_temperature} must be positive")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs={self.epochs} and batch_size={self.batch_size} must be at least 1")


class SavedConfig:
    """A run configuration (dataclass with `profile`, `data`, `train`) as the JSON saved beside its results.

    Both tracks use it; `from_dict` builds `data` and `train` as the types the fields declare.
    """

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        types = {f.name: f.type for f in fields(cls)}
        return cls(profile=values["profile"], data=build(types["data"], values["data"], "data"),
                   train=build(types["train"], values["train"], "train"))


@dataclass(frozen=True, kw_only=True)
class RunConfig(SavedConfig):
    """Everything that determines one run; saved beside its results."""
    profile: str
    data: DataConfig
    train: TrainConfig

    @property
    def name(self) -> str:
        """The run's folder name: model-scheme-alpha-seed, and -n<rate> under label noise."""
        return run_name(self.train.model, self.train.scheme, self.train.alpha, self.train.seed, self.train.label_noise)


def run_name(model: str, scheme: str, alpha: float, seed: int, label_noise: float = 0.0) -> str:
    """Folder name of a run, e.g. `resnet18-uniform-a0.1-s0` or `resnet18-none-a0-s1-n0.2`."""
    return f"{model}-{scheme}-a{alpha:g}-s{seed}" + (f"-n{label_noise:g}" if label_noise else "")


@dataclass(frozen=True, kw_only=True)
class Grid:
    """One block of experiments: every combination of its lists; `none` runs at alpha 0 only."""
    models: list[str] = field(default_factory=lambda: ["resnet18", "mobilenet_v2"])
    schemes: list[str] = field(default_factory=lambda: ["none", "uniform", "positive"])
    alphas: list[float] = field(default_factory=lambda: [0.1])
    seeds: list[int] = field(default_factory=lambda: [0])
    label_noise: list[float] = field(default_factory=lambda: [0.0])

    def cells(self):
        """(model, seed, noise, scheme, alpha) of every run in this block."""
        for model in self.models:
            for seed in self.seeds:
                for noise in self.label_noise:
                    for scheme in self.schemes:
                        for alpha in ([0.0] if scheme == "none" else self.alphas):
                            yield model, seed, float(noise), scheme, float(alpha)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """A named set of runs: one data config, one training recipe, one grid."""
    name: str
    description: str = ""
    data: DataConfig
    train: TrainConfig
    grids: list[Grid]

    def runs(self) -> list[RunConfig]:
        """Every run of every grid block once, in block order; `instance` runs after their teachers."""
        runs: dict[str, RunConfig] = {}
        for grid in self.grids:
            for model, seed, noise, scheme, alpha in grid.cells():
                teacher = run_name(model, "none", 0.0, seed, noise) if scheme == "instance" else None
                train = replace(self.train, model=model, seed=seed, scheme=scheme, alpha=alpha,
                                label_noise=noise, teacher=teacher)
                run = RunConfig(profile=self.name, data=self.data, train=train)
                runs.setdefault(run.name, run)
        ordered = sorted(runs.values(), key=lambda r: r.train.scheme == "instance")
        missing = sorted({r.train.teacher for r in ordered if r.train.teacher} - set(runs))
        if missing:
            raise ValueError(f"scheme 'instance' needs its teacher run(s) {missing} in the profile: "
                             "add scheme 'none' for the same models, seeds and label_noise")
        return ordered


def build(cls, values: dict | None, section: str):
    """Instantiate a config dataclass, naming any key it does not know."""
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in section {section!r}; allowed: {sorted(known)}")
    return cls(**values)


def profile_path(name_or_path: str | Path) -> Path:
    """A profile's YAML file, from its name (configs/<name>.yaml) or a path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ValueError(f"unknown profile {str(name_or_path)!r}: choose one of {', '.join(names)} "
                         "or give the path of a YAML file")
    return path


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and check a profile."""
    values = yaml.safe_load(profile_path(name_or_path).read_text()) or {}
    unknown = sorted(set(values) - {"name", "description", "data", "train", "grid", "grids"})
    if unknown:
        raise ValueError(f"unknown section(s) {unknown} in profile {name_or_path}; "
                         "allowed: name, description, data, train, grid (one block) or grids (a list of blocks)")
    blocks = values.get("grids") or [values.get("grid") or {}]
    grids = [build(Grid, block, "grid") for block in blocks]
    for grid in grids:
        for model in grid.models:
            check_model_name(model)
        for scheme in grid.schemes:
            for alpha in grid.alphas:
                check_scheme(scheme, alpha)
    profile = Profile(name=values.get("name", Path(name_or_path).stem), description=values.get("description", ""),
                      data=build(DataConfig, values.get("data"), "data"),
                      train=build(TrainConfig, values.get("train"), "train"), grids=grids)
    profile.runs()
    return profile
