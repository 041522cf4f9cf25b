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
# # 04 · Training NQMIX on a StarCraft-like battle (SMAX 3m)
#
# **Learning goals.** After this notebook you can
# 1. train NQMIX on SMAX 3m under the paper's evaluation protocol (scaled down) and say what a test win
#    rate counts;
# 2. read a learning curve with its binomial error bars and reference lines, and tell evaluation noise
#    from a policy that changes;
# 3. write the Wilson interval of a win rate yourself (exercise 1);
# 4. watch the same battle before and after training, and check whether the team focuses its fire;
# 5. say how SMAX differs from the paper's SMAC.
#
# **Prerequisites.** Notebook 03 (NQMIX's networks and one update of Alg. 1); a binomial proportion and
# its standard error.
#
# **Class time.** 50 minutes. **Paper.** Sec. 5 (experimental setup).
#
# **The task.** `3m`: three Marines (ours) against three Marines (the enemy). Each of our agents
# sees only what is near it; at every step it either moves (4 directions), stops, or shoots one
# enemy in range. A battle is **won** when every enemy is dead before the episode limit (60 steps).
#
# **SMAX is not StarCraft II.** The kit's embedded default is SMAX from JaxMARL, a re-implementation
# of SMAC's maps in JAX that needs no game engine. What differs from the paper's SMAC:
#
# | | SMAC (paper) | SMAX (here) |
# |---|---|---|
# | simulator | StarCraft II engine (version 4.6.2 vs 4.10 not comparable) | JAX, simplified unit dynamics |
# | enemy | the game's built-in AI at difficulty 7 | a scripted heuristic enemy |
# | reward | damage dealt + kills + win bonus, scaled so a perfect episode scores 20 | damage dealt (normalised) + 1 for a win: at most 2 |
# | episode limit | per map (3m: 60) | we use SMAC's per-map limits |
# | observation / state | SMAC's features | SMAX's own; the state is rescaled (see `nqmix_core/envs/smax.py`) |
#
# So win rates here are not the paper's numbers; what carries over is the comparison between methods.
#
# **The reward scale this notebook trains at.** The learner sees SMAX's reward × 10, the kit's default on
# `smax:` maps (`config.reward_scale`, printed below): SMAC's episodes pay up to 20, and pymarl's learning
# rate and gradient clip were tuned at that scale. A check decided it by a rule written before its runs
# (`nqmix_core/reward_check.py`, `data/reward_scale`). Every return this notebook prints is still in
# SMAX's own units (at most 2).

# %% tags=["parameters"]
FULL_RUN = False  # True: the paper's budget and protocol (2M steps; meant for a GPU)
SEED = 0
ENV = "smax:3m"
T_MAX = 15_000  # environment steps of training
TEST_INTERVAL = 2_500  # steps between evaluations
TEST_EPISODES = 16  # test episodes per evaluation and per mode (greedy, stochastic)
DEVICE = "cpu"

# %%
if FULL_RUN:  # the paper's protocol: 32 + 32 test episodes every 5,000 steps, 2M steps
    T_MAX, TEST_INTERVAL, TEST_EPISODES, DEVICE = 2_000_000, 5_000, 32, "auto"

import dataclasses
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

import nqmix_core
from nqmix_core.teaching import exercises as ex
from nqmix_core.devices import resolve_device
from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.teaching.episode_view import draw_battles, focus_fire, record_episode
from nqmix_core.teaching.evaluation_noise import consecutive_changes, largest_fall
from nqmix_core.experiment import train_run
from nqmix_core.experiment_io import load_checkpoint
from nqmix_core.plotting import METHOD_COLOURS
from nqmix_core.reference import strongest_scripts, wilson_interval
from nqmix_core.registry import make_env, make_learner

torch.set_num_threads(1)  # tiny networks: one thread is fastest, and CI runs two notebooks at once
device = resolve_device(DEVICE)
config = RunConfig(algo="nqmix", env=ENV, seed=SEED, t_max=T_MAX, device=str(device),
                   test_interval=TEST_INTERVAL, test_episodes=TEST_EPISODES,
                   checkpoint_interval=T_MAX, tensorboard=False, progress=False)
# the repository's data folder: above the notebook, or (for a copy elsewhere) above nqmix_core
candidates = [Path.cwd(), *Path.cwd().parents, Path(nqmix_core.__file__).resolve().parents[1]]
data = next(p for p in candidates if (p / "data" / "reference").is_dir()) / "data"

# %%
# NBVAL_CHECK_OUTPUT
print(f"reward scale the learner trains at: {config.reward_scale:g} (the default for {ENV.partition(':')[0]} maps)")

# %% [markdown]
# ## 1. The environment
#
# `make_env` builds `n_envs` copies of the battle that step together (JAX `vmap`), and hands
# observations to torch. One rollout plays one episode in every copy.

# %%
# NBVAL_IGNORE_OUTPUT
start = time.perf_counter()
env = make_env(ENV, config.n_envs, device, seed=SEED)
print(f"compiled {ENV} with {config.n_envs} copies in {time.perf_counter() - start:.0f} s")

# %%
# NBVAL_CHECK_OUTPUT
info = env.info
print(f"agents {info.n_agents}, actions {info.n_actions} (0-3 move, 4 stop, 5+ attack enemy j), "
      f"observation {info.obs_dim}, state {info.state_dim}, episode limit {info.episode_limit}")

# %% [markdown]
# ## 2. Before training: one battle
#
# An untrained NQMIX, playing greedily (each agent takes its actor's most likely action).
# `record_episode` plays one episode in all `n_envs` copies at once and keeps, for every copy, the
# action of each agent at each step, and for the first copy where every unit stood. Section 4 draws
# this battle next to the same battle played after training.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(SEED)  # the untrained networks' initial weights
untrained = make_learner(algo_config("nqmix"), info, device)
WATCH_SEED = 7  # the battle's starting positions: the same battle before and after training
before = record_episode(env, untrained, "greedy", seed=WATCH_SEED)
assert not before.won
print(f"untrained: {'won' if before.won else 'lost'} after {len(before.units) - 1} steps, "
      f"return {before.episode_return:.2f}")

# %% [markdown]
# ## 3. The paper's protocol
#
# Training alternates collecting episodes with the behaviour policy and learner updates (one update
# of 32 replayed episodes per collected episode, as in pymarl). Every `TEST_INTERVAL` steps
# training pauses for an **evaluation**: `TEST_EPISODES` battles with the **greedy** policy (the
# most likely action) and as many with the **stochastic** policy (sampling π, what NQMIX trains
# with). The *test win rate* is the fraction of those battles won. The paper's protocol is 32
# episodes of each every 5,000 steps (`FULL_RUN`); quick mode tests more often with fewer episodes.
#
# `train_run` is exactly what `nqmix train` runs: it writes `progress.csv`, a manifest and a
# checkpoint to its folder.

# %% [markdown]
# **Predict before you run.** Sketch the greedy test-win-rate curve you expect over this short run:
# a steady rise, a jump and then a plateau, or a curve that goes up and down? If it goes down
# between two evaluations, what could cause that: the policy getting worse, or the luck of which
# `TEST_EPISODES` battles were played? Write your guess down, then run the next cell.

# %%
# NBVAL_IGNORE_OUTPUT
out = Path(tempfile.mkdtemp()) / "nqmix-3m"
start = time.perf_counter()
rows = train_run(config, out, env=env)
print(f"trained {rows[-1]['t_env']:,} steps in {time.perf_counter() - start:.0f} s")
curve = pd.DataFrame(rows)[["t_env", "updates", "test_greedy_win_rate", "test_stochastic_win_rate",
                            "test_greedy_return"]]
curve

# %% [markdown]
# Each point below carries its **95% Wilson interval**: the win rates that $k$ wins in $n$ = `TEST_EPISODES`
# battles do not rule out (exercise 1 derives it). Two reference lines give the scale: a uniformly random
# team, and the strongest of the kit's scripted teams with its own Wilson interval (the band), both
# measured by `nqmix reference` (`data/reference`).

# %%
script = strongest_scripts(data / "reference")[ENV.partition(":")[2]]
random_rate = pd.read_csv(data / "reference" / f"smax-{ENV.partition(':')[2]}" / "reference.csv").set_index(
    "policy").loc["random", "win_rate"]
fig, ax = plt.subplots(figsize=(9, 3.6))
for mode, marker, line, offset in (("greedy", "o", "-", -0.006), ("stochastic", "s", "--", 0.006)):
    rate = curve[f"test_{mode}_win_rate"]
    low, high = map(pd.Series, zip(*(wilson_interval(round(r * TEST_EPISODES), TEST_EPISODES) for r in rate)))
    assert (low <= rate + 1e-9).all() and (rate <= high + 1e-9).all()  # each interval holds its point
    ax.errorbar(curve["t_env"] + offset * T_MAX, rate, yerr=[rate - low, high - rate], fmt=marker + line,
                color=METHOD_COLOURS["NQMIX"], mfc="white" if mode == "stochastic" else None, capsize=3,
                label=f"NQMIX, {mode} policy")
ax.axhspan(script["win_rate_low"], script["win_rate_high"], color="grey", alpha=0.15, lw=0)
ax.axhline(script["win_rate"], color="grey", ls="--", label=f"scripted team ({script['policy']})")
ax.axhline(random_rate, color="black", ls=":", label=f"uniform random team ({random_rate:.0%} won)")
ax.set_xlabel("environment steps")
ax.set_ylabel("test win rate")
ax.set_ylim(-0.03, 1.03)
ax.set_title(f"NQMIX on {ENV}, seed {SEED}: {TEST_EPISODES} test battles per point, 95% Wilson intervals",
             fontsize=10)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# At step 0 the untrained team wins nothing (the assertion below checks it); within a few
# thousand steps it wins some of its test battles.
#
# ### Evaluation noise or a changing policy?
#
# The curve goes up and down. Two things move a point:
#
# * **Evaluation noise.** A point is the fraction of `TEST_EPISODES` = $n$ battles won. Even a
#   policy that did not change at all would not score the same twice: its number of wins is
#   binomial, so one point has a standard error of up to $0.5/\sqrt{n}$, and the *difference*
#   between two evaluations of the same policy has a standard error
#   $\sqrt{2\,\bar p(1-\bar p)/n}$, with $\bar p$ the two evaluations' pooled win rate.
# * **Policy instability.** Between two evaluations the learner makes hundreds of updates, and they
#   can change what the greedy policy does, for better or worse.
#
# To tell them apart, compare each fall with what noise alone allows. The table tests every pair of
# consecutive evaluations: the change in win rate, its standard error if the policy had not changed,
# $z$ = change / SE, and Fisher's exact test on the two win counts (`nqmix_core/teaching/evaluation_noise.py`).

# %%
# NBVAL_IGNORE_OUTPUT
# a training result: it changes with the CPU, so nbval does not compare it, and the text below is
# written from these numbers
changes = {mode: consecutive_changes(curve[f"test_{mode}_win_rate"], curve["t_env"], TEST_EPISODES)
           for mode in ("greedy", "stochastic")}
assert all(table["p_value"].between(0, 1).all() and table["se_change"].le(0.5).all() for table in changes.values())
pd.concat(changes, names=["policy", "pair"]).round(3)


# %%
# NBVAL_IGNORE_OUTPUT
def describe_largest_fall(mode: str) -> str:
    """One paragraph about the fall in ``mode``'s curve that noise explains least (throwaway helper)."""
    fall, n = largest_fall(changes[mode], TEST_EPISODES), TEST_EPISODES
    if fall is None:
        return f"* **{mode}**: the curve never falls from one evaluation to the next."
    updates = curve.set_index("t_env")["updates"]
    text = (f"* **{mode}**: the largest fall is {fall['wins_before']}/{n} → {fall['wins_after']}/{n} battles won, "
            f"between steps {fall['from_step']:,} and {fall['to_step']:,} "
            f"({updates[fall['to_step']] - updates[fall['from_step']]} updates). Had the policy not changed, "
            f"the difference of the two win rates would have a standard error of {fall['se_change']:.2f}; "
            f"this fall is {abs(fall['z']):.1f} of those. Fisher's exact test gives p = {fall['p_value']:.3f}, "
            f"{fall['p_adjusted']:.2f} once we allow for having looked at {len(changes[mode])} pairs. ")
    if fall["beyond_noise"]:
        return text + ("Evaluation noise alone rarely produces a fall this large: **the policy itself got worse "
                       "between these two evaluations** (policy instability).")
    start, telling = f"{fall['wins_before']}/{n}", fall["telling_wins"]
    needed = {-1: f"not even a fall from {start} to 0/{n} would have",
              0: f"only a fall from {start} to 0/{n} would have"}
    return text + ("Evaluation noise alone produces falls this large often enough, so **this fall does not show "
                   "that the policy got worse**; "
                   + needed.get(telling, f"a fall from {start} to {telling}/{n} or fewer would have") + ".")


verdicts = {mode: largest_fall(changes[mode], TEST_EPISODES) for mode in changes}
unstable = [mode for mode, fall in verdicts.items() if fall is not None and fall["beyond_noise"]]
summary = (f"So in this run the {' and '.join(unstable)} curve fell by more than evaluation noise explains: "
           "that is policy instability, and more test battles would not have smoothed it away."
           if unstable else
           f"So every fall in this run is within evaluation noise. That does not make the policy stable: with "
           f"{TEST_EPISODES} battles per point (one point's standard error up to {0.5 / TEST_EPISODES ** 0.5:.3f}) "
           "only large falls can be told apart from noise. The paper uses more test battles and averages seeds "
           "(notebook 05).")
display(Markdown("\n".join(describe_largest_fall(mode) for mode in changes) + "\n\n" + summary))

# %%
# NBVAL_IGNORE_OUTPUT
# a training result: it changes with the CPU, so nbval does not compare it; the asserts check it
assert curve["test_greedy_win_rate"].iloc[0] == 0.0, "an untrained team should win nothing"
best = curve[["test_greedy_win_rate", "test_stochastic_win_rate"]].max().max()
assert best >= 0.25, f"NQMIX should be winning some battles after {T_MAX} steps, best test win rate {best}"
print(f"best test win rate {best:.2f}, at step 0: 0.00")

# %% [markdown]
# ## 4. After training: the same battle
#
# The checkpoint holds everything the run needs to continue (`nqmix train --resume`); here we
# only load the trained networks into a learner and replay the battle from the same start.

# %%
# NBVAL_IGNORE_OUTPUT
state = load_checkpoint(out / "checkpoint.pt")
trained = make_learner(algo_config("nqmix"), info, device)
trained.load_checkpoint_state(state["learner"])
after = record_episode(env, trained, "greedy", seed=WATCH_SEED)
print(f"trained: {'won' if after.won else 'lost'} after {len(after.units) - 1} steps, "
      f"return {after.episode_return:.2f}")

# %% [markdown]
# Below, the same battle before (top row) and after training (bottom row): one panel per step,
# chosen among the steps where our agents shoot (all steps if they never do) and the last one.
# Blue circles are our Marines, red triangles the enemy's (labelled E0, E1, E2), grey crosses
# dead units; the bar over a unit is its health (green: left, grey: lost). An orange arrow joins one
# of our agents to the enemy it aims at on that step, a dark red dashed arrow an enemy to the Marine it
# aims at. Both rows are drawn at the same scale, each centred on its own battle.

# %%
# NBVAL_IGNORE_OUTPUT
fig = draw_battles({"untrained": before, f"after {T_MAX:,} steps": after}, n_panels=4)
titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
assert len(titles) <= 2 * 4 and all(title.startswith("step") for title in titles)
assert titles[-1].endswith("won" if after.won else "lost")
plt.show()

# %% [markdown]
# **Read the pictures.**
#
# 1. Top row: does the untrained team shoot at all? Where do its Marines go?
# 2. Bottom row: in the panels where two or three blue Marines have an arrow, do the arrows end on
#    the same triangle?
# 3. Which enemy's health bar empties first? Were most arrows pointing at it in the steps before?
#
# A team that shoots one enemy at a time ("focus fire") kills it sooner, so fewer enemies are left
# to shoot back. The pictures show a few steps of one battle; the count below covers every step of
# all `n_envs` battles that `record_episode` played from this start seed (the drawn one is the
# first): on the steps where two or more of our agents shoot, how often do they all shoot the same
# enemy? *Chance* is how often they would agree if each picked at random among the enemies it
# could hit on that step.

# %%
# NBVAL_IGNORE_OUTPUT
teams = {"untrained": before, "trained": after}
battles = {"the drawn battle": slice(0, 1), "all battles": slice(None)}  # copies: the first, or every one
fire = pd.DataFrame.from_dict(
    {(team, label): focus_fire(e.actions[copies], e.avail_actions[copies], e.filled[copies])  # [E, T, N, ...]
     for team, e in teams.items() for label, copies in battles.items()},
    orient="index")
assert (fire["focused"] <= fire["steps"]).all() and fire["chance"].dropna().between(0, 1).all()


def describe_focus(team: str) -> str:
    """One sentence about how often ``team``'s shooters agree, from the count (throwaway helper)."""
    count = fire.loc[(team, "all battles")]
    if count["steps"] == 0:
        return f"* **{team}**: in none of the {config.n_envs} battles did two of its agents shoot on the same step."
    gap = count["fraction"] - count["chance"]
    how = "more often than" if gap >= 0.1 else ("less often than" if gap <= -0.1 else "about as often as")
    return (f"* **{team}**: on {count['focused']:.0f} of the {count['steps']:.0f} steps where two or more of its "
            f"agents shot, they all shot the same enemy ({count['fraction']:.0%}; random aiming: "
            f"{count['chance']:.0%}). It focuses its fire **{how} random aiming would**.")


display(fire.round(2), Markdown("\n".join(describe_focus(team) for team in teams)))

# %% [markdown]
# Whether this particular battle is won depends on the start; the win rate above is what
# summarises many battles.
#
# ## 5. What to take away
#
# * A win rate is a fraction of test battles won; the paper's curves are its mean (or median) over
#   seeds at each evaluation point, greedy policy.
# * A fall in one run's curve is either evaluation noise or the policy changing; compare it with the
#   standard error of a *difference* of two evaluations before blaming either.
# * Training here is a scaled-down run on 2 CPU cores; the paper trains for 2M steps. The
#   reproduction grid in `data/reproduction_cpu` (notebook 05; `data/README.md` describes it) trains every
#   method with one set of CPU settings (8 episodes per update) over several seeds; its 3m runs are
#   printed below: how many seeds, how many steps, and the final greedy win rates.
# * The same command trains from the terminal:
#   `nqmix train --algo nqmix --env smax:3m --seed 0 --t-max 200000`.

# %%
# NBVAL_IGNORE_OUTPUT
# read from the committed data (data/reproduction_cpu/figures, written by `nqmix plot`)
finals = pd.read_csv(data / "reproduction_cpu" / "figures" / "final_win_rates.csv")
finals_3m = finals[(finals["map"] == "3m") & finals["method"].isin(["NQMIX", "QMIX"])]
assert (finals_3m["seeds"] >= 3).all()
finals_3m[["method", "seeds", "steps", "mean (greedy)", "min (greedy)", "max (greedy)"]]

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — the Wilson interval of a win rate (write code).** A test win rate is $p = k/n$: $k$
# battles won out of $n$. The error bars of section 3 are **Wilson** 95% intervals: all the true win
# rates $q$ under which the observed $p$ lies within $z = 1.96$ standard errors,
# $|p - q| \le z\sqrt{q(1-q)/n}$. Unlike the textbook interval $p \pm z\sqrt{p(1-p)/n}$, which uses the
# *observed* $p$ in the standard error, it does not shrink to a single point when no battle (or every
# battle) is won. Squaring the inequality gives a quadratic in $q$; its two roots are the interval's ends.
#
# **Predict before you run.** With 16 test battles, half of them won, is the interval about ±0.05,
# ±0.1 or ±0.25 wide? With none won, does it reach above 0.1? And about how many battles does an
# evaluation need before a win rate near 0.5 is known to ±0.1? Write your guesses down, then fill in the
# function and run the three cells after it.
#
# <details><summary>Hint</summary>
#
# Move everything to one side: $(1 + z^2/n)\,q^2 - (2p + z^2/n)\,q + p^2 = 0$. Solve it with the
# quadratic formula and simplify; both roots lie in $[0, 1]$.
# </details>


# %%
def wilson_interval_of(wins, episodes, z=1.959964):
    """The Wilson score interval of a win rate of ``wins`` out of ``episodes`` battles.

    | argument | type           | meaning                                                   |
    |----------|----------------|-----------------------------------------------------------|
    | wins     | int            | battles won, 0 ≤ wins ≤ episodes                           |
    | episodes | int            | battles played, ≥ 1                                        |
    | z        | float          | the normal quantile: 1.959964 for a 95% interval           |
    | returns  | (float, float) | (low, high) with 0 ≤ low ≤ wins / episodes ≤ high ≤ 1      |
    """
    # BEGIN SOLUTION
    p, z2 = wins / episodes, z * z / episodes
    centre = (p + z2 / 2) / (1 + z2)
    half = z * math.sqrt(p * (1 - p) / episodes + z2 / (4 * episodes)) / (1 + z2)
    return centre - half, centre + half
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
ex.check("wilson_interval", wilson_interval_of)

# %%
# NBVAL_CHECK_OUTPUT
interval = ex.yours_or_kits("wilson_interval", wilson_interval_of)
half_widths = {}
for n in (16, 32, 64, 128, 256):
    low, high = interval(n // 2, n)
    half_widths[n] = (high - low) / 2
    print(f"{n:3d} battles: half won -> [{low:.2f}, {high:.2f}] (±{half_widths[n]:.2f}); "
          f"none won -> [0.00, {interval(0, n)[1]:.2f}]")
# BEGIN ANSWER
assert 0.2 < half_widths[16] < 0.25 and interval(0, 16)[1] > 0.1  # wide at 16 battles, even at 0 wins
assert half_widths[64] > 0.1 > half_widths[128]  # ±0.1 needs about 100 battles
# END ANSWER

# %% [markdown]
# <details><summary>Solution</summary>
#
# At 8/16 the interval is more than ±0.2 wide (printed above), so two evaluations of an unchanged policy
# can easily differ by 0.2 or more. With no battle won it still reaches above 0.1: "0 of 16" does not show
# that the team cannot win. The width shrinks like $1/\sqrt{n}$, four times the battles for half the
# width, and ±0.1 needs between 64 and 128 battles, several times the paper's 32 per evaluation. That is
# why the paper (and notebook 05) average evaluations over seeds instead of reading one curve point by point.
# </details>
#
# **Exercise 2 — QMIX on the same budget (discussion).** Train QMIX with the same settings. Which learns
# faster here, and is one seed enough to say so?

# %%
exercise_config = dataclasses.replace(config, algo="qmix", t_max=5_000)  # raise t_max to T_MAX
print(f"exercise 2 is set up: {exercise_config.algo} for {exercise_config.t_max} steps")

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# qmix_rows = train_run(dataclasses.replace(config, algo="qmix"), Path(tempfile.mkdtemp()), env=env)
# pd.DataFrame(qmix_rows)[["t_env", "test_greedy_win_rate"]]
# ```
# QMIX explores with ε-greedy, starting at ε = 1 and annealing over 50,000 steps, so in the first
# 15,000 steps most of its behaviour actions are random, while NQMIX samples its own policy. Which
# one is ahead at 15,000 steps differs from seed to seed. One seed is not enough: an evaluation of 16
# battles has an interval of about ±0.2 (exercise 1), the policy itself can change from one evaluation
# to the next (section 3), and seeds differ by more than either. The 3m runs of `data/reproduction_cpu`
# (the table in section 5: its seeds, its budget and the spread of the final win rates between seeds)
# are what notebook 05 compares, with 95% intervals over seeds.
# </details>
#
# **Exercise 3 — a heterogeneous map (discussion).** Build `smax:2s3z` (2 Stalkers and 3 Zealots a side)
# and print its sizes. Why does one update cost more there than on 3m?

# %%
print("exercise 3: build the map with make_env('smax:2s3z', 8, device) and print its info")

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# env_2s3z = make_env("smax:2s3z", 8, device)
# print(env_2s3z.info)
# ```
# Five agents instead of three, observations of 13·4 + 13·5 + 10 = 127 numbers, a state of
# 12·10 = 120, and an episode limit of 120 steps instead of 60: the GRU unrolls over twice as many
# steps, and the NQMIX mixer has 32·(5+4)−5 = 283 hidden units instead of 221 (Sec. 4.2). Episodes
# are also longer, so one update per episode means fewer updates per environment step.
# </details>
