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


def heatmap(table: pd.DataFrame, title: str, fmt: str = "d", diverging: bool = False):
    """An annotated heatmap (co-occurrence counts, smoothed targets; differences on a diverging scale around 0)."""
    label_width = max(len(str(label)) for label in table.index) * 0.09 if len(table) else 0
    fig, ax = plt.subplots(figsize=(2 + label_width + 0.75 * table.shape[1], 1.2 + 0.45 * table.shape[0]))
    if diverging:
        sns.heatmap(table, annot=True, fmt=fmt, cmap="RdBu", center=0, cbar=True, ax=ax, annot_kws={"fontsize": 8})
    else:
        sns.heatmap(table, annot=True, fmt=fmt, cmap="viridis", cbar=False, ax=ax, annot_kws={"fontsize": 8})
    ax.set(xlabel="", ylabel="")
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


def effects_forest(effects: pd.DataFrame, title: str):
    """Each comparison's mAP difference with its 95% bootstrap interval; the zero line marks no effect."""
    labels = [f"{r.model}: {r.arm} - {r.reference}" + (f" (noise {r.noise:g})" if r.noise else "")
              for r in effects.itertuples()]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(effects) + 1.2))
    y = np.arange(len(effects))[::-1]
    ax.errorbar(effects.difference, y, xerr=[effects.difference - effects.ci_low, effects.ci_high - effects.difference],
                fmt="o", capsize=3)
    ax.axvline(0, color="grey", linestyle="--")
    ax.set(yticks=y, yticklabels=labels, xlabel="difference in mAP (VOC2010), 95% CI", title=title)
    fig.tight_layout()
    return fig


def alpha_curves(sweep: pd.DataFrame, split: str):
    """Per model: mAP and pooled ECE (before and after temperature scaling) against alpha, one line per scheme."""
    models = sorted(sweep.model.unique())
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.6 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        for scheme, group in sweep[sweep.model == model].groupby("scheme"):
            row[0].errorbar(group.alpha, group[("map", "mean")], yerr=group[("map", "std")].fillna(0),
                            marker="o", capsize=3, label=scheme)
            line = row[1].plot(group.alpha, group[("ece_pooled", "mean")], marker="o", label=f"{scheme}")[0]
            row[1].plot(group.alpha, group[("ece_pooled_after_T", "mean")], marker="x", linestyle=":",
                        color=line.get_color(), label=f"{scheme}, after T")
        row[0].set(title=f"{model}: {split} mAP against alpha", xlabel="alpha", ylabel="mAP (VOC2010)")
        row[1].set(title=f"{model}: {split} pooled ECE against alpha", xlabel="alpha", ylabel="ECE (15 bins)")
        row[0].legend(fontsize=8)
        row[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def reliability_diagrams(curves: dict[str, dict[str, dict]], title: str):
    """Per model x arm: observed frequency against mean predicted probability, before and after T."""
    models = sorted(curves)
    n_arms = max(len(arms) for arms in curves.values())
    fig, axes = plt.subplots(len(models), n_arms, figsize=(3.2 * n_arms, 3.2 * len(models)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, model in zip(axes, models):
        for ax, (name, curve) in zip(row, curves[model].items()):
            ax.axis("on")
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
            ax.plot(*curve["before"][:2], marker="o", label=f"before (ECE {curve['ece_before']:.3f})")
            ax.plot(*curve["after"][:2], marker="x", label=f"T={curve['temperature']:.2f} (ECE {curve['ece_after']:.3f})")
            ax.set(title=f"{model}: {name}", xlim=(0, 1), ylim=(0, 1), xlabel="predicted", ylabel="observed")
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def noise_curves(runs: pd.DataFrame, effects: pd.DataFrame, split: str):
    """Per model: mAP against label-noise rate per arm, and each arm's difference from the baseline with CI."""
    rows = runs[runs.split == split]
    models = sorted(rows.model.unique())
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.6 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        sns.lineplot(rows[rows.model == model], x="noise", y="map", hue="arm", marker="o", ax=row[0],
                     errorbar=("sd", 1) if rows.seed.nunique() > 1 else None)
        row[0].set(title=f"{model}: {split} mAP (clean labels) against training-label noise", ylabel="mAP")
        for name, group in effects[effects.model == model].groupby("arm"):
            group = group.sort_values("noise")
            row[1].errorbar(group.noise, group.difference, yerr=[group.difference - group.ci_low,
                            group.ci_high - group.difference], marker="o", capsize=3, label=name)
        row[1].axhline(0, color="grey", linestyle="--")
        row[1].set(title=f"{model}: arm - none, 95% CI", xlabel="noise", ylabel="difference in mAP")
        row[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
