"""The splits of one run: the fit and selection parts of train, and the reported splits.

`training` (the fit part, augmented, with the labels the model learns from) trains the model; `selection` (a fixed
part of train) chooses the best epoch, the temperature, the Platt scaling and the thresholds; `fit` (the fit part,
evaluation transform, clean labels), `val`, and `val_fivecrop` (val under FiveCrop) are reported and never
choose anything.
"""

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset, Subset

from lsml_core.datasets.voc import VOC_CLASSES, VOCMultiLabel, download_voc, resolve_voc_root
from lsml_core.multilabel.config import DataConfig, RunConfig
from lsml_core.multilabel.demo_data import MosaicSpec, ensure_demo_data
from lsml_core.multilabel.images.batch_transforms import CentreCropBatch, FiveCropBatch, TrainBatch
from lsml_core.multilabel.images.image_cache import CachedImages
from lsml_core.multilabel.images.transforms import (
    VOC_RECIPE,
    eval_transform,
    five_crop_transform,
    scaled_recipe,
    train_transform,
)
from lsml_core.multilabel.noise import corrupt_labels
from lsml_core.splits import carve_selection

REPORTED_SPLITS = ("fit", "val", "val_fivecrop")


@dataclass
class Splits:
    """Datasets of one run, all yielding (image, target, mask).

    On the cached path an image is the cached uint8 [3, H, W]; the dataset's `batch_transform`
    makes the model's input from a batch of them on the device (see `make_loader`).
    """

    classes: tuple[str, ...]
    training: Dataset
    selection: Dataset
    fit: Dataset
    val: Dataset
    val_fivecrop: Dataset
    source: str
    noise: dict | None = None

    def reported(self) -> dict[str, Dataset]:
        """The splits evaluated and reported, by name."""
        return {"fit": self.fit, "val": self.val, "val_fivecrop": self.val_fivecrop}


def demo_spec(cfg: DataConfig) -> MosaicSpec:
    """The mosaic generation parameters named by a data config."""
    return MosaicSpec(
        n_train=cfg.n_train, n_val=cfg.n_val, fill_prob=cfg.fill_prob, seed=cfg.demo_seed, train_pool=cfg.train_pool
    )


def prepare(cfg: DataConfig, data_dir: Path) -> tuple[Path, tuple[str, ...], str]:
    """Make sure the data exist (generate the demo, find or download VOC): (root, classes, source)."""
    root = Path(data_dir) / cfg.root
    if cfg.dataset == "demo":
        params = ensure_demo_data(root, demo_spec(cfg), Path(data_dir) / "cache")
        return root, tuple(params["classes"]), params["source"]
    classes = tuple(cfg.classes or VOC_CLASSES)
    try:
        root = resolve_voc_root(root, cfg.year)
    except FileNotFoundError:
        if not cfg.download:
            raise
        root = download_voc(root, cfg.year)
    return root, classes, f"VOC-format data at {root}"


def selection_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random division of train into (fit part, selection part of `fraction`), both sorted."""
    return carve_selection(n, max(1, round(n * fraction)), seed)


def _view(dataset: VOCMultiLabel, transform, indices) -> Subset:
    view = copy.copy(dataset)
    view.transform = transform
    return Subset(view, [int(i) for i in indices])


def with_label_noise(dataset: VOCMultiLabel, rate: float, seed: int) -> tuple[VOCMultiLabel, dict]:
    """A copy of `dataset` whose targets are corrupted at `rate` (see lsml_core.multilabel.noise)."""
    noisy = copy.copy(dataset)
    noisy.targets, record = corrupt_labels(dataset.targets, dataset.masks, rate, seed)
    return noisy, record


def build_splits(cfg: DataConfig, data_dir: Path, label_noise: float = 0.0, noise_seed: int = 0) -> Splits:
    """The five datasets of a run, reading each split's annotations once.

    With `label_noise`, the labels the model learns from and is selected on (`training`, `selection`) are
    corrupted; the reported splits keep the clean labels.
    """
    root, classes, source = prepare(cfg, data_dir)
    recipe = VOC_RECIPE if cfg.dataset == "voc" and cfg.image_size == VOC_RECIPE.size else scaled_recipe(cfg.image_size)
    train_set = VOCMultiLabel(root, "train", classes, cfg.difficult)
    val_set = VOCMultiLabel(root, "val", classes, cfg.difficult)
    n_train = min(len(train_set), cfg.max_images or len(train_set))
    n_val = min(len(val_set), cfg.max_images or len(val_set))
    fit_idx, selection_idx = selection_indices(n_train, cfg.selection_fraction, cfg.split_seed)
    learned_from, noise = train_set, None
    if label_noise:
        learned_from, noise = with_label_noise(train_set, label_noise, noise_seed)
    if cfg.data_path == "cached":
        return _cached_splits(
            train_set,
            learned_from,
            val_set,
            n_train=n_train,
            n_val=n_val,
            fit_idx=fit_idx,
            selection_idx=selection_idx,
            recipe=recipe,
            cache_dir=Path(data_dir) / "cache" / "images",
            source=source,
            noise=noise,
        )
    return Splits(
        classes=classes,
        training=_view(learned_from, train_transform(recipe), fit_idx),
        selection=_view(learned_from, eval_transform(recipe), selection_idx),
        fit=_view(train_set, eval_transform(recipe), fit_idx),
        val=_view(val_set, eval_transform(recipe), range(n_val)),
        val_fivecrop=_view(val_set, five_crop_transform(recipe), range(n_val)),
        source=source,
        noise=noise,
    )


def _cached_splits(
    train_set, learned_from, val_set, *, n_train, n_val, fit_idx, selection_idx, recipe, cache_dir, source, noise
) -> Splits:
    """The five datasets read from decoded-image caches, each with its batch transform.

    `learned_from` is `train_set` with the labels the model learns from (noisy under label noise).
    """
    training = CachedImages(learned_from, cache_dir, recipe, "train", count=n_train, batch_transform=TrainBatch(recipe))
    selection = CachedImages(
        learned_from, cache_dir, recipe, "eval", count=n_train, batch_transform=CentreCropBatch(recipe)
    )
    fit = CachedImages(train_set, cache_dir, recipe, "eval", count=n_train, batch_transform=CentreCropBatch(recipe))
    val = CachedImages(val_set, cache_dir, recipe, "eval", count=n_val, batch_transform=CentreCropBatch(recipe))
    val_fivecrop = CachedImages(val_set, cache_dir, recipe, "eval", count=n_val, batch_transform=FiveCropBatch(recipe))
    return Splits(
        classes=train_set.classes,
        training=Subset(training, fit_idx.tolist()),
        selection=Subset(selection, selection_idx.tolist()),
        fit=Subset(fit, fit_idx.tolist()),
        val=Subset(val, list(range(n_val))),
        val_fivecrop=Subset(val_fivecrop, list(range(n_val))),
        source=source,
        noise=noise,
    )


def labels_of(dataset: Subset) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Targets, masks and image ids of a split, without loading images."""
    base, idx = dataset.dataset, np.asarray(dataset.indices)
    return base.targets[idx], base.masks[idx], [base.ids[i] for i in idx]


def run_splits(cfg: RunConfig, data_dir: Path) -> Splits:
    """The splits of one run, with its label noise seeded by the run's seed (paired across schemes)."""
    return build_splits(cfg.data, data_dir, cfg.train.label_noise, noise_seed=cfg.train.seed)
