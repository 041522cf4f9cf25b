"""A behaviour-policy slider for notebook 02a: move b_λ away from π and watch the bias of Eq. 3.

The behaviour policy is b_λ = softmax((1 − λ)θ + λθ_b): λ = 0 is the target policy π = softmax(θ)
itself (on-policy), λ = 1 is b = softmax(θ_b). For each λ the widget compares the off-policy gradient
of Eq. 3, g = Σ_s d^b(s) Σ_u ∇π(u|s) Q^π(s, u), with the exact ∇J on a tabular MDP, using only
``nqmix_core.teaching.theory`` (float64, exact linear solves).
"""
from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, display

from nqmix_core.teaching import theory as th


def behaviour_logits(theta: torch.Tensor, theta_b: torch.Tensor, lam: float) -> torch.Tensor:
    """The logits (1 − λ)θ + λθ_b of b_λ: θ, θ_b [S, U] -> [S, U]."""
    return (1 - lam) * theta + lam * theta_b


class BehaviourSlider:
    """A λ slider for b_λ, the bias of Eq. 3 at that λ as text, and a bar chart of Eq. 3 against ∇J.

    ``update(lam)`` is what moving the slider calls; tests and notebooks may call it directly.
    ``measure(lam)`` gives the same numbers without showing anything.

    | argument | shape  | meaning                                   |
    |----------|--------|-------------------------------------------|
    | mdp      |        | a ``theory.TabularMDP`` with S states     |
    | theta    | [S, U] | logits of the target policy π             |
    | theta_b  | [S, U] | logits of the far behaviour policy b = b_1 |
    """

    def __init__(self, mdp: th.TabularMDP, theta: torch.Tensor, theta_b: torch.Tensor, lam: float = 0.0,
                 step: float = 0.05):
        self.mdp, self.theta, self.theta_b = mdp, theta, theta_b
        policy = th.softmax_policy(theta)  # [S, U]
        _, self.q_values = th.value_functions(mdp, policy)  # [S, U]
        self.d_pi = th.discounted_visitation(mdp, policy)  # [S]
        self.grad_j = th.exact_gradient(mdp, theta)  # [S, U]
        self.slider = widgets.FloatSlider(value=lam, min=0.0, max=1.0, step=step, description="λ",
                                          continuous_update=False, readout_format=".2f")
        self.output = widgets.Output()
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        self.view = widgets.VBox([self.slider, self.output])
        self.last_row: dict[str, float] | None = None
        self.update(lam)

    def off_policy_gradient(self, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 3's g [S, U] and the behaviour visitation d^b [S] for b = b_λ."""
        behaviour = th.softmax_policy(behaviour_logits(self.theta, self.theta_b, lam))  # [S, U]
        d_b = th.discounted_visitation(self.mdp, behaviour)  # [S]
        return th.policy_gradient_sum(self.theta, self.q_values, d_b), d_b

    def measure(self, lam: float) -> dict[str, float]:
        """Relative error and cosine of Eq. 3 against ∇J, and the TV distance of the normalised visitations."""
        eq3, d_b = self.off_policy_gradient(lam)
        return self._row(lam, eq3, d_b)

    def _row(self, lam: float, eq3: torch.Tensor, d_b: torch.Tensor) -> dict[str, float]:
        tv = 0.5 * (1 - self.mdp.gamma) * (d_b - self.d_pi).abs().sum()  # (1 − γ)d is a distribution
        return {"λ": float(lam), "relative error": th.relative_error(eq3, self.grad_j).item(),
                "cosine to ∇J": th.cosine_similarity(eq3, self.grad_j).item(), "TV(d^b, d^π)": tv.item()}

    def update(self, lam: float) -> dict[str, float]:
        """Measure at λ, then show the numbers and the figure in ``output``; returns the numbers."""
        eq3, d_b = self.off_policy_gradient(lam)
        self.last_row = row = self._row(lam, eq3, d_b)
        fig, png = self._figure(eq3, d_b), io.BytesIO()
        fig.savefig(png, format="png", dpi=90)  # a PNG of its own: shown the same with or without IPython
        plt.close(fig)
        self.output.outputs = ()  # explicit appends work with and without a running kernel
        self.output.append_stdout(
            f"λ = {lam:.2f}:  relative error ‖g − ∇J‖/‖∇J‖ = {row['relative error']:.3f},  "
            f"cosine to ∇J = {row['cosine to ∇J']:.3f},  TV(d^b, d^π) = {row['TV(d^b, d^π)']:.3f}\n")
        self.output.append_display_data(Image(data=png.getvalue(), format="png"))
        return row

    def _figure(self, eq3: torch.Tensor, d_b: torch.Tensor) -> plt.Figure:
        """Left: the normalised visitations; right: every entry of ∇J and of Eq. 3, side by side."""
        n_states, n_actions = eq3.shape
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 2.8), gridspec_kw={"width_ratios": [1, 2.5]})
        states = np.arange(n_states)
        scale = 1 - self.mdp.gamma
        left.bar(states - 0.2, scale * self.d_pi.numpy(), width=0.4, label="(1−γ) d^π")
        left.bar(states + 0.2, scale * d_b.numpy(), width=0.4, label="(1−γ) d^b")
        left.set(xticks=states, xticklabels=[f"s{s}" for s in states], title="state weights")
        left.legend(fontsize=8)
        entries = np.arange(n_states * n_actions)
        right.bar(entries - 0.2, self.grad_j.flatten().numpy(), width=0.4, label="∇J (exact)")
        right.bar(entries + 0.2, eq3.flatten().numpy(), width=0.4, label="Eq. 3")
        right.axhline(0, color="k", lw=0.8)
        right.set(xticks=entries, xticklabels=[f"s{s}u{u}" for s in range(n_states) for u in range(n_actions)],
                  title="gradient entries ∂/∂θ[s, u]")
        right.tick_params(axis="x", labelsize=7)
        right.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def show(self) -> None:
        display(self.view)
