"""COMA's centralised critic (Foerster et al. 2018, Sec. 4), as pymarl builds it for SMAC.

For agent a at step t it reads the global state s_t, a's own observation o_t^a, the one-hot actions
u_t^{-a} of all the *other* agents (a's own block is zeroed, so the size is N·U for every agent),
the one-hot actions u_{t-1} of all agents at the previous step, and a's id. An MLP
128 -> ReLU -> 128 -> ReLU -> |U| then gives Q(s_t, (u_t^{-a}, u)) for every own action u in one
pass: exactly the numbers the counterfactual baseline (Eq. 6) needs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def coma_critic_input_dim(state_dim: int, obs_dim: int, n_agents: int, n_actions: int) -> int:
    """S + O + N·U (others' actions) + N·U (last actions) + N (agent id)."""
    return state_dim + obs_dim + 2 * n_agents * n_actions + n_agents


def coma_critic_inputs(state: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor, n_actions: int) -> torch.Tensor:
    """The critic's input for every agent and step.

    | argument | shape            | meaning                                            |
    |----------|------------------|----------------------------------------------------|
    | state    | [B, T, S]        | s_t                                                |
    | obs      | [B, T, N, O]     | o_t^a                                              |
    | actions  | [B, T, N] int64  | u_t (the last action of step t is actions[:, t-1]) |
    | returns  | [B, T, N, D]     | D = S + O + 2·N·U + N                              |
    """
    b, t, n = actions.shape
    joint = F.one_hot(actions, n_actions).to(obs.dtype)  # [B, T, N, U]
    others = 1.0 - torch.eye(n, dtype=obs.dtype, device=obs.device)  # [N(agent), N(other)]
    others_actions = joint.unsqueeze(2) * others.view(1, 1, n, n, 1)  # [B, T, N, N, U], own block zero
    others_actions = others_actions.reshape(b, t, n, n * n_actions)  # [B, T, N, N·U]
    last = torch.cat([torch.zeros_like(joint[:, :1]), joint[:, :-1]], dim=1)  # [B, T, N, U], none at t=0
    last = last.reshape(b, t, 1, n * n_actions).expand(b, t, n, n * n_actions)  # [B, T, N, N·U]
    ids = torch.eye(n, dtype=obs.dtype, device=obs.device).expand(b, t, n, n)  # [B, T, N, N]
    states = state.unsqueeze(2).expand(b, t, n, state.shape[-1])  # [B, T, N, S]
    return torch.cat([states, obs, others_actions, last, ids], dim=-1)  # [B, T, N, D]


class COMACritic(nn.Module):
    """MLP 128-128-|U| shared by all agents: inputs [..., D] -> Q(s, (u^{-a}, ·)) [..., U]."""

    def __init__(self, input_dim: int, n_actions: int, hidden_dim: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, n_actions))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs)
