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
# # 07 · Continuous actions: NQMIX with a deterministic policy gradient (Alg. 2)
#
# **Learning goals.** After this notebook you can
# 1. state the deterministic policy gradient (Eqs. 9–10) and NQMIX's sign-trick form of it (Eq. 14), and
#    check Eq. 14 against the chain rule by numbers;
# 2. write Eq. 14 as a loss for the actors yourself (exercise 1);
# 3. explain where Alg. 2 with NQMIX's mixer, with QMIX's monotonic mixer and independent DDPG end on a
#    two-agent game with two peaks, and what decides it;
# 4. run the same learner on SMAX 3m with continuous actions, and say what a short run can and cannot show.
#
# **Prerequisites.** Notebook 02b (Eqs. 9, 10 and 14 on small problems, Sec. 2), notebook 03 (the mixer and
# $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)$), notebook 04 (`train_run`, test returns and win rates). This
# notebook follows the discrete thread (04–06): only the actions change.
#
# **Class time.** 55 minutes. **Paper.** Sec. 4.1 (Eqs. 9–10), Sec. 4.2 (Eq. 14), Alg. 2.
#
# Sec. 4 of the paper extends NQMIX to continuous actions by swapping the stochastic actors for
# deterministic ones, $u^a = \mu^a(\tau^a \mid \theta_a)$:
#
# | label | formula | what it says |
# |---|---|---|
# | Eq. 9 | $\nabla_\theta J(\mu_\theta) = E_{s\sim\rho^\mu}\big[\gamma^t \nabla_\theta \mu_\theta(s)\, \nabla_u Q^\mu(s,u)\rvert_{u=\mu_\theta(s)}\big]$ | the deterministic policy gradient (Silver et al. 2014) |
# | Eq. 10 | $\theta \leftarrow \theta + \alpha \gamma^t \nabla_\theta \mu_\theta(\tau^a_t)\, \nabla_u Q^\mu(s,u)\rvert_{u=\mu_\theta(\tau^a_t)}$ | its sampled form |
# | Eq. 14 | $\theta_a \leftarrow \theta_a + \alpha\, \mathrm{sgn}\big(\tfrac{\partial Q_{tot}}{\partial Q_a}\big) \gamma^t \nabla_\theta \mu_a(\tau^a_t)\, \nabla_u Q_a(\tau^a_t,u)\rvert_{u=\mu_a(\tau^a_t)}$ | each agent climbs its own $Q_a$, turned round where the mixer's slope is negative |
# | Alg. 2 l. 10 | $Q'_{tot} = \mathrm{Mixer}'\big[Q'_1(\tau^1_{t+1}, \mu'^1(\tau^1_{t+1})), \dots, s_{t+1}\big]$ | the TD target uses the target actors' actions |
#
# The library code is `nqmix_core.continuous_losses` (the equations), `nqmix_core.networks.continuous_agent`
# (a shared critic agent network $Q_a(\tau, u)$ whose GRU state the per-agent tanh-squashed actors
# read) and `nqmix_core.learners.continuous_actor_critic` (the learner; presets `nqmix-cont`, `qmix-cont` = the
# same learner with QMIX's monotonic mixer, `iddpg` = no mixer). We check Eq. 14 by numbers, train
# all three on a two-agent game built to punish monotonic factorisation, and finish with a short
# run on SMAX 3m with continuous actions.

# %% tags=["parameters"]
FULL_RUN = False  # True: more seeds and longer runs (the SMAX run is meant for a GPU)
SEEDS = [0, 1, 2, 3]  # two-peak seeds per method
N_ROLLOUTS = 200  # rollouts of 16 one-step episodes, 2 learner updates after each
SMAX_STEPS = 6_000  # environment steps of the SMAX 3m run (a smoke test in quick mode)
DEVICE = "cpu"

# %%
if FULL_RUN:
    SEEDS, N_ROLLOUTS, SMAX_STEPS = list(range(10)), 600, 200_000

import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from scipy.stats import fisher_exact

from nqmix_core import continuous_losses, losses
from nqmix_core.teaching import exercises as ex
from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.envs.two_peak import (
    TwoPeakGame,
    TwoPeakPayoff,
    on_high_peak,
    two_peak_reward,
)
from nqmix_core.experiment import train_run
from nqmix_core.networks.continuous_agent import ContinuousAgentNetwork, DeterministicActors
from nqmix_core.networks.mixers import make_mixer
from nqmix_core.plotting import METHOD_COLOURS
from nqmix_core.results import LABELS  # algorithm name -> the label the kit's figures and colours use
from nqmix_core.runner import rollout
from nqmix_core.train import collect_and_learn, start_run

torch.set_num_threads(1)  # small networks: a second thread only adds overhead
sns.set_theme(style="whitegrid", context="notebook")
METHODS = ["nqmix-cont", "qmix-cont", "iddpg"]

# %% [markdown]
# ## 1 · Eq. 14 by numbers
#
# The actor loss (`continuous_losses.deterministic_actor_loss`) is
# $L = -\sum_{b,t,a} I_t\, \mathrm{sgn}_{b,t,a}\, \langle \mu_a(\tau_t^a),\, g_{b,t,a} \rangle / n$ with
# $g = \nabla_u Q_a(\tau_t^a, u)\rvert_{u = \mu_a}$ held constant, so $-\nabla_\theta L$ is Eq. 14
# summed over the batch. Two checks on random networks:
#
# * with every sign $+1$ it is Eq. 10, i.e. the chain rule $\nabla_\theta \sum I_t\, Q_a(\tau, \mu_\theta(\tau))$
#   through a frozen critic;
# * with a mixer, for a one-dimensional action, $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)\,\partial Q_a/\partial u_a$
#   has the sign of $\partial Q_{tot}/\partial u_a$: Eq. 14 moves each agent's action uphill on
#   $Q_{tot}$, for any mixer, only with a different step length.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
B, T, N, H = 8, 5, 2, 16
actors = DeterministicActors(N, H, 1, hidden_dim=16, bounds=(-1.0, 1.0))
critic = ContinuousAgentNetwork(input_dim=3, action_dim=1, hidden_dim=H)
mixer = make_mixer("nqmix", N, state_dim=1)
hidden, state = torch.randn(B, T, N, H), torch.randn(B, T, 1)
discount, ones = losses.discount_weights(T, 0.99, "cpu"), torch.ones(B, T, N)

actions = actors(hidden)  # [B, T, N, 1]
qs, grads = continuous_losses.action_values_and_gradients(critic.q, hidden, actions)
loss, _ = continuous_losses.deterministic_actor_loss(actions, grads, ones, discount, ones)
eq14 = torch.autograd.grad(loss, list(actors.parameters()))
chain = torch.autograd.grad(-(discount.view(1, -1, 1) * critic.q(hidden, actors(hidden))).sum() / (B * T),
                            list(actors.parameters()))
max_gap = max((a - b).abs().max().item() for a, b in zip(eq14, chain))

sign = losses.mixer_gradient_sign(mixer, qs, state)  # [B, T, N]
leaf = actions.detach().requires_grad_(True)
(dqtot_du,) = torch.autograd.grad(mixer(critic.q(hidden, leaf), state).sum(), leaf)  # ∂Q_tot/∂u_a
agree = (torch.sign(sign * grads[..., 0]) == torch.sign(dqtot_du[..., 0])).float().mean().item()
assert max_gap < 1e-6 and agree == 1.0
print(f"all signs +1: Eq. 14 = chain rule through the frozen critic (max gap < 1e-6): {max_gap < 1e-6}")
print(f"NQMIX mixer: sgn(∂Q_tot/∂Q_a)·∂Q_a/∂u has the sign of ∂Q_tot/∂u in {agree:.0%} of {B * T * N} cases; "
      f"the mixer slope is negative in {(sign < 0).float().mean().item():.0%} of them")

# %% [markdown]
# ## 2 · A game that punishes monotonic factorisation
#
# Two agents pick $u_1, u_2 \in [-1, 1]$ once; the team reward is the larger of two quadratic bumps
# (`nqmix_core.envs.two_peak.TwoPeakGame`, registry name `continuous:two-peak`):
#
# $$r(u) = \max\Big(h_{low} - \tfrac{\lVert u - c_{low}\rVert^2}{w_{low}^2},\; h_{high} - \tfrac{\lVert u - c_{high}\rVert^2}{w_{high}^2}\Big)$$
#
# with a broad low peak ($h = 0$ at $(-0.5, -0.5)$, $w = 0.6$) and a narrower high one ($h = 1$ at
# $(0.5, 0.5)$, $w = 0.4$). Agent 1's best action depends on agent 2's: no monotonic mix
# $f(Q_1(u_1), Q_2(u_2))$ with $\partial f/\partial Q_a \ge 0$ can rank agent 1's actions one way for
# $u_2 = -0.5$ and the other way for $u_2 = 0.5$. A "win" is a joint action that pays more than the
# low peak's best, i.e. one on the high peak's hill.
#
# An agent that judges its own action by the reward *averaged* over its partner's exploration sees a
# different landscape: the last line below averages $r(u_1, u_2)$ over a partner who plays
# $u_2 \sim N(0, 0.5^2)$ (inside the box), as the partner does early in training.

# %%
# NBVAL_CHECK_OUTPUT
payoff = TwoPeakPayoff()
grid = torch.linspace(-1, 1, 201)
joint_grid = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1)  # [u1, u2, 2]
landscape = two_peak_reward(joint_grid, payoff)  # [u1, u2]
best_u1 = {u2: grid[landscape[:, (grid - u2).abs().argmin()].argmax()].item() for u2 in (-0.5, 0.5)}
assert best_u1[-0.5] < 0 < best_u1[0.5]  # the best reply flips with the partner's action
partner = torch.distributions.Normal(0.0, 0.5).log_prob(grid.double()).exp()  # [u2], u2 ~ N(0, 0.5²)
averaged = landscape.double() @ (partner / partner.sum())  # [u1]: E_{u2}[r(u1, u2)]
averaged_at = {c: averaged[(grid - c).abs().argmin()].item() for c in (payoff.low_center, payoff.high_center)}
assert averaged_at[payoff.high_center] > averaged_at[payoff.low_center]  # the high peak's coordinate still wins
print(f"r(high peak) = {two_peak_reward(torch.tensor([0.5, 0.5]), payoff).item():.2f}, "
      f"r(low peak) = {two_peak_reward(torch.tensor([-0.5, -0.5]), payoff).item():.2f}, "
      f"r(0, 0) = {two_peak_reward(torch.zeros(2), payoff).item():.2f}")
print(f"agent 1's best reply: {best_u1[-0.5]:+.2f} if u2 = -0.5, {best_u1[0.5]:+.2f} if u2 = +0.5")
print(f"r averaged over u2 ~ N(0, 0.5²): {averaged_at[payoff.low_center]:+.2f} at u1 = {payoff.low_center:+.1f} "
      f"(low peak's coordinate), {averaged_at[payoff.high_center]:+.2f} at u1 = {payoff.high_center:+.1f} (high peak's)")

# %% [markdown]
# **Basins of attraction.** Exact gradient ascent on $r$ from a joint action climbs one of the two
# hills; the set of starts that end on the high peak is that peak's *basin*. `climbs_to_high_peak`
# runs that ascent (kept inside the box) from any joint actions; `basin_border` finds where the
# basins meet on the diagonal $u_1 = u_2$. We use it below to ask whether a run's start decides
# which peak it ends on.


# %%
def climbs_to_high_peak(u: torch.Tensor, payoff: TwoPeakPayoff = payoff, steps: int = 300) -> torch.Tensor:
    """True where gradient ascent on r, clipped to the box, ends on the high peak: u [..., 2] -> [...] bool."""
    u = u.detach().double()
    for _ in range(steps):
        u.requires_grad_(True)
        (slope,) = torch.autograd.grad(two_peak_reward(u, payoff).sum(), u)  # [..., 2]
        u = (u + 0.01 * slope).clamp(-1.0, 1.0).detach()
    return (u - payoff.high_center).norm(dim=-1) < (u - payoff.low_center).norm(dim=-1)


def basin_border(payoff: TwoPeakPayoff = payoff) -> float:
    """The point u1 = u2 on the diagonal between the peaks where the high peak's basin begins."""
    diagonal = torch.linspace(payoff.low_center, payoff.high_center, 1001, dtype=torch.float64)  # [D]
    high_side = climbs_to_high_peak(torch.stack([diagonal, diagonal], -1), payoff)  # [D]
    return diagonal[high_side].min().item()


# %%
# NBVAL_CHECK_OUTPUT
high_basin = climbs_to_high_peak(joint_grid)  # [u1, u2] bool, for the figure in section 3
border = basin_border()
assert 0 < border < payoff.high_center  # the border lies on the high peak's side of (0, 0)
print(f"basin border on the diagonal: u1 = u2 = {border:+.2f} (r there = "
      f"{two_peak_reward(torch.tensor([border, border]), payoff).item():.2f}); "
      f"the high peak's basin covers {high_basin.double().mean().item():.0%} of the box")

# %% [markdown]
# ## 3 · Training the three methods
#
# Every method is the same learner (`learner="continuous-actor-critic"`): a shared critic agent
# network, per-agent actors, soft targets with $\tau = 0.001$ for the critic agent network, the mixer
# and the actors. Only the mixer differs: the NQMIX MLP (signs of either kind), QMIX's monotonic
# hypernetwork (every sign $+1$; FACMAC's critic, though FACMAC's actors climb $Q_{tot}$ jointly), or
# none (independent DDPG: each $Q_a(u_a)$ regresses on the team reward by itself). The paper's
# Alg. 2 acts without noise; our behaviour policy adds Gaussian noise whose std, in units of the
# half-range, falls from 0.5 to 0.05 over the first two thirds of training (the config's
# `noise_std_start` → `noise_std_finish`). The critic's GRU and the actors are 32 wide here (64 in the
# paper) to keep the notebook quick; the game is one step long, so the target networks do not enter
# the TD target at all.
#
#
#
# Besides where each run ends, `train_two_peak` records what we need to explain it: the basin of the
# greedy joint action before training, after 5 % and 75 % of it, and at the end; the untrained
# critic's *tilt* (its slope along the diagonal at the start: positive means "towards the high
# peak"); and, for the two methods with a mixer, how the final critic's $Q_{tot}(u)$ compares with
# the true $r(u)$. The critic helpers only evaluate the learner's networks, as Alg. 2 line 9 does.


# %%
@torch.no_grad()
def critic_values(learner, batch, joint_actions: torch.Tensor) -> torch.Tensor:
    """The learned critic at joint actions [..., 2] -> [...]: Q_tot for a mixer, Σ_a Q_a for iddpg."""
    hidden, _ = learner.unroll(batch)  # [E, T+1, N, H]
    history, state = hidden[0, 0], batch.state[0, 0]  # [N, H], [S]: the one-step game has one history
    lead = joint_actions.shape[:-1]
    agent_qs = learner.agent.q(history.expand(*lead, *history.shape), joint_actions.unsqueeze(-1))  # [..., N]
    q = learner.mixer(agent_qs, state.expand(*lead, -1))  # [...] ([..., N] for iddpg)
    return q if q.dim() == len(lead) else q.sum(-1)


def critic_tilt(learner, batch) -> float:
    """Q(u + δ) − Q(u − δ) at the greedy joint action u, δ = (0.05, 0.05): > 0 points to the high peak."""
    u = batch.actions[0, 0, :, 0]  # [2]
    q = critic_values(learner, batch, torch.stack([u + 0.05, u - 0.05]))  # [2]
    return (q[0] - q[1]).item()


def critic_report(learner, batch, u: torch.Tensor, payoff: TwoPeakPayoff) -> dict:
    """Final Q_tot against r: RMSE within 0.25 of the final joint action u [2], and the error at both peak tops."""
    if learner.config.mixer == "none":
        return {}  # independent DDPG has no Q_tot(u1, u2) to compare with r
    near = (joint_grid - u).norm(dim=-1) <= 0.25  # [u1, u2] grid points around u
    error = critic_values(learner, batch, joint_grid) - two_peak_reward(joint_grid, payoff)  # [u1, u2]
    tops = torch.tensor([[payoff.high_center] * 2, [payoff.low_center] * 2])  # [2, 2]: high, low
    q_tops = critic_values(learner, batch, tops)  # [2]
    top_errors = q_tops - two_peak_reward(tops, payoff)  # [2]
    return {"rmse near end": error[near].pow(2).mean().sqrt().item(), "error high top": top_errors[0].item(),
            "error low top": top_errors[1].item(), "prefers": "high" if q_tops[0] > q_tops[1] else "low"}


def train_two_peak(algo: str, seed: int, n_rollouts: int = N_ROLLOUTS, payoff: TwoPeakPayoff = payoff,
                   **overrides) -> dict:
    """Train one method on the two-peak game; return its greedy joint actions, their basins and its critic's fit."""
    env = TwoPeakGame(16, DEVICE, payoff)
    settings = {"rnn_hidden_dim": 32, "actor_hidden_dim": 32, "buffer_size": 2000, "noise_std_start": 0.5,
                "noise_std_finish": 0.05, "noise_anneal_steps": 16 * n_rollouts * 2 // 3}
    run = start_run(algo_config(algo, **{**settings, **overrides}), env.info, seed, DEVICE)
    learner, counters = run.learner, run.counters
    greedy = {"start": rollout(env, learner, "greedy", 0)[0]}  # greedy rollouts draw no noise
    tilt = critic_tilt(learner, greedy["start"])
    checkpoints = {max(n_rollouts // 20, 1): "early", n_rollouts * 3 // 4: "late"}  # after 5 % and 75 %
    for i in range(1, n_rollouts + 1):
        collect_and_learn(env, run, updates_per_rollout=2)
        if i in checkpoints:
            greedy[checkpoints[i]] = rollout(env, learner, "greedy", counters.t_env)[0]
    greedy["end"] = rollout(env, learner, "greedy", counters.t_env)[0]
    u = {name: batch.actions[0, 0, :, 0] for name, batch in greedy.items()}  # [2] each: (u1, u2)
    basin = {name: "high" if climbs_to_high_peak(v, payoff) else "low" for name, v in u.items()}
    return {"method": algo, "seed": seed, "u1 start": u["start"][0].item(), "u2 start": u["start"][1].item(),
            "start basin": basin["start"], "tilt": tilt, "early basin": basin["early"], "u1": u["end"][0].item(),
            "u2": u["end"][1].item(), "end basin": basin["end"], "late drift": (u["end"] - u["late"]).norm().item(),
            "reward": two_peak_reward(u["end"], payoff).item(), "high peak": bool(on_high_peak(u["end"], payoff)),
            **critic_report(learner, greedy["end"], u["end"], payoff)}


# %% [markdown]
# **Predict before you run.** Every run starts near $(0, 0)$, where the border between the two basins
# also lies (printed in section 2). Before running the next cell, write down: which of the three
# methods will end on the high peak, on how many of its seeds, and *why*? Does a run's start
# decide its end? Then compare with the tables below.

# %%
# NBVAL_IGNORE_OUTPUT
t0 = time.perf_counter()
runs = pd.DataFrame([train_two_peak(algo, seed) for algo in METHODS for seed in SEEDS])
print(f"{len(runs)} runs in {time.perf_counter() - t0:.0f} s")

# %%
# NBVAL_IGNORE_OUTPUT
# training results: their last digits change with the CPU, so nbval does not compare them; the asserts
# below check what holds on any machine
print("where each run went (basin = the peak that exact gradient ascent on r climbs to from there;"
      " early = after 5 % of training; late drift = how far the greedy joint action moved in the last 25 %):")
columns = ["method", "seed", "u1 start", "u2 start", "start basin", "tilt", "early basin", "u1", "u2", "end basin",
           "late drift", "reward", "high peak"]
print(runs[columns].round(2).assign(tilt=runs["tilt"].round(4)).to_string(index=False))

# %%
# NBVAL_IGNORE_OUTPUT
success = runs.groupby("method", sort=False).agg(seeds=("seed", "size"), high_peak=("high peak", "mean"),
                                                 mean_reward=("reward", "mean"))
assert success.loc["iddpg", "high_peak"] == 0.0  # independent DDPG never ends on the high peak
for algo in ("nqmix-cont", "qmix-cont"):  # a mixer reaches it on some seeds, not on others
    assert 0.0 < success.loc[algo, "high_peak"] < 1.0
on_peak = runs.groupby("method", sort=False)["high peak"].sum()
table = [[on_peak[algo], len(SEEDS) - on_peak[algo]] for algo in ("nqmix-cont", "qmix-cont")]
_, p_value = fisher_exact(table)
assert FULL_RUN or p_value > 0.05  # with 4 seeds a method each, no gap the asserts above allow is significant
print("fraction of seeds whose greedy joint action ends on the high peak:")
print(success.round(2).to_string())
print(f"nqmix-cont vs qmix-cont, seeds on the high peak: Fisher exact test p = {p_value:.2f} "
      f"({'no evidence' if p_value > 0.05 else 'evidence'} of a difference at the 5 % level)")

# %% [markdown]
# The figure draws every run on the reward landscape, one panel per method: a black dot where its greedy
# joint action started, an arrow to where it ended. Shading and the thin contours give $r$ (lighter is
# higher; everything below $r = -1$ has the darkest shade), the two peak tops are marked, and the dashed
# purple line is the border between the two basins.

# %%
floor = -1.0  # r below this is drawn in the darkest shade: only the two hills matter here
shades = plt.matplotlib.colors.ListedColormap(plt.cm.Greys(np.linspace(0.6, 0.0, 256)))  # light = high r
fig, axes = plt.subplots(1, 3, figsize=(9.2, 3.9), sharex=True, sharey=True, layout="constrained")
for ax, algo in zip(axes, METHODS):
    group = runs[runs["method"] == algo]
    colour = METHOD_COLOURS[LABELS[algo]]
    filled = ax.contourf(grid.numpy(), grid.numpy(), landscape.clamp(min=floor).T.numpy(),
                         levels=np.linspace(floor, 1.0, 11), cmap=shades)
    heights = ax.contour(grid.numpy(), grid.numpy(), landscape.T.numpy(), levels=[-0.5, 0.0, 0.5], colors="dimgrey",
                         linewidths=0.8)
    ax.contour(grid.numpy(), grid.numpy(), high_basin.T.double().numpy(), levels=[0.5], colors="tab:purple",
               linestyles="--", linewidths=2.0)
    for u1_start, u2_start, u1, u2 in group[["u1 start", "u2 start", "u1", "u2"]].itertuples(index=False):
        ax.annotate("", xy=(u1, u2), xytext=(u1_start, u2_start),
                    arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.5, "shrinkA": 2, "shrinkB": 5})
    ax.scatter(group["u1"], group["u2"], s=55, color=colour, edgecolor="white", zorder=3)
    ax.scatter(group["u1 start"], group["u2 start"], marker=".", color="black", s=30, zorder=3)
    for center in (payoff.high_center, payoff.low_center):
        ax.scatter([center], [center], marker="+", color="black", s=80, zorder=2)
    ax.set_title(f"{LABELS[algo]}\n{int(group['high peak'].sum())} of {len(group)} runs end on the high peak",
                 fontsize=10)
    ax.set(xlabel="u1 (agent 1's action)", xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal")
    ax.grid(False)
axes[0].set_ylabel("u2 (agent 2's action)")
bar = fig.colorbar(filled, ax=axes, label="reward r(u1, u2)", shrink=0.8)
bar.add_lines(heights)  # the thin contours: r = −0.5, 0 and 0.5
handles = [plt.Line2D([], [], marker=".", color="black", ls="", label="start (untrained greedy μ)"),
           plt.Line2D([], [], marker="+", color="black", ls="", ms=9, label=f"peak tops at u1 = u2 = {payoff.high_center:+.1f} (high), {payoff.low_center:+.1f} (low)"),
           plt.Line2D([], [], color="tab:purple", ls="--", label="basin border"),
           *[plt.Line2D([], [], marker="o", color=METHOD_COLOURS[LABELS[a]], label=f"{LABELS[a]} end") for a in METHODS]]
fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
assert ((runs[["u1", "u2"]].abs() <= 1.0).all()).all()  # the tanh actors hold the bounds
plt.show()

# %% [markdown]
# Does a run's start decide where it ends? The next cell counts, for each method, the runs by the
# basin they started in and the basin they ended in, and compares three predictors of the end basin:
# the start's basin, the basin after 5 % of training, and the sign of the untrained critic's tilt.

# %%
# NBVAL_IGNORE_OUTPUT
mixing = runs[runs["method"] != "iddpg"]
basins = pd.CategoricalDtype(["low", "high"])
print("runs by start basin (rows) and end basin (columns):")
print(pd.crosstab([runs["method"], runs["start basin"].astype(basins)], runs["end basin"].astype(basins),
                  dropna=False).to_string())
same_as_start = mixing["end basin"] == mixing["start basin"]
same_as_early = mixing["end basin"] == mixing["early basin"]
tilt_side = mixing["tilt"].gt(0).map({True: "high", False: "low"})
print(f"runs with a mixer ending in the basin they started in:           {same_as_start.sum()} of {len(mixing)}")
print(f"runs with a mixer ending in the basin they were in after 5 %:    {same_as_early.sum()} of {len(mixing)}")
for algo, group in mixing.groupby("method", sort=False):
    agree = (tilt_side[group.index] == group["end basin"]).sum()
    print(f"{algo}: the untrained critic's tilt points to the end basin in {agree} of {len(group)} runs; "
          f"median |tilt| = {group['tilt'].abs().median():.3f}")
slack = max(1, len(SEEDS) // 4)  # runs whose outcome may flip on another CPU
starts = runs["start basin"].value_counts()
assert starts.get("low", 0) > starts.get("high", 0)  # untrained actors, so no CPU can change this
assert ((mixing["start basin"] == "low") & mixing["high peak"]).sum() >= 2  # low-basin starts reach the high peak
assert same_as_early.sum() >= len(mixing) - 2 * slack and same_as_early.sum() > same_as_start.sum()
qmix_runs = mixing[mixing["method"] == "qmix-cont"]
assert (tilt_side[qmix_runs.index] == qmix_runs["end basin"]).sum() >= len(qmix_runs) - slack
tilts = mixing.groupby("method")["tilt"].apply(lambda t: t.abs().median())
assert tilts["nqmix-cont"] < tilts["qmix-cont"] / 3  # NQMIX's untrained critic is much flatter

# %% [markdown]
# Why do the actors stay on the side they first moved to? The critic learns only from the joint
# actions the behaviour policy plays, and as the noise shrinks those lie ever closer to the actors.
# The next cell measures each final critic against the true $r$: its RMSE over the grid points within
# 0.25 of the final joint action, its error $Q_{tot} - r$ at both peak tops, and which top it values
# more. It also counts the runs that ended beyond the low peak (more than 0.1 past it along the diagonal).

# %%
# NBVAL_IGNORE_OUTPUT
print("final critics against the true reward (methods with a mixer):")
print(mixing[["method", "seed", "end basin", "reward", "rmse near end", "error high top", "error low top",
              "prefers"]].round(2).to_string(index=False))
other_top_error = mixing["error low top"].where(mixing["end basin"] == "high", mixing["error high top"]).abs()
prefers_own = (mixing["prefers"] == mixing["end basin"]).sum()
past_low = (runs["end basin"] == "low") & ((runs["u1"] + runs["u2"]) / 2 < payoff.low_center - 0.1)
print(f"median RMSE within 0.25 of the final joint action: {mixing['rmse near end'].median():.2f}; "
      f"median |error| at the top of the peak not ended on: {other_top_error.median():.2f}")
print(f"critics that value the top of their own end basin's peak more: {prefers_own} of {len(mixing)}")
print("runs that ended beyond the low peak:", past_low.groupby(runs["method"], sort=False).sum().to_dict())
assert mixing["rmse near end"].median() < 0.5 < 1.0 < other_top_error.median()  # right nearby, wrong far away
assert prefers_own >= len(mixing) - slack

# %% [markdown]
# What the numbers say (every count and value named here is printed above):
#
# * **The start does not decide.** The basin border on the diagonal lies just on the high peak's side
#   of $(0, 0)$ (section 2), so most greedy starts lie in the low peak's basin (crosstab). Yet runs
#   that started there reached the high peak: the start's basin names the end basin in only some
#   of the runs with a mixer (count above). The DPG step is local, but local on the *learned
#   critic*, not on $r$, and at the start that critic has learned nothing.
# * **The first few updates decide.** The basin a run is in after 5 % of training names its end basin
#   in more runs than its start basin does. For `qmix-cont` the direction of that first move is
#   the untrained critic's random tilt: its sign points to the end basin in nearly every run. The
#   actors climb whatever slope the untrained critic has, before any reward has shaped it.
# * **For NQMIX that part is not settled.** Its untrained critic is much flatter (median |tilt| above,
#   less than a third of `qmix-cont`'s). Its tilt's sign agrees with the end basin as often as
#   printed, but a slope that small can be outweighed by the first noisy critic updates (exercise 3
#   shows a run where that happens); so few seeds cannot tell which of the two sets NQMIX's direction.
# * **Why nothing pulls the actors back.** At the end every critic fits $r$ near its actors (median
#   RMSE within 0.25 of the final joint action) and is wrong, by more than one reward unit (median),
#   at the top of the peak its actors did not reach; almost every critic values its own peak more.
#   The critic has not learned that the other peak is better, so nothing tells the actors to go there.
#   Where a run ends off both tops (beyond the low peak, counted above, or elsewhere), the
#   `late drift` column shows whether it was still moving in the last quarter of training; if so, its
#   end point is a snapshot, not a resting place. Why such runs drift we have not measured.
# * **The two mixers.** The gap between their high-peak counts is within seed-to-seed chance (Fisher
#   test above). NQMIX's advantage — its critic *can* represent the non-monotonic landscape — cannot
#   show when neither critic ever sees the landscape far from its actors.
# * **Independent DDPG never ends on the high peak.** Each agent's $Q_a(u_a)$ can only learn $r$
#   averaged over its partner's actions. The textbook reason for failing, relative
#   overgeneralisation (the broad low peak looking better on average), does not hold at the start:
#   averaged over a partner who explores around $(0, 0)$ the high peak's coordinate scores *higher*
#   (section 2). Where its actors go instead is in the figure and the table; why they go there we
#   have not measured here.

# %% [markdown]
# ## 4 · SMAX 3m with continuous actions
#
# `smax-cont:3m` is JaxMARL's SMAX with `action_type="continuous"`: each marine sends
# $[p_{aim}, p_{move}, r, \theta] \in [0,1]^4$ and SMAX samples from it whether to move (by
# $r(\cos 2\pi\theta, \sin 2\pi\theta)$) or to shoot (the enemy nearest the aimed point, or the previous
# target). The run goes through the same `train_run` as the discrete algorithms; its "greedy"
# evaluation is $\mu$ without noise and "stochastic" is $\mu$ plus the behaviour noise. In quick mode this
# is a **smoke test** of the pipeline, not a result: one seed, a few thousand steps, 16 test battles per
# evaluation (the paper reports no continuous SMAC run at all). What it checks: the continuous learner
# trains on SMAX end to end, and every test return stays within SMAX's bounds (0 to 2: the share of the
# enemy's health destroyed, plus 1 for a win).

# %%
# NBVAL_IGNORE_OUTPUT
t0 = time.perf_counter()
smax_config = RunConfig(algo="nqmix-cont", env="smax-cont:3m", seed=0, t_max=SMAX_STEPS, device=DEVICE, n_envs=8,
                        test_interval=1000 if not FULL_RUN else 5000, test_episodes=16, updates_per_episode=0.5,
                        checkpoint_interval=10**9, tensorboard=False, progress=False)
smax_algo = algo_config("nqmix-cont", batch_size=16 if not FULL_RUN else 32)
with tempfile.TemporaryDirectory() as folder:
    smax_rows = pd.DataFrame(train_run(smax_config, Path(folder) / "run", algo=smax_algo,
                                       command="notebook 07"))
print(f"SMAX 3m (continuous), {SMAX_STEPS} steps in {time.perf_counter() - t0:.0f} s (compile included)")
print(smax_rows[["t_env", "test_greedy_return", "test_greedy_win_rate", "test_stochastic_return",
                 "test_stochastic_win_rate"]].round(3).to_string(index=False))

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
for mode, marker, line in (("greedy", "o", "-"), ("stochastic", "s", "--")):
    ax.plot(smax_rows["t_env"], smax_rows[f"test_{mode}_return"], marker=marker, ls=line, lw=1,
            color=METHOD_COLOURS["NQMIX-cont"], mfc="white" if mode == "stochastic" else None,
            label=f"NQMIX-cont, {mode} (μ{' + noise' if mode == 'stochastic' else ''})")
ax.axhline(2.0, color="grey", linestyle=":", label="best possible return (all enemies killed: a win)")
ax.axhline(smax_rows["test_greedy_return"].iloc[0], color="black", lw=0.8, ls="-.",
           label="untrained greedy team (step 0)")
ax.set(xlabel="environment steps", ylabel="mean test return", ylim=(0, 2.1))
ax.set_title(f"smoke test, not a result: one seed, {len(smax_rows)} evaluations of 16 battles, "
             f"{int(smax_rows['t_env'].iloc[-1]):,} steps", fontsize=10)
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9, frameon=False)
assert len(smax_rows) >= 2 and smax_rows["test_greedy_return"].between(0, 2).all()  # damage share + win bonus
assert smax_rows[["test_greedy_return", "test_stochastic_return"]].stack().between(0, 2).all()
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the points as a check that the pipeline runs, not as a learning curve: with one seed and 16 battles
# an evaluation, two evaluations of the same policy can differ visibly (notebook 04, section 3), and the
# discrete learners of notebook 04 needed tens of thousands of steps before their win rates meant much.
# `FULL_RUN` trains much longer (`SMAX_STEPS` in the first cell) with the paper's evaluation interval;
# several seeds would then be needed before saying whether NQMIX-cont learns 3m.

# %% [markdown]
# ## Summary
#
# * Eq. 14 is the deterministic policy gradient (Eq. 10) with each agent's step turned round where
#   the mixer's slope is negative; for one-dimensional actions it always moves uphill on $Q_{tot}$.
# * On the two-peak game independent DDPG misses the high peak; the monotonic and the NQMIX mixer
#   reach it on some seeds but not others. The start's basin does not decide which: the actors follow
#   the learned critic from the first update, the first few updates fix the side, and the critic then
#   learns only near its actors. With four seeds per method the two mixers' difference is within chance.
# * The same `train_run` trains the continuous learner on SMAX 3m (`smax-cont:3m`).

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — Eq. 14 as a loss (write code).** An optimiser minimises a loss, so the learner turns
# Eq. 14 into one whose gradient with respect to each action $\mu_a(\tau^a_t)$ is
# $-I_t\,\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)\,g$ per term, with $g = \nabla_u Q_a(\tau^a_t, u)$ at
# $u = \mu_a(\tau^a_t)$ held constant; autograd carries it on into the actors' weights (section 1 checked
# that chain). Average over the *real steps* $(b, t)$ of the batch: a step counts once however many agents
# act in it, and an agent that no longer acts (mask 0) adds nothing. Write that loss.
#
# **Predict before you run.** Agent 1's critic says $Q_1(u) = -(u - 0.5)^2$, highest at $u = 0.5$. The
# cell after the check starts its action at $u = 0$ and takes 100 gradient steps on your loss, keeping $u$
# in $[-1, 1]$: once with $\partial Q_{tot}/\partial Q_1 > 0$ and once with $\partial Q_{tot}/\partial Q_1 < 0$.
# Where does $u$ end each time, and is $Q_{tot}$ higher or lower there than at $u = 0.5$?
#
# <details><summary>Hint</summary>
#
# $\nabla_u \langle u, g\rangle = g$ when $g$ is a constant, so a sum of inner products, each weighted by
# its mask, its discount and its sign, has the right gradient once its sign is chosen for *minimising*.
# Which mask reduction tells you whether step $(b, t)$ is real?
# </details>


# %%
def deterministic_actor_objective(actions, action_grads, sign, discount, mask):
    """NQMIX's deterministic actor step (Eq. 14, Alg. 2 line 13) as a loss to minimise.

    | argument     | shape        | meaning                                                    |
    |--------------|--------------|------------------------------------------------------------|
    | actions      | [B, T, N, A] | μ_a(τ_t^a), with the graph back to the actors' weights      |
    | action_grads | [B, T, N, A] | g = ∇_u Q_a(τ_t^a, u) at u = μ_a(τ_t^a), to be held constant |
    | sign         | [B, T, N]    | sgn(∂Q_tot/∂Q_a): −1, 0 or +1                               |
    | discount     | [T]          | I_t = γ^t                                                  |
    | mask         | [B, T, N]    | 1 where agent a acts at a real step, else 0                |
    | returns      | []           | the loss, a 0-dim tensor with a gradient to ``actions``     |
    """
    # BEGIN SOLUTION
    ascent = (actions * action_grads.detach()).sum(-1)  # [B, T, N]: ⟨μ_a, g⟩
    weight = sign * discount.view(1, -1, 1) * mask  # [B, T, N]
    real_steps = mask.amax(-1).sum().clamp(min=1)  # a step counts once, whichever agents act in it
    return -(weight * ascent).sum() / real_steps
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("deterministic_actor_objective", deterministic_actor_objective)

# %%
# NBVAL_CHECK_OUTPUT
objective = ex.yours_or_kits("deterministic_actor_objective", deterministic_actor_objective)


def climb(slope: float, steps: int = 100, lr: float = 0.05) -> float:
    """Where gradient descent on the actor loss takes one agent's action from u = 0 (throwaway helper)."""
    u = torch.zeros(1, 1, 1, 1, requires_grad=True)  # [B, T, N, A]: one step, one agent, one component
    for _ in range(steps):
        g = -2 * (u.detach() - 0.5)  # ∇_u Q_1 for Q_1(u) = −(u − 0.5)²
        loss = objective(u, g, torch.full((1, 1, 1), slope), torch.ones(1), torch.ones(1, 1, 1))
        (step,) = torch.autograd.grad(loss, u)
        with torch.no_grad():
            u -= lr * step
            u.clamp_(-1.0, 1.0)
    return u.item()


ends = {}
for slope in (+1.0, -1.0):
    ends[slope] = climb(slope)
    q_1 = -(ends[slope] - 0.5) ** 2
    gain = round(slope * q_1, 2) + 0.0  # Q_tot(u) − Q_tot(0.5) per unit of |∂Q_tot/∂Q_1| (+ 0.0: no "−0.00")
    print(f"∂Q_tot/∂Q_1 {'> 0' if slope > 0 else '< 0'}: u ends at {ends[slope]:+.2f}, Q_1 = {round(q_1, 2) + 0.0:+.2f}, "
          f"Q_tot(u) − Q_tot(0.5) = {gain:+.2f} × |∂Q_tot/∂Q_1|")
# BEGIN ANSWER
assert abs(ends[1.0] - 0.5) < 0.01 and ends[-1.0] == -1.0  # up Q_1 to its top; down Q_1 to the box's edge
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# With a positive slope the action climbs $Q_1$ to its top, $u = 0.5$: Eq. 14 is then Eq. 10, plain
# DDPG. With a negative slope it walks *down* $Q_1$, away from $u = 0.5$, until the box stops it at
# $u = -1$. That is no bug: where $\partial Q_{tot}/\partial Q_1 < 0$, a lower $Q_1$ means a higher
# $Q_{tot}$: the printed change of $Q_{tot}$ is positive, so $u = -1$ beats the top of $Q_1$. Eq. 14 never differentiates
# $Q_{tot}$ with respect to the action; it follows $Q_a$'s slope and turns it round by the sign, which for a
# one-dimensional action is the direction of $\partial Q_{tot}/\partial u_a$ (section 1), though not its size.
# </details>
#
# **Exercise 2 — no behaviour noise (discussion).** Alg. 2 line 2 acts with $\mu$ itself. Train `nqmix-cont`
# with `noise_std_start = noise_std_finish = 0` (no noise at all). Where do the actors go, and why?

# %%
# NBVAL_IGNORE_OUTPUT
no_noise = pd.DataFrame([train_two_peak("nqmix-cont", seed, n_rollouts=N_ROLLOUTS // 2, noise_std_start=0.0,
                                        noise_std_finish=0.0) for seed in SEEDS[:2]])
print(no_noise[["seed", "u1 start", "u2 start", "tilt", "u1", "u2", "reward"]].round(2)
      .assign(tilt=no_noise["tilt"].round(4)).to_string(index=False))
# BEGIN ANSWER
assert (no_noise[["u1", "u2"]] < -0.6).all().all()  # both actors end near the lower-left corner of the box
assert (no_noise["tilt"] < 0).all()  # where the untrained critic pointed
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# Without noise every replayed joint action is (almost) the current $\mu$, so the critic learns the
# value of one point and the slope there is whatever its initialisation and extrapolation say. The
# actors follow that slope (the `tilt` column: negative, towards the lower left) to the lower-left
# corner of the box, below both peaks, and the critic never sees the high peak. Deterministic policies need behaviour noise
# (DDPG adds it too); the paper's Alg. 2 leaves it out.
#
# </details>
#
# **Exercise 3 — a narrower high peak (discussion).** Make the high peak narrower ($w_{high} = 0.3$, closer to the
# classic game of Wei et al. 2018). Which methods still find it?

# %%
# NBVAL_IGNORE_OUTPUT
narrow = TwoPeakPayoff(high_width=0.3)
narrow_runs = pd.DataFrame([train_two_peak(algo, seed, n_rollouts=N_ROLLOUTS // 2, payoff=narrow)
                            for algo in ("nqmix-cont", "qmix-cont") for seed in SEEDS[:2]])
print(narrow_runs[["method", "seed", "start basin", "tilt", "early basin", "u1", "u2", "end basin", "reward",
                   "high peak"]].round(2).assign(tilt=narrow_runs["tilt"].round(4)).to_string(index=False))
start_noise = torch.distributions.Normal(0.0, 0.5).log_prob(joint_grid.double()).exp().prod(-1)  # [u1, u2]
shares = {}
for name, game in (("w_high = 0.4", payoff), ("w_high = 0.3", narrow)):
    shares[name] = ((start_noise * on_high_peak(joint_grid, game)).sum() / start_noise.sum()).item()
    print(f"{name}: basin border on the diagonal at {basin_border(game):+.2f}; "
          f"share of joint actions u ~ N(0, 0.5² I) on the high peak's hill: {shares[name]:.1%}")
# BEGIN ANSWER
assert shares["w_high = 0.3"] < shares["w_high = 0.4"]
assert not narrow_runs["high peak"].any() and (narrow_runs[["u1", "u2"]] < 0).all().all()  # all head to the low side
assert ((narrow_runs["tilt"] > 0) & (narrow_runs["end basin"] == "low")).any()  # some end low against their tilt
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# Neither mixer finds it in these runs: all end on the low side. The basin border moves towards the
# high peak (printed), but section 3 showed that the start's basin is not what decides. The seeds
# start from the same untrained networks as in section 3 (same `tilt`), and at least one run whose
# tilt points to the high side still ends low here: the first critic updates outweighed the tilt.
# What they learn from is the noisy early joint actions, and fewer of those land on the narrower
# hill (the printed shares). Finding the narrow peak needs a *global* search — wider, longer
# exploration, or an actor update that does not only follow the local slope — which neither variant
# of Alg. 2 has.
#
# </details>
