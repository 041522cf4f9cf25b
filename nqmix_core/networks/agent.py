"""The agent network shared by all agents (the critic's per-agent part), App. B.1.

Input of agent a at time t: its observation o_t^a, the one-hot of its previous action u_{t-1}^a
(zeros at t = 0) and the one-hot of its id a (Sec. 4.2: needed because the network is shared).
Linear 64 + ReLU -> GRU 64 -> Linear |U| gives Q_a(τ_t^a, ·); the GRU state h_t^a is the history
encoding τ_t^a that the actors read too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def agent_inputs(obs: torch.Tensor, last_actions: torch.Tensor, n_actions: int) -> torch.Tensor:
    """Concatenate observation, last-action one-hot and agent-id one-hot.

    | argument       | shape            | meaning                                       |
    |----------------|------------------|-----------------------------------------------|
    | obs            | [..., N, O]      | observations                                  |
    | last_actions   | [..., N] int64   | previous actions, -1 where there was none     |
    | returns        | [..., N, O+U+N]  | network input                                 |
    """
    n_agents = obs.shape[-2]
    last_onehot = F.one_hot(last_actions.clamp(min=0), n_actions).to(obs.dtype)  # [..., N, U]
    last_onehot = last_onehot * (last_actions >= 0).unsqueeze(-1).to(obs.dtype)  # no action before t=0
    agent_ids = torch.eye(n_agents, dtype=obs.dtype, device=obs.device)  # [N, N]
    agent_ids = agent_ids.expand(*obs.shape[:-2], n_agents, n_agents)  # [..., N, N]
    return torch.cat([obs, last_onehot, agent_ids], dim=-1)  # [..., N, O+U+N]


def sequence_inputs(obs: torch.Tensor, actions: torch.Tensor, n_actions: int) -> torch.Tensor:
    """Network inputs for a whole episode batch.

    ``obs`` is [B, T+1, N, O] and ``actions`` [B, T, N]; the last action seen at step t is
    ``actions[:, t-1]`` (none at t = 0). Returns [B, T+1, N, O+U+N].
    """
    none = torch.full_like(actions[:, :1], -1)  # [B, 1, N]
    last_actions = torch.cat([none, actions], dim=1)  # [B, T+1, N]
    return agent_inputs(obs, last_actions, n_actions)


class AgentNetwork(nn.Module):
    """DRQN shared by all agents: Linear -> ReLU -> GRU -> Linear (App. B.1)."""

    def __init__(self, input_dim: int, n_actions: int, hidden_dim: int = 64) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.fc_in = nn.Linear(input_dim, hidden_dim)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
        self.fc_out = nn.Linear(hidden_dim, n_actions)

    def initial_hidden(self, batch_shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        """Zero history state of shape [*batch_shape, H]."""
        return torch.zeros(*batch_shape, self.hidden_dim, device=device)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unroll over a whole sequence with one fused GRU call.

        | argument | shape            |
        |----------|------------------|
        | inputs   | [B, T, N, D]     |
        | returns  | q [B, T, N, U], hidden [B, T, N, H] (h_t after reading step t) |
        """
        b, t, n, _ = inputs.shape
        x = F.relu(self.fc_in(inputs))  # [B, T, N, H]
        x = x.transpose(1, 2).reshape(b * n, t, self.hidden_dim)  # [B*N, T, H]
        hidden, _ = self.gru(x)  # [B*N, T, H]
        hidden = hidden.reshape(b, n, t, self.hidden_dim).transpose(1, 2)  # [B, T, N, H]
        return self.fc_out(hidden), hidden

    def step(self, inputs: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step while acting: inputs [E, N, D], hidden [E, N, H] -> q [E, N, U], hidden."""
        e, n, _ = inputs.shape
        x = F.relu(self.fc_in(inputs)).reshape(e * n, 1, self.hidden_dim)  # [E*N, 1, H]
        _, h_new = self.gru(x, hidden.reshape(1, e * n, self.hidden_dim))  # [1, E*N, H]
        h_new = h_new.reshape(e, n, self.hidden_dim)  # [E, N, H]
        return self.fc_out(h_new), h_new
