"""Learners: who gets which gradient, what the targets read, padding, target updates."""
import pytest
import torch

from nqmix_core.registry import algo_config
from nqmix_core.learners.common import soft_update, soft_update_rate
from nqmix_core.registry import make_learner
from tests.helpers import INFO, fill_padding_with_garbage, random_batch

ALGOS = ["nqmix", "nqmix-m", "qmix", "vdn"]


def make(algo, seed=0, **overrides):
    torch.manual_seed(seed)
    return make_learner(algo_config(algo, **overrides), INFO, "cpu")


def perturb(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.5)


def test_actor_loss_gives_no_gradient_to_critic_or_targets():
    learner = make("nqmix")
    _, actor_loss, _ = learner.compute_losses(random_batch())
    actor_loss.backward()
    critic = [*learner.agent.parameters(), *learner.mixer.parameters()]
    targets = [*learner.target_agent.parameters(), *learner.target_mixer.parameters(),
               *learner.target_actors.parameters()]
    assert all(p.grad is None for p in critic)
    assert all(p.grad is None and not p.requires_grad for p in targets)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.actors.parameters())


def test_critic_loss_gives_no_gradient_to_actors_or_targets():
    learner = make("nqmix")
    critic_loss, _, _ = learner.compute_losses(random_batch())
    critic_loss.backward()
    assert all(p.grad is None for p in learner.actors.parameters())
    assert all(p.grad is None for p in learner.target_agent.parameters())
    assert learner.agent.fc_in.weight.grad.abs().sum() > 0
    assert learner.mixer.hidden.weight.grad.abs().sum() > 0


def nqmix_targets(learner, batch):
    _, _, target_qs, target_hidden = learner.unroll(batch)
    return learner.next_state_value_targets(batch, target_qs, target_hidden)


def test_state_value_target_reads_target_networks_only():
    learner, batch = make("nqmix"), random_batch()
    before = nqmix_targets(learner, batch)
    for online in (learner.agent, learner.mixer, learner.actors):
        perturb(online, 1)
    assert torch.equal(nqmix_targets(learner, batch), before)
    for target in (learner.target_agent, learner.target_mixer, learner.target_actors):
        perturb(target, 2)
        after = nqmix_targets(learner, batch)
        assert not torch.allclose(after, before)
        before = after


def test_state_value_target_ignores_unavailable_action_values():
    learner, batch = make("nqmix"), random_batch()
    _, _, target_qs, target_hidden = learner.unroll(batch)
    spiked = torch.where(batch.avail_actions, target_qs, torch.full_like(target_qs, 1e6))
    assert torch.allclose(learner.next_state_value_targets(batch, spiked, target_hidden),
                          learner.next_state_value_targets(batch, target_qs, target_hidden))


def test_terminal_steps_do_not_bootstrap_but_time_outs_do():
    learner = make("nqmix")
    batch = random_batch(lengths=(6, 3), timed_out_last=True)  # episode 0 hits the limit (6)
    y = nqmix_targets(learner, batch)
    assert torch.equal(y[1, 2], batch.reward[1, 2])  # terminated at its last step
    assert not torch.isclose(y[0, 5], batch.reward[0, 5])  # timed out: r + γ V'


@pytest.mark.parametrize("algo", ALGOS)
def test_padded_steps_change_neither_loss(algo):
    learner, batch = make(algo), random_batch()
    garbage = fill_padding_with_garbage(batch)
    clean, dirty = learner.compute_losses(batch), learner.compute_losses(garbage)
    assert torch.equal(clean[0], dirty[0])
    if algo.startswith("nqmix"):
        assert torch.equal(clean[1], dirty[1])


def test_soft_update_moves_every_parameter_by_tau_of_the_gap():
    learner = make("nqmix")
    perturb(learner.agent, 3)
    old = [p.clone() for p in learner.target_agent.parameters()]
    soft_update(learner.target_agent, learner.agent, 0.25)
    for before, after, online in zip(old, learner.target_agent.parameters(), learner.agent.parameters()):
        assert torch.allclose(after - before, 0.25 * (online - before), atol=1e-7)


@pytest.mark.parametrize("per_step", [True, False])
def test_nqmix_train_step_soft_updates_all_three_target_networks(per_step):
    learner = make("nqmix", tau=0.05, tau_per_time_step=per_step)
    pairs = learner.target_pairs()
    assert {id(t) for t, _ in pairs} == {id(learner.target_agent), id(learner.target_mixer), id(learner.target_actors)}
    before = [[p.clone() for p in target.parameters()] for target, _ in pairs]
    batch = random_batch()
    learner.train_step(batch, t_env=0, episodes_seen=3)
    rate = 1 - 0.95 ** batch.max_steps if per_step else 0.05  # Alg. 1: τ per time step, T steps in the batch
    for old_params, (target, online) in zip(before, pairs):
        moved = False
        for old, new, live in zip(old_params, target.parameters(), online.parameters()):
            assert torch.allclose(new, old + rate * (live - old), atol=1e-6)
            moved |= not torch.equal(new, old)
        assert moved  # the online network changed, so its target followed


def test_soft_update_rate_by_hand():
    assert soft_update_rate(0.5, 1) == 0.5
    assert soft_update_rate(0.5, 2) == 0.75  # 1 − 0.5²
    assert soft_update_rate(0.001, 0) == 0.0
    assert abs(soft_update_rate(0.001, 752) - (1 - 0.999 ** 752)) < 1e-15


@pytest.mark.parametrize("n_steps", [None, 1, 7, 60])
def test_per_time_step_rate_equals_t_successive_soft_updates(n_steps):
    """``n_steps`` left out is one time step."""
    learner = make("nqmix", tau=0.01)
    perturb(learner.agent, 5)
    stepped = [p.clone() for p in learner.target_agent.parameters()]
    online = list(learner.agent.parameters())
    for _ in range(n_steps or 1):  # Alg. 1 line 16 once per time step, the online weights unchanged meanwhile
        stepped = [s + 0.01 * (o - s) for s, o in zip(stepped, online)]
    learner.update_targets(episodes_seen=1, **({} if n_steps is None else {"n_steps": n_steps}))
    for want, got in zip(stepped, learner.target_agent.parameters()):
        assert torch.allclose(got, want, atol=1e-6, rtol=1e-5)


def test_hard_update_waits_for_the_episode_interval():
    learner = make("qmix")
    perturb(learner.agent, 4)
    learner.update_targets(episodes_seen=199)
    assert not torch.equal(learner.target_agent.fc_in.weight, learner.agent.fc_in.weight)
    learner.update_targets(episodes_seen=200)
    assert torch.equal(learner.target_agent.fc_in.weight, learner.agent.fc_in.weight)
    perturb(learner.agent, 5)  # the next copy counts its interval from this one
    learner.update_targets(episodes_seen=399)
    assert not torch.equal(learner.target_agent.fc_in.weight, learner.agent.fc_in.weight)
    learner.update_targets(episodes_seen=400)
    assert torch.equal(learner.target_agent.fc_in.weight, learner.agent.fc_in.weight)


@pytest.mark.parametrize("algo", ALGOS)
def test_one_train_step_changes_weights_and_keeps_them_finite(algo):
    learner = make(algo)
    before = [p.clone() for p in learner.agent.parameters()]
    info = learner.train_step(random_batch(), t_env=0, episodes_seen=3)
    assert all(torch.isfinite(v).all() for v in info.values())
    assert any(not torch.equal(b, p) for b, p in zip(before, learner.agent.parameters()))


def test_qmix_epsilon_schedule_follows_pymarl():
    learner = make("qmix")
    assert learner.epsilon(0) == 1.0
    assert learner.epsilon(25_000) == pytest.approx(0.525)
    assert learner.epsilon(10**6) == pytest.approx(0.05)


def test_greedy_and_stochastic_actions_respect_availability():
    from nqmix_core.envs.base import Observation
    learner = make("nqmix")
    e = 64
    avail = torch.zeros(e, 3, 4, dtype=torch.bool)
    avail[:, :, 2] = True
    avail[::2, :, 0] = True
    obs = Observation(torch.randn(e, 3, 5), torch.randn(e, 7), avail)
    last = torch.full((e, 3), -1)
    gen = torch.Generator().manual_seed(0)
    for mode in ("explore", "stochastic", "greedy"):
        actions, hidden = learner.act(obs, last, learner.initial_hidden(e), mode, 0, gen)
        assert actions.shape == (e, 3) and hidden.shape == (e, 3, 64)
        assert avail.gather(-1, actions.unsqueeze(-1)).all()
