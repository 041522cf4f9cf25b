"""Cooperative matrix games, vectorised in torch.

``MatrixGame``: one step; every agent picks an action and all receive ``payoff[u_1, ..., u_N]``.
Observations and state are a constant 1, so the only thing to learn is the payoff's structure.
Any number of agents ≥ 2 and any payoff tensor of shape [U] * N work.

``TwoStepGame``: the QMIX paper's two-step game. In state 1 the first agent's action picks state 2A
(action 0) or 2B (action 1), reward 0. In 2A every joint action pays 7; in 2B the payoff is
[[0, 1], [1, 8]]. Agents see the one-hot of the current state. The optimum is 2B with (1, 1): 8.
"""
from __future__ import annotations

import torch

from nqmix_core.envs.base import EnvInfo, Observation, StepResult
from nqmix_core.errors import UserError

QTRAN_PAYOFF = [[8.0, -12.0, -12.0], [-12.0, 0.0, 0.0], [-12.0, 0.0, 0.0]]
"""The non-monotonic game of QTRAN, WQMIX and QPLEX; rows/columns are actions A, B, C."""

TWO_STEP_PAYOFF_2B = [[0.0, 1.0], [1.0, 8.0]]


def _check_payoff(payoff: torch.Tensor) -> None:
    if payoff.dim() < 2 or len(set(payoff.shape)) != 1 or payoff.shape[0] < 2:
        raise UserError(f"A payoff must have one axis per agent (at least 2) and the same number "
                        f"(at least 2) of actions on each axis, but its shape is {tuple(payoff.shape)}.")
    if not torch.isfinite(payoff).all():
        raise UserError("The payoff contains NaN or infinite entries; give finite numbers.")


class MatrixGame:
    """A one-step cooperative game with a shared payoff tensor, for E copies at once."""

    def __init__(self, payoff=QTRAN_PAYOFF, n_envs: int = 1, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.payoff = torch.as_tensor(payoff, dtype=torch.float32, device=self.device)  # [U] * N
        _check_payoff(self.payoff)
        n_agents, n_actions = self.payoff.dim(), self.payoff.shape[0]
        self.info = EnvInfo(n_agents=n_agents, obs_dim=1, state_dim=1, n_actions=n_actions, episode_limit=1)
        self.n_envs = n_envs

    def _observation(self) -> Observation:
        e, n, u = self.n_envs, self.info.n_agents, self.info.n_actions
        return Observation(obs=torch.ones(e, n, 1, device=self.device),
                           state=torch.ones(e, 1, device=self.device),
                           avail_actions=torch.ones(e, n, u, dtype=torch.bool, device=self.device))

    def reset(self, seed: int | None = None) -> Observation:
        return self._observation()

    def step(self, actions: torch.Tensor) -> StepResult:
        reward = self.payoff[tuple(actions.unbind(-1))]  # [E]
        done = torch.ones(self.n_envs, dtype=torch.bool, device=self.device)
        return StepResult(next=self._observation(), reward=reward, terminated=done,
                          timed_out=torch.zeros_like(done), won=reward >= self.payoff.max())

    def close(self) -> None:
        pass


class TwoStepGame:
    """The two-step game of the QMIX paper (Rashid et al., 2018, Sec. 6.1), for E copies."""

    def __init__(self, n_envs: int = 1, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.info = EnvInfo(n_agents=2, obs_dim=3, state_dim=3, n_actions=2, episode_limit=2)
        self.n_envs = n_envs
        self.payoff_2b = torch.tensor(TWO_STEP_PAYOFF_2B, device=self.device)
        self.current = torch.zeros(n_envs, dtype=torch.long, device=self.device)  # 0: 1, 1: 2A, 2: 2B

    def _observation(self) -> Observation:
        onehot = torch.nn.functional.one_hot(self.current, 3).float()  # [E, 3]
        return Observation(obs=onehot.unsqueeze(1).expand(-1, 2, -1).clone(), state=onehot,
                           avail_actions=torch.ones(self.n_envs, 2, 2, dtype=torch.bool, device=self.device))

    def reset(self, seed: int | None = None) -> Observation:
        self.current = torch.zeros(self.n_envs, dtype=torch.long, device=self.device)
        return self._observation()

    def step(self, actions: torch.Tensor) -> StepResult:
        first_step = self.current == 0  # [E]
        second_reward = torch.where(self.current == 1, torch.full_like(first_step, 7, dtype=torch.float32),
                                    self.payoff_2b[actions[:, 0], actions[:, 1]])  # [E]
        reward = torch.where(first_step, torch.zeros_like(second_reward), second_reward)
        self.current = torch.where(first_step, 1 + actions[:, 0], self.current)
        terminated = ~first_step
        return StepResult(next=self._observation(), reward=reward, terminated=terminated,
                          timed_out=torch.zeros_like(terminated), won=terminated & (reward >= 8))

    def close(self) -> None:
        pass
