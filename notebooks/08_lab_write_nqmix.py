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
# # 08 · Lab: write NQMIX's update yourself, and let the notebook check it
#
# In notebooks 01–07 the kit computed everything; here **you write the code**. Each exercise is one
# function with its inputs, outputs and shapes in the docstring. The cell after it compares your
# function with the kit's own implementation on random inputs and prints `pass`, or `not yet:` and a
# hint. A check never raises, so the notebook runs from top to bottom even while functions are blank.
#
# | exercise | what you write | paper | compared with |
# |---|---|---|---|
# | (a) | the state-value target $y = r + \gamma(1-\text{terminated})\,\mathrm{Mixer}'[V'_1..V'_n, s']$ | Alg. 1 lines 8–12 | `losses.state_values`, `losses.td_targets` |
# | (b) | the sign term $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)$ by autograd | Eq. 13, Alg. 1 line 14 | `losses.mixer_gradient_sign` |
# | (c) | NQMIX's actor objective, as a loss | Eq. 13, Alg. 1 lines 5, 14, 15 | `losses.actor_loss` |
# | (d) | COMA's counterfactual baseline | Eqs. 5–6 | `losses.counterfactual_baseline` |
# | (e) | the decision rule of the claims table | notebook 05 | `results.compare`, `Comparison.outcome` |
#
# Write each body with `torch`, `numpy` and `scipy`; do not call the kit function it is compared with
# (reading its source afterwards is a good way to compare styles). Every exercise ends with an experiment
# that uses your function, or the kit's until yours passes: **predict before you run** each one, in a
# sentence, and compare afterwards.
#
# *Editions:* in the instructor edition (the kit's `notebooks/`) each function holds a reference
# solution between two marker comments, BEGIN SOLUTION and END SOLUTION, and each experiment checks the
# outcome it predicts between BEGIN ANSWER and END ANSWER; `nqmix student-edition --out DIR` writes the
# student edition, where each function body is replaced by `# YOUR CODE HERE` and `return None` and the
# answer checks are left out. A check also says "not yet" to a function that calls the kit's own.

# %% tags=["parameters"]
FULL_RUN = False  # True: more simulated experiments in Sec. 5 (still seconds)
SEED = 0
N_TRIALS = 200  # simulated repetitions per cell of the seeds experiment (Sec. 5)

# %%
if FULL_RUN:
    N_TRIALS = 2000

import math
import time

import numpy as np
import pandas as pd
import torch
from scipy import stats

from nqmix_core.teaching import exercises as ex
from nqmix_core import losses, results
from nqmix_core.envs.matrix import QTRAN_PAYOFF

torch.set_num_threads(1)  # every tensor here is tiny
NOTEBOOK_START = time.perf_counter()

# %% [markdown]
# ## 0 · The conventions of the checks (the kit's own)
#
# A batch holds $B$ episodes padded to $T$ steps, $N$ agents and $U$ actions, in the axis order
# `[B, T, N, U]`. `filled` (the *mask*) is 1 on real steps and 0 on the padding after an episode ended.
# On a padded step no action is available, and the kit's masked softmax is then uniform over all
# actions, so **a sum over actions must use the availability mask**. `terminated` marks a real end of
# the task; an episode cut by the time limit is not terminated and still bootstraps. Here is the random
# batch the checks draw (with another seed each):

# %%
# NBVAL_CHECK_OUTPUT
batch = ex.lab_batch()
for field in ("policy", "agent_qs", "avail", "actions", "reward", "terminated", "filled", "state"):
    value = getattr(batch, field)
    print(f"{field:10s} {str(list(value.shape)):14s} {str(value.dtype).replace('torch.', '')}")
print("filled (episodes of 5, 3, 2 and 1 steps):\n", batch.filled.int().numpy())
print("terminated (episodes 0 and 2 end for real, 1 and 3 time out):\n", batch.terminated.int().numpy())
print("a padded step: avail", batch.avail[3, 2, 0].tolist(), "policy", batch.policy[3, 2, 0].tolist())

# %% [markdown]
# ## 1 · Exercise (a): the state-value target (Alg. 1 lines 8–12)
#
# NQMIX's critic regresses $Q_{tot}$ on a target built from **state values** of the *target* policy:
#
# $$V'_a(\tau^a_{t+1}) = \sum_u \pi_a(u\mid\tau^a_{t+1};\theta')\, Q'_a(\tau^a_{t+1}, u) \quad\text{(line 9)},
# \qquad y_t = r_t + \gamma\,(1-\text{terminated}_t)\,\mathrm{Mixer}'[V'_1, \dots, V'_n, s_{t+1}] \quad\text{(lines 11–12)}.$$
#
# Sum over the available actions only, and bootstrap after a time-out but not after a real termination.
#
# <details><summary>Hint</summary>
#
# $V'$ is a sum over the last axis (the actions) in which an unavailable action counts as zero: on a
# padded step the policy is uniform although nothing is available, and that step must add nothing. $V'$
# has shape `[B, T, N]`; the mixer maps it and the `[B, T, S]` state to `[B, T]`. Which factor stops the
# bootstrap after a real termination, and which one discounts it?
# </details>

# %%
def state_value_target(target_policy, target_qs, avail_next, reward, terminated, next_state, target_mixer, gamma):
    """NQMIX's TD target y_t = r_t + γ·(1 − terminated_t)·Mixer'[V'_1..V'_n, s_{t+1}] (Alg. 1 lines 8–12).

    | argument      | shape           | meaning                                                  |
    |---------------|-----------------|----------------------------------------------------------|
    | target_policy | [B, T, N, U]    | π_a(u|τ_{t+1}; θ'), the target actors at the next step    |
    | target_qs     | [B, T, N, U]    | Q'_a(τ_{t+1}, u), the target agent network                |
    | avail_next    | [B, T, N, U]    | bool: u is available at t+1 (all False on padded steps)   |
    | reward        | [B, T]          | r_t                                                      |
    | terminated    | [B, T]          | bool: the task really ended after step t                  |
    | next_state    | [B, T, S]       | s_{t+1}                                                  |
    | target_mixer  | module          | Mixer'(values [B, T, N], state [B, T, S]) -> [B, T]       |
    | gamma         | float           | discount γ                                               |
    | returns       | [B, T]          | y_t                                                      |
    """
    # BEGIN SOLUTION
    weighted = torch.where(avail_next, target_policy * target_qs, torch.zeros_like(target_qs))  # [B, T, N, U]
    next_v = weighted.sum(-1)  # [B, T, N], V'_a (line 9)
    next_v_tot = target_mixer(next_v, next_state)  # [B, T], V'_tot (line 11)
    return reward + gamma * (1.0 - terminated.float()) * next_v_tot  # [B, T], y (line 12)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("state_value_target", state_value_target)

# %% [markdown]
# ### Experiment: does the state-value target sit below the max target?
#
# QMIX bootstraps from $\max_u Q'_a$; NQMIX from $V'_a = \sum_u \pi'_a(u)\,Q'_a(u)$, and an average
# never exceeds a maximum. The paper concludes that NQMIX's target is not overestimated (Sec. 1).
#
# **Predict before you run.** On random batches, in what fraction of real steps is NQMIX's target $y$
# *above* the max target $r + \gamma(1-\text{terminated})\,\mathrm{Mixer}'[\max_u Q'_1, \dots, s']$,
# (i) with QMIX's monotonic mixer, (ii) with NQMIX's unconstrained MLP mixer? Write your two guesses down.

# %%
# NBVAL_IGNORE_OUTPUT
target_fn = ex.yours_or_kits("state_value_target", state_value_target)
above = {}
with torch.no_grad():
    for name in ("qmix", "nqmix"):
        mixer = ex.seeded_mixer(name, seed=SEED)
        counts = []
        for seed in range(20):
            b = ex.lab_batch(seed=100 + seed)
            y_state = target_fn(b.next_policy, b.next_qs, b.next_avail, b.reward, b.terminated, b.next_state,
                                mixer, 0.99)  # [B, T]
            max_qs = losses.greedy_next_values(b.next_qs, None, b.next_avail)  # [B, T, N]
            y_max = losses.td_targets(b.reward, b.terminated, mixer(max_qs, b.next_state), 0.99)  # [B, T]
            counts.append((y_state > y_max + 1e-5)[b.filled > 0].float())
        above[name] = torch.cat(counts).mean().item()
        print(f"{name:6s} mixer: y above the max target on {above[name]:.0%} of the real steps")
# BEGIN ANSWER
assert above["qmix"] == 0.0  # a monotonic mixer keeps V' <= max Q' in order
assert above["nqmix"] > 0.05  # a non-monotonic one does not
# END ANSWER

# %% [markdown]
# With a monotonic mixer, $V'_a \le \max_u Q'_a$ for every agent carries over to the joint target, so
# NQMIX's target is never above QMIX's. With NQMIX's own mixer it often is: where
# $\partial Q_{tot}/\partial Q_a < 0$, a *smaller* $V'_a$ gives a *larger* $V'_{tot}$. The argument of
# Sec. 1 needs monotonicity, the very thing NQMIX removes (notebook 03 measures the overestimation
# directly).
#
# ## 2 · Exercise (b): the sign term $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)$
#
# NQMIX's actor step (Eq. 13) raises agent $a$'s performance where raising $Q_a$ raises $Q_{tot}$ and
# lowers it otherwise. Compute $\mathrm{sgn}(\partial Q_{tot}/\partial Q_a)$ at the sampled joint
# action, for every $(b, t, a)$, with autograd. Three rules: the result is a constant (no graph), no
# gradient may land on the mixer's weights (the critic's optimiser would see it), and one backward pass
# is enough, because $Q_{tot}[b, t]$ depends only on the $N$ values of the same $(b, t)$.
#
# <details><summary>Hint</summary>
#
# Differentiate with respect to a copy of the Q-values that is a leaf of a graph of its own, so that
# nothing flows back into the critic. Ask autograd for the gradient of one scalar, the sum of $Q_{tot}$
# over all $(b, t)$, with respect to that copy *only* (not `.backward()`, which also fills the mixer's
# `.grad`): each $(b, t, a)$ entry of the result is $\partial Q_{tot}[b, t]/\partial Q_a[b, t]$.
# </details>

# %%
def mixer_sign(mixer, chosen_qs, state):
    """sign(∂Q_tot/∂Q_a) at the sampled joint action, by autograd (Eq. 13, Alg. 1 line 14).

    | argument  | shape        | meaning                                            |
    |-----------|--------------|----------------------------------------------------|
    | mixer     | module       | Mixer(agent values [B, T, N], state [B, T, S]) -> Q_tot [B, T] |
    | chosen_qs | [B, T, N]    | Q_a(τ_t, u_t^a) of the actions taken                |
    | state     | [B, T, S]    | s_t                                                |
    | returns   | [B, T, N]    | −1, 0 or +1, detached; no .grad on the mixer's weights |
    """
    # BEGIN SOLUTION
    with torch.enable_grad():
        qs = chosen_qs.detach().requires_grad_(True)  # a fresh leaf: nothing reaches the critic
        q_tot = mixer(qs, state.detach())  # [B, T]
        (grad,) = torch.autograd.grad(q_tot.sum(), qs)  # [B, T, N], ∂Q_tot[b, t]/∂Q_a[b, t]
    return torch.sign(grad)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("mixer_sign", mixer_sign)

# %% [markdown]
# ### Experiment: how often is the slope negative at initialisation?
#
# **Predict before you run.** For a freshly initialised mixer and random inputs, what fraction of the
# signs is −1 for QMIX's mixer (hypernetwork weights through `abs`), NQMIX-M's (the same without `abs`)
# and NQMIX's MLP? Guess three numbers.

# %%
# NBVAL_IGNORE_OUTPUT
sign_fn = ex.yours_or_kits("mixer_sign", mixer_sign)
g = torch.Generator().manual_seed(SEED)
chosen_qs = 3.0 * torch.randn(64, 8, 3, generator=g)  # [B, T, N]
state = torch.randn(64, 8, 6, generator=g)  # [B, T, S]
negative = {}
for name in ("qmix", "qmix-no-abs", "nqmix"):
    signs = sign_fn(ex.seeded_mixer(name, seed=SEED), chosen_qs, state)  # [B, T, N]
    negative[name] = (signs < 0).float().mean().item()
    print(f"{name:12s} negative signs: {negative[name]:.0%}")
# BEGIN ANSWER
assert negative["qmix"] == 0.0
assert 0.05 < negative["qmix-no-abs"] < 0.95 and 0.05 < negative["nqmix"] < 0.95
# END ANSWER

# %% [markdown]
# QMIX's slopes are never negative: that is its monotonicity constraint (Eq. 1). Without it, a fresh
# mixer already gives a good share of negative slopes, and each one turns that agent's actor step
# around. Notebook 03 follows these fractions through training.
#
# ## 3 · Exercise (c): NQMIX's actor objective (Eq. 13)
#
# Alg. 1 line 14 moves each actor by
# $\theta_a \leftarrow \theta_a + \alpha\, I_t\, \mathrm{sgn}(\partial Q_{tot}/\partial Q_a) \sum_u \nabla\pi_a(u\mid\tau^a_t)\, Q_a(\tau^a_t, u)$
# with $I_t = \gamma^t$ (lines 5 and 15). The kit takes one step per mini-batch, as gradient descent on
#
# $$L = -\frac{1}{\sum_{b,t} \text{mask}_{b,t}} \sum_{b,t,a} \gamma^t\, \text{mask}_{b,t}\, \text{sign}_{b,t,a} \sum_u \pi_a(u\mid\tau^a_t)\, Q_a(\tau^a_t, u),$$
#
# the per-step updates averaged over the real steps of the batch (not over steps × agents). $Q_a$ and
# the sign are constants here: the actor step must never move the critic.
#
# <details><summary>Hint</summary>
#
# $I_t$ is one weight per time step, shape `[T]`: $\gamma$ to the power of the step's index. Give it and
# the `[B, T]` mask axes of size 1 where `[B, T, N]` has axes they lack, so that they broadcast over
# episodes and agents. $Q_a$ and the sign enter as constants: keep them out of the graph.
# </details>

# %%
def actor_objective(policy, agent_qs, sign, mask, gamma):
    """NQMIX's actor loss L (Eq. 13, Alg. 1 line 14): gradient descent on L is the paper's actor ascent.

    | argument | shape        | meaning                                                |
    |----------|--------------|--------------------------------------------------------|
    | policy   | [B, T, N, U] | π_a(u|τ_t^a), with gradient (zero on unavailable actions) |
    | agent_qs | [B, T, N, U] | Q_a(τ_t^a, u) from the critic (may carry a gradient)     |
    | sign     | [B, T, N]    | sign(∂Q_tot/∂Q_a) from exercise (b)                     |
    | mask     | [B, T]       | 1 on real steps, 0 on padding                          |
    | gamma    | float        | discount γ; step t is weighted by I_t = γ^t            |
    | returns  | []           | the loss, a 0-dim tensor whose gradient reaches π only  |
    """
    # BEGIN SOLUTION
    discount = gamma ** torch.arange(policy.shape[1], dtype=policy.dtype, device=policy.device)  # [T], I_t
    expected_q = (policy * agent_qs.detach()).sum(-1)  # [B, T, N], Σ_u π(u)·Q(u)
    weight = sign.detach() * discount.view(1, -1, 1) * mask.unsqueeze(-1)  # [B, T, N]
    return -(weight * expected_q).sum() / mask.sum().clamp(min=1)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("actor_objective", actor_objective)

# %% [markdown]
# ### Experiment: one actor, two signs
#
# Two agents, one state, three actions; both have $Q_a = (1, 0, 2)$. Agent 1's mixer slope is positive,
# agent 2's negative. Each actor is a softmax over three logits, trained by 200 steps of gradient
# descent on your loss.
#
# **Predict before you run.** Which action will each agent's policy end up preferring?

# %%
# NBVAL_CHECK_OUTPUT
objective_fn = ex.yours_or_kits("actor_objective", actor_objective)
logits = torch.zeros(2, 3, requires_grad=True)  # [N, U], one softmax actor per agent
agent_values = torch.tensor([[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]]).view(1, 1, 2, 3)  # [B=1, T=1, N, U]
slope_signs = torch.tensor([1.0, -1.0]).view(1, 1, 2)  # [B, T, N]
optimiser = torch.optim.SGD([logits], lr=0.5)
for _ in range(200):
    optimiser.zero_grad()
    policy = torch.softmax(logits, -1).view(1, 1, 2, 3)  # [B, T, N, U]
    objective_fn(policy, agent_values, slope_signs, torch.ones(1, 1), 0.99).backward()
    optimiser.step()
final_policy = torch.softmax(logits.detach(), -1)  # [N, U]
for agent in range(2):
    best = int(final_policy[agent].argmax())
    print(f"agent {agent + 1} (sign {int(slope_signs[0, 0, agent]):+d}): prefers action {best}, "
          f"where Q_a = {agent_values[0, 0, agent, best]:.0f}")
# BEGIN ANSWER
assert final_policy[0].argmax() == 2 and final_policy[1].argmax() == 1 and final_policy.max(-1).values.min() > 0.9
# END ANSWER

# %% [markdown]
# Agent 2 learns to *lower* its own $Q_a$: with a negative slope, that raises $Q_{tot}$. This is all the
# sign trick does, and why the mixer may now be non-monotonic.
#
# ## 4 · Exercise (d): COMA's counterfactual baseline (Eqs. 5–6)
#
# COMA, the paper's on-policy baseline method, assigns credit with the advantage
# $A^a(s, \mathbf u) = Q(s, \mathbf u) - \sum_{u'} \pi_a(u'\mid\tau^a)\, Q(s, (\mathbf u^{-a}, u'))$
# (Eq. 6): what the team got, minus what it would have got on average had agent $a$ alone drawn
# another action from its policy while the others kept theirs. Write the second term, the baseline,
# from a table of joint values $Q(s, \mathbf u)$ (in a matrix game the table is the payoff).
#
# <details><summary>Hint</summary>
#
# Axis 0 of the table is the episode and axis $1 + a$ is agent $a$'s action. Fix every other agent's
# axis at the action it took and leave agent $a$'s axis whole: that is the row
# $Q(s, (\mathbf u^{-a}, \cdot))$ of $U$ values per episode. Its average under agent $a$'s own policy is $b_a$.
# </details>

# %%
def counterfactual_baseline(policy, joint_q, actions):
    """COMA's baseline b_a = Σ_{u'} π_a(u'|τ^a)·Q(s, (u^{-a}, u')), the second term of Eq. 6.

    | argument | shape              | meaning                                                   |
    |----------|--------------------|-----------------------------------------------------------|
    | policy   | [B, N, U]          | π_a(u'|τ^a), zero on unavailable actions                  |
    | joint_q  | [B, U, U, ..., U]  | Q(s, u) for every joint action; axis 1 + a is agent a's action |
    | actions  | [B, N] int64       | the joint action u taken                                  |
    | returns  | [B, N]             | b_a for every agent                                       |
    """
    # BEGIN SOLUTION
    n_episodes, n_agents = actions.shape
    baselines = []
    for a in range(n_agents):
        index = [torch.arange(n_episodes), *actions.unbind(-1)]  # the joint action taken ...
        index[1 + a] = slice(None)  # ... with agent a's own action free: u'
        q_counterfactual = joint_q[tuple(index)]  # [B, U], Q(s, (u^{-a}, u'))
        baselines.append((policy[:, a] * q_counterfactual).sum(-1))  # [B]
    return torch.stack(baselines, dim=1)  # [B, N]
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("counterfactual_baseline", counterfactual_baseline)

# %% [markdown]
# ### Experiment: COMA's credit on the QTRAN game
#
# Notebook 01's non-monotonic game: 8 when both agents play A, −12 when only one does, 0 otherwise.
# Both policies are uniform.
#
# **Predict before you run.** Is agent 1's advantage for playing A positive when agent 2 plays A? When
# agent 2 plays B? And averaged over agent 2's uniform policy, does COMA's gradient push agent 1
# towards A or away from it?

# %%
# NBVAL_CHECK_OUTPUT
baseline_fn = ex.yours_or_kits("counterfactual_baseline", counterfactual_baseline)
payoff = torch.tensor(QTRAN_PAYOFF)  # [U, U]
joint_actions = torch.cartesian_prod(torch.arange(3), torch.arange(3))  # [9, N]: every (u1, u2)
uniform = torch.full((9, 2, 3), 1 / 3)  # [B, N, U]
advantage = payoff[joint_actions[:, 0], joint_actions[:, 1]] - baseline_fn(
    uniform, payoff.expand(9, 3, 3), joint_actions)[:, 0]  # [9], agent 1's A^1(s, u), Eq. 6
table = pd.DataFrame(advantage.view(3, 3).double().numpy(), index=[f"agent 1 plays {c}" for c in "ABC"],
                     columns=[f"agent 2 plays {c}" for c in "ABC"])
print("agent 1's advantage A^1:\n" + table.to_string(float_format="{:+.2f}".format))
expected = table.mean(axis=1)  # under agent 2's uniform policy
print("\nexpected advantage for agent 1 (agent 2 uniform):",
      ", ".join(f"{c} {v:+.2f}" for c, v in zip("ABC", expected)))
# BEGIN ANSWER
assert expected.iloc[0] < 0 < expected.iloc[1]
# END ANSWER

# %% [markdown]
# Against a partner who plays A, A earns a large positive advantage (+13.33); against B or C it earns
# −8. On average COMA pushes agent 1 *away* from A: the relative overgeneralisation of notebook 01, seen
# in the advantage itself. The baseline removes variance; it does not change what the policy gradient
# wants under the current partner.
#
# ## 5 · Exercise (e): the decision rule of the claims table
#
# Notebook 05 starts every comparison of two methods on a map from one rule (`nqmix_core/results.py`),
# written before any data were read; the claims "X ≥ Y" and "between" then add the equivalence test of
# notebook 05's exercise 4, so the `"tied"` below describes a comparison and never by itself makes a claim
# hold. From the per-seed final win rates $x_1..x_n$ of X and $y_1..y_m$ of Y:
#
# * the difference $d = \bar x - \bar y$ and its Welch 95% interval $d \pm t_{0.975,\nu}\,\mathrm{se}$ with
#   $\mathrm{se}^2 = s_x^2/n + s_y^2/m$ (sample variances, `ddof=1`) and Welch's degrees of freedom
#   $\nu = \mathrm{se}^4 / \big((s_x^2/n)^2/(n-1) + (s_y^2/m)^2/(m-1)\big)$; if neither sample varies
#   (se = 0) the interval is the single point $d$;
# * the verdict: `"X better"` if the interval lies above 0, `"Y better"` if below; otherwise `"tied"`
#   when its half-width is below `results.TIE_WIDTH` (0.10) **and** at least one method learned
#   something, $\max(\bar x, \bar y) \ge$ `results.LEARNED` (0.05); else `"unclear"`.
#
# <details><summary>Hint</summary>
#
# With 2 to 6 seeds the normal quantile 1.96 is too small: the quantile comes from Student's $t$
# distribution with $\nu$ degrees of freedom (`scipy.stats.t` has its inverse CDF). Two methods that both
# stay at 0% are not "tied": nothing was learned, so the data say nothing about which is better.
# </details>

# %%
def welch_verdict(x, y):
    """The comparison behind the claims table's "X vs Y" on one map (``results.compare``, ``Comparison.outcome``).

    | argument | type / shape       | meaning                                   |
    |----------|--------------------|-------------------------------------------|
    | x        | np.ndarray [n]     | X's final win rate per seed, n ≥ 2         |
    | y        | np.ndarray [m]     | Y's final win rate per seed, m ≥ 2         |
    | returns  | (float, float, str) | low and high of the 95% interval of mean(x) − mean(y), and the verdict |

    The verdict is one of "X better", "Y better", "tied" or "unclear".
    """
    # BEGIN SOLUTION
    var_x, var_y = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    diff, se = x.mean() - y.mean(), math.sqrt(var_x + var_y)
    if se == 0:
        low = high = diff
    else:
        dof = (var_x + var_y) ** 2 / (var_x ** 2 / (len(x) - 1) + var_y ** 2 / (len(y) - 1))
        half = stats.t.ppf(0.975, dof) * se
        low, high = diff - half, diff + half
    if low > 0:
        return low, high, "X better"
    if high < 0:
        return low, high, "Y better"
    learned = max(x.mean(), y.mean()) >= results.LEARNED
    return low, high, "tied" if learned and (high - low) / 2 < results.TIE_WIDTH else "unclear"
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("welch_verdict", welch_verdict)

# %% [markdown]
# ### Experiment: how many seeds does a verdict need?
#
# Simulated methods whose per-seed final win rates scatter with a standard deviation of 0.15 over seeds
# (about what `data/reproduction_cpu` shows on 2s3z). Two scenarios: a real difference (X at 0.60, Y at
# 0.45), and no difference at all (both at 0.50).
#
# **Predict before you run.** With 3 seeds per method, as in the paper, how often does the rule find
# the real difference ("X better")? With 10 seeds? And with no difference, how many seeds until the rule
# says "tied" in half of the experiments?

# %%
# NBVAL_IGNORE_OUTPUT
verdict_fn = ex.yours_or_kits("welch_verdict", welch_verdict)
rng = np.random.default_rng(SEED)
rows = []
for scenario, (mean_x, mean_y) in {"difference 0.15": (0.60, 0.45), "no difference": (0.50, 0.50)}.items():
    for n_seeds in (3, 5, 10, 20):
        verdicts = [verdict_fn(np.clip(rng.normal(mean_x, 0.15, n_seeds), 0, 1),
                               np.clip(rng.normal(mean_y, 0.15, n_seeds), 0, 1))[2] for _ in range(N_TRIALS)]
        rows.append({"scenario": scenario, "seeds": n_seeds,
                     **{v: verdicts.count(v) / N_TRIALS for v in ("X better", "Y better", "tied", "unclear")}})
power = pd.DataFrame(rows).set_index(["scenario", "seeds"])
print(power.round(2).to_string())
# BEGIN ANSWER
found = power.loc["difference 0.15", "X better"]
tied = power.loc["no difference", "tied"]
assert found[3] < 0.5 < found[20] and (power.loc["difference 0.15", "Y better"] < 0.05).all()
assert tied[3] < 0.05 and tied[20] > 0.3
# END ANSWER

# %% [markdown]
# With 3 seeds the rule finds a real difference of 0.15 in only a minority of experiments; declaring
# two methods equal takes around 20 seeds, because a tie must be *shown* by a narrow interval, not
# assumed from an overlap. And with no difference at all, about one experiment in twenty still reads
# "X better" or "Y better": that is what a 95% interval means. This is why so many entries of notebook
# 05's claims table read "inconclusive" and say which way they lean.
#
# ## Scoreboard

# %%
# NBVAL_CHECK_OUTPUT
yours = [state_value_target, mixer_sign, actor_objective, counterfactual_baseline, welch_verdict]
for letter, fn in zip("abcde", yours):
    print(f"({letter}) {fn.__name__:24s} {ex.verdict(fn.__name__, fn).split(':')[0]}")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"notebook ran in {time.perf_counter() - NOTEBOOK_START:.0f} s")

# %% [markdown]
# ## Going further (no checks)
#
# **Question 1.** Exercise (c) detaches $Q_a$. What would the actor loss's gradient do to the critic if
# it did not, and why would that be wrong?
#
# <details><summary>Solution</summary>
#
# It would move the agent network to raise (where the sign is +1) or lower (−1) its own Q-values along
# the actor's objective: the critic would chase the policy instead of the return, and its TD regression
# (line 13) would be fighting a second, unrelated gradient. The paper keeps the two updates apart; so
# does the kit (`losses.actor_loss` detaches $Q_a$ and the sign).
# </details>
#
# **Question 2.** Use your `counterfactual_baseline` to write COMA's advantage (Eq. 6) for every agent,
# and check it against `losses.counterfactual_advantage` with `ex.counterfactual_qs` as the critic.
#
# <details><summary>Solution</summary>
#
# `advantage = joint_q[(torch.arange(B), *actions.unbind(-1))][:, None] - counterfactual_baseline(policy, joint_q, actions)`
# — the first term is the value of the joint action taken, the same for every agent. It equals
# `losses.counterfactual_advantage(policy, ex.counterfactual_qs(joint_q, actions), actions)`.
# </details>
