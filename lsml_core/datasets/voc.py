"""Reader for Pascal VOC and any folder in the same layout, as multi-hot targets.

Layout: `JPEGImages/<id>.jpg`, `Annotations/<id>.xml`, `ImageSets/Main/<split>.txt`.
An (image, class) pair whose class occurs only as `difficult` follows a policy:
`ignore` (the official evaluation: masked out of the loss and of AP), `negative` (what the
original study's code did) or `positive`.
"""

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
DIFFICULT_POLICIES = ("ignore", "negative", "positive")


class DataMissingError(FileNotFoundError):
    """A data set, split file or image is not where the study expects it."""


@dataclass(frozen=True)
class VOCObject:
    """One annotated object: its class name and whether VOC flags it difficult."""

    name: str
    difficult: bool


def parse_annotation(xml_path: Path) -> tuple[str, list[VOCObject]]:
    """Return (image file name, objects) of one VOC XML file, with one object or many."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"annotation {xml_path} is not valid XML ({exc}); re-extract the data set") from exc
    filename = root.findtext("filename") or f"{Path(xml_path).stem}.jpg"
    objects = [
        VOCObject(name=obj.findtext("name", "").strip(), difficult=obj.findtext("difficult", "0").strip() == "1")
        for obj in root.iter("object")
    ]
    return filename, objects


def encode_labels(
    objects: list[VOCObject], classes: tuple[str, ...], difficult: str = "ignore"
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot target and loss/AP mask over `classes` for one image's objects."""
    if difficult not in DIFFICULT_POLICIES:
        raise ValueError(f"unknown difficult policy {difficult!r}: choose one of {', '.join(DIFFICULT_POLICIES)}")
    index = {name: i for i, name in enumerate(classes)}
    target = np.zeros(len(classes), dtype=np.float32)
    only_difficult = np.zeros(len(classes), dtype=bool)
    for obj in objects:
        if obj.name not in index:
            raise ValueError(
                f"object class {obj.name!r} is not in the class list {list(classes)}; pass the data set's classes"
            )
        if obj.difficult:
            only_difficult[index[obj.name]] = True
        else:
            target[index[obj.name]] = 1.0
    only_difficult &= target == 0
    mask = np.ones(len(classes), dtype=np.float32)
    if difficult == "ignore":
        mask[only_difficult] = 0.0
    elif difficult == "positive":
        target[only_difficult] = 1.0
    return target, mask


def read_split_ids(root: Path, split: str) -> list[str]:
    """Image ids listed in `ImageSets/Main/<split>.txt`."""
    path = Path(root) / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        raise DataMissingError(
            f"split file {path} is missing: is {root} a VOC-format folder (JPEGImages/, Annotations/, ImageSets/Main/)?"
        )
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def load_rgb(path: Path) -> Image.Image:
    """Open an image as RGB, with an error that names the file when it is missing or corrupt."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError as exc:
        raise DataMissingError(f"image {path} is missing; re-extract or regenerate the data set") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(
            f"image {path} is corrupt or not an image ({exc}); replace it or regenerate the data set"
        ) from exc


class VOCMultiLabel(torch.utils.data.Dataset):
    """One split of a VOC-format folder: items are (image, multi-hot target, mask)."""

    def __init__(
        self,
        root: str | Path,
        split: str,
        classes: tuple[str, ...] = VOC_CLASSES,
        difficult: str = "ignore",
        transform=None,
    ):
        self.root, self.split, self.classes = Path(root), split, tuple(classes)
        self.transform = transform
        self.ids = read_split_ids(self.root, split)
        labels = [self._read_labels(image_id, difficult) for image_id in self.ids]
        self.filenames = [filename for filename, _, _ in labels]
        self.targets = np.stack([target for _, target, _ in labels]) if labels else np.zeros((0, len(classes)))
        self.masks = np.stack([mask for _, _, mask in labels]) if labels else np.zeros((0, len(classes)))

    def _read_labels(self, image_id: str, difficult: str):
        xml_path = self.root / "Annotations" / f"{image_id}.xml"
        if not xml_path.is_file():
            raise DataMissingError(f"annotation {xml_path} is missing for image {image_id!r} of split {self.split!r}")
        filename, objects = parse_annotation(xml_path)
        return (filename, *encode_labels(objects, self.classes, difficult))

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, index: int) -> Image.Image:
        """The untransformed RGB image at `index`."""
        return load_rgb(self.root / "JPEGImages" / self.filenames[index])

    def __getitem__(self, index: int):
        image = self.image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, torch.from_numpy(self.targets[index]), torch.from_numpy(self.masks[index])


def resolve_voc_root(root: str | Path, year: str = "2012") -> Path:
    """The VOC<year> folder under `root` (root itself, or root/VOCdevkit/VOC<year>)."""
    root = Path(root)
    for candidate in (root, root / "VOCdevkit" / f"VOC{year}"):
        if (candidate / "ImageSets" / "Main").is_dir():
            return candidate
    raise DataMissingError(
        f"Pascal VOC {year} was not found under {root}. Download it with internet access "
        f"(set data.download: true in the profile), or extract VOCtrainval (the tar from the VOC site) "
        f"so that {root / 'VOCdevkit' / f'VOC{year}'} holds JPEGImages/, Annotations/ and ImageSets/Main/."
    )


def download_voc(root: str | Path, year: str = "2012") -> Path:
    """Download and extract VOC trainval through torchvision; a clear error when offline."""
    from torchvision.datasets import VOCDetection

    try:
        VOCDetection(str(root), year=year, image_set="trainval", download=True)
    except Exception as exc:  # torchvision raises URLError, HTTPError or RuntimeError when offline
        raise DataMissingError(
            f"could not download Pascal VOC {year} into {root} ({exc}). "
            f"Without internet, place the extracted data at {Path(root) / 'VOCdevkit' / f'VOC{year}'}."
        ) from exc
    return resolve_voc_root(root, year)
