"""Cooperative games with continuous actions, vectorised in torch.

``TwoPeakGame``: a one-step game for two agents, each choosing one number u_a in [−1, 1]. The team
reward is the larger of two quadratic bumps (the "max of two quadratics" of the relative-
overgeneralisation literature):

    r(u) = max( h_low  − ‖u − c_low ‖² / w_low² ,
                h_high − ‖u − c_high‖² / w_high² ),     u = (u_1, u_2), c = (c, c)

A broad, low peak at (c_low, c_low) and a narrow, high one at (c_high, c_high). Which peak is better
for agent 1 depends on what agent 2 plays, so the landscape cannot be written as a monotonic mix of
per-agent values (the best u_1 is c_low when u_2 = c_low and c_high when u_2 = c_high). Whether an
agent that judges its action by the reward *averaged* over its partner's exploration prefers the broad
peak (relative overgeneralisation) depends on how widely the partner explores: with a partner playing
N(0, 0.5²) the high peak's coordinate still scores better (notebook 07 prints it).

Observations and state are a constant 1; ``won`` is "the joint action beat the low peak's best
reward", i.e. it landed on the high peak's hill above h_low.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nqmix_core.envs.base import EnvInfo, Observation, StepResult
from nqmix_core.errors import UserError


@dataclass(frozen=True)
class TwoPeakPayoff:
    """Where the two peaks are, how high and how wide (each peak's centre is (c, c))."""

    low_center: float = -0.5
    """c_low: the broad, low peak sits at (c_low, c_low)."""
    low_height: float = 0.0
    """h_low: its reward at the top."""
    low_width: float = 0.6
    """w_low: the reward falls by 1 at distance w_low from its top."""
    high_center: float = 0.5
    """c_high: the narrow, high peak sits at (c_high, c_high)."""
    high_height: float = 1.0
    """h_high: the best reward of the game."""
    high_width: float = 0.4
    """w_high: the reward falls by 1 at distance w_high from its top."""

    def __post_init__(self) -> None:
        if not (self.low_width > 0 and self.high_width > 0 and self.high_height > self.low_height):
            raise UserError("A two-peak payoff needs positive widths and high_height > low_height; "
                            "see TwoPeakPayoff in nqmix_core/envs/two_peak.py.")


def two_peak_reward(actions: torch.Tensor, payoff: TwoPeakPayoff = TwoPeakPayoff()) -> torch.Tensor:
    """r(u) for joint actions u = (u_1, u_2): [..., 2] -> [...]."""
    u = actions
    low = payoff.low_height - (u - payoff.low_center).pow(2).sum(-1) / payoff.low_width ** 2  # [...]
    high = payoff.high_height - (u - payoff.high_center).pow(2).sum(-1) / payoff.high_width ** 2  # [...]
    return torch.maximum(low, high)


def on_high_peak(actions: torch.Tensor, payoff: TwoPeakPayoff = TwoPeakPayoff()) -> torch.Tensor:
    """True where the joint action [..., 2] earns more than the low peak's best: [...] bool."""
    return two_peak_reward(actions, payoff) > payoff.low_height


class TwoPeakGame:
    """The two-agent, one-step "max of two quadratics" game, for E copies at once."""

    def __init__(self, n_envs: int = 1, device: torch.device | str = "cpu",
                 payoff: TwoPeakPayoff = TwoPeakPayoff()) -> None:
        self.device, self.n_envs, self.payoff = torch.device(device), n_envs, payoff
        self.info = EnvInfo(n_agents=2, obs_dim=1, state_dim=1, n_actions=1, episode_limit=1,
                            action_bounds=(-1.0, 1.0))

    def _observation(self) -> Observation:
        e = self.n_envs
        return Observation(obs=torch.ones(e, 2, 1, device=self.device), state=torch.ones(e, 1, device=self.device),
                           avail_actions=torch.ones(e, 2, 1, dtype=torch.bool, device=self.device))

    def reset(self, seed: int | None = None) -> Observation:
        return self._observation()

    def step(self, actions: torch.Tensor) -> StepResult:
        """actions [E, 2, 1] in [−1, 1] (values outside are clipped, as a real actuator would)."""
        u = actions.reshape(self.n_envs, 2).clamp(-1.0, 1.0)  # [E, 2]
        reward = two_peak_reward(u, self.payoff)  # [E]
        done = torch.ones(self.n_envs, dtype=torch.bool, device=self.device)
        return StepResult(next=self._observation(), reward=reward, terminated=done,
                          timed_out=torch.zeros_like(done), won=on_high_peak(u, self.payoff))

    def close(self) -> None:
        pass
