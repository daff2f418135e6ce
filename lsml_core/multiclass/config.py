"""Profiles of the single-label track (`track: multiclass` in the YAML) and the configuration of one run."""

from dataclasses import dataclass, field, replace
from pathlib import Path

from lsml_core.multiclass.losses import LOSSES
from lsml_core.multiclass.models import MODELS
from lsml_core.profiles import (
    ProfileBase,
    RunConfigBase,
    TrainBase,
    build_profile,
    check_choice,
    check_each,
    check_max_batches,
    check_teacher,
    read_track_yaml,
)

DATASETS = ("fashion_mnist", "cifar10", "cifar100")
SCHEDULES = ("step", "poly")
SELECTION_METRICS = ("accuracy", "log_loss")
TRACK = "multiclass"


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Which data set, how much of it, the validation part carved from train, and the augmentation."""

    dataset: str = "fashion_mnist"
    root: str = "multiclass"  # under the data dir: torchvision's files (CIFAR, downloaded Fashion-MNIST)
    download: bool = False
    n_train: int | None = 12000  # None: all of train minus n_val
    n_val: int = 3000
    n_test: int | None = None  # None: the whole test split
    split_seed: int = 0
    shift: int = 2  # random translation of up to this many pixels (zero padding)
    flip: bool = True  # random horizontal flip with probability 0.5
    projection_classes: list[int] = field(default_factory=lambda: [2, 4, 6])

    def __post_init__(self):
        check_choice("dataset", self.dataset, DATASETS)
        check_each("be positive", lambda n: n >= 1, n_val=self.n_val)
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
    seed: int = 0
    epochs: int = 6
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "step"
    step_size: int = 3
    gamma: float = 0.2
    power: float = 1.0
    patience: int = 3  # early stopping: epochs without a better validation score
    max_batches: int | None = None
    device: str = "auto"

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
        check_max_batches(self.max_batches)

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


@dataclass(frozen=True, kw_only=True)
class Grid:
    """Teachers (CE, LS at one alpha, the instance-based grid) per model and seed, and the distillation."""

    models: list[str] = field(default_factory=lambda: ["resnet8"])
    seeds: list[int] = field(default_factory=lambda: [0])
    ls_alpha: float = 0.1
    ls_targets: bool = False  # also train LS with explicitly smoothed targets
    ils_alphas: list[float] = field(default_factory=lambda: [0.05, 0.1])
    ils_temperatures: list[float] = field(default_factory=lambda: [2.0, 8.0])
    selection_metric: str = "accuracy"  # how the instance-based grid point is chosen on validation
    student: str | None = "shallow"  # null: no distillation
    kd_weight: float = 0.9
    kd_temperature: float = 20.0

    def __post_init__(self):
        for model in self.models + ([self.student] if self.student else []):
            check_choice("model", model, MODELS)
        check_choice("selection_metric", self.selection_metric, SELECTION_METRICS)


@dataclass(frozen=True, kw_only=True)
class Profile(ProfileBase):
    """A named set of runs of the single-label track."""

    data: DataConfig
    train: TrainConfig
    grid: Grid

    track = TRACK
    run_config = RunConfig

    def teacher_runs(self) -> list[RunConfig]:
        """CE first (the instance-based teacher), then LS, then every instance-based grid point."""
        runs = []
        for model in self.grid.models:
            for seed in self.grid.seeds:
                base = self.run(model=model, seed=seed, loss="ce", alpha=0.0, temperature=1.0, teacher=None)
                runs.append(base)
                runs.append(replace(base, train=replace(base.train, loss="ls", alpha=self.grid.ls_alpha)))
                if self.grid.ls_targets:
                    runs.append(replace(base, train=replace(base.train, loss="ls_targets", alpha=self.grid.ls_alpha)))
                for alpha in self.grid.ils_alphas:
                    for temp in self.grid.ils_temperatures:
                        runs.append(
                            replace(
                                base,
                                train=replace(
                                    base.train,
                                    loss="ils",
                                    alpha=float(alpha),
                                    temperature=float(temp),
                                    teacher=base.name,
                                ),
                            )
                        )
        return sorted(runs, key=lambda r: r.train.teacher is not None)

    def student_runs(self, teachers: list[str]) -> list[RunConfig]:
        """The student distilled from each teacher run, with and without the teacher's temperature scaling."""
        if not self.grid.student:
            return []
        return [
            self.run(
                model=self.grid.student,
                loss="kd",
                alpha=0.0,
                temperature=self.grid.kd_temperature,
                kd_weight=self.grid.kd_weight,
                teacher=teacher,
                teacher_scaled=scaled,
                seed=int(teacher.rsplit("-s", 1)[1]),
            )
            for teacher in teachers
            for scaled in (False, True)
        ]


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and check a profile of this track."""
    return build_profile(Profile, read_track_yaml(TRACK, name_or_path), str(name_or_path), TRACK)
