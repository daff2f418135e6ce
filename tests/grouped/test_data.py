"""Grouped track data: the canvas generator (determinism, one symbol per group, no overlap, disjoint
training and test sources, noise rate), the splits, augmentation and SESEMI's transforms."""

import numpy as np
import pytest
import torch

from lsml_core.datasets.fashion_mnist import Source
from lsml_core.grouped import canvases
from lsml_core.grouped.canvases import SIDE, compose, generate, placements, salt_and_pepper
from lsml_core.grouped.config import DataConfig
from lsml_core.grouped.data import Splits, batches, rotate_shift
from lsml_core.grouped.sesemi import TRANSFORMS, sesemi_batch
from lsml_core.splits import Split

# a symbol's grey value tells its group, its class and whether it came from the training or the test part
VALUES = {("digit", "train"): 20, ("digit", "test"): 60, ("item", "train"): 100, ("item", "test"): 150}


def coded_source(group: str, n_classes: int = 10) -> Source:
    """Solid squares whose value is VALUES[group, part] + label."""
    labels = lambda n: np.arange(n) % n_classes
    make = lambda n, part: (VALUES[group, part] + labels(n))[:, None, None].repeat(28, 1).repeat(28, 2).astype(np.uint8)
    return Source(group, tuple(map(str, range(n_classes))), make(60, "train"), labels(60), make(20, "test"), labels(20))


SOURCES = (coded_source("digit"), coded_source("item"))


def small(**values) -> DataConfig:
    return DataConfig(**{"n_labeled": 60, "n_selection": 12, "n_unlabeled": 30, "n_test": 25, "noise": 0.0, **values})


def test_generation_is_deterministic_and_seeded():
    a, b, c = (
        generate(small(noise=0.1), SOURCES),
        generate(small(noise=0.1), SOURCES),
        generate(small(noise=0.1, seed=1), SOURCES),
    )
    for split in canvases.SPLITS:
        np.testing.assert_array_equal(a.images[split], b.images[split])
        np.testing.assert_array_equal(a.labels[split], b.labels[split])
    assert not np.array_equal(a.images["labeled"], c.images["labeled"])


def test_each_canvas_holds_one_symbol_per_group_without_overlap():
    cfg = small(symbol_size=20)
    made = generate(cfg, SOURCES)
    assert made.labels["labeled"].shape == (60, 2) and made.images["labeled"].shape == (60, SIDE, SIDE)
    # two solid 20x20 squares that never overlap: exactly 2 * 400 lit pixels per canvas
    assert ((made.images["labeled"] > 0).sum(axis=(1, 2)) == 2 * 20 * 20).all()
    positions = placements(2000, 24, np.random.default_rng(0))
    assert (np.abs(positions[:, 0] - positions[:, 1]) >= 24).any(axis=1).all()
    assert positions.min() >= 0 and positions.max() <= SIDE - 24


def test_compose_puts_each_symbol_at_its_place():
    symbols = [np.full((1, 4, 4), 7, np.uint8), np.full((1, 4, 4), 9, np.uint8)]
    canvas = compose(symbols, np.array([[[0, 0], [10, 20]]]))[0]
    assert (canvas[0:4, 0:4] == 7).all() and (canvas[10:14, 20:24] == 9).all() and canvas.sum() == 16 * 16


def test_every_canvas_shows_its_labels_from_the_right_source_part():
    made = generate(small(), SOURCES)
    for split in canvases.SPLITS:
        part = "test" if split == "test" else "train"
        for image, (digit, item) in zip(made.images[split], made.labels[split]):
            expected = {0, VALUES["digit", part] + digit, VALUES["item", part] + item}
            assert set(np.unique(image)) == expected, split


def test_training_splits_draw_on_disjoint_parts_of_the_training_images():
    pools = canvases.training_pools(1200, [60, 12, 30], np.random.default_rng(0))
    assert sum(len(p) for p in pools) == 1200 and len(np.unique(np.concatenate(pools))) == 1200
    assert [len(p) for p in pools] == [706, 141, 353]


def test_salt_and_pepper_rate():
    noisy = salt_and_pepper(np.full((50, SIDE, SIDE), 128, np.uint8), 0.1, np.random.default_rng(0))
    hit = noisy != 128
    assert abs(hit.mean() - 0.1) < 0.005
    assert abs((noisy[hit] == 255).mean() - 0.5) < 0.02 and set(np.unique(noisy[hit])) == {0, 255}


def test_canvases_are_saved_with_their_parameters_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(canvases, "group_sources", lambda *args: SOURCES)
    first = canvases.load_canvases(small(), tmp_path)
    folder = canvases.folder(small(), tmp_path)
    assert (folder / "parameters.json").is_file() and (folder / "canvases.npz").is_file()
    monkeypatch.setattr(canvases, "group_sources", lambda *args: pytest.fail("read back, not regenerated"))
    again = canvases.load_canvases(small(), tmp_path)
    np.testing.assert_array_equal(first.images["test"], again.images["test"])
    assert canvases.folder(small(seed=3), tmp_path) != folder


def test_the_canvas_side_is_a_parameter_only_away_from_the_sources_56():
    assert "image_size" not in canvases.parameters(small())  # canvases of the source's side keep their folder
    assert canvases.parameters(small(image_size=32, symbol_size=16))["image_size"] == 32
    made = generate(small(image_size=32, symbol_size=16), SOURCES)
    assert made.images["labeled"].shape == (60, 32, 32) and made.images["test"].shape == (25, 32, 32)
    positions = placements(500, 16, np.random.default_rng(0), side=32)
    assert positions.min() >= 0 and positions.max() <= 32 - 16
    assert (np.abs(positions[:, 0] - positions[:, 1]) >= 16).any(axis=1).all()  # the two never overlap


def test_bad_data_config_is_refused():
    with pytest.raises(ValueError, match="n_selection"):
        DataConfig(n_labeled=10, n_selection=0)
    with pytest.raises(ValueError, match="noise"):
        DataConfig(noise=1.5)
    with pytest.raises(ValueError, match="dataset"):
        DataConfig(dataset="mnist")


@pytest.mark.parametrize("label", range(6))
def test_sesemi_transforms_and_labels(label):
    image = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    expected = [
        image,
        torch.rot90(image, 1, (2, 3)),
        torch.rot90(image, 2, (2, 3)),
        torch.rot90(image, 3, (2, 3)),
        image.flip(3),
        image.flip(2),
    ][label]
    torch.testing.assert_close(TRANSFORMS[label](image), expected)
    images = image.repeat(300, 1, 1, 1)
    out, labels = sesemi_batch(images, torch.Generator().manual_seed(0))
    assert set(labels.tolist()) == set(range(6))
    torch.testing.assert_close(out[labels == label], expected.expand(int((labels == label).sum()), -1, -1, -1))


def test_sesemi_refuses_non_square_images():
    with pytest.raises(ValueError, match="square"):
        sesemi_batch(torch.zeros(2, 1, 4, 5), torch.Generator())


def test_rotate_shift_stays_within_ten_degrees_and_three_percent():
    image = torch.zeros(1, 1, 56, 56)
    image[0, 0, 20:36, 27:29] = 1.0  # a vertical bar through the centre
    moved = rotate_shift(image.repeat(64, 1, 1, 1), torch.Generator().manual_seed(0))
    assert not torch.equal(moved[0], moved[1])
    ys, xs = torch.meshgrid(torch.arange(56.0), torch.arange(56.0), indexing="ij")
    mass = moved.sum((1, 2, 3))
    cx, cy = (moved[:, 0] * xs).sum((1, 2)) / mass, (moved[:, 0] * ys).sum((1, 2)) / mass
    assert (cx - 27.5).abs().max() <= 0.03 * 56 + 0.5 and (cy - 27.5).abs().max() <= 0.03 * 56 + 0.5
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    cov = lambda a, b: (moved[:, 0] * a * b).sum((1, 2)) / mass
    tilt = torch.rad2deg(0.5 * torch.atan2(2 * cov(dx, dy), cov(dy, dy) - cov(dx, dx))).abs()  # from vertical
    assert tilt.max() <= 10.5 and tilt.max() > 5  # rotated, by at most 10 degrees


def tiny_splits() -> Splits:
    made = generate(small(), SOURCES)
    as_split = lambda s: Split(torch.from_numpy(made.images[s])[:, None], torch.from_numpy(made.labels[s]))
    return Splits(
        as_split("labeled"),
        as_split("selection"),
        as_split("unlabeled"),
        as_split("test"),
        ("digit", "item"),
        made.classes,
        "synthetic",
        0.2,
        0.3,
    )


@pytest.mark.parametrize("sesemi, extra", [("none", 0), ("labeled", 1), ("unlabeled", 1)])
def test_batches_carry_the_sesemi_images_after_the_labeled_ones(sesemi, extra):
    splits = tiny_splits()
    images, labels, aux = next(
        batches(splits.fit, splits, batch_size=16, seed=0, augment=True, sesemi=sesemi, unlabeled=splits.unlabeled)
    )
    assert labels.shape == (16, 2) and images.shape == (16 * (1 + extra), 1, SIDE, SIDE) and len(aux) == 16 * extra
    again = next(
        batches(splits.fit, splits, batch_size=16, seed=0, augment=True, sesemi=sesemi, unlabeled=splits.unlabeled)
    )
    torch.testing.assert_close(images, again[0])  # the same seed, the same batch
    if sesemi == "labeled":  # SESEMI's images are the batch's own, each under the transform its label names
        for original, transformed, label in zip(images[:16], images[16:], aux):
            torch.testing.assert_close(transformed, TRANSFORMS[label](original))


def test_emnist_canvases_hold_a_digit_and_a_letter(tmp_path):
    from tests.test_emnist import write_emnist

    write_emnist(tmp_path / "grouped")
    cfg = small(dataset="emnist", n_labeled=8, n_selection=2, n_unlabeled=2, n_test=4)
    made = canvases.load_canvases(cfg, tmp_path)
    assert made.groups == ("digit", "letter") and len(made.classes[1]) == 26
    assert made.labels["test"].shape == (4, 2) and made.labels["labeled"][:, 1].max() < 26
    assert "EMNIST digits + EMNIST letters" == made.source


def test_emnist_offline_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="download: true"):
        canvases.load_canvases(small(dataset="emnist"), tmp_path)
