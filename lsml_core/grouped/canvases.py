"""Canvases of two symbols, one per label group, generated deterministically from real images.

Each grey canvas (`image_size` x `image_size` pixels, the source's 56 by default) holds one symbol of each group (e.g. a
scikit-learn digit and a Fashion-MNIST item), each resized to `symbol_size` squares and placed at random
without overlap, then salt-and-pepper
noise: a fraction `noise` of the pixels set to black or white with equal odds. Labeled, selection and
unlabeled canvases take their symbols from disjoint parts of each source's training images (split by
the seed in proportion to the three sizes), test canvases only from the sources' test images; a symbol
image recurs within a split when the split has more canvases than its part has images (the 1,200
training digits). The canvases and the parameters that made them are saved together
(`canvases.npz`, `parameters.json`) in a folder named by a hash of the parameters; a rerun reads them.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lsml_core.datasets.digits import digits_source
from lsml_core.datasets.emnist import load_emnist
from lsml_core.datasets.fashion_mnist import Source, load_fashion_mnist
from lsml_core.records import atomic_write_npz, read_json, write_json

SIDE = 56  # the source's canvas side, the default of `image_size`
SPLITS = ("labeled", "selection", "unlabeled", "test")


@dataclass(frozen=True)
class Canvases:
    """uint8 canvases [N, side, side] per split, int64 labels [N, groups], the groups' names and classes."""

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    groups: tuple[str, ...]
    classes: tuple[tuple[str, ...], ...]
    source: str


def group_sources(dataset: str, data_dir: Path, download: bool, root: str) -> tuple[Source, Source]:
    """The two symbol sources of a data set, in its group order (digit first)."""
    if dataset == "emnist":
        return load_emnist(Path(data_dir) / root, download)
    fashion = load_fashion_mnist(Path(data_dir) / root / "fashion-mnist", Path(data_dir) / "cache", download)
    return digits_source(), fashion


def resize(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 [N, h, w] -> uint8 [N, side, side], bilinear with antialiasing."""
    scaled = F.interpolate(torch.from_numpy(images)[:, None].float(), (side, side), mode="bilinear", antialias=True)
    return scaled[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()


def placements(n: int, symbol: int, rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """[n, 2 symbols, (top, left)] positions of two symbol squares inside the canvas that do not overlap."""
    positions = rng.integers(0, side - symbol + 1, size=(n, 2, 2))
    while True:
        overlap = (np.abs(positions[:, 0] - positions[:, 1]) < symbol).all(axis=1)
        if not overlap.any():
            return positions
        positions[overlap] = rng.integers(0, side - symbol + 1, size=(int(overlap.sum()), 2, 2))


def salt_and_pepper(canvases: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """A fraction `rate` of the pixels (each independently) set to 0 or 255 with equal odds."""
    hit = rng.random(canvases.shape) < rate
    salt = rng.random(canvases.shape) < 0.5
    return np.where(hit, np.where(salt, 255, 0), canvases).astype(np.uint8)


def compose(symbols: list[np.ndarray], positions: np.ndarray, side: int = SIDE) -> np.ndarray:
    """Canvases [N, side, side] with symbol g of canvas i at positions[i, g] (symbols [N, s, s] per group)."""
    size = symbols[0].shape[-1]
    canvases = np.zeros((len(positions), side, side), np.uint8)
    for i, place in enumerate(positions):
        for g, (top, left) in enumerate(place):
            canvases[i, top : top + size, left : left + size] = symbols[g][i]
    return canvases


def generate_split(sources: list[tuple[np.ndarray, np.ndarray]], n: int, cfg, rng: np.random.Generator):
    """(canvases [n, side, side], labels [n, groups]) from (images, labels) of each group's source part."""
    picks = [rng.integers(0, len(labels), n) for _, labels in sources]
    symbols = [resize(images[pick], cfg.symbol_size) for (images, _), pick in zip(sources, picks)]
    canvases = compose(symbols, placements(n, cfg.symbol_size, rng, cfg.image_size), cfg.image_size)
    labels = np.stack([labels[pick] for (_, labels), pick in zip(sources, picks)], axis=1).astype(np.int64)
    return salt_and_pepper(canvases, cfg.noise, rng), labels


def parameters(cfg) -> dict:
    """What determines the canvases (the data config without where they live; `image_size` only when it is not the
    source's 56, so canvases made before the canvas side could be set keep their folder and are read back)."""
    dropped = ("root", "download") + (("image_size",) if cfg.image_size == SIDE else ())
    return {k: v for k, v in asdict(cfg).items() if k not in dropped}


def training_pools(n_images: int, sizes: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint index sets of a source's training images, one per training split, in proportion to `sizes`."""
    order = rng.permutation(n_images)
    bounds = np.round(np.cumsum([0] + sizes) / sum(sizes) * n_images).astype(int)
    return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def generate(cfg, sources: tuple[Source, Source]) -> Canvases:
    """Every split of a data config from its two symbol sources, from the config's seed alone."""
    sizes = {"labeled": cfg.n_labeled, "selection": cfg.n_selection, "unlabeled": cfg.n_unlabeled, "test": cfg.n_test}
    trained = SPLITS[:3]
    pools = [
        training_pools(len(s.train_labels), [sizes[t] for t in trained], np.random.default_rng([cfg.seed, g]))
        for g, s in enumerate(sources)
    ]
    images, labels = {}, {}
    for index, split in enumerate(SPLITS):
        if split == "test":
            part = [(s.test_images, s.test_labels) for s in sources]
        else:
            part = [(s.train_images[p[index]], s.train_labels[p[index]]) for s, p in zip(sources, pools)]
        rng = np.random.default_rng([cfg.seed, 100 + index])
        images[split], labels[split] = generate_split(part, sizes[split], cfg, rng)
    name = " + ".join(s.name for s in sources)
    return Canvases(images, labels, cfg.groups, tuple(tuple(s.classes) for s in sources), name)


def folder(cfg, data_dir: Path) -> Path:
    """<data_dir>/<root>/<dataset>-<hash of the parameters>."""
    digest = hashlib.sha256(json.dumps(parameters(cfg), sort_keys=True).encode()).hexdigest()[:12]
    return Path(data_dir) / cfg.root / f"{cfg.dataset}-{digest}"


def load_canvases(cfg, data_dir: Path) -> Canvases:
    """The canvases of a data config: read when generated before, else generated and saved with their parameters."""
    where = folder(cfg, data_dir)
    if (where / "canvases.npz").is_file() and read_json(where / "parameters.json")["parameters"] == parameters(cfg):
        with np.load(where / "canvases.npz") as saved:
            meta = read_json(where / "parameters.json")
            return Canvases(
                {s: saved[f"images_{s}"] for s in SPLITS},
                {s: saved[f"labels_{s}"] for s in SPLITS},
                tuple(meta["groups"]),
                tuple(tuple(c) for c in meta["classes"]),
                meta["source"],
            )
    canvases = generate(cfg, group_sources(cfg.dataset, data_dir, cfg.download, cfg.root))
    arrays = {
        **{f"images_{s}": canvases.images[s] for s in SPLITS},
        **{f"labels_{s}": canvases.labels[s] for s in SPLITS},
    }
    write_json(
        where / "parameters.json",
        {
            "parameters": parameters(cfg),
            "groups": list(canvases.groups),
            "classes": [list(c) for c in canvases.classes],
            "source": canvases.source,
        },
    )
    atomic_write_npz(where / "canvases.npz", compressed=True, **arrays)
    return canvases
