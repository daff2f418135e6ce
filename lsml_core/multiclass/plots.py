"""Figures of the single-label notebooks; each function returns its matplotlib Figure, computing nothing new."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lsml_core.bootstrap import covers
from lsml_core.multiclass.runs import arm_order
from lsml_core.multiclass.summary import BASELINE, BETTER, HEADLINE_METRICS
from lsml_core.plots import run_curves


def projection(points: dict[str, pd.DataFrame], classes: list[str], title: str):
    """Penultimate-layer features of three classes, one panel per arm (Mueller et al.'s figure)."""
    fig, axes = plt.subplots(1, len(points), figsize=(4.2 * len(points), 4), squeeze=False)
    for ax, (arm, frame) in zip(axes.flat, points.items()):
        sns.scatterplot(
            frame.assign(label=[classes[k] for k in frame.label]),
            x="x",
            y="y",
            hue="label",
            hue_order=[classes[k] for k in sorted(set(frame.label))],
            s=6,
            alpha=0.5,
            linewidth=0,
            ax=ax,
        )
        ax.set(title=arm, xlabel="template plane, axis 1", ylabel="template plane, axis 2")
        ax.legend(fontsize=7, markerscale=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves(history: pd.DataFrame, title: str = ""):
    """Loss and accuracy per epoch: training part (augmented, training loss) and the selection part (hard labels)."""
    return run_curves(
        history,
        [
            ("loss", "loss", [("train_loss", "train (training loss)"), ("selection_loss", "selection (log loss)")]),
            (
                "accuracy",
                "accuracy",
                [("train_accuracy", "train"), ("selection_accuracy", "selection (selects the epoch)")],
            ),
        ],
        title,
    )


def effects_figure(effects: pd.DataFrame, baseline: str = BASELINE):
    """Each arm's paired difference from `baseline` per headline metric and model, with its 95% interval over seeds
    and images as error bar."""
    others = effects[(effects.arm != baseline) & (effects["paired seeds"] > 0)]
    arms = arm_order(others.arm)
    models = list(dict.fromkeys(others.model))
    fig, axes = plt.subplots(1, len(HEADLINE_METRICS), figsize=(3.4 * len(HEADLINE_METRICS), 3), squeeze=False)
    for ax, (metric, name) in zip(axes.flat, HEADLINE_METRICS.items()):
        ax.axhline(0, color="grey", linewidth=1)
        for k, model in enumerate(models):
            rows = others[(others.metric == metric) & (others.model == model)].set_index("arm").reindex(arms)
            x = np.arange(len(arms)) + (k - (len(models) - 1) / 2) * 0.15
            error = [(rows.difference - rows.ci_low).fillna(0), (rows.ci_high - rows.difference).fillna(0)]
            ax.errorbar(x, rows.difference, yerr=error, fmt="o", capsize=3, label=model)
        ax.set_xticks(range(len(arms)), arms)
        ax.set(title=f"{name} ({BETTER[metric]} is better)", xlim=(-0.5, max(len(arms), 1) - 0.5))
        ax.set_ylabel(f"arm − {baseline}")
    if not arms:
        axes.flat[0].text(0.5, 0.5, f"no arm paired with {baseline}", transform=axes.flat[0].transAxes, ha="center")
    if len(models) > 1:
        axes.flat[-1].legend(fontsize=7)
    spread = "over seeds and images" if (others["paired seeds"] > 1).all() else f"where one seed: {covers(1)}"
    fig.suptitle(f"Test, before temperature scaling: difference from {baseline}, paired by seed; 95% interval {spread}")
    fig.tight_layout()
    return fig
