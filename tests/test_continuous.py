"""Continuous actions (Alg. 2): the pure losses against hand computations, who gets which gradient,
the target of Alg. 2 line 10, action bounds, the two-peak game, and short real runs of every
continuous preset through ``train_run`` (one SMAX environment shared by the module)."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import action_selection, continuous_losses, losses
from nqmix_core.specs import empty_batch
from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.envs.base import EnvInfo, Observation
from nqmix_core.envs.two_peak import TwoPeakPayoff, on_high_peak, two_peak_reward
from nqmix_core.errors import UserError
from nqmix_core.experiment import train_run
from nqmix_core.networks.continuous_agent import ContinuousAgentNetwork, DeterministicActors
from nqmix_core.registry import make_env, make_learner

CONTINUOUS = ["nqmix-cont", "qmix-cont", "iddpg"]
INFO = EnvInfo(n_agents=3, obs_dim=5, state_dim=7, n_actions=2, episode_limit=6, action_bounds=(0.0, 1.0))


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def random_batch(lengths=(6, 4, 2), seed=0):
    """Continuous episodes of the given lengths; agent 2 is dead from step 1 of episode 0."""
    g = torch.Generator().manual_seed(seed)
    batch = empty_batch(len(lengths), INFO, "cpu")
    for b, length in enumerate(lengths):
        batch.obs[b, :length + 1] = torch.randn(length + 1, INFO.n_agents, INFO.obs_dim, generator=g)
        batch.state[b, :length + 1] = torch.randn(length + 1, INFO.state_dim, generator=g)
        batch.avail_actions[b, :length + 1] = True
        batch.actions[b, :length] = torch.rand(length, INFO.n_agents, INFO.n_actions, generator=g)
        batch.reward[b, :length] = torch.randn(length, generator=g)
        batch.filled[b, :length] = 1.0
        batch.terminated[b, length - 1] = True
    batch.avail_actions[0, 1:, 2] = False
    return batch


def make(algo="nqmix-cont", seed=0, info=INFO, **overrides):
    torch.manual_seed(seed)
    return make_learner(algo_config(algo, **overrides), info, "cpu")


# --- pure losses ---------------------------------------------------------------------------------

def tiny_actor_case(seed=0):
    torch.manual_seed(seed)
    b, t, n, h, a = 2, 3, 2, 4, 2
    actors = DeterministicActors(n, h, a, hidden_dim=5, bounds=(-1.0, 1.0))
    critic = ContinuousAgentNetwork(input_dim=3, action_dim=a, hidden_dim=h)
    hidden = torch.randn(b, t, n, h)
    sign = torch.tensor([1.0, -1.0]).repeat(b, t, 1)  # agent 1's mixer slope is negative
    mask = torch.ones(b, t, n)
    mask[1, 2] = 0.0  # a padded step
    mask[0, 1, 1] = 0.0  # a dead agent
    return actors, critic, hidden, sign, mask


def test_action_value_gradient_matches_finite_differences_and_leaves_critic_untouched():
    actors, critic, hidden, _, _ = tiny_actor_case()
    actions = actors(hidden).detach()
    qs, grads = continuous_losses.action_values_and_gradients(critic.q, hidden, actions)
    assert torch.allclose(qs, critic.q(hidden, actions))
    step = 1e-3
    for k in range(actions.shape[-1]):
        bump = torch.zeros_like(actions)
        bump[..., k] = step
        numeric = (critic.q(hidden, actions + bump) - critic.q(hidden, actions - bump)) / (2 * step)
        assert torch.allclose(grads[..., k], numeric, atol=2e-3)
    assert all(p.grad is None for p in critic.parameters())
    assert not actions.requires_grad  # the gradient is taken at a copy: the caller's actions are left as they were
    live_qs, live_grads = continuous_losses.action_values_and_gradients(critic.q, hidden, actors(hidden))
    assert not live_qs.requires_grad and not live_grads.requires_grad  # constants, even from the actor's output


def test_deterministic_actor_loss_gradient_equals_eq14_by_hand():
    actors, critic, hidden, sign, mask = tiny_actor_case()
    gamma = 0.9
    discount = losses.discount_weights(3, gamma, "cpu")
    actions = actors(hidden)
    _, grads = continuous_losses.action_values_and_gradients(critic.q, hidden, actions)
    loss, _ = continuous_losses.deterministic_actor_loss(actions, grads, sign, discount, mask)
    got = torch.autograd.grad(loss, list(actors.parameters()))
    # Eq. 14 by hand: θ ascends I_t · sign · ∇_θ μ_a · ∇_u Q_a, summed over (b, t, a), averaged over
    # the 5 real steps; ∇_θ μ_a is built one output component at a time.
    params = list(actors.parameters())
    expected = [torch.zeros_like(p) for p in params]
    n_steps = mask.amax(-1).sum()
    for b, t, a, k in torch.cartesian_prod(*(torch.arange(s) for s in actions.shape)).tolist():
        if mask[b, t, a] == 0:
            continue
        d_mu = torch.autograd.grad(actors(hidden)[b, t, a, k], params)
        for acc, d in zip(expected, d_mu):
            acc -= discount[t] * sign[b, t, a] * grads[b, t, a, k] * d / n_steps
    for g, e in zip(got, expected):
        assert torch.allclose(g, e, atol=1e-6)



def test_deterministic_actor_loss_moves_the_actions_only_and_reports_its_statistics_by_hand():
    actions = torch.tensor([[[[1.0, 2.0], [0.5, 0.0]], [[9.0, 9.0], [9.0, 9.0]]]], requires_grad=True)  # [1, 2, 2, 2]
    grads = torch.tensor([[[[3.0, 4.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]]], requires_grad=True)
    sign = torch.tensor([[[-1.0, 1.0], [-1.0, -1.0]]], requires_grad=True)
    mask, discount = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]), torch.tensor([1.0, 0.5])  # step 1 is padding
    loss, info = continuous_losses.deterministic_actor_loss(actions, grads, sign, discount, mask)
    # One real step: agent 0 ascends −1·⟨(1, 2), (3, 4)⟩ = −11, agent 1 +1·⟨(0.5, 0), (0, 1)⟩ = 0.
    assert loss.item() == 11.0
    assert info["sign_negative_fraction"].item() == 0.5 and info["action_grad_norm"].item() == (5.0 + 1.0) / 2
    loss.backward()
    assert grads.grad is None and sign.grad is None
    assert torch.equal(actions.grad[0, 0], torch.tensor([[3.0, 4.0], [0.0, -1.0]])) and not actions.grad[0, 1].any()
    alone = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # agent 0 alone acts, once
    _, info = continuous_losses.deterministic_actor_loss(actions, grads, sign, discount, alone)
    assert info["sign_negative_fraction"].item() == 1.0 and info["action_grad_norm"].item() == 5.0
    flat = torch.tensor([[[-1.0, 0.0], [-1.0, -1.0]]])  # agent 1's mixer slope is 0: flat, not negative
    _, info = continuous_losses.deterministic_actor_loss(actions, grads, flat, discount, mask)
    assert info["sign_negative_fraction"].item() == 0.5

def test_with_positive_signs_eq14_is_the_chain_rule_through_the_frozen_critic():
    actors, critic, hidden, _, _ = tiny_actor_case(1)
    ones, discount = torch.ones(2, 3, 2), losses.discount_weights(3, 0.5, "cpu")
    actions = actors(hidden)
    _, grads = continuous_losses.action_values_and_gradients(critic.q, hidden, actions)
    loss, _ = continuous_losses.deterministic_actor_loss(actions, grads, ones, discount, ones)
    got = torch.autograd.grad(loss, list(actors.parameters()))
    direct = -(discount.view(1, -1, 1) * critic.q(hidden, actors(hidden))).sum() / 6  # Eq. 10: ∇_θ Q(τ, μ_θ(τ))
    want = torch.autograd.grad(direct, list(actors.parameters()))
    assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want))


def test_deterministic_targets_broadcast_the_team_reward_for_independent_critics():
    reward, terminated = torch.tensor([[1.0, 2.0]]), torch.tensor([[False, True]])
    next_qs, state = torch.tensor([[[10.0, 20.0], [30.0, 40.0]]]), torch.zeros(1, 2, 1)
    mixed = continuous_losses.deterministic_targets(reward, terminated, next_qs, state, lambda q, s: q.sum(-1), 0.5)
    assert torch.equal(mixed, torch.tensor([[1.0 + 15.0, 2.0]]))
    independent = continuous_losses.deterministic_targets(reward, terminated, next_qs, state, lambda q, s: q, 0.5)
    assert torch.equal(independent, torch.tensor([[[6.0, 11.0], [2.0, 2.0]]]))


# --- the learner: gradients, targets, bounds -----------------------------------------------------

@pytest.mark.parametrize("algo", CONTINUOUS)
def test_actor_step_gives_no_gradient_to_the_critic_and_critic_step_none_to_the_actors(algo):
    learner = make(algo)
    critic_loss, actor_loss, _ = learner.compute_losses(random_batch())
    actor_loss.backward(retain_graph=True)
    critic = [*learner.agent.parameters(), *learner.mixer.parameters()]
    assert all(p.grad is None for p in critic)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.actors.parameters())
    learner.actors.zero_grad(set_to_none=True)
    critic_loss.backward()
    assert all(p.grad is None for p in learner.actors.parameters())
    assert learner.agent.fc_q.weight.grad.abs().sum() > 0
    targets = [learner.target_agent, learner.target_mixer, learner.target_actors]
    assert all(p.grad is None and not p.requires_grad for t in targets for p in t.parameters())


def test_target_is_alg2_line10_and_reads_target_networks_only():
    learner, batch = make(), random_batch()
    with torch.no_grad():
        for module in (learner.target_agent, learner.target_actors, learner.target_mixer):
            for p in module.parameters():
                p.add_(0.3 * torch.randn_like(p))  # targets differ from the online networks
    _, target_hidden = learner.unroll(batch)
    y = learner.next_action_value_targets(batch, target_hidden)
    h_next = target_hidden[:, 1:]
    q_next = learner.target_agent.q(h_next, learner.target_actors(h_next))  # Q'_a(τ', μ'_a(τ'))
    manual = batch.reward + 0.99 * (~batch.terminated) * learner.target_mixer(q_next, batch.state[:, 1:])
    assert torch.allclose(y, manual, atol=1e-6)
    for online in (learner.agent, learner.mixer, learner.actors):
        with torch.no_grad():
            for p in online.parameters():
                p.add_(1.0)
    assert torch.equal(learner.next_action_value_targets(batch, learner.unroll(batch)[1]), y)


def test_qmix_cont_signs_are_all_positive_and_nqmix_can_be_negative():
    batch = random_batch()
    assert make("qmix-cont").compute_losses(batch)[2]["sign_negative_fraction"] == 0
    negative = [make("nqmix-cont", seed=s).compute_losses(batch)[2]["sign_negative_fraction"] for s in range(4)]
    assert max(negative) > 0


def test_train_step_soft_updates_all_three_target_networks():
    learner = make(tau=0.05)
    before = [[p.clone() for p in t.parameters()] for t, _ in learner.target_pairs()]
    batch = random_batch()
    learner.train_step(batch, t_env=0, episodes_seen=3)
    rate = 1 - 0.95 ** batch.max_steps  # τ per time step (Alg. 2 line 15 inside the loop over t)
    for old_params, (target, online) in zip(before, learner.target_pairs()):
        for old, new, live in zip(old_params, target.parameters(), online.parameters()):
            assert torch.allclose(new, old + rate * (live - old), atol=1e-6)


def test_actions_stay_inside_the_bounds_in_every_mode():
    learner = make(noise_std_start=5.0)  # huge noise: clipping must hold it in
    with torch.no_grad():
        learner.actors.fc2.bias.fill_(50.0)  # tanh saturates at the upper bound
    e = 16
    obs = Observation(torch.randn(e, 3, 5), torch.randn(e, 7), torch.ones(e, 3, 2, dtype=torch.bool))
    last, gen = torch.zeros(e, 3, 2), torch.Generator().manual_seed(0)
    for mode in ("explore", "stochastic", "greedy"):
        actions, hidden = learner.act(obs, last, learner.initial_hidden(e), mode, 0, gen)
        assert actions.shape == (e, 3, 2) and hidden.shape == (e, 3, 64)
        assert ((actions >= 0.0) & (actions <= 1.0)).all()
    greedy = [learner.act(obs, last, learner.initial_hidden(e), "greedy", 0, gen)[0] for _ in range(2)]
    assert torch.equal(*greedy)
    clipped = action_selection.gaussian_exploration(torch.zeros(1000, 1), 3.0, (-1.0, 1.0), gen)
    assert clipped.min() == -1.0 and clipped.max() == 1.0


def test_algorithm_and_environment_kinds_must_match():
    with pytest.raises(UserError, match="needs continuous actions"):
        make_learner("nqmix-cont", EnvInfo(2, 1, 1, 3, 1), "cpu")
    with pytest.raises(UserError, match="needs discrete actions"):
        make_learner("nqmix", INFO, "cpu")


# --- the two-peak game ---------------------------------------------------------------------------

def test_two_peak_game_pays_the_peaks_and_wins_only_on_the_high_one():
    payoff = TwoPeakPayoff()
    assert two_peak_reward(torch.tensor([0.5, 0.5]), payoff) == payoff.high_height
    assert two_peak_reward(torch.tensor([-0.5, -0.5]), payoff) == payoff.low_height
    env = make_env("continuous:two-peak", 3)
    env.reset()
    result = env.step(torch.tensor([[[0.5], [0.5]], [[-0.5], [-0.5]], [[0.5], [-0.5]]]))
    assert result.won.tolist() == [True, False, False] and result.terminated.all()
    assert env.info.continuous and env.info.action_bounds == (-1.0, 1.0)


def test_two_peak_reward_by_hand_away_from_the_tops():
    """r(u) = max(h_low − ‖u − c_low‖²/w_low², h_high − ‖u − c_high‖²/w_high²), with widths 0.5 and 0.25."""
    payoff = TwoPeakPayoff(low_center=-0.5, low_height=0.0, low_width=0.5, high_center=0.5, high_height=1.0,
                           high_width=0.25)
    u = torch.tensor([[0.0, 0.0], [0.5, 0.25], [0.625, 0.5], [-0.25, -0.5]])
    # low: −0.5/0.25 = −2, −1.5625/0.25, −2.265625/0.25, −0.0625/0.25; high: 1 − 0.5/0.0625 = −7, 1 − 1, 1 − 0.25, …
    assert two_peak_reward(u, payoff).tolist() == [-2.0, 0.0, 0.75, -0.25]
    assert on_high_peak(u, payoff).tolist() == [False, False, True, False]  # 0 = h_low is not above it


@pytest.mark.parametrize("change", [{"low_width": 0.0}, {"high_width": 0.0}, {"high_height": 0.0}])
def test_a_two_peak_payoff_needs_widths_above_zero_and_a_higher_high_peak(change):
    with pytest.raises(UserError, match="positive widths and high_height > low_height"):
        TwoPeakPayoff(**change)


# --- real runs through train_run -----------------------------------------------------------------

def quick(algo, env="continuous:two-peak", **overrides) -> RunConfig:
    settings = {"algo": algo, "env": env, "t_max": 128, "n_envs": 16, "test_interval": 64, "test_episodes": 16,
                "device": "cpu", "checkpoint_interval": 64, "updates_per_episode": 0.25, "tensorboard": False,
                "progress": False}
    return RunConfig(**{**settings, **overrides})


@pytest.mark.parametrize("algo", CONTINUOUS)
def test_every_continuous_preset_trains_on_the_two_peak_game(algo, tmp_path):
    rows = train_run(quick(algo), tmp_path, algo=algo_config(algo, batch_size=16, buffer_size=64))
    assert [r["t_env"] for r in rows] == [0, 64, 128]
    assert all(0.0 <= r["test_greedy_win_rate"] <= 1.0 for r in rows)
    assert rows[-1]["train_updates"] == 4 * 4 and torch.isfinite(torch.tensor(rows[-1]["train_critic_loss"]))


def test_a_resumed_run_reproduces_the_uninterrupted_one(tmp_path):
    algo = algo_config("nqmix-cont", batch_size=16, buffer_size=64)
    straight = train_run(quick("nqmix-cont"), tmp_path / "a", algo=algo)
    train_run(quick("nqmix-cont", t_max=64), tmp_path / "b", algo=algo)
    resumed = train_run(quick("nqmix-cont"), tmp_path / "b", resume=True, algo=algo)
    assert resumed == straight
    a, b = (torch.load(tmp_path / d / "checkpoint.pt", weights_only=True)["learner"]["networks"] for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def smax_cont_env():
    pytest.importorskip("jaxmarl")
    from nqmix_core.envs.smax import SMAXEnv
    env = SMAXEnv("3m", n_envs=2, seed=0, continuous=True)
    yield env
    env.close()


def test_smax_continuous_protocol(smax_cont_env):
    env = smax_cont_env
    assert env.info.continuous and env.info.n_actions == 4 and env.info.action_bounds == (0.0, 1.0)
    obs = env.reset(0)
    assert obs.avail_actions.shape == (2, 3, 4) and obs.avail_actions.all()
    result = env.step(torch.rand(2, 3, 4, generator=torch.Generator().manual_seed(0)))
    assert result.reward.shape == (2,) and (result.reward >= 0).all()
    assert env.compile_count() == 3  # float actions did not force a recompile after warm-up
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(2, 3, dtype=torch.long))


def test_nqmix_cont_trains_on_smax_continuous(smax_cont_env, tmp_path):
    config = quick("nqmix-cont", env="smax-cont:3m", t_max=1, n_envs=2, test_interval=10**6,
                   checkpoint_interval=10**6, test_episodes=2, updates_per_episode=1.0)
    rows = train_run(config, tmp_path, algo=algo_config("nqmix-cont", batch_size=2, buffer_size=8), env=smax_cont_env)
    assert len(rows) == 1 and rows[0]["t_env"] == 0
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["counters"]["updates"] == 2 and state["env_info"]["action_bounds"] == (0.0, 1.0)


def test_behaviour_noise_is_its_own_schedule_and_its_own_log_column():
    learner = make(noise_std_start=0.8, noise_std_finish=0.2, noise_anneal_steps=1000)
    assert learner.noise_std(0) == pytest.approx(0.8)
    assert learner.noise_std(500) == pytest.approx(0.5)  # halfway down the line
    assert learner.noise_std(10**6) == pytest.approx(0.2)
    assert learner.exploration(500) == {"noise_std": pytest.approx(0.5)}
    assert not hasattr(learner.config, "epsilon_start")  # ε belongs to the discrete learners' configs


def test_an_old_continuous_manifest_reads_its_epsilon_as_the_noise():
    """Manifests written before the noise had its own fields called its σ schedule ``epsilon_*``."""
    from dataclasses import asdict

    from nqmix_core import run_table
    old = {("epsilon" + k.removeprefix("noise_std") if k.startswith("noise_std") else
            "epsilon_anneal_steps" if k == "noise_anneal_steps" else k): v
           for k, v in asdict(algo_config("nqmix-cont")).items()}
    assert "epsilon_start" in old and "noise_std_start" not in old
    run_config = asdict(RunConfig(algo="nqmix-cont", env="continuous:two-peak"))
    assert run_table.changed_settings({"run_config": run_config, "algo_config": old}) == ""
    old["epsilon_anneal_steps"] = 6400
    assert run_table.changed_settings({"run_config": run_config, "algo_config": old}) == "noise_anneal_steps=6400"


def test_setting_epsilon_on_the_continuous_learner_names_the_noise_field():
    from nqmix_core.learners.continuous_actor_critic import ContinuousConfig
    from nqmix_core.run_options import parse_settings
    with pytest.raises(UserError, match=r"epsilon_start is called noise_std_start now; write --set noise_std_start=0.3"):
        parse_settings(["epsilon_start=0.3"], ContinuousConfig)
    assert parse_settings(["noise_std_start=0.3"], ContinuousConfig) == {"noise_std_start": 0.3}
