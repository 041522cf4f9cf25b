"""The write-code exercises of notebooks 01–03 (matrix games, the off-policy gradient, the architecture).

Each check takes the student's function and returns None (pass) or a hint; ``nqmix_core.teaching.exercises`` gathers
``CHECKS`` and ``REFERENCES`` of every such module, so a notebook calls ``ex.check(name, fn)`` for all of them.
The comparison helpers (``as_result``, ``close``, ``diagnose``) are in ``nqmix_core.teaching.exercise_inputs``.

| exercise                  | notebook | the kit's reference                                  | paper          |
|---------------------------|----------|------------------------------------------------------|----------------|
| ``order_flips``           | 01       | ``reference_order_flips`` (below)                    | Eq. 1, Sec. 4.2 |
| ``policy_gradient_eq2``   | 02a      | ``theory.policy_gradient_sum``                       | Eq. 2          |
| ``sign_trick_step``       | 02b      | ``theory.sign_trick_directions``                     | Eqs. 11–13     |
| ``nqmix_mixer_parameters`` | 03      | ``count_parameters(make_mixer("nqmix", A, S))``      | App. B.1       |
"""
from __future__ import annotations

import torch

from nqmix_core.teaching import theory as th
from nqmix_core.envs.matrix import QTRAN_PAYOFF
from nqmix_core.teaching.exercise_inputs import BLANK, as_result, close, diagnose
from nqmix_core.networks import count_parameters, make_mixer


# --- the kit's implementations, with the exercises' signatures ------------------------------------

def reference_order_flips(table: torch.Tensor) -> torch.Tensor:
    """table [U1, U2] (rows: agent 1's actions) -> [U1, U1] bool: True at (i, k) when some column orders
    rows i and k strictly one way and another column strictly the other way (no monotonic mixer can)."""
    diff = table[:, None, :] - table[None, :, :]  # [U1, U1, U2]: row i − row k, column by column
    return (diff > 0).any(-1) & (diff < 0).any(-1)  # [U1, U1]


def reference_policy_gradient_eq2(logits: torch.Tensor, q_values: torch.Tensor,
                                  visitation: torch.Tensor) -> torch.Tensor:
    return th.policy_gradient_sum(logits, q_values, visitation)  # [S, U]


def reference_sign_trick_step(mixer, agent_qs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return th.sign_trick_directions(mixer, agent_qs, logits)  # [G, N, U]


def reference_nqmix_mixer_parameters(n_agents: int, state_dim: int) -> int:
    return count_parameters(make_mixer("nqmix", n_agents, state_dim))


# --- the checks: each returns None (pass) or a hint -----------------------------------------------

def _flip_tables() -> list[torch.Tensor]:
    """The QTRAN payoff, a monotonic game, and random integer tables (ties included), square or not."""
    g = torch.Generator().manual_seed(11)
    tables = [torch.tensor(QTRAN_PAYOFF, dtype=torch.float64),
              torch.tensor([[8.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)]
    for rows, cols in [(3, 3), (4, 4), (4, 2), (2, 5), (5, 3), (3, 3)]:
        tables.append(torch.randint(-2, 3, (rows, cols), generator=g).double())
    return tables


def _check_order_flips(fn) -> str | None:
    for table in _flip_tables():
        want = reference_order_flips(table).double()  # [U1, U1]
        result = fn(table.clone())
        got, hint = as_result(result, want.shape)
        if hint:
            columns = (table.shape[1], table.shape[1])
            if table.shape[0] != table.shape[1] and tuple(getattr(result, "shape", ())) == columns:
                return ("rows are agent 1's actions: compare row i with row k across the columns (agent 2's "
                        "actions); you compared columns")
            return hint
        if close(got, want):
            continue
        diff = table[:, None, :] - table[None, :, :]  # [U1, U1, U2]
        with_ties = ((diff >= 0).any(-1) & (diff <= 0).any(-1)).double()
        upper = torch.triu(want, diagonal=1)
        return diagnose(got, [
            ("a tie is no contradiction: a pair flips only when one column orders it strictly one way and "
             "another column strictly the other way", with_ties),
            ("the answer is symmetric: if row i vs row k flips, so does row k vs row i", upper),
            ("the answer is symmetric: if row i vs row k flips, so does row k vs row i", upper.T),
            ("rows are agent 1's actions: compare row i with row k across the columns (agent 2's actions); "
             "you compared columns", reference_order_flips(table.T).double() if table.shape[0] == table.shape[1]
             else torch.full_like(want, float("nan"))),
        ], f"for the table {table.int().tolist()} some entries differ: (i, k) is True when the sign of "
           f"table[i, j] − table[k, j] is + for some column j and − for another")
    return None


def _tabular_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(logits, Q^π, d^π) of two random MDPs, and random Q and d (the sum is linear in both)."""
    cases = []
    for seed, (n_states, n_actions) in enumerate([(5, 3), (4, 4)]):
        mdp = th.random_mdp(n_states, n_actions, 0.9, seed=20 + seed)
        logits = torch.randn(n_states, n_actions, generator=torch.Generator().manual_seed(30 + seed),
                             dtype=torch.float64)
        policy = th.softmax_policy(logits)
        cases.append((logits, th.value_functions(mdp, policy)[1], th.discounted_visitation(mdp, policy)))
    g = torch.Generator().manual_seed(40)
    cases.append((torch.randn(6, 2, generator=g, dtype=torch.float64), 5 * torch.randn(6, 2, generator=g,
                  dtype=torch.float64), torch.rand(6, generator=g, dtype=torch.float64) * 3))
    return cases


def _check_policy_gradient_eq2(fn) -> str | None:
    for logits, q_values, visitation in _tabular_cases():
        want = reference_policy_gradient_eq2(logits, q_values, visitation)  # [S, U]
        got, hint = as_result(fn(logits.clone(), q_values.clone(), visitation.clone()), want.shape)
        if hint:
            return hint
        if close(got, want):
            continue
        policy = torch.softmax(logits, -1)  # [S, U]
        values = (policy * q_values).sum(-1, keepdim=True)  # [S, 1]
        weight = visitation[:, None]  # [S, 1]
        return diagnose(got, [
            ("the softmax's derivative has two parts, and yours misses the one that comes from the "
             "normalisation (in every state Σ_u ∇π(u|s) = 0)", weight * policy * q_values),
            ("weight each state's block by the visitation d(s): Eq. 2 sums over states with weights d^π(s)",
             policy * (q_values - values)),
            ("Eq. 2 sums ∇π(u|s)·Q(s, u); ∇π = π·∇log π, so every action's term carries a factor π(u|s)",
             weight * (q_values - values)),
            ("this is the gradient of a loss to minimise: Eq. 2 is the ascent direction, the opposite sign", -want),
        ], "compare your result with Σ_s d(s) Σ_u ∇_θ π(u|s) Q(s, u) for a softmax over each row of the logits; "
           "each entry [s, u] is the derivative with respect to logits[s, u]")
    return None


def _sign_trick_cases():
    g = torch.Generator().manual_seed(50)
    for mixer, n_actions in [(th.random_mlp_mixer(2, seed=3), 4), (th.bilinear_mixer(2.0), 3)]:  # MLP first: there
        # the exact gradient and the mean slope times the own gradient differ (for a bilinear mixer they coincide)
        agent_qs = torch.randn(40, 2, n_actions, generator=g, dtype=torch.float64)  # [G, N, U]
        logits = torch.randn(40, 2, n_actions, generator=g, dtype=torch.float64)  # [G, N, U]
        yield mixer, agent_qs, logits


def _check_sign_trick_step(fn) -> str | None:
    for mixer, agent_qs, logits in _sign_trick_cases():
        want = reference_sign_trick_step(mixer, agent_qs, logits)  # [G, N, U]
        got, hint = as_result(fn(mixer, agent_qs.clone(), logits.clone()), want.shape)
        if hint:
            return hint
        if close(got, want):
            continue
        policy = torch.softmax(logits, -1)  # [G, N, U]
        own = policy * (agent_qs - (policy * agent_qs).sum(-1, keepdim=True))  # ∇_θa Σ_u π_a Q_a: [G, N, U]
        mean_slope, vote = th.mixer_slope_averages(mixer, agent_qs, logits)  # [G, N] each
        return diagnose(got, [
            ("this is the exact gradient of E_π[Q_tot]; NQMIX's step climbs the agent's own Q_a, turned by "
             "the sign of ∂Q_tot/∂Q_a", th.exact_agent_gradients(mixer, agent_qs, logits)),
            ("the sign is missing: each joint action's step is multiplied by sgn(∂Q_tot/∂Q_a) there", own),
            ("use the sign of ∂Q_tot/∂Q_a, not the slope itself: Eq. 13 keeps only its sign",
             mean_slope[..., None] * own),
            ("the softmax's derivative has two parts, and yours misses the one that comes from the "
             "normalisation (Σ_u ∇π_a(u) = 0)", vote[..., None] * policy * agent_qs),
            ("the sign is flipped: +1 where raising Q_a raises Q_tot", -want),
        ], "average Eq. 13's step over the joint actions u ~ π: the sign of ∂Q_tot/∂Q_a at each u, weighted "
           "by π(u), times the gradient of Σ_u π_a(u) Q_a(u) with respect to agent a's logits")
    return None


PARAMETER_CASES = [(5, 120), (3, 36), (8, 192), (1, 4), (10, 7)]
"""(A, S): 2s3z, 3m and 8m of SMAX, and two made-up sizes."""


def _check_nqmix_mixer_parameters(fn) -> str | None:
    for n_agents, state_dim in PARAMETER_CASES:
        want = reference_nqmix_mixer_parameters(n_agents, state_dim)
        result = fn(n_agents, state_dim)
        if result is None:
            return BLANK
        try:
            got = float(result)
        except (TypeError, ValueError, RuntimeError):
            return f"return one whole number (the parameter count), not a {type(result).__name__}"
        if got == want:
            continue
        hidden, inputs = 32 * (n_agents + 4) - n_agents, n_agents + state_dim
        shown = f"for A = {n_agents} agents and S = {state_dim} you count {got:g}, the mixer has {want}"
        near = {inputs * hidden + hidden: "that is both layers' weights without their biases, or the hidden layer "
                                          "alone: count each nn.Linear's weights and its biases (one per output unit)",
                (inputs * 32 * (n_agents + 4) + 32 * (n_agents + 4)) * 1 + 32 * (n_agents + 4) + 1:
                    "check the hidden width against App. B.1: 283 units for A = 5",
                state_dim * hidden + hidden + hidden + 1:
                    "the hidden layer reads the A chosen Q_a as well as the S state features",
                n_agents * hidden + hidden + hidden + 1:
                    "the hidden layer reads the S state features as well as the A chosen Q_a"}
        return f"{shown}: {near.get(got, 'add up the weights and biases of both layers, hidden and output')}"
    return None


CHECKS = {"order_flips": _check_order_flips, "policy_gradient_eq2": _check_policy_gradient_eq2,
          "sign_trick_step": _check_sign_trick_step, "nqmix_mixer_parameters": _check_nqmix_mixer_parameters}
"""exercise name -> check(fn) returning None or a hint."""
REFERENCES = {"order_flips": reference_order_flips, "policy_gradient_eq2": reference_policy_gradient_eq2,
              "sign_trick_step": reference_sign_trick_step,
              "nqmix_mixer_parameters": reference_nqmix_mixer_parameters}
"""exercise name -> the kit's own implementation, with the exercise's signature."""
FORBIDDEN = {
    "order_flips": ["nqmix_core.teaching.exercises_theory.reference_order_flips"],
    "policy_gradient_eq2": ["nqmix_core.teaching.theory.policy_gradient_sum", "nqmix_core.teaching.theory.tabular.policy_gradient_sum",
                            "nqmix_core.teaching.theory.exact_gradient", "nqmix_core.teaching.theory.tabular.exact_gradient"],
    "sign_trick_step": ["nqmix_core.teaching.theory.sign_trick_directions", "nqmix_core.teaching.theory.sign_trick.sign_trick_directions",
                        "nqmix_core.teaching.theory.mixer_slope_averages", "nqmix_core.teaching.theory.sign_trick.mixer_slope_averages",
                        "nqmix_core.losses.actor_loss"],
    "nqmix_mixer_parameters": ["nqmix_core.networks.count_parameters", "nqmix_core.networks.mixers.mixer_parameter_counts",
                               "nqmix_core.networks.make_mixer", "nqmix_core.networks.mixers.NQMIXMixer"],
}
"""exercise name -> the kit functions the student's code must not call (``exercises.verdict``'s guard)."""
