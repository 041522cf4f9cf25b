"""IPPO: GAE and the clipped objective against hand computation, its facts and settings, and a game whose answer
is known (one joint action pays, each agent's part of it is dominant) learned by the whole loop."""
from __future__ import annotations

import copy

import pytest
import torch

from nqmix_core import diagnostics, registry
from nqmix_core.envs.matrix import MatrixGame
from nqmix_core.errors import UserError
from nqmix_core.learners.ippo import IPPOConfig, IPPOLearner, clipped_surrogate, gae
from nqmix_core.networks import sequence_inputs
from nqmix_core.runner import rollout
from tests.helpers import INFO, random_batch


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
    one, share = clipped_surrogate(ratios.log(), torch.zeros(1, 1, 3), advantages, 0.2, torch.tensor([1.0, 0.0, 0.0]).view(1, 1, 3))
    assert (one.item(), share.item()) == (pytest.approx(-1.2), 1.0)  # one decision: its own term, not halved
    nothing, share = clipped_surrogate(ratios.log(), torch.zeros(1, 1, 3), advantages, 0.2, torch.zeros(1, 1, 3))
    assert (nothing.item(), share.item()) == (0.0, 0.0)  # no decision: 0, not 0/0


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


def ippo_update_as_documented(learner: IPPOLearner, batch, epochs: int) -> dict[str, torch.Tensor]:
    """The module docstring's update written out on its own: GAE from V before the update, advantages
    standardised over the real decisions, then ``epochs`` Adam steps on −L_clip + c_V·L_V − β·H, the
    networks unrolled again for each; returns the last epoch's terms."""
    c, t = learner.config, batch.filled.shape[1]
    inputs = sequence_inputs(batch.obs, batch.actions, INFO.n_actions)  # [B, T+1, N, D]
    real = batch.filled.bool()[..., None].expand(-1, -1, INFO.n_agents)  # [B, T, N]: every agent on a real step
    avail = batch.avail_actions[:, :t].clone()
    avail[~avail.any(-1)] = True  # a padded step: every action (no 0/0)
    decision = real & (batch.avail_actions[:, :t].sum(-1) > 1)  # a dead unit's one action decides nothing

    def unroll():
        logits = learner.agent(inputs)[0][:, :t].masked_fill(~avail, float("-inf"))
        return torch.softmax(logits, -1), learner.value(inputs)[0][..., 0]  # [B, T, N, U], [B, T+1, N]

    def chosen_log_prob(policy):  # on the decisions only: a padded step's action may be one not available
        return policy.gather(-1, batch.actions[..., None])[..., 0][decision].log()

    policy, values = unroll()
    with torch.no_grad():
        old = chosen_log_prob(policy)
        advantages, returns = gae(batch.reward, values, batch.terminated, batch.filled, c.gamma, c.gae_lambda)
        counted = advantages[decision]
        advantages = (counted - counted.mean()) / (counted.std(unbiased=False) + 1e-8)  # [decisions]
    for epoch in range(epochs):
        if epoch:
            policy, values = unroll()
        ratio = (chosen_log_prob(policy) - old).exp()
        surrogate = torch.min(ratio * advantages, ratio.clamp(1 - c.clip_eps, 1 + c.clip_eps) * advantages)
        value_loss = ((values[:, :t] - returns) ** 2)[real].mean()
        entropy = -(policy * policy.clamp(min=1e-30).log()).sum(-1)[decision].mean()  # 0·log 0 = 0
        loss = -surrogate.mean() + c.value_coef * value_loss - c.entropy_coef * entropy
        learner.optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(learner.parameters(), c.grad_norm_clip)
        learner.optimiser.step()
    return {"actor_loss": -surrogate.mean(), "critic_loss": value_loss, "entropy": entropy,
            "clip_fraction": ((ratio - 1).abs() > c.clip_eps).float().mean()}


def test_one_ippo_update_is_the_documented_loss_step_by_step():
    """Two epochs on episodes that end, are cut by the time limit and are padded, with dead units: the same
    parameters, last gradients and logged terms as the update written out above; the policy the diagnostics
    read is the one trained."""
    torch.manual_seed(0)
    config = registry.algo_config("ippo", ppo_epochs=2, entropy_coef=0.05, value_coef=0.5, gamma=0.9, clip_eps=0.02,
                                  actor_lr=1e-2, critic_lr=2e-2)
    learner = IPPOLearner(INFO, config, "cpu")
    twin, start = copy.deepcopy(learner), copy.deepcopy(learner)
    assert twin.optimiser.param_groups[0]["params"][0] is next(twin.agent.parameters())  # its own optimiser
    batch = random_batch(timed_out_last=True)
    one_action = batch.avail_actions[:, :-1].sum(-1) == 1  # [B, T, N]
    assert (one_action & batch.filled.bool()[..., None]).any()  # some unit has one action on a real step
    info = learner.train_step(batch, 0, 3)
    want = ippo_update_as_documented(twin, batch, epochs=2)
    assert 0 < float(want["clip_fraction"]) < 1  # the second epoch moved some ratios past the clip
    for name, value in want.items():
        assert not info[name].requires_grad
        torch.testing.assert_close(info[name], value.detach(), rtol=1e-4, atol=1e-6, msg=name)
    # Adam's first steps are about ±lr whatever a gradient's size, so an entry whose gradient is near 0 can step
    # differently under other rounding: compare each tensor as a whole, relative to how far it moved
    for (name, p), q, q0 in zip(learner.named_parameters(), twin.parameters(), start.parameters()):
        assert (p - q).norm() <= 0.01 * (q - q0).norm(), name
        assert (p.grad - q.grad).norm() <= 0.001 * q.grad.norm() + 1e-9, name
    sums = learner.rollout_diagnostics(batch)
    with torch.no_grad():
        policy = learner.policy(batch, sequence_inputs(batch.obs, batch.actions, INFO.n_actions))
    expected = diagnostics.policy_diagnostics(policy, batch.actions, batch.avail_actions[:, :-1], batch.filled)
    assert {k: [float(x) for x in v] for k, v in sums.items()} == {k: [float(x) for x in v] for k, v in expected.items()}
