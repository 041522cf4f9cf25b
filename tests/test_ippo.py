"""IPPO: GAE and the clipped objective against hand computation, its facts and settings, and a game whose answer
is known (one joint action pays, each agent's part of it is dominant) learned by the whole loop."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import registry
from nqmix_core.envs.matrix import MatrixGame
from nqmix_core.errors import UserError
from nqmix_core.learners.ippo import IPPOConfig, IPPOLearner, clipped_surrogate, gae
from nqmix_core.runner import rollout


def test_gae_by_hand_with_an_ending_and_a_cut_episode():
    # episode 0 ends at t=2; episode 1 is cut after t=1 (time-out: bootstraps on V of its last observation)
    reward = torch.tensor([[1.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 1.0, -1.0, 3.0], [0.0, 2.0, 4.0, 100.0]]).unsqueeze(-1)  # [B, T+1, N=1]
    terminated = torch.tensor([[False, False, True], [False, False, False]])
    filled = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    advantages, returns = gae(reward, values, terminated, filled, gamma=0.9, lam=0.5)
    # episode 0: δ2 = 2 - (-1) = 3; δ1 = 0.9·(-1) - 1 = -1.9, A1 = -1.9 + 0.45·3; δ0 = 1 + 0.9 - 0.5, A0 = 1.4 + 0.45·A1
    # episode 1: A2 = 0 (padding: V = 100 never leaks); δ1 = 1 + 0.9·4 - 2 = 2.6; A0 = 2.8 + 0.45·2.6
    expected = torch.tensor([[1.1525, -0.55, 3.0], [3.97, 2.6, 0.0]]).unsqueeze(-1)
    torch.testing.assert_close(advantages, expected)
    torch.testing.assert_close(returns, expected + values[:, :-1])


def test_gae_with_lambda_one_is_the_monte_carlo_return_minus_v():
    torch.manual_seed(0)
    reward, values = torch.randn(3, 6), torch.randn(3, 7, 2)
    terminated = torch.zeros(3, 6, dtype=torch.bool)
    terminated[:, -1] = True
    _, returns = gae(reward, values, terminated, torch.ones(3, 6), gamma=0.8, lam=1.0)
    discounts = 0.8 ** torch.arange(6.0)
    for t in range(6):
        monte_carlo = (reward[:, t:] * discounts[:6 - t]).sum(-1, keepdim=True).expand(3, 2)
        torch.testing.assert_close(returns[:, t], monte_carlo)


def test_the_clipped_objective_by_hand_and_its_gradient():
    ratios = torch.tensor([1.5, 0.5, 1.1]).view(1, 1, 3)
    advantages = torch.tensor([1.0, -1.0, 2.0]).view(1, 1, 3)
    log_probs = ratios.log().clone().requires_grad_()
    loss, clipped = clipped_surrogate(log_probs, torch.zeros(1, 1, 3), advantages, 0.2, torch.ones(1, 1, 3))
    # min(1.5·1, 1.2·1) = 1.2; min(0.5·-1, 0.8·-1) = -0.8; min(1.1·2, 1.1·2) = 2.2
    assert loss.item() == pytest.approx(-(1.2 - 0.8 + 2.2) / 3)
    assert clipped.item() == pytest.approx(2 / 3)
    loss.backward()
    # the clipped terms are constant in the ratio; d(-ρA/3)/d log ρ = -ρA/3 for the third
    torch.testing.assert_close(log_probs.grad, torch.tensor([0.0, 0.0, -1.1 * 2 / 3]).view(1, 1, 3))
    masked, _ = clipped_surrogate(ratios.log(), torch.zeros(1, 1, 3), advantages, 0.2, torch.tensor([1.0, 1.0, 0.0]).view(1, 1, 3))
    assert masked.item() == pytest.approx(-(1.2 - 0.8) / 2)


def test_ippo_carries_its_facts_and_checks_its_own_settings():
    config = registry.algo_config("ippo")
    assert isinstance(config, IPPOConfig) and registry.LEARNER_CLASSES["ppo"] is IPPOLearner
    assert config.on_policy and config.batch_size == config.buffer_size == 8
    assert registry.algo_config("ippo", clip_eps=0.1).clip_eps == 0.1
    with pytest.raises(UserError, match=r"clip_eps=1\.5 must be in \(0, 1\)"):
        registry.algo_config("ippo", clip_eps=1.5)
    with pytest.raises(UserError, match="mixer='qmix' does not work with the learner 'ppo'"):
        registry.algo_config("ippo", mixer="qmix")
    with pytest.raises(UserError, match="Unknown setting"):
        registry.algo_config("qmix", clip_eps=0.1)  # a field of IPPO's own class only


def test_ippo_learns_a_game_whose_answer_is_known():
    """Each agent's action 0 is weakly dominant (it pays 1 only together, nothing else pays): the greedy joint
    action must become (0, 0) from a uniform start."""
    torch.manual_seed(0)
    env = MatrixGame(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), n_envs=16)
    learner = IPPOLearner(env.info, registry.algo_config("ippo", batch_size=16, buffer_size=16, actor_lr=5e-3,
                                                         critic_lr=5e-3), "cpu")
    generator = torch.Generator().manual_seed(0)
    for step in range(25):  # (0, 0) is found within about 20 updates on seeds 0-2
        batch, _ = rollout(env, learner, "explore", step, generator)
        stats = learner.train_step(batch, step, 16 * (step + 1))
        assert all(torch.isfinite(v) for v in stats.values())
    greedy, _ = rollout(env, learner, "greedy", 25, generator)
    assert (greedy.actions == 0).all()
    assert greedy.reward.mean().item() == 1.0
