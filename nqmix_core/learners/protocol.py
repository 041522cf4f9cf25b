"""The learner interface: what the training loop, the runner and the checkpoints need from any learner.

Every class of ``registry.LEARNERS`` satisfies ``Learner`` (``tests/test_learner_protocol.py``
builds each on an environment of its kind and checks the attributes and the methods' parameters).
``learners.common.LearnerBase`` supplies the ε schedule (the continuous learner: its noise's σ), the target
updates and the checkpoint methods; a learner adds ``act`` and ``train_step`` (and ``rollout_diagnostics``).

| member                  | called by                  | what                                               |
|-------------------------|----------------------------|----------------------------------------------------|
| ``config``, ``info``, ``device`` | loop, runner      | its ``AlgoConfig``, the environment's ``EnvInfo``, its device |
| ``initial_hidden(E)``   | runner                     | zero recurrent state [E, N, H]                     |
| ``act(...)``            | runner                     | actions [E, N] (continuous: [E, N, A]) and the next hidden state |
| ``exploration(t_env)``  | loop (logging)             | {column: value} of the exploration schedule (ε, or σ) |
| ``train_step(batch, t_env, episodes_seen)`` | loop   | one update; returns statistics (0-d tensors)       |
| ``rollout_diagnostics(batch)`` | loop                | ``diagnostics.Sums`` on episodes just collected   |
| ``checkpoint_state()`` / ``load_checkpoint_state(s)`` | checkpoints | everything a resumed run needs   |
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from nqmix_core import diagnostics
from nqmix_core.config import AlgoConfig
from nqmix_core.specs import EnvInfo, EpisodeBatch, Observation


@runtime_checkable
class Learner(Protocol):
    """Any learner the kit trains (NQMIX, QMIX, VDN, IQL, COMA, continuous NQMIX and its baselines)."""

    config: AlgoConfig
    info: EnvInfo
    device: torch.device

    def initial_hidden(self, n_envs: int) -> torch.Tensor: ...

    def act(self, obs: Observation, last_actions: torch.Tensor, hidden: torch.Tensor, mode: str,
            t_env: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]: ...

    def exploration(self, t_env: int) -> dict[str, float]: ...

    def train_step(self, batch: EpisodeBatch, t_env: int, episodes_seen: int) -> dict[str, torch.Tensor]: ...

    def rollout_diagnostics(self, batch: EpisodeBatch) -> diagnostics.Sums: ...

    def checkpoint_state(self) -> dict: ...

    def load_checkpoint_state(self, state: dict) -> None: ...
