"""Per-agent actors, one per agent and not shared (Sec. 4.2, App. B.1).

Each actor reads the agent network's history state h_t^a: Linear 64 + ReLU -> Linear |U| ->
softmax over the available actions. The N actors are one module whose weights carry a leading
agent axis ([N, in, out]) and are applied with one einsum, not a Python loop over agents.
Because RMSprop is element-wise, one RMSprop over these stacked weights is exactly N independent
RMSprop optimisers, one per actor, as App. B describes.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from nqmix_core.action_selection import masked_softmax


class BatchedLinear(nn.Module):
    """N independent linear layers, weights [N, in, out], applied to inputs [..., N, in]."""

    def __init__(self, n_agents: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)  # the same uniform init nn.Linear uses, per agent
        self.weight = nn.Parameter(torch.empty(n_agents, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_agents, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...ni,nio->...no", x, self.weight) + self.bias  # [..., N, out]


class Actors(nn.Module):
    """The N per-agent policies π_a(u|τ_a; θ_a) of NQMIX."""

    def __init__(self, n_agents: int, rnn_hidden_dim: int, n_actions: int, hidden_dim: int = 64) -> None:
        super().__init__()
        self.fc1 = BatchedLinear(n_agents, rnn_hidden_dim, hidden_dim)
        self.fc2 = BatchedLinear(n_agents, hidden_dim, n_actions)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [..., N, H] -> logits [..., N, U]."""
        return self.fc2(torch.relu(self.fc1(hidden)))

    def forward(self, hidden: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor:
        """hidden [..., N, H], avail [..., N, U] bool -> π [..., N, U] (zero on unavailable actions)."""
        return masked_softmax(self.logits(hidden), avail_actions)
