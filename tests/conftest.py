"""Shared fixtures (small VOC-format folders written by the tests themselves), and the order of the tests."""

from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from lsml_core.multilabel.demo_data import MosaicSpec, Source, make_mosaics, write_split

REPO = Path(__file__).resolve().parent.parent


# The end-to-end files, longest first (their test-seconds on a 2-core machine, docs/testing.md); a file not
# named here runs after them, before the unit tests.
E2E_LONGEST_FIRST = (
    "tests/multilabel/test_end_to_end.py",
    "tests/test_interrupted_end_to_end.py",
    "tests/grouped/test_end_to_end.py",
    "tests/multiclass/test_end_to_end.py",
    "tests/test_executor_end_to_end.py",
    "tests/multilabel/test_pretrained_end_to_end.py",
    "tests/test_study_end_to_end.py",
)


def run_order(item) -> tuple[int, int]:
    """Where a test's file runs: the end-to-end files first, longest first, then the unit tests."""
    if item.get_closest_marker("e2e") is None:
        return (1, 0)
    path = item.path.relative_to(REPO).as_posix()
    return (0, E2E_LONGEST_FIRST.index(path) if path in E2E_LONGEST_FIRST else len(E2E_LONGEST_FIRST))


def pytest_collection_modifyitems(items):
    """The end-to-end files first, longest first, each file's tests kept together: pytest-xdist hands out whole
    files in this order (pyproject.toml turns off its reordering by number of tests), so the longest ones start
    first and the unit tests fill the workers' ends (no worker left alone with a long file at the end)."""
    items.sort(key=run_order)


def write_xml(path: Path, filename: str, objects: list[tuple[str, int]]) -> None:
    """A VOC annotation with the given (class, difficult) objects."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    for name, difficult in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "difficult").text = str(difficult)
    path.write_bytes(ET.tostring(root))


@pytest.fixture
def voc_folder(tmp_path) -> Path:
    """A VOC2012-layout folder: one single-object image, one with many objects, difficult cases."""
    root = tmp_path / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    annotations = {
        "2008_000001": [("dog", 0)],  # a single object
        "2008_000002": [("person", 0), ("person", 0), ("car", 0), ("bottle", 1)],  # bottle only difficult
        "2008_000003": [("cat", 1), ("cat", 0), ("chair", 1)],  # cat also clear, chair only difficult
    }
    rng = np.random.default_rng(0)
    for image_id, objects in annotations.items():
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(root / "JPEGImages" / f"{image_id}.jpg")
        write_xml(root / "Annotations" / f"{image_id}.xml", f"{image_id}.jpg", objects)
    (root / "ImageSets" / "Main" / "train.txt").write_text("2008_000001\n2008_000002\n2008_000003\n")
    return root


def synthetic_source(n: int = 60, classes: tuple[str, ...] = ("a", "b", "c", "d")) -> Source:
    """A small single-label source whose classes are learnable (each class a different brightness band)."""
    rng = np.random.default_rng(1)

    def images(labels):
        base = (labels[:, None, None] + 1) * (220 // len(classes))
        return np.clip(base + rng.integers(-10, 10, (len(labels), 28, 28)), 0, 255).astype(np.uint8)

    train_labels, test_labels = rng.integers(0, len(classes), n), rng.integers(0, len(classes), n // 2)
    return Source("synthetic", classes, images(train_labels), train_labels, images(test_labels), test_labels)


@pytest.fixture
def mosaic_voc(tmp_path) -> Path:
    """A tiny mosaic data set in VOC layout (train 40, val 16) under tmp/data/tiny."""
    root = tmp_path / "data" / "tiny"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    source, spec, rng = synthetic_source(), MosaicSpec(), np.random.default_rng(2)
    for split, n, images, labels in (
        ("train", 40, source.train_images, source.train_labels),
        ("val", 16, source.test_images, source.test_labels),
    ):
        mosaics, cells = make_mosaics(images, labels, n, spec, rng)
        write_split(root, split, mosaics, cell_labels=cells, classes=source.classes, grid=spec.grid)
    return root
