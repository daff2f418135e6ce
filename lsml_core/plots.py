"""Figures of the notebooks; each function returns its matplotlib Figure, computing nothing new."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lsml_core.metrics import micro_precision_recall, precision_recall, average_precision
from lsml_core.transforms import IMAGENET_MEAN, IMAGENET_STD


def label_counts(counts: pd.DataFrame):
    """Bar chart of images per class and split."""
    frame = counts.drop(index="(images)").reset_index(names="class").melt("class", var_name="split", value_name="images")
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.barplot(frame, x="class", y="images", hue="split", ax=ax)
    ax.tick_params(axis="x", rotation=60)
    ax.set_title("Images per class and split")
    fig.tight_layout()
    return fig


def heatmap(table: pd.DataFrame, title: str, fmt: str = "d"):
    """An annotated heatmap (co-occurrence counts, smoothed targets)."""
    fig, ax = plt.subplots(figsize=(1 + 0.5 * table.shape[1], 1 + 0.45 * table.shape[0]))
    sns.heatmap(table, annot=True, fmt=fmt, cmap="viridis", cbar=False, ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def example_images(images: list, labels: list[str], columns: int = 4):
    """A grid of images (PIL, normalised tensors, or the cached path's uint8 tensors) titled with their labels."""
    rows = int(np.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, labels):
        if hasattr(image, "permute") and image.is_floating_point():
            image = (image.permute(1, 2, 0).numpy() * IMAGENET_STD + IMAGENET_MEAN).clip(0, 1)
        elif hasattr(image, "permute"):
            image = image.permute(1, 2, 0).numpy()
        ax.imshow(image)
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    return fig


def training_curves(history: pd.DataFrame, title: str = ""):
    """Training and held-out loss, and held-out mAP, per epoch of one run."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    left.plot(history.epoch, history.train_loss, marker="o", label="train (smoothed targets)")
    left.plot(history.epoch, history.heldout_loss, marker="o", label="held-out (hard labels)")
    left.set(xlabel="epoch", ylabel="BCE loss", title="loss")
    left.legend()
    right.plot(history.epoch, history.heldout_map, marker="o", color="C2")
    right.set(xlabel="epoch", ylabel="mAP (VOC2010)", title="held-out mAP (selects the best epoch)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_class_ap(per_class: pd.DataFrame, title: str):
    """Horizontal bars of AP per class, one colour per split."""
    frame = per_class.reset_index(names="class").melt("class", var_name="split", value_name="AP")
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(per_class) * max(1, per_class.shape[1] / 2) + 1.5))
    sns.barplot(frame, y="class", x="AP", hue="split", ax=ax)
    ax.set(xlim=(0, 1), title=title)
    fig.tight_layout()
    return fig


def micro_pr_curves(predictions: dict[str, dict], title: str):
    """Micro-averaged PR curves, one panel per model, one curve per arm (AP in the legend)."""
    models = sorted(predictions)
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes.flat, models):
        for arm, pred in predictions[model].items():
            precision, recall, ap = micro_precision_recall(pred.targets, pred.scores, pred.masks)
            ax.plot(recall, precision, label=f"{arm} (micro AP {ap:.3f})", drawstyle="steps-post")
        ax.set(xlabel="recall", ylabel="precision", title=model, xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_class_pr_curves(arms: dict, classes: tuple[str, ...], title: str, columns: int = 5):
    """One panel per class, one curve per arm, each labelled with its VOC2010 AP."""
    rows = int(np.ceil(len(classes) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3 * rows), squeeze=False)
    for ax in axes.flat[len(classes):]:
        ax.axis("off")
    for arm, pred in arms.items():
        aps = average_precision(pred.targets, pred.scores, mask=pred.masks)
        for c, ax in enumerate(axes.flat[:len(classes)]):
            if pred.targets[:, c][pred.masks[:, c] > 0].sum() == 0:
                continue
            precision, recall, _ = precision_recall(pred.targets[:, c], pred.scores[:, c], pred.masks[:, c])
            ax.plot(recall, precision, drawstyle="steps-post", label=f"{arm} {aps[c]:.2f}")
    for c, ax in enumerate(axes.flat[:len(classes)]):
        ax.set(title=classes[c], xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(fontsize=6, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_panels(histories: pd.DataFrame, value: str, ylabel: str):
    """One panel per model: a metric per epoch, one line per arm (and seed)."""
    models = sorted(histories.model.unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.8), squeeze=False, sharey=True)
    for ax, model in zip(axes.flat, models):
        sns.lineplot(histories[histories.model == model], x="epoch", y=value, hue="arm", marker="o", ax=ax,
                     errorbar=("sd", 1) if histories.seed.nunique() > 1 else None)
        ax.set(title=model, ylabel=ylabel)
    fig.tight_layout()
    return fig
