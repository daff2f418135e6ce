"""Figures every track draws; each function returns its matplotlib Figure, computing nothing new."""

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator


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


def reliability_diagrams(curves: dict[str, dict[str, dict]], title: str, per_row: int = 4):
    """Per model x arm: observed frequency against mean predicted probability, before and after T; each
    model's arms wrap after `per_row` panels. None without curves (a profile with no clean-label runs)."""
    if not curves:
        return None
    models = sorted(curves)
    columns = min(per_row, max(len(arms) for arms in curves.values()))
    rows_of = {model: -(-len(curves[model]) // columns) for model in models}
    n_rows = sum(rows_of.values())
    fig, axes = plt.subplots(n_rows, columns, figsize=(3.2 * columns, 3.2 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    first_row = 0
    for model in models:
        panels = axes[first_row : first_row + rows_of[model]].flat
        for ax, (name, curve) in zip(panels, curves[model].items()):
            ax.axis("on")
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
            ax.plot(*curve["before"][:2], marker="o", label=f"before (ECE {curve['ece_before']:.3f})")
            ax.plot(
                *curve["after"][:2], marker="x", label=f"T={curve['temperature']:.2f} (ECE {curve['ece_after']:.3f})"
            )
            ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted", ylabel="observed")
            ax.set_title(f"{model}: {name}", fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
        first_row += rows_of[model]
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def run_curves(history: pd.DataFrame, panels: list[tuple[str, str, list[tuple[str, str]]]], title: str = ""):
    """One run's history per epoch: one panel per (title, y label, [(column, legend label), ...])."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (name, ylabel, lines) in zip(axes.flat, panels):
        for column, label in lines:
            ax.plot(history.epoch, history[column], marker="o", label=label)
        ax.set(xlabel="epoch", ylabel=ylabel, title=name)
        if len(lines) > 1:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def epoch_panels(histories: pd.DataFrame, value: str, ylabel: str, hue: str = "run", panel: str | None = None):
    """A column of the stacked histories against the epoch: one line per `hue` (in the order the rows come),
    one panel per `panel` value (mean and std over the other rows, e.g. seeds, when a line has several)."""
    groups = sorted(histories[panel].unique()) if panel else [None]
    fig, axes = plt.subplots(1, len(groups), figsize=(max(9, 5.5 * len(groups)), 4), squeeze=False, sharey=True)
    for ax, group in zip(axes.flat, groups):
        rows = histories if group is None else histories[histories[panel] == group]
        several = rows.groupby([hue, "epoch"]).size().max() > 1
        sns.lineplot(rows, x="epoch", y=value, hue=hue, marker="o", ax=ax, errorbar=("sd", 1) if several else None)
        ax.set(title=group or "", ylabel=ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig
