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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class EnvInfo:
    """Sizes that come from the environment. Never written back into a config."""

    n_agents: int
    """N, the number of agents the learner controls."""
    obs_dim: int
    """Length of one agent's observation vector."""
    state_dim: int
    """Length of the global state vector seen only by the mixer (centralised training)."""
    n_actions: int
    """|U|, the number of discrete actions per agent (for continuous tasks: the action dimension)."""
    episode_limit: int
    """Maximum number of steps in an episode; reaching it sets ``timed_out``."""
    action_bounds: tuple[float, float] | None = None
    """None for discrete actions. For continuous actions (low, high): each of the ``n_actions``
    components of an agent's action vector lies in [low, high]."""

    @property
    def continuous(self) -> bool:
        """True when actions are real vectors (``action_bounds`` set), False for discrete indices."""
        return self.action_bounds is not None


@dataclass(frozen=True)
class Observation:
    """What the agents and the mixer see at one time step, for E environment copies."""

    obs: torch.Tensor  # [E, N, obs_dim] float32
    state: torch.Tensor  # [E, state_dim] float32
    avail_actions: torch.Tensor  # [E, N, n_actions] bool; discrete: every agent has at least one True
    # (the runner stops with a UserError when an agent of a running copy has none)


@dataclass(frozen=True)
class StepResult:
    """Outcome of one joint action in each of the E copies, plus the next observation."""

    next: Observation
    reward: torch.Tensor  # [E] float32, shared by all agents
    terminated: torch.Tensor  # [E] bool, the task ended: do not bootstrap
    timed_out: torch.Tensor  # [E] bool, the episode limit cut the episode: bootstrap
    won: torch.Tensor  # [E] bool, meaningful on the step an episode ends (False elsewhere)


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
