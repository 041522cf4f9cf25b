"""The one environment protocol every backend speaks (matrix games, SMAX, real SMAC).

An environment object holds ``n_envs`` independent copies of one task and steps them together.
Everything it returns is a torch tensor on ``env.device``; the axis order is always
``[E, N, ...]`` = environment, agent, features.

Episode end has two flavours, kept apart on purpose (pymarl does the same):

* ``terminated``: the task really ended (win, loss, one-step game over). The learner must *not*
  bootstrap from the next state.
* ``timed_out``: the episode hit ``EnvInfo.episode_limit``. The episode stops, but the learner
  *does* bootstrap, because the cut is an artefact of the benchmark, not of the task.

Once an environment copy is done (``terminated | timed_out``) the runner ignores what that copy
returns until the next ``reset``; a backend may keep stepping it or freeze it, whichever is cheaper.

Actions are discrete by default: one int64 index per agent, ``[E, N]``. A task with continuous
actions sets ``EnvInfo.action_bounds``; then an action is a float vector of length
``EnvInfo.n_actions`` per agent, ``[E, N, A]``, every component inside the bounds, and
``avail_actions`` is ``[E, N, A]`` with every entry True for an agent that can act and every entry
False for one that cannot (a dead unit): a mask over agents, not over action components.

The types it speaks in (``EnvInfo``, ``Observation``, ``StepResult``) live in ``nqmix_core.specs``, so that
learners and networks can use them without importing any environment.
"""
from __future__ import annotations

from typing import Protocol

import torch

from nqmix_core.specs import EnvInfo, Observation, StepResult  # the types this protocol speaks in


class BatchedEnv(Protocol):
    """A batch of E copies of one cooperative multi-agent task."""

    info: EnvInfo
    n_envs: int
    device: torch.device

    def reset(self, seed: int | None = None) -> Observation:
        """Start a new episode in every copy. The same seed gives the same episodes."""
        ...

    def step(self, actions: torch.Tensor) -> StepResult:
        """Apply ``actions`` ([E, N] int64, each one available; continuous: [E, N, A] float) in every copy."""
        ...

    def close(self) -> None:
        """Release what the backend holds (processes, game clients). Safe to call twice."""
        ...

    # A backend with a random stream of its own (SMAX's JAX key) also provides
    # ``rng_state() -> list[int]`` and ``set_rng_state(state)``, so a checkpoint can resume it exactly;
    # torch-only backends draw from torch's generator, which the checkpoint saves anyway.
