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
# # 05 · Results and ablation: the paper's claims decided from data
#
# **Goal.** Read the kit's reproduction data the way a reviewer would: plot the learning curves with
# their uncertainty, then decide each of the paper's claims from the numbers with a rule written down
# before the data were read, and say plainly where the data agree with the paper, where they contradict
# it and where they cannot decide. Paper: Sec. 5.1 (Fig. 2), Sec. 5.2 (Fig. 3), and the claims of
# Secs. 1 and 4. Time: under a minute. **This notebook trains nothing**: it reads folders that the kit's
# commands wrote (every run's folder has its manifest: command, commit, seed, versions, device, wall time).
#
# | claim | the paper says | decided from |
# |---|---|---|
# | C1 | monotonic mixers cannot represent a non-monotonic payoff; NQMIX's can (Sec. 1, 4.2) | `data/matrix_qtran` (`nqmix demo`) |
# | C2 | NQMIX's state-value target overestimates less than QMIX's max target (Sec. 4.3) | the Q_tot-vs-return logs of the runs below |
# | C3 | on maps with heterogeneous agent types (2s3z, 3s5z) NQMIX ≥ QMIX > COMA (Fig. 2b, 2c) | `data/reproduction_cpu` |
# | C4 | on the simple map (3m) NQMIX lies between QMIX and COMA (Fig. 2a) | `data/reproduction_cpu` |
# | C5 | the ablation NQMIX-M (QMIX's mixer without `abs`) does no better than NQMIX (Fig. 3) | `data/reproduction_cpu` |
# | C6 | the two mixers have similar parameter counts (Sec. 5, App. B.1) | the maps' sizes in the manifests |
# | C7 | NQMIX extends to continuous actions (Alg. 2): it learns | `data/continuous_two_peak` |
# | C7+ | the kit's own bar, not the paper's: NQMIX-cont ≥ independent DDPG | `data/continuous_two_peak` |
# | C8 | Eq. 7 with states drawn from the behaviour policy b is the policy gradient (App. A) | computed exactly (`nqmix_core.theory`) |
# | R | the kit's calibration: which learned methods end above the strongest scripted policy | `data/reference` (`nqmix reference`) |
#
# `nqmix plot data/reproduction_cpu --matrix data/matrix_qtran --continuous data/continuous_two_peak
# --reference data/reference --reward-check data/reward_scale` writes the same figures and the same table
# from the command line (and, with `--readme README.md`, the README's results section).

# %% tags=["parameters"]
DATA = "data/reproduction_cpu"  # relative to the repository root
MATRIX = "data/matrix_qtran"
CONTINUOUS = "data/continuous_two_peak"
REFERENCE = "data/reference"
REWARD_CHECK = "data/reward_scale"
METRIC = "test_greedy_win_rate"  # the paper plots the test win rate; the greedy policy decides the claims

# %%
import json
from pathlib import Path

import pandas as pd
import yaml
from IPython.display import Markdown, display

import nqmix_core
from nqmix_core import claims, claims_rules, report, results, reward_check
from nqmix_core.plotting import learning_curves
from nqmix_core.reference import strongest_scripts

# the repository root: above the notebook, or (for a copy of the notebook elsewhere) above nqmix_core
candidates = [Path.cwd(), *Path.cwd().parents, Path(nqmix_core.__file__).resolve().parents[1]]
repo = next(p for p in candidates if (p / DATA).is_dir())
root = repo / DATA
runs = results.load_runs(root)
final = results.final_win_rates(runs, METRIC)
scripts = strongest_scripts(repo / REFERENCE)  # map -> the strongest scripted policy's win rate

# %% [markdown]
# ## 1. What was run
#
# The grid file says what `nqmix sweep` trained and why; the manifests say how long each run took.
# **One deviation from pymarl applies to every off-policy method alike: 8 episodes per mini-batch instead
# of 32**, which makes an update about 3× cheaper on a CPU (`data/benchmarks/update_cost_3m_batch8.txt`);
# COMA's on-policy batch is 8 episodes anyway. Budgets: 150k steps on 3m, 300k on 2s3z and 3s5z, 7.5% and
# 15% of the 2M steps that SMAC papers and pymarl's configs use (the NQMIX paper states no budget), so
# every verdict below is a verdict *at that budget*. These runs learned at SMAX's own reward scale; the
# kit's default is now 10 (section 9).

# %%
# NBVAL_CHECK_OUTPUT
grid = yaml.safe_load((root / "grid.yaml").read_text())
budget = {env.partition(":")[2]: steps for g in grid["grids"] for env, steps in g["envs"].items()}
overview = final.groupby(["map", "method"]).agg(seeds=("seed", "nunique"), steps=("t_env", "min"))
overview["budget"] = [budget[m] for m, _ in overview.index]
overview["finished"] = final.groupby(["map", "method"])["status"].apply(lambda s: (s == "finished").all())
print(overview.to_string())
print("\nsettings every run changed from its preset:", grid["train"]["set"])
print("\nCPU time (one core per run, two runs at a time on a 2-core machine):")
hours = report.cpu_hours(root)
print(hours.to_string(index=False))
print(f"total {hours['hours'].sum():.1f} CPU-hours")

# %%
assert overview["finished"].all() and (overview["steps"] >= overview["budget"]).all(), "a run stopped early"
assert (overview["seeds"] >= 3).all(), "every (map, method) has at least three seeds"
assert results.partial_runs(runs).empty  # nothing that stopped short is hiding in the folder

# %% [markdown]
# ## 2. Figure 2: NQMIX, QMIX and COMA on three maps
#
# Lines are the mean over seeds; the bands are 95% t-intervals over seeds at each evaluation, the same
# kind of interval the verdicts below use (with five seeds still wide: the t quantile is printed below). Top row: greedy
# policy (argmax π for NQMIX and COMA, argmax Q for QMIX); bottom row: the stochastic policy (sampling π;
# QMIX's stochastic test policy is its greedy one). The dashed grey line is the strongest scripted policy
# of `data/reference` with its 95% interval, evaluated with the same test protocol; uniform random wins
# no battle on any of these maps (the x-axis).

# %%
# NBVAL_CHECK_OUTPUT
from scipy import stats

print(f"95% t quantile with {overview['seeds'].min()}–{overview['seeds'].max()} seeds: "
      f"{stats.t.ppf(0.975, overview['seeds'].max() - 1):.2f}–{stats.t.ppf(0.975, overview['seeds'].min() - 1):.2f} "
      f"(a normal interval would use 1.96)")
fig2 = learning_curves(runs, ["3m", "2s3z", "3s5z"], ["NQMIX", "QMIX", "COMA"], references=scripts)

# %% [markdown]
# ## 3. Figure 3: the ablation (NQMIX, NQMIX-M, QMIX)

# %%
fig3 = learning_curves(runs, ["2s3z", "3s5z"], ["NQMIX", "NQMIX-M", "QMIX"], references=scripts)

# %% [markdown]
# ## 4. Final win rates
#
# A run's *final* win rate is the mean of its last two evaluations (2 × 32 battles), which halves the
# noise of a single evaluation. Both evaluation policies, side by side. (`data/reproduction_cpu` also
# holds NQMIX+ε on 3m, the exploration ablation of notebook 06.)

# %%
# NBVAL_CHECK_OUTPUT
summary = results.summary_table(final).round(3)
print(results.summary_by_policy(runs).round(3).to_string())

# %% [markdown]
# ## 5. Claims C3–C5, comparison by comparison
#
# For each comparison "X vs Y" on a map: the difference of mean final win rates over the seeds with a 95%
# Welch t-interval. X is *better* when the interval lies above 0, *worse* when below. Two methods count as
# *equal* only by an equivalence test: two one-sided tests, i.e. the 90% interval lies inside ±0.10 (and at
# least one method learned something, final ≥ 0.05). "X ≥ Y" holds when X is better or equal, "X > Y" only
# when X is better (`nqmix_core/claims_rules.py`). A claim **holds** when every comparison it makes holds,
# **does not hold** when one fails, and is **inconclusive** otherwise. The greedy policy decides (fixed before the
# data were read); the stochastic policy's verdict is printed beside it. *Leans* says which way the point
# estimate goes and by how much, whatever the verdict.

# %%
# NBVAL_CHECK_OUTPUT
smac = claims.smac_by_policy(runs)
for row in smac.itertuples(index=False):
    print(f"{row.claim} ({row.statement}): {row[2].upper()} (stochastic policy: {row[3]})")
    print(f"    leans: {row[4]}")
    for part in row[5].split("; "):
        print(f"    {part}")

# %% [markdown]
# ## 6. The claims table, C1–C8
#
# Every claim the kit tests, each decided by the rule in `nqmix_core/claims.py` (C1, C2, C6, C7, C8) or
# `nqmix_core/results.py` (C3–C5), with the numbers that decide it and the folder they come from. The rules
# were committed before the runs they read (C7's grid and rule in the same commit, C2's before its columns
# were read); `tests/test_claims.py` checks each rule on made-up data whose verdict is known.

# %%
# NBVAL_CHECK_OUTPUT
table = claims.claims_table(root, repo / MATRIX, repo / CONTINUOUS, repo / REFERENCE)
for row in table.itertuples(index=False):
    print(f"{row.claim}: {row.statement}\n    verdict: {row.verdict.upper()}"
          + (f" (stochastic policy: {row[3]})" if row[3] else "") + (f", at {row.budget}" if row.budget else ""))
    print(f"    leans: {row.leans}")
    for part in row.evidence.split("; "):
        print(f"    {part}")
    print(f"    data: {Path(row.data).as_posix().replace(repo.as_posix() + '/', '') if row.data else '—'}")

# %%
verdicts = dict(zip(table["claim"], table["verdict"]))
assert list(verdicts) == ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C7+", "C8", "R"]
calibration = verdicts.pop("R")  # the kit's reference row is not a claim of the paper
kit_only = verdicts.pop("C7+")  # nor is the kit's extra bar for continuous actions
assert set(verdicts.values()) <= {"holds", "does not hold", "inconclusive", "not measured"}
against = [c for c, v in verdicts.items() if v == "does not hold"]
display(Markdown(
    "**Where the data contradict the paper:** "
    + (", ".join(f"{c} ({table.set_index('claim').loc[c, 'statement']})" for c in against) if against else "nowhere")
    + ". **Where they agree:** " + (", ".join(c for c, v in verdicts.items() if v == "holds") or "nowhere")
    + ". **Undecided:** " + (", ".join(c for c, v in verdicts.items() if v in ("inconclusive", "not measured")) or "none")
    + f". The kit's own bar C7+: {kit_only}. Learned methods above the strongest script (R): "
    + calibration.removeprefix("above: ")
    + ". A verdict is only as wide as its data: SMAX, not StarCraft II; 150–300k steps, not 2M; batch 8."))

# %% [markdown]
# ### Before calling C1 a contradiction: a case whose answer is known
#
# C1's rule asks NQMIX's critic, trained on uniformly random joint actions, to fit the payoff on *every*
# seed of `data/matrix_qtran` (made by `nqmix demo` with its default 400 updates). If one seed misses,
# either the architecture cannot represent the payoff or that run was not trained long enough. The
# MLP mixer can represent any such table (the other seeds fit it), so we retrain the worst seed with
# the same settings and more updates. The verdict above stays what the rule says of that folder; this
# cell says how to read it.

# %%
# NBVAL_IGNORE_OUTPUT
# training: its digits depend on the CPU, so nbval does not compare them; the assert holds with a margin
from nqmix_core.matrix_games import train_matrix_game

matrix_runs = pd.read_csv(repo / MATRIX / "matrix_runs.csv")
uniform = matrix_runs[matrix_runs["method"] == "NQMIX, uniform data"]
worst = int(uniform.loc[uniform["q_tot_rmse"].idxmax(), "seed"])
longer = {n: train_matrix_game("nqmix", seed=worst, n_updates=n, uniform_data=True).table_error for n in (400, 1500)}
print(f"NQMIX critic on uniform data, seed {worst}: Q_tot RMSE {longer[400]:.2f} after 400 updates "
      f"(the folder's budget), {longer[1500]:.2f} after 1,500")
assert longer[1500] < claims_rules.FITS <= longer[400]  # the miss is the budget, not the architecture

# %% [markdown]
# C1 does not hold by its rule on this folder, and that is the verdict the table keeps. The known-answer
# case says why: the miss is one seed that the folder's fixed budget of 400 updates left unfitted, and the
# same seed fits the payoff with more updates. The folder that would re-decide C1 by the same rule is one
# made with the converged protocol, `nqmix demo --seeds 10 --updates 3000 --until-fitted --smax-steps 0`
# (each run trains until its Q_tot fit stops improving); it has not been made yet. Whether NQMIX *finds*
# the optimum on its own policy is another matter, and there the data say no on most seeds (notebook 01).

# %% [markdown]
# ### What a win rate is worth: the scripted policies, and COMA on 2s3z
#
# The strongest scripted policy (shoot the weakest enemy in range, else step toward the closest one) learns
# nothing, yet it sits at or above every learned method's final on every map (row R). SMAX's enemy is a
# heuristic, and fixed behaviours beat it often. That also explains COMA's gap between its policies: early
# in training, the argmax of an almost uniform π is already a fixed, script-like behaviour that wins many
# battles (the greedy row of Figure 2), while sampling the same π wins almost none (the stochastic row).
# On 2s3z COMA's greedy win rate rises early and then falls back as its policy changes; the cell below
# reads its peak and its end from the data.

# %%
# NBVAL_CHECK_OUTPUT
coma = runs[(runs["map"] == "2s3z") & (runs["method"] == "COMA")].groupby("t_eval")[METRIC].mean()
peak_step = int(coma.idxmax())
print(f"COMA on 2s3z, mean over seeds: greedy win rate {coma.max():.2f} at its peak ({peak_step // 1000}k steps), "
      f"{coma.iloc[-2:].mean():.2f} over its last two evaluations; strongest script "
      f"{scripts['2s3z']['win_rate']:.2f} ({scripts['2s3z']['policy']})")
assert coma.max() > coma.iloc[-2:].mean()  # it rose, then fell back

# %% [markdown]
# ## 7. Overestimation over training (C2)
#
# C2's numbers are the mean of Q_tot(s_t, u_t) − G_t over the second half of each run, where G_t is the
# discounted return the team actually got from step t on (episodes that ended in a decided battle only;
# `nqmix_core/diagnostics.py`). Positive: the critic expects more than the team gets. Here it is over
# the whole run, mean over seeds.

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=False)
for ax, map_name in zip(axes, ["3m", "2s3z", "3s5z"]):
    for method in ["NQMIX", "QMIX", "COMA", "NQMIX-M"]:
        data = runs[(runs["map"] == map_name) & (runs["method"] == method)]
        if len(data) and data["train_diag_q_tot_minus_return"].notna().any():
            curve = data.groupby("t_eval")["train_diag_q_tot_minus_return"].mean()
            ax.plot(curve.index, curve.to_numpy(), label=method)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title=map_name, xlabel="environment steps", ylabel="Q_tot − return")
axes[-1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. The paper-settings pilot
#
# `data/reproduction` is the first grid the kit ran: the paper's settings exactly (batch 32, τ per
# mini-batch as the kit then read it), but only 20–40k steps per run, 1–2% of the paper's curves. Every
# 2s3z and 3s5z win rate there is 0 and every claim inconclusive: it shows what a budget that is too
# short looks like, and it is kept as that.

# %%
# NBVAL_CHECK_OUTPUT
pilot = results.load_runs(repo / "data" / "reproduction")
print(claims.smac_table(results.final_win_rates(pilot))[["claim", "verdict", "leans"]].to_string(index=False))

# %% [markdown]
# ## Exercises
#
# **1. Another decision policy.** Decide C3–C5 from `test_stochastic_win_rate` with `claims.smac_table`.
# Which verdicts change, and why is QMIX's stochastic column a second sample of its greedy policy?

# %%
stochastic_final = results.final_win_rates(runs, "test_stochastic_win_rate")
print(f"exercise 1 is set up: {len(stochastic_final)} runs")

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# claims.smac_table(stochastic_final)[["claim", "verdict", "leans"]]
# ```
# It is the "verdict (stochastic)" column of Sec. 5. The kit's Q-learners act greedily in every test mode,
# so QMIX's stochastic rows repeat its greedy policy on other battles. A verdict that changes with the
# policy was not robust to begin with.
# </details>
#
# **2. A less noisy signal.** Win rate is a 0/1 outcome per battle. The test *return* (damage dealt plus
# the win bonus, at most 2 on SMAX) moves before battles are won. Compare NQMIX and QMIX on 3s5z by
# `test_greedy_return` with `results.compare`.

# %%
return_final = results.final_win_rates(runs, "test_greedy_return")
print(f"exercise 2 is set up: returns range {return_final['final'].min():.2f}–{return_final['final'].max():.2f}")

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# results.compare(return_final, "3s5z", "NQMIX", "QMIX").text()
# ```
# The win-rate rules (a tie is decisive below a half-width of 0.10, "learned" above 0.05) were written for
# values in [0, 1]; for returns read the difference and its interval rather than a verdict. Returns
# separate the methods earlier than win rates, because they count damage in battles that were lost.
# </details>
#
# **3. Your own rule.** Write down, before you run it, a rule for C3 that uses the *best* evaluation of
# each run instead of the last two. Then apply it. Why do the kit's rules use the last two evaluations?

# %%
best = runs.groupby(["map", "method", "seed"])[METRIC].max().rename("final").reset_index()  # best evaluation per run
print(f"exercise 3 is set up: {len(best)} runs; try claims.smac_table(best)")

# %% [markdown]
# ## 9. The reward scale (issue 21)
#
# The runs above learned on SMAX's own reward (at most 2 per episode). A check, whose rule
# (`nqmix_core/reward_check.py`) was committed before its runs, trained QMIX, NQMIX and COMA on 3m and
# 2s3z with the reward × 10 and compared them with the same seeds here. Its verdict set the kit's default:

# %%
# NBVAL_CHECK_OUTPUT
verdict = reward_check.decide(repo / REWARD_CHECK, root)
print(verdict.text())
print(verdict.table[["map", "method", "seeds", "d_curve", "final_1", "final_10"]].round(2).to_string(index=False))
