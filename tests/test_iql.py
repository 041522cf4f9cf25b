"""Independent Q-learning (pymarl's IQL: the Q-learner with no mixer), against a hand-written loss."""
from __future__ import annotations

import torch

from nqmix_core.registry import algo_config
from nqmix_core.learners import QLearner
from nqmix_core.networks import sequence_inputs
from tests.helpers import INFO, random_batch


def test_iql_loss_is_each_agents_own_td_error_against_the_team_reward():
    torch.manual_seed(0)
    learner = QLearner(INFO, algo_config("iql", double_q=False), "cpu")
    batch = random_batch(seed=3)
    loss, _ = learner.compute_losses(batch)
    # by hand: y_a = r + γ (1 − terminated) max_{u available} Q'_a(τ_{t+1}, u); δ_a = y_a − Q_a(τ_t, u_t)
    inputs = sequence_inputs(batch.obs, batch.actions, INFO.n_actions)
    with torch.no_grad():
        q, _ = learner.agent(inputs)
        target_q, _ = learner.target_agent(inputs)
    next_best = target_q[:, 1:].masked_fill(~batch.avail_actions[:, 1:].bool(), -1e9).max(-1).values  # [B, T, N]
    y = batch.reward.unsqueeze(-1) + 0.99 * (1 - batch.terminated.float().unsqueeze(-1)) * next_best
    chosen = q[:, :-1].gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)  # [B, T, N]
    mask = batch.filled.unsqueeze(-1).expand_as(chosen)
    hand = (((y - chosen) * mask) ** 2).sum() / mask.sum()
    assert torch.allclose(loss, hand, rtol=1e-5)


def test_iql_trains_every_agent_network_and_reports_no_mixer_parameters():
    learner = QLearner(INFO, algo_config("iql"), "cpu")
    assert sum(p.numel() for p in learner.mixer.parameters()) == 0
    before = [p.detach().clone() for p in learner.agent.parameters()]
    learner.train_step(random_batch(seed=4), t_env=0, episodes_seen=3)
    assert all(not torch.equal(a, p) for a, p in zip(before, learner.agent.parameters()))
