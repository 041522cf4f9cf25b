"""The training loop's own pieces (``nqmix_core/train.py``), by hand: what a log row averages, how many updates
follow a rollout, which steps the diagnostics see, and what ``iterate`` tells its hooks."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from nqmix_core import train
from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config, make_env, make_learner
from nqmix_core.runner import EpisodeStats, rollout
from tests.helpers import ScriptedEnv

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def stats(returns, won, lengths) -> EpisodeStats:
    return EpisodeStats(returns=torch.tensor(returns), won=torch.tensor(won), lengths=torch.tensor(lengths))


def test_a_row_averages_each_statistic_over_what_it_counts():
    tracker = train.TrainTracker()
    assert tracker.episodes == tracker.updates == 0
    tracker.add_rollout(stats([1.0, 3.0, 8.0], [False, True, True], [2, 4, 6]))  # 3 episodes
    tracker.add_rollout(stats([4.0], [True], [4]))  # 1 more
    tracker.add_update({"critic_loss": torch.tensor(5.0)})  # one update: a weight of exactly 1
    row = tracker.summary()
    assert row == {"train_return": 4.0, "train_win_rate": 0.75, "train_episode_length": 4.0,
                   "train_critic_loss": 5.0, "train_episodes": 4, "train_updates": 1}
    tracker.add_rollout(stats([2.0, 6.0], [False, False], [1, 3]))
    assert tracker.summary() == {"train_return": 4.0, "train_win_rate": 0.0, "train_episode_length": 2.0,
                                 "train_episodes": 2, "train_updates": 0}  # counted afresh after each row
    assert tracker.summary() == {"train_episodes": 0, "train_updates": 0}


def updates(n_envs, per_episode, algo="qmix") -> int:
    run = SimpleNamespace(algo=algo_config(algo), config=SimpleNamespace(n_envs=n_envs, updates_per_episode=per_episode))
    return train.Run.updates_per_rollout(run)


def test_updates_per_rollout_keep_pymarls_ratio_and_at_least_one():
    assert updates(8, 1.0) == 8 and updates(8, 0.25) == 2 and updates(8, 0.125) == 1
    assert updates(8, 0.0625) == 1  # round(0.5) = 0, but every rollout is followed by one update
    assert updates(1, 1.0) == 1 and updates(3, 2.0) == 6
    assert updates(8, 1.0, "coma") == 1  # on-policy: one update on the rollout just collected


def test_collect_and_learn_makes_one_update_unless_told_otherwise():
    env = make_env("matrix:qtran", 4)
    parts = train.start_run(algo_config("qmix", batch_size=4, buffer_size=8), env.info, seed=0, device="cpu")
    train.collect_and_learn(env, parts)
    assert (parts.counters.t_env, parts.counters.episodes, parts.counters.updates) == (4, 4, 1)
    train.collect_and_learn(env, parts, updates_per_rollout=3)
    assert parts.counters.updates == 4


def test_the_diagnostics_see_every_step_of_the_longest_episode():
    env = ScriptedEnv([1, 3], limit=5)
    learner = make_learner("qmix", env.info)
    seen = []
    learner.rollout_diagnostics = lambda batch: seen.append(batch.max_steps) or {}
    run = SimpleNamespace(config=SimpleNamespace(reward_scale=1.0), buffer=EpisodeBuffer(4, env.info, "cpu"),
                          counters=train.Counters(), tracker=train.TrainTracker(), learner=learner)
    batch, episode_stats = rollout(env, learner, "explore", 0, torch.Generator().manual_seed(0))
    train.keep(run, batch, episode_stats)
    assert seen == [3] and run.counters.t_env == 4 and run.tracker.episodes == 2


class Recorder:
    def __init__(self):
        self.events = []

    def on_row(self, run, row):
        self.events.append(("row", row["t_env"]))

    def on_checkpoint(self, run):
        self.events.append(("checkpoint", run.counters.t_env))

    def on_steps(self, run, steps):
        self.events.append(("steps", steps))


def test_iterate_tells_its_hooks_of_each_row_checkpoint_and_step():
    config = RunConfig(algo="qmix", env="matrix:qtran", n_envs=8, t_max=44, test_interval=16, checkpoint_interval=24,
                       test_episodes=2, device="cpu", progress=False, tensorboard=False)
    run = train.build_run(config, algo_config("qmix", batch_size=4, buffer_size=8), torch.device("cpu"))
    hooks = Recorder()
    train.iterate(run, hooks)
    rows = [t for kind, t in hooks.events if kind == "row"]
    checkpoints = [t for kind, t in hooks.events if kind == "checkpoint"]
    steps = [n for kind, n in hooks.events if kind == "steps"]
    # 8 one-step episodes a rollout: steps 8, 16, ..., 48, the last one past the budget of 44
    assert rows == [0, 16, 32, 48] and checkpoints == [0, 24, 48, 48]
    assert steps == [8] * 5 + [4] and sum(steps) == config.t_max  # the bar stops at the budget
    assert [row["train_episodes"] for row in run.rows[1:]] == [16, 16, 16] and "train_episodes" not in run.rows[0]
    assert all(not math.isnan(row["train_return"]) for row in run.rows[1:])
