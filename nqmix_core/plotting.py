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


METHOD_COLOURS = {"NQMIX": "C3", "QMIX": "C0", "COMA": "C2", "NQMIX-M": "C1", "VDN": "C4"}


def learning_curves(runs, maps: list[str], methods: list[str],
                    metrics: tuple[str, ...] = ("test_greedy_win_rate", "test_stochastic_win_rate")):
    """The paper's Figure 2/3 layout: test win rate against env steps, one panel per map.

    ``runs`` is ``nqmix_core.results.load_runs``'s table. Lines are the mean over seeds with a 95%
    bootstrap interval (seaborn), at each evaluation ``t_eval``; one row of panels per metric.
    """
    fig, axes = plt.subplots(len(metrics), len(maps), figsize=(4.2 * len(maps), 3.2 * len(metrics)),
                             squeeze=False, sharey=True)
    for row, metric in enumerate(metrics):
        for ax, map_name in zip(axes[row], maps):
            data = runs[(runs["map"] == map_name) & runs["method"].isin(methods)]
            if data.empty:  # a partial sweep: say so instead of drawing nothing (and warning)
                ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes)
            else:
                sns.lineplot(data=data, x="t_eval", y=metric, hue="method", hue_order=methods, ax=ax,
                             errorbar=("ci", 95), n_boot=1000, seed=0, palette=METHOD_COLOURS,
                             legend=(row == 0 and map_name == maps[-1]))
            seeds = data.groupby("method")["seed"].nunique().to_dict()
            ax.set_title(f"{map_name} ({', '.join(f'{m} {seeds.get(m, 0)}' for m in methods)} seeds)", fontsize=9)
            ax.set_xlabel("environment steps")
            ax.set_ylabel(metric.removeprefix("test_").replace("_", " "))
            ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return fig
