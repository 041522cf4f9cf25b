"""A payoff editor for notebook 01: change a two-agent matrix game, retrain, see what was learned."""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from nqmix_core.errors import UserError
from nqmix_core.teaching.matrix_fit import FIT_SCALE, MatrixFit, train_until_fitted
from nqmix_core.teaching.matrix_games import MATRIX_METHODS, format_agent_values, format_table, summarise
from nqmix_core.plotting import q_tot_heatmaps


class PayoffEditor:
    """A grid of number boxes holding the payoff, a method picker, a seed, a Retrain button and the result.

    Retrain trains each chosen method until its Q_tot fit stops improving (``train_until_fitted``:
    chunks of 100 updates, at least ``min_updates``, at most ``max_updates``) and says for each whether
    it converged. It shows the learned Q_tot beside the payoff, and each agent's Q_a (and π_a) beside
    each agent's payoff against a uniform partner. ``retrain()`` is what the button calls; tests and
    notebooks may call it directly.
    """

    def __init__(self, payoff, methods=("QMIX", "NQMIX, uniform data"), seed: int = 0,
                 min_updates: int = 500, max_updates: int = 3000):
        payoff = torch.as_tensor(payoff, dtype=torch.float32)
        self.min_updates, self.max_updates = min_updates, max_updates
        self.cells = [[widgets.FloatText(value=float(payoff[i, j]), layout=widgets.Layout(width="70px"))
                       for j in range(payoff.shape[1])] for i in range(payoff.shape[0])]
        self.methods = widgets.SelectMultiple(options=list(MATRIX_METHODS), value=tuple(methods),
                                              description="methods")
        self.seed = widgets.Dropdown(options=list(range(10)), value=seed, description="seed",
                                     layout=widgets.Layout(width="140px"))
        self.button = widgets.Button(description="Retrain", button_style="primary")
        self.progress = widgets.Label()
        self.output = widgets.Output()
        self.button.on_click(lambda _: self.retrain())
        grid = widgets.VBox([widgets.HBox(row) for row in self.cells])
        controls = widgets.VBox([self.seed, self.button, self.progress])
        self.view = widgets.VBox([widgets.HBox([grid, self.methods, controls]), self.output])
        self.fits: dict[str, MatrixFit] = {}
        self.last_summary: str | None = None

    def payoff(self) -> torch.Tensor:
        """The payoff currently typed into the grid: [U, U]."""
        return torch.tensor([[cell.value for cell in row] for row in self.cells])

    def train(self, payoff: torch.Tensor) -> dict[str, MatrixFit]:
        """Each chosen method trained on ``payoff`` until its fit converges (or the cap), on one CPU thread:
        the networks are tiny, and a second thread made training many times slower on a busy 2-core CPU."""
        fits, threads = {}, torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for label in self.methods.value:
                algo, uniform_data = MATRIX_METHODS[label]
                self.progress.value = f"training {label} (seed {self.seed.value})…"
                fits[label] = train_until_fitted(algo, payoff, self.seed.value, uniform_data,
                                                 min_updates=self.min_updates, max_updates=self.max_updates)
        finally:
            torch.set_num_threads(threads)
            self.progress.value = ""
        return fits

    def retrain(self) -> str:
        """Train the chosen methods on the current payoff; show heatmaps, fit status and agent values."""
        self.output.outputs = ()  # explicit appends work with and without a running kernel
        self.button.disabled = True
        try:
            payoff = self.payoff()
            self.fits = self.train(payoff)
        except UserError as error:
            self.progress.value = ""
            self.output.append_stderr(f"{error}\n")
            return str(error)
        finally:
            self.button.disabled = False
        self.last_summary = self.report(self.fits)
        if not self.fits:
            self.output.append_stdout(self.last_summary + "\n")
            return self.last_summary
        runs = {label: fit.run for label, fit in self.fits.items()}
        fig = q_tot_heatmaps(payoff, {k: run.q_tot for k, run in runs.items()},
                             {k: run.joint_action for k, run in runs.items()}, ncols=3)
        self.output.append_display_data(fig)
        self.output.append_stdout(self.last_summary + "\n")
        plt.close(fig)
        return self.last_summary

    @staticmethod
    def report(fits: dict[str, MatrixFit]) -> str:
        """The summary table, one fit status per method, and the agents' values, as text."""
        if not fits:
            return "No method chosen: select at least one in the list."
        runs = {label: fit.run for label, fit in fits.items()}
        width = max(len(label) for label in fits) + 2
        status = "\n".join(f"{label:<{width}}{fit.status()}" for label, fit in fits.items())
        return "\n\n".join([
            format_table(summarise({label: [run] for label, run in runs.items()})),
            f"training (on the payoff scaled to ±{FIT_SCALE:g}; every value shown is in your units):\n{status}",
            "per-agent values Q_a (and policies π_a), then each agent's payoff against a uniform partner:\n"
            + format_agent_values(runs)])

    def show(self) -> None:
        display(self.view)
