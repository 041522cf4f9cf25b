"""COMA: counterfactual baseline and advantage (Eq. 5–6), TD(λ) targets, critic inputs, the learner."""
import copy
import io
import math

import pytest
import torch

from nqmix_core import action_selection, diagnostics, losses
from nqmix_core.action_selection import masked_softmax
from nqmix_core.learners.common import optimiser_step
from nqmix_core.networks import agent_inputs, sequence_inputs
from nqmix_core.registry import algo_config
from nqmix_core.envs.base import EnvInfo, Observation
from nqmix_core.networks.coma_critic import coma_critic_input_dim, coma_critic_inputs
from nqmix_core.registry import make_learner
from tests.helpers import INFO, fill_padding_with_garbage, random_batch

# --- Eq. 6: baseline and advantage --------------------------------------------------------------

def test_counterfactual_baseline_and_advantage_by_hand():
    # Two agents, two actions, one state. Joint Q(u1, u2):
    joint_q = torch.tensor([[1.0, 4.0], [3.0, -2.0]])
    actions = torch.tensor([1, 0])  # agent 1 took action 1, agent 2 took action 0
    # Q(s, (u^{-a}, u')): agent 1 varies the row with u2 = 0 fixed; agent 2 varies the column, u1 = 1.
    critic_qs = torch.stack([joint_q[:, 0], joint_q[1, :]])  # [[1, 3], [3, -2]]
    policy = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    baseline = losses.counterfactual_baseline(policy, critic_qs)
    # Agent 1: 0.25·1 + 0.75·3 = 2.5; agent 2: 0.5·3 + 0.5·(−2) = 0.5.
    assert torch.allclose(baseline, torch.tensor([2.5, 0.5]))
    advantage = losses.counterfactual_advantage(policy, critic_qs, actions)
    # Q(s, u) = joint_q[1, 0] = 3 for both agents: A = 3 − 2.5 and 3 − 0.5.
    assert torch.allclose(advantage, torch.tensor([0.5, 2.5]))


def test_baseline_ignores_unavailable_actions_with_zero_probability():
    policy = torch.tensor([[0.4, 0.6, 0.0]])
    critic_qs = torch.tensor([[1.0, 2.0, 1e6]])
    assert torch.allclose(losses.counterfactual_baseline(policy, critic_qs), torch.tensor([1.6]))


def test_coma_actor_loss_gradient_is_advantage_times_grad_log_pi():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 2, 4, generator=g, requires_grad=True)  # [B, T, N, U]
    critic_qs = torch.randn(2, 3, 2, 4, generator=g)
    actions = torch.randint(0, 4, (2, 3, 2), generator=g)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    policy = torch.softmax(logits, -1)
    loss, _ = losses.coma_actor_loss(policy, critic_qs, actions, mask)
    loss.backward()
    pi = policy.detach()
    advantage = losses.counterfactual_advantage(pi, critic_qs, actions)  # [B, T, N]
    # ∂ log π(u_taken) / ∂ z = onehot(u_taken) − π; Eq. 5 ascends A times that, averaged over real terms.
    grad_log_pi = torch.nn.functional.one_hot(actions, 4).float() - pi
    expected = -(advantage.unsqueeze(-1) * grad_log_pi * mask.view(2, 3, 1, 1)) / (mask.sum() * 2)
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_coma_actor_loss_is_finite_when_padding_picks_an_impossible_action():
    policy = torch.tensor([[[[1.0, 0.0]], [[0.5, 0.5]]]])  # [1, 2, 1, 2]
    actions = torch.tensor([[[1], [0]]])  # step 0 is padding and "took" a zero-probability action
    loss, _ = losses.coma_actor_loss(policy, torch.ones(1, 2, 1, 2), actions, torch.tensor([[0.0, 1.0]]))
    assert torch.isfinite(loss)



def test_coma_actor_loss_reports_advantage_and_entropy_over_real_terms_by_hand():
    # Step 0 is the by-hand case above (A = 0.5 and 2.5); step 1 is padding, with numbers that would show.
    policy = torch.tensor([[[[0.25, 0.75], [0.5, 0.5]], [[0.9, 0.1], [0.9, 0.1]]]])  # [B=1, T=2, N=2, U=2]
    critic_qs = torch.tensor([[[[1.0, 3.0], [3.0, -2.0]], [[50.0, -50.0], [50.0, -50.0]]]])
    actions = torch.tensor([[[1, 0], [1, 1]]])
    _, info = losses.coma_actor_loss(policy, critic_qs, actions, torch.tensor([[1.0, 0.0]]))
    h_agent0 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert info["advantage_mean"].item() == pytest.approx((0.5 + 2.5) / 2)
    assert info["policy_entropy"].item() == pytest.approx((h_agent0 + math.log(2)) / 2)
    _, one = losses.coma_actor_loss(policy[:, :, :1], critic_qs[:, :, :1], actions[:, :, :1], torch.tensor([[1.0, 0.0]]))
    assert one["advantage_mean"].item() == pytest.approx(0.5) and one["policy_entropy"].item() == pytest.approx(h_agent0)

# --- TD(λ) -----------------------------------------------------------------------------------------

def lambda_return_reference(rewards, terminated, target_qs, length, gamma, lam):
    """G_t for one episode, one agent, straight from the definition (sum of weighted n-step returns)."""
    horizon = length  # real steps 0..length-1
    returns = []
    for t in range(horizon):
        def n_step(n, t=t):  # G_t^{(n)}: n rewards, then bootstrap unless the episode terminated
            g = 0.0
            for k in range(n):
                g += gamma ** k * rewards[t + k]
                if terminated[t + k]:
                    return g
            return g + gamma ** n * target_qs[t + n]
        remaining = horizon - t  # n-step returns with n < remaining, then the full return (n = remaining)
        g = sum((1 - lam) * lam ** (n - 1) * n_step(n) for n in range(1, remaining))
        g += lam ** (remaining - 1) * n_step(remaining)
        returns.append(g)
    return returns


def test_td_lambda_by_hand_on_a_terminated_episode():
    gamma, lam = 0.9, 0.8
    reward = torch.tensor([[1.0, 2.0, 3.0]])
    terminated = torch.tensor([[False, False, True]])
    mask = torch.ones(1, 3)
    target_qs = torch.tensor([[10.0, 20.0, 30.0, 999.0]]).unsqueeze(-1)  # Q'_3 must not be used
    g2 = 3.0
    g1 = 2.0 + gamma * ((1 - lam) * 30.0 + lam * g2)
    g0 = 1.0 + gamma * ((1 - lam) * 20.0 + lam * g1)
    got = losses.td_lambda_targets(reward, terminated, mask, target_qs, gamma, lam)
    assert torch.allclose(got.squeeze(-1), torch.tensor([[g0, g1, g2]]))


def test_td_lambda_bootstraps_a_time_out_and_zeroes_padding():
    gamma, lam = 0.5, 0.8
    # Episode 0: cut by the time limit after 2 steps (not terminated); episode 1: 1 step, terminated.
    reward = torch.tensor([[1.0, 1.0, 7.0], [4.0, 5.0, 6.0]])
    terminated = torch.tensor([[False, False, True], [True, True, False]])  # padding flags are junk
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    target_qs = torch.tensor([[0.0, 2.0, 8.0, 50.0], [0.0, 9.0, 9.0, 9.0]]).unsqueeze(-1)
    g = losses.td_lambda_targets(reward, terminated, mask, target_qs, gamma, lam).squeeze(-1)
    g01 = 1.0 + gamma * 8.0  # the cut: bootstrap fully from Q'(s_2)
    g00 = 1.0 + gamma * ((1 - lam) * 2.0 + lam * g01)
    assert torch.allclose(g, torch.tensor([[g00, g01, 0.0], [4.0, 0.0, 0.0]]))


@pytest.mark.parametrize("lam", [0.0, 0.8, 1.0])
def test_td_lambda_matches_the_definition_on_random_episodes(lam):
    gamma = 0.9
    batch = random_batch(lengths=(6, 4, 2, 6), timed_out_last=True)  # episodes 0 and 3 time out at 6
    g = torch.Generator().manual_seed(3)
    target_qs = torch.randn(4, 7, INFO.n_agents, generator=g)
    got = losses.td_lambda_targets(batch.reward, batch.terminated, batch.filled, target_qs, gamma, lam)
    for b, length in enumerate((6, 4, 2, 6)):
        for a in range(INFO.n_agents):
            want = lambda_return_reference(batch.reward[b].tolist(), batch.terminated[b].tolist(),
                                           target_qs[b, :, a].tolist(), length, gamma, lam)
            assert torch.allclose(got[b, :length, a], torch.tensor(want), atol=1e-5)
        assert (got[b, length:] == 0).all()


def test_td_lambda_zero_is_the_one_step_target():
    batch = random_batch()
    target_qs = torch.randn(3, 7, INFO.n_agents)
    got = losses.td_lambda_targets(batch.reward, batch.terminated, batch.filled, target_qs, 0.99, 0.0)
    one_step = losses.td_targets(batch.reward.unsqueeze(-1), batch.terminated.unsqueeze(-1), target_qs[:, 1:], 0.99)
    assert torch.allclose(got, one_step * batch.filled.unsqueeze(-1))


# --- the critic's inputs and the learner -------------------------------------------------------------

def test_critic_inputs_hide_the_agents_own_action_only():
    batch = random_batch()
    inputs = coma_critic_inputs(batch.state[:, :-1], batch.obs[:, :-1], batch.actions, INFO.n_actions)
    assert inputs.shape == (3, 6, INFO.n_agents, coma_critic_input_dim(INFO.state_dim, INFO.obs_dim, INFO.n_agents, INFO.n_actions))
    changed = batch.actions.clone()
    changed[0, 2, 1] = (changed[0, 2, 1] + 1) % INFO.n_actions  # agent 1's action at t = 2
    after = coma_critic_inputs(batch.state[:, :-1], batch.obs[:, :-1], changed, INFO.n_actions)
    differs = (after != inputs).any(-1)  # [B, T, N]
    assert not differs[0, 2, 1]  # agent 1 does not see its own action...
    assert differs[0, 2, 0] and differs[0, 2, 2]  # ...the others do
    assert differs[0, 3].all()  # and everyone sees it as a last action at t = 3
    assert differs.sum() == 2 + INFO.n_agents


def make_coma(seed=0, **overrides):
    torch.manual_seed(seed)
    return make_learner(algo_config("coma", **overrides), INFO, "cpu")


def test_coma_preset_is_pymarls():
    c = algo_config("coma")
    assert (c.learner, c.batch_size, c.buffer_size, c.td_lambda, c.critic_lr) == ("coma", 8, 8, 0.8, 5e-4)
    assert (c.epsilon_start, c.epsilon_finish, c.epsilon_anneal_steps) == (0.5, 0.01, 100_000)
    assert (c.critic_hidden_dim, c.critic_target_update_interval, c.rnn_hidden_dim) == (128, 200, 64)
    assert c.on_policy and not algo_config("qmix").on_policy


def test_train_step_takes_one_critic_step_per_time_step_and_copies_the_target_every_200():
    learner = make_coma(critic_target_update_interval=10)
    before = [p.clone() for p in learner.target_critic.parameters()]
    info = learner.train_step(random_batch(), t_env=0, episodes_seen=3)
    assert learner.critic_steps == 6  # T = 6
    assert all(torch.equal(a, b) for a, b in zip(before, learner.target_critic.parameters()))
    assert all(torch.isfinite(v) for v in info.values())
    learner.train_step(random_batch(seed=1), t_env=0, episodes_seen=6)
    assert learner.critic_steps == 12 and learner.last_target_update_step == 10
    assert not all(torch.equal(a, b) for a, b in zip(before, learner.target_critic.parameters()))


def test_padding_junk_does_not_change_the_update():
    batch = random_batch()
    a, b = make_coma(), make_coma()
    info_a = a.train_step(batch, 0, 3)
    info_b = b.train_step(fill_padding_with_garbage(batch), 0, 3)
    for key in ("critic_loss", "actor_loss", "advantage_mean"):
        assert torch.allclose(info_a[key], info_b[key], atol=1e-5), key
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5)


def test_actor_loss_moves_the_agent_only():
    learner = make_coma()
    batch = random_batch()
    policy = learner.behaviour_policy(batch, 0)
    critic_qs, _ = learner.train_critic(batch, policy.detach())
    learner.critic_optimiser.zero_grad(set_to_none=True)
    loss, _ = losses.coma_actor_loss(policy[:, :-1], critic_qs, batch.actions, batch.filled)
    loss.backward()
    assert all(p.grad is None for p in learner.critic.parameters())
    assert learner.agent.fc_in.weight.grad.abs().sum() > 0


def test_act_respects_availability_and_modes():
    learner = make_coma()
    e = 64
    obs = Observation(obs=torch.randn(e, INFO.n_agents, INFO.obs_dim), state=torch.randn(e, INFO.state_dim),
                      avail_actions=torch.tensor([False, True, False, True]).expand(e, INFO.n_agents, 4))
    last = torch.full((e, INFO.n_agents), -1)
    g = torch.Generator().manual_seed(0)
    for mode in ("explore", "stochastic", "greedy"):
        actions, hidden = learner.act(obs, last, learner.initial_hidden(e), mode, 0, g)
        assert set(actions.unique().tolist()) <= {1, 3} and hidden.shape == (e, INFO.n_agents, 64)
    explore, _ = learner.act(obs, last, learner.initial_hidden(e), "explore", 0, g)
    assert set(explore.unique().tolist()) == {1, 3}  # ε = 0.5 floor: both show up
    assert learner.epsilon(0) == 0.5 and learner.epsilon(200_000) == pytest.approx(0.01)


def test_checkpoint_round_trip():
    learner = make_coma()
    learner.train_step(random_batch(), 0, 3)
    restored = make_coma(seed=1)
    buffer = io.BytesIO()  # through bytes, as on disk (the live state dict shares tensors with the learner)
    torch.save(learner.checkpoint_state(), buffer)
    buffer.seek(0)
    restored.load_checkpoint_state(torch.load(buffer, weights_only=True))
    assert restored.critic_steps == learner.critic_steps
    for a, b in zip(learner.state_dict().values(), restored.state_dict().values()):
        assert torch.equal(a, b)
    batch = random_batch(seed=2)  # built once: the helper draws actions from torch's global stream
    info_a = learner.train_step(batch, 0, 6)
    info_b = restored.train_step(batch, 0, 6)
    assert torch.equal(info_a["actor_loss"], info_b["actor_loss"])


def test_coma_critic_sizes_for_a_smax_like_task():
    info = EnvInfo(n_agents=3, obs_dim=30, state_dim=36, n_actions=8, episode_limit=60)
    assert coma_critic_input_dim(info.state_dim, info.obs_dim, info.n_agents, info.n_actions) == 36 + 30 + 2 * 3 * 8 + 3


def test_the_critic_steps_are_pymarls_loop_written_out_and_the_last_step_bootstraps_on_greedy_pi():
    """One critic step per time step, last step first, each on the critic as the previous step left it; the
    TD(λ) targets come from the target critic, with π's greedy action (among those π gives mass) at the
    last observation, which a cut episode bootstraps on. The logged terms carry no graph."""
    learner, batch = make_coma(), random_batch(lengths=(6, 6, 6), timed_out_last=True)  # all three cut at T = 6
    twin = copy.deepcopy(learner)
    policy = learner.behaviour_policy(batch, 0).detach()  # [B, T+1, N, U]
    info = learner.train_step(batch, t_env=0, episodes_seen=3)
    last = policy[:, -1].masked_fill(policy[:, -1] == 0, -1.0).argmax(-1)  # [B, N]
    actions = torch.cat([batch.actions, last[:, None]], 1)  # [B, T+1, N]
    inputs = coma_critic_inputs(batch.state, batch.obs, actions, INFO.n_actions)
    with torch.no_grad():
        target_qs = twin.target_critic(inputs).gather(-1, actions[..., None])[..., 0]  # [B, T+1, N]
    targets = losses.td_lambda_targets(batch.reward, batch.terminated, batch.filled, target_qs, twin.config.gamma,
                                       twin.config.td_lambda)
    step_losses, grad_norms = [], []
    for t in reversed(range(6)):
        chosen = twin.critic(inputs[:, t]).gather(-1, batch.actions[:, t, :, None])[..., 0]  # [B, N]
        real = batch.filled[:, t, None].expand_as(chosen)
        loss = (((targets[:, t] - chosen) * real) ** 2).sum() / real.sum().clamp(min=1)
        norm = optimiser_step(twin.critic_optimiser, loss, twin.critic.parameters(), twin.config.grad_norm_clip)
        step_losses.append(float(loss.detach()))
        grad_norms.append(float(norm))
    assert float(info["critic_loss"]) == pytest.approx(sum(step_losses) / 6, rel=1e-5)
    assert float(info["critic_grad_norm"]) == pytest.approx(sum(grad_norms) / 6, rel=1e-4)
    per_agent_step = (targets * batch.filled[..., None]).sum() / (batch.filled.sum() * INFO.n_agents)
    assert float(info["target_mean"]) == pytest.approx(float(per_agent_step), rel=1e-5)
    for p, q in zip(learner.critic.parameters(), twin.critic.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    assert not any(value.requires_grad for value in info.values())


def test_acting_per_mode_and_the_diagnostics_read_pi_without_the_floor():
    learner, batch = make_coma(), random_batch(lengths=(6, 6, 6, 6))
    obs = Observation(batch.obs[:, 0], batch.state[:, 0], batch.avail_actions[:, 0])
    last, hidden = torch.full((4, INFO.n_agents), -1), learner.initial_hidden(4)
    with torch.no_grad():
        logits, _ = learner.agent.step(agent_inputs(obs.obs, last, INFO.n_actions), hidden)
    pi = masked_softmax(logits, obs.avail_actions)
    floored = action_selection.epsilon_softmax_then_mask(logits, obs.avail_actions, learner.epsilon(0))
    for mode, want in (("greedy", lambda g: action_selection.greedy(pi, obs.avail_actions)),
                       ("stochastic", lambda g: action_selection.sample(pi, g)),
                       ("explore", lambda g: action_selection.sample(floored, g))):
        got, _ = learner.act(obs, last, hidden, mode, 0, torch.Generator().manual_seed(1))
        assert torch.equal(got, want(torch.Generator().manual_seed(1))), mode
    with torch.no_grad():
        seq_logits, _ = learner.agent(sequence_inputs(batch.obs, batch.actions, INFO.n_actions))
        policy = masked_softmax(seq_logits[:, :-1], batch.avail_actions[:, :-1])
    want = diagnostics.policy_diagnostics(policy, batch.actions, batch.avail_actions[:, :-1], batch.filled)
    got = learner.rollout_diagnostics(batch)
    assert {k: [float(x) for x in v] for k, v in got.items()} == {k: [float(x) for x in v] for k, v in want.items()}
