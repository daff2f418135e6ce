"""The two data paths: the cached path's evaluation batches equal the per-sample path's; both train."""

import numpy as np
import pytest
import torch

from lsml_core.multilabel.config import DataConfig, RunConfig, TrainConfig
from lsml_core.multilabel.images.loaders import DeviceBatches, make_loader
from lsml_core.multilabel.splits import build_splits, labels_of
from lsml_core.multilabel.train import train_run

pytestmark = pytest.mark.filterwarnings("ignore:class .* has no positive examples")


def data_config(root, data_path: str) -> DataConfig:
    return DataConfig(
        dataset="voc",
        root=str(root),
        classes=["a", "b", "c", "d"],
        image_size=16,
        selection_fraction=0.25,
        data_path=data_path,
    )


def first_batch(dataset, batch_size=8, **kwargs) -> torch.Tensor:
    return next(iter(make_loader(dataset, batch_size, torch.device("cpu"), **kwargs)))[0]


def test_evaluation_batches_of_both_paths_are_equal_on_square_images(mosaic_voc, tmp_path):
    cached, pil = (build_splits(data_config(mosaic_voc, path), tmp_path) for path in ("cached", "pil"))
    for split in ("selection", "fit", "val", "val_fivecrop"):
        a, b = getattr(cached, split), getattr(pil, split)
        assert all(np.array_equal(x, y) for x, y in zip(labels_of(a), labels_of(b)))
        assert torch.allclose(first_batch(a), first_batch(b), atol=1e-6), split
    assert isinstance(make_loader(cached.training, 8, torch.device("cpu"), shuffle_seed=1), DeviceBatches)
    assert (
        first_batch(cached.training, shuffle_seed=1).shape
        == first_batch(pil.training, shuffle_seed=1).shape
        == (8, 3, 16, 16)
    )


def test_both_paths_shuffle_the_training_part_in_the_same_order(mosaic_voc, tmp_path):
    cached, pil = (build_splits(data_config(mosaic_voc, path), tmp_path).training for path in ("cached", "pil"))
    for seed in (1, 10_008):
        order = [
            [t for _, t, _ in make_loader(fit, 8, torch.device("cpu"), shuffle_seed=seed)] for fit in (cached, pil)
        ]
        assert all(torch.equal(a, b) for a, b in zip(*order)) and len(order[0]) == len(order[1])


def test_cached_loader_with_workers_gives_the_same_batches(mosaic_voc, tmp_path):
    fit = build_splits(data_config(mosaic_voc, "cached"), tmp_path).training
    assert torch.equal(first_batch(fit, shuffle_seed=3), first_batch(fit, shuffle_seed=3, num_workers=1))


def test_the_per_sample_path_still_trains(mosaic_voc, tmp_path):
    train = TrainConfig(model="resnet18", epochs=1, batch_size=8, max_batches=2)
    history = train_run(
        RunConfig(profile="test", data=data_config(mosaic_voc, "pil"), train=train), tmp_path / "r", tmp_path
    )
    assert len(history) == 1 and np.isfinite(history["train_loss"]).all()
