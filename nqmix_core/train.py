"""The experiment loop's building blocks: seeding, counters, and one collect-then-learn iteration.

One iteration plays one episode in each of the E environment copies (Alg. 1 lines 2–3), stores
them, and runs ``updates_per_rollout`` learner updates on random mini-batches (lines 4–16).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.envs.base import BatchedEnv
from nqmix_core.learners import CriticLearner
from nqmix_core.runner import EpisodeStats, rollout


@dataclass
class Generators:
    """Random streams of one run: ``act`` on the env's device (actions), ``sample`` on the CPU (replay)."""

    act: torch.Generator
    sample: torch.Generator

    @classmethod
    def from_seed(cls, seed: int, device: torch.device | str) -> "Generators":
        act = torch.Generator(device=torch.device(device))
        act.manual_seed(seed)
        sample = torch.Generator()
        sample.manual_seed(seed + 1)
        return cls(act=act, sample=sample)


@dataclass
class Counters:
    """Progress of a run: environment steps, collected episodes, learner updates."""

    t_env: int = 0
    episodes: int = 0
    updates: int = 0


def seed_everything(seed: int) -> None:
    """Seed torch's global RNG, which initialises network weights."""
    torch.manual_seed(seed)


def collect_and_learn(env: BatchedEnv, learner: CriticLearner, buffer: EpisodeBuffer, counters: Counters,
                      generators: Generators, updates_per_rollout: int = 1
                      ) -> tuple[EpisodeStats, dict[str, torch.Tensor] | None]:
    """Collect one batch of episodes with the behaviour policy, then update the learner."""
    batch, stats = rollout(env, learner, "explore", counters.t_env, generators.act)
    lengths = stats.lengths.cpu()  # one sync per rollout
    buffer.insert(batch, lengths)
    counters.t_env += int(lengths.sum())
    counters.episodes += env.n_envs
    info = None
    for _ in range(updates_per_rollout):
        if not buffer.can_sample(learner.config.batch_size):
            break
        sample = buffer.sample(learner.config.batch_size, generators.sample)
        info = learner.train_step(sample, counters.t_env, counters.episodes)
        counters.updates += 1
    return stats, info
