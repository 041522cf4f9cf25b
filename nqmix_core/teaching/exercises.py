"""Self-checking exercises for the lab (notebook 08): a student writes a function, a check compares it
with the kit's own implementation on random inputs and prints "pass" or "not yet: <a hint>".

    from nqmix_core.teaching import exercises as ex
    ex.check("mixer_sign", mixer_sign)          # prints "pass" or "not yet: ..."
    sign_fn = ex.yours_or_kits("mixer_sign", mixer_sign)   # for experiments: the kit's until yours passes

The random inputs follow the kit's conventions (axis order [B, T, N, U]; ``filled`` mask [B, T]; padded
steps after an episode's end, where no action is available and the masked softmax is uniform). A check
never raises: a blank body (returning None), a wrong shape or an exception in the student's code is a
"not yet" with a hint, so a notebook of blanks still runs from top to bottom. A function that calls the
kit's own implementation (anything ``FORBIDDEN`` names for its exercise, and the exercise's entry in
``REFERENCES``) is a "not yet" too: ``verdict`` runs it under a ``DelegationGuard``.

Each module of checks (this one for the lab, ``exercises_theory``/``_training``/``_evidence`` for notebooks
01–07) holds three dicts keyed by exercise name: ``CHECKS`` (name -> check(fn) returning None or a hint),
``REFERENCES`` (name -> the kit's implementation with the exercise's signature) and ``FORBIDDEN`` (name ->
the kit functions a student's answer may not call, as paths below ``nqmix_core``: ``"losses.td_targets"``,
``"results.Comparison.outcome"``). Hints name the mistake or the idea, never a line of the solution.

| exercise                  | the kit's reference                                            | paper           |
|---------------------------|----------------------------------------------------------------|-----------------|
| ``state_value_target``    | ``losses.state_values``, target mixer, ``losses.td_targets``   | Alg. 1 l. 9–12  |
| ``mixer_sign``            | ``losses.mixer_gradient_sign``                                 | Eq. 13, l. 14   |
| ``actor_objective``       | ``losses.actor_loss`` with ``losses.discount_weights``         | Eq. 13, l. 14   |
| ``counterfactual_baseline`` | ``losses.counterfactual_baseline`` on Q(s, (u^{-a}, u'))     | Eqs. 5–6 (COMA) |
| ``welch_verdict``         | ``results.compare`` and ``Comparison.outcome``                 | claims table    |
"""
from __future__ import annotations

import numpy as np
import torch

from nqmix_core import losses, results
from nqmix_core.teaching import exercises_evidence, exercises_theory, exercises_training
from nqmix_core.teaching.exercise_inputs import (  # noqa: F401  (the notebook reaches them through this module)
    BLANK,
    GAMMA,
    REFERENCES,
    DelegationGuard,
    LabBatch,
    counterfactual_qs,
    kit_function,
    lab_batch,
    normal_interval,
    reference_actor_objective,
    reference_counterfactual_baseline,
    reference_state_value_target,
    reference_welch_verdict,
    seeded_mixer,
)
from nqmix_core.teaching.exercise_inputs import close as _close
from nqmix_core.teaching.exercise_inputs import diagnose as _diagnose
from nqmix_core.teaching.exercise_inputs import as_result as _tensor
from nqmix_core.action_selection import masked_softmax

# --- the checks: each returns None (pass) or a hint -----------------------------------------------

def _check_state_value_target(fn) -> str | None:
    b = lab_batch(seed=1)
    mixer = seeded_mixer("nqmix", seed=2)
    args = [b.next_policy, b.next_qs, b.next_avail, b.reward, b.terminated, b.next_state]
    want = reference_state_value_target(*args, mixer, GAMMA)  # [B, T]
    got, hint = _tensor(fn(*[x.clone() for x in args], mixer, GAMMA), want.shape)
    if hint or _close(got, want):
        return hint
    everything = torch.ones_like(b.next_avail)
    greedy = losses.greedy_next_values(b.next_qs, None, b.next_avail)  # [B, T, N]
    return _diagnose(got, [  # on the real steps: what a mistake does to the padding varies
        ("count only the available actions: at a padded step nothing is available and π' is uniform there, "
         "so V'_a must be 0 there; an unavailable action adds nothing to V'_a",
         reference_state_value_target(*args[:2], everything, *args[3:], mixer, GAMMA)),
        ("discount the bootstrap: the next state's value V'_tot is multiplied by γ before it is added to r",
         reference_state_value_target(*args, mixer, 1.0)),
        ("no bootstrap after a real termination: multiply γ·V'_tot by (1 − terminated)",
         reference_state_value_target(*args[:4], torch.zeros_like(b.terminated), args[5], mixer, GAMMA)),
        ("V'_a is the expectation Σ_u π'_a(u)·Q'_a(u) under the target policy, not max_u Q'_a(u)",
         losses.td_targets(b.reward, b.terminated, mixer(greedy, b.next_state), GAMMA)),
    ], "y = r + γ·(1 − terminated)·target_mixer(V', s') with V'_a = Σ_u π'_a(u)·Q'_a(u) over available "
       "actions; V' has shape [B, T, N] and y [B, T]", where=b.filled > 0)


def _check_mixer_sign(fn) -> str | None:
    b = lab_batch(seed=3)
    chosen_qs = losses.chosen_action_values(b.agent_qs, b.actions)  # [B, T, N]
    for name in ("nqmix", "qmix-no-abs"):
        mixer = seeded_mixer(name, seed=4)
        want = losses.mixer_gradient_sign(mixer, chosen_qs, b.state)  # [B, T, N]
        result = fn(mixer, chosen_qs.clone(), b.state.clone())
        if isinstance(result, torch.Tensor) and result.requires_grad:
            return "return a constant: .detach() the signs, the actor loss must not backpropagate through them"
        if any(p.grad is not None for p in mixer.parameters()):
            return ("a gradient landed on the mixer's weights: ask autograd for the gradient with respect to "
                    "the Q-values only, instead of calling .backward() on Q_tot")
        got, hint = _tensor(result, want.shape)
        if hint:
            return hint
        if not _close(got, want):
            if _close(got.sign(), want):
                return "return the sign of ∂Q_tot/∂Q_a (−1, 0 or +1), not the derivative itself"
            return _diagnose(got, [("the sign is flipped: +1 where raising Q_a raises Q_tot", -want)],
                             f"with the {name!r} mixer some signs differ: differentiate Q_tot = mixer(Q, s) with "
                             f"respect to each Q_a at the sampled Q-values (one backward pass of the sum of Q_tot over b, t)")
    return None


def _check_actor_objective(fn) -> str | None:
    b = lab_batch(seed=5)
    sign = torch.where(torch.rand(b.actions.shape, generator=torch.Generator().manual_seed(6)) < 0.3, -1.0, 1.0)
    leaves = [b.policy.clone().requires_grad_(), b.agent_qs.clone().requires_grad_()]
    want = reference_actor_objective(leaves[0], leaves[1], sign, b.filled, GAMMA)
    want_grad = torch.autograd.grad(want, leaves[0])[0]  # [B, T, N, U]
    mine = [b.policy.clone().requires_grad_(), b.agent_qs.clone().requires_grad_()]
    result = fn(mine[0], mine[1], sign.clone(), b.filled.clone(), GAMMA)
    if result is None:
        return BLANK
    got, hint = _tensor(result, ())
    if hint or not isinstance(result, torch.Tensor):
        return "return one number, a 0-dim torch tensor built from the policy tensor: the loss to minimise"
    if not _close(got, want):
        ones_t = torch.ones_like(b.filled)
        unmasked = reference_actor_objective(b.policy, b.agent_qs, sign, ones_t, GAMMA)  # divided by B·T
        masking = "mask the padded steps: multiply each step's term by mask[b, t]"
        return _diagnose(got, [
            ("this is a loss to minimise: minus the objective", -want), (masking, unmasked),
            (masking, unmasked * ones_t.sum() / b.filled.sum()),  # divided by Σ mask
            ("weight step t by I_t = γ^t (Alg. 1 lines 5 and 15): step 0 by 1, step 1 by γ, ...",
             reference_actor_objective(b.policy, b.agent_qs, sign, b.filled, 1.0)),
            ("multiply each agent's term by its sign(∂Q_tot/∂Q_a)",
             reference_actor_objective(b.policy, b.agent_qs, torch.ones_like(sign), b.filled, GAMMA)),
            ("divide by the number of real steps Σ mask, not by steps × agents", want / b.actions.shape[-1]),
        ], "L = −Σ_{b,t,a} γ^t·mask·sign·Σ_u π·Q / Σ mask; compare your sum with the formula term by term")
    if not result.requires_grad:
        return "no gradient reaches π: build the loss from the policy tensor itself, without .detach() on it"
    grads = torch.autograd.grad(result, mine, allow_unused=True)
    if grads[1] is not None and grads[1].abs().max() > 0:
        return "the actor step must not move the critic: Q_a is a constant in the objective, cut it from the graph"
    if grads[0] is None or not _close(grads[0], want_grad):
        return "the value is right but its gradient with respect to π is not: let π enter only through Σ_u π·Q"
    return None


def _check_counterfactual_baseline(fn) -> str | None:
    g = torch.Generator().manual_seed(7)
    n_episodes, n_agents, n_actions = 6, 3, 4
    avail = torch.rand(n_episodes, n_agents, n_actions, generator=g) > 0.3  # [B, N, U]
    avail[..., 0] = True
    policy = masked_softmax(torch.randn(avail.shape, generator=g), avail)  # [B, N, U]
    actions = torch.multinomial(policy.view(-1, n_actions), 1, generator=g).view(n_episodes, n_agents)  # [B, N]
    joint_q = 5.0 * torch.randn(n_episodes, *[n_actions] * n_agents, generator=g)  # [B, U, U, U]
    want = reference_counterfactual_baseline(policy, joint_q, actions)  # [B, N]
    got, hint = _tensor(fn(policy.clone(), joint_q.clone(), actions.clone()), want.shape)
    if hint or _close(got, want):
        return hint
    taken = joint_q[(torch.arange(n_episodes), *actions.unbind(-1))]  # [B]
    wrong_axis = ("a wrong axis: for agent a it is a's own action, axis 1 + a of joint_q (axis 0 is the "
                  "episode), that runs over u'; the other agents keep the actions they took")
    return _diagnose(got, [
        ("the baseline averages over agent a's own action u' (weights π_a(u')); Q(s, u) of the joint action "
         "taken is the first term of the advantage, Eq. 6", taken[:, None].expand(-1, n_agents)),
        *[(wrong_axis, reference_counterfactual_baseline(policy, joint_q, actions, shift)) for shift in (1, -1)],
    ], "for agent a keep the other agents' actions u^{-a} as taken, let a's own action run over u', and weight "
       "Q(s, (u^{-a}, u')) by π_a(u'|τ^a)")


WELCH_CASES = [([0.90, 0.80, 0.85], [0.30, 0.40, 0.35]), ([0.10, 0.20, 0.15], [0.60, 0.70, 0.80]),
               ([0.50, 0.52, 0.51, 0.49], [0.50, 0.51, 0.49, 0.50]), ([0.2, 0.9, 0.5], [0.3, 0.8, 0.1]),
               ([0.0, 0.01, 0.0], [0.0, 0.0, 0.02]), ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]), ([1.0, 1.0], [0.0, 0.0])]
"""Hand-picked cases: X better, Y better, tied, unclear (wide), unclear (nothing learned), zero spread."""


def _check_welch_verdict(fn) -> str | None:
    rng = np.random.default_rng(8)
    random_cases = [(rng.uniform(0, 1, rng.integers(2, 7)), rng.uniform(0, 1, rng.integers(2, 7))) for _ in range(20)]
    for x, y in [*WELCH_CASES, *random_cases]:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        low, high, verdict = reference_welch_verdict(x, y)
        result = fn(x.copy(), y.copy())
        if result is None:
            return BLANK
        if not (isinstance(result, tuple) and len(result) == 3):
            return "return a tuple (low, high, verdict), e.g. (0.12, 0.48, 'X better')"
        shown = f"X = {np.round(x, 2).tolist()}, Y = {np.round(y, 2).tolist()}"
        if not np.allclose([float(result[0]), float(result[1])], [low, high], rtol=1e-6, atol=1e-9):
            if np.allclose([float(result[0]), float(result[1])], normal_interval(x, y), rtol=1e-3, atol=1e-6):
                return (f"for {shown} your interval uses the normal quantile z ≈ 1.96; with so few seeds the "
                        f"interval needs Student's t quantile t_0.975(ν) with Welch's ν degrees of freedom, "
                        f"which is wider")
            return (f"for {shown} the interval should be [{low:+.4f}, {high:+.4f}], yours is "
                    f"[{float(result[0]):+.4f}, {float(result[1]):+.4f}]: difference of means ± "
                    f"t_0.975(ν)·√(s²_X/n_X + s²_Y/n_Y) with sample variances (ddof=1) and Welch's ν; if neither "
                    f"varies, the interval is the single point mean(X) − mean(Y)")
        if result[2] != verdict:
            return (f"for {shown} (interval [{low:+.3f}, {high:+.3f}]) the verdict is {verdict!r}, not "
                    f"{result[2]!r}: above 0 'X better', below 0 'Y better'; otherwise 'tied' only when the "
                    f"half-width is below TIE_WIDTH = {results.TIE_WIDTH} and max(mean) ≥ LEARNED = "
                    f"{results.LEARNED}, else 'unclear'")
    return None


FORBIDDEN = {"state_value_target": ["losses.state_values", "losses.td_targets"],
             "mixer_sign": ["losses.mixer_gradient_sign", "losses.mixer_gradient"],
             "actor_objective": ["losses.actor_loss", "losses.discount_weights"],
             "counterfactual_baseline": ["losses.counterfactual_baseline", "losses.counterfactual_advantage",
                                         "exercise_inputs.counterfactual_qs"],
             "welch_verdict": ["results.compare", "results.Comparison.outcome"]}
"""Exercise name -> the kit functions a student's answer may not call (paths below ``nqmix_core``)."""

CHECKS = {"state_value_target": _check_state_value_target, "mixer_sign": _check_mixer_sign,
          "actor_objective": _check_actor_objective, "counterfactual_baseline": _check_counterfactual_baseline,
          "welch_verdict": _check_welch_verdict,
          # the exercises of notebooks 01–07, one module per part of the course
          **exercises_theory.CHECKS, **exercises_training.CHECKS, **exercises_evidence.CHECKS}
REFERENCES.update({**exercises_theory.REFERENCES, **exercises_training.REFERENCES, **exercises_evidence.REFERENCES})
for _module in (exercises_theory, exercises_training, exercises_evidence):
    FORBIDDEN.update(getattr(_module, "FORBIDDEN", {}))


def delegation_guard(name: str) -> DelegationGuard:
    """The guard of exercise ``name``: the kit functions ``FORBIDDEN`` names, and the exercise's reference."""
    functions = {dotted.removeprefix("nqmix_core."): kit_function(dotted) for dotted in FORBIDDEN.get(name, [])}
    if name in REFERENCES:
        reference = REFERENCES[name]
        module = getattr(reference, "__module__", "") or ""
        label = f"{module.removeprefix('nqmix_core.')}.{getattr(reference, '__qualname__', name)}"
        functions.setdefault(label, reference)
    return DelegationGuard(functions)


def verdict(name: str, fn) -> str:
    """"pass" or "not yet: <hint>" for the student's ``fn`` on exercise ``name``; never raises."""
    guard = delegation_guard(name)
    try:
        hint = CHECKS[name](guard.wrap(fn))
    except Exception as error:  # noqa: BLE001 -- the student's code raised: a "not yet", never a crash
        hint = f"your function raised {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
    if guard.called is not None:  # whatever the check made of it: the kit's answer is not the student's
        hint = f"write it yourself, without calling nqmix_core's {guard.called}"
    return "pass" if hint is None else f"not yet: {hint}"


def check(name: str, fn) -> None:
    """Print ``verdict(name, fn)``: the check cell of an exercise."""
    print(verdict(name, fn))


def yours_or_kits(name: str, fn):
    """The student's ``fn`` once it passes its check, else the kit's implementation (and a note saying so)."""
    if verdict(name, fn) == "pass":
        return fn
    print(f"(your {name} does not pass yet: this experiment uses the kit's implementation)")
    return REFERENCES[name]
