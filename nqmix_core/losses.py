"""Pure loss functions. Each paper equation lives in exactly one function here.

They take tensors and return tensors (losses return ``(loss, info)`` with ``info`` a dict of
detached tensors); they never touch optimisers, devices or loggers, so tests and notebooks call them
directly. Axis order: [B, T, N, U] = episodes, time steps, agents, actions. ``mask`` is the
``filled`` mask [B, T]: 1 on real steps, 0 on padding after an episode ended.
"""
from __future__ import annotations

from typing import Callable

import torch


def chosen_action_values(agent_qs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Q_a(τ_t^a, u_t^a): agent_qs [B, T, N, U], actions [B, T, N] int64 -> [B, T, N]."""
    return agent_qs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # [B, T, N]


def state_values(policy: torch.Tensor, agent_qs: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor:
    """V_a(τ) = Σ_u π_a(u|τ) Q_a(τ, u) over the available actions only (Alg. 1 line 9).

    | argument      | shape           |
    |---------------|-----------------|
    | policy        | [..., N, U]     |
    | agent_qs      | [..., N, U]     |
    | avail_actions | [..., N, U] bool |
    | returns       | [..., N]        |
    """
    weighted = torch.where(avail_actions, policy * agent_qs, torch.zeros_like(agent_qs))  # [..., N, U]
    return weighted.sum(-1)


def greedy_next_values(target_qs: torch.Tensor, online_qs: torch.Tensor | None,
                       avail_actions: torch.Tensor) -> torch.Tensor:
    """QMIX's bootstrap values max_u Q'_a(τ_{t+1}, u) over available actions, [..., N, U] -> [..., N].

    With ``online_qs`` given this is double Q-learning: the online network picks the action and
    the target network values it (pymarl's ``double_q``).
    """
    chooser = target_qs if online_qs is None else online_qs
    best = chooser.masked_fill(~avail_actions, float("-inf")).argmax(-1, keepdim=True)  # [..., N, 1]
    return target_qs.gather(-1, best).squeeze(-1)  # [..., N]


def td_targets(reward: torch.Tensor, terminated: torch.Tensor, next_value_tot: torch.Tensor,
               gamma: float) -> torch.Tensor:
    """y = r + γ·V'_tot(τ_{t+1}) with no bootstrap after a real termination (Alg. 1 line 12).

    reward, terminated (bool or 0/1), next_value_tot: [B, T] -> [B, T]. A time-out is not a
    termination, so it bootstraps. Uses ``where`` so a garbage value after the end cannot leak in.
    """
    bootstrap = torch.where(terminated.bool(), torch.zeros_like(next_value_tot), next_value_tot)
    return reward + gamma * bootstrap


def masked_td_loss(q_tot: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Mean squared TD error δ = y − Q_tot over the real steps (Alg. 1 lines 12–13).

    q_tot, targets, mask: [B, T]. Targets are detached here, so the critic regresses on them.
    """
    td_error = (targets.detach() - q_tot) * mask  # [B, T]
    n_steps = mask.sum().clamp(min=1)
    loss = td_error.pow(2).sum() / n_steps
    info = {"td_error_abs": td_error.abs().sum().detach() / n_steps,
            "q_tot_mean": (q_tot * mask).sum().detach() / n_steps,
            "target_mean": (targets * mask).sum().detach() / n_steps}
    return loss, info


def mixer_gradient_sign(mixer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                        agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """sign(∂Q_tot/∂Q_a) for every (b, t, a), by autograd, detached (Eq. 13, Alg. 1 line 14).

    agent_qs [..., N] (the chosen Q_a(τ_t, u_t)), state [..., S] -> [..., N] in {−1, 0, +1}.
    Each Q_tot[b, t] depends only on agent_qs[b, t], so one backward pass of ΣQ_tot yields every
    partial derivative. The input is copied to a fresh leaf, so no gradient reaches the critic.
    """
    with torch.enable_grad():
        qs = agent_qs.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(mixer(qs, state.detach()).sum(), qs)
    return torch.sign(grad).detach()  # [..., N]


def discount_weights(n_steps: int, gamma: float, device: torch.device | str) -> torch.Tensor:
    """I_t = γ^t for t = 0..T−1 (Alg. 1 lines 5 and 15): [T]."""
    return gamma ** torch.arange(n_steps, dtype=torch.float32, device=device)


def actor_loss(policy: torch.Tensor, agent_qs: torch.Tensor, sign: torch.Tensor, discount: torch.Tensor,
               mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """NQMIX's actor objective, Eq. 13 / Alg. 1 line 14, as a loss to minimise.

    θ_a ← θ_a + α·I_t·sign(∂Q_tot/∂Q_a)·Σ_u ∇π_a(u|τ_t^a)·Q_a(τ_t^a, u) is gradient descent on
        L = −Σ_{b,t,a} I_t·sign_{b,t,a}·Σ_u π_a(u|τ_t^a)·Q_a(τ_t^a, u) / Σ mask,
    i.e. the per-step updates of Alg. 1 averaged over the real steps of the batch. Q_a and the sign
    are constants here (detached), so this loss moves the actors only, never the critic.

    | argument | shape        | meaning                                        |
    |----------|--------------|------------------------------------------------|
    | policy   | [B, T, N, U] | π_a(u|τ_t^a), zero on unavailable actions       |
    | agent_qs | [B, T, N, U] | Q_a(τ_t^a, u) from the critic                   |
    | sign     | [B, T, N]    | sign(∂Q_tot/∂Q_a) from ``mixer_gradient_sign``  |
    | discount | [T]          | I_t = γ^t from ``discount_weights``             |
    | mask     | [B, T]       | 1 on real steps                                 |
    """
    expected_q = (policy * agent_qs.detach()).sum(-1)  # [B, T, N] = Σ_u π(u) Q(u)
    weight = sign.detach() * discount.view(1, -1, 1) * mask.unsqueeze(-1)  # [B, T, N]
    n_steps = mask.sum().clamp(min=1)
    loss = -(weight * expected_q).sum() / n_steps
    negative = ((sign < 0).float() * mask.unsqueeze(-1)).sum() / (n_steps * sign.shape[-1])
    info = {"actor_objective": -loss.detach(), "sign_negative_fraction": negative.detach()}
    return loss, info
