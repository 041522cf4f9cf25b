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
# # 01 · Where monotonic mixing fails: matrix games
#
# **Goal.** See, by experiment, what the monotonicity constraint of QMIX costs, and what NQMIX does
# about it. Paper: Sec. 3 (Eq. 1) and Sec. 4.2. Time: about a minute in quick mode.
#
# Value-factorisation methods learn one value per agent, $Q_a(\tau^a, u^a)$, and a *mixer* that combines
# them into the joint value $Q_{tot}(\boldsymbol\tau, \mathbf u)$. Each agent then acts on its own $Q_a$.
# That is only safe if the joint greedy action is the tuple of the agents' greedy actions
# (**IGM**, individual-global-max):
#
# $$\arg\max_{\mathbf u} Q_{tot}(\boldsymbol\tau,\mathbf u) =
#   \big(\arg\max_{u^1} Q_1(\tau^1,u^1),\ \dots,\ \arg\max_{u^n} Q_n(\tau^n,u^n)\big) \tag{1}$$
#
# VDN guarantees it with a sum, QMIX with a mixer whose weights are non-negative, so that
# $\partial Q_{tot}/\partial Q_a \ge 0$. Both constraints also limit **which joint values can be
# represented at all**. NQMIX (Sec. 4.2) drops the constraint: its mixer is an unconstrained MLP on
# $[Q_1,\dots,Q_n, s]$, and it gets its policy from per-agent actors instead of from $\arg\max Q_a$.
#
# We compare four methods on the classic non-monotonic game of QTRAN / WQMIX / QPLEX, plus NQMIX trained on
# uniformly random data (to separate *what the critic can represent* from *what its exploration lets it see*).

# %% tags=["parameters"]
FULL_RUN = False  # True: 10 seeds and a longer run (a few minutes on a CPU)
SEEDS = range(10) if FULL_RUN else range(3)
N_UPDATES = 1500 if FULL_RUN else 400  # learner updates, each on 32 freshly collected one-step episodes
DEVICE = "cpu"

# %%
import matplotlib.pyplot as plt
import torch

from nqmix_core.envs.matrix import QTRAN_PAYOFF
from nqmix_core.matrix_games import MATRIX_METHODS, format_table, mixer_signs, run_methods, summarise
from nqmix_core.plotting import q_tot_heatmaps

torch.set_num_threads(1)  # tiny networks: more threads only add overhead
payoff = torch.tensor(QTRAN_PAYOFF)
ACTIONS = "ABC"

# %% [markdown]
# ## The game
# Two agents, three actions each (A, B, C), one step, a shared reward. Rows are agent 1's action,
# columns agent 2's. The best joint action is (A, A) with 8, but if *either* agent plays A alone the team
# gets −12: a miscoordinated attempt at the optimum is punished.

# %%
# NBVAL_CHECK_OUTPUT
print(payoff)
best = torch.nonzero(payoff == payoff.max()).squeeze(0).tolist()
print("optimal joint action:", "".join(ACTIONS[u] for u in best), "with payoff", payoff.max().item())

# %% [markdown]
# ## Why a monotonic mixer cannot represent it
# Suppose $Q_{tot}$ is non-decreasing in each $Q_a$ and represents the payoff. Compare row A with row B
# while agent 2 plays A: $Q_{tot}(A,A)=8 > Q_{tot}(B,A)=-12$, so monotonicity needs $Q_1(A) > Q_1(B)$.
# With agent 2 on B: $Q_{tot}(A,B)=-12 < Q_{tot}(B,B)=0$, so it needs $Q_1(A) < Q_1(B)$. Contradiction:
# the ordering of agent 1's values cannot depend on agent 2's action under monotonic mixing.
# The check below finds every such contradiction in the payoff.

# %%
# NBVAL_CHECK_OUTPUT
def row_order_flips(table):
    """Pairs of agent-1 actions whose payoff order flips with agent 2's action (none if monotonic-representable)."""
    flips = []
    for i in range(table.shape[0]):
        for k in range(i + 1, table.shape[0]):
            diff = table[i] - table[k]
            if (diff > 0).any() and (diff < 0).any():
                flips.append(ACTIONS[i] + " vs " + ACTIONS[k])
    return flips


print("agent 1 orderings that flip:", row_order_flips(payoff))
print("agent 2 orderings that flip:", row_order_flips(payoff.T))
assert row_order_flips(payoff), "the QTRAN payoff is non-monotonic"

# %% [markdown]
# ## Training
# Q-learners (VDN, QMIX) are trained on uniformly random joint actions (ε = 1, as QPLEX does for this
# game), so they see every payoff entry equally often. NQMIX-M and NQMIX sample their own stochastic
# policies (Alg. 1, line 2). "NQMIX, uniform data" is NQMIX trained off-policy on the same uniform data as
# the Q-learners. All use the paper's / pymarl's hyper-parameters (`nqmix_core/config.py`).

# %%
# NBVAL_IGNORE_OUTPUT
import time

start = time.perf_counter()
runs = run_methods(MATRIX_METHODS, payoff, SEEDS, N_UPDATES, DEVICE)
print(f"{len(MATRIX_METHODS)} methods x {len(SEEDS)} seeds in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## What each method learned (seed 0)
# The true payoff beside each method's full learned $Q_{tot}$ table; the black box marks the joint action
# the method picks (greedy $Q_a$ for Q-learners, the most likely action of each actor for NQMIX).

# %%
fig = q_tot_heatmaps(payoff, {k: v[0].q_tot for k, v in runs.items()}, {k: v[0].joint_action for k, v in runs.items()})
plt.show()
qmix = runs["QMIX"][0].q_tot
# QMIX's table is flat where it should be 8: monotonic mixing spreads the −12s over row and column A
assert qmix[0, 0] < 0 and qmix[0, 0] < qmix[1:, 1:].min()
nqmix_uniform = runs["NQMIX, uniform data"][0].q_tot
assert (nqmix_uniform - payoff).abs().max() < 1.5  # NQMIX's critic reproduces the payoff, 8 included

# %% [markdown]
# ## Over all seeds
# *success* = the picked joint action is (A, A); *Q_tot RMSE* = root-mean-square error of the learned
# table against the payoff over all nine joint actions.

# %%
# NBVAL_IGNORE_OUTPUT
# training results: their last digits can change with the CPU, so nbval does not compare them; the
# asserts below check what holds on any machine
rows = {r["method"]: r for r in summarise(runs)}
print(format_table(list(rows.values())))

# %%
for method in ("VDN", "QMIX"):
    assert all(run.payoff[run.joint_action] == 0 for run in runs[method])  # a 0-payoff action on every seed
    assert rows[method]["success_rate"] == 0.0  # monotonic methods never pick (A, A)
    assert rows[method]["q_tot_rmse"] > 4.0  # ... and cannot fit the payoff
assert rows["NQMIX, uniform data"]["q_tot_rmse"] < 0.5  # the non-monotonic critic can
assert rows["NQMIX"]["success_rate"] < 0.5  # but NQMIX still misses (A, A) on most seeds
missed = [run for run in runs["NQMIX"] if not run.success]
assert all(run.q_tot[0, 0] < 0 for run in missed)  # ... and on those seeds its critic never learned the 8

# %% [markdown]
# ## Reading the results
# * **VDN and QMIX** cannot represent the payoff, and the table they do learn makes a 0-payoff action
#   look best: exactly the failure the paper's Sec. 1 describes.
# * **NQMIX's critic can represent it.** Given data on every joint action, its MLP mixer reproduces the
#   payoff, the 8 at (A, A) included.
# * **Yet NQMIX's policy mostly ends on a 0-payoff action too.** Its actors follow Eq. 13: each agent
#   climbs its *own* $Q_a$, in the direction given by $\mathrm{sign}(\partial Q_{tot}/\partial Q_a)$. From
#   a uniform start, A is the worst choice for each agent alone: averaged over the partner's actions it pays
#   less than B or C (computed below). This is *relative overgeneralisation*, and a per-agent policy
#   gradient falls into it just as independent learners do. When NQMIX follows its own policy (the paper's
#   setting), the critic also stops seeing (A, A) once the actors leave A, and never learns the 8.
#
# None of this contradicts the paper, which makes no matrix-game claim; it shows what its argument does
# and does not buy. Notebook 02 looks at the sign trick's direction against the exact gradient.

# %%
# NBVAL_CHECK_OUTPUT
marginal = payoff.mean(dim=1)  # expected payoff of agent 1's action when agent 2 plays uniformly
print("agent 1, partner uniform:", {ACTIONS[i]: round(v, 2) for i, v in enumerate(marginal.tolist())})
assert marginal.argmin() == 0  # A is the worst action against a uniform partner

# %% [markdown]
# ### Does NQMIX use its freedom? The sign of $\partial Q_{tot}/\partial Q_a$
# For seed 0 of "NQMIX, uniform data": the sign of each agent's partial derivative at every joint action.
# QMIX's would be +1 everywhere by construction; a −1 means the actor of that agent is pushed *down*
# its own $Q_a$ there (Eq. 12).

# %%
# NBVAL_IGNORE_OUTPUT
signs = mixer_signs(runs["NQMIX, uniform data"][0])  # [U, U, N]
for agent in range(2):
    print(f"sign(dQ_tot/dQ_{agent + 1}):")
    print(signs[..., agent].int())
assert (signs < 0).any()  # the trained NQMIX mixer does use negative slopes
qmix_signs = mixer_signs(runs["QMIX"][0])
assert (qmix_signs >= 0).all()

# %% [markdown]
# ## Try your own payoff
# Edit the matrix, choose methods, press **Retrain** (a few seconds per method). Try a monotonic game
# such as `[[8, 1, 1], [1, 0, 0], [1, 0, 0]]`: QMIX should now find the optimum.

# %%
# NBVAL_IGNORE_OUTPUT
from nqmix_core.widgets import PayoffEditor

editor = PayoffEditor(QTRAN_PAYOFF)
editor.show()

# %% [markdown]
# ## Exercises
# **Exercise 1 — a monotonic game.** Train QMIX on `[[8, 1, 1], [1, 0, 0], [1, 0, 0]]`. Does it now pick
# (A, A)? Does `row_order_flips` find anything? The cell below runs it.

# %%
# NBVAL_IGNORE_OUTPUT
exercise_payoff = torch.tensor([[8.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
print("flips:", row_order_flips(exercise_payoff))
exercise_runs = run_methods({"QMIX": MATRIX_METHODS["QMIX"]}, exercise_payoff, seeds=range(1), n_updates=N_UPDATES)
print(format_table(summarise(exercise_runs)))

# %% [markdown]
# <details><summary>Solution</summary>
#
# No ordering flips, so a monotonic $Q_{tot}$ can represent the game and IGM holds: QMIX picks (A, A).
# </details>
#
# **Exercise 2 — less punishment.** Replace the −12s of the QTRAN payoff by −2. Which methods now find
# (A, A), and why does the relative-overgeneralisation argument no longer apply? The cell below trains QMIX
# and NQMIX on it (add methods from `MATRIX_METHODS` to see more).

# %%
# NBVAL_IGNORE_OUTPUT
mild_payoff = torch.tensor([[8.0, -2.0, -2.0], [-2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]])
print("agent 1, partner uniform:", [round(v, 2) for v in mild_payoff.mean(dim=1).tolist()])
mild_runs = run_methods({k: MATRIX_METHODS[k] for k in ("QMIX", "NQMIX")}, mild_payoff, seeds=range(1),
                        n_updates=N_UPDATES)
print(format_table(summarise(mild_runs)))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Against a uniform partner A is now the best action for each agent alone ((8 − 2 − 2)/3 ≈ 1.33 > −2/3), so
# per-agent improvement (NQMIX's actors) heads for (A, A). The payoff is still non-monotonic, so QMIX's table
# stays wrong, but its greedy action can now be right.
# </details>
