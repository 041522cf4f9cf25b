"""Problem 1: a random tabular MDP, solved exactly; Eqs. 2, 3 and 7 checked against autograd."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nqmix_core.action_selection import masked_softmax

DTYPE = torch.float64

@dataclass(frozen=True)
class TabularMDP:
    """A finite discounted MDP. The paper's objective is J = V^π(s_0); ``start`` is one-hot at s_0."""

    transitions: torch.Tensor  # [S, U, S]  P(s' | s, u)
    rewards: torch.Tensor      # [S, U]     R(s, u)
    start: torch.Tensor        # [S]        Pr(S_0 = s)
    gamma: float

    @property
    def n_states(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_actions(self) -> int:
        return self.rewards.shape[1]


def random_mdp(n_states: int = 5, n_actions: int = 3, gamma: float = 0.9, seed: int = 0,
               peakedness: float = 2.0) -> TabularMDP:
    """Random MDP: P(·|s,u) = softmax(peakedness·z), z ~ N(0, 1); R ~ N(0, 1); S_0 = 0."""
    gen = torch.Generator().manual_seed(seed)
    logits = peakedness * torch.randn(n_states, n_actions, n_states, generator=gen, dtype=DTYPE)
    rewards = torch.randn(n_states, n_actions, generator=gen, dtype=DTYPE)
    start = torch.zeros(n_states, dtype=DTYPE)
    start[0] = 1.0
    return TabularMDP(torch.softmax(logits, -1), rewards, start, gamma)


def softmax_policy(theta: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
    """π_θ(u|s) = softmax_u(logits[s]); logits = θ [S, U] (tabular) or φ θ with φ [S, F], θ [F, U]."""
    logits = theta if features is None else features @ theta  # [S, U]
    return masked_softmax(logits, torch.ones_like(logits, dtype=torch.bool))  # [S, U]


def state_transition_matrix(mdp: TabularMDP, policy: torch.Tensor) -> torch.Tensor:
    """P_π[s, s'] = Σ_u π(u|s) P(s'|s, u): policy [S, U] -> [S, S]."""
    return torch.einsum("su,sut->st", policy, mdp.transitions)  # [S, S]


def value_functions(mdp: TabularMDP, policy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact V^π [S] and Q^π [S, U] from the Bellman equations (Sec. 3).

    V^π = r_π + γ P_π V^π is solved as the linear system (I − γ P_π) V^π = r_π, with
    r_π(s) = Σ_u π(u|s) R(s, u); then Q^π(s, u) = R(s, u) + γ Σ_s' P(s'|s, u) V^π(s').
    Differentiable in ``policy``.
    """
    eye = torch.eye(mdp.n_states, dtype=policy.dtype)
    reward_pi = (policy * mdp.rewards).sum(-1)  # [S]
    values = torch.linalg.solve(eye - mdp.gamma * state_transition_matrix(mdp, policy), reward_pi)  # [S]
    q_values = mdp.rewards + mdp.gamma * mdp.transitions @ values  # [S, U]
    return values, q_values


def objective(mdp: TabularMDP, theta: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
    """J(θ) = Σ_s Pr(S_0 = s) V^π(s), i.e. V^π(s_0) for a one-hot start (Sec. 3). Scalar."""
    values, _ = value_functions(mdp, softmax_policy(theta, features))
    return mdp.start @ values


def exact_gradient(mdp: TabularMDP, theta: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
    """∇_θ J by autograd through the Bellman solve: the ground truth. Same shape as θ."""
    with torch.enable_grad():
        leaf = theta.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(mdp, leaf, features), leaf)
    return grad


def discounted_visitation(mdp: TabularMDP, policy: torch.Tensor) -> torch.Tensor:
    """d(s) = Σ_t γ^t Pr(S_t = s | s_0, policy), the weighting of Eqs. 2 and 3: [S].

    Row vector form: d = ρ_0 Σ_t (γ P_π)^t = ρ_0 (I − γ P_π)^{-1}, solved as (I − γ P_π)^T d = ρ_0.
    Pass π for d^π (Eq. 2) or a behaviour policy b for d^b (Eq. 3). Σ_s d(s) = 1 / (1 − γ).
    """
    eye = torch.eye(mdp.n_states, dtype=policy.dtype)
    return torch.linalg.solve((eye - mdp.gamma * state_transition_matrix(mdp, policy)).T, mdp.start)


def policy_gradient_sum(theta: torch.Tensor, q_values: torch.Tensor, visitation: torch.Tensor,
                        features: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_s d(s) Σ_u ∇_θ π(u|s) Q(s, u): the right-hand side of Eq. 2 (d = d^π) or Eq. 3 (d = d^b).

    theta [S, U] or [F, U], q_values [S, U], visitation [S] -> same shape as theta. d and Q are
    constants; ∇π comes from autograd of the surrogate Σ_s d(s) Σ_u π(u|s) Q(s, u). The formula
    is linear in d, so an unbiased estimate of d gives an unbiased estimate of the sum (Eq. 7).
    """
    with torch.enable_grad():
        leaf = theta.detach().requires_grad_(True)
        policy = softmax_policy(leaf, features)  # [S, U]
        surrogate = (visitation.detach().unsqueeze(-1) * policy * q_values.detach()).sum()
        (grad,) = torch.autograd.grad(surrogate, leaf)
    return grad


# --------------------------------------------------------------------------- Eq. 7 by sampling


def sample_categorical(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row of probs [n, K] by inverting the cumulative sum: [n] int64."""
    uniform = torch.rand(probs.shape[0], 1, generator=generator, dtype=probs.dtype)  # [n, 1]
    return (uniform > probs.cumsum(-1)).sum(-1).clamp(max=probs.shape[-1] - 1)  # [n]


def _next_states(mdp: TabularMDP, behaviour: torch.Tensor, states: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
    """One step of every chain: u ~ b(·|s), then s' ~ P(·|s, u). states [n] -> [n]."""
    actions = sample_categorical(behaviour.index_select(0, states), generator)  # [n]
    flat = mdp.transitions.reshape(-1, mdp.n_states)  # [S·U, S], row s·U + u = P(·|s, u)
    return sample_categorical(flat.index_select(0, states * mdp.n_actions + actions), generator)  # [n]


def sample_trajectories(mdp: TabularMDP, behaviour: torch.Tensor, n_trajectories: int, horizon: int,
                        generator: torch.Generator) -> torch.Tensor:
    """States S_0 … S_{H−1} of n trajectories that follow u ~ b(·|s), s' ~ P(·|s, u): [n, H] int64."""
    states = sample_categorical(mdp.start.expand(n_trajectories, -1), generator)  # [n]
    visited = [states]
    for _ in range(horizon - 1):
        states = _next_states(mdp, behaviour, states, generator)
        visited.append(states)
    return torch.stack(visited, dim=1)  # [n, H]


def truncation_horizon(gamma: float, tolerance: float = 1e-12) -> int:
    """Smallest H with Σ_{t≥H} γ^t = γ^H / (1 − γ) below ``tolerance``: the dropped tail of d."""
    return math.ceil(math.log(tolerance * (1.0 - gamma)) / math.log(gamma))


def visitation_samples(mdp: TabularMDP, behaviour: torch.Tensor, n_samples: int, generator: torch.Generator,
                       method: str = "trajectory", horizon: int | None = None) -> torch.Tensor:
    """n independent unbiased estimates of d^b [S] (one per row): [n, S]. Their mean estimates d^b.

    Appendix A reads Pr{S_t = s | s_0, b} as a joint distribution of (s, t), but it sums to
    Σ_t 1 = ∞ over (s, t), so it must be normalised before sampling. Two ways, both unbiased:

    * ``"trajectory"`` — one sample is a whole trajectory and its discounted visit counts
      Σ_{t<H} γ^t 1[S_t = s], i.e. the sum over t of Alg. 1 lines 5–15 (I ← γ I). Bias: only the
      tail beyond H, below 1e-12 with the default ``truncation_horizon``.
    * ``"geometric"`` — one sample is a single pair (s, t) with t ~ Geometric: Pr(t) = (1 − γ) γ^t,
      s = S_t. The pair then has law (1 − γ) γ^t Pr{S_t = s}, a proper distribution, and the
      estimate is 1[S_t = s] / (1 − γ) (the γ^t moved into the sampling of t). No truncation: the
      chain is stopped with probability 1 − γ before every step.
    """
    if method == "trajectory":
        horizon = horizon or truncation_horizon(mdp.gamma)
        states = sample_trajectories(mdp, behaviour, n_samples, horizon, generator)  # [n, H]
        weights = (mdp.gamma ** torch.arange(horizon, dtype=DTYPE)).expand(n_samples, -1)  # [n, H]
        counts = torch.zeros(n_samples, mdp.n_states, dtype=DTYPE)
        return counts.scatter_add_(1, states, weights)  # [n, S]
    if method == "geometric":
        states = sample_categorical(mdp.start.expand(n_samples, -1), generator)  # [n]
        stopped_at = torch.full((n_samples,), -1, dtype=torch.long)
        moving = torch.arange(n_samples)  # indices of the chains not yet stopped
        while moving.numel() > 0:
            stop = torch.rand(moving.numel(), generator=generator, dtype=DTYPE) < 1.0 - mdp.gamma  # [m]
            stopped_at[moving[stop]] = states[moving[stop]]
            moving = moving[~stop]
            states[moving] = _next_states(mdp, behaviour, states[moving], generator)
        return torch.nn.functional.one_hot(stopped_at, mdp.n_states).to(DTYPE) / (1.0 - mdp.gamma)  # [n, S]
    raise ValueError(f"method must be 'trajectory' or 'geometric', not {method!r}.")


def sampled_policy_gradient(mdp: TabularMDP, theta: torch.Tensor, behaviour: torch.Tensor, n_samples: int,
                            generator: torch.Generator, method: str = "trajectory",
                            features: torch.Tensor | None = None) -> torch.Tensor:
    """Monte-Carlo Eq. 7: E_{s,t}[γ^t Σ_u ∇π(u|s) Q^π(s, u)] with (s, t) drawn under ``behaviour``.

    Q^π is exact, so only the states are sampled. The estimate is Eq. 3's sum with d^b replaced by
    the mean of ``visitation_samples``: unbiased for Eq. 3, and for ∇J (Eq. 2) when b = π.
    """
    _, q_values = value_functions(mdp, softmax_policy(theta, features))
    d_hat = visitation_samples(mdp, behaviour, n_samples, generator, method).mean(0)  # [S]
    return policy_gradient_sum(theta, q_values, d_hat, features)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """cos∠(a, b) with both flattened to vectors. Scalar."""
    return torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)


def relative_error(estimate: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """‖estimate − truth‖ / ‖truth‖ (Frobenius norms over all entries). Scalar."""
    return torch.linalg.vector_norm(estimate - truth) / torch.linalg.vector_norm(truth)
