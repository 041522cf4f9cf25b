"""What a run's own episodes say about its policy and its critic, logged in every row of ``progress.csv``.

After each rollout, the learner's current networks are run over the episodes just collected
(``learner.rollout_diagnostics``; no gradient, one forward pass of the agent network) and these
functions turn the result into sums and weights, so the experiment loop can average them over the
rollouts of one log row with a single host-device sync. Each value is a pair ``(sum, weight)`` of
0-d tensors; the logged mean is Σ sum / Σ weight over the row's rollouts.

| column (``train_diag_…``) | meaning                                                                  |
|---------------------------|--------------------------------------------------------------------------|
| ``policy_entropy``        | H(π_a(·|τ_t^a)) in nats, mean over real decisions (alive agents, real steps) |
| ``policy_entropy_agent{a}`` | the same for agent a                                                   |
| ``not_argmax``            | fraction of decisions whose collected action is not argmax π             |
| ``sign_negative``         | NQMIX: fraction of decisions with sign(∂Q_tot/∂Q_a) < 0, at the taken action |
| ``sign_negative_agent{a}`` | the same for agent a                                                    |
| ``sign_agreement``        | fraction of steps (≥ 2 deciding agents) where every deciding agent's      |
|                           | ∂Q_tot/∂Q_a has the same sign                                             |
| ``slope_abs``             | mean |∂Q_tot/∂Q_a| over decisions, at the taken actions                   |
| ``action_gap``            | best minus second-best Q_a over available actions, mean over decisions   |
| ``q_tot``, ``return``     | Q_tot(s_t, u_t) and the discounted return G_t actually obtained from step t, |
|                           | mean over the steps of episodes that ended in a decided battle (not cut   |
|                           | by the time limit, whose G_t would miss the rewards after the cut)        |
| ``q_tot_minus_return``    | their difference: > 0 means the critic expects more than the team got     |

The value columns are logged in the environment's own reward units: a run trained on reward ×
``RunConfig.reward_scale`` has its Q_tot and returns divided by that scale (``in_env_units``).

"Real decisions" are ``losses.decision_mask``: a real step where the agent has more than one
available action (a dead SMAX unit can only "stop" and has nothing to decide).
"""
from __future__ import annotations

import torch

from nqmix_core import losses

Sums = dict[str, tuple[torch.Tensor, torch.Tensor]]


def per_agent(name: str, values: torch.Tensor, mask: torch.Tensor) -> Sums:
    """``name`` over every (b, t, a) and ``name_agent{a}`` per agent: values, mask [B, T, N] -> sums."""
    weighted = values * mask  # [B, T, N]
    sums = {name: (weighted.sum(), mask.sum())}
    agent_sums, agent_weights = weighted.sum((0, 1)), mask.sum((0, 1))  # [N]
    for a in range(values.shape[-1]):
        sums[f"{name}_agent{a}"] = (agent_sums[a], agent_weights[a])
    return sums


def policy_diagnostics(policy: torch.Tensor, actions: torch.Tensor, avail_actions: torch.Tensor,
                       filled: torch.Tensor) -> Sums:
    """Entropy of π and how often the collected action was not its argmax.

    policy [B, T, N, U] (zero on unavailable actions), actions [B, T, N], avail [B, T, N, U], filled [B, T].
    """
    decisions = losses.decision_mask(avail_actions, filled)  # [B, T, N]
    greedy = policy.masked_fill(~avail_actions, -1.0).argmax(-1)  # [B, T, N]
    not_argmax = (actions != greedy).float()  # [B, T, N]
    return {**per_agent("policy_entropy", losses.policy_entropy(policy), decisions),
            "not_argmax": ((not_argmax * decisions).sum(), decisions.sum())}


def sign_diagnostics(sign: torch.Tensor, avail_actions: torch.Tensor, filled: torch.Tensor) -> Sums:
    """Fraction of decisions with a negative mixer slope, overall and per agent: sign [B, T, N]."""
    decisions = losses.decision_mask(avail_actions, filled)  # [B, T, N]
    return per_agent("sign_negative", (sign < 0).float(), decisions)


def mixer_diagnostics(slopes: torch.Tensor, agent_qs: torch.Tensor, avail_actions: torch.Tensor,
                      filled: torch.Tensor) -> Sums:
    """How the mixer passes credit, and how sure each Q_a is: slopes [B, T, N] = ∂Q_tot/∂Q_a at the taken
    actions, agent_qs and avail [B, T, N, U], filled [B, T].

    ``sign_agreement``: fraction of steps with at least two deciding agents where every deciding agent's
    slope has the same sign; ``slope_abs``: mean |∂Q_tot/∂Q_a| over decisions; ``action_gap``: best minus
    second-best Q_a over the available actions, mean over decisions (each has ≥ 2 available actions).
    """
    decisions = losses.decision_mask(avail_actions, filled)  # [B, T, N]
    deciding = decisions.bool()
    positive = ((slopes > 0) | ~deciding).all(-1)  # [B, T]
    negative = ((slopes < 0) | ~deciding).all(-1)  # [B, T]
    steps = (decisions.sum(-1) >= 2).float()  # [B, T]
    top2 = agent_qs.masked_fill(~avail_actions, float("-inf")).topk(2, dim=-1).values  # [B, T, N, 2]
    gap = (top2[..., 0] - top2[..., 1]).nan_to_num(0.0, posinf=0.0, neginf=0.0)  # [B, T, N]
    return {"sign_agreement": (((positive | negative).float() * steps).sum(), steps.sum()),
            "slope_abs": ((slopes.abs() * decisions).sum(), decisions.sum()),
            "action_gap": ((gap * decisions).sum(), decisions.sum())}


def value_diagnostics(q_tot: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor,
                      filled: torch.Tensor, gamma: float) -> Sums:
    """Q_tot against the discounted return obtained, over the steps of decided episodes: [B, T] inputs."""
    returns = losses.discounted_returns(reward, filled, gamma)  # [B, T]
    decided = terminated.bool().any(dim=1, keepdim=True).float()  # [B, 1]
    mask = filled * decided  # [B, T]
    weight = mask.sum()
    return {"q_tot": ((q_tot * mask).sum(), weight), "return": ((returns * mask).sum(), weight),
            "q_tot_minus_return": (((q_tot - returns) * mask).sum(), weight)}


VALUE_COLUMNS = ("q_tot", "return", "q_tot_minus_return")


def in_env_units(sums: Sums, reward_scale: float) -> Sums:
    """The value diagnostics of a learner trained on reward × ``reward_scale``, back in the env's units."""
    if reward_scale == 1:
        return sums
    return {name: (total / reward_scale, weight) if name in VALUE_COLUMNS else (total, weight)
            for name, (total, weight) in sums.items()}
