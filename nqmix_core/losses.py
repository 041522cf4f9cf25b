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


def per_step(team: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A team tensor [B, T] (reward, termination, mask) shaped to broadcast against ``values``: [B, T] as it
    is, or [B, T, 1] against [B, T, N] when the "mixer" keeps one value per agent (IQL, IDDPG: every agent
    learns from the team's reward by itself)."""
    return team.reshape(*team.shape, *(1,) * (values.dim() - team.dim()))


def td_targets(reward: torch.Tensor, terminated: torch.Tensor, next_value_tot: torch.Tensor,
               gamma: float) -> torch.Tensor:
    """y = r + γ·V'_tot(τ_{t+1}) with no bootstrap after a real termination (Alg. 1 line 12).

    reward, terminated (bool or 0/1): [B, T]; next_value_tot: [B, T] (or [B, T, N] for independent learners,
    ``per_step``) -> its shape. A time-out is not a termination, so it bootstraps. Uses ``where`` so a
    garbage value after the end cannot leak in.
    """
    reward, terminated = per_step(reward, next_value_tot), per_step(terminated, next_value_tot)
    bootstrap = torch.where(terminated.bool(), torch.zeros_like(next_value_tot), next_value_tot)
    return reward + gamma * bootstrap


def masked_td_loss(q_tot: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Mean squared TD error δ = y − Q_tot over the real steps (Alg. 1 lines 12–13).

    q_tot, targets: [B, T] (independent learners: [B, T, N], each agent-step counted); mask: [B, T]. Targets
    are detached here, so the critic regresses on them.
    """
    mask = per_step(mask, q_tot).expand_as(q_tot)
    td_error = (targets.detach() - q_tot) * mask  # [B, T]
    n_steps = mask.sum().clamp(min=1)
    loss = td_error.pow(2).sum() / n_steps
    info = {"td_error_abs": td_error.abs().sum().detach() / n_steps,
            "q_tot_mean": (q_tot * mask).sum().detach() / n_steps,
            "target_mean": (targets * mask).sum().detach() / n_steps}
    return loss, info


def mixer_gradient(mixer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """∂Q_tot/∂Q_a for every (b, t, a), by autograd, detached: agent_qs [..., N], state [..., S] -> [..., N].

    Each Q_tot[b, t] depends only on agent_qs[b, t], so one backward pass of ΣQ_tot yields every
    partial derivative. The input is copied to a fresh leaf, so no gradient reaches the critic.
    """
    with torch.enable_grad():
        qs = agent_qs.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(mixer(qs, state.detach()).sum(), qs)
    return grad.detach()  # [..., N]


def mixer_gradient_sign(mixer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                        agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """sign(∂Q_tot/∂Q_a) for every (b, t, a) (Eq. 13, Alg. 1 line 14): [..., N] in {−1, 0, +1}.

    agent_qs [..., N] are the chosen Q_a(τ_t, u_t); see ``mixer_gradient``.
    """
    return torch.sign(mixer_gradient(mixer, agent_qs, state))  # [..., N]


def counterfactual_q_tot(mixer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], chosen_qs: torch.Tensor,
                         agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Q_tot with agent a's input replaced by Q_a(τ^a, u) and the others kept at their taken actions.

    out[..., a, u] = Mixer(Q_1(u_1), …, Q_a(u), …, Q_n(u_n), s): the mixer-aware actor's score of each of
    agent a's actions (not in the paper; the exact counterpart of Eq. 13's first-order sign rule).
    chosen_qs [..., N], agent_qs [..., N, U], state [..., S] -> [..., N, U]; no gradient.
    """
    n_agents, n_actions = agent_qs.shape[-2:]
    with torch.no_grad():
        own = torch.eye(n_agents, dtype=torch.bool, device=chosen_qs.device).view(n_agents, 1, n_agents)  # [N, 1, N]
        inputs = torch.where(own, agent_qs.unsqueeze(-1),  # [..., N(a), U, 1]: Q_a(u) in agent a's slot
                             chosen_qs.unsqueeze(-2).unsqueeze(-2))  # [..., 1, 1, N]: the taken actions' Q
        states = state.unsqueeze(-2).unsqueeze(-2).expand(*state.shape[:-1], n_agents, n_actions, state.shape[-1])
        return mixer(inputs, states)  # [..., N, U]


def mixer_aware_actor_loss(policy: torch.Tensor, counterfactual: torch.Tensor, avail_actions: torch.Tensor,
                           discount: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The mixer-aware actor objective (an ablation, not the paper's): each agent raises
    Σ_u π_a(u|τ_t^a)·Q_tot(Q_a(u), Q_−a, s_t) instead of sign(∂Q_tot/∂Q_a)·Σ_u π_a(u)·Q_a(u) (Eq. 13).

    It scores agent a's actions through the mixer itself, with the other agents at their taken
    actions, so it needs no sign. Under a mixer linear in Q_a with weight w_a > 0 it equals w_a times
    Eq. 13's objective plus a constant, so both give the same direction (a test checks it).
    L = −Σ I_t·mask·Σ_u π·Q_tot^cf / Σ mask; policy, counterfactual, avail [B, T, N, U], discount [T], mask [B, T].
    """
    values = counterfactual.detach().masked_fill(~avail_actions, 0.0)  # [B, T, N, U]
    expected = (policy * values).sum(-1)  # [B, T, N]
    weight = discount.view(1, -1, 1) * mask.unsqueeze(-1)  # [B, T, N]
    loss = -(weight * expected).sum() / mask.sum().clamp(min=1)
    return loss, {"actor_objective": -loss.detach()}


def policy_entropy(policy: torch.Tensor) -> torch.Tensor:
    """H(π) = −Σ_u π(u)·log π(u) with 0·log 0 = 0: [..., U] -> [...].

    The log's argument is clamped at 1e-12, so an unavailable action (π = 0) adds 0 and a finite
    gradient, never 0·∞ = NaN.
    """
    return -(policy * policy.clamp(min=1e-12).log()).sum(-1)


def decision_mask(avail_actions: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """1 where agent a really chooses at step t: a real step and more than one available action
    (a dead SMAX unit can only "stop"). avail [B, T, N, U] bool, filled [B, T] -> [B, T, N] float."""
    return filled.unsqueeze(-1) * (avail_actions.sum(-1) > 1).float()


def entropy_bonus(policy: torch.Tensor, decisions: torch.Tensor) -> torch.Tensor:
    """Mean H(π_a(·|τ_t^a)) over the real decisions: policy [B, T, N, U], decisions [B, T, N] -> [].

    Added with weight β (``AlgoConfig.entropy_coef``) to the actor objective by the "nqmix-ent"
    ablation; not part of the paper's NQMIX.
    """
    return (policy_entropy(policy) * decisions).sum() / decisions.sum().clamp(min=1)


def discounted_returns(reward: torch.Tensor, filled: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t = Σ_{k≥t} γ^{k−t} r_k over the real steps of each episode: reward, filled [B, T] -> [B, T].

    Padded steps get 0 and contribute nothing, so G at an episode's last real step is its reward.
    For an episode cut by the time limit this is the *truncated* return: the rewards after the cut
    are missing.
    """
    returns = torch.zeros_like(reward)  # [B, T]
    following = torch.zeros_like(reward[:, 0])  # [B], G_{t+1}
    for t in reversed(range(reward.shape[1])):
        following = filled[:, t] * (reward[:, t] + gamma * following)  # [B]
        returns[:, t] = following
    return returns


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


# --- COMA (Foerster et al. 2018; the paper's Eq. 5–6) ---------------------------------------------

def counterfactual_baseline(policy: torch.Tensor, critic_qs: torch.Tensor) -> torch.Tensor:
    """COMA's baseline b_a = Σ_{u'} π_a(u'|τ^a)·Q(s, (u^{-a}, u')), the second term of Eq. 6.

    ``critic_qs[..., a, u']`` is the centralised critic's Q(s, (u^{-a}, u')): the other agents'
    actions are kept and agent a's own action is replaced by u'. Unavailable actions must have
    π = 0, so they do not count. policy, critic_qs: [..., N, U] -> [..., N].
    """
    return (policy * critic_qs).sum(-1)


def counterfactual_advantage(policy: torch.Tensor, critic_qs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """A^a(s, u) = Q(s, u) − Σ_{u'} π_a(u'|τ^a)·Q(s, (u^{-a}, u')), Eq. 6.

    policy, critic_qs: [..., N, U]; actions (the joint action u taken): [..., N] -> [..., N].
    """
    return chosen_action_values(critic_qs, actions) - counterfactual_baseline(policy, critic_qs)


def coma_actor_loss(policy: torch.Tensor, critic_qs: torch.Tensor, actions: torch.Tensor,
                    mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """COMA's policy gradient g = E[∇ log π_a(u^a|τ^a)·A^a(s, u)] (Eq. 5) as a loss to minimise.

    L = −Σ_{b,t,a} mask·A^a·log π_a(u_t^a) / Σ_{b,t,a} mask. The advantage is a constant (detached),
    so only the policy moves. π of the taken action is clamped at 1e-10 before the log, so an action
    that the policy can no longer pick gives a large but finite term instead of −inf.

    | argument  | shape           | meaning                                           |
    |-----------|-----------------|---------------------------------------------------|
    | policy    | [B, T, N, U]    | π_a(u|τ_t^a), zero on unavailable actions          |
    | critic_qs | [B, T, N, U]    | Q(s_t, (u_t^{-a}, u)) from the centralised critic  |
    | actions   | [B, T, N] int64 | u_t^a taken                                       |
    | mask      | [B, T]          | 1 on real steps                                   |
    """
    advantage = counterfactual_advantage(policy.detach(), critic_qs.detach(), actions).detach()  # [B, T, N]
    agent_mask = mask.unsqueeze(-1).expand_as(advantage)  # [B, T, N]
    taken = chosen_action_values(policy, actions)  # [B, T, N]
    taken = torch.where(agent_mask > 0, taken, torch.ones_like(taken)).clamp(min=1e-10)  # padding: log 1 = 0
    n_terms = agent_mask.sum().clamp(min=1)
    loss = -(advantage * torch.log(taken) * agent_mask).sum() / n_terms
    probs = policy.detach()
    entropy = -torch.where(probs > 0, probs * probs.log(), torch.zeros_like(probs)).sum(-1)  # [B, T, N]
    info = {"advantage_mean": (advantage * agent_mask).sum() / n_terms,
            "policy_entropy": (entropy * agent_mask).sum() / n_terms}
    return loss, info


def td_lambda_targets(reward: torch.Tensor, terminated: torch.Tensor, mask: torch.Tensor,
                      target_qs: torch.Tensor, gamma: float, td_lambda: float) -> torch.Tensor:
    """λ-returns that train COMA's critic (Sutton & Barto Sec. 12.1; pymarl's TD(λ) for COMA).

    Backwards from the last step, with Q'_{t+1} = Q'(s_{t+1}, u_{t+1}) from the target critic:

        G_t = r_t + γ·(1 − terminated_t)·[(1 − λ)·Q'_{t+1} + λ·G_{t+1}]

    where G_{t+1} is replaced by Q'_{t+1} when step t+1 is not a real step (the episode was cut by
    the time limit, or the batch window ends): a cut episode bootstraps, a terminated one does not.
    λ = 0 gives the one-step target r + γQ'; λ = 1 the Monte-Carlo return (bootstrapped at a cut).
    Padded steps get 0. (pymarl writes the same recursion as ret_t = λγ·ret_{t+1} + mask_t·(r_t +
    (1−λ)γ·Q'_{t+1}·(1−terminated_t)); the two agree on every real step.)

    | argument   | shape        | meaning                                                  |
    |------------|--------------|----------------------------------------------------------|
    | reward     | [B, T]       | r_t                                                      |
    | terminated | [B, T]       | bool or 0/1: the task ended after step t                 |
    | mask       | [B, T]       | 1 on real steps                                          |
    | target_qs  | [B, T+1, N]  | Q'(s_t, u_t) per agent; entry T bootstraps the window end |
    | returns    | [B, T, N]    | G_t per agent                                            |
    """
    n_steps = reward.shape[1]
    real = mask > 0  # [B, T]
    real_next = torch.cat([real[:, 1:], torch.zeros_like(real[:, :1])], dim=1)  # [B, T]: step t+1 is real
    continues = ~terminated.bool()  # [B, T]
    next_return = target_qs[:, -1]  # [B, N]; only read where step T would be real, i.e. never
    returns = []
    for t in reversed(range(n_steps)):
        q_next = target_qs[:, t + 1]  # [B, N]
        follow = torch.where(real_next[:, t, None], next_return, q_next)  # G_{t+1}, or bootstrap
        bootstrap = (1.0 - td_lambda) * q_next + td_lambda * follow  # [B, N]
        g = reward[:, t, None] + gamma * torch.where(continues[:, t, None], bootstrap, torch.zeros_like(bootstrap))
        g = torch.where(real[:, t, None], g, torch.zeros_like(g))  # [B, N]
        returns.append(g)
        next_return = g
    return torch.stack(returns[::-1], dim=1)  # [B, T, N]
