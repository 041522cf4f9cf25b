"""Exact small-problem versions of the paper's gradient formulas, for checking them by numbers.

Everything is float64 and built from explicit seeds, so exact results hold to machine precision
and sampled ones are reproducible. Three problems:

1. A random tabular MDP with a softmax policy. J(θ), V^π, Q^π and the discounted visitation d^π are
   solved exactly from linear systems; ∇J comes from autograd through those solves. Against it we
   check the policy-gradient theorem (Eq. 2), the off-policy gradient (Eq. 3) and the sampled
   expectation over (s, t) of Eq. 7 / Appendix A.
2. A one-step game of N agents with Q_tot = f(Q_1(u_1), …, Q_N(u_N)) for a known mixer f, where
   NQMIX's sign-weighted actor step (Eqs. 11–13) is compared with the exact gradient.
3. A linear-quadratic control problem with a linear deterministic policy μ_K(s) = K s, where the
   deterministic policy gradient (Eqs. 9, 10) is compared with the exact ∇J; and a one-step
   deterministic N-agent game for Eq. 14.

Shapes: S states, U actions, N agents, J = U^N joint actions, n samples, H time steps; θ is the
logits table [S, U] (tabular) or a weight matrix [F, U] on state features φ [S, F].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from nqmix_core.losses import actor_loss, discount_weights, mixer_gradient_sign
from nqmix_core.networks.actors import masked_softmax

DTYPE = torch.float64
Mixer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""f(agent_qs [..., N], state [..., S]) -> q_tot [...], the contract of ``nqmix_core.networks`` mixers."""


# --------------------------------------------------------------------------- tabular MDP, exact


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


# --------------------------------------------------------------------------- sign trick, one-step game


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


# --------------------------------------------------------------------------- deterministic PG, LQ control


@dataclass(frozen=True)
class LinearQuadraticProblem:
    """s_{t+1} = A s_t + B u_t, r_t = −s_tᵀ C s_t − u_tᵀ D u_t, s_0 ~ N(0, Σ_0); policy μ_K(s) = K s."""

    dynamics: torch.Tensor          # A [n, n]
    control: torch.Tensor           # B [n, m]
    state_cost: torch.Tensor        # C [n, n], positive definite
    action_cost: torch.Tensor       # D [m, m], positive definite
    start_covariance: torch.Tensor  # Σ_0 [n, n]
    gamma: float


def random_lq_problem(state_dim: int = 3, action_dim: int = 2, gamma: float = 0.9, seed: int = 0
                      ) -> LinearQuadraticProblem:
    """Random A with spectral radius 0.8, random B, identity costs and start covariance."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(state_dim, state_dim, generator=gen, dtype=DTYPE)
    a = 0.8 * a / torch.linalg.eigvals(a).abs().max()
    b = torch.randn(state_dim, action_dim, generator=gen, dtype=DTYPE) / math.sqrt(state_dim)
    eye_n, eye_m = torch.eye(state_dim, dtype=DTYPE), torch.eye(action_dim, dtype=DTYPE)
    return LinearQuadraticProblem(a, b, eye_n, eye_m, eye_n, gamma)


def _discounted_lyapunov(matrix: torch.Tensor, rhs: torch.Tensor, gamma: float) -> torch.Tensor:
    """X solving X = rhs + γ M X Mᵀ (X = Σ_t γ^t M^t rhs (Mᵀ)^t), via row-major vec: vec(M X Mᵀ) = (M ⊗ M) vec X."""
    n = matrix.shape[0]
    system = torch.eye(n * n, dtype=matrix.dtype) - gamma * torch.kron(matrix, matrix)  # [n², n²]
    return torch.linalg.solve(system, rhs.reshape(-1)).reshape(n, n)


def _closed_loop(problem: LinearQuadraticProblem, gain: torch.Tensor) -> torch.Tensor:
    """A + B K [n, n]; raises if the discounted closed loop diverges (J = −∞)."""
    closed = problem.dynamics + problem.control @ gain
    if math.sqrt(problem.gamma) * torch.linalg.eigvals(closed.detach()).abs().max() >= 1.0:
        raise ValueError("The gain K makes √γ·(A + BK) unstable, so J is infinite; use a smaller K.")
    return closed


def lq_value_matrix(problem: LinearQuadraticProblem, gain: torch.Tensor) -> torch.Tensor:
    """P with V^μ(s) = −sᵀ P s: P = C + Kᵀ D K + γ (A + BK)ᵀ P (A + BK). gain K [m, n] -> [n, n]."""
    return _discounted_lyapunov(_closed_loop(problem, gain).T,
                                problem.state_cost + gain.T @ problem.action_cost @ gain, problem.gamma)


def lq_objective(problem: LinearQuadraticProblem, gain: torch.Tensor) -> torch.Tensor:
    """J(K) = E_{s_0}[V^μ(s_0)] = −tr(P Σ_0). Scalar."""
    return -(lq_value_matrix(problem, gain) * problem.start_covariance).sum()


def lq_exact_gradient(problem: LinearQuadraticProblem, gain: torch.Tensor) -> torch.Tensor:
    """∇_K J by autograd through the Lyapunov solve: the ground truth. [m, n]."""
    with torch.enable_grad():
        leaf = gain.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(lq_objective(problem, leaf), leaf)
    return grad


def lq_action_value(problem: LinearQuadraticProblem, gain: torch.Tensor, states: torch.Tensor,
                    actions: torch.Tensor) -> torch.Tensor:
    """Q^μ(s, u) = −sᵀCs − uᵀDu + γ V^μ(As + Bu): states [..., n], actions [..., m] -> [...]."""
    value_matrix = lq_value_matrix(problem, gain).detach()  # Q^μ is the critic: fixed for the actor step
    next_states = states @ problem.dynamics.T + actions @ problem.control.T  # [..., n]
    return (-(states @ problem.state_cost * states).sum(-1) - (actions @ problem.action_cost * actions).sum(-1)
            - problem.gamma * (next_states @ value_matrix * next_states).sum(-1))


def lq_action_gradient_matrix(problem: LinearQuadraticProblem, gain: torch.Tensor) -> torch.Tensor:
    """G [m, n] with ∇_u Q^μ(s, u)|_{u=Ks} = G s (linear in s), found by autograd at the n basis states."""
    basis = torch.eye(problem.dynamics.shape[0], dtype=DTYPE)  # [n, n], row j = e_j
    with torch.enable_grad():
        actions = (basis @ gain.detach().T).requires_grad_(True)  # [n, m], row j = μ(e_j)
        (grad_u,) = torch.autograd.grad(lq_action_value(problem, gain, basis, actions).sum(), actions)
    return grad_u.T  # [m, n], column j = ∇_u Q^μ(e_j, μ(e_j))


def deterministic_policy_gradient(problem: LinearQuadraticProblem, gain: torch.Tensor) -> torch.Tensor:
    """Eq. 9's right-hand side, E_{s,t}[γ^t ∇_K μ_K(s) ∇_u Q^μ(s, u)|_{u=μ(s)}], exactly: [m, n].

    ∇_K μ_K(s) contracts ∇_u Q^μ = G s to the outer product (G s) sᵀ, so the expectation is G Σ_K
    with the discounted second moment Σ_K = Σ_t γ^t E[s_t s_tᵀ] = Σ_0 + γ (A + BK) Σ_K (A + BK)ᵀ.
    """
    second_moment = _discounted_lyapunov(_closed_loop(problem, gain.detach()), problem.start_covariance,
                                         problem.gamma)  # [n, n]
    return lq_action_gradient_matrix(problem, gain) @ second_moment


def lq_sampled_policy_gradient(problem: LinearQuadraticProblem, gain: torch.Tensor, n_trajectories: int,
                               generator: torch.Generator, horizon: int | None = None) -> torch.Tensor:
    """Eq. 10 averaged over n sampled trajectories: mean of Σ_{t<H} γ^t ∇_u Q^μ(s_t, μ(s_t)) s_tᵀ. [m, n].

    Only s_0 ~ N(0, Σ_0) is random (the dynamics are deterministic); unbiased up to the γ^H tail.
    """
    horizon = horizon or truncation_horizon(problem.gamma)
    g_matrix, closed = lq_action_gradient_matrix(problem, gain), _closed_loop(problem, gain.detach())
    noise = torch.randn(n_trajectories, problem.dynamics.shape[0], generator=generator, dtype=DTYPE)
    states = noise @ torch.linalg.cholesky(problem.start_covariance).T  # [B, n], s_0 ~ N(0, Σ_0)
    total = torch.zeros_like(g_matrix)  # [m, n]
    for t in range(horizon):
        total += problem.gamma ** t * (states @ g_matrix.T).T @ states / n_trajectories  # Σ_b (G s_b) s_bᵀ
        states = states @ closed.T  # s_{t+1} = (A + BK) s_t
    return total
