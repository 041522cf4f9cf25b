"""Networks for continuous actions (Alg. 2): a shared critic agent network Q_a(τ, u) and per-agent
deterministic actors μ_a(τ).

Critic agent network (shared by all agents, like the discrete one of App. B.1)
    Input of agent a at step t: o_t^a, its previous action vector u_{t-1}^a (zeros at t = 0) and
    the one-hot of a. Linear 64 + ReLU -> GRU 64 gives the history state h_t^a (= τ_t^a). The action
    under evaluation enters *after* the GRU: Q_a(τ_t^a, u) = Linear 1 (ReLU (Linear 64 [h_t^a, u])).
    So h_t^a never depends on u_t, one unroll serves every action we want to value (the replayed
    u_t for the TD step, μ_a(τ_t) for the actor step, μ'_a(τ_{t+1}) for the target), and ∇_u Q_a is
    one autograd call.

Actors (one per agent, not shared: Sec. 4.2)
    Like the discrete actors they read the critic's GRU state h_t^a (detached by the learner):
    Linear 64 + ReLU -> Linear A -> tanh, rescaled to [low, high]. The tanh squashing is how action
    bounds are held: μ_a lies inside the bounds for every parameter value, so no clamp
    (whose gradient is zero outside the box) ever blocks the actor's gradient. The N actors are
    one module with [N, in, out] weights (``BatchedLinear``), applied with one einsum.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nqmix_core.networks.actors import BatchedLinear


def continuous_agent_inputs(obs: torch.Tensor, last_actions: torch.Tensor) -> torch.Tensor:
    """Concatenate observation, last action vector and agent-id one-hot.

    | argument     | shape           | meaning                                     |
    |--------------|-----------------|---------------------------------------------|
    | obs          | [..., N, O]     | observations                                |
    | last_actions | [..., N, A]     | previous actions (zeros where there was none) |
    | returns      | [..., N, O+A+N] | network input                               |
    """
    n_agents = obs.shape[-2]
    agent_ids = torch.eye(n_agents, dtype=obs.dtype, device=obs.device)  # [N, N]
    agent_ids = agent_ids.expand(*obs.shape[:-2], n_agents, n_agents)  # [..., N, N]
    return torch.cat([obs, last_actions.to(obs.dtype), agent_ids], dim=-1)  # [..., N, O+A+N]


def continuous_sequence_inputs(obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Inputs for a whole episode batch: obs [B, T+1, N, O], actions [B, T, N, A] -> [B, T+1, N, O+A+N].

    The last action seen at step t is ``actions[:, t-1]`` (the zero vector at t = 0).
    """
    none = torch.zeros_like(actions[:, :1])  # [B, 1, N, A]
    return continuous_agent_inputs(obs, torch.cat([none, actions], dim=1))  # [B, T+1, N, O+A+N]


class ContinuousAgentNetwork(nn.Module):
    """Shared critic agent network: GRU history state h_t^a, then Q_a(τ, u) from [h, u]."""

    def __init__(self, input_dim: int, action_dim: int, hidden_dim: int = 64) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.fc_in = nn.Linear(input_dim, hidden_dim)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
        self.fc_q = nn.Linear(hidden_dim + action_dim, hidden_dim)
        self.fc_out = nn.Linear(hidden_dim, 1)

    def initial_hidden(self, batch_shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        """Zero history state of shape [*batch_shape, H]."""
        return torch.zeros(*batch_shape, self.hidden_dim, device=device)

    def history(self, inputs: torch.Tensor) -> torch.Tensor:
        """Unroll the GRU over a sequence: inputs [B, T, N, D] -> hidden [B, T, N, H] (h_t after step t)."""
        b, t, n, _ = inputs.shape
        x = F.relu(self.fc_in(inputs))  # [B, T, N, H]
        x = x.transpose(1, 2).reshape(b * n, t, self.hidden_dim)  # [B*N, T, H]
        hidden, _ = self.gru(x)  # [B*N, T, H]
        return hidden.reshape(b, n, t, self.hidden_dim).transpose(1, 2)  # [B, T, N, H]

    def step(self, inputs: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """One time step while acting: inputs [E, N, D], hidden [E, N, H] -> new hidden [E, N, H]."""
        e, n, _ = inputs.shape
        x = F.relu(self.fc_in(inputs)).reshape(e * n, 1, self.hidden_dim)  # [E*N, 1, H]
        _, h_new = self.gru(x, hidden.reshape(1, e * n, self.hidden_dim))  # [1, E*N, H]
        return h_new.reshape(e, n, self.hidden_dim)  # [E, N, H]

    def q(self, hidden: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q_a(τ, u): hidden [..., N, H], actions [..., N, A] -> [..., N]."""
        x = F.relu(self.fc_q(torch.cat([hidden, actions], dim=-1)))  # [..., N, H]
        return self.fc_out(x).squeeze(-1)  # [..., N]


class DeterministicActors(nn.Module):
    """The N per-agent deterministic policies μ_a(τ_a; θ_a) of Alg. 2, squashed into [low, high]."""

    def __init__(self, n_agents: int, rnn_hidden_dim: int, action_dim: int, hidden_dim: int,
                 bounds: tuple[float, float]) -> None:
        super().__init__()
        self.fc1 = BatchedLinear(n_agents, rnn_hidden_dim, hidden_dim)
        self.fc2 = BatchedLinear(n_agents, hidden_dim, action_dim)
        self.low, self.high = float(bounds[0]), float(bounds[1])

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [..., N, H] -> actions [..., N, A], every component inside [low, high]."""
        squashed = torch.tanh(self.fc2(torch.relu(self.fc1(hidden))))  # [..., N, A] in (−1, 1)
        return self.low + (self.high - self.low) * (squashed + 1.0) / 2.0


