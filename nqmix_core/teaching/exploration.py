"""Reading the exploration study (``data/exploration_2s3z``): does the paper's NQMIX stop exploring?

    runs = results.load_runs("data/exploration_2s3z")
    per_run = run_table(runs, "data/exploration_2s3z")   # one row per run
    method_table(per_run)                                 # one row per method, mean [min, max] over seeds
    verdicts(runs, per_run)                               # the decisions below, with their numbers

Used by notebook 06 and by the closing notes; nothing here trains.

**The rules, fixed before the data were read** (both evaluation policies are reported; decisions use
the greedy one, argmax π for the actor-critic methods and argmax Q for QMIX, as pymarl's
``test_greedy``; each verdict is also computed with the stochastic policy and shown beside it):

* *First win*: the step of a run's first evaluation with a win rate above 0 (one of 32 battles won).
* *Best*: the highest evaluation. *Final*: the mean of the last ``FINAL_EVALUATIONS`` (4) evaluations.
* *Entropy at a step*: ``train_diag_policy_entropy`` of the log row at that step (the rollouts of the
  5,000 steps before it), in nats; uniform over SMAX 2s3z's available actions is ≈ 2.
* *NQMIX collapses* when its entropy at the last step is below ``COLLAPSED`` (0.5 nats) on every seed.
* *An ablation keeps exploring* when its entropy at the last step is above NQMIX's on every seed.
* *An ablation fixes NQMIX* when it keeps exploring and its mean final win rate beats NQMIX's with a
  95% Welch interval above 0 (``results.compare`` on the final win rates). It is then kept; the others
  are reported.
* *A method learns* when its mean final win rate is at least ``results.LEARNED`` (0.05).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from nqmix_core import results

FINAL_EVALUATIONS = 4
COLLAPSED = 0.5
ENTROPY = "train_diag_policy_entropy"
POLICIES = ("greedy", "stochastic")


def _first_win(run: pd.DataFrame, metric: str) -> float:
    won = run[run[metric] > 0]
    return float(won["t_eval"].iloc[0]) if len(won) else math.nan


def _entropy_at(run: pd.DataFrame, step: int) -> float:
    row = run[run["t_eval"] == step]
    if not len(row) or ENTROPY not in row:
        return math.nan
    return float(row[ENTROPY].iloc[0])


def run_table(runs: pd.DataFrame, root: str | Path, steps: tuple[int, ...] = (50_000, 200_000, 300_000)) -> pd.DataFrame:
    """One row per run: its method, seed, steps reached and status, steps/s over the whole run (from the
    manifest's wall time, evaluations and compilation included), first win, best and final win rates
    under both policies, and the policy entropy at ``steps``."""
    rows = []
    for (env, algo, seed), run in runs.groupby(["env", "algo", "seed"]):
        run = run.sort_values("t_env")
        manifest = json.loads((Path(root) / env.replace(":", "-") / algo / f"seed{seed}" / "manifest.json").read_text())
        row = {"method": run["method"].iloc[0], "seed": int(seed), "t_env": int(run["t_env"].iloc[-1]),
               "status": manifest.get("status"),
               "steps_per_s": manifest["t_env"] / manifest["wall_seconds_all_segments"]}
        for policy in POLICIES:
            metric = f"test_{policy}_win_rate"
            row[f"first_win_{policy}"] = _first_win(run, metric)
            row[f"best_{policy}"] = float(run[metric].max())
            row[f"final_{policy}"] = float(run[metric].tail(FINAL_EVALUATIONS).mean())
        for step in steps:
            row[f"entropy_{step // 1000}k"] = _entropy_at(run, step)
        rows.append(row)
    return pd.DataFrame(rows)


def method_table(per_run: pd.DataFrame) -> pd.DataFrame:
    """One row per method: each number as "mean [min, max]" over its seeds (first wins: "never" counted apart)."""
    table = []
    for method, group in per_run.groupby("method", sort=False):
        row = {"method": method, "seeds": len(group), "steps": int(group["t_env"].min())}
        for column in per_run.columns.drop(["method", "seed", "t_env", "status"]):
            values = group[column].dropna()
            if column.startswith("first_win"):
                never = len(group) - len(values)
                found = ", ".join(f"{v / 1000:.0f}k" for v in sorted(values))
                row[column] = (found or "—") + (f" (never: {never})" if never else "")
            elif not len(values):
                row[column] = "—"
            elif column == "steps_per_s":
                row[column] = f"{values.mean():.0f} [{values.min():.0f}, {values.max():.0f}]"
            else:
                row[column] = f"{values.mean():.2f} [{values.min():.2f}, {values.max():.2f}]"
        table.append(row)
    return pd.DataFrame(table)


def _final_frame(runs: pd.DataFrame, policy: str) -> pd.DataFrame:
    """``results.final_win_rates``' layout with the study's 4-evaluation final, for ``results.compare``."""
    per_run = []
    for (map_name, method, seed), run in runs.groupby(["map", "method", "seed"]):
        run = run.sort_values("t_env")
        per_run.append({"map": map_name, "method": method, "seed": seed,
                        "final": float(run[f"test_{policy}_win_rate"].tail(FINAL_EVALUATIONS).mean())})
    return pd.DataFrame(per_run)


def verdicts(runs: pd.DataFrame, per_run: pd.DataFrame, paper: str = "NQMIX",
             ablations: tuple[str, ...] = ("NQMIX+ε", "NQMIX+H")) -> pd.DataFrame:
    """The module docstring's rules applied: one row per question, with the numbers that decide it."""
    last = [c for c in per_run.columns if c.startswith("entropy_")][-1]
    entropy = {m: g.sort_values("seed")[last].to_numpy() for m, g in per_run.groupby("method")}
    map_name = runs["map"].iloc[0]
    rows = [{"question": f"{paper} collapses ({last.removeprefix('entropy_')} entropy < {COLLAPSED} on every seed)",
             "answer": "yes" if (entropy[paper] < COLLAPSED).all() else "no",
             "evidence": ", ".join(f"{h:.2f}" for h in entropy[paper])}]
    for ablation in ablations:
        if ablation not in entropy:
            continue
        explores = bool((entropy[ablation] > entropy[paper]).all())
        answer = {}
        for policy in POLICIES:
            c = results.compare(_final_frame(runs, policy), map_name, ablation, paper)
            answer[policy] = ("yes" if explores and c.low > 0 else "no", c.text())
        rows.append({"question": f"{ablation} keeps exploring (entropy above {paper}'s on every seed)",
                     "answer": "yes" if explores else "no",
                     "evidence": ", ".join(f"{h:.2f}" for h in entropy[ablation])})
        rows.append({"question": f"{ablation} fixes {paper} (greedy final win rate)", "answer": answer["greedy"][0],
                     "evidence": answer["greedy"][1]})
        rows.append({"question": f"{ablation} fixes {paper} (stochastic, shown beside)",
                     "answer": answer["stochastic"][0], "evidence": answer["stochastic"][1]})
    for method, group in per_run.groupby("method", sort=False):
        mean = group["final_greedy"].mean()
        rows.append({"question": f"{method} learns (mean greedy final ≥ {results.LEARNED})",
                     "answer": "yes" if mean >= results.LEARNED else "no",
                     "evidence": f"{mean:.2f} (stochastic {group['final_stochastic'].mean():.2f})"})
    return pd.DataFrame(rows)
