"""Figures shared by the notebooks and the command line (seaborn on matplotlib)."""
from __future__ import annotations

import matplotlib.patches
import matplotlib.pyplot as plt
import seaborn as sns
import torch


def q_tot_heatmaps(payoff: torch.Tensor, tables: dict[str, torch.Tensor],
                   picks: dict[str, tuple[int, ...]] | None = None, action_names: str = "ABCDEFGH"):
    """The true payoff beside each method's learned Q_tot, for two-agent games.

    ``tables`` maps a method label to its [U, U] Q_tot; ``picks`` to the joint action it chose,
    which is outlined in its panel. Returns the matplotlib figure.
    """
    panels = {"true payoff": payoff, **tables}
    n_actions = payoff.shape[0]
    names = list(action_names[:n_actions])
    limit = float(max(t.abs().max() for t in panels.values()))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.9 * len(panels), 3.0), squeeze=False)
    for ax, (label, table) in zip(axes[0], panels.items()):
        sns.heatmap(table.numpy(), ax=ax, annot=True, fmt=".1f", cmap="vlag", vmin=-limit, vmax=limit,
                    cbar=False, square=True, xticklabels=names, yticklabels=names)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("agent 2 action")
        ax.set_ylabel("agent 1 action")
        if picks and label in picks:
            row, col = picks[label]
            ax.add_patch(matplotlib.patches.Rectangle((col, row), 1, 1, fill=False, lw=3, ec="black"))
    fig.tight_layout()
    return fig
