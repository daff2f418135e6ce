"""Profiles of the multi-label track and the configuration of one run, checked when they are read."""

from dataclasses import dataclass, field, fields
from pathlib import Path

from lsml_core.checks import check_choice, check_each, check_model_name, check_teacher
from lsml_core.datasets.voc import DIFFICULT_POLICIES
from lsml_core.grid import Grid, profile_runs
from lsml_core.multilabel.losses import check_loss
from lsml_core.multilabel.pretraining import FASHION_TRAIN, Recipe, Stage, stage_of
from lsml_core.profiles import ProfileBase, RunConfigBase, TrainBase, build_profile, read_track_yaml, with_renamed_keys
from lsml_core.smoothing import SCHEMES, check_scheme

TRACK = "multilabel"
DATASETS = ("demo", "voc")
DATA_PATHS = ("cached", "pil")
PRETRAINED = ("none", "imagenet", "stage")


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Which data set, how its labels are read, and the part of train that chooses (`selection`)."""

    dataset: str = "demo"
    root: str = "demo"
    year: str = "2012"
    download: bool = False
    classes: list[str] | None = None
    difficult: str = "ignore"
    image_size: int = 56
    selection_fraction: float = 0.1
    split_seed: int = 0
    n_train: int = 4000
    n_val: int = 1000
    fill_prob: float = 0.5
    demo_seed: int = 0
    train_pool: int | None = None  # demo: training mosaics draw from the first train_pool Fashion-MNIST training images
    max_images: int | None = None
    data_path: str = "cached"  # cached: decoded once, batches transformed on the device; pil: per sample

    def __post_init__(self):
        check_choice("data set", self.dataset, DATASETS)
        check_choice("data_path", self.data_path, DATA_PATHS)
        check_choice("difficult policy", self.difficult, DIFFICULT_POLICIES)
        if self.classes is not None and self.dataset != "voc":
            raise ValueError(
                f"classes={self.classes} is only for dataset: voc (the demo data record their own classes)"
            )
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes={self.classes} must be distinct names")
        if not 0.0 < self.selection_fraction < 1.0:
            raise ValueError(f"selection_fraction={self.selection_fraction} must lie in (0, 1)")
        if self.train_pool is not None and not 1 <= self.train_pool <= FASHION_TRAIN:
            raise ValueError(
                f"train_pool={self.train_pool} must lie in [1, {FASHION_TRAIN}]: the number of Fashion-MNIST training "
                "images, counted from the first, that the demo mosaics draw from (leave it out to draw from all)"
            )


@dataclass(frozen=True, kw_only=True)
class TrainConfig(TrainBase):
    """One model x loss x scheme x alpha x seed, and the optimisation recipe."""

    model: str = "resnet18"
    loss: str = "bce"
    scheme: str = "none"
    alpha: float = 0.0
    pretrained: str = "none"  # none (from scratch), imagenet (torchvision's weights), stage (`pretraining` below)
    pretraining: Recipe | None = None  # the pretraining stage's recipe (pretrained: stage; defaults when omitted)
    epochs: int = 6
    batch_size: int = 64
    lr_backbone: float = 0.05
    lr_head: float = 0.05
    lr_in_name: bool = False  # a run of a learning-rate grid: its name carries lr_head
    momentum: float = 0.9
    weight_decay: float = 0.0
    cosine_t_max: int | None = None
    num_workers: int = 0
    label_noise: float = 0.0
    teacher: str | None = None
    teacher_temperature: float = 1.0
    compile: bool = False  # torch.compile the model (opt-in; worth it on CUDA)
    memory_format: str = "auto"  # auto (measured per model and device), channels_last, contiguous
    evaluate_last: bool = False  # also evaluate the last epoch's model on val, as the split `val_last`

    @classmethod
    def saved(cls, values: dict) -> dict:
        """A saved recipe (config.json, a checkpoint) as it is written now: its pretraining recipe's renamed keys
        mapped (`heldout` -> `n_selection`), so that a run fine-tuned before the renaming is not trained again."""
        if isinstance(values.get("pretraining"), dict):
            known = {f.name for f in fields(Recipe)}
            return {**values, "pretraining": with_renamed_keys(values["pretraining"], known)}
        return values

    def __post_init__(self):
        super().__post_init__()
        check_model_name(self.model)
        if isinstance(self.pretrained, bool):  # profiles and records of 0.6.0 and before: true = imagenet
            object.__setattr__(self, "pretrained", "imagenet" if self.pretrained else "none")
        check_choice("pretrained", self.pretrained, PRETRAINED)
        if isinstance(self.pretraining, dict):
            object.__setattr__(self, "pretraining", stage_of(self.model, self.pretraining).recipe)
        if self.pretrained == "stage" and self.pretraining is None:
            object.__setattr__(self, "pretraining", Recipe())
        if self.pretrained != "stage" and self.pretraining is not None:
            raise ValueError(
                "train.pretraining is the recipe of `pretrained: stage`: remove it, or set pretrained: stage"
            )
        check_loss(self.loss)
        check_scheme(self.scheme, self.alpha)
        if not 0.0 <= self.label_noise < 1.0:
            raise ValueError(f"label_noise={self.label_noise} is out of range: it must lie in [0, 1)")
        check_teacher("scheme", self.scheme, self.teacher, SCHEMES)
        if self.teacher_temperature <= 0:
            raise ValueError(f"teacher_temperature={self.teacher_temperature} must be positive")
        check_each("be at least 1", lambda n: n >= 1, epochs=self.epochs, batch_size=self.batch_size)
        if not isinstance(self.evaluate_last, bool):
            raise ValueError(
                f"evaluate_last={self.evaluate_last!r} must be true (also evaluate the last epoch's model, as the "
                "split val_last) or false"
            )
        check_each("be positive", lambda v: v > 0, lr_backbone=self.lr_backbone, lr_head=self.lr_head)

    @property
    def stage(self) -> Stage | None:
        """The pretraining stage this run fine-tunes from, None unless `pretrained: stage`."""
        return stage_of(self.model, self.pretraining, self.threads) if self.pretrained == "stage" else None

    @property
    def run_name(self) -> str:
        """The run's folder name: model-[loss-]scheme-alpha-seed, -n<rate> under label noise, -lr<rate> in a
        learning-rate grid."""
        lr = self.lr_head if self.lr_in_name else None
        return run_name(
            self.model, self.scheme, self.alpha, self.seed, label_noise=self.label_noise, loss=self.loss, lr=lr
        )


@dataclass(frozen=True, kw_only=True)
class RunConfig(RunConfigBase):
    """Everything that determines one run; saved beside its results."""

    data: DataConfig
    train: TrainConfig


def run_name(
    model: str,
    scheme: str,
    alpha: float,
    seed: int,
    *,
    label_noise: float = 0.0,
    loss: str = "bce",
    lr: float | None = None,
) -> str:
    """Folder name of a run, e.g. `resnet18-uniform-a0.1-s0`, `resnet18-none-a0-s1-n0.2`,
    `resnet18-focal-uniform-a0.1-s0` (the loss is named unless it is BCE) or `resnet18-focal-none-a0-s0-lr0.02`."""
    named_loss = "" if loss == "bce" else f"{loss}-"
    noise = f"-n{label_noise:g}" if label_noise else ""
    return f"{model}-{named_loss}{scheme}-a{alpha:g}-s{seed}{noise}" + (f"-lr{lr:g}" if lr is not None else "")


@dataclass(frozen=True, kw_only=True)
class Profile(ProfileBase):
    """A named set of runs: one data config, one training recipe, and the grid of its runs.

    An arm may give `lr` in place of the recipe's two rates: the head's rate, the backbone's in the recipe's
    ratio to it, and the run's name carries it (a learning-rate grid). Scheme `none` runs at alpha 0 whatever
    the arm's alpha."""

    data: DataConfig
    train: TrainConfig
    grid: Grid = field(default_factory=Grid)

    track = TRACK
    run_config = RunConfig

    def runs(self) -> list[RunConfig]:
        """Every run of the grid once, teachers first; a run smoothed with a teacher learns from the BCE baseline
        of its model, seed, label noise and learning rate."""
        return profile_runs(
            self,
            changes=self.changes,
            shortcuts=("lr",),
            teacher=lambda train: (
                {"loss": "bce", "scheme": "none", "alpha": 0.0}
                if getattr(SCHEMES.get(train.get("scheme", self.train.scheme)), "needs_teacher", False)
                else None
            ),
            teacher_hint="add scheme none with loss bce for the same model, seeds, label_noise and lr",
        )

    def changes(self, cell: dict) -> dict:
        """A grid cell's changes to the recipe: `lr` as the two rates, alpha 0 for scheme `none`."""
        changes = {key: value for key, value in cell.items() if key != "lr"}
        if changes.get("scheme", self.train.scheme) == "none":
            changes["alpha"] = 0.0
        return {**changes, **self.learning_rates(cell.get("lr"))}

    def learning_rates(self, lr: float | None) -> dict:
        """The recipe's fields for a grid learning rate: lr_head = lr, lr_backbone in the recipe's ratio to it."""
        if lr is None:
            return {}
        return {"lr_head": lr, "lr_backbone": lr * self.train.lr_backbone / self.train.lr_head, "lr_in_name": True}


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and check a profile of this track."""
    values = read_track_yaml(TRACK, name_or_path)
    profile = build_profile(Profile, values, str(name_or_path), TRACK)
    check_disjoint(profile.data, profile.train)
    profile.runs()
    return profile


def check_disjoint(data: DataConfig, train: TrainConfig) -> None:
    """A pretraining stage sees only Fashion-MNIST training images that the profile's mosaics never draw from,
    and at the size the runs see."""
    recipe = train.pretraining
    if recipe is None:
        return
    if data.dataset == "demo" and (data.train_pool is None or data.train_pool > recipe.first):
        raise ValueError(
            f"the pretraining stage learns from Fashion-MNIST training images [{recipe.first}, "
            f"{recipe.first + recipe.count}), which the demo mosaics may draw from (train_pool={data.train_pool}): "
            f"set data.train_pool: {recipe.first} or lower, so that they draw from the others only"
        )
    if recipe.image_size != data.image_size:
        raise ValueError(
            f"train.pretraining.image_size={recipe.image_size} differs from data.image_size={data.image_size}: "
            "pretrain at the size the runs see"
        )
