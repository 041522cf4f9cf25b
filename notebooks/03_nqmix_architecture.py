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
# **Goal.** Build NQMIX for a real task, look at every network and every tensor of one update, and
# test one of the paper's claims against data. Paper: Sec. 4.2, Alg. 1, App. B.1. Time: about two
# minutes in quick mode (a third of it compiling the simulator).
#
# NQMIX has three parts (Sec. 4.2, Fig. 1):
#
# * a **shared agent network** (the critic's per-agent part, as in QMIX): Linear 64 → GRU 64 →
#   Linear $|U|$ gives $Q_a(\tau^a_t, \cdot)$; its GRU state $h^a_t$ encodes the history $\tau^a_t$;
# * one **actor per agent**, not shared: $h^a_t$ → Linear 64 + ReLU → Linear $|U|$ → softmax over
#   the available actions gives $\pi_a(u\mid\tau^a_t)$;
# * a **mixer** without a monotonicity constraint: an MLP on $[Q_1,\dots,Q_n, s_t]$ with
#   $32\,(A+4) - A$ hidden units and one output, $Q_{tot}$.
#
# Sec. 2 redraws the paper's Figure 1 from these modules themselves, with the shapes of a real batch.
#
# The task is SMAX `2s3z` (2 Stalkers and 3 Zealots against the same, JaxMARL's StarCraft-like
# simulator): a map with two unit types, where the paper reports NQMIX ahead of QMIX.

# %% tags=["parameters"]
FULL_RUN = False  # True: longer training runs for Sec. 4 (about 15 minutes on a 2-core CPU)
SEED = 0
MAP = "smax:2s3z"
N_ENVS = 16  # episodes collected per iteration, also the size of the dissected batch
TRAIN_ITERATIONS = 30  # collect N_ENVS episodes + one update, per learner (Sec. 4)
MEASURE_EVERY = 10  # iterations between target-vs-return measurements
BATCH_SIZE = 16  # episodes per learner update
DEVICE = "cpu"

# %%
if FULL_RUN:
    TRAIN_ITERATIONS, MEASURE_EVERY, BATCH_SIZE = 600, 50, 32

import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

import nqmix_core
from nqmix_core import analysis, architecture_figure, losses
from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.config import algo_config
from nqmix_core.envs.smax import SMAC_EPISODE_LIMITS
from nqmix_core.learners.common import soft_update_rate
from nqmix_core.networks import count_parameters
from nqmix_core.registry import make_env, make_learner
from nqmix_core.runner import rollout
from nqmix_core.train import Counters, Generators, collect_and_learn, seed_everything
from nqmix_core.widgets import TargetLagExplorer
from nqmix_core.widgets.target_lag import drift_lag, half_life

# Measured on 2 cores: one learner update on 32 episodes of 2s3z took 0.58 s with 1 thread and
# 1.1 s with 2 (the matrices are small; a second thread only adds hand-off cost).
torch.set_num_threads(1)
pd.set_option("display.width", 120)
NOTEBOOK_START = time.perf_counter()

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
seed_everything(SEED)
learner = make_learner("nqmix", info, DEVICE)
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
# The actors are one module: `fc1.weight` has shape $[N, 64, 64]$, one $64\times64$ matrix per agent,
# applied with a single `einsum`. Stacking them is only a layout choice — agent $a$'s output depends on
# slice $a$ alone, and RMSprop works element by element, so this is $N$ independent actors with $N$
# independent optimisers, as App. B.1 asks. Five actors are $5 \times 4{,}810 = 24{,}050$ parameters:
# about two thirds of the shared agent network they read from (the table above).
#
# **Mixer sizes.** App. B.1 chooses the width $32\,(A+4) - A$ "in order to make the numbers of
# parameters of mixers for both NQMIX and QMIX similar". Here are the counts for SMAX maps, with
# QMIX's mixer as pymarl builds it for SMAC (two-layer hypernetworks with 64 hidden units, embedding 32):

# %%
# NBVAL_CHECK_OUTPUT
maps = {"3m": (3, 3), "2s3z": (5, 5), "5m_vs_6m": (5, 6), "8m": (8, 8)}  # name: (A, E)
mixer_table = pd.DataFrame([{"map": name, "A": a, "S = 12(A+E)": 12 * (a + e),
                             **analysis.mixer_parameter_counts(a, 12 * (a + e))} for name, (a, e) in maps.items()])
assert mixer_table.loc[mixer_table["map"] == "2s3z", "nqmix"].item() == count_parameters(learner.mixer)
assert ((mixer_table["ratio"] > 0.7) & (mixer_table["ratio"] < 1.4)).all()  # similar: within ±40%
assert mixer_table.sort_values("A")["ratio"].is_monotonic_increasing  # ... but NQMIX's grows faster with A
print(mixer_table.round({"ratio": 2, "ratio_one_layer": 2}).to_string(index=False))  # one_layer: the QMIX paper's hypernets

# %% [markdown]
# "Similar" is fair around five agents (2s3z, 5m_vs_6m: within 4%), but the ratio is not constant:
# 0.76 on 3m and 1.36 on 8m. The NQMIX mixer's first layer has $(A+S)\,(32(A+4)-A) \approx 32\,A\,S$
# weights, and $S = 12(A+E)$ grows with $A$ too, so its size grows like $A^2$. pymarl's QMIX mixer is
# dominated by its hypernetworks' first layers ($64\,S$ twice, for the $W_1$ and $W_{final}$ hypernetworks, plus $32\,S$ twice, for the
# $b_1$ hypernetwork and the first layer of $V(s)$) and the
# $64 \times 32A$ output layer of the $W_1$ hypernetwork: linear in $S$ and in $A$.

# %% [markdown]
# ## 2 · A real batch, and every stage of one update
#
# We play one episode in each of the 16 environment copies with the *initial* stochastic policy
# (Alg. 1 line 2: $u^a_t \sim \pi_a(\cdot\mid\tau^a_t)$) and cut the batch to its longest episode.
# Observations, states and available actions have $T+1$ entries: the last one is only used by the
# bootstrap target.

# %%
# NBVAL_CHECK_OUTPUT
generators = Generators.from_seed(SEED, DEVICE)
batch, stats = rollout(env, learner, "stochastic", t_env=0, generator=generators.act)
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
# The paper's Figure 1 shows (a) the mixer reading $[Q_1(\tau^1_t, u^1_t),\dots,Q_n(\tau^n_t, u^n_t), s_t]$
# and (b) the shared agent network (Linear → GRU → Linear, giving $Q_a$) whose GRU state $h^a_t$ the
# per-agent actors read. Here it is drawn from `learner` itself: `architecture_figure.capture_calls`
# runs `learner.compute_losses(batch)` once with a forward hook on each network and on each of its
# layers, and records the class name and the input and output shapes of the first call. Every label
# in the figure is one of those records, so the figure changes when the code does (try
# `algo_config("nqmix", rnn_hidden_dim=32)`). First the records:

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
sizes = {"B": n_episodes, "T+1": max_steps + 1, "N": n, "D = O+U+N": o + u + n, "H": hidden_dim, "U": u, "S": s}
figure_1 = architecture_figure.draw_architecture(calls, sizes)
drawn = "\n".join(text.get_text() for text in figure_1.axes[0].texts)
assert all(call.class_name in drawn and architecture_figure.format_shapes(call.outputs) in drawn
           for call in calls.values())  # every box is labelled with its module's record
plt.show()

# %% [markdown]
# Three things the boxes show that the paper's figure does not: the agent network runs over all
# $T+1$ observations at once and its GRU over $B \cdot N$ sequences (one per episode and agent, all
# with the same weights); the actors are two `BatchedLinear` layers that carry the agent axis $N$ in
# their weights; and the mixer's first layer reads $N + S$ numbers, the chosen $Q_a$ and the state.

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
# **What a constant sign per agent means.** Each agent's sign is the same at every step of every
# episode of this batch. Write $\sigma_a = \pm 1$ for agent $a$'s sign. If it never changes, then
# $Q_{tot}$ is an *increasing* function of each $\sigma_a Q_a$: the mixer acts as a monotone mixer —
# the kind QMIX's constraint allows — over $Q_a$ for the positive agents and $-Q_a$ for the negative
# ones. Eq. 13 then asks each actor to climb one fixed direction, $\sigma_a \sum_u \pi_a(u)\,Q_a(u)$,
# which a monotone mixer over the flipped values would ask too. The non-monotonic freedom NQMIX is
# built for — a slope whose sign changes with the state or with the other agents' values — is
# unused. The check, on this batch:

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
# `train_step` takes one RMSprop step on the critic (agent network + mixer), one on the actors, then
# pulls every target network towards its online network. Alg. 1 writes the soft update
# $\theta' \leftarrow \tau\theta + (1-\tau)\theta'$ (line 16) *inside* the loop over the $T$ time steps of
# the mini-batch, with $\tau = 0.001$ per time step. The kit takes one optimiser step per mini-batch, so
# the online weights do not change during those $T$ updates, and $T$ of them equal one update at rate
# $1 - (1-\tau)^T$ (`learners.common.soft_update_rate`). The target networks start as copies, so after
# the first update each target must have moved by exactly that fraction of the online network's step
# (up to float32 rounding).

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
# After $k$ updates at rate $r$ a target that started a gap $g$ away is $(1-r)^k g$ away, so the gap
# halves every $\ln 2 / -\ln(1-r)$ updates. When the online network keeps moving at a steady pace,
# the target settles where the online network was $(1-r)/r$ updates earlier (`widgets.target_lag`).
# For this learner's $\tau$:

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
# Move $\tau$ and $T$ below. The plot runs the kit's own `soft_update` on a one-parameter network whose
# online value ramps from 0 to 1 over the first half of the plot and then stays: the solid red target is Alg. 1's
# (τ per time step), the dashed one τ applied once per update.

# %%
# NBVAL_IGNORE_OUTPUT
lag_explorer = TargetLagExplorer(tau=tau, n_steps=n_steps, max_steps=info.episode_limit)
assert lag_explorer.rates()["per time step"] == rate
lag_explorer.show()

# %% [markdown]
# ## 3 · Training briefly: the sign, the actor objective, and the targets
#
# We now train NQMIX and QMIX on the same map, each for `TRAIN_ITERATIONS` iterations of
# "collect 16 episodes with the behaviour policy, one update on a random mini-batch of
# `BATCH_SIZE` episodes" (`collect_and_learn`). QMIX uses pymarl's settings (ε-greedy with ε from 1
# down to 0.05 over 50k steps, double-Q max target, hard target copies every 200 episodes); NQMIX the
# paper's (samples its own stochastic policy, state-value target, soft targets with $\tau = 0.001$).
#
# Every `MEASURE_EVERY` iterations we take the learner's **own 16 most recent episodes** and compare
# its TD target $y_t$ with the discounted return $G_t = \sum_{k \ge t}\gamma^{k-t} r_k$ that those
# episodes actually obtained, over the real steps of the episodes that ended by termination (a
# time-out truncates $G_t$; this quick run has none). We also re-measure both learners on the fixed
# batch of Sec. 2.
#
# > **Predict before you run.** Write your answers down, then run the next cell.
# > 1. After 30 updates, will the fraction of negative signs have moved from its initial value?
# >    Will any agent's sign flip?
# > 2. Whose TD target will sit above the discounted returns the episodes really obtained: QMIX's,
# >    NQMIX's, both, neither?
# > 3. How far will NQMIX's target networks have moved from their initial weights after 30 updates of
# >    batches of several dozen steps? (The widget above gives the half-life in updates.)

# %%
def measure(learner, episodes) -> dict:
    """Target vs discounted return on ``episodes`` (terminated ones only)."""
    targets = analysis.learner_targets(learner, episodes)  # [B, T]
    returns = analysis.discounted_returns(episodes.reward, episodes.filled, learner.config.gamma)  # [B, T]
    gap = analysis.target_return_gap(targets, returns, episodes.filled, analysis.terminated_episodes(episodes.terminated))
    return {"target": gap["target_mean"], "return": gap["return_mean"], "target − return": gap["gap"]}


def sign_negative_per_agent(learner, episodes) -> list[float]:
    """Fraction of decisions with sign −1, per agent, as the training logs compute it."""
    sums = learner.rollout_diagnostics(episodes)
    return [round((sums[f"sign_negative_agent{a}"][0] / sums[f"sign_negative_agent{a}"][1]).item(), 3)
            for a in range(info.n_agents)]


def train(algo: str) -> tuple[object, pd.DataFrame]:
    seed_everything(SEED)
    learner = make_learner(algo_config(algo, batch_size=BATCH_SIZE), info, DEVICE)
    buffer = EpisodeBuffer(learner.config.buffer_size, info, DEVICE)
    counters, generators = Counters(), Generators.from_seed(SEED, DEVICE)
    rows = []
    for iteration in range(1, TRAIN_ITERATIONS + 1):
        stats, _ = collect_and_learn(env, learner, buffer, counters, generators)
        if iteration % MEASURE_EVERY == 0:
            recent = analysis.recent_episodes(buffer, N_ENVS)
            _, _, loss_info = learner.compute_losses(recent) if algo == "nqmix" else (None, None, {})
            rows.append({"algo": algo, "updates": counters.updates, "t_env": counters.t_env,
                         "episode return": stats.returns.mean().item(), **measure(learner, recent),
                         **({"sign −1": loss_info["sign_negative_fraction"].item(),
                             "sign −1 per agent": sign_negative_per_agent(learner, recent),
                             "actor objective": loss_info["actor_objective"].item()} if loss_info else {})})
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
# So after this short run the mixer is still a monotone mixer over $\sigma_a Q_a$ (Sec. 2). Does that
# change with real training? The committed 300k-step runs on this map (`data/reproduction_cpu`, three
# seeds, one log row per 5k environment steps) log the fraction of negative signs per agent
# (`train_diag_sign_negative_agent{a}`). Reading them costs nothing. Below, a `(row, agent)` entry
# counts as *constant* when its fraction is within 0.05 of 0 or 1; `mixed rows` counts, per agent,
# the rows where it is not, over the whole run and after its first 50k steps.

# %%
# NBVAL_CHECK_OUTPUT
SIGN_COLUMNS = [f"train_diag_sign_negative_agent{a}" for a in range(n)]
LONG_RUNS = "data/reproduction_cpu/smax-2s3z/nqmix"  # relative to the repository root
candidates = [Path.cwd(), *Path.cwd().parents, Path(nqmix_core.__file__).resolve().parents[1]]
long_run_dir = next(folder / LONG_RUNS for folder in candidates if (folder / LONG_RUNS).is_dir())
long_runs = {seed: pd.read_csv(long_run_dir / f"seed{seed}" / "progress.csv").dropna(subset=SIGN_COLUMNS)
             for seed in range(3)}
constant = {seed: (run[SIGN_COLUMNS] <= 0.05) | (run[SIGN_COLUMNS] >= 0.95) for seed, run in long_runs.items()}
sign_table = pd.DataFrame([{"seed": seed, "rows": len(run), "last t_env": int(run["t_env"].iloc[-1]),
                            "constant entries": constant[seed].to_numpy().mean(),
                            "mixed rows per agent": (~constant[seed]).sum().tolist(),
                            "... after 50k": (~constant[seed])[run["t_env"] > 50_000].sum().tolist(),
                            "first row": run[SIGN_COLUMNS].iloc[0].round(2).tolist(),
                            "last row": run[SIGN_COLUMNS].iloc[-1].round(2).tolist()}
                           for seed, run in long_runs.items()])
all_constant = pd.concat(constant.values()).to_numpy().mean()
first_negative = {seed: run[SIGN_COLUMNS].iloc[0] > 0.5 for seed, run in long_runs.items()}
last_negative = {seed: run[SIGN_COLUMNS].iloc[-1] > 0.5 for seed, run in long_runs.items()}
assert all_constant > 0.85  # the sign is constant per agent in most log rows ...
long_mixed = [(seed, agent) for seed, counts in zip(sign_table["seed"], sign_table["... after 50k"])
              for agent, count in enumerate(counts) if count > len(long_runs[seed]) / 2]
assert long_mixed == [(0, 3)]  # ... not in all: one agent of one seed is mixed in more than half the rows
assert sum(map(sum, sign_table["... after 50k"])) - sum(sign_table["... after 50k"][0]) <= 10  # the rest, early
assert (first_negative[1] & ~last_negative[1]).sum() >= 2  # seed 1: some agents turned from − to +
assert not last_negative[1].any() and last_negative[2].all()  # seeds 1, 2 end all + and all −
print(sign_table.round({"constant entries": 3}).to_string(index=False))
print(f"\nconstant (row, agent) entries over the three seeds: {all_constant:.3f}")
print(f"(seed, agent) with a mixed sign in more than half the rows: {long_mixed}")

# %% [markdown]
# In most log rows every agent's sign is constant over the 5k steps of the row: there the mixer is a
# monotone mixer over $\sigma_a Q_a$, and the signs only say which way each $Q_a$ is read. Training
# does change *which* way: on seed 1 agents that started negative end positive, and the run ends with
# every sign $+$ (a plain monotone mixer, as QMIX's), while seed 2 ends with every sign $-$ (monotone
# in every $-Q_a$). Most mixed rows come in the first 50k steps, while signs are turning over. The
# exception is agent 3 of seed 0, whose fraction sits between 0 and 1 in more than half the rows, all
# of them after the first 50k steps. A log row averages thousands of decisions, so it cannot tell a sign that depends
# on the situation from one that flipped once inside the row. What the logs do show: NQMIX's
# non-monotonic freedom is used for long by at most one agent of one seed; everywhere else the trained
# mixer is a monotone mixer over $\sigma_a Q_a$.

# %% [markdown]
# ## 4 · Is QMIX's target overestimated, and NQMIX's not?
#
# The paper's claim (abstract, Sec. 1 and Sec. 4.3): "NQMIX takes the state-value as the learning
# target, which overcomes the problem in QMIX that the learning target is overestimated." The mechanism
# it alludes to is Q-learning's maximisation bias: $\max_u Q'_a(u)$ over noisy estimates is biased
# upwards, while $\sum_u \pi'_a(u)\,Q'_a(u)$ is an average. A direct test: is the mean target above
# the mean discounted return that the episodes really delivered?
#
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
batch_returns = analysis.discounted_returns(batch.reward, batch.filled, gamma)  # [B, T]
def initial_learner(algo: str):
    seed_everything(SEED)  # the same initial weights as the training run
    return make_learner(algo_config(algo, batch_size=BATCH_SIZE), info, DEVICE)


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
# * On their own recent episodes, QMIX's targets sit clearly above the returns (the `target − return`
#   column of the QMIX rows) and NQMIX's slightly below them. Read naively, this is the paper's claim.
# * But the fixed batch shows where QMIX's gap comes from: **QMIX's target is already well above the
#   returns at initialisation** (the first table), before it has seen a reward. It is an offset of its
#   randomly initialised mixer (the hypernetworks' biases and the state-value head $V(s)$), which 30
#   updates have not trained away; the updates changed it little. This is not the maximisation bias the
#   paper means.
# * NQMIX's target networks, read with the paper's per-time-step $\tau$, have moved most of the way
#   from their initial weights: 30 updates over batches of several dozen steps each (71 in the batch
#   of Sec. 2) give $1 - 0.999^{30T}$, between 0.6 and 0.9 for $T$ = 30 to 70. Its target has left
#   its initial offset (the `from its initial value` line) and sits at or slightly below the returns.
# * Computing the max-based target **with NQMIX's own networks** isolates the form of the target. It is
#   *not* higher: through a non-monotone mixer, raising $Q'_a$ lowers $V'_{tot}$ for agents whose slope
#   $\partial Q_{tot}/\partial Q_a$ is negative (here two of the five, Sec. 3), so $\max_u$ is higher than
#   $\sum_u \pi'\,Q'$ per agent but not after mixing. "Max over-estimates" is a property of QMIX's
#   monotone mixer together with the max, not of the max alone.
# * Two more confounders: QMIX's episodes are played ε-greedily (ε falls from 1 to 0.05 over 50k steps,
#   and this run stops below 30k steps, the `t_env` column: ε is still above 0.4) while
#   its max-based target values the greedy policy, and on-policy returns of a still-random policy are a
#   noisy yardstick for a bias of a few hundredths.
#
# So this quick run does **not** support or refute the overestimation claim: QMIX's gap is dominated by
# its mixer's initial offset, and one short run of one seed says little about NQMIX's. A test of the
# claim needs critics that have converged for their own behaviour policies and several seeds: notebook
# 06 reads Q_tot against the return obtained from every log row of 300k-step runs on this map.

# %% [markdown]
# ## Summary
#
# * Figure 1, redrawn from the learner's own modules and one forward pass, labels every network and
#   layer with its class and the shapes it really reads and writes.
# * NQMIX on 2s3z has a shared agent network (34.8k parameters), five actors stored as one batched
#   module (5 × 4.8k), and an MLP mixer (35.9k). Its mixer has 0.76–1.36 times the parameters of
#   pymarl's QMIX mixer on SMAX maps with 3 to 8 agents: similar around five agents, growing faster.
# * One update, stage by stage, is exactly `NQMIXLearner.compute_losses`; the targets move by exactly
#   $1 - (1-\tau)^T$ of the gap after each update of a $T$-step batch: Alg. 1's per-time-step $\tau$.
# * The randomly initialised NQMIX mixer gives a negative $\partial Q_{tot}/\partial Q_a$ on 40% of the
#   (step, agent) pairs — in practice, always for two of the five agents — and a short training run
#   does not change that. A sign constant per agent makes the mixer a monotone mixer over $\sigma_a Q_a$:
#   the non-monotonic freedom is unused. The committed 300k-step runs show the same in most log rows;
#   training changes which way some agents' $Q_a$ are read, and one agent of one seed has a mixed sign
#   for long.
# * The overestimation claim cannot be decided at this budget: QMIX's gap to the real returns is
#   dominated by its initial offset, and the max target is not higher than the state-value target when
#   both are computed through NQMIX's non-monotone mixer.

# %%
# NBVAL_IGNORE_OUTPUT
print(f"notebook ran in {time.perf_counter() - NOTEBOOK_START:.1f} s")

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — which QMIX does $32(A+4) - A$ match?** The original QMIX paper used *one-layer*
# hypernetworks: $W_1$ and $W_{final}$ are linear maps of the state, so the mixer has
# $S \cdot 32A + 32A$ (for $W_1$) $+ 3\,(32S + 32)$ (for $b_1$, $W_{final}$ and the first layer of $V$)
# $+ 33$ (the output of $V$) parameters. Compare this with the NQMIX mixer on the same maps.

# %%
# NBVAL_CHECK_OUTPUT
single_layer = {name: (s_ := 12 * (a + e)) * 32 * a + 32 * a + 3 * (32 * s_ + 32) + 33 for name, (a, e) in maps.items()}
one_layer_ratio = {name: round(float(mixer_table.set_index("map").loc[name, "nqmix"] / count), 2)
                   for name, count in single_layer.items()}
assert all(1.0 < r < 1.25 for r in one_layer_ratio.values())  # (see the solution)
print("NQMIX mixer / QMIX mixer with one-layer hypernetworks:", one_layer_ratio)

# %% [markdown]
# <details><summary>Solution</summary>
#
# Within 25% on every map, and closer as $A$ grows: both are dominated by about $32\,A\,S$ weights
# (NQMIX's first layer reads $A + S$ inputs into $32(A+4) - A$ units; QMIX's $W_1$ hypernetwork maps
# $S$ inputs to $32A$ outputs). The formula tracks QMIX's one-layer mixer. pymarl's two-layer
# hypernetworks, used for SMAC, replace the $32AS$ term by $64S + 64 \cdot 32A$, which grows more slowly.
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
assert torch.equal(linear_slope < 0, observed > 0.5)  # (see the solution)
print("linear-part slope per agent:", [round(v, 3) for v in linear_slope.tolist()])
print("observed fraction of sign −1:", [round(v, 2) for v in initial_per_agent])

# %% [markdown]
# <details><summary>Solution</summary>
#
# They agree. The mixer's inputs vary little across a batch at initialisation ($Q_a$ near 0, state
# features in $[0, 1]$), so the ELU slopes $e_j$ hardly change and the sign is set by the fixed
# weights: each agent gets a random but constant sign. Only once the mixer's hidden units respond to
# the state and to $Q_a$ can the sign depend on the situation — the freedom NQMIX's Eq. 13 is built
# for. After 30 updates (Sec. 3) it still had not: the fraction stayed at 0.40; and in the committed
# 300k-step runs (also Sec. 3) it mostly never does.
# </details>
