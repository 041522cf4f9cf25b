"""Problem 2: a one-step N-agent game with a known mixer; NQMIX's sign-weighted step (Eqs. 11–14) vs the exact gradient."""
from __future__ import annotations

import math
from typing import Callable

import torch

from nqmix_core.losses import actor_loss, discount_weights, mixer_gradient_sign
from nqmix_core.action_selection import masked_softmax
from nqmix_core.teaching.theory.tabular import DTYPE

Mixer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""f(agent_qs [..., N], state [..., S]) -> q_tot [...], the contract of ``nqmix_core.networks`` mixers."""

def _no_state(agent_qs: torch.Tensor) -> torch.Tensor:
    """A dummy one-feature state [..., 1] for the mixers: the one-step games have a single state."""
    return torch.zeros(*agent_qs.shape[:-1], 1, dtype=agent_qs.dtype)


def joint_actions(n_agents: int, n_actions: int) -> torch.Tensor:
    """All U^N joint actions, agent 0 varying slowest: [J, N] int64."""
    grids = torch.meshgrid(*[torch.arange(n_actions)] * n_agents, indexing="ij")
    return torch.stack(grids, dim=-1).reshape(-1, n_agents)  # [J, N]


def joint_table(agent_qs: torch.Tensor, policy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-agent chosen values [..., J, N] and joint probabilities Π_a π_a(u_a) [..., J] of every joint action.

    agent_qs, policy: [..., N, U] (independent per-agent policies).
    """
    n_agents, n_actions = agent_qs.shape[-2:]
    index = joint_actions(n_agents, n_actions).T.expand(*agent_qs.shape[:-1], -1)  # [..., N, J]
    chosen = agent_qs.gather(-1, index).transpose(-1, -2)  # [..., J, N]
    probs = policy.gather(-1, index).prod(-2)  # [..., J]
    return chosen, probs


def expected_q_tot(mixer: Mixer, agent_qs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """E_{u ~ π}[f(Q_1(u_1), …, Q_N(u_N))] for softmax policies: agent_qs, logits [..., N, U] -> [...]."""
    policy = masked_softmax(logits, torch.ones_like(logits, dtype=torch.bool))  # [..., N, U]
    chosen, probs = joint_table(agent_qs, policy)
    q_tot = mixer(chosen, _no_state(chosen))  # [..., J]
    return (probs * q_tot).sum(-1)


def exact_agent_gradients(mixer: Mixer, agent_qs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """∇_{θ_a} E_π[Q_tot] for every agent by autograd: the true gradient. [..., N, U].

    Games in the leading axes are independent, so the gradient of their sum holds each game's own.
    """
    with torch.enable_grad():
        leaf = logits.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(expected_q_tot(mixer, agent_qs, leaf).sum(), leaf)
    return grad


def sign_trick_directions(mixer: Mixer, agent_qs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """NQMIX's expected actor step for every agent (Eq. 13 with T = 1, I = 1): [..., N, U].

    Alg. 1 applies sign(∂Q_tot/∂Q_a)|_{u_t} · Σ_u ∇π_a(u) Q_a(u) at the joint action u_t of the
    sampled step. Its mean over u_t ~ π is Σ_u π(u) sign_a(u) · ∇ Σ_u' π_a(u') Q_a(u'): we evaluate
    the sign at every joint action and weight it by π, the exact mean a minibatch average tends to,
    so sampling noise does not blur the comparison. Uses the kit's ``mixer_gradient_sign`` and
    ``actor_loss`` (T = 1, discount 1, the joint probabilities passed as the step weights ``mask``).
    """
    n_agents, n_actions = agent_qs.shape[-2:]
    chosen, probs = joint_table(agent_qs, torch.softmax(logits, -1))  # [..., J, N], [..., J]
    sign = mixer_gradient_sign(mixer, chosen, _no_state(chosen))  # [..., J, N]
    steps = (*probs.shape, n_agents, n_actions)  # one step per (game, joint action)
    with torch.enable_grad():
        leaf = logits.detach().requires_grad_(True)
        policy = masked_softmax(leaf, torch.ones_like(leaf, dtype=torch.bool))  # [..., N, U]
        loss, _ = actor_loss(policy.unsqueeze(-3).expand(steps).reshape(-1, 1, n_agents, n_actions),  # [B, 1, N, U]
                             agent_qs.unsqueeze(-3).expand(steps).reshape(-1, 1, n_agents, n_actions),
                             sign.reshape(-1, 1, n_agents),  # [B, 1, N]
                             discount_weights(1, 1.0, "cpu"),  # [1]
                             probs.reshape(-1, 1))  # [B, 1]
        (grad,) = torch.autograd.grad(-loss, leaf)
    return grad * probs.sum()  # actor_loss divides by Σ mask = the number of games


def mixer_slope_averages(mixer: Mixer, agent_qs: torch.Tensor, logits: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """E_{u~π}[∂f/∂Q_a] and E_{u~π}[sign(∂f/∂Q_a)] at the chosen values of every joint action: each [..., N].

    When ∂f/∂Q_a does not depend on Q_a itself (linear or bilinear f), the exact gradient is the first
    times ∇_{θ_a} E_π[Q_a] and NQMIX's mean step is the second times the same vector.
    """
    chosen, probs = joint_table(agent_qs, torch.softmax(logits, -1))  # [..., J, N], [..., J]
    with torch.enable_grad():
        leaf = chosen.detach().requires_grad_(True)
        (slopes,) = torch.autograd.grad(mixer(leaf, _no_state(leaf)).sum(), leaf)  # [..., J, N]
    weights = probs.unsqueeze(-1)  # [..., J, 1]
    return (weights * slopes).sum(-2), (weights * torch.sign(slopes)).sum(-2)


def bilinear_mixer(coupling: float) -> Mixer:
    """f(q) = Σ_a q_a − c Π_a q_a. For two agents ∂f/∂q_1 = 1 − c q_2: its sign depends on the other agent."""
    return lambda agent_qs, state: agent_qs.sum(-1) - coupling * agent_qs.prod(-1)


def random_mlp_mixer(n_agents: int, hidden: int = 16, seed: int = 0, monotone: bool = False) -> Mixer:
    """A fixed random MLP f(q) = w_2 · tanh(W_1 q + b_1), float64, ignoring the state.

    ``monotone=True`` takes |W_1| and |w_2|, as QMIX does (Eq. 1), so every ∂f/∂q_a > 0.
    """
    gen = torch.Generator().manual_seed(seed)
    w1 = torch.randn(n_agents, hidden, generator=gen, dtype=DTYPE)
    b1 = torch.randn(hidden, generator=gen, dtype=DTYPE)
    w2 = torch.randn(hidden, generator=gen, dtype=DTYPE) / math.sqrt(hidden)
    if monotone:
        w1, w2 = w1.abs(), w2.abs()
    return lambda agent_qs, state: torch.tanh(agent_qs @ w1 + b1) @ w2


def deterministic_game_directions(mixer: Mixer, actions: torch.Tensor, targets: torch.Tensor
                                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 14 in a one-step game with scalar actions μ_a = θ_a and Q_a(u) = −(u − target_a)².

    actions (= θ), targets: [..., N] -> (exact ∇_θ f(Q_1(μ_1), …), sign(∂f/∂Q_a) ∇_θ μ_a ∇_u Q_a), each [..., N].
    """
    with torch.enable_grad():
        leaf = actions.detach().requires_grad_(True)
        agent_qs = -(leaf - targets) ** 2  # [..., N]
        state = _no_state(agent_qs)
        (exact,) = torch.autograd.grad(mixer(agent_qs, state).sum(), leaf)
    sign = mixer_gradient_sign(mixer, agent_qs.detach(), state)  # [..., N]
    return exact, sign * (-2.0 * (actions - targets))  # ∇_θ μ_a = 1, ∇_u Q_a = −2(u − target_a)
