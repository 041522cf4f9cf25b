"""A target-lag explorer for notebook 03: how far a soft target network trails the online one.

Alg. 1 line 16 pulls every target parameter towards the online one, θ' ← τθ + (1 − τ)θ', once per time
step of the mini-batch. With one optimiser step per mini-batch of T steps that is one update at rate
r = 1 − (1 − τ)^T (``soft_update_rate``). After k updates a target that started a gap g away is
(1 − r)^k g away, so

| quantity                          | formula                 |
|-----------------------------------|-------------------------|
| per-update rate                   | r = 1 − (1 − τ)^T       |
| half-life of the gap, in updates  | ln 2 / −ln(1 − r)       |
| lag behind a steady drift, in updates | (1 − r) / r         |

(the last: if θ moves by v per update, the target settles (1 − r)/r · v behind it, where θ was
(1 − r)/r updates earlier). The plot runs the kit's own ``soft_update`` on a one-parameter network
whose online value ramps from 0 to 1 and then stays, once with τ per time step (the paper) and once
with τ once per update (the reading the kit used before).
"""
from __future__ import annotations

import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch import nn

from nqmix_core.learners.common import soft_update, soft_update_rate


def half_life(rate: float) -> float:
    """Updates until the gap to the online network halves: ln 2 / −ln(1 − rate)."""
    return math.log(2.0) / -math.log1p(-rate)


def drift_lag(rate: float) -> float:
    """How many updates behind a steadily moving online network the target settles: (1 − rate) / rate."""
    return (1.0 - rate) / rate


def online_ramp(n_updates: int) -> torch.Tensor:
    """The online parameter after each update: 0 → 1 linearly over the first half, then constant: [K]."""
    ramp_end = max(n_updates // 2, 1)
    return (torch.arange(1, n_updates + 1, dtype=torch.float64) / ramp_end).clamp(max=1.0)


def follow(online_values: torch.Tensor, rate: float) -> torch.Tensor:
    """The target parameter after each update, from ``soft_update`` on a one-parameter network: [K]."""
    online, target = nn.Linear(1, 1, bias=False).double(), nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        online.weight.zero_()
        target.weight.zero_()  # the target starts as a copy of the online network
    trace = []
    for value in online_values:
        with torch.no_grad():
            online.weight.fill_(value)  # the optimiser's step
        soft_update(target, online, rate)
        trace.append(target.weight.item())
    return torch.tensor(trace, dtype=torch.float64)


class TargetLagExplorer:
    """Sliders for τ and T, a plot of target against online parameter, and the rates printed.

    ``update()`` is what the sliders call; tests and notebooks may call it with new values.
    """

    def __init__(self, tau: float = 0.001, n_steps: int = 60, max_steps: int = 120, n_updates: int = 300):
        self.n_updates = n_updates
        self.tau = widgets.FloatLogSlider(value=tau, base=10, min=-4, max=-1, step=0.1, description="τ",
                                          readout_format=".4f", continuous_update=False)
        self.n_steps = widgets.IntSlider(value=n_steps, min=1, max=max_steps, description="T (steps)",
                                         continuous_update=False)
        self.output = widgets.Output()
        self.view = widgets.VBox([widgets.HBox([self.tau, self.n_steps]), self.output])
        self.summary = ""
        self._setting = False  # True while update() moves the sliders itself
        for slider in (self.tau, self.n_steps):
            slider.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, _change) -> None:
        if not self._setting:
            self.update()

    def rates(self) -> dict[str, float]:
        """Per-update rate with τ per time step (Alg. 1) and with τ once per update."""
        return {"per time step": soft_update_rate(self.tau.value, self.n_steps.value),
                "once per update": soft_update_rate(self.tau.value, 1)}

    def describe(self) -> str:
        """The rates, half-lives and drift lags for the sliders' values, one line per reading of τ."""
        lines = [f"τ = {self.tau.value:.4f}, T = {self.n_steps.value} time steps per mini-batch"]
        for reading, rate in self.rates().items():
            lines.append(f"τ {reading:15s}: rate r = {rate:.4f} per update, half-life {half_life(rate):.1f} "
                         f"updates, lag behind a steady drift {drift_lag(rate):.1f} updates")
        return "\n".join(lines)

    def figure(self) -> plt.Figure:
        online = online_ramp(self.n_updates)  # [K]
        updates = torch.arange(1, self.n_updates + 1)
        fig, ax = plt.subplots(figsize=(7.5, 3.0))
        ax.plot(updates, online, color="black", label="online θ")
        for (reading, rate), style in zip(self.rates().items(), ("-", "--")):
            ax.plot(updates, follow(online, rate), style, color="C3",
                    label=f"target θ', τ {reading} (r = {rate:.4f})")
        ax.set_xlabel("updates (mini-batches)")
        ax.set_ylabel("parameter")
        ax.legend(fontsize=8, loc="center right")
        fig.tight_layout()
        return fig

    def update(self, tau: float | None = None, n_steps: int | None = None) -> str:
        """Set τ and/or T (when given), redraw, and return the printed summary."""
        self._setting = True
        try:
            if tau is not None:
                self.tau.value = tau
            if n_steps is not None:
                self.n_steps.value = n_steps
        finally:
            self._setting = False
        self.summary = self.describe()
        fig = self.figure()
        self.output.outputs = ()  # explicit appends work with and without a running kernel
        self.output.append_display_data(fig)
        self.output.append_stdout(self.summary + "\n")
        plt.close(fig)
        return self.summary

    def show(self) -> None:
        display(self.view)
