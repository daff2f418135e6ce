"""Figures of the single-label notebooks; each function returns its matplotlib Figure, computing nothing new."""

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

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
    """Loss and accuracy per epoch: training part (augmented, training loss) and validation (hard labels)."""
    return run_curves(
        history,
        [
            ("loss", "loss", [("train_loss", "train (training loss)"), ("val_loss", "validation (log loss)")]),
            ("accuracy", "accuracy", [("train_accuracy", "train"), ("val_accuracy", "validation (selects the epoch)")]),
        ],
        title,
    )
