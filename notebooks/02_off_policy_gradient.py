# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · The off-policy policy gradient, checked by numbers
#
# NQMIX's actor step (Alg. 1 line 14) rests on a chain of formulas from Sec. 3, Sec. 4 and
# Appendix A of the paper:
#
# | label | formula | what it says |
# |---|---|---|
# | Eq. 2 | $\nabla_\theta J = \sum_s d^\pi(s) \sum_u \nabla_\theta \pi(u\mid s)\, Q^\pi(s,u)$ | the policy-gradient theorem |
# | Eq. 3 | $\nabla_\theta J \approx \sum_s d^b(s) \sum_u \nabla_\theta \pi(u\mid s)\, Q^\pi(s,u)$ | off-policy actor-critic: states come from a behaviour policy $b$ |
# | Eqs. 5–6 | $g = E_\pi\big[\nabla_\theta \log \pi^a(u^a\mid\tau^a)\, A^a(s,\mathbf u)\big]$, $A^a = Q(s,\mathbf u) - \sum_{u'^a} \pi^a(u'^a\mid\tau^a)\, Q(s,(\mathbf u^{-a},u'^a))$ | COMA, the on-policy multi-agent gradient NQMIX is compared with |
# | Eq. 7 | $\nabla_\theta J = E_{s,t}\big[\gamma^t \sum_u \nabla_\theta \pi(u\mid s_t)\, Q^\pi(s_t,u)\big]$ | the same sum as an expectation over sampled $(s, t)$ |
# | Eq. 13 | $\theta_a \leftarrow \theta_a + \alpha\, \mathrm{sgn}(\partial Q_{tot}/\partial Q_a)\, \gamma^t \sum_u \nabla \pi_a(u\mid\tau^a_t)\, Q_a(\tau^a_t,u)$ | the sign trick that lets the mixer be non-monotonic |
# | Eqs. 9, 10, 14 | $\nabla_\theta \mu_\theta(s)\, \nabla_u Q^\mu(s,u)\rvert_{u=\mu_\theta(s)}$ | the deterministic (continuous-action) versions |
#
# Each formula is checked below on a problem small enough to solve exactly, so every estimate is
# compared with the *true* gradient, not with another estimate. All the math lives in
# `nqmix_core.theory` (float64, fixed seeds); this notebook only calls it and plots.

# %% tags=["parameters"]
FULL_RUN = False  # True: more samples, more random games and MDPs (a few minutes on a CPU)
SEED = 0
N_STATES, N_ACTIONS, GAMMA = 5, 3, 0.9  # the small tabular MDP of Secs. 1-4
MC_SIZES = [10, 30, 100, 300, 1000, 3000, 10000]  # samples per Eq. 7 estimate
MC_REPEATS = 16  # independent repetitions at each size; we report the RMS error over them
N_GAMES = 2000  # random one-step games for the sign trick (Sec. 5)
N_SURVEY = 200  # random MDPs for the off-policy survey (Sec. 3)

# %%
if FULL_RUN:
    MC_SIZES = MC_SIZES + [30000]
    MC_REPEATS, N_GAMES, N_SURVEY = 64, 20000, 2000

import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from nqmix_core import theory as th

torch.set_num_threads(1)  # every tensor here is tiny: extra threads only add hand-off overhead
sns.set_theme(style="whitegrid", context="notebook")
D = torch.float64
NOTEBOOK_START = time.perf_counter()

# %% [markdown]
# ## 1 · A small MDP where everything is exact
#
# A random MDP with 5 states, 3 actions and $\gamma = 0.9$ (`th.random_mdp`), a fixed start state
# $s_0$, and a tabular softmax policy $\pi_\theta(u\mid s) = e^{\theta_{su}} / \sum_{u'} e^{\theta_{su'}}$.
# The objective of Sec. 3 is $J(\theta) = V^\pi(s_0)$. Everything is a small linear solve:
#
# * $V^\pi = r_\pi + \gamma P_\pi V^\pi$, i.e. $(I - \gamma P_\pi)\, V^\pi = r_\pi$, with
#   $P_\pi(s, s') = \sum_u \pi(u\mid s) P(s'\mid s,u)$ and $r_\pi(s) = \sum_u \pi(u\mid s) R(s,u)$;
#   then $Q^\pi(s,u) = R(s,u) + \gamma \sum_{s'} P(s'\mid s,u)\, V^\pi(s')$.
# * The discounted visitation of Eq. 2, $d^\pi(s) = \sum_{t\ge 0} \gamma^t \Pr\{S_t = s \mid s_0, \pi\}$,
#   is the row vector $\rho_0 \sum_t (\gamma P_\pi)^t = \rho_0 (I - \gamma P_\pi)^{-1}$. It is not a
#   probability distribution: its total mass is $\sum_t \gamma^t = 1/(1-\gamma) = 10$.
#
# We also draw a second logits table $\theta_b$ for a behaviour policy, used from Sec. 3 on.

# %%
# NBVAL_CHECK_OUTPUT
mdp = th.random_mdp(N_STATES, N_ACTIONS, GAMMA, seed=SEED)
gen = torch.Generator().manual_seed(SEED)
theta = torch.randn(N_STATES, N_ACTIONS, generator=gen, dtype=D)  # target policy π
theta_b = 2.0 * torch.randn(N_STATES, N_ACTIONS, generator=gen, dtype=D)  # behaviour policy b (Sec. 3)

policy = th.softmax_policy(theta)
values, q_values = th.value_functions(mdp, policy)
d_pi = th.discounted_visitation(mdp, policy)

bellman_residual = values - (policy * (mdp.rewards + GAMMA * mdp.transitions @ values)).sum(-1)
assert bellman_residual.abs().max() < 1e-12  # V^π satisfies the Bellman equation
assert abs(d_pi.sum().item() - 1 / (1 - GAMMA)) < 1e-12  # Σ_s d^π(s) = 1/(1−γ)
print(f"J(θ) = V^π(s_0) = {th.objective(mdp, theta).item():.4f}")
print("d^π(s) =", d_pi.numpy().round(3), f"  sum = {d_pi.sum().item():.6f} = 1/(1−γ)")

# %% [markdown]
# ## 2 · The policy-gradient theorem (Eq. 2)
#
# $$\nabla_\theta J(\pi) = \sum_s d^\pi(s) \sum_u \nabla_\theta \pi(u\mid s,\theta)\, Q^\pi(s,u) \tag{2}$$
#
# The ground truth is $\nabla_\theta J$ by **autograd through the Bellman solve** (`th.exact_gradient`):
# it differentiates $V^\pi(s_0)$ through $(I-\gamma P_\pi)^{-1}$ and knows nothing about Eq. 2.
# The right-hand side of Eq. 2 is computed by `th.policy_gradient_sum`, which holds $d^\pi$ and
# $Q^\pi$ fixed and differentiates only $\pi$.
#
# For a tabular softmax, $\sum_u \nabla_{\theta_{s}} \pi(u\mid s)\, Q(s,u) = \pi(\cdot\mid s) \odot (Q(s,\cdot) - V(s))$:
# the state-value baseline appears for free, because $\sum_u \nabla \pi(u\mid s) = 0$.

# %%
# NBVAL_CHECK_OUTPUT
grad_j = th.exact_gradient(mdp, theta)
eq2 = th.policy_gradient_sum(theta, q_values, d_pi)
eq2_error = th.relative_error(eq2, grad_j).item()
advantage_form = d_pi[:, None] * policy * (q_values - values[:, None])  # [S, U]
assert eq2_error < 1e-12
assert torch.allclose(advantage_form, grad_j, atol=1e-12)
print("∇J(θ) by autograd through the Bellman solve (rows = states, columns = actions):")
print(grad_j.numpy().round(3))
print(f"Eq. 2 equals it to machine precision (relative error < 1e-12): {eq2_error < 1e-12}")

# %% [markdown]
# ## 2b · COMA: a multi-agent policy gradient that has to stay on-policy (Eqs. 5–6)
#
# The paper's experiments pit NQMIX against **COMA** (Foerster et al. 2018), and its case for NQMIX is
# that COMA must learn on-policy while NQMIX learns off-policy. So before measuring what off-policy
# learning costs (Sec. 3), here is COMA.
#
# *The setting.* $n$ agents each act from their own history with their own policy $\pi^a(u^a\mid\tau^a)$,
# but there is one **team** reward. Single-agent REINFORCE (Eq. 4) would push agent $a$'s action
# $u^a$ up or down by the team's return $G_t$ — which mostly reflects what the *other* agents did. That
# is the credit-assignment problem. COMA answers it with two pieces:
#
# * a **centralised critic** $Q(s, \mathbf u)$ of the true state and the *joint* action
#   $\mathbf u = (u^1, \dots, u^n)$. It is used only in training; acting stays decentralised. The kit's
#   critic (`networks/coma_critic.py`) outputs, for agent $a$, the whole row $Q(s, (\mathbf u^{-a}, u'))$
#   over agent $a$'s own actions $u'$, with the other agents' actions $\mathbf u^{-a}$ held at what they did;
# * a **counterfactual baseline** per agent: what the team would have got *on average* if agent $a$
#   alone had drawn a fresh action from its own policy,
#   $$b^a(s, \mathbf u^{-a}) = \sum_{u'^a} \pi^a(u'^a\mid\tau^a)\, Q\big(s, (\mathbf u^{-a}, u'^a)\big),$$
#   and the **advantage** $A^a(s, \mathbf u) = Q(s, \mathbf u) - b^a(s, \mathbf u^{-a})$ (Eq. 6): was agent
#   $a$'s action better or worse than its own average, everybody else's actions being what they were?
#
# The actor step is the policy gradient with this advantage in place of the return:
#
# $$g^a = E_{\mathbf u\sim\pi}\big[\nabla_\theta \log \pi^a(u^a\mid\tau^a)\, A^a(s, \mathbf u)\big] . \tag{5}$$
#
# **The baseline adds no bias** because $b^a$ does not depend on $u^a$:
# $E_{u^a\sim\pi^a}\big[\nabla \log\pi^a(u^a)\big]\, b^a = \sum_{u^a} \nabla\pi^a(u^a)\, b^a = \nabla\big(\sum_{u^a}\pi^a(u^a)\big)\, b^a = \nabla 1 \cdot b^a = 0$.
# In the same way $E_{u^a\sim\pi^a}[A^a] = 0$: the advantage says only which of agent $a$'s actions were
# better than its average. Subtracting $b^a$ changes the variance of the sampled gradient, not its mean.
#
# **Why on-policy.** Both facts are sums over $u^a$ weighted by $\pi^a$ — the policy that is being
# improved. In Eq. 5 that weighting comes from *sampling*: the actions in the batch must have been drawn
# by the current $\pi$. A replay buffer holds actions drawn by older policies $b \neq \pi$; averaged
# over those, $A^a$ is no longer centred and Eq. 5 is no longer the gradient. (Importance weights
# $\pi/b$ would repair the average, but they multiply over agents and time steps and their variance
# explodes.) So COMA throws its episodes away after one update: the kit's `COMALearner`
# (`learners/coma.py`) trains on the episodes of the rollout it has just collected, and nothing older.
# NQMIX's Eq. 7 avoids this by *summing* over actions, $\sum_u \nabla\pi(u\mid s)\, Q(s, u)$, with the
# critic, instead of sampling them; only the states come from $b$ — Sec. 3 measures what that costs.
#
# **By hand**, on the one-step game of notebook 01 with the critic equal to its payoff
# $Q(\mathbf u) = \begin{pmatrix} 8 & -12 & -12\\ -12 & 0 & 0\\ -12 & 0 & 0\end{pmatrix}$
# (rows: agent 1's action A, B, C; columns: agent 2's), policies $\pi^1 = (\tfrac12, \tfrac14, \tfrac14)$,
# $\pi^2 = (\tfrac14, \tfrac12, \tfrac14)$, and the joint action $\mathbf u = (A, B)$ with $Q = -12$:
#
# * agent 1, agent 2 kept at B: column B is $(-12, 0, 0)$, so $b^1 = \tfrac12(-12) + \tfrac14\cdot 0 + \tfrac14\cdot 0 = -6$
#   and $A^1 = -12 - (-6) = -6$: against B, agent 1's A was its worst choice;
# * agent 2, agent 1 kept at A: row A is $(8, -12, -12)$, so $b^2 = \tfrac14\cdot 8 + \tfrac12(-12) + \tfrac14(-12) = -7$
#   and $A^2 = -12 - (-7) = -5$: with agent 1 on A, agent 2 should have played A too.
#
# The cell checks this with the kit's `losses.counterfactual_baseline` and `losses.counterfactual_advantage`,
# then takes the exact expectation of COMA's actor loss (`losses.coma_actor_loss`) over all 9 joint
# actions, once under $\pi$ and once under a behaviour policy $b$, and compares it with the exact
# gradient of $J = E_{\mathbf u\sim\pi}[Q(\mathbf u)]$ with respect to the logits.

# %%
# NBVAL_CHECK_OUTPUT
from nqmix_core import losses
from nqmix_core.envs.matrix import QTRAN_PAYOFF

team_q = torch.tensor(QTRAN_PAYOFF, dtype=D)  # the critic Q(s, (u^1, u^2)) of a one-state game: [U, U]
pi_agents = torch.tensor([[1 / 2, 1 / 4, 1 / 4], [1 / 4, 1 / 2, 1 / 4]], dtype=D)  # π^a(u|τ^a): [N, U]
joint = th.joint_actions(n_agents=2, n_actions=3)  # every joint action (u^1, u^2): [J, N]
counterfactual_qs = torch.stack([team_q[:, joint[:, 1]].T,  # agent 1: Q(s, (u', u^2)) for every u'
                                 team_q[joint[:, 0], :]], dim=1)  # agent 2: Q(s, (u^1, u')): [J, N, U]
pi_per_joint = pi_agents.expand(len(joint), -1, -1)  # the same π^a at every joint action: [J, N, U]
baseline = losses.counterfactual_baseline(pi_per_joint, counterfactual_qs)  # [J, N]
advantage = losses.counterfactual_advantage(pi_per_joint, counterfactual_qs, joint)  # [J, N]
a_then_b = joint.tolist().index([0, 1])  # u = (A, B)
assert baseline[a_then_b].tolist() == [-6.0, -7.0] and advantage[a_then_b].tolist() == [-6.0, -5.0]  # as by hand


def joint_probs(per_agent: torch.Tensor) -> torch.Tensor:
    """Pr(u) = Π_a p^a(u^a) of every joint action: per_agent [N, U] -> [J]."""
    return per_agent[0, joint[:, 0]] * per_agent[1, joint[:, 1]]


def coma_gradient(action_probs: torch.Tensor) -> torch.Tensor:
    """Eq. 5 for both agents, the actions weighted by action_probs [J], w.r.t. the logits of π: [N, U].

    COMA's loss averages −A·log π over the masked steps; a mask of weights Pr(u) summing to 1 turns that
    average into the exact expectation (divided by N = 2 agents)."""
    with torch.enable_grad():
        leaf = pi_agents.log().requires_grad_(True)  # logits: softmax(leaf) = π
        policy_j = torch.softmax(leaf, -1).expand(len(joint), -1, -1)  # [J, N, U]
        loss, _ = losses.coma_actor_loss(policy_j[None], counterfactual_qs[None], joint[None],
                                         action_probs[None])  # B = 1, T = J "steps", mask = Pr(u)
        (grad,) = torch.autograd.grad(-2 * loss, leaf)  # [N, U]
    return grad


with torch.enable_grad():  # the truth: ∇ of J = E_π[Q(u)] through the softmax, by autograd
    coma_logits = pi_agents.log().requires_grad_(True)
    expected_team_q = (joint_probs(torch.softmax(coma_logits, -1)) * team_q[joint[:, 0], joint[:, 1]]).sum()
    (coma_truth,) = torch.autograd.grad(expected_team_q, coma_logits)  # [N, U]
b_agents = torch.tensor([[1 / 8, 1 / 8, 3 / 4], [1 / 8, 3 / 4, 1 / 8]], dtype=D)  # an older policy b: [N, U]
mean_advantage_pi = (joint_probs(pi_agents)[:, None] * advantage).sum(0)  # E_π[A^a]: [N]
mean_advantage_b = (joint_probs(b_agents)[:, None] * advantage).sum(0)  # E_b[A^a]: [N]
coma_on, coma_off = coma_gradient(joint_probs(pi_agents)), coma_gradient(joint_probs(b_agents))  # [N, U] each
coma_on_error = th.relative_error(coma_on, coma_truth).item()
coma_off_error = th.relative_error(coma_off, coma_truth).item()
assert (mean_advantage_pi == 0).all()  # exactly: the baseline is the advantage's mean under π
assert coma_on_error < 1e-12  # on-policy, Eq. 5 with the baseline is the exact gradient
assert (mean_advantage_b != 0).all() and coma_off_error > 0.5  # actions from b: neither holds
print("u = (A, B):  baselines b^a =", baseline[a_then_b].tolist(), "  advantages A^a =", advantage[a_then_b].tolist())
print("actions from π:  E[A^a] =", mean_advantage_pi.tolist(),
      f"  Eq. 5 = ∇J (relative error below 1e-12): {coma_on_error < 1e-12}")
print("actions from b:  E[A^a] =", mean_advantage_b.tolist(),
      f"  Eq. 5 relative error {coma_off_error:.2f}, cosine to ∇J {th.cosine_similarity(coma_off, coma_truth).item():.2f}")

# %% [markdown]
# Under $\pi$ the mean advantage of each agent is exactly 0, and Eq. 5 is the gradient to machine
# precision: the counterfactual baseline costs no bias. Feed the same loss with actions that an older
# policy $b$ chose — what a replay buffer would hold — and the advantages no longer average to 0, and
# the "gradient" is far from $\nabla J$ (see the printed error and cosine). This is why COMA trains only
# on fresh episodes, and why the paper's off-policy route goes through Eq. 3.

# %% [markdown]
# ## 3 · Off-policy actor-critic (Eq. 3): how wrong is it?
#
# $$\nabla_\theta J(\theta) \approx g(\theta) = \sum_s d^b(s) \sum_u \nabla_\theta \pi(u\mid s,\theta)\, Q^\pi(s,u) \tag{3}$$
#
# Eq. 3 keeps the target policy's $Q^\pi$ but weights the states by the behaviour policy's
# visitation $d^b$ — which is what a replay buffer of old episodes gives. Appendix A starts from
# Eq. 3 written with "$=$", i.e. treats it as the gradient. It is not: Degris et al. (2012) start
# from a *different* objective, the values $V^\pi$ averaged over the states that $b$ visits, and
# reach Eq. 3 by dropping the term of its gradient that contains $\nabla_\theta Q^\pi$. We measure the gap as $b$ moves away from $\pi$ along
# $b_\lambda = \mathrm{softmax}\big((1-\lambda)\,\theta + \lambda\, \theta_b\big)$: $\lambda = 0$ is on-policy.
# The last column is the total-variation distance between the normalised visitations
# $(1-\gamma)d^b$ and $(1-\gamma)d^\pi$.
#
# > **Predict before you run.** Write your guesses down, then run the cell.
# > 1. At $\lambda = 0$ the behaviour policy *is* $\pi$. How large is Eq. 3's error there?
# > 2. As $\lambda$ goes from 0 to 1, does the error grow steadily, jump, or stay small? Roughly how
# >    large is it at $\lambda = 1$: 1%, 10%, 50% of $\|\nabla J\|$?
# > 3. Can Eq. 3 ever point *downhill* here (cosine to $\nabla J$ below 0)? Why, or why not?

# %%
# NBVAL_CHECK_OUTPUT
def off_policy_row(lam: float) -> dict:
    behaviour = th.softmax_policy((1 - lam) * theta + lam * theta_b)
    d_b = th.discounted_visitation(mdp, behaviour)
    eq3 = th.policy_gradient_sum(theta, q_values, d_b)
    return {"λ": lam, "relative error": th.relative_error(eq3, grad_j).item(),
            "cosine to ∇J": th.cosine_similarity(eq3, grad_j).item(),
            "‖Eq. 3‖/‖∇J‖": (eq3.norm() / grad_j.norm()).item(),
            "TV(d^b, d^π)": (0.5 * (1 - GAMMA) * (d_b - d_pi).abs().sum()).item()}


bias_table = pd.DataFrame([off_policy_row(lam) for lam in [0.0, 0.25, 0.5, 0.75, 1.0]])
assert bias_table["relative error"].iloc[0] < 1e-12  # b = π: Eq. 3 is Eq. 2
assert bias_table["relative error"].is_monotonic_increasing  # the further b is from π, the larger the bias
assert (bias_table["cosine to ∇J"] > 0).all()  # ... but it still points uphill
assert bias_table["relative error"].iloc[-1] > 0.2  # b = b_1: tens of percent off
print(bias_table.round(3).to_string(index=False))

# %% [markdown]
# **Move the behaviour policy yourself.** Drag the slider (or type a value into the box at its right
# end). The line under it gives Eq. 3's error for that $\lambda$; the left chart shows how $b_\lambda$
# re-weights the states, the right chart every entry of the exact $\nabla J$ next to Eq. 3's.
# (`BehaviourSlider` in `nqmix_core/widgets/behaviour.py`; the figure needs a running kernel.)

# %%
# NBVAL_IGNORE_OUTPUT
from nqmix_core.widgets import BehaviourSlider

behaviour_slider = BehaviourSlider(mdp, theta, theta_b, lam=0.0)
behaviour_slider.show()
for lam in [0.0, 0.5, 1.0]:  # the widget measures what the table above measured
    table_row = bias_table.set_index("λ").loc[lam]
    widget_row = behaviour_slider.measure(lam)
    assert all(abs(widget_row[key] - table_row[key]) < 1e-12 for key in ["relative error", "cosine to ∇J",
                                                                           "TV(d^b, d^π)"])

# %% [markdown]
# The bias is substantial — tens of percent of $\|\nabla J\|$ once $b$ differs markedly from $\pi$ —
# yet the cosine stays positive. That is no accident in the **tabular** case: there, the block of
# Eq. 3 that belongs to state $s$ is exactly $d^b(s)/d^\pi(s)$ times the block of $\nabla J$, so
#
# $$\langle g, \nabla J\rangle = \sum_s \frac{d^b(s)}{d^\pi(s)}\, \big\|\nabla_{\theta_s} J\big\|^2 > 0 .$$
#
# Eq. 3 re-weights the states, it never turns a state's update around. (With parameters shared
# between states this argument fails: see Exercise 2.) A survey over random MDPs, target policies
# and behaviour policies $b_\lambda$ with $\lambda \sim U(0, 1)$:

# %%
def survey_draw(seed: int) -> dict:
    """One random MDP, target π, behaviour b_λ; Eq. 3 against ∇J."""
    survey_mdp = th.random_mdp(N_STATES, N_ACTIONS, GAMMA, seed=1000 + seed)
    draw = torch.Generator().manual_seed(1000 + seed)
    target, other = torch.randn(2, N_STATES, N_ACTIONS, generator=draw, dtype=D)
    lam = torch.rand(1, generator=draw, dtype=D).item()
    target_policy, behaviour = th.softmax_policy(target), th.softmax_policy((1 - lam) * target + 2 * lam * other)
    _, survey_q = th.value_functions(survey_mdp, target_policy)
    d_target, d_b = th.discounted_visitation(survey_mdp, target_policy), th.discounted_visitation(survey_mdp, behaviour)
    truth = th.exact_gradient(survey_mdp, target)
    eq3 = th.policy_gradient_sum(target, survey_q, d_b)
    block_ratio_holds = torch.allclose(eq3, (d_b / d_target)[:, None] * truth, atol=1e-12)
    return {"relative error": th.relative_error(eq3, truth).item(), "cosine": th.cosine_similarity(eq3, truth).item(),
            "TV(d^b, d^π)": (0.5 * (1 - GAMMA) * (d_b - d_target).abs().sum()).item(),
            "block ratio holds": block_ratio_holds}


survey = pd.DataFrame([survey_draw(seed) for seed in range(N_SURVEY)])

# %%
# NBVAL_CHECK_OUTPUT
assert survey["block ratio holds"].all()  # tabular: Eq. 3's block of state s = d^b(s)/d^π(s) × ∇J's block
assert (survey["cosine"] > 0).all()  # hence always an ascent direction
print(f"{len(survey)} random MDPs and behaviour policies:")
print(f"  relative error of Eq. 3: median {survey['relative error'].median():.2f}, "
      f"90th percentile {survey['relative error'].quantile(0.9):.2f}, max {survey['relative error'].max():.2f}")
print(f"  cosine to ∇J:            median {survey['cosine'].median():.3f}, min {survey['cosine'].min():.3f}")

# %%
fine_table = pd.DataFrame([off_policy_row(lam) for lam in np.linspace(0, 1, 21)])
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(fine_table["λ"], fine_table["relative error"], marker="o", label="relative error ‖g − ∇J‖/‖∇J‖")
axes[0].plot(fine_table["λ"], 1 - fine_table["cosine to ∇J"], marker="s", label="1 − cosine(g, ∇J)")
axes[0].set(xlabel="λ  (b = softmax((1−λ)θ + λθ_b))", ylabel="bias of Eq. 3", title="This MDP")
axes[0].legend()
sns.scatterplot(data=survey, x="TV(d^b, d^π)", y="relative error", hue="cosine", palette="viridis", s=18,
                ax=axes[1])
axes[1].set(title=f"{len(survey)} random MDPs", xlabel="TV distance between normalised d^b and d^π")
assert np.corrcoef(survey["TV(d^b, d^π)"], survey["relative error"])[0, 1] > 0.5  # bias grows with the mismatch
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4 · Eq. 7: the gradient as an expectation over sampled $(s, t)$
#
# $$\nabla_\theta J(\pi) = E_{s,t}\Big[\gamma^t \sum_u \nabla_\theta \pi(u\mid s_t,\theta)\, Q^\pi(s_t,u)\Big] \tag{7}$$
#
# Appendix A reads $\Pr\{S_t = s \mid s_0, b\}$ as "a joint distribution of $(s, t)$". Summed over all
# $(s, t)$ it gives $\sum_t 1 = \infty$, so it has to be normalised before anything can be sampled.
# Two readings are exactly right (`th.visitation_samples`):
#
# * **trajectory** — sample a whole trajectory and *sum* $\gamma^t(\dots)$ over its steps. This is
#   Alg. 1 lines 5–15 ($I \leftarrow 1$, then $I \leftarrow \gamma I$ after every step). We truncate at
#   the first $H$ where the neglected tail $\gamma^H/(1-\gamma)$ is below $10^{-12}$ (285 steps for
#   $\gamma = 0.9$).
# * **geometric** — sample *one* pair: $t$ with $\Pr(t) = (1-\gamma)\gamma^t$ and $s = S_t$. That pair
#   has the proper distribution $(1-\gamma)\gamma^t \Pr\{S_t = s\}$, so the $\gamma^t$ moves into the
#   sampling and the sample is $\frac{1}{1-\gamma}\sum_u \nabla\pi(u\mid s) Q^\pi(s,u)$.
#
# $Q^\pi$ is exact here, so only the states are random. Both estimators are Eq. 3's sum with
# $d^b$ replaced by an unbiased estimate $\hat d^b$; since the sum is linear in $d$, they are
# unbiased for Eq. 3, and for $\nabla J$ (Eq. 2) when $b = \pi$. We draw $\max n$ samples per
# repetition and evaluate the estimate on its first $n$ samples for each $n$.

# %%
mc_gen = torch.Generator().manual_seed(SEED + 1)
assert GAMMA != 0.9 or th.truncation_horizon(GAMMA) == 285
behaviour = th.softmax_policy(theta_b)  # b = b_1, far from π
eq3_far = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, behaviour))


def running_estimates(sampling_policy: torch.Tensor, method: str) -> list[list[torch.Tensor]]:
    """[repeat][size] Eq. 7 estimates from the first n samples of each repetition, n in MC_SIZES."""
    estimates = []
    for _ in range(MC_REPEATS):
        samples = th.visitation_samples(mdp, sampling_policy, max(MC_SIZES), mc_gen, method)  # [n_max, S]
        running_mean = samples.cumsum(0) / torch.arange(1, len(samples) + 1, dtype=D)[:, None]  # [n_max, S]
        estimates.append([th.policy_gradient_sum(theta, q_values, running_mean[n - 1]) for n in MC_SIZES])
    return estimates


def rms_relative_error(estimates: list[list[torch.Tensor]], truth: torch.Tensor) -> np.ndarray:
    errors = torch.tensor([[th.relative_error(e, truth).item() for e in row] for row in estimates])
    return errors.pow(2).mean(0).sqrt().numpy()  # [len(MC_SIZES)]


def log_log_slope(errors: np.ndarray) -> float:
    return float(np.polyfit(np.log(MC_SIZES), np.log(errors), 1)[0])


sampling_start = time.perf_counter()
on_trajectory = rms_relative_error(running_estimates(policy, "trajectory"), grad_j)
on_geometric = rms_relative_error(running_estimates(policy, "geometric"), grad_j)
off_estimates = running_estimates(behaviour, "trajectory")
off_to_grad, off_to_eq3 = rms_relative_error(off_estimates, grad_j), rms_relative_error(off_estimates, eq3_far)
off_bias = th.relative_error(eq3_far, grad_j).item()

# %%
# NBVAL_IGNORE_OUTPUT
print(f"sampling took {time.perf_counter() - sampling_start:.1f} s")

# %%
# NBVAL_CHECK_OUTPUT
slopes = {"on-policy, trajectory": log_log_slope(on_trajectory), "on-policy, geometric": log_log_slope(on_geometric),
          "off-policy vs Eq. 3": log_log_slope(off_to_eq3)}
for name, slope in slopes.items():
    assert -0.65 < slope < -0.35, name  # error ∝ n^(−1/2): unbiased Monte Carlo
assert off_to_grad[-1] > 0.9 * off_bias  # off-policy samples do not converge to ∇J ...
assert abs(off_to_grad[-1] - off_bias) < 0.1 * off_bias  # ... but level off at Eq. 3's bias
assert (on_trajectory < on_geometric).all()  # one trajectory carries more information than one (s, t) pair
print(pd.DataFrame({"n": MC_SIZES, "on-policy trajectory": on_trajectory, "on-policy geometric": on_geometric,
                    "b≠π, error to ∇J": off_to_grad, "b≠π, error to Eq. 3": off_to_eq3}
                   ).to_string(index=False, float_format=lambda x: f"{x:.2g}"))
print("log-log slopes:", {name: round(slope, 2) for name, slope in slopes.items()})
print(f"exact bias of Eq. 3 for this b: {off_bias:.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
reference = on_trajectory[0] * np.sqrt(MC_SIZES[0] / np.array(MC_SIZES))
axes[0].loglog(MC_SIZES, on_trajectory, "o-", label="trajectories (sum over t)")
axes[0].loglog(MC_SIZES, on_geometric, "s-", label="geometric (s, t) pairs")
axes[0].loglog(MC_SIZES, reference, "k--", label="∝ 1/√n")
axes[0].loglog(MC_SIZES, on_geometric[0] * np.sqrt(MC_SIZES[0] / np.array(MC_SIZES)), "k--")
axes[0].set(xlabel="samples n", ylabel="RMS relative error", title="b = π: Eq. 7 → ∇J")
axes[0].legend()
axes[1].loglog(MC_SIZES, off_to_grad, "o-", color="C3", label="error to ∇J")
axes[1].loglog(MC_SIZES, off_to_eq3, "s-", color="C2", label="error to Eq. 3")
axes[1].axhline(off_bias, color="C3", linestyle=":", label="exact bias of Eq. 3")
axes[1].loglog(MC_SIZES, off_to_eq3[0] * np.sqrt(MC_SIZES[0] / np.array(MC_SIZES)), "k--", label="∝ 1/√n")
axes[1].set(xlabel="samples n (trajectories of b)", title="b ≠ π: Eq. 7 → Eq. 3, not ∇J")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# On-policy, both readings of Eq. 7 converge to $\nabla J$ at the Monte-Carlo rate $1/\sqrt n$. Off
# policy, the same estimator converges just as fast — to Eq. 3, whose distance from $\nabla J$ is the
# bias of Sec. 3. More samples cannot remove it; only a correction of the state weighting (e.g.
# importance ratios $d^\pi/d^b$) could.

# %% [markdown]
# ## 5 · The sign trick (Eqs. 11–13) on a one-step two-agent game
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
# * **linear**, $f = 2q_1 + 3q_2$: $h_1 = 2Q_1 + \text{const}$, so NQMIX is the gradient up to the factor 2.
# * **bilinear**, $f = q_1 + q_2 - 2 q_1 q_2$: $\partial f/\partial q_1 = 1 - 2q_2$ does not depend on $q_1$, so
#   $h_1$ is still affine in $Q_1$ and both directions are parallel. The true factor is the *mean slope*
#   $E_\pi[\partial f/\partial Q_1]$; NQMIX's is a *vote*, $E_\pi[\mathrm{sgn}\,\partial f/\partial Q_1]$. They point
#   opposite ways exactly when the two have different signs.
# * **MLP**, a fixed random $f(q) = w_2 \cdot \tanh(W_1 q + b_1)$: non-monotonic, nothing is parallel.
# * **monotone MLP**, the same with $|W_1|, |w_2|$ as QMIX does: every sign is $+1$.
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
# In the right panel two mixers put all their cosines on the ends of the range: the linear mixer's
# are all 1 and the bilinear mixer's are all $\pm 1$ (to rounding; the table cell checks both). Their
# ECDFs are vertical steps at $x = \pm 1$ and flat lines at heights 0 and 1, which would lie on the
# frame of the plot. The axes are therefore padded a little beyond $[-1, 1]$ and $[0, 1]$, and the
# linear mixer is drawn as a wide pale band underneath, so that the bilinear step at $x = 1$ stays
# visible on top of it.

# %%
mlp_cos = cosines["MLP (non-monotone)"]
_, mlp_vote = slopes_and_votes["MLP (non-monotone)"]
bins = pd.cut(np.abs(mlp_vote), [0, 0.2, 0.5, 0.8, 1.0], include_lowest=True,
              labels=["0 – 0.2", "0.2 – 0.5", "0.5 – 0.8", "0.8 – 1"])
by_margin = pd.Series(mlp_cos > 0).groupby(bins, observed=True).mean()
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
agree = bilinear_cos > 0
axes[0].scatter(mean_slope[agree], vote[agree], s=6, alpha=0.5, label="same direction")
axes[0].scatter(mean_slope[~agree], vote[~agree], s=6, color="C3", label="opposite direction")
axes[0].axhline(0, color="k", lw=0.8)
axes[0].axvline(0, color="k", lw=0.8)
axes[0].set(xlabel="E_π[∂f/∂Q_a]  (true factor)", ylabel="E_π[sgn ∂f/∂Q_a]  (NQMIX's factor)",
            title="bilinear f: a vote vs a mean")
axes[0].legend(loc="lower right")
axes[1].bar(by_margin.index.astype(str), by_margin.values, color="C0")
axes[1].set(xlabel="|vote| = |E_π[sgn ∂f/∂Q_a]|", ylabel="fraction with cos > 0", ylim=(0, 1),
            title="MLP f: right when the vote is clear")
ecdf_styles = {"linear 2q1+3q2": {"lw": 7, "alpha": 0.35, "zorder": 1},  # wide band under the others
               "bilinear q1+q2−2q1q2": {"lw": 2, "ls": "--", "zorder": 3}}
ecdf_notes = {"linear 2q1+3q2": "  (every cosine = 1)", "bilinear q1+q2−2q1q2": "  (every cosine = ±1)"}
for name, c in cosines.items():
    sns.ecdfplot(c, ax=axes[2], label=name + ecdf_notes.get(name, ""),
                 **ecdf_styles.get(name, {"lw": 1.5, "zorder": 2}))
axes[2].set(xlabel="cosine(NQMIX step, exact gradient)", title="all mixers",
            xlim=(-1.1, 1.1), ylim=(-0.04, 1.04))  # padded: the linear and bilinear steps sit at exactly ±1
axes[2].legend(loc="upper left", fontsize=8)
x_low, x_high = axes[2].get_xlim()
y_low, y_high = axes[2].get_ylim()
assert x_low < -1 and x_high > 1 and y_low < 0 and y_high > 1  # every ECDF lies inside the frame, none on it
assert by_margin.iloc[0] < 0.7 and by_margin.iloc[-1] > 0.9  # close votes: near chance; clear votes: mostly right
plt.tight_layout()
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
# ## 6 · Deterministic policies (Eqs. 9, 10 and 14)
#
# $$\nabla_\theta J(\mu_\theta) = E_{s\sim\rho^\mu}\big[\gamma^t\, \nabla_\theta \mu_\theta(s)\, \nabla_u Q^\mu(s,u)\rvert_{u=\mu_\theta(s)}\big] \tag{9}$$
#
# We read $E_{s\sim\rho^\mu}[\gamma^t \cdots]$ like Eq. 7: $(s, t)$ from trajectories of $\mu$, with the
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
# of Sec. 5 lost exactly this: the magnitudes $|\partial f/\partial Q_a|$ across joint actions.

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
# * Eq. 2 is the exact gradient (to machine precision).
# * Eq. 3 is *not* the gradient when $b \neq \pi$: its bias grows with the distance between $d^b$ and
#   $d^\pi$. In the tabular case it still always points uphill.
# * Eq. 7 needs a normalisation that Appendix A leaves out; read as a sum over each trajectory (Alg. 1)
#   or with a geometric $t$, its sampled form converges like $1/\sqrt n$ — to $\nabla J$ on-policy and
#   to Eq. 3 off-policy.
# * The sign trick (Eq. 13) is exact for linear monotone mixers, parallel but sometimes reversed for
#   bilinear ones, and a heuristic for general ones; its deterministic version (Eq. 14) is exact up to
#   a per-agent step size in a one-step game. Eq. 9 is the exact gradient of the LQ problem.

# %%
# NBVAL_IGNORE_OUTPUT
print(f"notebook ran in {time.perf_counter() - NOTEBOOK_START:.1f} s")

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — dropping $\gamma^t$.** Many actor-critic implementations weight every sampled step
# equally, which drops the $\gamma^t$ of Eq. 7 (Alg. 1 keeps it with $I \leftarrow \gamma I$). Without it
# the states are weighted by the undiscounted (stationary) distribution of $\pi$. The cell computes
# that distribution as the limit $\gamma' \to 1$ of the normalised $d^\pi$ and uses it in Eq. 2's sum.
# Is the result still $\nabla J$? Is it still an ascent direction?

# %%
# NBVAL_CHECK_OUTPUT
no_discount_cosines, no_discount_errors = [], []
for gamma_prime in [0.99, 0.999, 0.9999]:
    d_undiscounted = th.discounted_visitation(dataclasses.replace(mdp, gamma=gamma_prime), policy)
    d_undiscounted = d_undiscounted * (1 - gamma_prime) / (1 - GAMMA)  # same total mass as d^π
    no_discount = th.policy_gradient_sum(theta, q_values, d_undiscounted)
    no_discount_errors.append(th.relative_error(no_discount, grad_j).item())
    no_discount_cosines.append(th.cosine_similarity(no_discount, grad_j).item())
    print(f"γ' = {gamma_prime}: relative error {th.relative_error(no_discount, grad_j).item():.3f}, "
          f"cosine {th.cosine_similarity(no_discount, grad_j).item():.3f}")
assert min(no_discount_errors) > 0.1 and min(no_discount_cosines) > 0.9  # (see the solution)

# %% [markdown]
# <details><summary>Solution</summary>
#
# It is not $\nabla J$: the relative error stays above 0.1 as $\gamma' \to 1$. It is still an
# ascent direction here (cosine above 0.9), for the same reason as in Sec. 3: in the tabular case any
# positive re-weighting of the states keeps every state's block pointing the same way. This is the
# "missing $\gamma^t$" of many implementations; it changes which states the update cares about
# (late states count as much as early ones), not whether each state's update is sensible.
# </details>

# %% [markdown]
# **Exercise 2 — shared parameters.** Replace the logits table by logits $\phi(s)^\top\theta$ with
# 2 random features per state for 10 states, so that states share parameters. Is Eq. 3 still always
# an ascent direction? The cell surveys 200 random MDPs with a behaviour policy far from $\pi$.

# %%
# NBVAL_CHECK_OUTPUT
feature_cosines = []
for seed in range(200):
    feature_mdp = th.random_mdp(n_states=10, n_actions=3, gamma=GAMMA, seed=2000 + seed)
    draw = torch.Generator().manual_seed(2000 + seed)
    features = torch.randn(10, 2, generator=draw, dtype=D)  # φ [S, F]
    weights = torch.randn(2, 3, generator=draw, dtype=D)  # θ [F, U]
    far_behaviour = th.softmax_policy(5.0 * torch.randn(10, 3, generator=draw, dtype=D))
    _, feature_q = th.value_functions(feature_mdp, th.softmax_policy(weights, features))
    eq3_features = th.policy_gradient_sum(weights, feature_q, th.discounted_visitation(feature_mdp, far_behaviour),
                                          features)
    feature_cosines.append(th.cosine_similarity(eq3_features, th.exact_gradient(feature_mdp, weights, features)).item())
feature_cosines = np.array(feature_cosines)
assert (feature_cosines < 0).sum() >= 1 and np.median(feature_cosines) > 0.9  # (see the solution)
print(f"cosine(Eq. 3, ∇J) with shared features: median {np.median(feature_cosines):.3f}, "
      f"min {feature_cosines.min():.3f}, negative in {np.sum(feature_cosines < 0)} of {len(feature_cosines)}")

# %% [markdown]
# <details><summary>Solution</summary>
#
# No. With shared parameters the blocks of different states add up in the same parameters, and the
# re-weighting by $d^b/d^\pi$ can tip the sum: some draws (the count printed above) have a negative
# cosine, i.e. Eq. 3 points downhill even with an exact critic. Typical draws still have a cosine above 0.9.
# Imani, Graves and White (2018) build a small example in which Off-PAC converges to the wrong
# policy, and fix the state weighting with "emphatic" weightings.
# </details>

# %% [markdown]
# **Exercise 3 — how non-monotone?** The bilinear mixer $f = q_1 + q_2 - c\, q_1 q_2$ is VDN at $c = 0$.
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
assert agreement[0.0] == 1.0 and agreement[0.5] > agreement[1.0] > agreement[2.0]  # (see the solution)
assert max(agreement[c] for c in [2.0, 4.0, 16.0]) - min(agreement[c] for c in [2.0, 4.0, 16.0]) < 0.03
assert 0.75 < agreement[16.0] < 0.95

# %% [markdown]
# <details><summary>Solution</summary>
#
# At $c = 0$ (VDN) always. The agreement falls as $c$ grows — the slope $1 - c\,Q_2$ changes sign
# for more and more of the other agent's actions — and levels off between 75% and 95%: for large $c$,
# $f \approx -c\,q_1 q_2$, the true factor is the mean of $-Q_2$ and NQMIX's is the vote of
# $\mathrm{sgn}(-Q_2)$ under $\pi_2$. They differ when one of the other agent's actions has a large
# $|Q_2|$ of the minority sign.
# </details>
