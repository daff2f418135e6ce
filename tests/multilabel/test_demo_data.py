"""The demo data: mosaics of real images in VOC layout, deterministic, train/val sources kept apart."""

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from lsml_core.datasets.fashion_mnist import FASHION_CLASSES
from lsml_core.datasets.voc import VOCMultiLabel
from lsml_core.multilabel import demo_data
from lsml_core.multilabel.demo_data import MosaicSpec, ensure_demo_data, generate, make_mosaics, read_params
from tests.conftest import synthetic_source

SPEC = MosaicSpec(n_train=30, n_val=12, seed=3)


def digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_mosaics_hold_at_least_one_item_and_right_labels():
    source = synthetic_source()
    mosaics, cells = make_mosaics(source.train_images, source.train_labels, 500, MosaicSpec(), np.random.default_rng(0))
    assert mosaics.shape == (500, 56, 56) and mosaics.dtype == np.uint8
    assert ((cells >= 0).sum(axis=1) >= 1).all()
    assert 0.45 < (cells >= 0).mean() < 0.65  # fill probability 0.5, plus the at-least-one rule
    empty = cells[:, 3] < 0
    assert (mosaics[empty, 28:, 28:] == 0).all()  # an empty cell stays black


def test_generation_is_deterministic_and_readable(tmp_path):
    source = synthetic_source()
    generate(tmp_path / "a", SPEC, source)
    generate(tmp_path / "b", SPEC, source)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    train = VOCMultiLabel(tmp_path / "a", "train", classes=source.classes)
    assert len(train) == 30 and train.targets.sum(axis=1).min() >= 1
    assert read_params(tmp_path / "a")["spec"]["seed"] == 3


def test_train_and_val_draw_from_their_own_source_split(tmp_path):
    source = synthetic_source()
    source = replace(source, train_labels=source.train_labels % 2, test_labels=source.test_labels % 2 + 2)
    generate(tmp_path / "d", SPEC, source)
    train = VOCMultiLabel(tmp_path / "d", "train", classes=source.classes)
    val = VOCMultiLabel(tmp_path / "d", "val", classes=source.classes)
    assert train.targets[:, 2:].sum() == 0 and val.targets[:, :2].sum() == 0


def test_xml_has_a_box_per_item(tmp_path):
    generate(tmp_path / "e", SPEC, synthetic_source())
    xml = (tmp_path / "e" / "Annotations" / "train_000000.xml").read_text()
    assert xml.count("<bndbox>") == xml.count("<object>") >= 1


def test_existing_data_with_same_params_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_data, "load_source", lambda cache_dir: synthetic_source())
    ensure_demo_data(tmp_path / "f", SPEC, tmp_path / "cache")
    marker = tmp_path / "f" / "JPEGImages" / "train_000000.jpg"
    stamp = marker.stat().st_mtime_ns
    ensure_demo_data(tmp_path / "f", SPEC, tmp_path / "cache")
    assert marker.stat().st_mtime_ns == stamp
    ensure_demo_data(tmp_path / "f", replace(SPEC, n_train=31), tmp_path / "cache")
    assert len((tmp_path / "f" / "ImageSets" / "Main" / "train.txt").read_text().split()) == 31


def test_falls_back_to_digits_when_fashion_mnist_is_unavailable(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("no internet")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    source = demo_data.load_source(tmp_path, debian_dir=tmp_path / "absent")
    assert "fallback" in source.name and source.classes == demo_data.DIGIT_CLASSES
    assert source.train_images.shape[1:] == (28, 28) and len(source.test_images) == 597


@pytest.mark.skipif(
    not (demo_data.DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_reads_real_fashion_mnist(tmp_path):
    source = demo_data.load_source(tmp_path)
    assert source.classes == FASHION_CLASSES
    assert source.train_images.shape == (60000, 28, 28) and source.test_images.shape == (10000, 28, 28)
