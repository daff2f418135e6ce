"""A backbone pretrained here, once, on images the study never trains or evaluates on: the offline stand-in
for ImageNet weights (the original study fine-tuned ImageNet-pretrained models).

A stage classifies single Fashion-MNIST items (10 classes, cross-entropy) from the training images
[first, first + count), each placed in a random cell of an empty grid x grid canvas of 28-pixel cells and
resized to `image_size`, the scale at which items appear in the multi-label mosaics. The last `n_selection`
images of the range (its selection part) choose the best epoch. A profile that fine-tunes from a stage draws its own training
mosaics from the first `first` training images only (`data.train_pool`), and its val mosaics come from the
test images, so the stage's images are disjoint from every image the profile uses.

The stage is stored once per recipe and model under `<data dir>/pretrained/<model>-<hash>/` and reused by
every run and profile that asks for the same one: `backbone.pt` (the weights without the classifier) and
`record.json` (recipe, source, image ranges, the SHA-256 of backbone.pt, best epoch, selection accuracy).
It is trained under a file lock with the epoch loop of `lsml_core.fit` (a checkpoint after every epoch):
a killed stage resumes where it stopped and ends with the same weights.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lsml_core import fit, layout
from lsml_core.backbones import MODELS, check_model_name, head, replace_head
from lsml_core.checks import check_each
from lsml_core.compute import device_default
from lsml_core.multilabel.images.batch_transforms import TrainBatch, augmentation_seed, normalize
from lsml_core.multilabel.images.transforms import scaled_recipe
from lsml_core.pipeline.locks import held
from lsml_core.pipeline.renaming import rename_training_records
from lsml_core.profiles import check_renamed, with_renamed_keys
from lsml_core.records import atomic_torch_save, file_sha256, read_json, write_json
from lsml_core.threads import cpu_threads

STORE = "pretrained"
WEIGHTS = "backbone.pt"
RECORD = "record.json"
CELL = 28
FASHION_TRAIN = 60_000
HASHED_AS = {"n_selection": "heldout"}  # recipe keys as a stage's name first hashed them: stored stages keep it


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """How a stage is pretrained: which training images, at which size, for how long."""

    first: int = 50_000
    count: int = 10_000
    n_selection: int = 1_000  # the last images of the range: the selection part, which chooses the best epoch
    grid: int = 2
    image_size: int = 32
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.first < self.first + self.count <= FASHION_TRAIN:
            raise ValueError(
                f"pretraining images [{self.first}, {self.first + self.count}) must lie within Fashion-MNIST's "
                f"{FASHION_TRAIN} training images: lower first or count"
            )
        if not 0 < self.n_selection < self.count:
            raise ValueError(f"n_selection={self.n_selection} must be positive and below count={self.count}")
        check_each("be at least 1", lambda n: n >= 1, epochs=self.epochs, batch_size=self.batch_size, grid=self.grid)
        check_each("be positive", lambda v: v > 0, lr=self.lr)


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One pretraining stage: a recipe for one model, trained on `threads` CPU threads (the weights depend on
    them, so they are part of its name, like a run's); what fit.Fit checkpoints as its configuration."""

    model: str
    recipe: Recipe
    threads: int = 1

    def __post_init__(self):
        check_model_name(self.model)
        check_each("be at least 1", lambda n: n >= 1, threads=self.threads)

    @property
    def name(self) -> str:
        """`<model>-<first 12 hex digits of the SHA-256 of model, recipe and threads>`: the same, the same stage.
        The recipe's keys are hashed as first written (`HASHED_AS`), so a stage stored before a renaming is found."""
        values = self.to_dict()
        values["recipe"] = {HASHED_AS.get(key, key): value for key, value in values["recipe"].items()}
        text = json.dumps(values, sort_keys=True)
        return f"{self.model}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def to_dict(self) -> dict:
        return asdict(self)

    def differences(self, saved: dict) -> list[str]:
        """The recipe keys where a checkpoint's configuration differs from this stage's (its renamed keys mapped)."""
        mine = self.to_dict()
        if isinstance(saved.get("recipe"), dict):
            saved = {**saved, "recipe": with_renamed_keys(saved["recipe"], {f.name for f in fields(Recipe)})}
        keys = sorted(set(saved) | set(mine))
        return [k for k in keys if saved.get(k) != mine.get(k)]


def stage_dir(data_dir: Path, stage: Stage) -> Path:
    """Where a stage is stored: shared by every profile whose data live in `data_dir`."""
    return Path(data_dir) / STORE / stage.name


def canvases(images: np.ndarray, grid: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """uint8 [N, 3, size, size]: each grey 28 x 28 item in a random cell of an empty grid x grid canvas, resized."""
    n = len(images)
    canvas = np.zeros((n, grid * CELL, grid * CELL), dtype=np.uint8)
    row, col = np.divmod(rng.integers(0, grid * grid, n), grid)
    for i in range(n):
        canvas[i, row[i] * CELL : (row[i] + 1) * CELL, col[i] * CELL : (col[i] + 1) * CELL] = images[i]
    x = torch.from_numpy(canvas).unsqueeze(1).float()
    x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def stage_data(recipe: Recipe, train_images: np.ndarray, train_labels: np.ndarray):
    """(fit images, fit labels, selection images, selection labels) from the stage's range of training images."""
    last = recipe.first + recipe.count
    images = canvases(train_images[recipe.first : last], recipe.grid, recipe.image_size, np.random.default_rng(0))
    labels = torch.from_numpy(np.asarray(train_labels[recipe.first : last], dtype=np.int64))
    split = recipe.count - recipe.n_selection
    return images[:split], labels[:split], images[split:], labels[split:]


def classifier(model: str, n_classes: int) -> nn.Module:
    """A fresh torchvision model with a Linear(features, n_classes) classifier."""
    net = MODELS[model][0](weights=None)
    return replace_head(net, nn.Linear(head(net).in_features, n_classes))


def selection_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> dict:
    """Accuracy on the selection images: the stage's selection score."""
    device = next(model.parameters()).device
    batches = (normalize(images[i : i + batch_size].to(device)) for i in range(0, len(images), batch_size))
    logits = fit.predict(model, batches, device)
    return {"selection_accuracy": float((logits.argmax(1) == labels.numpy()).mean())}


def train_stage(stage: Stage, folder: Path, train_images: np.ndarray, train_labels: np.ndarray, source: str) -> dict:
    """Train (or resume) a stage in `folder`; write backbone.pt and record.json last; returns the record."""
    r = stage.recipe
    if len(train_images) < r.first + r.count:
        raise ValueError(
            f"{source} has {len(train_images)} training images; the stage needs [{r.first}, {r.first + r.count}): "
            "install Fashion-MNIST (apt-get install dataset-fashion-mnist) or lower first and count"
        )
    with cpu_threads(stage.threads):
        return train_on_threads(stage, folder, train_images, train_labels, source)


def train_on_threads(
    stage: Stage, folder: Path, train_images: np.ndarray, train_labels: np.ndarray, source: str
) -> dict:
    """`train_stage` once the threads are set."""
    r = stage.recipe
    device = fit.start_run("auto", r.seed)
    fit_images, fit_labels, selection_images, selection_labels = stage_data(r, train_images, train_labels)
    model = classifier(stage.model, int(train_labels.max()) + 1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=r.epochs)
    compute = device_default(device)  # float16 autocast on CUDA, with the loss scaler float16 needs
    run = fit.Fit(stage, model, optimizer, scheduler, fit.Setup(device=device, compute=compute, seed=r.seed))
    augment = TrainBatch(scaled_recipe(r.image_size))

    def batches(epoch: int):
        order = torch.randperm(len(fit_images), generator=torch.Generator().manual_seed(fit.epoch_seed(r.seed, epoch)))
        draws = torch.Generator().manual_seed(augmentation_seed(fit.epoch_seed(r.seed, epoch)))
        for i in range(0, len(order), r.batch_size):
            chosen = order[i : i + r.batch_size]
            yield augment(fit_images[chosen], draws), fit_labels[chosen]

    def train(epoch: int, desc: str) -> dict:
        loss = run.train_pass(
            batches(epoch),
            lambda logits, _, y: nn.functional.cross_entropy(logits, y),
            desc=desc,
            total=-(-len(fit_images) // r.batch_size),
        )
        return {"train_loss": loss}

    epoch = fit.Epoch(train, lambda: selection_accuracy(model, selection_images, selection_labels, r.batch_size))
    history = fit.fit(run, folder, epoch, score="selection_accuracy", epochs=r.epochs, source=source)
    best_epoch = fit.load_best(folder, model, device)
    backbone = {k: v for k, v in model.state_dict().items() if not k.startswith(head_prefix(model))}
    atomic_torch_save(backbone, folder / WEIGHTS)
    record = {
        "stage": stage.name,
        **stage.to_dict(),
        "source": source,
        "device": str(device),
        "images": {
            "set": "Fashion-MNIST training images",
            "fit": [r.first, r.first + r.count - r.n_selection],
            "selection": [r.first + r.count - r.n_selection, r.first + r.count],
        },
        "best_epoch": best_epoch,
        "selection_accuracy": float(history["selection_accuracy"].max()),
        "sha256": file_sha256(folder / WEIGHTS),
    }
    write_json(folder / RECORD, record)
    return record


def head_prefix(model: nn.Module) -> str:
    """The state-dict prefix of a ResNet's (`fc.`) or MobileNetV2's (`classifier.1.`) final linear layer."""
    return "fc." if hasattr(model, "fc") else f"classifier.{len(model.classifier) - 1}."


def intact(folder: Path) -> bool:
    """Whether a stage's record is there and its weights still have the SHA-256 it records."""
    try:
        return file_sha256(folder / WEIGHTS) == read_json(folder / RECORD)["sha256"]
    except (OSError, ValueError, KeyError):
        return False


def stage_state(stage: Stage, data_dir: Path) -> tuple[str, str, bool]:
    """For `--verify`: (the stage's name, what its store holds and what a rerun does, whether it is damaged).
    Weights without a record are a stage killed before its last write, not damage."""
    folder = stage_dir(data_dir, stage)
    name = f"pretraining stage {stage.name}"
    if intact(folder):
        return name, "intact: a rerun reuses it", False
    if not (folder / RECORD).is_file():
        if (folder / layout.CHECKPOINT).is_file() or (folder / WEIGHTS).is_file():
            return name, "not finished: a rerun resumes it from its checkpoint before its runs", False
        return name, "not trained yet: a rerun trains it before its runs", False
    return name, f"damaged ({folder / WEIGHTS} does not match {RECORD}): a rerun trains it again first", True


def ensure(stage: Stage, data_dir: Path, load_source, say=print) -> dict:
    """The stage's record, training it first unless an intact one is stored (under a lock: two processes
    never train one stage together; a damaged store is trained again, resuming from its checkpoint)."""
    folder = stage_dir(data_dir, stage)
    if intact(folder):
        return read_json(folder / RECORD)
    with held(Path(data_dir) / STORE, stage.name, f"pretraining {stage.name}", say=say):
        if intact(folder):
            return read_json(folder / RECORD)
        say(
            f"pretraining {stage.name}: {stage.recipe.epochs} epochs on Fashion-MNIST training images "
            f"[{stage.recipe.first}, {stage.recipe.first + stage.recipe.count})"
        )
        source = load_source()
        if folder.is_dir():  # a stage interrupted before a renaming resumes under the new names
            rename_training_records(folder)
        return train_stage(stage, folder, source.train_images, source.train_labels, source.name)


def load_backbone(model: nn.Module, data_dir: Path, stage: Stage) -> dict:
    """Initialise `model`'s backbone (every layer but its classifier) from a stored stage; returns its record.
    A missing or damaged stage is an error that names the command that makes it."""
    folder = stage_dir(data_dir, stage)
    if not intact(folder):
        raise FileNotFoundError(
            f"the pretraining stage {folder} is missing or its weights do not match its record: run_all.sh "
            "trains it before the runs (rerun the profile); a damaged one is trained again"
        )
    missing, unexpected = model.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True), strict=False)
    if unexpected or any(not k.startswith(head_prefix(model)) for k in missing):
        raise ValueError(f"{folder / WEIGHTS} does not fit {stage.model}: missing {missing}, unexpected {unexpected}")
    return read_json(folder / RECORD)


def stage_of(model: str, recipe: Recipe | dict, threads: int = 1) -> Stage:
    """The stage of `model` under a recipe (a Recipe, or its dict as config.json holds it) on `threads` CPU
    threads (the run's)."""
    if isinstance(recipe, dict):
        known = {f.name for f in fields(Recipe)}
        check_renamed(recipe, known, "train.pretraining")
        unknown = sorted(set(recipe) - known)
        if unknown:
            raise ValueError(f"unknown pretraining key(s) {unknown}: choose from {', '.join(sorted(known))}")
        recipe = replace(Recipe(), **recipe)
    return Stage(model=model, recipe=recipe, threads=threads)
