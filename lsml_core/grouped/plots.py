"""Figures of the grouped report; each function returns its matplotlib Figure, computing nothing new."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lsml_core.grouped.ablations import LEVEL, ablation_label, interval_scope


def ablations_figure(table: pd.DataFrame):
    """Each ablation's difference in test exact match (changed - control) with its interval."""
    labels = [ablation_label(row) for row in table.to_dict("records")]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.4 * max(len(labels), 1)))
    ax.axvline(0, color="grey", linewidth=1)
    y = np.arange(len(labels))[::-1]
    if len(labels):
        error = [
            (table.difference - table["interval low"]).clip(lower=0),
            (table["interval high"] - table.difference).clip(lower=0),
        ]
        ax.errorbar(table.difference, y, xerr=error, fmt="o", capsize=3)
    else:
        ax.text(0.5, 0.5, "no ablation has both of its runs finished", transform=ax.transAxes, ha="center")
    ax.set_yticks(y, labels)
    ax.set(
        xlabel="difference in test exact match (changed - control)",
        title=f"Ablations: difference with its {LEVEL:.0%} interval over {interval_scope(table)}",
    )
    fig.tight_layout()
    return fig
