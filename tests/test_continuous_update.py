"""One update of NQMIX for continuous actions written out from Alg. 2, one real step at a time, against the
learner: the critic's target through the target actors, critic and mixer (lines 8–11), the TD loss (line 12),
the actor's step of Eq. 14 (line 13) with dead agents left out, the logged mean Q_a(τ, μ_a(τ)), one critic
and one actor step per mini-batch, and how the learner acts in each mode."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import action_selection
from nqmix_core.networks.continuous_agent import continuous_agent_inputs, continuous_sequence_inputs
from nqmix_core.registry import algo_config, make_learner
from nqmix_core.specs import Observation
from tests.helpers import copied_targets, targets_apart
from tests.test_continuous import INFO, random_batch


def learner_for(algo: str, **settings):
    """A learner whose three target networks differ from the online ones, as they do after a few updates."""
    torch.manual_seed(0)
    return targets_apart(make_learner(algo_config(algo, gamma=0.9, **settings), INFO, "cpu"))


def cut_at_the_limit(batch):
    """The first episode (6 steps, the limit) cut by the time limit rather than ended: it bootstraps."""
    batch.terminated[0] = False
    return batch


def written_out(learner, batch) -> dict[str, float]:
    """Alg. 2 lines 8–13 one real step (b, t) at a time, from the networks' own outputs."""
    c = learner.config
    inputs = continuous_sequence_inputs(batch.obs, batch.actions)  # [B, T+1, N, D]
    hidden = learner.agent.history(inputs)  # [B, T+1, N, H]
    target_hidden = learner.target_agent.history(inputs)
    critic, errors, actor, policy_q, alive_agents = 0.0, 0, 0.0, 0.0, 0
    for b, t in batch.filled.nonzero().tolist():
        with torch.no_grad():  # lines 8–11: y = r + γ·Mixer'(Q'_a(τ_{t+1}, μ'_a(τ_{t+1})), s_{t+1}) unless it ended
            h_next = target_hidden[b, t + 1]  # [N, H]
            q_next = learner.target_agent.q(h_next, learner.target_actors(h_next))  # [N]
            bootstrap = 0.0 if batch.terminated[b, t] else c.gamma * learner.target_mixer(q_next, batch.state[b, t + 1])
            y = batch.reward[b, t] + bootstrap
        chosen = learner.agent.q(hidden[b, t], batch.actions[b, t])  # Q_a(τ_t, u_t) [N]
        error = (y - learner.mixer(chosen, batch.state[b, t])).detach()  # a scalar (iddpg: one per agent)
        critic += float((error ** 2).sum())
        errors += error.numel()
        h = hidden[b, t].detach()  # the actors read the critic's history, detached
        mu = learner.actors(h).detach()  # μ_a(τ_t) [N, A]
        u = mu.clone().requires_grad_()
        q_mu = learner.agent.q(h, u)  # Q_a(τ_t, μ_a(τ_t)) [N]
        (grad_u,) = torch.autograd.grad(q_mu.sum(), u)  # ∇_u Q_a at u = μ_a [N, A]
        leaf = q_mu.detach().requires_grad_()
        (slope,) = torch.autograd.grad(learner.mixer(leaf, batch.state[b, t]).sum(), leaf)  # ∂Q_tot/∂Q_a [N]
        alive = batch.avail_actions[b, t].any(-1).float()  # a dead agent takes no actor step
        actor += c.gamma ** t * float((alive * slope.sign() * (mu * grad_u).sum(-1)).sum())  # line 13
        policy_q += float((q_mu.detach() * alive).sum())
        alive_agents += int(alive.sum())
    return {"critic_loss": critic / errors, "actor_loss": -actor / float(batch.filled.sum()),
            "policy_q_mean": policy_q / alive_agents}


@pytest.mark.parametrize("algo", ["nqmix-cont", "qmix-cont", "iddpg"])
def test_the_losses_are_alg_2_written_out(algo):
    learner, batch = learner_for(algo), cut_at_the_limit(random_batch())
    assert not batch.avail_actions[0, 1:, 2].any()  # agent 2 of episode 0 is dead from step 1
    critic_loss, actor_loss, info = learner.compute_losses(batch)
    want = written_out(learner, batch)
    assert float(critic_loss.detach()) == pytest.approx(want["critic_loss"], rel=1e-5)
    assert float(actor_loss.detach()) == pytest.approx(want["actor_loss"], rel=1e-5, abs=1e-7)
    assert float(info["policy_q_mean"]) == pytest.approx(want["policy_q_mean"], rel=1e-5)


def test_one_critic_and_one_actor_step_per_mini_batch_and_info_without_a_graph():
    learner = learner_for("nqmix-cont")
    info = learner.train_step(random_batch(), t_env=0, episodes_seen=3)
    steps = {name: {int(s["step"]) for s in opt.state.values()} for name, opt in learner.optimisers().items()}
    assert steps == {"critic": {1}, "actors": {1}}
    assert not any(value.requires_grad for value in info.values())
    assert {"critic_loss", "actor_loss", "grad_norm", "policy_q_mean"} <= info.keys()


def test_greedy_acts_with_mu_and_explore_and_stochastic_add_the_scheduled_noise():
    learner = learner_for("nqmix-cont", noise_std_start=0.4, noise_std_finish=0.2, noise_anneal_steps=100)
    batch = random_batch(lengths=(6, 6, 6, 6))
    obs = Observation(batch.obs[:, 0], batch.state[:, 0], batch.avail_actions[:, 0])
    last, hidden = torch.zeros(4, INFO.n_agents, INFO.n_actions), learner.initial_hidden(4)
    with torch.no_grad():
        new_hidden = learner.agent.step(continuous_agent_inputs(obs.obs, last), hidden)  # [E, N, H]
        mu = learner.actors(new_hidden)  # [E, N, A]
    assert learner.noise_std(50) == pytest.approx(0.3)  # halfway down the schedule
    for mode in ("greedy", "stochastic", "explore"):
        got, got_hidden = learner.act(obs, last, hidden, mode, 50, torch.Generator().manual_seed(1))
        want = mu if mode == "greedy" else action_selection.gaussian_exploration(
            mu, 0.3, INFO.action_bounds, torch.Generator().manual_seed(1))
        assert torch.allclose(got, want, atol=1e-6), mode
        assert torch.allclose(got_hidden, new_hidden, atol=1e-6), mode


def test_with_hard_target_updates_the_first_copy_comes_at_the_interval():
    learner = learner_for("nqmix-cont", target_update="hard")  # its targets differ from the online networks
    learner.update_targets(episodes_seen=learner.config.target_update_interval - 1)
    assert copied_targets(learner) == [False] * 3
    learner.update_targets(episodes_seen=learner.config.target_update_interval)
    assert copied_targets(learner) == [True] * 3
