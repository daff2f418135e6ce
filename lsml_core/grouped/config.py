"""Profiles of the grouped track (`track: grouped` in the YAML) and the configuration of one run.

A profile's `train` section is the control recipe; `grid.arms` lists the other runs as changes to it
(one mapping of `train` keys per arm, `{}` for the control itself), each run once per seed.
"""

from dataclasses import dataclass, field
from pathlib import Path

from lsml_core.checks import check_choice, check_each, check_model_name
from lsml_core.grid import Grid, profile_runs
from lsml_core.profiles import ProfileBase, RunConfigBase, TrainBase, build_profile, read_track_yaml
from lsml_core.smoothing import SCHEMES, check_scheme

TRACK = "grouped"
DATASETS = {"fashion_digits": ("digit", "item"), "emnist": ("digit", "letter")}  # data set -> its groups, harder last
HEADS = ("grouped", "flat")
SESEMI_ON = ("labeled", "unlabeled", "none")
GROUPED_SMOOTHING = ("none", "uniform", "instance")  # softmax heads; the flat head takes every multi-hot scheme


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """The generated canvases: which symbols, how many of each split, the noise, the generator's seed."""

    dataset: str = "fashion_digits"
    root: str = "grouped"  # under the data dir: generated canvases (and EMNIST's files)
    download: bool = False  # let torchvision download EMNIST (or Fashion-MNIST when not installed)
    n_labeled: int = 6000  # labeled training canvases
    n_selection: int = 1000  # labeled canvases kept for selection (the best epoch, the pseudo-label threshold)
    n_unlabeled: int = 6000
    n_test: int = 2000
    image_size: int = 56  # the canvas is this square (the source's 56); smaller canvases train faster on a CPU
    symbol_size: int = 24  # each symbol is resized to this square
    noise: float = 0.05  # salt-and-pepper: this fraction of pixels set to black or white
    seed: int = 0

    def __post_init__(self):
        check_choice("dataset", self.dataset, DATASETS)
        sizes = {"n_labeled": self.n_labeled, "n_selection": self.n_selection, "n_unlabeled": self.n_unlabeled}
        check_each("be >= 1", lambda n: n >= 1, **sizes, n_test=self.n_test)
        if not 8 <= self.symbol_size <= self.image_size // 2:
            raise ValueError(
                f"symbol_size={self.symbol_size} must lie in [8, image_size // 2 = {self.image_size // 2}]: two must fit a "
                f"{self.image_size}x{self.image_size} canvas side by side"
            )
        if not 0.0 <= self.noise < 1.0:
            raise ValueError(f"noise={self.noise} must lie in [0, 1)")

    @property
    def groups(self) -> tuple[str, ...]:
        return DATASETS[self.dataset]


def is_weight(value) -> bool:
    """A loss weight: a number (not a bool) >= 0."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0


@dataclass(frozen=True, kw_only=True)
class TrainConfig(TrainBase):
    """One run: model (the network), head, loss weights, smoothing per group, SESEMI, pseudo-labels, and the three phases."""

    model: str = "mobilenet_v2"
    pretrained: bool = False
    head: str = "grouped"  # grouped: a softmax per group; flat: one sigmoid per label of every group
    group_weights: dict[str, float] = field(default_factory=dict)  # group -> weight (default 1)
    smoothing: dict[str, str] = field(default_factory=dict)  # group -> scheme (default none)
    alpha: float = 0.1  # the smoothing degree of every smoothed group
    temperature: float = 2.0  # instance: the teacher's temperature
    teacher: str | None = None  # instance: the same run without smoothing (set by the profile)
    sesemi: str = "labeled"  # the images of the auxiliary rotation/flip task
    sesemi_weight: float = 1.0
    pseudo: bool = True  # phase 3 adds pseudo-labeled unlabeled images
    pseudo_precision: float = 0.95  # the threshold keeps images whose selection precision reaches this
    pseudo_min_count: int = 50  # ... over at least this many selection images (one sure image sets no threshold)
    epochs_plain: int = 2  # phase 1: labeled images, unaugmented
    epochs_augmented: int = 2  # phase 2: labeled images, +-10 degrees, 3% shifts
    epochs_pseudo: int = 2  # phase 3: labeled (+ pseudo-labeled) images, augmented
    lr: float = 1e-3  # Adam
    lr_drop: float = 0.3  # the learning rate is multiplied by this at the start of phases 2 and 3
    weight_decay: float = 0.0
    batch_size: int = 64

    def __post_init__(self):
        super().__post_init__()
        check_model_name(self.model)
        check_choice("head", self.head, HEADS)
        check_choice("sesemi", self.sesemi, SESEMI_ON)
        allowed = GROUPED_SMOOTHING if self.head == "grouped" else tuple(SCHEMES)
        for group, scheme in self.smoothing.items():
            check_choice(f"smoothing scheme of group {group!r} (head {self.head})", scheme, allowed)
            if self.head == "flat":
                check_scheme(scheme, self.alpha)
        weights = {f"group_weights[{group!r}]": w for group, w in self.group_weights.items()}
        check_each("be a number >= 0", is_weight, **weights, sesemi_weight=self.sesemi_weight)
        check_each("lie in [0, 1)", lambda v: 0.0 <= v < 1.0, alpha=self.alpha)
        check_each("be > 0", lambda v: v > 0, temperature=self.temperature)
        check_each("lie in (0, 1]", lambda v: 0.0 < v <= 1.0, pseudo_precision=self.pseudo_precision)
        if (
            isinstance(self.pseudo_min_count, bool)
            or not isinstance(self.pseudo_min_count, int)
            or (self.pseudo_min_count < 1)
        ):
            raise ValueError(
                f"pseudo_min_count={self.pseudo_min_count!r} must be an integer >= 1: the selection images at or "
                "above the pseudo-label threshold that its precision is measured on"
            )
        phases = {"epochs_plain": self.epochs_plain, "epochs_augmented": self.epochs_augmented}
        check_each("be >= 0", lambda n: n >= 0, **phases, epochs_pseudo=self.epochs_pseudo)
        if self.epochs < 1:
            raise ValueError("epochs_plain, epochs_augmented and epochs_pseudo are all 0: give one phase an epoch")
        check_each("be >= 1", lambda n: n >= 1, batch_size=self.batch_size)
        check_each("be > 0", lambda v: v > 0, lr=self.lr)
        check_each("lie in (0, 1]", lambda v: 0 < v <= 1, lr_drop=self.lr_drop)
        if self.needs_teacher != (self.teacher is not None):
            raise ValueError(
                f"smoothing={self.smoothing} with teacher={self.teacher!r}: a run learns from a teacher exactly "
                "when a group is smoothed with 'instance' (the profile names the teacher)"
            )

    @property
    def epochs(self) -> int:
        return self.epochs_plain + self.epochs_augmented + self.epochs_pseudo

    @property
    def needs_teacher(self) -> bool:
        return "instance" in self.smoothing.values()

    def phase(self, epoch: int) -> str:
        """`plain`, `augmented` or `pseudo`: the phase of epoch `epoch` (from 1)."""
        if epoch <= self.epochs_plain:
            return "plain"
        return "augmented" if epoch <= self.epochs_plain + self.epochs_augmented else "pseudo"

    def weight(self, group: str) -> float:
        return float(self.group_weights.get(group, 1.0))

    def scheme(self, group: str) -> str:
        return self.smoothing.get(group, "none")

    def smoothing_name(self, groups: tuple[str, ...]) -> str:
        """`nosmooth`, `uniform-a0.1`, `instance-a0.1-T2`, or per group `item_uniform-a0.1` when groups differ."""
        schemes = [self.scheme(g) for g in groups]
        if set(schemes) == {"none"}:
            return "nosmooth"
        label = (
            schemes[0]
            if len(set(schemes)) == 1
            else ".".join(f"{g}_{s}" for g, s in zip(groups, schemes) if s != "none")
        )
        return f"{label}-a{self.alpha:g}" + (f"-T{self.temperature:g}" if self.needs_teacher else "")

    def run_name_for(self, groups: tuple[str, ...]) -> str:
        """e.g. `mobilenet_v2-grouped-aux_labeled-w1_5-nosmooth-pl-s0` (weights in group order)."""
        weights = "_".join(f"{self.weight(g):g}" for g in groups)
        pseudo = "pl" if self.pseudo else "nopl"
        return (
            f"{self.model}-{self.head}-aux_{self.sesemi}-w{weights}-{self.smoothing_name(groups)}-{pseudo}-s{self.seed}"
        )


def check_pseudo_count(train: TrainConfig, data: DataConfig) -> None:
    """A run with pseudo-labels needs at least `pseudo_min_count` selection images to set its threshold on."""
    if train.pseudo and train.pseudo_min_count > data.n_selection:
        raise ValueError(
            f"pseudo_min_count={train.pseudo_min_count} exceeds n_selection={data.n_selection}: no threshold could rest on "
            "that many selection images, so no pseudo-label would ever be kept; lower pseudo_min_count or raise "
            "n_selection (or set pseudo: false)"
        )


@dataclass(frozen=True, kw_only=True)
class RunConfig(RunConfigBase):
    """Everything that determines one run of the track; saved beside its results (marked with the track)."""

    data: DataConfig
    train: TrainConfig

    track = TRACK

    @property
    def name(self) -> str:
        return self.train.run_name_for(self.data.groups)


@dataclass(frozen=True, kw_only=True)
class Profile(ProfileBase):
    """A named set of runs of the grouped track."""

    data: DataConfig
    train: TrainConfig
    grid: Grid = field(default_factory=Grid)

    track = TRACK
    run_config = RunConfig

    def __post_init__(self):
        for run in self.runs():  # every arm checked when the profile is read
            check_pseudo_count(run.train, self.data)
            for group in {**run.train.group_weights, **run.train.smoothing}:
                check_choice(
                    f"label group (group_weights / smoothing of dataset {self.data.dataset})", group, self.data.groups
                )

    def runs(self) -> list[RunConfig]:
        """Every run of the grid once, teachers first; a run smoothed with `instance` learns from the same run
        without smoothing."""
        return profile_runs(
            self,
            teacher=lambda train: (
                {"smoothing": {}} if "instance" in dict(train.get("smoothing", self.train.smoothing)).values() else None
            ),
            teacher_hint="add the same arm without smoothing to grid.arms",
        )


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and check a profile of this track."""
    return build_profile(Profile, read_track_yaml(TRACK, name_or_path), str(name_or_path), TRACK)
