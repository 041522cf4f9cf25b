"""The lab's inputs and references (notebook 08): random batches in the kit's layout, seeded mixers, and
each exercise's reference solution built from the kit's own functions. ``exercises`` compares with them,
and runs the student's function under a ``DelegationGuard``, so that calling the kit's own implementation
is no way to pass.
"""
from __future__ import annotations

import functools
import importlib
import math
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from nqmix_core import losses, results
from nqmix_core.action_selection import masked_softmax
from nqmix_core.networks import make_mixer

GAMMA = 0.9
BLANK = "your function returns None; write its body where it says # YOUR CODE HERE"


@dataclass(frozen=True)
class LabBatch:
    """Random episodes in the kit's layout; ``next_*`` fields are the same arrays one step later (t + 1)."""

    policy: torch.Tensor  # [B, T, N, U] π_a(u|τ_t), masked softmax: uniform where nothing is available
    agent_qs: torch.Tensor  # [B, T, N, U] Q_a(τ_t, u)
    avail: torch.Tensor  # [B, T, N, U] bool, all False on padded steps
    next_policy: torch.Tensor  # [B, T, N, U] π'_a(u|τ_{t+1})
    next_qs: torch.Tensor  # [B, T, N, U] Q'_a(τ_{t+1}, u)
    next_avail: torch.Tensor  # [B, T, N, U] bool
    actions: torch.Tensor  # [B, T, N] int64, sampled from the policy
    reward: torch.Tensor  # [B, T], 0 on padded steps
    terminated: torch.Tensor  # [B, T] bool: even episodes end in a real termination, odd ones time out
    filled: torch.Tensor  # [B, T] float, 1 on real steps
    state: torch.Tensor  # [B, T, S]
    next_state: torch.Tensor  # [B, T, S]


def lab_batch(seed: int = 0, lengths=(5, 3, 2, 1), n_agents: int = 3, n_actions: int = 4,
              state_dim: int = 6) -> LabBatch:
    """Episodes of the given lengths padded to T = max(lengths) steps (T + 1 observations each)."""
    g = torch.Generator().manual_seed(seed)
    n_episodes, n_steps = len(lengths), max(lengths)
    length = torch.tensor(lengths)[:, None]  # [B, 1]
    real_obs = torch.arange(n_steps + 1) <= length  # [B, T+1]: observations 0..length are real
    avail = torch.rand(n_episodes, n_steps + 1, n_agents, n_actions, generator=g) > 0.4  # [B, T+1, N, U]
    avail[..., 0] = True  # at least one action, e.g. "stop"
    avail &= real_obs[..., None, None]  # no action at all on padded steps
    policy = masked_softmax(torch.randn(avail.shape, generator=g), avail)  # [B, T+1, N, U]
    agent_qs = 3.0 * torch.randn(avail.shape, generator=g)  # [B, T+1, N, U]
    state = torch.randn(n_episodes, n_steps + 1, state_dim, generator=g)  # [B, T+1, S]
    filled = (torch.arange(n_steps) < length).float()  # [B, T]
    ends = torch.arange(n_steps) == length - 1  # [B, T]: the last real step
    terminated = ends & (torch.arange(n_episodes) % 2 == 0)[:, None]  # [B, T]
    reward = torch.randn(n_episodes, n_steps, generator=g) * filled  # [B, T]
    now = policy[:, :-1].reshape(-1, n_actions)  # [B*T*N, U]
    actions = torch.multinomial(now, 1, generator=g).view(n_episodes, n_steps, n_agents)  # [B, T, N]
    return LabBatch(policy[:, :-1], agent_qs[:, :-1], avail[:, :-1], policy[:, 1:], agent_qs[:, 1:], avail[:, 1:],
                    actions, reward, terminated, filled, state[:, :-1], state[:, 1:])


def seeded_mixer(name: str, n_agents: int = 3, state_dim: int = 6, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised mixer (``make_mixer``) whose weights depend on ``seed`` only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_mixer(name, n_agents, state_dim)


# --- the kit's implementations, with the exercises' signatures ------------------------------------

def reference_state_value_target(target_policy, target_qs, avail_next, reward, terminated, next_state,
                                 target_mixer, gamma):
    next_v = losses.state_values(target_policy, target_qs, avail_next)  # [B, T, N]
    return losses.td_targets(reward, terminated, target_mixer(next_v, next_state), gamma)  # [B, T]


def reference_actor_objective(policy, agent_qs, sign, mask, gamma):
    discount = losses.discount_weights(policy.shape[1], gamma, policy.device)  # [T]
    return losses.actor_loss(policy, agent_qs, sign, discount, mask)[0]


def counterfactual_qs(joint_q: torch.Tensor, actions: torch.Tensor, shift: int = 0) -> torch.Tensor:
    """Q(s, (u^{-a}, u')) for every agent a and own action u': joint_q [B, U, ..., U] (N action axes),
    actions [B, N] -> [B, N, U], the layout of COMA's centralised critic. ``shift`` ≠ 0 is a mistake the
    lab recognises: the action that runs over u' is agent (a + shift) mod N's instead of a's own."""
    n_episodes, n_agents = actions.shape
    n_actions = joint_q.shape[-1]
    rows = []
    for a in range(n_agents):
        joint = actions[:, None, :].repeat(1, n_actions, 1)  # [B, U, N]: the joint action taken ...
        joint[:, :, (a + shift) % n_agents] = torch.arange(n_actions)  # ... with agent a's own action set to u'
        rows.append(joint_q[(torch.arange(n_episodes)[:, None], *joint.unbind(-1))])  # [B, U]
    return torch.stack(rows, dim=1)  # [B, N, U]


def reference_counterfactual_baseline(policy, joint_q, actions, shift: int = 0):
    return losses.counterfactual_baseline(policy, counterfactual_qs(joint_q, actions, shift))  # [B, N]


def reference_welch_verdict(x, y):
    final = pd.DataFrame({"map": "m", "method": ["X"] * len(x) + ["Y"] * len(y), "final": [*x, *y]})
    comparison = results.compare(final, "m", "X", "Y")
    return float(comparison.low), float(comparison.high), comparison.outcome


def normal_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The mistake of using z = 1.96 instead of Welch's t quantile: mean(x) − mean(y) ± 1.96·se."""
    diff, se = x.mean() - y.mean(), math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    return float(diff - 1.959964 * se), float(diff + 1.959964 * se)


REFERENCES = {"state_value_target": reference_state_value_target, "mixer_sign": losses.mixer_gradient_sign,
              "actor_objective": reference_actor_objective,
              "counterfactual_baseline": reference_counterfactual_baseline,
              "welch_verdict": reference_welch_verdict}
"""Exercise name -> the kit's implementation with the exercise's signature."""


# --- comparing a student's result with the reference ------------------------------------------------------------------------------------

def as_result(result, shape) -> tuple[torch.Tensor | None, str | None]:
    """The student's result as a float64 tensor of ``shape``, or a hint saying why it is not one."""
    if result is None:
        return None, BLANK
    try:
        result = torch.as_tensor(result).detach().double()
    except (TypeError, ValueError, RuntimeError):
        return None, f"return a torch tensor of shape {list(shape)}, not a {type(result).__name__}"
    if result.shape != torch.Size(shape):
        return None, f"the result has shape {list(result.shape)}; it should be {list(shape)}"
    return result, None


def close(got: torch.Tensor, want: torch.Tensor) -> bool:
    return bool(torch.allclose(got.double(), want.detach().double(), rtol=1e-4, atol=1e-5))


def diagnose(got: torch.Tensor, near_misses: list[tuple[str, torch.Tensor]], hint: str, where=None) -> str:
    """The hint of the first known mistake whose result matches the student's (on the entries ``where``
    is True, if given), else the general hint."""
    where = torch.ones(got.shape, dtype=torch.bool) if where is None else where
    return next((h for h, value in near_misses if close(got[where], value[where])), hint)


# --- the student's own code: no call of the kit's implementation -------------------------------------------------

def kit_function(dotted: str):
    """``"losses.state_values"``, ``"nqmix_core.losses.state_values"`` or ``"results.Comparison.outcome"`` -> the
    function (or class, or property) of ``nqmix_core`` that the path names; a module of the teaching code may
    be named without ``teaching.`` (``"exercise_inputs.counterfactual_qs"``)."""
    parts = dotted.removeprefix("nqmix_core.").split(".")
    for package in ("nqmix_core.", "nqmix_core.teaching."):
        for cut in range(len(parts) - 1, 0, -1):  # the longest importable module first: "networks.mixers.X"
            try:
                found = importlib.import_module(package + ".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attr in parts[cut:]:
                found = getattr(found, attr)
            return found
    raise ValueError(f"{dotted!r} names no function of nqmix_core; write FORBIDDEN entries as 'module.function'.")


def _code(fn):
    """The code object that runs when ``fn`` is called (properties, partials and wrappers unwrapped; for a
    class, the first of ``__init__``, ``forward``, ``__call__`` that the class itself defines)."""
    if isinstance(fn, type):
        fn = next((fn.__dict__[k] for k in ("__init__", "forward", "__call__") if k in fn.__dict__), None)
    fn = fn.fget if isinstance(fn, property) else fn
    fn = fn.func if isinstance(fn, functools.partial) else fn
    return getattr(getattr(fn, "__wrapped__", fn), "__code__", None)


class DelegationGuard:
    """Records a call of any of the kit's ``functions`` ({label: function}) made while a guarded student
    function runs, by whatever name the student reached it (``losses.x``, an imported alias, a helper, the
    exercise's entry in ``REFERENCES``): the profiler sees the function's code object itself."""

    def __init__(self, functions: dict):
        self.labels = {code: label for label, fn in functions.items() if (code := _code(fn)) is not None}
        self.called: str | None = None  # the first forbidden function the student's code called

    def _profile(self, frame, event, arg) -> None:
        if event == "call" and self.called is None and frame.f_code in self.labels:
            self.called = self.labels[frame.f_code]

    def wrap(self, fn):
        """``fn`` with the guard on while it runs (and only then: the check's own reference calls are free)."""
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            previous = sys.getprofile()
            sys.setprofile(self._profile)
            try:
                return fn(*args, **kwargs)
            finally:
                sys.setprofile(previous)
        return guarded
