"""Figures of the single-label notebooks; each function returns its matplotlib Figure, computing nothing new."""
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def curves(history: pd.DataFrame, title: str = ""):
    """Loss and accuracy per epoch: training part (augmented, training loss) and validation (hard labels)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    left.plot(history.epoch, history.train_loss, marker="o", label="train (training loss)")
    left.plot(history.epoch, history.val_loss, marker="o", label="validation (log loss)")
    right.plot(history.epoch, history.train_accuracy, marker="o", label="train")
    right.plot(history.epoch, history.val_accuracy, marker="o", label="validation (selects the epoch)")
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    right.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    left.legend()
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def projection(points: dict[str, pd.DataFrame], classes: list[str], title: str):
    """Penultimate-layer features of three classes, one panel per arm (Mueller et al.'s figure)."""
    fig, axes = plt.subplots(1, len(points), figsize=(4.2 * len(points), 4), squeeze=False)
    for ax, (arm, frame) in zip(axes.flat, points.items()):
        sns.scatterplot(frame.assign(label=[classes[k] for k in frame.label]), x="x", y="y", hue="label",
                        hue_order=[classes[k] for k in sorted(set(frame.label))], s=6, alpha=0.5, linewidth=0, ax=ax)
        ax.set(title=arm, xlabel="template plane, axis 1", ylabel="template plane, axis 2")
        ax.legend(fontsize=7, markerscale=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def epoch_panels(histories: pd.DataFrame, value: str, ylabel: str):
    """One line per run: a column of history.csv against the epoch."""
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.lineplot(histories, x="epoch", y=value, hue="run", marker="o", ax=ax)
    ax.set(ylabel=ylabel)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig
