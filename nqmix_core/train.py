"""The experiment loop's building blocks: seeding, counters, training statistics, and one
collect-then-learn iteration (``store`` + ``learn``; ``experiment.iterate`` can overlap the two).

One iteration plays one episode in each of the E environment copies (Alg. 1 lines 2–3), stores
them, and runs ``updates_per_rollout`` learner updates on random mini-batches (lines 4–16).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.specs import EpisodeBatch
from nqmix_core.config import AlgoConfig
from nqmix_core.envs.base import BatchedEnv, EnvInfo
from nqmix_core.learners import CriticLearner
from nqmix_core.registry import make_learner
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


@dataclass
class TrainTracker:
    """Training statistics summed on the device since the last log row, plus a non-finite-loss flag.

    Each statistic is a sum and a weight; a row reports sum / weight (NaN when the weight is 0):
    rollout statistics are weighted by episodes, update statistics by updates, and the diagnostics
    (``nqmix_core.diagnostics``) carry their own weights (decisions or steps counted).
    """

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    episodes: int = 0
    updates: int = 0
    nonfinite: torch.Tensor | None = None

    def add(self, name: str, value: torch.Tensor, weight: torch.Tensor | float = 1.0) -> None:
        value = value.detach().float().sum()
        weight = torch.as_tensor(weight, dtype=torch.float32, device=value.device)
        if name in self.sums:
            self.sums[name], self.weights[name] = self.sums[name] + value, self.weights[name] + weight
        else:
            self.sums[name], self.weights[name] = value, weight

    def add_rollout(self, stats: EpisodeStats) -> None:
        n_episodes = stats.returns.shape[0]
        self.episodes += n_episodes
        for name, value in (("return", stats.returns), ("win_rate", stats.won), ("episode_length", stats.lengths)):
            self.add(name, value, n_episodes)

    def add_diagnostics(self, sums: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """A rollout's diagnostics: name -> (sum, weight), logged as ``train_diag_<name>``."""
        for name, (total, weight) in sums.items():
            self.add(f"diag_{name}", total, weight)

    def add_update(self, info: dict[str, torch.Tensor]) -> None:
        self.updates += 1
        for name, value in info.items():
            self.add(f"update_{name}", value)
            if name.endswith("loss"):
                bad = ~torch.isfinite(value)
                self.nonfinite = bad if self.nonfinite is None else self.nonfinite | bad

    def losses_finite(self) -> bool:
        """One host-device sync."""
        return self.nonfinite is None or not bool(self.nonfinite)

    def summary(self) -> dict[str, float]:
        """Weighted means since the last row (one sync), then start again."""
        names = list(self.sums)
        pairs = torch.stack([torch.stack([self.sums[n], self.weights[n]]) for n in names]).tolist() if names else []
        row = {f"train_{name.removeprefix('update_')}": total / weight if weight > 0 else float("nan")
               for name, (total, weight) in zip(names, pairs)}
        row.update(train_episodes=self.episodes, train_updates=self.updates)
        self.sums, self.weights, self.episodes, self.updates = {}, {}, 0, 0
        return row

    def state_dict(self) -> dict:
        return {"sums": dict(self.sums), "weights": dict(self.weights), "episodes": self.episodes,
                "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.sums, self.weights = dict(state["sums"]), dict(state["weights"])
        self.episodes, self.updates = int(state["episodes"]), int(state["updates"])


@dataclass
class RunParts:
    """What every training loop starts from: the learner, its replay, its counters and random streams."""

    learner: CriticLearner
    buffer: EpisodeBuffer
    counters: Counters
    generators: Generators


def start_run(algo: AlgoConfig, info: EnvInfo, seed: int, device: torch.device | str) -> RunParts:
    """The setup shared by ``nqmix train``, the matrix games and the notebooks: seed the global stream,
    build the learner (its initial weights come from that stream), an empty replay, zero counters and
    the run's own action and replay streams."""
    seed_everything(seed)
    learner = make_learner(algo, info, device)
    return RunParts(learner=learner, buffer=EpisodeBuffer(algo.buffer_size, info, device), counters=Counters(),
                    generators=Generators.from_seed(seed, device))


def seed_everything(seed: int) -> None:
    """Seed torch's global RNG, which initialises network weights."""
    torch.manual_seed(seed)


def store(buffer: EpisodeBuffer, counters: Counters, batch: EpisodeBatch, stats: EpisodeStats) -> torch.Tensor:
    """Put one rollout's episodes into replay and count their steps (one host-device sync).

    Returns the episodes' lengths on the CPU ([E] int64)."""
    lengths = stats.lengths.cpu()
    buffer.insert(batch, lengths)
    counters.t_env += int(lengths.sum())
    counters.episodes += batch.n_episodes
    return lengths


def learn(learner: CriticLearner, buffer: EpisodeBuffer, counters: Counters, generators: Generators,
          n_updates: int, on_update: Callable[[dict], None] | None = None) -> dict[str, torch.Tensor] | None:
    """Up to ``n_updates`` learner updates on mini-batches sampled from replay (none until it holds
    one batch); ``on_update`` sees each update's info. Returns the last info."""
    info = None
    for _ in range(n_updates):
        if not buffer.can_sample(learner.config.batch_size):
            break
        sample = buffer.sample(learner.config.batch_size, generators.sample)
        info = learner.train_step(sample, counters.t_env, counters.episodes)
        counters.updates += 1
        if on_update is not None:
            on_update(info)
    return info


def collect_and_learn(env: BatchedEnv, learner: CriticLearner, buffer: EpisodeBuffer, counters: Counters,
                      generators: Generators, updates_per_rollout: int = 1
                      ) -> tuple[EpisodeStats, dict[str, torch.Tensor] | None]:
    """Collect one batch of episodes with the behaviour policy, then update the learner."""
    batch, stats = rollout(env, learner, "explore", counters.t_env, generators.act)
    store(buffer, counters, batch, stats)
    return stats, learn(learner, buffer, counters, generators, updates_per_rollout)
