"""The types shared by environments, the loop, learners and networks; they depend on no environment.

* ``EnvInfo``: the sizes a task gives (agents, observation, state, actions, episode limit, bounds);
* ``Observation`` and ``StepResult``: what an environment returns (``envs/base.py``'s protocol);
* ``EpisodeBatch``: B whole episodes padded to T steps, in pymarl's layout [B, T, N, ...].
  Observations, states and available actions have T+1 entries (the one after the last action is
  needed for the bootstrap target); actions, rewards and flags have T.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

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



@dataclass
class EpisodeBatch:
    """B episodes of up to T steps.

    | field         | shape                | dtype   | meaning                                  |
    |---------------|----------------------|---------|------------------------------------------|
    | obs           | [B, T+1, N, O]       | float32 | o_t^a                                     |
    | state         | [B, T+1, S]          | float32 | s_t                                       |
    | avail_actions | [B, T+1, N, U]       | bool    | actions allowed at t                      |
    | actions       | [B, T, N]            | int64   | u_t^a                                     |
    | reward        | [B, T]               | float32 | r_t                                       |
    | terminated    | [B, T]               | bool    | the task ended after step t (no bootstrap)|
    | filled        | [B, T]               | float32 | 1 on real steps, 0 on padding             |

    Continuous actions (``EnvInfo.action_bounds`` set): ``actions`` is [B, T, N, A] float32 and
    ``avail_actions`` [B, T+1, N, A] is all True for an agent that can act, all False otherwise.
    """

    obs: torch.Tensor
    state: torch.Tensor
    avail_actions: torch.Tensor
    actions: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    filled: torch.Tensor

    @property
    def n_episodes(self) -> int:
        return self.reward.shape[0]

    @property
    def max_steps(self) -> int:
        return self.reward.shape[1]

    def map(self, fn) -> "EpisodeBatch":
        """A new batch with ``fn`` applied to every tensor."""
        return EpisodeBatch(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def with_reward_scale(self, scale: float) -> "EpisodeBatch":
        """The same episodes with every reward multiplied by ``scale`` (``RunConfig.reward_scale``)."""
        if scale == 1:
            return self
        return EpisodeBatch(**{f.name: getattr(self, f.name) for f in fields(self)} | {"reward": self.reward * scale})

    def trim(self, n_steps: int) -> "EpisodeBatch":
        """Keep the first ``n_steps`` steps (and n_steps+1 observations)."""
        def cut(x: torch.Tensor) -> torch.Tensor:
            steps = n_steps + 1 if x.shape[1] == self.max_steps + 1 else n_steps
            return x[:, :steps]
        return self.map(cut)


def empty_batch(n_episodes: int, info: EnvInfo, device: torch.device | str) -> EpisodeBatch:
    """An all-padding batch of ``n_episodes`` episodes of ``info.episode_limit`` steps."""
    b, t, n = n_episodes, info.episode_limit, info.n_agents
    return EpisodeBatch(
        obs=torch.zeros(b, t + 1, n, info.obs_dim, device=device),
        state=torch.zeros(b, t + 1, info.state_dim, device=device),
        avail_actions=torch.zeros(b, t + 1, n, info.n_actions, dtype=torch.bool, device=device),
        actions=(torch.zeros(b, t, n, info.n_actions, device=device) if info.continuous  # [B, T, N, A]
                 else torch.zeros(b, t, n, dtype=torch.long, device=device)),  # [B, T, N]
        reward=torch.zeros(b, t, device=device),
        terminated=torch.zeros(b, t, dtype=torch.bool, device=device),
        filled=torch.zeros(b, t, device=device),
    )


def no_previous_actions(info: EnvInfo, n_envs: int, device: torch.device | str) -> torch.Tensor:
    """The "last action" fed to the agents at t = 0: −1 per agent ([E, N] int64) for discrete actions,
    the zero vector ([E, N, A] float32) for continuous ones."""
    if info.continuous:
        return torch.zeros(n_envs, info.n_agents, info.n_actions, device=device)
    return torch.full((n_envs, info.n_agents), -1, dtype=torch.long, device=device)
