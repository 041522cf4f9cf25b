"""The write-code exercises of notebooks 04 and 07 (SMAX training, continuous actions).

Each check takes the student's function and returns None (pass) or a hint; ``nqmix_core.teaching.exercises`` gathers
``CHECKS`` and ``REFERENCES`` of every such module, so a notebook calls ``ex.check(name, fn)`` for all of them.
The comparison helpers (``as_result``, ``close``, ``diagnose``) are in ``nqmix_core.teaching.exercise_inputs``.

| exercise                        | notebook | the kit's reference                              | paper             |
|---------------------------------|----------|--------------------------------------------------|-------------------|
| ``wilson_interval``             | 04       | ``reference.wilson_interval``                    | Sec. 5 (protocol) |
| ``deterministic_actor_objective`` | 07     | ``continuous_losses.deterministic_actor_loss``   | Eq. 14, Alg. 2 l. 13 |
"""
from __future__ import annotations

import math

import numpy as np
import torch

from nqmix_core import continuous_losses, reference
from nqmix_core.teaching.exercise_inputs import BLANK, as_result, close, diagnose

Z95 = 1.959964
"""The 97.5% quantile of the standard normal: a 95% interval."""


# --- notebook 04: the Wilson interval of a win rate --------------------------------------------------

def _wald(wins, n, z):
    p = wins / n
    half = z * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def _wilson_without_shrink(wins, n, z):
    p = wins / n
    centre, half = p + z * z / (2 * n), z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)
    return centre - half, centre + half


def _wilson_without_second_term(wins, n, z):
    p = wins / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n)
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


WILSON_CASES = [(0, 16), (16, 16), (8, 16), (3, 16), (13, 16), (1, 1), (0, 1), (25, 32), (0, 320), (301, 320)]
"""Hand-picked (wins, episodes): none won, all won, half, few, many, one battle, a reference run's sizes."""


def _check_wilson_interval(fn) -> str | None:
    rng = np.random.default_rng(24)
    cases = [*WILSON_CASES, *[(int(rng.integers(0, n + 1)), n) for n in rng.integers(1, 400, 20).tolist()]]
    cases = [(wins, n, z) for z in (Z95, 1.0) for wins, n in cases]  # [C] (wins, episodes, z)
    got = []
    for wins, n, z in cases:
        result = fn(wins, n, z)
        if result is None:
            return BLANK
        try:
            got.append([float(x) for x in result])
        except (TypeError, ValueError):
            return "return a pair (low, high) of two numbers, e.g. (0.28, 0.72)"
        if len(got[-1]) != 2:
            return "return a pair (low, high) of two numbers, e.g. (0.28, 0.72)"
    got = torch.tensor(got, dtype=torch.float64)  # [C, 2]
    want = torch.tensor([reference.wilson_interval(*case) for case in cases], dtype=torch.float64)  # [C, 2]
    if close(got, want):
        return None
    first = next(i for i in range(len(cases)) if not close(got[i], want[i]))
    wins, n, z = cases[first]
    shown = (f"for {wins} wins in {n} battles (z = {z:.2f}) the interval is [{want[first, 0]:.4f}, "
             f"{want[first, 1]:.4f}], yours [{got[first, 0]:.4f}, {got[first, 1]:.4f}]")

    def every(interval) -> torch.Tensor:
        return torch.tensor([interval(*case) for case in cases], dtype=torch.float64)  # [C, 2]

    return shown + ": " + diagnose(got, [
        ("return (low, high) in that order", want.flip(-1)),
        ("that is the normal (Wald) interval p ± z·√(p(1−p)/n), which has zero width at 0 or all wins; "
         "Wilson's interval is the set of q with |p − q| ≤ z·√(q(1−q)/n)", every(_wald)),
        ("use the z argument: z = 1.96 gives 95%, the check also tries other values",
         every(lambda wins, n, z: reference.wilson_interval(wins, n, Z95))),
        ("the centre and the half-width are both divided by 1 + z²/n", every(_wilson_without_shrink)),
        ("the square root in the half-width holds two terms: p(1−p)/n and one that does not vanish "
         "when p is 0 or 1", every(_wilson_without_second_term)),
    ], "solve |p − q| = z·√(q(1−q)/n) for q: a quadratic in q whose two roots are low and high")


# --- notebook 07: the deterministic actor's loss (Eq. 14) ---------------------------------------------

def reference_deterministic_actor_objective(actions, action_grads, sign, discount, mask):
    """The kit's loss for Eq. 14 with the exercise's signature."""
    return continuous_losses.deterministic_actor_loss(actions, action_grads, sign, discount, mask)[0]


def _actor_inputs(seed: int = 14, lengths=(5, 3, 2, 1), n_agents: int = 3, action_dim: int = 2, gamma: float = 0.9):
    """Random inputs in the learner's layout: padded episodes, and an agent that died in episode 0."""
    g = torch.Generator().manual_seed(seed)
    n_episodes, n_steps = len(lengths), max(lengths)
    actions = torch.rand(n_episodes, n_steps, n_agents, action_dim, generator=g) * 2 - 1  # [B, T, N, A]
    action_grads = torch.randn(n_episodes, n_steps, n_agents, action_dim, generator=g)  # [B, T, N, A]
    sign = torch.where(torch.rand(n_episodes, n_steps, n_agents, generator=g) < 0.3, -1.0, 1.0)  # [B, T, N]
    discount = gamma ** torch.arange(n_steps, dtype=torch.float32)  # [T]
    mask = (torch.arange(n_steps) < torch.tensor(lengths)[:, None]).float()  # [B, T]
    mask = mask[..., None].repeat(1, 1, n_agents)  # [B, T, N]
    mask[0, 2:, 1] = 0.0  # agent 1 dies after step 1 of episode 0: fewer acting agents than steps × N
    return actions, action_grads, sign, discount, mask


def _actor_near_misses(actions, action_grads, sign, discount, mask, want):
    def loss(weight, n):
        return -(weight * (actions * action_grads).sum(-1)).sum() / n

    n_steps = mask.amax(-1).sum()
    every_step = torch.ones_like(mask)
    return [
        ("this is a loss to minimise: minus the objective", -want),
        ("multiply each agent's term by its sgn(∂Q_tot/∂Q_a)", loss(discount.view(1, -1, 1) * mask, n_steps)),
        ("weight step t by I_t = discount[t]", loss(sign * mask, n_steps)),
        ("mask the padded steps and the agents that no longer act: multiply each term by mask[b, t, a]",
         loss(sign * discount.view(1, -1, 1) * every_step, n_steps)),
        ("mask the padded steps and the agents that no longer act: multiply each term by mask[b, t, a]",
         loss(sign * discount.view(1, -1, 1) * every_step, every_step.amax(-1).sum())),
        ("divide by the number of real steps (a step counts once, however many agents act in it), "
         "not by the number of acting agents summed over steps", loss(sign * discount.view(1, -1, 1) * mask,
                                                                        mask.sum())),
        ("⟨μ_a, g⟩ sums over the action components; it is not their mean", want / actions.shape[-1]),
    ]


def _check_deterministic_actor_objective(fn) -> str | None:
    inputs = _actor_inputs()
    leaf = inputs[0].clone().requires_grad_(True)
    want = reference_deterministic_actor_objective(leaf, *inputs[1:])
    (want_grad,) = torch.autograd.grad(want, leaf)  # [B, T, N, A]
    mine = [inputs[0].clone().requires_grad_(True), inputs[1].clone().requires_grad_(True),
            *(x.clone() for x in inputs[2:])]
    result = fn(*mine)
    if result is None:
        return BLANK
    got, hint = as_result(result, ())
    if hint or not isinstance(result, torch.Tensor):
        return "return one number, a 0-dim torch tensor built from the actions tensor: the loss to minimise"
    if not close(got, want):
        return diagnose(got, _actor_near_misses(*inputs, want.detach()),
                        "L = −Σ_{b,t,a} mask·I_t·sign·⟨μ_a, g⟩ / (number of real steps); compare your sum with "
                        "the formula term by term")
    if not result.requires_grad:
        return "no gradient reaches the actions: build the loss from the actions tensor itself, without .detach()"
    grads = torch.autograd.grad(result, mine[:2], allow_unused=True)
    if grads[1] is not None and grads[1].abs().max() > 0:
        return ("g = ∇_u Q_a is a constant for the actor step: no gradient of the loss may flow back into "
                "action_grads (the critic)")
    if grads[0] is None or not close(grads[0], want_grad):
        return "the value is right but its gradient with respect to the actions is not: let μ enter only through ⟨μ, g⟩"
    return None


CHECKS: dict = {"wilson_interval": _check_wilson_interval,
                "deterministic_actor_objective": _check_deterministic_actor_objective}
"""exercise name -> check(fn) returning None or a hint."""
REFERENCES: dict = {"wilson_interval": reference.wilson_interval,
                    "deterministic_actor_objective": reference_deterministic_actor_objective}
"""exercise name -> the kit's own implementation, with the exercise's signature."""
FORBIDDEN: dict = {"wilson_interval": ["reference.wilson_interval"],
                   "deterministic_actor_objective": ["continuous_losses.deterministic_actor_loss"]}
"""exercise name -> the kit functions a student's answer may not call (paths below ``nqmix_core``); the
exercise's entry in ``REFERENCES`` is guarded too (``exercises.delegation_guard``)."""
