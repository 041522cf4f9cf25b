"""Turning values or policies into actions, always among the available ones.

All functions take a ``generator`` so a seeded run is reproducible on any device.

An agent with no available action at all only occurs on padded steps (after an episode's end):
a discrete environment must leave every agent at least one action, and the runner stops with a
``UserError`` when one does not. On such a step every function here treats all U actions as
available, exactly as ``masked_softmax`` does, so each distribution still sums to 1 and no
NaN (0/0) can reach ``sample``.
"""
from __future__ import annotations

import torch

MASKED_LOGIT = -1e10
"""Logit given to unavailable actions: exp() of it is exactly 0 in float32, and it stays finite,
so a step with no available action at all (padding) gives a uniform policy instead of NaN."""


def masked_softmax(logits: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor:
    """π(u|τ) over the available actions only: logits [..., U], avail [..., U] bool -> [..., U]."""
    return torch.softmax(logits.masked_fill(~avail_actions, MASKED_LOGIT), dim=-1)


def greedy(scores: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor:
    """argmax over available actions: scores [..., U], avail [..., U] bool -> [...] int64."""
    return scores.masked_fill(~avail_actions, float("-inf")).argmax(-1)


def sample(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw from each categorical distribution: probs [..., U] -> [...] int64."""
    flat = probs.reshape(-1, probs.shape[-1])  # [M, U]
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


def uniform_over_available(avail_actions: torch.Tensor) -> torch.Tensor:
    """The uniform distribution over available actions: [..., U] bool -> [..., U].

    An agent with no available action gets the uniform distribution over all U actions (1/U each).
    """
    none_available = ~avail_actions.any(-1, keepdim=True)  # [..., 1]
    weights = (avail_actions | none_available).float()  # [..., U]
    return weights / weights.sum(-1, keepdim=True)


def epsilon_greedy(agent_qs: torch.Tensor, avail_actions: torch.Tensor, epsilon: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability ε a uniformly random available action, else the greedy one. [..., U] -> [...]."""
    random_actions = sample(uniform_over_available(avail_actions), generator)
    explore = torch.rand(agent_qs.shape[:-1], generator=generator, device=agent_qs.device) < epsilon
    return torch.where(explore, random_actions, greedy(agent_qs, avail_actions))


def with_epsilon_floor(policy: torch.Tensor, avail_actions: torch.Tensor, epsilon: float) -> torch.Tensor:
    """(1−ε)·π + ε·uniform over the available actions: [..., U] -> [..., U].

    Finite for every ε in [0, 1], also for an agent with no available action (then uniform over all U
    if π is, as ``masked_softmax`` makes it).
    """
    return (1.0 - epsilon) * policy + epsilon * uniform_over_available(avail_actions)


def epsilon_softmax_then_mask(logits: torch.Tensor, avail_actions: torch.Tensor, epsilon: float) -> torch.Tensor:
    """COMA's behaviour policy as pymarl builds it (``mask_before_softmax: False``): [..., U] -> [..., U].

    softmax over all |U| logits, mix in ε/|U| for every action, then zero the unavailable actions
    and renormalise: π_b(u) ∝ avail(u)·((1 − ε)·softmax(z)_u + ε/|U|). An unavailable action's logit
    still takes probability mass before the renormalisation, so this is not (1 − ε)·π + ε·uniform over
    the available actions. With ε = 0 it equals the softmax over the available actions. A row with no
    available action at all comes out as zeros.
    """
    n_actions = logits.shape[-1]
    probs = (1.0 - epsilon) * torch.softmax(logits, dim=-1) + epsilon / n_actions  # [..., U]
    probs = probs * avail_actions
    total = probs.sum(-1, keepdim=True)  # [..., 1]
    return probs / torch.where(total > 0, total, torch.ones_like(total))


def linear_schedule(t_env: int, start: float, finish: float, anneal_steps: int) -> float:
    """A value (ε, or the noise's σ) falling linearly from ``start`` to ``finish`` over ``anneal_steps`` env steps
    (pymarl's ε schedule)."""
    if anneal_steps <= 0:
        return finish
    fraction = min(t_env / anneal_steps, 1.0)
    return start + fraction * (finish - start)


def gaussian_exploration(actions: torch.Tensor, std: float, bounds: tuple[float, float],
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Continuous behaviour actions: u + std·(high − low)/2·N(0, I), clipped to [low, high].

    ``std`` is a fraction of the half-width of the action box, so one setting means the same on
    [−1, 1] and on [0, 1]. actions [..., A] -> [..., A].
    """
    low, high = bounds
    noise = torch.randn(actions.shape, generator=generator, device=actions.device, dtype=actions.dtype)
    return (actions + std * (high - low) / 2.0 * noise).clamp(low, high)
