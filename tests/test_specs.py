"""The shared episode batch: its layout for discrete and continuous actions, cutting it to fewer steps, scaling
its rewards, and the "last action" the agents see before their first."""
from __future__ import annotations

from dataclasses import fields

import pytest
import torch

from nqmix_core.specs import EnvInfo, EpisodeBatch, empty_batch, no_previous_actions
from tests.helpers import INFO, random_batch

CONTINUOUS = EnvInfo(n_agents=3, obs_dim=5, state_dim=7, n_actions=2, episode_limit=6, action_bounds=(-1.0, 1.0))


@pytest.mark.parametrize("info", [INFO, CONTINUOUS], ids=["discrete", "continuous"])
def test_an_empty_batch_has_the_documented_layout(info):
    batch = empty_batch(2, info, "cpu")
    n, t = info.n_agents, info.episode_limit
    actions = ((2, t, n, 2), torch.float32) if info.continuous else ((2, t, n), torch.int64)
    want = {"obs": ((2, t + 1, n, 5), torch.float32), "state": ((2, t + 1, 7), torch.float32),
            "avail_actions": ((2, t + 1, n, info.n_actions), torch.bool), "actions": actions,
            "reward": ((2, t), torch.float32), "terminated": ((2, t), torch.bool), "filled": ((2, t), torch.float32)}
    assert {f.name: (tuple(getattr(batch, f.name).shape), getattr(batch, f.name).dtype) for f in fields(batch)} == want
    assert all(not getattr(batch, f.name).any() for f in fields(batch))  # all padding
    assert (batch.n_episodes, batch.max_steps) == (2, t)


def test_no_previous_action_is_minus_one_for_discrete_agents_and_the_zero_vector_for_continuous_ones():
    assert torch.equal(no_previous_actions(INFO, 2, "cpu"), torch.full((2, 3), -1))
    assert torch.equal(no_previous_actions(CONTINUOUS, 2, "cpu"), torch.zeros(2, 3, 2))


def test_trim_keeps_the_first_steps_and_one_more_observation():
    batch = random_batch()
    cut = batch.trim(3)
    for f in fields(EpisodeBatch):
        whole, part = getattr(batch, f.name), getattr(cut, f.name)
        steps = 4 if f.name in ("obs", "state", "avail_actions") else 3
        assert torch.equal(part, whole[:, :steps]), f.name
    assert cut.max_steps == 3


@pytest.mark.parametrize("scale", [2.0, 0.5, 10.0])
def test_reward_scale_multiplies_the_rewards_and_nothing_else(scale):
    batch = random_batch()
    scaled = batch.with_reward_scale(scale)
    assert torch.equal(scaled.reward, batch.reward * scale)
    for f in fields(EpisodeBatch):
        if f.name != "reward":
            assert getattr(scaled, f.name) is getattr(batch, f.name), f.name
    assert batch.with_reward_scale(1) is batch
    assert torch.equal(batch.reward, random_batch().reward)  # the batch itself is left as it was
