"""Figures and tables of the grouped track's canvases and training curves; each figure function returns its Figure."""

import matplotlib.pyplot as plt
import pandas as pd
import torch

from lsml_core.grouped.data import Splits, rotate_shift
from lsml_core.grouped.sesemi import NAMES, TRANSFORMS

PHASE_COLOURS = {"plain": "#ffffff", "augmented": "#eef3fb", "pseudo": "#eefbf0"}


def split_sizes(splits: Splits) -> pd.DataFrame:
    """Images per split and what each is for."""
    return pd.DataFrame(
        [
            ("labeled (training)", len(splits.fit), "trains every phase"),
            ("selection", len(splits.selection), "labeled, kept out of training: best epoch, pseudo-label threshold"),
            ("unlabeled", len(splits.unlabeled), "SESEMI on unlabeled, pseudo-labels (labels only score them)"),
            ("test", len(splits.test), "reported only; symbols from the sources' test parts"),
        ],
        columns=["split", "images", "use"],
    )


def _label(splits: Splits, labels) -> str:
    return " / ".join(classes[int(y)] for classes, y in zip(splits.classes, labels))


def _grid(images, titles, title: str, columns: int = 8):
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, name in zip(axes.flat, images, titles):
        ax.imshow(image.squeeze(), cmap="gray")
        ax.set_title(name, fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def canvas_grid(splits: Splits, seed: int = 0, n: int = 16):
    """Labeled canvases drawn at random, titled with their labels."""
    pick = torch.randperm(len(splits.fit), generator=torch.Generator().manual_seed(seed))[:n]
    titles = [_label(splits, y) for y in splits.fit.labels[pick]]
    return _grid(splits.fit.images[pick], titles, "labeled canvases (group labels)")


def augmented_grid(splits: Splits, seed: int = 0, n: int = 8):
    """The same canvases before and after the +-10 degree rotation and 3% shift of phases 2 and 3."""
    generator = torch.Generator().manual_seed(seed)
    images = splits.fit.images[:n].float() / 255
    shown = torch.cat([images, rotate_shift(images, generator)])
    return _grid(shown, ["original"] * n + ["augmented"] * n, "augmentation of phases 2 and 3")


def sesemi_grid(splits: Splits, seed: int = 0):
    """One unlabeled canvas under each of SESEMI's six transforms."""
    image = splits.unlabeled.images[seed % len(splits.unlabeled)]
    return _grid([t(image) for t in TRANSFORMS], list(NAMES), "SESEMI: which transform was applied?", columns=6)


def class_counts(splits: Splits):
    """Bar charts of the class counts of each group in each split."""
    parts = {"labeled": splits.fit, "selection": splits.selection, "unlabeled": splits.unlabeled, "test": splits.test}
    fig, axes = plt.subplots(1, len(splits.groups), figsize=(7 * len(splits.groups), 3.5), squeeze=False)
    for g, (ax, group) in enumerate(zip(axes.flat, splits.groups)):
        counts = pd.DataFrame(
            {name: pd.Series(part.labels[:, g].numpy()).value_counts(normalize=True) for name, part in parts.items()}
        ).sort_index()
        counts.index = [splits.classes[g][i] for i in counts.index]
        counts.plot.bar(ax=ax, title=f"{group}: share of each class", rot=60, fontsize=7)
    fig.tight_layout()
    return fig


def phase_curves(history: pd.DataFrame, groups, title: str = ""):
    """Accuracy per group on training batches and the selection part, and selection exact match, per epoch;
    the background shows the phase."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for ax, columns in zip(
        axes,
        (
            [f"train_accuracy_{g}" for g in groups],
            [f"selection_accuracy_{g}" for g in groups] + ["selection_exact_match"],
        ),
    ):
        for epoch, phase in zip(history.epoch, history.phase):
            ax.axvspan(epoch - 0.5, epoch + 0.5, color=PHASE_COLOURS[phase], zorder=0)
        for column in columns:
            ax.plot(history.epoch, history[column], marker="o", label=column)
        ax.set(xlabel="epoch (background: phase plain / augmented / pseudo)", ylabel="accuracy")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
