"""The demo data set: 2x2 mosaics of real Fashion-MNIST images, written in VOC layout.

Each mosaic cell holds an item with probability `fill_prob` (at least one per image); the
labels are the classes present and each item's box goes into the XML. Training mosaics draw
only from Fashion-MNIST's training images, val mosaics only from its test images. Sources,
in order: the Debian package `dataset-fashion-mnist`, torchvision's download, and, when both
fail, scikit-learn's 8x8 digits (the report then says so).
"""

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
from PIL import Image

from lsml_core.datasets.digits import DIGIT_CLASSES, digits_source
from lsml_core.datasets.fashion_mnist import DEBIAN_FASHION_DIR, Source, load_fashion_mnist

CELL = 28
FALLBACK = "scikit-learn digits (fallback: Fashion-MNIST was not available)"
PARAMS_FILE = "demo_params.json"


@dataclass(frozen=True, kw_only=True)
class MosaicSpec:
    """Generation parameters of the demo data; saved beside it, so a change regenerates it."""

    n_train: int = 4000
    n_val: int = 1000
    grid: int = 2
    fill_prob: float = 0.5
    seed: int = 0
    train_pool: int | None = None  # training mosaics draw from the first train_pool training images (None: all)


def load_source(cache_dir: Path, debian_dir: Path = DEBIAN_FASHION_DIR) -> Source:
    """The best available real source: Debian's Fashion-MNIST, torchvision's download, else digits."""
    try:
        return load_fashion_mnist(
            cache_dir, cache_dir, download=True, debian_dir=debian_dir, name="Fashion-MNIST (torchvision download)"
        )
    except Exception as exc:  # offline: URLError, RuntimeError, FileNotFoundError
        print(
            f"WARNING: Fashion-MNIST is not installed ({debian_dir}) and could not be downloaded ({exc}); "
            "falling back to scikit-learn's digits. Install it with: apt-get install dataset-fashion-mnist"
        )
        return digits_source(FALLBACK)


def make_mosaics(
    images: np.ndarray, labels: np.ndarray, n: int, spec: MosaicSpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`n` mosaics (uint8 [n, g*28, g*28]) and their cell labels ([n, g*g], -1 for an empty cell)."""
    cells = spec.grid * spec.grid
    filled = rng.random((n, cells)) < spec.fill_prob
    filled[np.arange(n), rng.integers(0, cells, n)] |= ~filled.any(axis=1)
    picks = rng.integers(0, len(images), (n, cells))
    cell_labels = np.where(filled, labels[picks], -1)
    mosaics = np.zeros((n, spec.grid * CELL, spec.grid * CELL), dtype=np.uint8)
    for cell in range(cells):
        row, col = divmod(cell, spec.grid)
        block = np.where(filled[:, cell, None, None], images[picks[:, cell]], 0)
        mosaics[:, row * CELL : (row + 1) * CELL, col * CELL : (col + 1) * CELL] = block
    return mosaics, cell_labels


def annotation_xml(image_id: str, size: int, cell_labels: np.ndarray, classes: tuple[str, ...], grid: int) -> bytes:
    """A VOC annotation for one mosaic: one object per filled cell, its box the cell."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = f"{image_id}.jpg"
    size_node = ET.SubElement(root, "size")
    for tag, value in (("width", size), ("height", size), ("depth", 3)):
        ET.SubElement(size_node, tag).text = str(value)
    for cell, label in enumerate(cell_labels):
        if label < 0:
            continue
        row, col = divmod(cell, grid)
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = classes[label]
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (
            ("xmin", col * CELL + 1),
            ("ymin", row * CELL + 1),
            ("xmax", (col + 1) * CELL),
            ("ymax", (row + 1) * CELL),
        ):
            ET.SubElement(box, tag).text = str(value)
    return ET.tostring(root)


def write_split(
    root: Path, split: str, mosaics: np.ndarray, *, cell_labels: np.ndarray, classes: tuple[str, ...], grid: int
) -> None:
    """Write one split's images, annotations and id list in VOC layout."""
    ids = [f"{split}_{i:06d}" for i in range(len(mosaics))]
    for image_id, mosaic, labels in zip(ids, mosaics, cell_labels):
        Image.fromarray(mosaic).convert("RGB").save(root / "JPEGImages" / f"{image_id}.jpg", quality=95)
        (root / "Annotations" / f"{image_id}.xml").write_bytes(
            annotation_xml(image_id, mosaic.shape[0], labels, classes, grid)
        )
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")


def source_fingerprint(source: Source) -> str:
    """A short hash of the source pixels and labels, recorded with the generated data."""
    digest = hashlib.sha256()
    for array in (source.train_images, source.train_labels, source.test_images, source.test_labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def generate(root: Path, spec: MosaicSpec, source: Source) -> dict:
    """Generate the demo data set into `root` (written beside it, then moved in place)."""
    root = Path(root)
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (tmp / sub).mkdir(parents=True)
    rng = np.random.default_rng(spec.seed)
    pool = slice(0, spec.train_pool)
    for split, images, labels, n in (
        ("train", source.train_images[pool], source.train_labels[pool], spec.n_train),
        ("val", source.test_images, source.test_labels, spec.n_val),
    ):
        mosaics, cell_labels = make_mosaics(images, labels, n, spec, rng)
        write_split(tmp, split, mosaics, cell_labels=cell_labels, classes=source.classes, grid=spec.grid)
    params = {
        "spec": asdict(spec),
        "source": source.name,
        "classes": list(source.classes),
        "source_fingerprint": source_fingerprint(source),
        "fallback": source.classes == DIGIT_CLASSES,
    }
    (tmp / PARAMS_FILE).write_text(json.dumps(params, indent=2))
    shutil.rmtree(root, ignore_errors=True)
    tmp.replace(root)
    return params


def read_params(root: Path) -> dict | None:
    """The generation record saved beside a demo data set, or None if there is none."""
    path = Path(root) / PARAMS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def ensure_demo_data(root: Path, spec: MosaicSpec, cache_dir: Path) -> dict:
    """Generate the demo data unless `root` already holds it with the same parameters."""
    params = read_params(root)
    if params is not None and {**asdict(MosaicSpec()), **params["spec"]} == asdict(spec):  # keys added since: defaults
        return params
    return generate(root, spec, load_source(cache_dir))
