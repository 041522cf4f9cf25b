# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · The NQMIX architecture, and one update dissected
#
# **Learning goals.** After this notebook you can
# 1. name NQMIX's three networks (shared agent network, per-agent actors, MLP mixer), their sizes and the
#    tensor shapes each one reads and writes;
# 2. follow one update of Alg. 1 stage by stage, and check it against the learner's own computation;
# 3. measure how often the mixer's slope $\partial Q_{tot}/\partial Q_a$ is negative, and what a sign that is
#    constant per agent means;
# 4. test the paper's overestimation claim on a short run, and say what such a run can and cannot decide;
# 5. count the mixer's parameters yourself (exercise 1).
#
# **Prerequisites.** Notebook 01 (what a mixer is, Eq. 13's sign); notebook 02b helps but is not needed.
#
# **Class time.** 55 minutes. **Paper.** Sec. 4.2–4.3 (Alg. 1), App. B.1.
#
# NQMIX has three parts (Sec. 4.2, Fig. 1): a **shared agent network** (Linear 64 → GRU 64 → Linear $|U|$)
# giving $Q_a(\tau^a_t, \cdot)$ and the GRU state $h^a_t$; one **actor per agent** ($h^a_t$ → Linear 64 + ReLU
# → Linear $|U|$ → softmax over the available actions) giving $\pi_a(u\mid\tau^a_t)$; and a **mixer** without
# a monotonicity constraint, an MLP on $[Q_1,\dots,Q_n, s_t]$ with $32\,(A+4) - A$ hidden units and one
# output, $Q_{tot}$. The task is SMAX `2s3z` (2 Stalkers and 3 Zealots on each side, JaxMARL's
# StarCraft-like simulator), a map with two unit types where the paper reports NQMIX ahead of QMIX.

# %% tags=["parameters"]
FULL_RUN = False  # True: longer training runs for Secs. 3 and 4
SEED = 0
MAP = "smax:2s3z"
N_ENVS = 16  # episodes collected per iteration, also the size of the dissected batch
TRAIN_ITERATIONS = 30  # collect N_ENVS episodes + one update, per learner (Secs. 3 and 4)
MEASURE_EVERY = 10  # iterations between target-vs-return measurements
BATCH_SIZE = 16  # episodes per learner update
DEVICE = "cpu"

# %%
if FULL_RUN:
    TRAIN_ITERATIONS, MEASURE_EVERY, BATCH_SIZE = 600, 50, 32

import time

import matplotlib.pyplot as plt
import pandas as pd
import torch

from nqmix_core import losses

from nqmix_core.teaching import analysis, architecture_figure
from nqmix_core.teaching import exercises as ex
from nqmix_core.registry import algo_config
from nqmix_core.envs.smax import SMAC_EPISODE_LIMITS
from nqmix_core.learners.common import soft_update_rate
from nqmix_core.networks import count_parameters
from nqmix_core.networks.mixers import mixer_parameter_counts
from nqmix_core.plotting import smallest_text_points
from nqmix_core.registry import make_env
from nqmix_core.runner import rollout
from nqmix_core.train import collect_and_learn, start_run
from nqmix_core.teaching.widgets import TargetLagExplorer
from nqmix_core.teaching.widgets.target_lag import drift_lag, half_life

torch.set_num_threads(1)  # the matrices are small: a second thread only adds hand-off cost
pd.set_option("display.width", 120)

# %%
# NBVAL_IGNORE_OUTPUT
compile_start = time.perf_counter()
env = make_env(MAP, N_ENVS, DEVICE, seed=SEED)  # compiles the simulator once; every section reuses it
info = env.info
print(f"built {MAP} with {N_ENVS} copies in {time.perf_counter() - compile_start:.1f} s")

# %% [markdown]
# ## 1 · The networks and their sizes
#
# The environment's sizes live in an `EnvInfo`. SMAX's sizes are: observation $13(A-1) + 13E + 10$,
# state $12(A+E)$, actions $5 + E$ (4 moves, stop, one attack per enemy), for $A$ allies and $E$
# enemies. The agent network's input is the observation, the one-hot of the last action and the
# one-hot of the agent's id (needed because one network serves all agents).

# %%
# NBVAL_CHECK_OUTPUT
untrained = start_run(algo_config("nqmix"), info, SEED, DEVICE)  # seeded learner, empty replay, random streams
learner = untrained.learner
n, o, s, u = info.n_agents, info.obs_dim, info.state_dim, info.n_actions
assert (n, o, s, u) == (5, 13 * 4 + 13 * 5 + 10, 12 * 10, 5 + 5)
assert info.episode_limit == SMAC_EPISODE_LIMITS["2s3z"] == 120
print(f"N = {n} agents, observation O = {o}, state S = {s}, actions U = {u}, episode limit {info.episode_limit}")
print(f"agent-network input D = O + U + N = {o + u + n}\n")


def parameter_rows(parts: dict[str, torch.nn.Module]) -> pd.DataFrame:
    rows = [{"part": part, "tensor": name, "shape": tuple(p.shape), "parameters": p.numel()}
            for part, module in parts.items() for name, p in module.named_parameters()]
    return pd.DataFrame(rows)


parts = {"agent network (shared)": learner.agent, "actors (one per agent)": learner.actors,
         "mixer": learner.mixer}
layers = parameter_rows(parts)
assert learner.actors.fc1.weight.shape == (n, 64, 64) and learner.actors.fc2.weight.shape == (n, 64, u)
assert learner.mixer.hidden.weight.shape == (32 * (n + 4) - n, n + s)  # App. B.1: 32·(A+4)−A = 283 units
print(layers.to_string(index=False))
totals = {part: count_parameters(module) for part, module in parts.items()}
print("\nparameters per part:", totals, "  total:", sum(totals.values()))

# %% [markdown]
# The actors are one module: `fc1.weight` has shape $[N, 64, 64]$, one matrix per agent, applied with a single
# `einsum`. Agent $a$'s output depends on slice $a$ alone and RMSprop works element by element, so these are
# $N$ independent actors with $N$ independent optimisers, as App. B.1 asks.
#
# **Mixer sizes.** App. B.1 chooses the width $32\,(A+4) - A$ "in order to make the numbers of parameters of
# mixers for both NQMIX and QMIX similar". The counts for SMAX maps, against QMIX's mixer as pymarl builds it
# (two-layer hypernetworks, 64 hidden units, embedding 32) and as the QMIX paper did (one-layer hypernetworks):

# %%
# NBVAL_CHECK_OUTPUT
maps = {"3m": (3, 3), "2s3z": (5, 5), "5m_vs_6m": (5, 6), "8m": (8, 8)}  # name: (A, E)
mixer_table = pd.DataFrame([{"map": name, "A": a, "S = 12(A+E)": 12 * (a + e),
                             **mixer_parameter_counts(a, 12 * (a + e))} for name, (a, e) in maps.items()])
assert mixer_table.loc[mixer_table["map"] == "2s3z", "nqmix"].item() == count_parameters(learner.mixer)
assert ((mixer_table["ratio"] > 0.7) & (mixer_table["ratio"] < 1.4)).all()  # similar: within ±40%
assert mixer_table.sort_values("A")["ratio"].is_monotonic_increasing  # ... but NQMIX's grows faster with A
print(mixer_table.round({"ratio": 2, "ratio_one_layer": 2}).to_string(index=False))  # one_layer: the QMIX paper's hypernets

# %% [markdown]
# "Similar" is fair around five agents (within 4% on 2s3z and 5m_vs_6m) but not constant: 0.76 on 3m, 1.36
# on 8m. The NQMIX mixer's first layer has about $32\,A\,S$ weights and $S = 12(A+E)$ grows with $A$ too, so
# it grows like $A^2$; pymarl's hypernetworks are linear in $S$ and in $A$. Against the QMIX paper's
# one-layer hypernetworks (`ratio_one_layer`) the formula is close on every map: both are dominated by
# about $32\,A\,S$ weights. You will count the NQMIX mixer's parameters yourself in the exercises.

# %% [markdown]
# ## 2 · A real batch, and every stage of one update
#
# We play one episode in each of the 16 environment copies with the *initial* stochastic policy
# (Alg. 1 line 2: $u^a_t \sim \pi_a(\cdot\mid\tau^a_t)$) and cut the batch to its longest episode.
# Observations, states and available actions have $T+1$ entries: the last one is only used by the
# bootstrap target.

# %%
# NBVAL_CHECK_OUTPUT
batch, stats = rollout(env, learner, "stochastic", t_env=0, generator=untrained.generators.act)
batch = batch.trim(int(stats.lengths.max()))
terminated = analysis.terminated_episodes(batch.terminated)
assert terminated.all()  # every battle was decided before the 120-step limit: no truncated returns
assert not stats.won.any()  # the random initial policy loses every battle ...
assert (stats.returns > 0).all()  # ... but deals some damage
print(f"B = {batch.n_episodes} episodes, T = {batch.max_steps} steps; lengths {stats.lengths.tolist()}")
print(f"returns (2.0 = win with every enemy dead): mean {stats.returns.mean():.3f}, "
      f"max {stats.returns.max():.3f}; won {int(stats.won.sum())}; ended by termination {int(terminated.sum())}")

# %% [markdown]
# ### Figure 1, drawn from the modules
#
# The paper's Figure 1 shows (a) the mixer reading $[Q_1(\tau^1_t, u^1_t),\dots,Q_n(\tau^n_t, u^n_t), s_t]$ and
# (b) the shared agent network whose GRU state $h^a_t$ the per-agent actors read. Here it is drawn from
# `learner` itself: `architecture_figure.capture_calls` runs `learner.compute_losses(batch)` once with a forward
# hook on each network and each of its layers, and records the class name and the input and output shapes
# of the first call. Every label in the figure is one of those records, so the figure changes when the code
# does (try `algo_config("nqmix", rnn_hidden_dim=32)`). First the records:

# %%
# NBVAL_CHECK_OUTPUT
calls = architecture_figure.capture_calls(learner, batch)
n_episodes, max_steps, hidden_dim = batch.n_episodes, batch.max_steps, learner.config.rnn_hidden_dim
assert calls["agent"].inputs == ((n_episodes, max_steps + 1, n, o + u + n),)  # [B, T+1, N, D]: one network, all agents
assert calls["agent.gru"].inputs == ((n_episodes * n, max_steps + 1, hidden_dim),)  # B·N sequences of T+1 steps
assert calls["actors"].inputs[0] == (n_episodes, max_steps, n, hidden_dim)  # the actors read h_t^a ...
assert calls["actors"].outputs == ((n_episodes, max_steps, n, u),)  # ... and give π_a(·|τ_t) for every agent
assert calls["mixer"].inputs == ((n_episodes, max_steps, n), (n_episodes, max_steps, s))
assert calls["mixer"].outputs == ((n_episodes, max_steps),)
records = pd.DataFrame([{"module": path, "class": call.class_name,
                         "inputs": architecture_figure.format_shapes(call.inputs),
                         "outputs": architecture_figure.format_shapes(call.outputs)} for path, call in calls.items()])
print(records.to_string(index=False))

# %%
mixer_width = learner.mixer.hidden.out_features  # 32·(N+4)−N
sizes = {"B": n_episodes, "T+1": max_steps + 1, "T": max_steps, "N": n, "D": o + u + n, "H": hidden_dim, "U": u,
         "S": s, "B·N": n_episodes * n, "N+S": n + s, "M": mixer_width}
assert len(set(sizes.values())) == len(sizes)  # every size is a different number: each shape reads one way
figure_1 = architecture_figure.draw_architecture(calls, sizes)
drawn = "\n".join(text.get_text() for text in figure_1.axes[0].texts)
assert all(call.class_name in drawn and all(architecture_figure.format_shapes((shape,), sizes) in drawn
                                            for shape in call.inputs + call.outputs)
           for call in calls.values())  # every box is labelled with its module's record, in symbols
assert "actor objective" in drawn and smallest_text_points(figure_1) >= 9  # the actor path; readable text
plt.show()

# %% [markdown]
# The key under the figure gives each symbol's value in this batch; $M = 32(N+4) - N$ is the mixer's width
# and $D = O + U + N$ the agent network's input. Three things the boxes show that the paper's figure does
# not: the agent network runs over all $T+1$ observations at once and its GRU over $B \cdot N$ sequences
# (one per episode and agent, all with the same weights); the actors are two `BatchedLinear` layers that
# carry the agent axis $N$ in their weights; and the actor path ends in the actor objective (Eq. 13), where
# $\pi_a$ meets the agent network's $Q_a$ (detached) and the sign of $\partial Q_{tot}/\partial Q_a$, which
# autograd takes through the mixer.

# %% [markdown]
# Now the update, stage by stage, with the learner's own methods and the loss functions of
# `nqmix_core.losses` (the same calls `NQMIXLearner.compute_losses` makes):
#
# | Alg. 1 | stage | code |
# |---|---|---|
# | line 7 | $Q_a(\tau^a_t,\cdot)$ and $h^a_t$ for $t = 0..T$, online network | `learner.unroll` |
# | line 8 | $Q'_a$, $h'^a$ from the target network | `learner.unroll` |
# | line 9 | $V'_a(\tau^a_{t+1}) = \sum_u \pi'_a(u\mid\tau^a_{t+1})\,Q'_a(\tau^a_{t+1},u)$ | `losses.state_values` |
# | line 10 | $Q_{tot} = \mathrm{Mixer}(Q_1(\tau^1_t,u^1_t),\dots,s_t)$ | `learner.mixer` |
# | line 11 | $V'_{tot} = \mathrm{Mixer'}(V'_1,\dots,V'_n, s_{t+1})$ | `learner.target_mixer` |
# | line 12 | $y = r + \gamma V'_{tot}$ (no bootstrap after a termination), $\delta = y - Q_{tot}$ | `losses.td_targets` |
# | line 14 | $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)$ and the actor objective (Eq. 13) | `losses.mixer_gradient_sign`, `losses.actor_loss` |

# %%
# NBVAL_CHECK_OUTPUT
gamma = learner.config.gamma
agent_qs, hidden, target_qs, target_hidden = learner.unroll(batch)  # [B, T+1, N, U], [B, T+1, N, H]
with torch.no_grad():
    target_policy = learner.target_actors(target_hidden[:, 1:], batch.avail_actions[:, 1:])  # [B, T, N, U]
    next_v = losses.state_values(target_policy, target_qs[:, 1:], batch.avail_actions[:, 1:])  # [B, T, N]
    next_v_tot = learner.target_mixer(next_v, batch.state[:, 1:])  # [B, T]
    targets = losses.td_targets(batch.reward, batch.terminated, next_v_tot, gamma)  # [B, T]
chosen_qs = losses.chosen_action_values(agent_qs[:, :-1], batch.actions)  # [B, T, N]
q_tot = learner.mixer(chosen_qs, batch.state[:, :-1])  # [B, T]
td_error = (targets - q_tot) * batch.filled  # [B, T]
sign = losses.mixer_gradient_sign(learner.mixer, chosen_qs, batch.state[:, :-1])  # [B, T, N]
policy = learner.actors(hidden[:, :-1].detach(), batch.avail_actions[:, :-1])  # [B, T, N, U]
discount = losses.discount_weights(batch.max_steps, gamma, DEVICE)  # [T]
actor_loss, actor_info = losses.actor_loss(policy, agent_qs[:, :-1], sign, discount, batch.filled)

stages = {"agent Qs Q_a(τ_t, ·)": ("[B, T+1, N, U]", agent_qs), "GRU states h_t": ("[B, T+1, N, H]", hidden),
          "target policy π'(·|τ_{t+1})": ("[B, T, N, U]", target_policy), "V'_a(τ_{t+1})": ("[B, T, N]", next_v),
          "V'_tot": ("[B, T]", next_v_tot), "target y": ("[B, T]", targets),
          "chosen Q_a(τ_t, u_t)": ("[B, T, N]", chosen_qs), "Q_tot": ("[B, T]", q_tot),
          "TD error δ": ("[B, T]", td_error), "sgn ∂Q_tot/∂Q_a": ("[B, T, N]", sign),
          "policy π(·|τ_t)": ("[B, T, N, U]", policy), "discount I_t = γ^t": ("[T]", discount)}
print(pd.DataFrame(analysis.shape_rows(stages)).to_string(index=False))

critic_loss, learner_actor_loss, learner_info = learner.compute_losses(batch)
assert torch.allclose(targets, learner.next_state_value_targets(batch, target_qs, target_hidden))
assert torch.allclose(critic_loss, td_error.pow(2).sum() / batch.filled.sum())  # the learner computes the same
assert torch.allclose(learner_actor_loss, actor_loss)
real = batch.filled.bool()  # [B, T]
assert torch.allclose(policy.sum(-1), torch.ones(()))  # a distribution at every (b, t, a) ...
assert not policy[real][~batch.avail_actions[:, :-1][real]].any()  # ... with no mass on unavailable actions

# %% [markdown]
# A few numbers from these tensors, over the real steps only (`filled`). At initialisation the critic
# knows nothing: $Q_{tot}$ and $V'_{tot}$ are whatever the random weights give, so the TD error is about
# the size of the rewards themselves.

# %%
# NBVAL_CHECK_OUTPUT
print(f"reward r_t:          mean {batch.reward[real].mean():.4f}  (per real step)")
print(f"Q_tot:               mean {q_tot[real].mean():+.3f}, std {q_tot[real].std():.3f}")
print(f"target y:            mean {targets[real].mean():+.3f}, std {targets[real].std():.3f}")
print(f"TD error δ:          mean {td_error[real].mean():+.3f}, RMS {td_error[real].pow(2).mean().sqrt():.3f}")
print(f"critic loss (mean δ²) {critic_loss.item():.4f}; actor objective (Eq. 13) {actor_info['actor_objective']:+.4f}")

# %% [markdown]
# ### How often is $\partial Q_{tot}/\partial Q_a$ negative?
#
# This is the freedom QMIX does not have: its mixer's weights pass through $|\cdot|$, so the sign is
# always $+$. Where NQMIX's sign is $-$, Eq. 13 turns agent $a$'s actor step around: it *lowers*
# $\sum_u \pi_a(u)\,Q_a(u)$. The sign is computed by autograd through the mixer for every $(b, t, a)$.

# %%
# NBVAL_CHECK_OUTPUT
def negative_fractions(sign: torch.Tensor, filled: torch.Tensor) -> tuple[float, list[float]]:
    """Fraction of real (b, t, a) with sign −1, overall and per agent."""
    negative = (sign < 0).float() * filled.unsqueeze(-1)  # [B, T, N]
    per_agent = negative.sum((0, 1)) / filled.sum()  # [N]
    return per_agent.mean().item(), per_agent.tolist()


initial_negative, initial_per_agent = negative_fractions(sign, batch.filled)
assert abs(initial_negative - actor_info["sign_negative_fraction"].item()) < 1e-6
assert not (sign == 0).any()  # ELU's slope is never 0, so the sign is always ±1
assert 0.05 < initial_negative < 0.95  # a random mixer uses both signs
print(f"sign −1 on {initial_negative:.2f} of (step, agent) pairs at initialisation; per agent "
      f"(2 Stalkers, then 3 Zealots): {[round(f, 2) for f in initial_per_agent]}")

# %% [markdown]
# **What a constant sign per agent means.** Each agent's sign is the same at every step of every episode of
# this batch. Write $\sigma_a = \pm 1$ for it. Then $Q_{tot}$ is an *increasing* function of each
# $\sigma_a Q_a$: the mixer acts as a monotone mixer (the kind QMIX allows) over $Q_a$ for the positive agents
# and $-Q_a$ for the negative ones, and Eq. 13 asks each actor to climb one fixed direction. The freedom NQMIX
# is built for, a slope whose sign changes with the state or the other agents' values, is unused. The check:

# %%
# NBVAL_CHECK_OUTPUT
agent_sign = torch.where(torch.tensor(initial_per_agent) > 0.5, -1.0, 1.0)  # σ_a: each agent's usual sign, [N]
flipped_slope_positive = (sign * agent_sign > 0).float()  # [B, T, N]: ∂Q_tot/∂(σ_a Q_a) > 0
share_monotone = (flipped_slope_positive * batch.filled.unsqueeze(-1)).sum() / (n * batch.filled.sum())
assert share_monotone == 1.0  # a monotone mixer over σ_a·Q_a, on every real (step, agent) pair
print(f"σ_a per agent: {agent_sign.int().tolist()}")
print(f"∂Q_tot/∂(σ_a Q_a) > 0 on {share_monotone:.2f} of the real (step, agent) pairs")

# %% [markdown]
# ### The optimiser steps and the soft target update (Alg. 1 lines 13, 14, 16)
#
# `train_step` takes one RMSprop step on the critic (agent network + mixer), one on the actors, then pulls
# every target network towards its online network. Alg. 1 writes the soft update
# $\theta' \leftarrow \tau\theta + (1-\tau)\theta'$ (line 16) *inside* the loop over the $T$ time steps of the
# mini-batch, with $\tau = 0.001$ per time step. The kit takes one optimiser step per mini-batch, so the online
# weights do not change during those $T$ updates, and $T$ of them equal one update at rate $1 - (1-\tau)^T$
# (`learners.common.soft_update_rate`). The targets start as copies, so after the first update each must have
# moved by exactly that fraction of the gap (up to float32 rounding).

# %%
# NBVAL_CHECK_OUTPUT
def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


pairs = {"agent network": (learner.target_agent, learner.agent), "mixer": (learner.target_mixer, learner.mixer),
         "actors": (learner.target_actors, learner.actors)}
before = {name: (flat(target), flat(online)) for name, (target, online) in pairs.items()}
update_info = learner.train_step(batch, t_env=int(stats.lengths.sum()), episodes_seen=batch.n_episodes)
tau, n_steps = learner.config.tau, batch.max_steps
rate = soft_update_rate(tau, n_steps)  # 1 − (1 − τ)^T
print(f"τ = {tau} per time step, T = {n_steps} steps in this batch: rate 1 − (1 − τ)^T = {rate:.4f}")
for name, (target, online) in pairs.items():
    target_before, online_before = before[name]
    target_step, online_step = flat(target) - target_before, flat(online) - online_before
    gap = flat(online) - target_before  # distance the target had to go, after the optimiser step
    assert torch.equal(target_before, online_before)  # targets start as exact copies
    assert torch.allclose(flat(target), target_before + rate * gap, rtol=0, atol=1e-6)  # θ' moved that rate of the gap
    assert abs(target_step.norm() / gap.norm() - rate) < 1e-4
    print(f"{name:14s} target step / gap = 1 − (1 − τ)^T, to 1e-4")
print(f"critic gradient norm {update_info['grad_norm']:.3f} (clipped at {learner.config.grad_norm_clip:g})")

# %% [markdown]
# With $\tau = 0.001$ per time step a target network covers $1 - (1-\tau)^{1000} \approx 63\%$ of its gap
# in 1,000 time steps, which on 2s3z is a few dozen mini-batches. Read once per mini-batch instead (the
# kit's earlier reading, `--set tau_per_time_step=false`), the same 63% would take 1,000 updates.

# %% [markdown]
# ### How far behind the online network is a soft target?
#
# After $k$ updates at rate $r$ a target that started a gap $g$ away is $(1-r)^k g$ away: the gap halves every
# $\ln 2 / -\ln(1-r)$ updates, and a target chasing a steadily moving network settles $(1-r)/r$ updates
# behind it (`widgets.target_lag`). For this learner's $\tau$:

# %%
# NBVAL_CHECK_OUTPUT
lag_rows = [{"τ applied": reading, "T": steps, "rate r": soft_update_rate(tau, steps),
             "half-life (updates)": half_life(soft_update_rate(tau, steps)),
             "drift lag (updates)": drift_lag(soft_update_rate(tau, steps))}
            for reading, steps in (("once per update", 1), ("per time step, this batch", n_steps),
                                   ("per time step, episode limit", info.episode_limit))]
lag_table = pd.DataFrame(lag_rows)
assert lag_table["rate r"][1] == rate  # the rate the real update above moved the targets by
print(lag_table.round({"rate r": 4, "half-life (updates)": 1, "drift lag (updates)": 1}).to_string(index=False))

# %% [markdown]
# Move $\tau$ and $T$ below: the plot runs the kit's own `soft_update` on a one-parameter network whose online
# value ramps from 0 to 1 and then stays; solid red is Alg. 1's target (τ per time step), dashed τ once per update.

# %%
# NBVAL_IGNORE_OUTPUT
lag_explorer = TargetLagExplorer(tau=tau, n_steps=n_steps, max_steps=info.episode_limit)
assert lag_explorer.rates()["per time step"] == rate
lag_explorer.show()

# %% [markdown]
# ## 3 · Training briefly: the sign, the actor objective, and the targets
#
# We train NQMIX and QMIX on the same map for `TRAIN_ITERATIONS` iterations of "collect 16 episodes, one
# update on a mini-batch of `BATCH_SIZE` episodes" (`collect_and_learn`). QMIX uses pymarl's settings
# (ε-greedy, ε from 1 to 0.05 over 50k steps; double-Q max target; hard target copies every 200 episodes),
# NQMIX the paper's (its own stochastic policy, state-value target, soft targets with $\tau = 0.001$). Every
# `MEASURE_EVERY` iterations we compare each learner's TD target $y_t$ on its **own 16 most recent episodes**
# with the discounted return $G_t = \sum_{k \ge t}\gamma^{k-t} r_k$ those episodes obtained (terminated
# episodes only: a time-out truncates $G_t$).
#
# > **Predict before you run.** Write your answers down, then run the next cell.
# > 1. After 30 updates, will the fraction of negative signs have moved from its initial value? Will any
# >    agent's sign flip?
# > 2. Whose TD target will sit above the discounted returns: QMIX's, NQMIX's, both, neither?
# > 3. How far will NQMIX's target networks have moved from their initial weights after 30 updates of
# >    batches of several dozen steps? (The lag table above gives the half-life in updates.)

# %%
def measure(learner, episodes) -> dict:
    """Target vs discounted return on ``episodes`` (terminated ones only)."""
    targets = analysis.learner_targets(learner, episodes)  # [B, T]
    returns = losses.discounted_returns(episodes.reward, episodes.filled, learner.config.gamma)  # [B, T]
    gap = analysis.target_return_gap(targets, returns, episodes.filled, analysis.terminated_episodes(episodes.terminated))
    return {"target": gap["target_mean"], "return": gap["return_mean"], "target − return": gap["gap"]}


def sign_negative_per_agent(learner, episodes) -> list[float]:
    """Fraction of decisions with sign −1, per agent, as the training logs compute it."""
    sums = learner.rollout_diagnostics(episodes)
    return [round((sums[f"sign_negative_agent{a}"][0] / sums[f"sign_negative_agent{a}"][1]).item(), 3)
            for a in range(info.n_agents)]


def train(algo: str) -> tuple[object, pd.DataFrame]:
    run = start_run(algo_config(algo, batch_size=BATCH_SIZE), info, SEED, DEVICE)
    learner, counters = run.learner, run.counters
    rows = []
    for iteration in range(1, TRAIN_ITERATIONS + 1):
        stats, _ = collect_and_learn(env, run)
        if iteration % MEASURE_EVERY == 0:
            recent = analysis.recent_episodes(run.buffer, N_ENVS)
            loss_info = learner.compute_losses(recent)[-1]  # the last item is always the info dict
            rows.append({"algo": algo, "updates": counters.updates, "t_env": counters.t_env,
                         "episode return": stats.returns.mean().item(), **measure(learner, recent),
                         **({"sign −1": loss_info["sign_negative_fraction"].item(),
                             "sign −1 per agent": sign_negative_per_agent(learner, recent),
                             "actor objective": loss_info["actor_objective"].item()}
                            if "actor_objective" in loss_info else {})})
    return learner, pd.DataFrame(rows)


train_start = time.perf_counter()
nqmix, nqmix_log = train("nqmix")
qmix, qmix_log = train("qmix")
train_seconds = time.perf_counter() - train_start

# %%
# NBVAL_IGNORE_OUTPUT
print(f"trained both learners for {TRAIN_ITERATIONS} iterations each in {train_seconds:.1f} s")

# %% [markdown]
# **The sign after training.** The fraction of negative signs and the actor objective, on NQMIX's
# recent episodes as training goes on:

# %%
# NBVAL_IGNORE_OUTPUT
# training results: their last digits change with the CPU, so nbval does not compare them; the asserts
# check what holds on any machine
print(nqmix_log[["updates", "t_env", "episode return", "sign −1", "sign −1 per agent",
                 "actor objective"]].round(3).to_string(index=False))
assert ((nqmix_log["sign −1"] > 0.05) & (nqmix_log["sign −1"] < 0.95)).all()  # the mixer keeps using both signs
assert (nqmix_log["sign −1"] - initial_negative).abs().max() < 0.05  # ... in about the same proportion as at the start
trained_per_agent = torch.tensor(nqmix_log["sign −1 per agent"].iloc[-1])  # [N]
assert torch.equal(trained_per_agent > 0.5, torch.tensor(initial_per_agent) > 0.5)  # no agent's sign flipped
assert ((trained_per_agent < 0.1) | (trained_per_agent > 0.9)).all()  # ... and each is still (nearly) constant

# %% [markdown]
# So after this short run the mixer is still a monotone mixer over $\sigma_a Q_a$ (Sec. 2). Whether that
# changes with real training is read from the committed 300k-step runs in notebook 06, which logs each agent's
# fraction of negative signs over whole runs.

# %% [markdown]
# ## 4 · Is QMIX's target overestimated, and NQMIX's not?
#
# The paper's claim (abstract, Secs. 1 and 4.3): "NQMIX takes the state-value as the learning target, which
# overcomes the problem in QMIX that the learning target is overestimated." The mechanism is Q-learning's
# maximisation bias: $\max_u Q'_a(u)$ over noisy estimates is biased upwards, while $\sum_u \pi'_a(u)\,Q'_a(u)$
# is an average. A direct test: is the mean target above the mean discounted return the episodes delivered?
# First, on each learner's own recent episodes during training:

# %%
# NBVAL_IGNORE_OUTPUT
gap_log = pd.concat([nqmix_log, qmix_log])[["algo", "updates", "t_env", "episode return", "target", "return",
                                            "target − return"]]
print(gap_log.round(3).to_string(index=False))

# %% [markdown]
# Second, on one fixed batch (the 16 episodes of Sec. 2, played by the initial NQMIX policy): first
# with both learners at initialisation, then with both trained learners, plus the max-based target
# built from **NQMIX's own** networks (`analysis.greedy_targets`), which isolates the form of the
# target from everything else that differs between the two runs:

# %%
# NBVAL_CHECK_OUTPUT
batch_returns = losses.discounted_returns(batch.reward, batch.filled, gamma)  # [B, T]
def initial_learner(algo: str):
    return start_run(algo_config(algo, batch_size=BATCH_SIZE), info, SEED, DEVICE).learner  # the training run's initial weights


def gap_table(targets: dict[str, torch.Tensor]) -> pd.DataFrame:
    return pd.DataFrame([{"target": name, **analysis.target_return_gap(y, batch_returns, batch.filled, terminated)}
                         for name, y in targets.items()]).drop(columns="steps")


fixed = {"NQMIX at initialisation": analysis.learner_targets(initial_learner("nqmix"), batch),
         "QMIX at initialisation": analysis.learner_targets(initial_learner("qmix"), batch)}
init_table = gap_table(fixed)  # before any training: no training noise in these numbers
init_offset = dict(zip(["NQMIX", "QMIX"], init_table["gap"]))
assert init_offset["QMIX"] > init_offset["NQMIX"] + 0.05  # QMIX's target starts higher, before any learning
print(init_table.round(3).to_string(index=False))

# %%
# NBVAL_IGNORE_OUTPUT
# the trained learners: training results, checked by the asserts
fixed |= {"NQMIX: state-value target": analysis.learner_targets(nqmix, batch),
          "NQMIX networks, max target": analysis.greedy_targets(nqmix, batch),
          "QMIX: max target (double-Q)": analysis.learner_targets(qmix, batch)}
fixed_table = gap_table(fixed)
fixed_gap = dict(zip(fixed_table["target"], fixed_table["gap"]))
max_minus_mean = (fixed["NQMIX networks, max target"] - fixed["NQMIX: state-value target"])[real]
print(f"NQMIX state-value target gap: {fixed_gap['NQMIX: state-value target'] - init_offset['NQMIX']:+.3f} from its initial value")
assert (max_minus_mean > 0).float().mean() < 0.9  # through a non-monotone mixer, max is not always higher
print(fixed_table.round(3).to_string(index=False))
print(f"\nsame NQMIX networks: max target − state-value target, mean {max_minus_mean.mean():+.4f}; "
      f"max target higher on {(max_minus_mean > 0).float().mean():.2f} of the steps")

# %% [markdown]
# **What the numbers say at this budget.**
#
# * On their own recent episodes, QMIX's targets sit clearly above the returns and NQMIX's slightly below
#   them. Read naively, this is the paper's claim.
# * But **QMIX's target is already well above the returns at initialisation** (the first fixed-batch table),
#   before it has seen a reward: an offset of its randomly initialised mixer (the hypernetworks' biases and
#   $V(s)$) that 30 updates have not trained away. That is not the maximisation bias the paper means.
# * NQMIX's targets, read with the paper's per-time-step $\tau$, have moved most of the way from their initial
#   weights ($1 - 0.999^{30T}$ is 0.6 to 0.9 for $T$ = 30 to 70), and its target sits at or slightly below the returns.
# * The max-based target computed **with NQMIX's own networks** is *not* higher: through a non-monotone
#   mixer, raising $Q'_a$ lowers $V'_{tot}$ for agents whose slope $\partial Q_{tot}/\partial Q_a$ is negative
#   (two of the five here, Sec. 2). "Max overestimates" is a property of QMIX's monotone mixer together with
#   the max, not of the max alone.
# * QMIX's episodes are played ε-greedily with ε still above 0.4 (this run stops below 30k steps) while its
#   target values the greedy policy, and returns of a still-random policy are a noisy yardstick.
#
# So this quick run does **not** decide the claim. That needs converged critics and several seeds:
# notebook 05 decides it (claim C2) from $Q_{tot}$ against the return in every log row of 300k-step runs.

# %% [markdown]
# ## Summary
#
# * Figure 1, redrawn from the learner's own modules and one forward pass, labels every network and layer
#   with its class and the shapes it really reads and writes, and ends the actor path in Eq. 13's objective.
# * NQMIX on 2s3z: a shared agent network (34.8k parameters), five actors stored as one batched module
#   (5 × 4.8k) and an MLP mixer (35.9k), 0.76–1.36 times pymarl's QMIX mixer on maps with 3 to 8 agents.
# * One update, stage by stage, is exactly `NQMIXLearner.compute_losses`; the targets move by exactly
#   $1 - (1-\tau)^T$ of the gap per update of a $T$-step batch (Alg. 1's per-time-step $\tau$).
# * The random NQMIX mixer's slope is negative on 40% of the (step, agent) pairs, always for the same two
#   agents: a monotone mixer over $\sigma_a Q_a$, and a short run does not change that.
# * The overestimation claim cannot be decided at this budget: QMIX's gap is dominated by its initial
#   offset, and the max target is not higher than the state-value target through NQMIX's mixer.

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — count the mixer's parameters.** Write the number of parameters of NQMIX's mixer (App. B.1)
# for $A$ agents and a state of $S$ features, from the architecture alone: an `nn.Linear` from the mixer's
# input to $32(A+4) - A$ hidden units, ELU, and an `nn.Linear` to one output. Do not build the mixer
# (`make_mixer`, `count_parameters` and `mixer_parameter_counts` are off limits).
#
# > **Predict before you run.** Roughly how many parameters does the mixer have on 8m ($A = 8$, $S = 192$)?
# > Which term dominates as $A$ grows? Write your answers down, then write the function.

# %%
def nqmix_mixer_parameters(n_agents: int, state_dim: int) -> int:
    """Parameters (weights and biases) of the NQMIX mixer for A = n_agents agents and S = state_dim state
    features: Linear(A + S -> 32·(A+4) − A), ELU, Linear(32·(A+4) − A -> 1). Returns an int."""
    # BEGIN SOLUTION
    hidden = 32 * (n_agents + 4) - n_agents  # App. B.1's width
    return (n_agents + state_dim) * hidden + hidden + hidden * 1 + 1  # hidden layer, then output layer
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("nqmix_mixer_parameters", nqmix_mixer_parameters)

# %% [markdown]
# The experiment counts with your function (or the kit's, until yours passes) on the SMAX maps of Sec. 1 and
# on larger teams, against pymarl's QMIX mixer: where does "similar" stop holding?

# %%
count_fn = ex.yours_or_kits("nqmix_mixer_parameters", nqmix_mixer_parameters)
team_ratios = {}
for a in (3, 5, 8, 10, 15, 20):
    state_dim = 12 * 2 * a  # A allies against as many enemies: S = 12(A + E)
    qmix_count = mixer_parameter_counts(a, state_dim)["qmix"]
    team_ratios[a] = count_fn(a, state_dim) / qmix_count
    print(f"A = {a:>2}, S = {state_dim:>3}: NQMIX mixer {count_fn(a, state_dim):>7,}, QMIX mixer {qmix_count:>7,}, "
          f"ratio {team_ratios[a]:.2f}")
# BEGIN ANSWER
assert count_fn(8, 192) == 75_953 and team_ratios[20] > 2  # the solution's numbers
assert list(team_ratios.values()) == sorted(team_ratios.values())  # the ratio keeps rising
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# $(A + S)(32(A+4) - A) + (32(A+4) - A) + (32(A+4) - A) + 1$: on 8m, $200 \cdot 376 + 376 + 376 + 1 = 75{,}953$.
# The first layer's $(A+S)\cdot 32(A+4) \approx 32\,A\,S$ weights dominate, and with $S = 24A$ that grows
# like $A^2$, while pymarl's QMIX mixer grows about linearly in $S$ and in $A$: the ratio keeps rising, past 2
# for 20 agents.
# </details>

# %% [markdown]
# **Exercise 2 — why is the sign constant per agent?** At initialisation the sign was −1 for two
# agents at every step and +1 for the other three. With ELU's slope written as $e_j \in (0, 1]$,
# $\partial Q_{tot}/\partial Q_a = \sum_j w^{out}_j\, e_j\, W^{hidden}_{ja}$. Compare the observed signs with
# the sign of $\sum_j w^{out}_j W^{hidden}_{ja}$, the slope when every ELU unit is in its linear part.

# %%
# NBVAL_CHECK_OUTPUT
initial_mixer = initial_learner("nqmix").mixer
linear_slope = (initial_mixer.out.weight @ initial_mixer.hidden.weight[:, :n]).squeeze(0)  # [N]
observed = torch.tensor(initial_per_agent)  # fraction of steps with sign −1, per agent
# BEGIN ANSWER
assert torch.equal(linear_slope < 0, observed > 0.5)
# END ANSWER
print("linear-part slope per agent:", [round(v, 3) for v in linear_slope.tolist()])
print("observed fraction of sign −1:", [round(v, 2) for v in initial_per_agent])

# %% [markdown]
# <details><summary>Solution</summary>
#
# They agree. The mixer's inputs vary little across a batch at initialisation ($Q_a$ near 0, state
# features in $[0, 1]$), so the ELU slopes $e_j$ hardly change and the sign is set by the fixed
# weights: each agent gets a random but constant sign. Only once the mixer's hidden units respond to
# the state and to $Q_a$ can the sign depend on the situation — the freedom NQMIX's Eq. 13 is built
# for. After 30 updates (Sec. 3) it still had not: the fraction stayed at 0.40; notebook 06 reads whether it
# ever does in the committed 300k-step runs.
# </details>
