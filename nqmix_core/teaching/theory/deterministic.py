"""Problem 3: linear-quadratic control with a linear deterministic policy; Eqs. 9 and 10 vs the exact gradient."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nqmix_core.teaching.theory.tabular import DTYPE, truncation_horizon


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
