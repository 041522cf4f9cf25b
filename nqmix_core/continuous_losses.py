"""Pure loss functions for continuous actions: NQMIX's Alg. 2 (deterministic policy gradient).

Same conventions as ``nqmix_core.losses`` (which also serves the critic's TD loss, the target's
no-bootstrap rule, the mixer's gradient sign and the γ^t weights): tensors in, ``(loss, info)`` out,
no optimisers, devices or loggers. Axis order [B, T, N, A] = episodes, time steps, agents, action
components.

| paper                          | here                                                        |
|--------------------------------|-------------------------------------------------------------|
| Alg. 2 lines 10–11             | ``deterministic_targets``                                   |
| ∇_u Q_a(τ, u) at u = μ_a(τ)    | ``action_values_and_gradients``                             |
| Eq. 14 / Alg. 2 line 13        | ``deterministic_actor_loss`` (with ``losses.mixer_gradient_sign``) |
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from nqmix_core.losses import td_targets


def deterministic_targets(reward: torch.Tensor, terminated: torch.Tensor, next_agent_qs: torch.Tensor,
                          next_state: torch.Tensor, target_mixer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                          gamma: float) -> torch.Tensor:
    """y = r + γ·Q'_tot with Q'_tot = Mixer'(Q'_1(τ_{t+1}, μ'_1(τ_{t+1})), …, s_{t+1}) (Alg. 2 lines 10–11).

    No bootstrap after a real termination (``losses.td_targets``). When the "mixer" keeps one value
    per agent (independent learners, output [B, T, N]) every agent gets its own target on the
    shared reward. Computed without gradient: targets are constants for the critic.

    | argument      | shape        | meaning                                           |
    |---------------|--------------|---------------------------------------------------|
    | reward        | [B, T]       | r_t                                               |
    | terminated    | [B, T]       | bool: the task ended after step t                 |
    | next_agent_qs | [B, T, N]    | Q'_a(τ_{t+1}, μ'_a(τ_{t+1})) from the target nets |
    | next_state    | [B, T, S]    | s_{t+1}                                           |
    | returns       | [B, T] (or [B, T, N] for independent learners)                   |
    """
    with torch.no_grad():
        next_q_tot = target_mixer(next_agent_qs, next_state)  # [B, T] or [B, T, N]
        return td_targets(reward, terminated, next_q_tot, gamma)


def action_values_and_gradients(q_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                                hidden: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Q_a(τ, u) and ∇_u Q_a(τ, u) at the given actions, by autograd, both detached.

    ``q_fn(hidden [..., N, H], actions [..., N, A]) -> [..., N]`` is the critic's action-value head.
    Each Q_a[b, t, a] depends only on actions[b, t, a], so one backward pass of ΣQ gives every
    ∇_u Q_a. The actions are copied to a fresh leaf and the gradient is taken with respect to that
    leaf only: no gradient is stored on the critic's parameters, and none flows to the actor.

    | argument | shape         |
    |----------|---------------|
    | hidden   | [..., N, H]   |
    | actions  | [..., N, A]   |
    | returns  | Q [..., N], ∇_u Q [..., N, A] |
    """
    with torch.enable_grad():
        leaf = actions.detach().requires_grad_(True)
        qs = q_fn(hidden.detach(), leaf)  # [..., N]
        (grad,) = torch.autograd.grad(qs.sum(), leaf)
    return qs.detach(), grad.detach()


def deterministic_actor_loss(actions: torch.Tensor, action_grads: torch.Tensor, sign: torch.Tensor,
                             discount: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """NQMIX's deterministic actor step, Eq. 14 / Alg. 2 line 13, as a loss to minimise.

    θ_a ← θ_a + α·I_t·sgn(∂Q_tot/∂Q_a)·∇_θ μ_a(τ_t^a)·∇_u Q_a(τ_t^a, u)|_{u=μ_a(τ_t^a)} is gradient
    descent on
        L = −Σ_{b,t,a} mask·I_t·sign_{b,t,a}·⟨μ_a(τ_t^a), g_{b,t,a}⟩ / n_steps,   g = ∇_u Q_a (a constant),
    since ∇_θ⟨μ_a, g⟩ = ∇_θ μ_a·g. The sign and g are detached, so the loss reaches the actors only.
    n_steps counts the real steps (a step counts once, whichever agents act in it), so, as in
    ``losses.actor_loss``, each actor's step does not shrink as the number of agents grows.

    | argument     | shape           | meaning                                              |
    |--------------|-----------------|------------------------------------------------------|
    | actions      | [B, T, N, A]    | μ_a(τ_t^a), with the graph back to the actor weights |
    | action_grads | [B, T, N, A]    | ∇_u Q_a(τ_t^a, u) at u = μ_a(τ_t^a)                  |
    | sign         | [B, T, N]       | sgn(∂Q_tot/∂Q_a) (``losses.mixer_gradient_sign``)    |
    | discount     | [T]             | I_t = γ^t (``losses.discount_weights``)              |
    | mask         | [B, T, N]       | 1 where agent a acts at a real step, else 0          |
    """
    ascent = (actions * action_grads.detach()).sum(-1)  # [B, T, N] = ⟨μ_a, ∇_u Q_a⟩
    weight = sign.detach() * discount.view(1, -1, 1) * mask  # [B, T, N]
    n_steps = mask.amax(-1).sum().clamp(min=1)
    loss = -(weight * ascent).sum() / n_steps
    n_terms = mask.sum().clamp(min=1)
    info = {"sign_negative_fraction": ((sign < 0).float() * mask).sum().detach() / n_terms,
            "action_grad_norm": (action_grads.norm(dim=-1) * mask).sum().detach() / n_terms}
    return loss, info
