"""Profiles of the single-label track (`track: multiclass` in the YAML) and the configuration of one run."""

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

from lsml_core.checks import check_choice, check_each
from lsml_core.grid import Grid, profile_runs
from lsml_core.multiclass.losses import LOSSES, SCHEMES, needs_teacher
from lsml_core.multiclass.models import MODELS
from lsml_core.profiles import ProfileBase, RunConfigBase, TrainBase, build_profile, read_track_yaml

DATASETS = ("fashion_mnist", "cifar10", "cifar100")
SCHEDULES = ("step", "poly", "constant")
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


# The single-label losses before smoothing was a scheme of the loss `ce`, and how each is written now.
OLD_LOSSES = {
    "ls": {"loss": "ce", "scheme": "uniform"},
    "ls_targets": {"loss": "ce", "scheme": "uniform", "explicit_targets": True},
    "ils": {"loss": "ce", "scheme": "instance"},
}
OLD_RUN_NAME = re.compile(
    r"(?P<model>[^-]+)-(?P<loss>ce|ls|ls_targets|ils)(?:-a(?P<alpha>[^-]+))?(?:-T(?P<T>[^-]+))?-s(?P<seed>\d+)"
)


def old_loss_message(loss: str) -> str:
    """How a loss of an earlier version is written now, for the error that refuses it."""
    now = ", ".join(f"{key}: {str(value).lower()}" for key, value in OLD_LOSSES[loss].items())
    return f"loss {loss!r} was replaced: write `{now}` (smoothing is a scheme of the loss ce, with its `alpha`, in every track)"


def renamed_run(name: str | None) -> str | None:
    """A run's name as it is written now, from the name an earlier version gave it (`resnet8-ls-a0.1-s0` ->
    `resnet8-uniform-a0.1-s0`, `resnet8-ce-s0` -> `resnet8-none-a0-s0`); a current name is returned as it is."""
    if name is None:
        return None
    if "-kd-" in name:
        student, teacher = name.split("-from-", 1)
        scaled = teacher.endswith("-ts")
        return f"{student}-from-{renamed_run(teacher.removesuffix('-ts'))}" + ("-ts" if scaled else "")
    old = OLD_RUN_NAME.fullmatch(name)
    if old is None:
        return name
    scheme = {"ce": "none", "ls": "uniform", "ls_targets": "uniform", "ils": "instance"}[old["loss"]]
    temperature = f"-T{old['T']}" if old["T"] else ""
    explicit = "-explicit" if old["loss"] == "ls_targets" else ""
    return f"{old['model']}-{scheme}-a{old['alpha'] or 0}{temperature}{explicit}-s{old['seed']}"


def model_label(train) -> str:
    """The model of a run's recipe (a config.json `train` section) as the tables group runs: its name, with
    ` (constant rate)` for a run whose learning rate never decays (its arms are compared with its own CE)."""
    return train["model"] + (" (constant rate)" if train.get("schedule") == "constant" else "")


@dataclass(frozen=True, kw_only=True)
class TrainConfig(TrainBase):
    """One model x loss x scheme x seed and its optimisation recipe (SGD, step or polynomial decay or a constant
    rate, early stopping)."""

    model: str = "resnet8"
    loss: str = "ce"  # ce: cross-entropy towards the scheme's targets; kd: distilled from `teacher`
    scheme: str = "none"  # none, uniform or instance (lsml_core.multiclass.losses.SCHEMES)
    alpha: float = 0.0  # the smoothing degree: uniform: torch's label_smoothing; instance: mass on the wrong classes
    explicit_targets: bool = False  # uniform: train on the smoothed targets built explicitly, not label_smoothing
    temperature: float = 1.0  # instance: teacher temperature; kd: distillation temperature
    kd_weight: float = 0.9  # kd: weight of the KL term
    teacher: str | None = None  # instance / kd: the teacher run's name
    teacher_scaled: bool = False  # kd: divide the teacher's logits by its fitted calibration temperature
    epochs: int = 6
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "step"  # step (StepLR), poly (PolynomialLR to zero) or constant (the rate never decays)
    step_size: int = 3
    gamma: float = 0.2
    power: float = 1.0
    patience: int = 3  # early stopping: epochs without a better selection score

    def __post_init__(self):
        super().__post_init__()
        check_choice("model", self.model, MODELS)
        if self.loss in OLD_LOSSES:
            raise ValueError(old_loss_message(self.loss))
        check_choice("loss", self.loss, LOSSES)
        check_choice("scheme", self.scheme, SCHEMES)
        check_choice("schedule", self.schedule, SCHEDULES)
        if not 0.0 <= self.alpha < 1.0:
            raise ValueError(f"alpha={self.alpha} must lie in [0, 1)")
        if self.explicit_targets and self.scheme != "uniform":
            raise ValueError(
                f"explicit_targets with scheme {self.scheme!r}: only uniform smoothing has two ways (torch's "
                "label_smoothing or explicit targets); set scheme: uniform or drop explicit_targets"
            )
        if self.loss == "kd" and self.scheme != "none":
            raise ValueError(
                f"loss kd with scheme {self.scheme!r}: a student learns a teacher's targets; use scheme none"
            )
        check_each("be > 0", lambda v: v > 0, temperature=self.temperature)
        check_each("lie in [0, 1]", lambda v: 0.0 <= v <= 1.0, kd_weight=self.kd_weight)
        if needs_teacher(self) != (self.teacher is not None):
            raise ValueError(
                f"loss {self.loss!r}, scheme {self.scheme!r} with teacher={self.teacher!r}: exactly the runs of loss kd "
                "and of scheme instance learn from a teacher run, and each of them needs one (the profile names it)"
            )
        check_each("be >= 1", lambda n: n >= 1, epochs=self.epochs, batch_size=self.batch_size, patience=self.patience)

    @classmethod
    def saved(cls, values: dict) -> dict:
        """A saved recipe (config.json, a checkpoint) as it is written now: a loss of an earlier version as the loss
        ce with its scheme, its teacher under the name that teacher has now."""
        values = {**values, **OLD_LOSSES.get(values.get("loss"), {})}
        return {**values, "teacher": renamed_run(values.get("teacher"))} if "teacher" in values else values

    @property
    def run_name(self) -> str:
        """e.g. `resnet8-none-a0-s0`, `resnet8-uniform-a0.1-s0`, `resnet8-uniform-a0.1-explicit-s0`,
        `resnet8-instance-a0.1-T2-s0`, `shallow-kd-T20-from-resnet8-none-a0-s0-ts`; a run at a constant learning
        rate ends in `-constant` before its seed (`resnet8-none-a0-constant-s0`), the decaying schedules being a
        profile's recipe."""
        if self.loss == "kd":
            return f"{self.model}-kd-T{self.temperature:g}-from-{self.teacher}" + ("-ts" if self.teacher_scaled else "")
        temperature = f"-T{self.temperature:g}" if self.scheme == "instance" else ""
        explicit = "-explicit" if self.explicit_targets else ""
        constant = "-constant" if self.schedule == "constant" else ""
        return f"{self.model}-{self.scheme}-a{self.alpha:g}{temperature}{explicit}{constant}-s{self.seed}"


@dataclass(frozen=True, kw_only=True)
class RunConfig(RunConfigBase):
    """Everything that determines one run of the track; saved beside its results (marked with the track)."""

    data: DataConfig
    train: TrainConfig

    track = TRACK


CE = {"loss": "ce", "scheme": "none", "alpha": 0.0, "temperature": 1.0, "explicit_targets": False}  # the teacher
# Maher & Kull's teachers: CE, LS and the instance-based grid (each instance-based run learns from the CE run).
DEFAULT_ARMS = [
    {"scheme": "none"},
    {"scheme": "uniform", "alpha": 0.1},
    {"scheme": "instance", "alpha": [0.05, 0.1], "temperature": [2, 8]},
]


@dataclass(frozen=True, kw_only=True)
class Distillation:
    """The instance-based grid point chosen per model and seed on the selection part, and the student that CE, LS and
    that point each teach, at each distillation temperature, with and/or without the teacher's temperature scaling."""

    selection_metric: str = "accuracy"  # how the instance-based grid point is chosen on the selection part
    student: str | None = "shallow"  # null: no distillation
    kd_weight: float = 0.9
    kd_temperature: float | list[float] = 20.0  # a list: one student per temperature
    teacher_scaled: list[bool] = field(default_factory=lambda: [False, True])  # the teacher's logits as trained, scaled

    def __post_init__(self):
        check_choice("selection_metric", self.selection_metric, SELECTION_METRICS)
        if self.student is not None:
            check_choice("student model", self.student, MODELS)
        check_each("lie in [0, 1]", lambda v: 0.0 <= v <= 1.0, kd_weight=self.kd_weight)
        temperatures = self.kd_temperatures
        if not temperatures or not all(isinstance(t, float) and t > 0 for t in temperatures):
            raise ValueError(
                f"distillation.kd_temperature={self.kd_temperature!r} must be > 0: a number, or a non-empty list of "
                "numbers (one student per teacher at each)"
            )
        scaled = self.teacher_scaled
        if not scaled or not all(isinstance(v, bool) for v in scaled) or len(set(scaled)) < len(scaled):
            raise ValueError(
                f"distillation.teacher_scaled={scaled!r} must list false (the teacher as trained) and/or true (its "
                "logits divided by its fitted temperature), each once"
            )

    @property
    def kd_temperatures(self) -> list[float]:
        """The distillation temperatures, one student per teacher at each."""
        values = self.kd_temperature if isinstance(self.kd_temperature, list) else [self.kd_temperature]
        return [float(t) if isinstance(t, int) and not isinstance(t, bool) else t for t in values]


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
            teacher=lambda train: CE if train["scheme"] == "instance" else None,
            teacher_hint="add the arm {scheme: none} with the same model and recipe",
        )

    def changes(self, cell: dict) -> dict:
        """A grid cell's changes to the recipe, with its loss and scheme: no smoothing at alpha 0, no smoothing and
        uniform at temperature 1 (the temperature is the instance-based teacher's); distillation is the
        `distillation` section's."""
        loss, scheme = cell.get("loss", self.train.loss), cell.get("scheme", self.train.scheme)
        if loss in OLD_LOSSES:
            raise ValueError(f"arm {cell}: {old_loss_message(loss)}")
        if loss == "kd":
            raise ValueError(
                "loss kd cannot be an arm of grid.arms: the students are distilled from the chosen teachers by the "
                "profile's `distillation` section (student, kd_weight, kd_temperature)"
            )
        fixed = (
            {"alpha": 0.0, "temperature": 1.0}
            if scheme == "none"
            else {"temperature": 1.0}
            if scheme == "uniform"
            else {}
        )
        return {**cell, "loss": loss, "scheme": scheme, **fixed}

    def student_runs(self, teachers: list[str]) -> list[RunConfig]:
        """The student distilled from each teacher run at each distillation temperature, with and/or without the
        teacher's temperature scaling (`distillation`)."""
        if not self.distillation.student:
            return []
        return [
            self.run(
                model=self.distillation.student,
                loss="kd",
                scheme="none",
                alpha=0.0,
                explicit_targets=False,
                temperature=temperature,
                kd_weight=self.distillation.kd_weight,
                teacher=teacher,
                teacher_scaled=scaled,
                seed=int(teacher.rsplit("-s", 1)[1]),
            )
            for teacher in teachers
            for temperature in self.distillation.kd_temperatures
            for scaled in self.distillation.teacher_scaled
        ]

    def is_teacher(self, train: TrainConfig) -> bool:
        """Whether a finished run of the grid teaches the students: CE, LS (by torch's label_smoothing) and the
        instance-based runs, on the train section's schedule, of a model other than the student (an arm that
        changes the schedule or uses explicit targets compares ways to smooth; one of the student's own model
        is the student trained without a teacher)."""
        return (
            train.loss == "ce"
            and not train.explicit_targets
            and train.schedule == self.train.schedule
            and train.model != self.distillation.student
        )


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and check a profile of this track (a grid without `arms` has the default teachers)."""
    values = read_track_yaml(TRACK, name_or_path)
    values["grid"] = {"arms": copy.deepcopy(DEFAULT_ARMS), **(values.get("grid") or {})}
    return build_profile(Profile, values, str(name_or_path), TRACK)
