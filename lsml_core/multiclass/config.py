"""Profiles of the single-label track (`track: multiclass` in the YAML) and the configuration of one run."""

import copy
from dataclasses import dataclass, field
from pathlib import Path

from lsml_core.checks import check_choice, check_each, check_teacher
from lsml_core.grid import Grid, profile_runs
from lsml_core.multiclass.losses import LOSSES
from lsml_core.multiclass.models import MODELS
from lsml_core.profiles import ProfileBase, RunConfigBase, TrainBase, build_profile, read_track_yaml

DATASETS = ("fashion_mnist", "cifar10", "cifar100")
SCHEDULES = ("step", "poly")
SELECTION_METRICS = ("accuracy", "log_loss")
TRACK = "multiclass"


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Which data set, how much of it, the selection part carved from train, and the augmentation."""

    dataset: str = "fashion_mnist"
    root: str = "multiclass"  # under the data dir: torchvision's files (CIFAR, downloaded Fashion-MNIST)
    download: bool = False
    n_train: int | None = 12000  # None: all of train minus n_selection
    n_selection: int = 3000
    n_test: int | None = None  # None: the whole test split
    split_seed: int = 0
    shift: int = 2  # random translation of up to this many pixels (zero padding)
    flip: bool = True  # random horizontal flip with probability 0.5
    projection_classes: list[int] = field(default_factory=lambda: [2, 4, 6])

    def __post_init__(self):
        check_choice("dataset", self.dataset, DATASETS)
        check_each("be positive", lambda n: n >= 1, n_selection=self.n_selection)
        check_each(
            "be positive, or null for all", lambda n: n is None or n >= 1, n_train=self.n_train, n_test=self.n_test
        )
        check_each("be >= 0", lambda v: v >= 0, shift=self.shift)
        check_each(
            "name exactly three class indices", lambda c: len(c) == 3, projection_classes=self.projection_classes
        )


@dataclass(frozen=True, kw_only=True)
class TrainConfig(TrainBase):
    """One model x loss x seed and its optimisation recipe (SGD, step or polynomial decay, early stopping)."""

    model: str = "resnet8"
    loss: str = "ce"
    alpha: float = 0.0  # the smoothing degree: ls / ls_targets: torch's label_smoothing; ils: mass on the wrong classes
    temperature: float = 1.0  # ils: teacher temperature; kd: distillation temperature
    kd_weight: float = 0.9  # kd: weight of the KL term
    teacher: str | None = None  # ils / kd: the teacher run's name
    teacher_scaled: bool = False  # kd: divide the teacher's logits by its fitted calibration temperature
    epochs: int = 6
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "step"
    step_size: int = 3
    gamma: float = 0.2
    power: float = 1.0
    patience: int = 3  # early stopping: epochs without a better selection score

    def __post_init__(self):
        super().__post_init__()
        check_choice("model", self.model, MODELS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("schedule", self.schedule, SCHEDULES)
        if not 0.0 <= self.alpha < 1.0:
            raise ValueError(f"alpha={self.alpha} must lie in [0, 1)")
        check_each("be > 0", lambda v: v > 0, temperature=self.temperature)
        check_each("lie in [0, 1]", lambda v: 0.0 <= v <= 1.0, kd_weight=self.kd_weight)
        check_teacher("loss", self.loss, self.teacher, LOSSES)
        check_each("be >= 1", lambda n: n >= 1, epochs=self.epochs, batch_size=self.batch_size, patience=self.patience)

    @property
    def run_name(self) -> str:
        """e.g. `resnet8-ce-s0`, `resnet8-ls-a0.1-s0`, `resnet8-ils-a0.1-T2-s0`, `shallow-kd-T20-from-resnet8-ce-s0-ts`."""
        if self.loss == "kd":
            return f"{self.model}-kd-T{self.temperature:g}-from-{self.teacher}" + ("-ts" if self.teacher_scaled else "")
        tail = {
            "ce": "",
            "ls": f"-a{self.alpha:g}",
            "ls_targets": f"-a{self.alpha:g}",
            "ils": f"-a{self.alpha:g}-T{self.temperature:g}",
        }[self.loss]
        return f"{self.model}-{self.loss}{tail}-s{self.seed}"


@dataclass(frozen=True, kw_only=True)
class RunConfig(RunConfigBase):
    """Everything that determines one run of the track; saved beside its results (marked with the track)."""

    data: DataConfig
    train: TrainConfig

    track = TRACK


CE = {"loss": "ce", "alpha": 0.0, "temperature": 1.0}  # the instance-based runs' teacher
# Maher & Kull's teachers: CE, LS and the instance-based grid (each instance-based run learns from the CE run).
DEFAULT_ARMS = [
    {"loss": "ce"},
    {"loss": "ls", "alpha": 0.1},
    {"loss": "ils", "alpha": [0.05, 0.1], "temperature": [2, 8]},
]


@dataclass(frozen=True, kw_only=True)
class Distillation:
    """The instance-based grid point chosen per model and seed on the selection part, and the student that CE, LS and
    that point each teach (with and without the teacher's temperature scaling)."""

    selection_metric: str = "accuracy"  # how the instance-based grid point is chosen on the selection part
    student: str | None = "shallow"  # null: no distillation
    kd_weight: float = 0.9
    kd_temperature: float = 20.0

    def __post_init__(self):
        check_choice("selection_metric", self.selection_metric, SELECTION_METRICS)
        if self.student is not None:
            check_choice("student model", self.student, MODELS)
        check_each("lie in [0, 1]", lambda v: 0.0 <= v <= 1.0, kd_weight=self.kd_weight)
        check_each("be > 0", lambda v: v > 0, kd_temperature=self.kd_temperature)


@dataclass(frozen=True, kw_only=True)
class Profile(ProfileBase):
    """A named set of runs of the single-label track: the teachers of the grid, then the students."""

    data: DataConfig
    train: TrainConfig
    grid: Grid = field(default_factory=lambda: Grid(arms=copy.deepcopy(DEFAULT_ARMS)))
    distillation: Distillation = field(default_factory=Distillation)

    track = TRACK
    run_config = RunConfig

    def __post_init__(self):
        self.teacher_runs()

    def teacher_runs(self) -> list[RunConfig]:
        """Every run of the grid once, instance-based runs after their teachers: each learns from the CE run of
        its model and seed."""
        return profile_runs(
            self,
            changes=self.changes,
            teacher=lambda train: CE if train["loss"] == "ils" else None,
            teacher_hint="add the arm {loss: ce} with the same model and recipe",
        )

    def changes(self, cell: dict) -> dict:
        """A grid cell's changes to the recipe, with its loss: CE at alpha 0, CE and LS at temperature 1 (the
        temperature is the instance-based teacher's); distillation is the `distillation` section's."""
        loss = cell.get("loss", self.train.loss)
        if loss == "kd":
            raise ValueError(
                "loss kd cannot be an arm of grid.arms: the students are distilled from the chosen teachers by the "
                "profile's `distillation` section (student, kd_weight, kd_temperature)"
            )
        fixed = CE if loss == "ce" else {"temperature": 1.0} if loss in ("ls", "ls_targets") else {}
        return {**cell, "loss": loss, **fixed}

    def student_runs(self, teachers: list[str]) -> list[RunConfig]:
        """The student distilled from each teacher run, with and without the teacher's temperature scaling."""
        if not self.distillation.student:
            return []
        return [
            self.run(
                model=self.distillation.student,
                loss="kd",
                alpha=0.0,
                temperature=self.distillation.kd_temperature,
                kd_weight=self.distillation.kd_weight,
                teacher=teacher,
                teacher_scaled=scaled,
                seed=int(teacher.rsplit("-s", 1)[1]),
            )
            for teacher in teachers
            for scaled in (False, True)
        ]


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and check a profile of this track (a grid without `arms` has the default teachers)."""
    values = read_track_yaml(TRACK, name_or_path)
    values["grid"] = {"arms": copy.deepcopy(DEFAULT_ARMS), **(values.get("grid") or {})}
    return build_profile(Profile, values, str(name_or_path), TRACK)
