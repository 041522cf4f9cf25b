"""QMIX, VDN and IQL's update written out from pymarl's Q-learner, one real step at a time, against the learner:
the target (the next action picked by the online network, valued by the target networks; a cut episode
bootstraps, an ended one does not), the TD loss, one clipped RMSprop step, what ``train_step`` logs, how the
learner acts in each mode, and the diagnostics it logs on collected episodes."""
from __future__ import annotations

import copy

import pytest
import torch

from nqmix_core import action_selection, diagnostics, registry
from nqmix_core.networks import agent_inputs, sequence_inputs
from nqmix_core.specs import Observation
from tests.helpers import INFO, copied_targets, random_batch, targets_apart


def learner_for(algo: str, **settings):
    """A learner whose target networks differ from the online ones, as they do between two copies:
    otherwise double Q-learning and a plain max would give the same target."""
    torch.manual_seed(0)
    return targets_apart(registry.make_learner(registry.algo_config(algo, gamma=0.9, **settings), INFO, "cpu"))


def written_out(learner, batch) -> float:
    """pymarl's Q-learner loss, one real step (b, t) at a time: mean over steps (IQL: over steps and agents)
    of (y − Q_tot)², y = r + γ·Mixer'(Q'_a(τ_{t+1}, u*_a), s_{t+1}) unless the episode ended at t."""
    c = learner.config
    inputs = sequence_inputs(batch.obs, batch.actions, INFO.n_actions)  # [B, T+1, N, D]
    qs, _ = learner.agent(inputs)  # [B, T+1, N, U]
    target_qs, _ = learner.target_agent(inputs)
    total, count = 0.0, 0
    for b, t in batch.filled.nonzero().tolist():
        nxt = batch.avail_actions[b, t + 1]  # [N, U]
        picker = qs[b, t + 1] if c.double_q else target_qs[b, t + 1]
        best = picker.masked_fill(~nxt, float("-inf")).argmax(-1)  # u*_a [N]
        next_q = target_qs[b, t + 1].gather(-1, best[:, None])[:, 0]  # Q'_a(τ_{t+1}, u*_a) [N]
        bootstrap = 0.0 if batch.terminated[b, t] else c.gamma * learner.target_mixer(next_q, batch.state[b, t + 1])
        y = batch.reward[b, t] + bootstrap
        chosen = qs[b, t].gather(-1, batch.actions[b, t, :, None])[:, 0]  # Q_a(τ_t, u_t) [N]
        error = y - learner.mixer(chosen, batch.state[b, t])  # a scalar (IQL: one per agent, [N])
        total += float((error.detach() ** 2).sum())
        count += error.numel()
    return total / count


@pytest.mark.parametrize("algo, settings", [("qmix", {}), ("qmix", {"double_q": False}), ("vdn", {}),
                                            ("iql", {}), ("iql", {"double_q": False})])
def test_the_loss_is_pymarls_q_learner_written_out(algo, settings):
    learner, batch = learner_for(algo, **settings), random_batch(timed_out_last=True)
    loss, _ = learner.compute_losses(batch)
    assert float(loss.detach()) == pytest.approx(written_out(learner, batch), rel=1e-5)


def test_double_q_changes_the_target_here_so_the_test_above_can_tell_them_apart():
    batch = random_batch(timed_out_last=True)
    assert written_out(learner_for("qmix"), batch) != pytest.approx(
        written_out(learner_for("qmix", double_q=False), batch), rel=1e-3)


def test_train_step_is_one_clipped_rmsprop_step_and_logs_the_loss_and_the_norm_before_clipping():
    learner, batch = learner_for("qmix", grad_norm_clip=0.05), random_batch(timed_out_last=True)
    c, mirror = learner.config, copy.deepcopy(learner)
    params = [*mirror.agent.parameters(), *mirror.mixer.parameters()]
    loss, _ = mirror.compute_losses(batch)
    grads = torch.autograd.grad(loss, params)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert norm > c.grad_norm_clip  # the clip binds
    scale = c.grad_norm_clip / (norm + 1e-6)  # torch's clip_grad_norm_
    # RMSprop's first step from a zero average: v = (1 − α)·g², θ ← θ − lr·g / (√v + ε)
    want = [p - c.critic_lr * (g * scale) / (((1 - c.rms_alpha) * (g * scale) ** 2).sqrt() + c.rms_eps)
            for p, g in zip(params, grads)]
    info = learner.train_step(batch, t_env=0, episodes_seen=3)
    got = [*learner.agent.parameters(), *learner.mixer.parameters()]
    for p, w in zip(got, want):
        assert torch.allclose(p, w, rtol=1e-4, atol=1e-7)
    assert float(info["critic_loss"]) == pytest.approx(float(loss.detach()), rel=1e-6)
    assert float(info["grad_norm"]) == pytest.approx(float(norm), rel=1e-5)
    assert not any(value.requires_grad for value in info.values())


def test_train_step_copies_the_targets_once_the_interval_has_passed():
    learner, batch = learner_for("qmix"), random_batch()
    learner.train_step(batch, t_env=0, episodes_seen=learner.config.target_update_interval - 1)
    assert copied_targets(learner) == [False, False]
    learner.train_step(batch, t_env=0, episodes_seen=learner.config.target_update_interval)
    assert copied_targets(learner) == [True, True]


def test_acting_greedy_and_stochastic_take_the_argmax_and_explore_is_epsilon_greedy():
    learner = learner_for("qmix", epsilon_start=0.5, epsilon_finish=0.5)
    batch = random_batch(lengths=(6,) * 8)
    obs = Observation(batch.obs[:, 0], batch.state[:, 0], batch.avail_actions[:, 0])
    last, hidden = torch.full((8, INFO.n_agents), -1), learner.initial_hidden(8)
    with torch.no_grad():
        agent_qs, _ = learner.agent.step(agent_inputs(obs.obs, last, INFO.n_actions), hidden)  # [E, N, U]
    argmax = action_selection.greedy(agent_qs, obs.avail_actions)
    explore = action_selection.epsilon_greedy(agent_qs, obs.avail_actions, 0.5, torch.Generator().manual_seed(1))
    assert not torch.equal(explore, argmax)  # so the modes below can be told apart
    for mode, want in (("greedy", argmax), ("stochastic", argmax), ("explore", explore)):
        got, _ = learner.act(obs, last, hidden, mode, 0, torch.Generator().manual_seed(1))
        assert torch.equal(got, want), mode


@pytest.mark.parametrize("algo", ["qmix", "iql"])
def test_the_logged_diagnostics_are_those_of_the_written_out_q_values(algo):
    learner, batch = learner_for(algo), random_batch(timed_out_last=True)
    sums = learner.rollout_diagnostics(batch)
    with torch.no_grad():
        qs, _ = learner.agent(sequence_inputs(batch.obs, batch.actions, INFO.n_actions))  # [B, T+1, N, U]
    chosen = qs[:, :-1].gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)  # [B, T, N]
    if algo == "iql":  # no Q_tot: the agents' mean Q_a stands against the team's return
        want = diagnostics.value_diagnostics(chosen.mean(-1), batch.reward, batch.terminated, batch.filled, 0.9)
    else:
        leaf = chosen.clone().requires_grad_()
        q_tot = learner.mixer(leaf, batch.state[:, :-1])  # [B, T]
        (slopes,) = torch.autograd.grad(q_tot.sum(), leaf)  # ∂Q_tot/∂Q_a at each step's own inputs
        want = {**diagnostics.value_diagnostics(q_tot.detach(), batch.reward, batch.terminated, batch.filled, 0.9),
                **diagnostics.mixer_diagnostics(slopes, qs[:, :-1], batch.avail_actions[:, :-1], batch.filled)}
    assert sums.keys() == want.keys()
    for name, (total, weight) in want.items():
        assert float(sums[name][0]) == pytest.approx(float(total), rel=1e-5, abs=1e-6), name
        assert float(sums[name][1]) == float(weight), name
