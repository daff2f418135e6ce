"""Figures of the multi-label notebooks; each function returns its matplotlib Figure, computing nothing new."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from lsml_core.multilabel.images.transforms import IMAGENET_MEAN, IMAGENET_STD
from lsml_core.multilabel.metrics import average_precision, micro_precision_recall, precision_recall
from lsml_core.multilabel.report import model_name
from lsml_core.multilabel.summary import HEADLINE
from lsml_core.plots import epoch_panels, heatmap, reliability_diagrams, run_curves  # noqa: F401 (the notebooks' figures in one place)


def label_counts(counts: pd.DataFrame):
    """Bar chart of images per class and split."""
    frame = (
        counts.drop(index="(images)").reset_index(names="class").melt("class", var_name="split", value_name="images")
    )
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.barplot(frame, x="class", y="images", hue="split", ax=ax)
    ax.tick_params(axis="x", rotation=60)
    ax.set_title("Images per class and split")
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
    for ax in axes.flat[len(classes) :]:
        ax.axis("off")
    for arm, pred in arms.items():
        aps = average_precision(pred.targets, pred.scores, mask=pred.masks)
        for c, ax in enumerate(axes.flat[: len(classes)]):
            if pred.targets[:, c][pred.masks[:, c] > 0].sum() == 0:
                continue
            precision, recall, _ = precision_recall(pred.targets[:, c], pred.scores[:, c], pred.masks[:, c])
            ax.plot(recall, precision, drawstyle="steps-post", label=f"{arm} {aps[c]:.2f}")
    for c, ax in enumerate(axes.flat[: len(classes)]):
        ax.set(title=classes[c], xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(fontsize=6, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def interval_errors(rows: pd.DataFrame) -> list:
    """Error-bar lengths below and above each difference from its interval (0 where a percentile interval of
    a nonlinear statistic does not contain the observed value)."""
    return [(rows.difference - rows.ci_low).clip(lower=0), (rows.ci_high - rows.difference).clip(lower=0)]


def effects_forest(effects: pd.DataFrame, title: str):
    """Each comparison's mAP difference with its 95% bootstrap interval; the zero line marks no effect."""
    labels = [
        f"{model_name(r.model)}: {r.arm} - {r.reference}" + (f" (noise {r.noise:g})" if r.noise else "")
        for r in effects.itertuples()
    ]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(effects) + 1.2))
    y = np.arange(len(effects))[::-1]
    ax.errorbar(
        effects.difference,
        y,
        xerr=interval_errors(effects),
        fmt="o",
        capsize=3,
    )
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
            row[0].errorbar(
                group.alpha,
                group[("map", "mean")],
                yerr=group[("map", "std")].fillna(0),
                marker="o",
                capsize=3,
                label=scheme,
            )
            line = row[1].plot(group.alpha, group[("ece_pooled", "mean")], marker="o", label=f"{scheme}")[0]
            row[1].plot(
                group.alpha,
                group[("ece_pooled_after_T", "mean")],
                marker="x",
                linestyle=":",
                color=line.get_color(),
                label=f"{scheme}, after T",
            )
        row[0].set(title=f"{model}: {split} mAP against alpha", xlabel="alpha", ylabel="mAP (VOC2010)")
        row[1].set(title=f"{model}: {split} pooled ECE against alpha", xlabel="alpha", ylabel="ECE (15 bins)")
        row[0].legend(fontsize=8)
        row[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def early_stopping_gains(found: pd.DataFrame, title: str):
    """Per model: each smoothed arm's gain over the baseline against the label-noise rate, read at the best epoch
    and at the last (`early_stopping.contrasts`), with its 95% interval; None when nothing was read at both."""
    rows = found[found.contrast.isin(["gain best", "gain last"])]
    if rows.empty:
        return None
    models = list(dict.fromkeys(rows.model))
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes.flat, models):
        for (name, contrast), group in rows[rows.model == model].groupby(["arm", "contrast"], sort=False):
            group = group.sort_values("noise")
            epoch = contrast.removeprefix("gain ")
            ax.errorbar(
                group.noise,
                group.difference,
                yerr=interval_errors(group),
                marker="o" if epoch == "best" else "s",
                linestyle="-" if epoch == "best" else "--",
                capsize=3,
                label=f"{name}, {epoch} epoch",
            )
        ax.axhline(0, color="grey", linestyle="--")
        ax.set(title=f"{model_name(model)}: arm - none", xlabel="label noise", ylabel="difference in mAP")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def noise_curves(runs: pd.DataFrame, effects: pd.DataFrame, split: str):
    """Per model: mAP against label-noise rate per arm, and each arm's difference from the baseline with CI."""
    rows = runs[runs.split == split]
    models = sorted(rows.model.unique())
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.6 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        sns.lineplot(
            rows[rows.model == model],
            x="noise",
            y="map",
            hue="arm",
            marker="o",
            ax=row[0],
            errorbar=("sd", 1) if rows.seed.nunique() > 1 else None,
        )
        row[0].set(title=f"{model}: {split} mAP (clean labels) against training-label noise", ylabel="mAP")
        for name, group in effects[effects.model == model].groupby("arm"):
            group = group.sort_values("noise")
            row[1].errorbar(
                group.noise,
                group.difference,
                yerr=interval_errors(group),
                marker="o",
                capsize=3,
                label=name,
            )
        row[1].axhline(0, color="grey", linestyle="--")
        row[1].set(title=f"{model}: arm - none, 95% CI", xlabel="noise", ylabel="difference in mAP")
        row[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(history: pd.DataFrame, title: str = ""):
    """Training and selection loss, and selection mAP, per epoch of one run."""
    return run_curves(
        history,
        [
            (
                "loss",
                "BCE loss",
                [("train_loss", "train (smoothed targets)"), ("selection_loss", "selection (hard labels)")],
            ),
            ("selection mAP (selects the best epoch)", "mAP (VOC2010)", [("selection_map", "selection")]),
        ],
        title,
    )


def loss_panels(histories: pd.DataFrame, value: str, ylabel: str):
    """One panel per model: a column of the histories per epoch, one line per arm (mean and std over seeds)."""
    return epoch_panels(histories, value, ylabel, hue="arm", panel="model")


def headline(effects: pd.DataFrame, title: str, columns: int = 4):
    """One panel per headline metric (`columns` a row): each arm's difference from the baseline with its 95%
    interval, per model."""
    compared = effects.dropna(subset=["difference"]) if "difference" in effects else effects.iloc[0:0]
    metrics = list(dict.fromkeys(compared.metric))
    arms = list(dict.fromkeys(compared.sort_values("arm_rank").arm))
    models = list(dict.fromkeys(compared.model))
    n_rows, n_cols = -(-max(len(metrics), 1) // columns), min(max(len(metrics), 1), columns)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, n_rows * (0.45 * len(arms) + 1.8)), squeeze=False)
    for ax in axes.flat[max(len(metrics), 1) :]:
        fig.delaxes(ax)
    y = np.arange(len(arms))[::-1]
    for i, (ax, metric) in enumerate(zip(axes.flat, metrics)):
        for k, model in enumerate(models):
            rows = compared[(compared.metric == metric) & (compared.model == model)].set_index("arm").reindex(arms)
            offset = (k - (len(models) - 1) / 2) * 0.2
            ax.errorbar(
                rows.difference,
                y + offset,
                xerr=interval_errors(rows),
                fmt="o",
                capsize=3,
                label=model_name(model),
            )
        ax.axvline(0, color="grey", linestyle="--")
        better = "higher is better" if HEADLINE[metric] else "lower is better"
        first = i % n_cols == 0
        ax.set(yticks=y, yticklabels=arms if first else [], title=f"{metric} - none\n({better})")
        ax.title.set_fontsize(9)
        ax.xaxis.set_major_locator(MaxNLocator(4))
    fig.suptitle(title)
    fig.tight_layout()
    if metrics:
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="lower center", ncol=len(models), fontsize=8)
        fig.subplots_adjust(bottom=0.8 / fig.get_figheight())
    return fig
