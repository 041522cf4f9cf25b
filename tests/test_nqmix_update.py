"""One NQMIX update written out from Alg. 1 with a loop over the real steps, against the learner: the critic's
state-value target and TD loss (lines 8–13), the actor's sign rule (line 14), the two ablations that change
the actor's objective (entropy bonus, mixer-aware actor), the diagnostics it logs, how it acts in each mode,
and one critic and one actor step per mini-batch."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import action_selection, registry
from nqmix_core.specs import Observation
from tests.helpers import INFO, random_batch


def learner_for(algo: str, **settings):
    torch.manual_seed(0)
    return registry.make_learner(registry.algo_config(algo, gamma=0.9, **settings), INFO, "cpu")


def written_out(learner, batch) -> dict[str, float]:
    """Alg. 1 lines 8–14 one real step (b, t) at a time, from the networks' own outputs."""
    c = learner.config
    qs, hidden, target_qs, target_hidden = learner.unroll(batch)  # [B, T+1, N, ·]
    critic, actor, entropy, decisions, negative = 0.0, 0.0, 0.0, 0, 0
    for b, t in batch.filled.nonzero().tolist():
        avail, state = batch.avail_actions[b, t], batch.state[b, t]
        chosen = qs[b, t].gather(-1, batch.actions[b, t, :, None])[:, 0]  # Q_a(τ_t^a, u_t^a) [N]
        with torch.no_grad():  # lines 8–12: V'_a = Σ_u π'_a(u)·Q'_a(u); y = r + γ·Mixer'(V', s_{t+1}) unless it ended
            nxt = batch.avail_actions[b, t + 1]
            pi_next = learner.target_actors(target_hidden[b, t + 1], nxt)  # π'_a on the target network's history
            v_next = torch.where(nxt, pi_next * target_qs[b, t + 1], 0.0).sum(-1)  # [N]
            bootstrap = 0.0 if batch.terminated[b, t] else c.gamma * learner.target_mixer(v_next, batch.state[b, t + 1])
            y = batch.reward[b, t] + bootstrap
        critic += float((y - learner.mixer(chosen, state)).detach() ** 2)  # line 13
        leaf = chosen.detach().requires_grad_()
        (slope,) = torch.autograd.grad(learner.mixer(leaf, state), leaf)  # ∂Q_tot/∂Q_a at the taken actions
        pi = learner.actors(hidden[b, t].detach(), avail).detach()  # [N, U], 0 where unavailable
        if c.actor_objective == "mixer":  # Σ_u π_a(u)·Q_tot(Q_a(u), Q_-a, s) over the available actions
            score = torch.stack([torch.stack([learner.mixer(torch.cat([chosen[:a], qs[b, t, a, u:u + 1], chosen[a + 1:]]),
                                                            state) for u in range(INFO.n_actions)])
                                 for a in range(INFO.n_agents)]).detach()
            actor += c.gamma ** t * float((pi * score.masked_fill(~avail, 0.0)).sum())
        else:  # line 14: I_t·sign(∂Q_tot/∂Q_a)·Σ_u π_a(u)·Q_a(u)
            actor += c.gamma ** t * float((slope.sign() * (pi * qs[b, t].detach()).sum(-1)).sum())
        for a in range(INFO.n_agents):
            if avail[a].sum() > 1:  # a decision: more than one action to choose from
                p = pi[a][avail[a]]
                entropy -= float((p * p.log()).sum())
                decisions += 1
                negative += int(slope[a] < 0)
    n = float(batch.filled.sum())
    mean_entropy = entropy / decisions
    return {"critic_loss": critic / n, "actor_loss": -actor / n - c.entropy_coef * mean_entropy,
            "entropy": mean_entropy, "decisions": decisions, "negative": negative}


@pytest.mark.parametrize("algo, settings", [("nqmix", {}), ("nqmix-m", {}), ("nqmix", {"entropy_coef": 0.05}),
                                            ("nqmix", {"actor_objective": "mixer"})])
def test_the_losses_are_alg_1_written_out(algo, settings):
    learner, batch = learner_for(algo, **settings), random_batch(timed_out_last=True)
    critic_loss, actor_loss, info = (v.detach() if torch.is_tensor(v) else v for v in learner.compute_losses(batch))
    want = written_out(learner, batch)
    assert float(critic_loss) == pytest.approx(want["critic_loss"], rel=1e-5)
    assert float(actor_loss) == pytest.approx(want["actor_loss"], rel=1e-5, abs=1e-7)
    assert ("policy_entropy" in info) == (learner.config.entropy_coef > 0)
    if "policy_entropy" in info:
        assert not info["policy_entropy"].requires_grad
        assert float(info["policy_entropy"]) == pytest.approx(want["entropy"], rel=1e-5)


def test_the_logged_policy_and_sign_diagnostics_are_those_of_the_written_out_step():
    learner, batch = learner_for("nqmix"), random_batch(timed_out_last=True)
    want, sums = written_out(learner, batch), learner.rollout_diagnostics(batch)
    assert float(sums["policy_entropy"][1]) == want["decisions"] == float(sums["sign_negative"][1])
    assert float(sums["policy_entropy"][0]) == pytest.approx(want["entropy"] * want["decisions"], rel=1e-5)
    assert float(sums["sign_negative"][0]) == want["negative"]


def test_one_critic_and_one_actor_step_per_mini_batch_and_info_without_a_graph():
    learner = learner_for("nqmix")
    assert learner.config.updates_per_batch == 1  # the paper's NQMIX as the kit runs it: one step per batch
    info = learner.train_step(random_batch(), t_env=0, episodes_seen=3)
    steps = {name: {int(s["step"]) for s in opt.state.values()} for name, opt in learner.optimisers().items()}
    assert steps == {"critic": {1}, "actors": {1}}
    assert not any(value.requires_grad for value in info.values())
    delayed = learner_for("nqmix", actor_delay_steps=100)
    delayed.train_step(random_batch(), t_env=99, episodes_seen=3)
    assert not delayed.optimisers()["actors"].state  # the actors wait until step 100


def test_acting_greedy_takes_argmax_pi_stochastic_samples_pi_explore_adds_the_epsilon_floor():
    learner = learner_for("nqmix", epsilon_start=0.5, epsilon_finish=0.5)
    batch = random_batch(lengths=(6, 6, 6, 6))
    obs = Observation(batch.obs[:, 0], batch.state[:, 0], batch.avail_actions[:, 0])
    last, hidden = torch.full((4, INFO.n_agents), -1), learner.initial_hidden(4)
    _, new_hidden = learner.act(obs, last, hidden, "greedy", 0, torch.Generator().manual_seed(0))
    policy = learner.action_probs(new_hidden, obs.avail_actions)  # π after this step's observation
    for mode, want in (("greedy", lambda g: action_selection.greedy(policy, obs.avail_actions)),
                       ("stochastic", lambda g: action_selection.sample(policy, g)),
                       ("explore", lambda g: action_selection.sample(
                           action_selection.with_epsilon_floor(policy, obs.avail_actions, 0.5), g))):
        got, _ = learner.act(obs, last, hidden, mode, 0, torch.Generator().manual_seed(1))
        assert torch.equal(got, want(torch.Generator().manual_seed(1))), mode
