"""A payoff editor for notebook 01: change a two-agent matrix game, retrain, see what was learned."""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from nqmix_core.matrix_games import MATRIX_METHODS, format_table, run_methods, summarise
from nqmix_core.plotting import q_tot_heatmaps


class PayoffEditor:
    """A grid of number boxes holding the payoff, a method picker, a Retrain button and the result.

    ``retrain()`` is what the button calls; tests and notebooks may call it directly.
    """

    def __init__(self, payoff, methods=("QMIX", "NQMIX, uniform data"), seeds=(0,), n_updates: int = 300):
        payoff = torch.as_tensor(payoff, dtype=torch.float32)
        self.n_updates, self.seeds = n_updates, tuple(seeds)
        self.cells = [[widgets.FloatText(value=float(payoff[i, j]), layout=widgets.Layout(width="70px"))
                       for j in range(payoff.shape[1])] for i in range(payoff.shape[0])]
        self.methods = widgets.SelectMultiple(options=list(MATRIX_METHODS), value=tuple(methods),
                                              description="methods")
        self.button = widgets.Button(description="Retrain", button_style="primary")
        self.output = widgets.Output()
        self.button.on_click(lambda _: self.retrain())
        grid = widgets.VBox([widgets.HBox(row) for row in self.cells])
        self.view = widgets.VBox([widgets.HBox([grid, self.methods, self.button]), self.output])
        self.last_summary: str | None = None

    def payoff(self) -> torch.Tensor:
        """The payoff currently typed into the grid: [U, U]."""
        return torch.tensor([[cell.value for cell in row] for row in self.cells])

    def retrain(self) -> str:
        """Train the chosen methods on the current payoff; show heatmaps and the summary table."""
        chosen = {label: MATRIX_METHODS[label] for label in self.methods.value}
        runs = run_methods(chosen, self.payoff(), self.seeds, self.n_updates)
        self.last_summary = format_table(summarise(runs))
        fig = q_tot_heatmaps(self.payoff(), {k: v[0].q_tot for k, v in runs.items()},
                             {k: v[0].joint_action for k, v in runs.items()})
        self.output.outputs = ()  # explicit appends work with and without a running kernel
        self.output.append_display_data(fig)
        self.output.append_stdout(self.last_summary + "\n")
        plt.close(fig)
        return self.last_summary

    def show(self) -> None:
        display(self.view)
