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
# # 02a · The off-policy policy gradient, checked by numbers
#
# **Learning goals.** After this notebook you can
# 1. compute $V^\pi$, $Q^\pi$ and the discounted visitation $d^\pi$ of a small MDP exactly, and check the
#    policy-gradient theorem (Eq. 2) against autograd;
# 2. explain COMA's counterfactual advantage (Eqs. 5–6), and why it must learn on-policy;
# 3. measure how biased the off-policy gradient (Eq. 3) is, and why it still points uphill for a tabular policy;
# 4. sample Eq. 7 two ways and see it converge like $1/\sqrt n$: to $\nabla J$ on-policy, to Eq. 3 off-policy;
# 5. write Eq. 2 for a softmax policy yourself (exercise 1).
#
# **Prerequisites.** Policy gradients (REINFORCE), Bellman equations in matrix form; notebook 01's primer.
#
# **Class time.** 55 minutes. **Paper.** Sec. 3 (Eqs. 2–3), Sec. 4.1 (Eqs. 4–7), App. A.
#
# NQMIX's actor step (Alg. 1 line 14) rests on a chain of formulas. This notebook checks the first half;
# notebook 02b checks the sign trick (Eqs. 11–13) and the deterministic forms (Eqs. 9, 10, 14).
#
# | label | formula | what it says |
# |---|---|---|
# | Eq. 2 | $\nabla_\theta J = \sum_s d^\pi(s) \sum_u \nabla_\theta \pi(u\mid s)\, Q^\pi(s,u)$ | the policy-gradient theorem |
# | Eqs. 5–6 | $g = E_\pi\big[\nabla_\theta \log \pi^a(u^a\mid\tau^a)\, A^a(s,\mathbf u)\big]$, $A^a = Q(s,\mathbf u) - \sum_{u'^a} \pi^a(u'^a\mid\tau^a)\, Q(s,(\mathbf u^{-a},u'^a))$ | COMA, the on-policy multi-agent gradient NQMIX is compared with |
# | Eq. 3 | $\nabla_\theta J \approx \sum_s d^b(s) \sum_u \nabla_\theta \pi(u\mid s)\, Q^\pi(s,u)$ | off-policy actor-critic: states come from a behaviour policy $b$ |
# | Eq. 7 | $\nabla_\theta J = E_{s,t}\big[\gamma^t \sum_u \nabla_\theta \pi(u\mid s_t)\, Q^\pi(s_t,u)\big]$ | the same sum as an expectation over sampled $(s, t)$ |
#
# Each formula is checked on a problem small enough to solve exactly, so every estimate is compared with
# the *true* gradient, not with another estimate. All the math lives in `nqmix_core.teaching.theory` (float64,
# fixed seeds); this notebook only calls it and plots.

# %% tags=["parameters"]
FULL_RUN = False  # True: more samples and more random MDPs (a few minutes on a CPU)
SEED = 0
N_STATES, N_ACTIONS, GAMMA = 5, 3, 0.9  # the small tabular MDP of every section
MC_SIZES = [10, 30, 100, 300, 1000, 3000, 10000]  # samples per Eq. 7 estimate
MC_REPEATS = 16  # independent repetitions at each size; we report the RMS error over them
N_SURVEY = 200  # random MDPs for the off-policy survey (Sec. 4)

# %%
if FULL_RUN:
    MC_SIZES = MC_SIZES + [30000]
    MC_REPEATS, N_SURVEY = 64, 2000

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from nqmix_core.teaching import exercises as ex
from nqmix_core.teaching import theory as th
from nqmix_core.plotting import smallest_text_points

torch.set_num_threads(1)  # every tensor here is tiny: extra threads only add hand-off overhead
sns.set_theme(style="whitegrid", context="notebook")
D = torch.float64

# %% [markdown]
# ## 1 · A small MDP where everything is exact
#
# A random MDP with 5 states, 3 actions and $\gamma = 0.9$ (`th.random_mdp`), a fixed start state
# $s_0$, and a tabular softmax policy $\pi_\theta(u\mid s) = e^{\theta_{su}} / \sum_{u'} e^{\theta_{su'}}$.
# The paper's objective (its Sec. 3) is $J(\theta) = V^\pi(s_0)$. Everything is a small linear solve:
#
# * $V^\pi = r_\pi + \gamma P_\pi V^\pi$, i.e. $(I - \gamma P_\pi)\, V^\pi = r_\pi$, with
#   $P_\pi(s, s') = \sum_u \pi(u\mid s) P(s'\mid s,u)$ and $r_\pi(s) = \sum_u \pi(u\mid s) R(s,u)$;
#   then $Q^\pi(s,u) = R(s,u) + \gamma \sum_{s'} P(s'\mid s,u)\, V^\pi(s')$.
# * The discounted visitation of Eq. 2, $d^\pi(s) = \sum_{t\ge 0} \gamma^t \Pr\{S_t = s \mid s_0, \pi\}$,
#   is the row vector $\rho_0 \sum_t (\gamma P_\pi)^t = \rho_0 (I - \gamma P_\pi)^{-1}$. It is not a
#   probability distribution: its total mass is $\sum_t \gamma^t = 1/(1-\gamma) = 10$.
#
# We also draw a second logits table $\theta_b$ for a behaviour policy, used from Sec. 4 on.

# %%
# NBVAL_CHECK_OUTPUT
mdp = th.random_mdp(N_STATES, N_ACTIONS, GAMMA, seed=SEED)
gen = torch.Generator().manual_seed(SEED)
theta = torch.randn(N_STATES, N_ACTIONS, generator=gen, dtype=D)  # target policy π
theta_b = 2.0 * torch.randn(N_STATES, N_ACTIONS, generator=gen, dtype=D)  # behaviour policy b (Sec. 4)

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
# ## 3 · COMA: a multi-agent policy gradient that has to stay on-policy (Eqs. 5–6)
#
# The paper's experiments pit NQMIX against **COMA** (Foerster et al. 2018), and its case for NQMIX is
# that COMA must learn on-policy while NQMIX learns off-policy. So before measuring what off-policy
# learning costs (Sec. 4), here is COMA.
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
# critic, instead of sampling them; only the states come from $b$ — Sec. 4 measures what that costs.
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
# ## 4 · Off-policy actor-critic (Eq. 3): how wrong is it?
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
# (`BehaviourSlider` in `nqmix_core/teaching/widgets/behaviour.py`; the figure needs a running kernel.)

# %%
# NBVAL_IGNORE_OUTPUT
from nqmix_core.teaching.widgets import BehaviourSlider

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
# between states this argument fails: see Exercise 3.) A survey over random MDPs, target policies
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

# %% [markdown]
# The figure: on the left the bias along $b_\lambda$ for this MDP; on the right every random MDP of the
# survey, placed by how far apart the two visitations are, coloured by the cosine between Eq. 3 and $\nabla J$
# (the colour bar runs to exactly 1; the darker a point, the closer Eq. 3's direction is to $\nabla J$'s).

# %%
fine_table = pd.DataFrame([off_policy_row(lam) for lam in np.linspace(0, 1, 21)])
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [1, 1.2]})
axes[0].plot(fine_table["λ"], fine_table["relative error"], marker="o", color="0.1", label="‖g − ∇J‖ / ‖∇J‖")
axes[0].plot(fine_table["λ"], 1 - fine_table["cosine to ∇J"], marker="s", color="0.6", label="1 − cos(g, ∇J)")
axes[0].set(xlabel="λ  (b = softmax((1−λ)θ + λθ_b))", ylabel="bias of Eq. 3 (g)", title="this MDP")
axes[0].legend(loc="upper left", fontsize=10)
points = axes[1].scatter(survey["TV(d^b, d^π)"], survey["relative error"], c=survey["cosine"], cmap="viridis_r",
                         vmin=float(survey["cosine"].min()), vmax=1.0, s=16, edgecolors="0.3", linewidths=0.3)
colour_bar = fig.colorbar(points, ax=axes[1], pad=0.02)
colour_bar.set_label("cos(Eq. 3, ∇J)")
axes[1].set(title=f"{len(survey)} random MDPs", xlabel="TV distance of normalised d^b, d^π",
            ylabel="relative error of Eq. 3")
assert colour_bar.vmax == 1.0 and colour_bar.vmin <= survey["cosine"].min()  # every cosine is on the bar's scale
assert np.corrcoef(survey["TV(d^b, d^π)"], survey["relative error"])[0, 1] > 0.5  # bias grows with the mismatch
plt.tight_layout()
assert smallest_text_points(fig) >= 9  # readable at notebook width
plt.show()

# %% [markdown]
# ## 5 · Eq. 7: the gradient as an expectation over sampled $(s, t)$
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


on_trajectory = rms_relative_error(running_estimates(policy, "trajectory"), grad_j)
on_geometric = rms_relative_error(running_estimates(policy, "geometric"), grad_j)
off_estimates = running_estimates(behaviour, "trajectory")
off_to_grad, off_to_eq3 = rms_relative_error(off_estimates, grad_j), rms_relative_error(off_estimates, eq3_far)
off_bias = th.relative_error(eq3_far, grad_j).item()

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
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
sqrt_n = lambda start: start * np.sqrt(MC_SIZES[0] / np.array(MC_SIZES))  # noqa: E731  (the 1/√n reference)
axes[0].loglog(MC_SIZES, on_trajectory, "o-", color="0.1", label="trajectories (sum over t)")
axes[0].loglog(MC_SIZES, on_geometric, "s-", color="0.6", label="geometric (s, t) pairs")
axes[0].loglog(MC_SIZES, sqrt_n(on_trajectory[0]), "--", color="0.35", lw=1, label="∝ 1/√n")
axes[0].loglog(MC_SIZES, sqrt_n(on_geometric[0]), "--", color="0.35", lw=1)
axes[0].set(xlabel="samples n", ylabel="RMS relative error", title="b = π: Eq. 7 → ∇J")
axes[0].legend(loc="lower left", fontsize=10)
axes[1].loglog(MC_SIZES, off_to_grad, "o-", color="0.1", label="error to ∇J")
axes[1].loglog(MC_SIZES, off_to_eq3, "s-", color="0.6", label="error to Eq. 3")
axes[1].axhline(off_bias, color="0.1", linestyle=":", label="exact bias of Eq. 3")
axes[1].loglog(MC_SIZES, sqrt_n(off_to_eq3[0]), "--", color="0.35", lw=1, label="∝ 1/√n")
axes[1].set(xlabel="samples n (trajectories of b)", title="b ≠ π: Eq. 7 → Eq. 3, not ∇J")
axes[1].legend(loc="lower left", fontsize=10)
plt.tight_layout()
assert smallest_text_points(fig) >= 9  # readable at notebook width
plt.show()

# %% [markdown]
# On-policy, both readings of Eq. 7 converge to $\nabla J$ at the Monte-Carlo rate $1/\sqrt n$. Off
# policy, the same estimator converges just as fast — to Eq. 3, whose distance from $\nabla J$ is the
# bias of Sec. 4. More samples cannot remove it; only a correction of the state weighting (e.g.
# importance ratios $d^\pi/d^b$) could.

# %% [markdown]
# ## Summary
#
# * Eq. 2 is the exact gradient (to machine precision).
# * COMA's counterfactual baseline (Eq. 6) adds no bias *on-policy*: the advantage averages to 0 under $\pi$,
#   and Eq. 5 is then the exact gradient. With actions from an older policy neither holds, so COMA cannot
#   learn from a replay buffer.
# * Eq. 3 is *not* the gradient when $b \neq \pi$: its bias grows with the distance between $d^b$ and
#   $d^\pi$. In the tabular case it still always points uphill.
# * Eq. 7 needs a normalisation that Appendix A leaves out; read as a sum over each trajectory (Alg. 1)
#   or with a geometric $t$, its sampled form converges like $1/\sqrt n$ — to $\nabla J$ on-policy and
#   to Eq. 3 off-policy.
#
# Notebook 02b turns to the other half of NQMIX's actor step: the sign of $\partial Q_{tot}/\partial Q_a$.

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — write Eq. 2 yourself.** For the tabular softmax policy of Sec. 1, write the function below:
# Eq. 2's right-hand side, $\sum_s d(s) \sum_u \nabla_\theta \pi(u\mid s)\, Q(s,u)$, with $d$ and $Q$ held
# fixed. Use `torch` only (autograd is allowed; `th.policy_gradient_sum` and `th.exact_gradient` are not).
#
# > **Predict before you run.** Which entries of the result are 0 for a state that the policy never
# > reaches ($d(s) = 0$)? And for a state whose $Q(s, \cdot)$ is the same for every action? Write your
# > answers down, then fill in the function and run the check.

# %%
def policy_gradient_eq2(logits: torch.Tensor, q_values: torch.Tensor, visitation: torch.Tensor) -> torch.Tensor:
    """Eq. 2's sum for the softmax policy π(u|s) = softmax(logits[s])[u].

    Inputs: logits θ [S, U], q_values Q(s, u) [S, U] and visitation d(s) [S], all float64; Q and d are
    constants (no gradient flows into them).
    Output: [S, U], entry [s, u] = ∂/∂θ[s, u] of Σ_s' d(s') Σ_u' π(u'|s') Q(s', u').
    """
    # BEGIN SOLUTION
    policy = torch.softmax(logits, dim=-1)  # [S, U]
    values = (policy * q_values).sum(-1, keepdim=True)  # V(s) = Σ_u π(u|s) Q(s, u): [S, 1]
    return visitation[:, None] * policy * (q_values - values)  # ∂π(u|s)/∂θ_su' = π(u)(1[u = u'] − π(u')): [S, U]
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("policy_gradient_eq2", policy_gradient_eq2)

# %% [markdown]
# The experiment uses your function (or the kit's, until yours passes) to take 200 steps of gradient ascent
# on $J(\theta)$ from the $\theta$ of Sec. 1, once with the exact $d^\pi$ (Eq. 2, on-policy) and once with
# the far behaviour policy's $d^b$ (Eq. 3). Which reaches the higher $J$ after the same number of steps?

# %%
eq2_fn = ex.yours_or_kits("policy_gradient_eq2", policy_gradient_eq2)
far_d = th.discounted_visitation(mdp, th.softmax_policy(theta_b))  # d^b of the far behaviour policy: [S]
ascent = {"Eq. 2 (d^π, on-policy)": theta.clone(), "Eq. 3 (d^b fixed)": theta.clone()}
for step in range(1, 201):
    for name, logits in ascent.items():
        _, q_now = th.value_functions(mdp, th.softmax_policy(logits))
        d_now = th.discounted_visitation(mdp, th.softmax_policy(logits)) if name.startswith("Eq. 2") else far_d
        ascent[name] = logits + 0.5 * eq2_fn(logits, q_now, d_now)  # one step of gradient ascent, step size 0.5
    if step in (10, 200):
        print(f"after {step:>3} steps: J =", {name: round(th.objective(mdp, logits).item(), 3)
                                             for name, logits in ascent.items()})
print(f"J at the start: {th.objective(mdp, theta).item():.3f}")
# BEGIN ANSWER
final_j = {name: th.objective(mdp, logits).item() for name, logits in ascent.items()}
assert min(final_j.values()) > 14.3 and abs(final_j["Eq. 2 (d^π, on-policy)"] - final_j["Eq. 3 (d^b fixed)"]) < 0.1
assert final_j["Eq. 3 (d^b fixed)"] > final_j["Eq. 2 (d^π, on-policy)"]  # biased, yet slightly ahead here
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# A state with $d(s) = 0$ contributes a row of zeros; so does a state whose $Q(s,\cdot)$ is constant, since
# then $Q(s,u) - V(s) = 0$ for every $u$ (the baseline $V$ comes from $\sum_u \nabla\pi(u\mid s) = 0$).
#
# In the experiment both runs climb from about 4 to nearly the same $J$, about 14.4. In the tabular case
# each state's block of Eq. 3 is $d^b(s)/d^\pi(s)$ times the true one (Sec. 4), so both directions vanish
# at the same place, the optimal policy: the re-weighting changes the path and the speed, not the
# destination. Here Eq. 3 is even slightly ahead after 200 steps: a biased direction is not necessarily a
# slower one. With parameters shared between states (Exercise 3) the destinations can differ.
# </details>
#
# **Exercise 2 — dropping $\gamma^t$.** Many actor-critic implementations weight every sampled step
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
# BEGIN ANSWER
assert min(no_discount_errors) > 0.1 and min(no_discount_cosines) > 0.9
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# It is not $\nabla J$: the relative error stays above 0.1 as $\gamma' \to 1$. It is still an
# ascent direction here (cosine above 0.9), for the same reason as in Sec. 4: in the tabular case any
# positive re-weighting of the states keeps every state's block pointing the same way. This is the
# "missing $\gamma^t$" of many implementations; it changes which states the update cares about
# (late states count as much as early ones), not whether each state's update is sensible.
# </details>

# %% [markdown]
# **Exercise 3 — shared parameters.** Replace the logits table by logits $\phi(s)^\top\theta$ with
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
# BEGIN ANSWER
assert (feature_cosines < 0).sum() >= 1 and np.median(feature_cosines) > 0.9
# END ANSWER
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
