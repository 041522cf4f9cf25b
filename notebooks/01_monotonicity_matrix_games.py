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
# **Learning goals.** After this notebook you can
# 1. say what a mixer is, state IGM (Eq. 1), and check by autograd that QMIX's mixer is monotonic and NQMIX's is not;
# 2. show by a two-line argument, and by training, that a monotonic mixer cannot represent a non-monotonic payoff;
# 3. tell apart what a critic can *represent* from what a policy *finds*, and recognise relative
#    overgeneralisation in NQMIX's actors;
# 4. decide for any two-agent payoff whether a monotonic mixer can represent it (exercise 1).
#
# **Prerequisites.** Single-agent Q-learning (targets, greedy policies, a target network); the idea of a
# policy gradient.
#
# **Class time.** 50 minutes. **Paper.** Sec. 3 (Eq. 1), Sec. 4.2 (Eq. 13), Sec. 5.2 (NQMIX-M).
#
# This notebook first says what QMIX is (a primer, with the kit's real mixers), then compares four methods on
# the classic non-monotonic game of QTRAN / WQMIX / QPLEX, plus NQMIX trained on uniformly random data (to
# separate *what the critic can represent* from *what its exploration lets it see*), and finally opens up
# NQMIX's agents to see why its actors choose what they choose.

# %% tags=["parameters"]
FULL_RUN = False  # True: 10 seeds and longer runs
SEEDS = range(10) if FULL_RUN else range(3)
N_UPDATES = 1500 if FULL_RUN else 400  # learner updates, each on 32 freshly collected one-step episodes
DEVICE = "cpu"

# %%
import matplotlib.pyplot as plt
import torch

from nqmix_core.registry import algo_config
from nqmix_core.envs.matrix import QTRAN_PAYOFF
from nqmix_core.teaching import exercises as ex
from nqmix_core.teaching.matrix_games import (MATRIX_METHODS, MatrixTrainer, format_agent_values, format_table,
                                     marginal_payoffs, mixer_signs, run_methods, summarise)
from nqmix_core.networks import make_mixer
from nqmix_core.plotting import q_tot_heatmaps, smallest_text_points

torch.set_num_threads(1)  # tiny networks: more threads only add overhead
payoff = torch.tensor(QTRAN_PAYOFF)
ACTIONS = "ABC"

# %% [markdown]
# ## Primer: from one Q-function to many, and what QMIX's mixer is
# In single-agent Q-learning you learn $Q(s,u)$, act greedily on it, and regress it on the target
# $y = r + \gamma \max_{u'} Q'(s',u')$, with $Q'$ a slowly updated copy (the target network). With $n$
# agents sharing one reward, two things break: the joint action space has $|U|^n$ entries, and at execution
# each agent sees only its own action-observation history $\tau^a$, so it cannot look up a joint $Q$.
#
# **Value factorisation** learns one value per agent, $Q_a(\tau^a, u^a)$ (in practice one shared network
# that is also told the agent's id), and a **mixer** that combines the agents' chosen values into the
# joint value $Q_{tot}(\boldsymbol\tau, \mathbf u) = f_s\big(Q_1(\tau^1,u^1), \dots, Q_n(\tau^n,u^n)\big)$.
# Only $Q_{tot}$ is regressed on the team reward; the gradient reaches every $Q_a$ through the mixer. The
# mixer may read the global state $s$, since it is used only in training (centralised training,
# decentralised execution). Each agent then acts greedily on its own $Q_a$. That is only safe if the joint
# greedy action is the tuple of the agents' greedy actions (**IGM**, individual-global-max, the paper's Eq. 1):
#
# $$\arg\max_{\mathbf u} Q_{tot}(\boldsymbol\tau,\mathbf u) =
#   \big(\arg\max_{u^1} Q_1(\tau^1,u^1),\ \dots,\ \arg\max_{u^n} Q_n(\tau^n,u^n)\big) \tag{1}$$
#
# * **VDN** mixes by a sum, $Q_{tot} = \sum_a Q_a$: $\partial Q_{tot}/\partial Q_a = 1$, so maximising each
#   term maximises the sum and IGM holds. It can only represent payoffs that are a sum of one term per agent.
# * **QMIX** mixes with a small network whose weights are not parameters: *hypernetworks*, small MLPs that
#   read the state $s$, output them,
#   $Q_{tot} = \mathrm{elu}\big(\mathbf q^\top |W_1(s)| + b_1(s)\big)\cdot|\mathbf w_2(s)| + V(s)$ with
#   $\mathbf q = (Q_1,\dots,Q_n)$. The $|\cdot|$ (an `abs()` on the hypernetworks' outputs) makes every weight
#   non-negative and elu is increasing, so $\partial Q_{tot}/\partial Q_a \ge 0$: $Q_{tot}$ is **monotonic** in
#   each $Q_a$, raising any agent's value never lowers the team's, and IGM follows. The state can change
#   how much each agent counts, never the sign.
# * **QMIX's target** is Q-learning's, $y = r + \gamma \max_{\mathbf u'} Q'_{tot}(\boldsymbol\tau', \mathbf u')$;
#   thanks to IGM the max is taken agent by agent. A max over noisy estimates is biased upwards, and the
#   paper (Sec. 1, limitation 2) says QMIX's target **overestimates**; NQMIX replaces it by a state value
#   (Alg. 1 line 9). In this notebook's games every episode ends after one step, so every method's target is
#   just $r$: what differs below is the mixer and how actions are chosen. Notebook 03 tests the overestimation claim.
# * **NQMIX** (Sec. 4.2) drops the constraint: its mixer is a plain MLP on $[Q_1,\dots,Q_n, s]$ whose weights
#   may have any sign. Greedy $Q_a$ then no longer finds the best joint action, so each agent gets an actor
#   $\pi_a(u \mid \tau^a)$ trained by Eq. 13,
#   $\theta \leftarrow \theta + \alpha\,\mathrm{sign}(\partial Q_{tot}/\partial Q_a)\,\gamma^t \sum_u \nabla\pi_a(u\mid\tau^a)\,Q_a(\tau^a,u)$:
#   it climbs its own $Q_a$ where raising $Q_a$ raises $Q_{tot}$, and descends it where that lowers $Q_{tot}$.
# * **NQMIX-M** is the paper's ablation (Sec. 5.2): NQMIX with QMIX's hypernetwork mixer *without* the
#   `abs()`. In the kit it is the preset `nqmix-m`: the NQMIX learner with mixer `"qmix-no-abs"`.
#
# The cell below builds each method's mixer as its preset does (`algo_config(name).mixer` → `make_mixer`),
# freshly initialised, feeds it random agent values and states, and checks by autograd what the `abs()` buys.

# %%
# NBVAL_CHECK_OUTPUT
N_AGENTS, STATE_DIM, N_SAMPLES = 2, 4, 1000
gen = torch.Generator().manual_seed(0)
sample_qs = 5 * torch.randn(N_SAMPLES, N_AGENTS, generator=gen)  # [B, N]: random agent values Q_a
sample_states = torch.randn(N_SAMPLES, STATE_DIM, generator=gen)  # [B, S]: random states


def weights_on_agent_values(mixer, states):
    """The weights that multiply Q_1..Q_n in the mixer's first layer (a throwaway helper for this table)."""
    if hasattr(mixer, "hyper_w1"):  # QMIX-style: output by a hypernetwork from s, abs() unless NQMIX-M
        raw = mixer.hyper_w1(states)  # [B, N·E]
        return raw, raw.abs() if mixer.absolute else raw
    if hasattr(mixer, "hidden"):  # NQMIX: ordinary parameters of an MLP on [Q_1..Q_n, s]
        return None, mixer.hidden.weight[:, :N_AGENTS]  # [H, N]
    return None, torch.ones(N_AGENTS)  # VDN: Q_tot = Σ_a Q_a


print(f"{'algorithm':<10}{'mixer':<13}{'hypernetwork':>14}{'weights on Q_a':>16}{'∂Q_tot/∂Q_a':>14}{'% samples':>11}")
print(f"{'':<10}{'':<13}{'output < 0':>14}{'all ≥ 0':>16}{'all ≥ 0':>14}{'slope < 0':>11}")
slopes = {}
for algo in ("vdn", "qmix", "nqmix-m", "nqmix"):
    config = algo_config(algo)
    torch.manual_seed(0)
    mixer = make_mixer(config.mixer, N_AGENTS, STATE_DIM, config.mixer_embed_dim, config.hypernet_hidden_dim)
    with torch.no_grad():
        raw, used = weights_on_agent_values(mixer, sample_states)
    qs = sample_qs.clone().requires_grad_(True)
    (slopes[algo],) = torch.autograd.grad(mixer(qs, sample_states).sum(), qs)  # [B, N]: ∂Q_tot/∂Q_a per sample
    raw_negative = "—" if raw is None else str(bool((raw < 0).any()))
    share = 100 * (slopes[algo] < 0).sum().item() / slopes[algo].numel()
    print(f"{algo:<10}{config.mixer:<13}{raw_negative:>14}{str(bool((used >= 0).all())):>16}"
          f"{str(bool((slopes[algo] >= 0).all())):>14}{share:>10.1f}%")
assert (slopes["qmix"] >= 0).all() and (slopes["vdn"] == 1).all()  # monotonic by construction
assert (slopes["nqmix-m"] < 0).any() and (slopes["nqmix"] < 0).any()  # not even at initialisation

# %% [markdown]
# QMIX's hypernetwork does put out negative numbers (first column); the `abs()` turns them into non-negative
# weights, and autograd confirms $\partial Q_{tot}/\partial Q_a \ge 0$ at every sample. The same hypernetwork
# without `abs()` (NQMIX-M) and NQMIX's MLP have negative slopes for a good share of the samples before any
# training: they are free to learn a value of $Q_a$ that helps the team in one situation and hurts it in another.
# The rest of the notebook shows a payoff that needs exactly that.

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
# The cell below reads both comparisons off the payoff: row A minus row B, column by column.

# %%
# NBVAL_CHECK_OUTPUT
a_minus_b = payoff[0] - payoff[1]  # [U]: agent 1's A minus B, for each action of agent 2
print("row A − row B, for agent 2 on A, B, C:", a_minus_b.tolist())
assert (a_minus_b > 0).any() and (a_minus_b < 0).any()  # the order of A and B flips with agent 2's action

# %% [markdown]
# One pair whose order flips is enough to rule out every monotonic mixer. In the exercises you will write
# the test for every pair of actions and every payoff.

# %% [markdown]
# ## Predict before you run
# Before you run the next cell, write down your guesses (the point is to be surprised, or not):
#
# 1. Which of VDN, QMIX, NQMIX-M, NQMIX will pick the optimum (A, A), and on how many seeds?
# 2. Which methods' learned $Q_{tot}$ will match the payoff table (an RMSE near 0)?
# 3. NQMIX trained on uniformly random data sees (A, A) as often as every other joint action. Will it
#    *pick* (A, A)?
#
# Each answer follows from something above: the contradiction for monotonic mixers, and Eq. 13 for
# NQMIX's actors. The sections after the training take your guesses apart.

# %% [markdown]
# ## Training
# Q-learners (VDN, QMIX) are trained on uniformly random joint actions (ε = 1, as QPLEX does for this
# game), so they see every payoff entry equally often. NQMIX-M (QMIX's mixer without `abs()`, see the
# primer) and NQMIX sample their own stochastic policies (Alg. 1, line 2). "NQMIX, uniform data" is NQMIX
# trained off-policy on the same uniform data as the Q-learners. All use the paper's / pymarl's
# hyper-parameters (`nqmix_core/config.py`).

# %%
# NBVAL_IGNORE_OUTPUT
import time

start = time.perf_counter()
runs = run_methods(MATRIX_METHODS, payoff, SEEDS, N_UPDATES, DEVICE)
print(f"{len(MATRIX_METHODS)} methods x {len(SEEDS)} seeds in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## What each method learned (seed 0)
# The true payoff beside each method's full learned $Q_{tot}$ table, all on one colour scale (the bar at the
# right); the black box marks the joint action the method picks (greedy $Q_a$ for Q-learners, the most
# likely action of each actor for NQMIX).

# %%
fig = q_tot_heatmaps(payoff, {k: v[0].q_tot for k, v in runs.items()},
                     {k: v[0].joint_action for k, v in runs.items()}, ncols=3)
assert smallest_text_points(fig) >= 9  # readable at notebook width
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
assert rows["NQMIX, uniform data"]["success_rate"] <= 0.5  # yet its actors mostly miss (A, A)
assert rows["NQMIX"]["success_rate"] < 0.5  # and NQMIX on its own policy misses it on most seeds
missed = [run for run in runs["NQMIX"] if not run.success]
assert all(run.q_tot[0, 0] < 0 for run in missed)  # ... and on those seeds its critic never learned the 8

# %% [markdown]
# ## Reading the results
# * **VDN and QMIX** cannot represent the payoff, and the table they do learn makes a 0-payoff action
#   look best: exactly the failure the paper's Sec. 1 describes.
# * **NQMIX's critic can represent it.** Given data on every joint action, its MLP mixer reproduces the
#   payoff, the 8 at (A, A) included.
# * **Yet NQMIX's policy mostly ends on a 0-payoff action too**, with uniform data as with its own. A
#   critic that knows the 8 is not enough: the actors must also go there, and Eq. 13 moves each actor on
#   its own. The next two sections open the agents up to see why they go elsewhere.
#
# None of this contradicts the paper, which makes no matrix-game claim; it shows what its argument does
# and does not buy. Notebook 02b looks at the sign trick's direction against the exact gradient.

# %% [markdown]
# ## Why NQMIX's actors miss (A, A): each agent's view
# Eq. 13 moves actor $a$ using only its own $Q_a$ and the sign of $\partial Q_{tot}/\partial Q_a$, both taken
# at the joint actions in the data. So it helps to know what each action is worth to one agent *given what
# its partner does*. If the partner plays uniformly, action A pays the least: averaged over the partner's
# three actions it risks the −12 twice. If the partner plays A with probability $p$ (and B, C with
# $(1-p)/2$ each), A pays $8p - 12(1-p)$ and B pays $-12p$: A becomes the better reply only once the partner
# plays A often enough. The cell computes both from the payoff.

# %%
# NBVAL_CHECK_OUTPUT
marginal = marginal_payoffs(payoff)  # [N, U]: each agent's expected payoff per action, partner uniform
for agent in range(2):
    print(f"agent {agent + 1}, partner uniform:", {ACTIONS[u]: round(v, 2) for u, v in enumerate(marginal[agent].tolist())})
assert (marginal.argmin(dim=-1) == 0).all()  # A is each agent's worst action against a uniform partner

p_partner_a = torch.linspace(0, 1, 1001, dtype=torch.float64)  # [P]: how often agent 2 plays A
partner = torch.stack([p_partner_a, (1 - p_partner_a) / 2, (1 - p_partner_a) / 2], dim=-1)  # [P, U]
reply = partner @ payoff.double().T  # [P, U]: agent 1's expected payoff of each of its actions
a_is_best = reply[:, 0] >= reply[:, 1:].max(dim=-1).values  # [P]
threshold = p_partner_a[a_is_best].min().item()
print(f"A is agent 1's best reply once agent 2 plays A with probability ≥ {threshold:.3f}")
assert a_is_best[p_partner_a >= threshold].all() and threshold > 1 / 3  # a uniform partner is below it

# %% [markdown]
# Now the agents themselves. The cell below prints, for one NQMIX seed that missed (A, A) and one that found
# it, each agent's learned $Q_a$ and policy $\pi_a$, and the sign of $\partial Q_{tot}/\partial Q_a$ at the
# joint action the agents play. Seeds 0-2 may all miss, so it trains further seeds until one succeeds (about
# a third do: `tests/test_matrix_learning.py` counts them over ten).

# %%
# NBVAL_IGNORE_OUTPUT
nqmix_runs = list(runs["NQMIX"])
while not any(run.success for run in nqmix_runs) and len(nqmix_runs) < 20:
    seed = len(nqmix_runs)
    nqmix_runs += run_methods({"NQMIX": MATRIX_METHODS["NQMIX"]}, payoff, [seed], N_UPDATES, DEVICE)["NQMIX"]
assert any(run.success for run in nqmix_runs), "no NQMIX seed of 20 found (A, A)"
miss = next(run for run in nqmix_runs if not run.success)
hit = next(run for run in nqmix_runs if run.success)
print(f"NQMIX seeds trained: {len(nqmix_runs)}; found (A, A): {[r.seed for r in nqmix_runs if r.success]}\n")
print(format_agent_values({f"NQMIX seed {miss.seed} (miss)": miss, f"NQMIX seed {hit.seed} (hit)": hit}))
print()
for run in (miss, hit):
    sign = mixer_signs(run)[run.joint_action]  # [N]: sign(∂Q_tot/∂Q_a) at the joint action played
    climbed = sign[:, None] * run.agent_qs  # [N, U]: what Eq. 13 makes each actor climb there
    print(f"seed {run.seed} plays {''.join(ACTIONS[u] for u in run.joint_action)}; "
          f"sign(∂Q_tot/∂Q_a) there: {sign.int().tolist()}; sign·Q_a: "
          + "; ".join(f"agent {a + 1} " + " ".join(f"{ACTIONS[u]} {v:+.2f}" for u, v in enumerate(row))
                      for a, row in enumerate(climbed.tolist())))
    assert (run.policy.max(dim=-1).values > 0.9).all()  # both actors have settled on one action
    assert (climbed.argmin(dim=-1) == 0).all() if run is miss else (climbed.argmax(dim=-1) == 0).all()

# %% [markdown]
# **Reading the table.** $Q_a$ is not "what action $u$ is worth" on its own scale: it is an input the mixer
# learned to use, and its order means something only together with the sign of $\partial Q_{tot}/\partial Q_a$.
# Eq. 13 makes each actor climb $\mathrm{sign}(\partial Q_{tot}/\partial Q_a)\cdot Q_a$, and the last lines show
# where that leaves A. In the seed that missed, A is at the *bottom* of sign·$Q_a$ for both agents (a high
# $Q_a$ with a negative sign, or a low one with a positive sign, whichever this run learned), so its actors
# are pushed away from A; in the seed that found (A, A), A is at the top. Compare the last two rows: against a
# uniform partner A is each agent's worst action, which neither run's $Q_a$ shows directly. The policies are
# (almost) deterministic, so from now on the critic sees only the joint action they play; when that is not
# (A, A) it never learns the 8 (the assert after the summary table checks this on every seed that missed).
#
# Which way did the actors go, and when? The cell below re-runs both seeds for their first 160 updates
# (same seeds, same numbers) and prints, every 20 updates, how likely each actor is to play A, the joint
# action they most likely play, and how well the critic fits the payoff so far. A third run starts from the
# successful seed's very networks but trains on uniform data, like "NQMIX, uniform data".

# %%
# NBVAL_IGNORE_OUTPUT
def early_updates(seed, uniform_data, n_updates=160, every=20):
    """One NQMIX run's start: rows (updates, π_1(A), π_2(A), likeliest joint action, Q_tot RMSE), and its trainer."""
    trainer = MatrixTrainer("nqmix", payoff, seed, uniform_data=uniform_data)
    rows = []
    for done in range(every, n_updates + 1, every):
        trainer.train(every)
        run = trainer.run()
        rows.append((done, *run.policy[:, 0].tolist(), "".join(ACTIONS[u] for u in run.joint_action), run.table_error))
    return rows, trainer


early = {(miss.seed, "own"): early_updates(miss.seed, False), (hit.seed, "own"): early_updates(hit.seed, False),
         (hit.seed, "uniform"): early_updates(hit.seed, True)}
print(f"{'seed':>4}  {'data':<8}{'updates':>7}{'π_1(A)':>8}{'π_2(A)':>8}{'plays':>7}{'Q_tot RMSE':>12}")
for (seed, data), (rows, _) in early.items():
    for done, p1, p2, plays, rmse in rows:
        print(f"{seed:>4}  {data:<8}{done:>7}{p1:>8.2f}{p2:>8.2f}{plays:>7}{rmse:>12.2f}")
payoff_spread = payoff.std(unbiased=False).item()  # the RMSE of a table that knows only the payoff's mean
for run in (miss, hit):
    rows, _ = early[(run.seed, "own")]
    done, p1, p2, plays, rmse = rows[2]  # after 60 updates
    assert plays == "".join(ACTIONS[u] for u in run.joint_action)  # the actors have made their final choice ...
    assert (max(p1, p2) < threshold) if run is miss else (min(p1, p2) > threshold)  # π(A) on its side of 3/8
    assert rmse > 0.8 * payoff_spread  # ... while the critic knows little more than the payoff's mean
rows, trainer = early[(hit.seed, "uniform")]
trainer.train(N_UPDATES - 160)  # the rest of a full run on uniform data
uniform_hit_seed = trainer.run()
print(f"seed {hit.seed} on uniform data after {N_UPDATES} updates plays "
      f"{''.join(ACTIONS[u] for u in uniform_hit_seed.joint_action)}, Q_tot RMSE {uniform_hit_seed.table_error:.2f}")
leaned = [i for i, r in enumerate(rows) if min(r[1], r[2]) > 0.5]
assert leaned  # on uniform data the same start leans towards A too ...
turned = [r for r in rows[leaned[0]:] if min(r[1], r[2]) < 0.5]
assert turned and turned[0][4] > 0.8 * payoff_spread  # ... and leaves it before the critic has learned the payoff
assert not uniform_hit_seed.success

# %% [markdown]
# **Reading the trace.** On their own data the actors commit within a few dozen updates, long before the
# critic has learned the payoff: its RMSE is still about what a table holding only the payoff's mean would
# score. Which way they lean first is set by the random initialisation (the untrained critic's order of $Q_a$
# and its mixer sign); the data they then generate decide the rest. Past the threshold above, a partner who
# plays A makes A the better reply, and the critic sees (A, A) often; below it, A is the worse reply and the
# critic sees A only next to a −12. That is why only some seeds find (A, A): the first lean is a throw of a
# three-faced die.
#
# The third run is the same seed with the same networks, on uniform data. The actors lean towards A at
# first, as on their own data, but the partner in the data stays uniform whatever the actors do, and against
# a uniform partner A is the worst action (the first table of this section): the actors turn away from A
# before the critic has learned the 8. This is **relative overgeneralisation**, the trap of independent
# learners: each agent judges its action against the average behaviour of the others, and the average is
# dominated by miscoordination. The sign table below shows how it reaches the actors even from an exact critic.

# %% [markdown]
# ### Does NQMIX use its freedom? The sign of $\partial Q_{tot}/\partial Q_a$
# For seed 0 of "NQMIX, uniform data": the sign of each agent's partial derivative at every joint action
# (rows: agent 1's action, columns: agent 2's). QMIX's would be +1 everywhere by construction; a −1 means
# the actor of that agent is pushed *down* its own $Q_a$ there (Eq. 12).

# %%
# NBVAL_IGNORE_OUTPUT
uniform_run = runs["NQMIX, uniform data"][0]
signs = mixer_signs(uniform_run)  # [U, U, N]
for agent in range(2):
    print(f"sign(dQ_tot/dQ_{agent + 1}):")
    print(signs[..., agent].int())
assert (signs < 0).any()  # the trained NQMIX mixer does use negative slopes
qmix_signs = mixer_signs(runs["QMIX"][0])
assert (qmix_signs >= 0).all()
agent_1, agent_2 = signs[..., 0], signs[..., 1].T  # each as [own action, partner's action]
for own in (agent_1, agent_2):
    assert (own == own[:1]).all()  # the sign depends only on the partner's action ...
    assert own[0, 0] != own[0, 1] and own[0, 1] == own[0, 2]  # ... and flips between partner-on-A and not
# Averaged over uniform data, each actor climbs (mean sign)·Q_a, and that puts A last for both agents:
mean_sign = torch.stack([agent_1.float().mean(), agent_2.float().mean()])  # [N]
for agent in range(2):
    pushed = (mean_sign[agent] * uniform_run.agent_qs[agent]).tolist()  # [U]
    print(f"agent {agent + 1}: mean sign over uniform data {mean_sign[agent].item():+.2f}; (mean sign)·Q_{agent + 1}:",
          " ".join(f"{ACTIONS[u]} {v:+.2f}" for u, v in enumerate(pushed)))
assert ((mean_sign[:, None] * uniform_run.agent_qs).argmin(dim=-1) == 0).all()

# %% [markdown]
# **Reading the sign table.** The sign of $\partial Q_{tot}/\partial Q_1$ is the same down each column: it
# depends on what agent 2 does, not on agent 1's own action, and it flips between "agent 2 plays A" and
# "agent 2 plays B or C". (Agent 2's table is the same picture transposed.) That is the payoff's
# non-monotonicity, learned: moving agent 1 along its $Q_1$ towards A helps the team when the partner plays A
# (8 instead of −12) and hurts it otherwise (−12 instead of 0). A monotonic mixer must use one sign for
# both situations, which is the contradiction proved at the start. Whether this run stores A at the top or
# the bottom of $Q_1$ (and the signs the other way round) is arbitrary; only their product matters.
#
# For the actor, though, one sign per sample is all Eq. 13 uses. On uniform data the partner is off A in two
# samples out of three, so the average push on each actor is the sign of "partner not on A": the actor moves
# *away from A*, as the last lines show ((mean sign)·$Q_a$ is lowest at A). The critic knows that (A, A) pays
# 8; the actor update is a best reply to a uniform partner, and against a uniform partner A is the worst
# action. The payoff's 8 would be found only if both actors moved to A together, and Eq. 13 moves them
# one at a time.

# %% [markdown]
# ## Try your own payoff
# Edit the matrix, choose methods and a seed, press **Retrain**. Each method trains in chunks of 100
# updates until its $Q_{tot}$ fit stops improving (less than 5% better over the last 300 updates, with at
# least 500 and at most 3,000 updates) and the editor says for each whether it converged: "NOT converged"
# means *train longer*, not *cannot represent*. It trains on the payoff rescaled so its largest entry is
# ±10 (a payoff of ±100 takes several times longer to fit as it is) and shows every value in your units.
# Beside $Q_{tot}$ it prints each agent's $Q_a$ (and $\pi_a$) and each agent's payoff against a uniform
# partner. Try a monotonic game such as `[[8, 1, 1], [1, 0, 0], [1, 0, 0]]`: QMIX should now find the
# optimum; try the QTRAN payoff times 10.

# %%
# NBVAL_IGNORE_OUTPUT
from nqmix_core.teaching.widgets import PayoffEditor

editor = PayoffEditor(QTRAN_PAYOFF)
editor.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — which payoffs can a monotonic mixer represent?** Write `order_flips`: for a payoff table
# (rows: agent 1's actions, columns: agent 2's), mark every pair of rows whose order flips with agent 2's
# action, as in the section "Why a monotonic mixer cannot represent it". For two agents, a monotonic mixer
# can represent the payoff exactly when no pair of rows flips and no pair of columns flips (apply the
# function to `table.T` for agent 2).
#
# > **Predict before you run.** Which pairs flip in the QTRAN payoff? In the "monotonic game"
# > `[[8, 1, 1], [1, 0, 0], [1, 0, 0]]`? In the QTRAN payoff with its −12s replaced by −2? Does a tie
# > (two equal entries in one column) count as a flip? Write your answers down, then write the function.

# %%
def order_flips(table: torch.Tensor) -> torch.Tensor:
    """Which pairs of agent 1's actions a monotonic mixer cannot order.

    Input: table [U1, U2], the payoff with agent 1's actions as rows and agent 2's as columns.
    Output: bool [U1, U1]; entry [i, k] is True when table[i, j] > table[k, j] for some column j and
    table[i, j'] < table[k, j'] for another column j' (so [i, k] and [k, i] agree, and [i, i] is False).
    """
    # BEGIN SOLUTION
    diff = table[:, None, :] - table[None, :, :]  # [U1, U1, U2]: row i − row k in every column
    return (diff > 0).any(dim=-1) & (diff < 0).any(dim=-1)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("order_flips", order_flips)

# %% [markdown]
# The experiment uses your function (or the kit's, until yours passes) on three payoffs, then trains QMIX on
# the monotonic game: does it now pick the optimum (A, A)?

# %%
# NBVAL_IGNORE_OUTPUT
flips_fn = ex.yours_or_kits("order_flips", order_flips)
games = {"QTRAN": payoff.float(), "monotonic game": torch.tensor([[8.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]),
         "QTRAN with −2": torch.tensor([[8.0, -2.0, -2.0], [-2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]])}
possible = {}
for name, table in games.items():
    pairs = {agent: [ACTIONS[i] + " vs " + ACTIONS[k] for i, k in torch.nonzero(torch.triu(flips_fn(t), 1)).tolist()]
             for agent, t in (("agent 1", table), ("agent 2", table.T))}
    possible[name] = not any(pairs.values())
    print(f"{name:<15} flips {pairs}; monotonic mixer possible: {possible[name]}")
exercise_runs = run_methods({"QMIX": MATRIX_METHODS["QMIX"]}, games["monotonic game"], seeds=range(1),
                            n_updates=N_UPDATES)
print(format_table(summarise(exercise_runs)))
# BEGIN ANSWER
assert possible == {"QTRAN": False, "monotonic game": True, "QTRAN with −2": False}
assert all(run.success for run in exercise_runs["QMIX"])  # QMIX picks (A, A) on the monotonic game
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# In the QTRAN payoff A flips with B and with C, for both agents; B vs C never flips (their rows are
# equal, and a tie is no contradiction: a non-decreasing mixer may give them the same value). The
# monotonic game has no flip, so a monotonic $Q_{tot}$ can represent it and IGM holds: QMIX picks (A, A).
# Replacing −12 by −2 keeps every flip (8 > −2 but −2 < 0): that payoff is still non-monotonic.
# </details>
#
# **Exercise 2 — less punishment.** Replace the −12s of the QTRAN payoff by −2. Which methods now find
# (A, A), and why does the relative-overgeneralisation argument no longer apply? The cell below trains QMIX
# and NQMIX on it (add methods from `MATRIX_METHODS` to see more).

# %%
# NBVAL_IGNORE_OUTPUT
mild_payoff = games["QTRAN with −2"]
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
