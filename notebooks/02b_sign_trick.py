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
# # 02b · The sign trick, checked against the exact gradient
#
# **Learning goals.** After this notebook you can
# 1. say what NQMIX's actor step (Eqs. 11–13) computes in a one-step game, and why it ranks an agent's
#    actions by its own $Q_a$ rather than by their value to the team;
# 2. tell when the sign trick is the gradient (linear mixers), when it is parallel but may be reversed
#    (bilinear), and when it is a heuristic (a general non-monotone mixer);
# 3. check the deterministic policy gradient (Eqs. 9, 10) on a linear-quadratic problem, and its
#    sign-trick form (Eq. 14) in a one-step game;
# 4. write NQMIX's expected actor step yourself (exercise 1).
#
# **Prerequisites.** Notebook 02a (Eq. 2, the softmax policy gradient, Eq. 7); notebook 01's primer (what
# a mixer is, and $\partial Q_{tot}/\partial Q_a$).
#
# **Class time.** 45 minutes. **Paper.** Sec. 4.1 (Eqs. 9–10), Sec. 4.2 (Eqs. 11–14).
#
# | label | formula | what it says |
# |---|---|---|
# | Eq. 13 | $\theta_a \leftarrow \theta_a + \alpha\, \mathrm{sgn}(\partial Q_{tot}/\partial Q_a)\, \gamma^t \sum_u \nabla \pi_a(u\mid\tau^a_t)\, Q_a(\tau^a_t,u)$ | the sign trick that lets the mixer be non-monotonic |
# | Eqs. 9, 10 | $\nabla_\theta J = E\big[\gamma^t\,\nabla_\theta \mu_\theta(s)\, \nabla_u Q^\mu(s,u)\rvert_{u=\mu_\theta(s)}\big]$ | the deterministic policy gradient and its sampled form |
# | Eq. 14 | Eq. 10 with $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)$ and the agent's own $Q_a$ | the sign trick for continuous actions |
#
# As in 02a, every formula is compared with the exact gradient of a problem small enough to solve, and
# all the math lives in `nqmix_core.teaching.theory` (float64, fixed seeds).

# %% tags=["parameters"]
FULL_RUN = False  # True: more random games and more sampled trajectories (a minute or two on a CPU)
SEED = 0
GAMMA = 0.9  # discount of the linear-quadratic problem (Sec. 2)
N_GAMES = 2000  # random one-step games for the sign trick (Sec. 1)
MC_REPEATS = 16  # independent repetitions of each Eq. 10 estimate; we report the RMS error over them

# %%
if FULL_RUN:
    N_GAMES, MC_REPEATS = 20000, 64

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from nqmix_core.teaching import exercises as ex
from nqmix_core.teaching import theory as th
from nqmix_core.plotting import METHOD_COLOURS, smallest_text_points

torch.set_num_threads(1)  # every tensor here is tiny: extra threads only add hand-off overhead
sns.set_theme(style="whitegrid", context="notebook")
D = torch.float64

# %% [markdown]
# ## 1 · The sign trick (Eqs. 11–13) on a one-step two-agent game
#
# Take one state, two agents with 3 actions each, per-agent values $Q_1(u_1)$, $Q_2(u_2)$, a mixer
# $Q_{tot} = f(Q_1(u_1), Q_2(u_2))$ and independent softmax policies $\pi_1, \pi_2$. The objective is
# $J = E_{u\sim\pi}[Q_{tot}]$, and its exact gradient for agent 1 (`th.exact_agent_gradients`) is
#
# $$\nabla_{\theta_1} J = \sum_{u_1} \nabla \pi_1(u_1)\; h_1(u_1), \qquad h_1(u_1) = E_{u_2\sim\pi_2}\big[f(Q_1(u_1), Q_2(u_2))\big],$$
#
# where $h_1$ is what action $u_1$ is really worth to the team. NQMIX's step (Eq. 13, $T = 1$) for a
# sampled joint action $u$ is $\mathrm{sgn}\big(\partial f/\partial Q_1\big)\rvert_{u} \sum_{u_1}\nabla\pi_1(u_1) Q_1(u_1)$.
# We evaluate the sign at **every** joint action and weight it by $\pi(u)$: that is the mean of the
# per-sample steps of Alg. 1 when $u \sim \pi$, i.e. what a large minibatch averages to, so any
# disagreement below belongs to the method and not to sampling noise
# (`th.sign_trick_directions`, built on the kit's `mixer_gradient_sign` and `actor_loss`):
#
# $$\text{NQMIX}_1 = E_{u\sim\pi}\big[\mathrm{sgn}\, \partial f/\partial Q_1\big] \cdot \nabla_{\theta_1} E_{\pi_1}[Q_1] .$$
#
# So NQMIX always moves agent 1 along $\pm\nabla E_{\pi_1}[Q_1]$: it ranks agent 1's actions by
# $Q_1$, while the true gradient ranks them by $h_1$. Four mixers:
#
# * **linear**, $f = 2q_1 + 3q_2$ (a weighted VDN): $h_1 = 2Q_1 + \text{const}$, so NQMIX is the gradient up
#   to the factor 2.
# * **bilinear**, $f = q_1 + q_2 - 2 q_1 q_2$: $\partial f/\partial q_1 = 1 - 2q_2$ does not depend on $q_1$, so
#   $h_1$ is still affine in $Q_1$ and both directions are parallel. The true factor is the *mean slope*
#   $E_\pi[\partial f/\partial Q_1]$; NQMIX's is a *vote*, $E_\pi[\mathrm{sgn}\,\partial f/\partial Q_1]$. They point
#   opposite ways exactly when the two have different signs.
# * **MLP**, a fixed random $f(q) = w_2 \cdot \tanh(W_1 q + b_1)$: non-monotonic like NQMIX's mixer,
#   nothing is parallel.
# * **monotone MLP**, the same with $|W_1|, |w_2|$ as QMIX does: every sign is $+1$.
#
# The figures draw each mixer in the colour of the method whose mixer it resembles (VDN, NQMIX,
# QMIX; `plotting.METHOD_COLOURS`) and the bilinear one, which is no method's, in dark grey.
#
# Every game draws $Q_a(u) \sim N(0, 1)$ and logits $\sim N(0, 1)$.

# %%
game_gen = torch.Generator().manual_seed(SEED + 2)
agent_qs = torch.randn(N_GAMES, 2, 3, generator=game_gen, dtype=D)  # [G, N, U]
logits = torch.randn(N_GAMES, 2, 3, generator=game_gen, dtype=D)  # [G, N, U]
mixers = {"linear 2q1+3q2": lambda qs, state: qs @ torch.tensor([2.0, 3.0], dtype=D),
          "bilinear q1+q2−2q1q2": th.bilinear_mixer(2.0),
          "MLP (non-monotone)": th.random_mlp_mixer(2, seed=SEED),
          "monotone MLP (QMIX-like)": th.random_mlp_mixer(2, seed=SEED, monotone=True)}
cosines, slopes_and_votes = {}, {}
for name, mixer in mixers.items():
    exact = th.exact_agent_gradients(mixer, agent_qs, logits)  # [G, N, U]
    nqmix = th.sign_trick_directions(mixer, agent_qs, logits)  # [G, N, U]
    cosines[name] = torch.nn.functional.cosine_similarity(exact, nqmix, dim=-1).flatten().numpy()  # [G·N]
    slopes_and_votes[name] = [x.flatten().numpy() for x in th.mixer_slope_averages(mixer, agent_qs, logits)]

# %%
# NBVAL_CHECK_OUTPUT
sign_table = pd.DataFrame({"mixer": list(cosines),
                           "same direction (cos > 0)": [np.mean(c > 0) for c in cosines.values()],
                           "median cosine": [np.median(c) for c in cosines.values()],
                           "5% quantile cosine": [np.quantile(c, 0.05) for c in cosines.values()]})
linear_cos, bilinear_cos = cosines["linear 2q1+3q2"], cosines["bilinear q1+q2−2q1q2"]
mean_slope, vote = slopes_and_votes["bilinear q1+q2−2q1q2"]
assert np.allclose(linear_cos, 1.0)  # linear monotone f: the true gradient up to a positive factor
assert np.allclose(np.abs(bilinear_cos), 1.0)  # bilinear f: parallel, only the sign can be wrong ...
assert np.array_equal(bilinear_cos < 0, np.sign(mean_slope) != np.sign(vote))  # ... exactly when vote ≠ mean slope
assert 0.5 < np.mean(cosines["MLP (non-monotone)"] > 0) < 0.95  # MLP: often right, often wrong
assert (cosines["monotone MLP (QMIX-like)"] > 0).all()  # monotone f: always uphill in these games ...
assert cosines["monotone MLP (QMIX-like)"].min() < 0.9  # ... but not the gradient's direction
print(f"{N_GAMES} random games × 2 agents")
print(sign_table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))

# %% [markdown]
# Where does the non-monotone MLP go wrong? The vote $E_\pi[\mathrm{sgn}\,\partial f/\partial Q_a]$
# lies in $[-1, 1]$; when it is close to $\pm 1$ almost every joint action agrees on the sign and
# the sign trick is usually right, when it is close to 0 the sign is a coin flip.
#
# The first figure answers that for the bilinear mixer (left: each agent-game placed by the true factor
# and NQMIX's vote) and for the MLP mixer (right: how often NQMIX's step points uphill, by how clear the
# vote is).


# %%
mlp_cos = cosines["MLP (non-monotone)"]
_, mlp_vote = slopes_and_votes["MLP (non-monotone)"]
bins = pd.cut(np.abs(mlp_vote), [0, 0.2, 0.5, 0.8, 1.0], include_lowest=True,
              labels=["0 – 0.2", "0.2 – 0.5", "0.5 – 0.8", "0.8 – 1"])
by_margin = pd.Series(mlp_cos > 0).groupby(bins, observed=True).mean()
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
agree = bilinear_cos > 0
axes[0].scatter(mean_slope[agree], vote[agree], s=6, color="0.7", label="same direction")
axes[0].scatter(mean_slope[~agree], vote[~agree], s=8, color="0.1", marker="x", lw=0.8, label="opposite direction")
axes[0].axhline(0, color="k", lw=0.8)
axes[0].axvline(0, color="k", lw=0.8)
axes[0].set(xlabel="true factor E_π[∂f/∂Q_a]", ylabel="NQMIX's factor E_π[sgn ∂f/∂Q_a]",
            title="bilinear f: a vote vs a mean")
axes[0].legend(loc="lower right", fontsize=10, framealpha=0.9)
axes[1].bar(by_margin.index.astype(str), by_margin.values, color=METHOD_COLOURS["NQMIX"])
axes[1].set(xlabel="|vote| = |E_π[sgn ∂f/∂Q_a]|", ylabel="share with cos > 0", ylim=(0, 1),
            title="MLP f: right when the vote is clear")
assert by_margin.iloc[0] < 0.7 and by_margin.iloc[-1] > 0.9  # close votes: near chance; clear votes: mostly right
plt.tight_layout()
assert smallest_text_points(fig) >= 9  # readable at notebook width
plt.show()

# %% [markdown]
# The second figure gathers all four mixers: the empirical distribution function (ECDF) of the cosine
# between NQMIX's step and the exact gradient, over every agent-game. A curve that stays low until
# $x = 1$ means "almost always the gradient's direction". Two mixers put every cosine on the ends of the
# range, so their ECDFs are steps: the linear mixer's cosines are all 1 (a vertical bar at $x = 1$, drawn
# wide and labelled) and the bilinear mixer's are all $\pm 1$ (a step at $-1$ to the share of reversed
# games, then a bar at $+1$). The axes are padded beyond $[-1, 1]$ and $[0, 1]$ so that no step lies on
# the frame.

# %%
ecdf_styles = {"linear 2q1+3q2": {"color": METHOD_COLOURS["VDN"], "lw": 7, "zorder": 1},
               "bilinear q1+q2−2q1q2": {"color": "0.25", "lw": 2.5, "ls": "--", "zorder": 4},
               "MLP (non-monotone)": {"color": METHOD_COLOURS["NQMIX"], "lw": 2, "zorder": 3},
               "monotone MLP (QMIX-like)": {"color": METHOD_COLOURS["QMIX"], "lw": 2, "zorder": 2}}
fig, ax = plt.subplots(figsize=(8, 4.2))
like = {"linear 2q1+3q2": " (VDN-like)", "MLP (non-monotone)": " (NQMIX-like)"}
for name, c in cosines.items():
    sns.ecdfplot(c, ax=ax, label=name + like.get(name, ""), **ecdf_styles[name])
reversed_share = float(np.mean(bilinear_cos < 0))
ax.annotate("linear: every cosine = 1", xy=(1.0, 0.55), xytext=(0.25, 0.6), fontsize=10,
            arrowprops={"arrowstyle": "->", "color": "0.3"})
ax.annotate(f"bilinear: {reversed_share:.0%} reversed (cos = −1)", xy=(-1.0, reversed_share),
            xytext=(-0.9, reversed_share + 0.2), fontsize=10, arrowprops={"arrowstyle": "->", "color": "0.3"})
ax.set(xlabel="cosine(NQMIX's step, exact gradient)", ylabel="share of agent-games ≤ x",
       title=f"{N_GAMES} random games × 2 agents", xlim=(-1.12, 1.12), ylim=(-0.04, 1.04))
ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.98), fontsize=10, framealpha=0.95)
x_low, x_high = ax.get_xlim()
y_low, y_high = ax.get_ylim()
assert x_low < -1 and x_high > 1 and y_low < 0 and y_high > 1  # every ECDF lies inside the frame, none on it
plt.tight_layout()
assert smallest_text_points(fig) >= 9  # readable at notebook width
plt.show()

# %% [markdown]
# So the sign trick is exact for linear monotone mixers (VDN is the case $f = q_1 + q_2$) and parallel
# for bilinear ones, where it fails when a minority of joint actions with a large slope outweighs the
# majority. For a general non-monotone mixer it is a heuristic that is right when the mixer's slope
# sign is nearly the same across the joint actions the policies play. Even a monotone mixer does not
# give the gradient's direction, since NQMIX ranks actions by $Q_a$ rather than by their team value
# $h_a$. (All of this assumes exact $Q_a$ and an exact factorisation $Q_{tot} = f(Q_1, Q_2)$; in NQMIX
# both are learned.)

# %% [markdown]
# ## 2 · Deterministic policies (Eqs. 9, 10 and 14)
#
# $$\nabla_\theta J(\mu_\theta) = E_{s\sim\rho^\mu}\big[\gamma^t\, \nabla_\theta \mu_\theta(s)\, \nabla_u Q^\mu(s,u)\rvert_{u=\mu_\theta(s)}\big] \tag{9}$$
#
# We read $E_{s\sim\rho^\mu}[\gamma^t \cdots]$ like Eq. 7 (notebook 02a, Sec. 5): $(s, t)$ from trajectories of $\mu$, with the
# $\gamma^t$ written out (if $\rho^\mu$ were already the discounted distribution, $\gamma^t$ would be
# counted twice). The check is a **linear-quadratic** control problem with 3 state and 2 action
# dimensions (`th.random_lq_problem`): $s_{t+1} = As_t + Bu_t$, $r_t = -s_t^\top s_t - u_t^\top u_t$,
# $s_0 \sim N(0, I)$, and a linear policy $\mu_K(s) = Ks$. Everything is exact again:
#
# * $V^\mu(s) = -s^\top P s$ with $P = I + K^\top K + \gamma (A+BK)^\top P (A+BK)$, and $J(K) = -\operatorname{tr}(P)$;
#   $\nabla_K J$ comes from autograd through this linear solve.
# * $\nabla_u Q^\mu(s,u)$ at $u = Ks$ is linear in $s$, $= Gs$, where autograd on
#   $Q^\mu(s,u) = r(s,u) + \gamma V^\mu(As+Bu)$ finds $G$. $\nabla_K \mu_K(s)$ turns it into the outer
#   product $(Gs)s^\top$, so Eq. 9 equals $G\,\Sigma_K$ with
#   $\Sigma_K = \sum_t \gamma^t E[s_t s_t^\top] = I + \gamma (A+BK) \Sigma_K (A+BK)^\top$.
# * Eq. 10 is the same average over sampled trajectories (`th.lq_sampled_policy_gradient`).

# %%
# NBVAL_CHECK_OUTPUT
problem = th.random_lq_problem(state_dim=3, action_dim=2, gamma=GAMMA, seed=SEED)
gain = 0.2 * torch.randn(2, 3, generator=torch.Generator().manual_seed(SEED), dtype=D)
lq_truth = th.lq_exact_gradient(problem, gain)
eq9 = th.deterministic_policy_gradient(problem, gain)
eq9_error = th.relative_error(eq9, lq_truth).item()
lq_gen = torch.Generator().manual_seed(SEED + 3)
eq10_sizes = [10, 100, 1000, 10000]
eq10_errors = np.array([np.sqrt(np.mean([th.relative_error(th.lq_sampled_policy_gradient(problem, gain, n, lq_gen),
                                                             lq_truth).item() ** 2 for _ in range(MC_REPEATS)]))
                        for n in eq10_sizes])
eq10_slope = float(np.polyfit(np.log(eq10_sizes), np.log(eq10_errors), 1)[0])
assert eq9_error < 1e-12  # Eq. 9 is the exact gradient
assert -0.65 < eq10_slope < -0.35  # Eq. 10's sampled average converges like 1/√n
print(f"J(K) = {th.lq_objective(problem, gain).item():.4f}")
print("∇_K J by autograd:\n", lq_truth.numpy().round(3))
print(f"Eq. 9 equals it to machine precision (relative error < 1e-12): {eq9_error < 1e-12}")
print("Eq. 10, RMS relative error vs trajectories:",
      {n: float(f"{e:.2g}") for n, e in zip(eq10_sizes, eq10_errors)}, f" slope {eq10_slope:.2f}")

# %% [markdown]
# **Eq. 14, the deterministic sign trick.** In a one-step game with deterministic actions
# $u_a = \mu_a = \theta_a$, values $Q_a(u) = -(u - c_a)^2$ and any mixer $f$, the chain rule gives
#
# $$\nabla_{\theta_a} f(Q_1(\mu_1), Q_2(\mu_2)) = \frac{\partial f}{\partial Q_a}\, \nabla_\theta \mu_a\, \nabla_u Q_a
# = \Big|\frac{\partial f}{\partial Q_a}\Big| \cdot \underbrace{\mathrm{sgn}\Big(\frac{\partial f}{\partial Q_a}\Big) \nabla_\theta \mu_a\, \nabla_u Q_a}_{\text{Eq. 14}} .$$
#
# There is only one joint action, so there is nothing to vote over: Eq. 14 is the exact gradient
# scaled by a non-negative per-agent factor, even for the non-monotone MLP. The stochastic sign trick
# of Sec. 1 lost exactly this: the magnitudes $|\partial f/\partial Q_a|$ across joint actions.

# %%
# NBVAL_CHECK_OUTPUT
det_gen = torch.Generator().manual_seed(SEED + 4)
actions, targets = torch.randn(2, N_GAMES, 2, generator=det_gen, dtype=D)  # [G, N] each
det_exact, det_nqmix = th.deterministic_game_directions(mixers["MLP (non-monotone)"], actions, targets)
mixer_slope = det_exact / (-2.0 * (actions - targets))  # ∂f/∂Q_a, since ∇_θ μ_a = 1 and ∇_u Q_a = −2(u − c_a)
ratio = det_exact / det_nqmix  # exact gradient / Eq. 14, agent by agent
negative_slopes = (mixer_slope < 0).double().mean().item()
assert torch.allclose(ratio, mixer_slope.abs())  # Eq. 14 = exact gradient / |∂f/∂Q_a|: never downhill ...
assert negative_slopes > 0.1  # ... although the mixer's slope is often negative
print(f"Eq. 14 vs exact gradient in {N_GAMES} games: same direction in {np.mean(ratio.numpy() >= 0):.0%} "
      f"of agent-games; the mixer slope is negative in {negative_slopes:.0%} of them")

# %% [markdown]
# ## Summary
#
# * NQMIX's expected actor step moves agent $a$ along $\pm\nabla E_{\pi_a}[Q_a]$, with the sign set by a
#   *vote* of $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)$ over the joint actions; the true gradient weighs
#   the actions by their team value $h_a$ and the slopes by their size.
# * The sign trick is exact for linear monotone mixers (VDN up to weights), parallel but sometimes reversed for
#   bilinear ones (when a minority of joint actions with a large slope outweighs the majority), and a
#   heuristic for a general non-monotone mixer: right when the vote is clear, near chance when it is not.
# * Eq. 9 is the exact gradient of the LQ problem, and Eq. 10's sampled average converges to it like
#   $1/\sqrt n$. In a one-step game the deterministic sign trick (Eq. 14) is the exact gradient up to a
#   per-agent step size $|\partial f/\partial Q_a|$: with one joint action there is nothing to vote over.

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — write NQMIX's expected actor step.** For two agents with softmax policies, write the mean
# of Eq. 13's step over the joint actions $\mathbf u \sim \pi$ (with $T = 1$ and $\gamma^t = 1$):
#
# $$\text{step}_a = \Big(\sum_{\mathbf u} \pi(\mathbf u)\, \mathrm{sgn}\frac{\partial f}{\partial Q_a}\Big\rvert_{\mathbf u}\Big)
#   \cdot \nabla_{\theta_a} \sum_{u} \pi_a(u)\, Q_a(u) ,$$
#
# where $\pi(\mathbf u) = \pi_1(u_1)\pi_2(u_2)$ and $\partial f/\partial Q_a$ is taken at
# $(Q_1(u_1), Q_2(u_2))$. Use `torch` (autograd is allowed); `th.sign_trick_directions`,
# `th.mixer_slope_averages` and `losses.actor_loss` are not.
#
# > **Predict before you run.** For the linear mixer $f = 2q_1 + 3q_2$, what is the vote for agent 1?
# > And for the monotone MLP? For which of the four mixers of Sec. 1 does your step equal the exact
# > gradient up to a positive factor in every game? Write your answers down, then write the function.

# %%
def sign_trick_step(mixer, agent_qs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """NQMIX's expected actor step (Eq. 13, T = 1) for each agent of G independent two-agent games.

    Inputs: mixer, a function f(qs [..., 2], state) -> [...] (it ignores the state: pass None);
    agent_qs Q_a(u) [G, 2, U]; logits of the softmax policies π_a [G, 2, U]; float64.
    Output: [G, 2, U], entry [g, a, u] = vote_a · ∂/∂logits[g, a, u] of Σ_u' π_a(u') Q_a(u'), where
    vote_a = Σ_{u1, u2} π_1(u1) π_2(u2) sgn(∂f/∂Q_a) at (Q_1(u1), Q_2(u2)).
    """
    # BEGIN SOLUTION
    policy = torch.softmax(logits, -1)  # [G, 2, U]
    joint_qs = torch.stack(torch.broadcast_tensors(agent_qs[:, 0, :, None], agent_qs[:, 1, None, :]), -1)  # [G, U, U, 2]
    joint_qs = joint_qs.detach().requires_grad_(True)
    (slopes,) = torch.autograd.grad(mixer(joint_qs, None).sum(), joint_qs)  # ∂f/∂Q_a at every joint action
    joint_probs = policy[:, 0, :, None] * policy[:, 1, None, :]  # π(u1, u2): [G, U, U]
    vote = (joint_probs[..., None] * slopes.sign()).sum((1, 2))  # [G, 2]
    own = policy * (agent_qs - (policy * agent_qs).sum(-1, keepdim=True))  # ∇ of Σ_u π_a Q_a: [G, 2, U]
    return vote[..., None] * own
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("sign_trick_step", sign_trick_step)

# %% [markdown]
# The experiment runs your step (or the kit's, until yours passes) on the games of Sec. 1 for each mixer
# and counts the games in which it points the same way as the exact gradient.

# %%
step_fn = ex.yours_or_kits("sign_trick_step", sign_trick_step)
same_share, parallel = {}, {}
for name, mixer in mixers.items():
    step = step_fn(mixer, agent_qs, logits)  # [G, 2, U]
    same_way = torch.nn.functional.cosine_similarity(step, th.exact_agent_gradients(mixer, agent_qs, logits), dim=-1)
    same_share[name], parallel[name] = (same_way > 0).double().mean().item(), bool((same_way > 1 - 1e-9).all())
    print(f"{name:<26} same direction as the gradient in {same_share[name]:.3f} of agent-games")
# BEGIN ANSWER
assert parallel == {"linear 2q1+3q2": True, "bilinear q1+q2−2q1q2": False, "MLP (non-monotone)": False,
                    "monotone MLP (QMIX-like)": False}
assert same_share["monotone MLP (QMIX-like)"] == 1.0 and max(same_share["bilinear q1+q2−2q1q2"],
                                                             same_share["MLP (non-monotone)"]) < 1.0
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# For the linear mixer every slope is positive (2 for agent 1), so the vote is $+1$; the same holds for
# the monotone MLP, whose slopes are all positive by construction. Only for the linear mixer is the
# step the exact gradient up to a positive factor in every game. The monotone MLP's step also points uphill
# in every game (the experiment prints 1.000 for both) but is not parallel to the gradient, since it ranks
# actions by $Q_a$ instead of by $h_a$; the bilinear and MLP mixers sometimes point the other way.
# </details>
#
# **Exercise 2 — how non-monotone?** The bilinear mixer $f = q_1 + q_2 - c\, q_1 q_2$ is VDN at $c = 0$.
# How does the fraction of games where NQMIX's step points the same way as the gradient change with
# the coupling $c$?

# %%
# NBVAL_CHECK_OUTPUT
agreement = {}
for coupling in [0.0, 0.5, 1.0, 2.0, 4.0, 16.0]:
    mixer = th.bilinear_mixer(coupling)
    cos = torch.nn.functional.cosine_similarity(th.exact_agent_gradients(mixer, agent_qs, logits),
                                                th.sign_trick_directions(mixer, agent_qs, logits), dim=-1)
    agreement[coupling] = (cos > 0).double().mean().item()
    print(f"c = {coupling:>4}: same direction in {agreement[coupling]:.3f} of agent-games")
# BEGIN ANSWER
assert agreement[0.0] == 1.0 and agreement[0.5] > agreement[1.0] > agreement[2.0]
assert max(agreement[c] for c in [2.0, 4.0, 16.0]) - min(agreement[c] for c in [2.0, 4.0, 16.0]) < 0.03
assert 0.75 < agreement[16.0] < 0.95
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# At $c = 0$ (VDN) always. The agreement falls as $c$ grows — the slope $1 - c\,Q_2$ changes sign
# for more and more of the other agent's actions — and levels off between 75% and 95%: for large $c$,
# $f \approx -c\,q_1 q_2$, the true factor is the mean of $-Q_2$ and NQMIX's is the vote of
# $\mathrm{sgn}(-Q_2)$ under $\pi_2$. They differ when one of the other agent's actions has a large
# $|Q_2|$ of the minority sign.
# </details>
