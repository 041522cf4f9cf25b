"""Figures shared by the notebooks and the command line (seaborn on matplotlib)."""
from __future__ import annotations

import matplotlib.patches
import matplotlib.text
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator
import pandas as pd
import seaborn as sns
import torch

from nqmix_core.results import mean_interval


def q_tot_heatmaps(payoff: torch.Tensor, tables: dict[str, torch.Tensor],
                   picks: dict[str, tuple[int, ...]] | None = None, action_names: str = "ABCDEFGH",
                   ncols: int | None = None):
    """The true payoff beside each method's learned Q_tot, for two-agent games.

    ``tables`` maps a method label to its [U, U] Q_tot; ``picks`` to the joint action it chose,
    which is outlined in its panel. Panels fill rows of ``ncols`` (default: one row). Every panel
    shares one colour scale, symmetric around 0, shown by one colour bar at the right. Returns the
    matplotlib figure.
    """
    panels = {"true payoff": payoff, **tables}
    n_actions = payoff.shape[0]
    names = list(action_names[:n_actions])
    limit = float(max(t.abs().max() for t in panels.values()))
    ncols = min(ncols or len(panels), len(panels))
    nrows = -(-len(panels) // ncols)  # ceil
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.9 * ncols, 3.0 + 3.3 * (nrows - 1)), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (label, table) in zip(axes.flat, panels.items()):
        sns.heatmap(table.numpy(), ax=ax, annot=True, fmt=".1f", cmap="vlag", vmin=-limit, vmax=limit,
                    cbar=False, square=True, xticklabels=names, yticklabels=names)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("agent 2 action")
        ax.set_ylabel("agent 1 action")
        if picks and label in picks:
            row, col = picks[label]
            ax.add_patch(matplotlib.patches.Rectangle((col, row), 1, 1, fill=False, lw=3, ec="black"))
    fig.tight_layout()
    fig.subplots_adjust(right=0.87)  # room for the colour bar shared by every panel
    top, bottom = axes[0, 0].get_position().y1, axes[-1, 0].get_position().y0
    colour_bar = fig.colorbar(axes.flat[0].collections[0], cax=fig.add_axes([0.9, bottom, 0.018, top - bottom]))
    colour_bar.set_label("payoff / learned Q_tot")
    return fig


METHOD_COLOURS = {"NQMIX": "C3", "QMIX": "C0", "COMA": "C2", "NQMIX-M": "C4", "VDN": "C5", "IQL": "C8", "IPPO": "teal",
                  # the exploration study's NQMIX variants (notebook 06)
                  "NQMIX (τ per batch)": "C1", "NQMIX+ε": "C6", "NQMIX+H": "C9",
                  # the mechanism study's confirmed variant, drawn beside NQMIX and QMIX at 1M (notebook 06)
                  "NQMIX+mono": "darkorange",
                  # continuous actions (notebook 07): a darker shade of the family's colour; IDDPG its own
                  "NQMIX-cont": "darkred", "QMIX-cont": "navy", "IDDPG": "darkgoldenrod"}
"""One colour per method in every figure of the kit (matplotlib's C0–C9 cycle; grey is kept for references)."""

NOTEBOOK_WIDTH_INCHES = 9.0
"""A figure up to this wide (at matplotlib's 100 dpi) is shown at its own size in a notebook; a wider one is shrunk."""


def smallest_text_points(fig) -> float:
    """The smallest font size, in points, of the visible text of ``fig`` as a notebook shows it: a figure
    wider than ``NOTEBOOK_WIDTH_INCHES`` is shrunk to that width, and its text with it."""
    fig.canvas.draw()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    return min(t.get_fontsize() for t in texts) * min(1.0, NOTEBOOK_WIDTH_INCHES / fig.get_figwidth())


def learning_curves(runs, maps: list[str], methods: list[str],
                    metrics: tuple[str, ...] = ("test_greedy_win_rate", "test_stochastic_win_rate"),
                    references: dict[str, dict] | None = None, marks: tuple[int, ...] = ()):
    """The paper's Figure 2/3 layout: test win rate against env steps, one panel per map.

    ``runs`` is ``nqmix_core.results.load_runs``'s table. Lines are the mean over seeds at each
    evaluation ``t_eval``; bands are 95% t-intervals over seeds from ``results.mean_interval``, the one
    the claims are decided with (a seed without a value there is left out). Runs that stopped short
    (``partial``) are left out; one row of panels per metric.
    ``references`` (map -> ``reference.strongest_scripts``' row) draws the strongest scripted policy's win
    rate as a dashed grey line with its interval, and uniform random (0 on every SMAX map) is the x-axis.
    ``marks`` draws a dotted vertical line at each of these steps (a shorter budget read from the same runs).
    """
    if "partial" in runs:
        runs = runs[~runs["partial"]]
    fig, axes = plt.subplots(len(metrics), len(maps), figsize=(min(3.0 * len(maps), NOTEBOOK_WIDTH_INCHES) + 0.4,
                                                                  2.9 * len(metrics)),
                             squeeze=False, sharey=True)
    for row, metric in enumerate(metrics):
        for ax, map_name in zip(axes[row], maps):
            data = runs[(runs["map"] == map_name) & runs["method"].isin(methods)]
            for method in methods:
                per_step = data[data["method"] == method].groupby("t_eval")[metric]
                if not len(per_step):
                    continue
                band = per_step.apply(lambda v: pd.Series([v.mean(), *mean_interval(v)])).unstack()  # mean, low, high
                colour = METHOD_COLOURS.get(method)
                ax.plot(band.index, band[0], color=colour, label=method)
                ax.fill_between(band.index, band[1].clip(0, 1), band[2].clip(0, 1), color=colour, alpha=0.2)
            script = (references or {}).get(map_name)
            if script is not None:
                ax.axhline(script["win_rate"], color="0.35", ls="--", lw=1.2, label=f"best script ({script['policy']})")
                ax.axhspan(script["win_rate_low"], script["win_rate_high"], color="0.35", alpha=0.12, lw=0)
            for steps in marks:
                ax.axvline(steps, color="0.5", ls=":", lw=1.2, label=f"{steps / 1000:g}k-step budget")
            ax.set_title(seed_title(map_name, data.groupby("method")["seed"].nunique().to_dict(), methods), fontsize=10)
            ax.set_xlabel("environment steps")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))  # 150000 -> 150k
            ax.set_ylabel(metric.removeprefix("test_").replace("_", " "))
            ax.set_ylim(-0.02, 1.02)
    labelled = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.tight_layout()
    if labelled:  # one legend for every panel, below them, in text as large as the axes'
        height = legend_below(fig, labelled)
        fig.subplots_adjust(bottom=height + 0.6 / fig.get_figheight())  # + the tick labels and x label, 0.6 in
    return fig


def seed_title(map_name: str, seeds: dict[str, int], methods: list[str]) -> str:
    """A panel's title: the map and how many seeds each method has ("2s3z (5 seeds each)" when they agree;
    otherwise the count most methods share and the others by name, "2s3z\n(5 seeds each, NQMIX+mono 1)", on a
    second line so that neighbouring titles do not run together)."""
    counts = [seeds.get(m, 0) for m in methods]
    usual = max(counts, key=lambda n: (counts.count(n), n))
    each = f"{usual} seed{'s' if usual != 1 else ''} each"
    if len(set(counts)) == 1:
        return f"{map_name} ({each})"
    if counts.count(usual) == 1:  # no count is shared: one per method
        return f"{map_name}\n(seeds: {', '.join(f'{m} {n}' for m, n in zip(methods, counts))})"
    return f"{map_name}\n({each}, {', '.join(f'{m} {n}' for m, n in zip(methods, counts) if n != usual)})"


def legend_below(fig, labelled: dict) -> float:
    """One legend (label -> handle) centred below the panels, in as many columns as fit the figure's
    width (at most 5), so that no entry is cut off at the edges; returns its height as a fraction of the figure's."""
    for ncol in range(min(len(labelled), 5), 0, -1):
        legend = fig.legend(list(labelled.values()), list(labelled), loc="lower center", ncol=ncol,
                            fontsize=10, frameon=False, bbox_to_anchor=(0.5, 0.0))
        fig.canvas.draw()
        box = legend.get_window_extent()
        if ncol == 1 or box.width <= fig.bbox.width:
            return box.y1 / fig.bbox.height
        legend.remove()
    raise AssertionError("unreachable: one column always fits")
