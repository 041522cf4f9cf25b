"""Read a sweep's folder (``nqmix sweep``) into tables, and compare two methods on them.

    runs = load_runs("data/reproduction_cpu")    # one row per (run, evaluation)
    final = final_win_rates(runs)                # one row per run
    compare(final, "2s3z", "NQMIX", "QMIX")      # difference of means with its 95% interval

``nqmix_core.claims`` turns these comparisons into the verdicts of the claims table; notebook 05 and
``nqmix plot`` (``nqmix_core.report``) use both. Nothing here trains.

**Final win rate** of a run: the mean test win rate over its last ``LAST_EVALUATIONS``
evaluations (2 x 32 episodes), which halves the noise of a single 32-episode evaluation.

**Both evaluation policies** (the paper evaluates "with learned parameterized policy or greedy
policy") are read everywhere: ``POLICIES``. The claims are *decided* on the greedy policy (argmax π for
the actor-critic methods, argmax Q for QMIX; pymarl's ``test_greedy``), fixed before any data were
read; ``claims.smac_by_policy`` shows the verdict the stochastic policy would give beside it, so a claim
that rests on the choice of policy is visible.

**Comparing two methods X and Y** on a map uses the per-seed final win rates: the difference of
means with a 95% Welch t-interval. "X better" when the interval lies above 0, "Y better" when below.
X and Y are *equivalent* by two one-sided tests (``Comparison.equivalent``): the 90% interval lies
inside ±``EQUIVALENCE_MARGIN`` and one of them learned something (mean final ≥ ``LEARNED``). How a
claim turns these into a verdict is ``nqmix_core.claims_rules``.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

from nqmix_core.errors import UserError

LAST_EVALUATIONS, TIE_WIDTH, LEARNED, EQUIVALENCE_MARGIN = 2, 0.10, 0.05, 0.10
LABELS = {"nqmix": "NQMIX", "nqmix-m": "NQMIX-M", "qmix": "QMIX", "coma": "COMA", "vdn": "VDN", "iql": "IQL",
          "ippo": "IPPO",
          "nqmix-eps": "NQMIX+ε", "nqmix-ent": "NQMIX+H", "nqmix-tau-batch": "NQMIX (τ per batch)",
          "nqmix-mono": "NQMIX+mono", "nqmix-sign-init": "NQMIX+sign-init", "nqmix-slow-actor": "NQMIX+slow-actor",
          "nqmix-actor-delay": "NQMIX+actor-delay", "nqmix-mixer-actor": "NQMIX+mixer-actor",
          "nqmix-steps4": "NQMIX+4-steps", "nqmix-b32": "NQMIX (batch 32)",
          "nqmix-cont": "NQMIX-cont", "qmix-cont": "QMIX-cont", "iddpg": "IDDPG"}


POLICIES = {"greedy": "test_greedy_win_rate", "stochastic": "test_stochastic_win_rate"}
"""Evaluation policy -> its win-rate column; the first one decides the claims."""

RUN_FIELDS = {"env": str, "algo": str, "seed": int, "t_max": int, "test_interval": int}
"""What ``load_runs`` reads from a manifest's ``run_config``, with its type."""
PROGRESS_COLUMNS = ("t_env", "test_greedy_win_rate", "test_stochastic_win_rate")


def _read_manifest(path: Path) -> dict:
    """A run's manifest.json; a one-sentence UserError if it is not JSON or lacks a field we read."""
    advice = f"rerun that run with `nqmix train` or move {path.parent} out of the sweep's folder"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"The manifest {path} could not be read ({str(error).splitlines()[0][:120]}); "
                        f"{advice}.") from None
    config = manifest.get("run_config") if isinstance(manifest, dict) else None
    config = config if isinstance(config, dict) else {}
    bad = [k for k, kind in RUN_FIELDS.items() if not isinstance(config.get(k), kind)]
    if bad or config["test_interval"] < 1:
        raise UserError(f"The manifest {path} lacks a valid run_config {', '.join(bad or ['test_interval'])} "
                        f"(was it written by hand or by an older version?); {advice}.")
    return manifest


def _read_progress(path: Path) -> pd.DataFrame:
    """A run's progress.csv; a one-sentence UserError if it is unreadable or lacks a column we plot."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:  # pandas' EmptyDataError and ParserError are ValueErrors
        raise UserError(f"The log {path} could not be read ({str(error).splitlines()[0][:120]}); rerun that "
                        f"run with `nqmix train` or move {path.parent} out of the sweep's folder.") from None
    missing = [c for c in PROGRESS_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"The log {path} lacks the column(s) {', '.join(missing)}; rerun that run with "
                        f"`nqmix train` or move {path.parent} out of the sweep's folder.")
    return _readable_rows(frame, path)


class DataWarning(UserWarning):
    """Rows of a run's log that could not be used as they are; ``nqmix`` prints it as one line."""


def _readable_rows(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Rows whose step is a whole number ≥ 0 and whose win rates are numbers or empty (NaN); the others are
    skipped with one warning naming the file. NaN win rates are kept, and counted in a second warning."""
    numbers, rates = frame[list(PROGRESS_COLUMNS)].apply(pd.to_numeric, errors="coerce"), list(PROGRESS_COLUMNS[1:])
    step, text_rates = numbers["t_env"], (numbers[rates].isna() & frame[rates].notna()).any(axis=1)
    good = step.notna() & (step >= 0) & (step == step.round()) & ~text_rates
    if not good.all():
        warnings.warn(f"{path}: {int((~good).sum())} of {len(frame)} rows are malformed (a step that is not a whole "
                      f"number, or text where a win rate belongs) and were skipped.", DataWarning, stacklevel=2)
    frame = frame[good].copy()
    frame[list(PROGRESS_COLUMNS)] = numbers[good]
    frame["t_env"] = frame["t_env"].astype("int64")
    nan_rows = int(frame[rates].isna().any(axis=1).sum())
    if nan_rows:
        warnings.warn(f"{path}: {nan_rows} evaluations have no win rate (NaN); a run whose final evaluations "
                      f"include one has no final win rate, and is counted apart.", DataWarning, stacklevel=2)
    return frame


def _check_root(root: Path) -> None:
    if not root.exists():
        raise UserError(f"The folder {root} does not exist; give the folder that `nqmix sweep --out` wrote.")
    if not root.is_dir():
        raise UserError(f"{root} is a file, not a folder; give the folder that `nqmix sweep --out` wrote.")


def load_runs(root: str | Path) -> pd.DataFrame:
    """Every evaluation row of every run under ``root/<env>/<algo>/seed<k>/``, with its run's labels.

    Adds ``map`` (e.g. "3m"), ``method`` (e.g. "NQMIX"), ``seed``, ``t_max``, ``status``, ``t_eval``
    (the multiple of the test interval the evaluation belongs to, so that seeds line up) and ``partial``:
    True for every row of a run that stopped short (its manifest does not say "finished", or its last
    evaluation is below its ``t_max``). ``final_win_rates`` leaves partial runs out of every mean.
    A missing folder, a folder without runs, or a run whose manifest or log cannot be read is a
    one-sentence ``UserError``.
    """
    root = Path(root)
    _check_root(root)
    frames = []
    for manifest_path in sorted(root.glob("*/*/seed*/manifest.json")):
        progress = manifest_path.parent / "progress.csv"
        if not progress.exists():
            continue
        manifest = _read_manifest(manifest_path)
        frame = _read_progress(progress)
        config = manifest["run_config"]
        interval = config["test_interval"]
        frame["t_eval"] = (frame["t_env"] // interval) * interval
        frame = frame.assign(env=config["env"], map=config["env"].partition(":")[2], algo=config["algo"],
                             method=LABELS.get(config["algo"], config["algo"]), seed=config["seed"],
                             t_max=config["t_max"], status=manifest.get("status"),
                             reward_scale=float(config.get("reward_scale", 1.0)))  # older manifests: 1
        # a finished run is complete even when its budget ended between two evaluations
        reached = manifest.get("t_env")
        if not isinstance(reached, int) or isinstance(reached, bool):  # a hand-made manifest: its last evaluation
            reached = int(frame["t_env"].max()) if len(frame) else 0
        frame["partial"] = manifest.get("status") != "finished" or reached < config["t_max"]
        frames.append(frame)
    if not frames:
        raise UserError(f"No runs under {root} (none of its <env>/<algo>/seed<k>/ folders holds manifest.json "
                        f"and progress.csv); give the folder that `nqmix sweep --out` wrote.")
    return pd.concat(frames, ignore_index=True)


def complete(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that reached their budget (``load_runs``' ``partial`` is False)."""
    return runs[~runs["partial"]] if "partial" in runs else runs


def at_budget(runs: pd.DataFrame, steps: int) -> pd.DataFrame:
    """The runs as if each had been given a budget of ``steps``: the evaluations up to it (by ``t_eval``, so the
    one that crosses ``steps`` is the last, as in a run with ``t_max = steps``), complete when the run got there.
    So a 1M-step run also gives its 300k verdicts, from the same seeds."""
    reached = runs.groupby(["map", "method", "seed"])["t_eval"].transform("max") >= steps
    cut = runs.assign(partial=~reached)
    cut = cut[cut["t_eval"] <= steps].copy()
    cut["t_max"] = steps
    cut.loc[~cut["partial"], "status"] = "finished"
    return cut


def partial_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run that stopped short: map, method, seed, steps reached, budget, status."""
    if "partial" not in runs:
        return pd.DataFrame(columns=["map", "method", "seed", "t_env", "t_max", "status"])
    short = runs[runs["partial"]].groupby(["map", "method", "seed"])
    return short.agg(t_env=("t_env", "max"), t_max=("t_max", "first"), status=("status", "first")).reset_index()


def final_win_rates(runs: pd.DataFrame, metric: str = "test_greedy_win_rate") -> pd.DataFrame:
    """One row per complete run: map, method, seed, steps reached and the mean ``metric`` of its last
    evaluations. Runs that stopped short are left out (``partial_runs`` lists them)."""
    rows = []
    for (map_name, method, seed), run in complete(runs).groupby(["map", "method", "seed"]):
        run = run.sort_values("t_env")
        last = run[metric].tail(LAST_EVALUATIONS)  # a NaN among them makes the final NaN: reported, not skipped
        rows.append({"map": map_name, "method": method, "seed": seed, "t_env": int(run["t_env"].iloc[-1]),
                     "final": float(last.mean(skipna=False)), "status": run["status"].iloc[-1]})
    return pd.DataFrame(rows, columns=["map", "method", "seed", "t_env", "final", "status"])


def summary_table(final: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of the final win rates over seeds, one row per (map, method)."""
    grouped = final.groupby(["map", "method"])["final"]
    table = pd.DataFrame({"seeds": grouped.count(), "mean": grouped.mean(), "min": grouped.min(),
                          "max": grouped.max(), "steps": final.groupby(["map", "method"])["t_env"].min()})
    if final["final"].isna().any():  # runs whose last evaluations hold a NaN win rate: counted, not hidden
        table.insert(1, "no final (NaN)", grouped.size() - grouped.count())
    return table


@dataclass(frozen=True)
class Comparison:
    """Difference of mean final win rates X − Y on one map, with its 95% interval."""

    map: str
    x: str
    y: str
    mean_x: float
    mean_y: float
    low: float
    high: float
    low90: float = math.nan
    high90: float = math.nan
    """The 90% interval, for the equivalence test (``equivalent``); NaN when not computed."""

    @property
    def difference(self) -> float:
        return self.mean_x - self.mean_y

    def equivalent(self, margin: float = EQUIVALENCE_MARGIN) -> bool:
        """Two one-sided tests at 5% each: X and Y are equivalent when the 90% interval lies inside ±margin
        and one of them learned something (max mean ≥ ``LEARNED``: two methods at 0% say nothing)."""
        return -margin < self.low90 and self.high90 < margin and max(self.mean_x, self.mean_y) >= LEARNED

    def flipped(self) -> "Comparison":
        """The same comparison read as Y − X."""
        return Comparison(self.map, self.y, self.x, self.mean_y, self.mean_x, -self.high, -self.low,
                          -self.high90, -self.low90)

    @property
    def outcome(self) -> str:
        """"X better", "Y better", "tied" (decisively equal) or "unclear"."""
        if self.low > 0:
            return "X better"
        if self.high < 0:
            return "Y better"
        learned = max(self.mean_x, self.mean_y) >= LEARNED
        return "tied" if learned and (self.high - self.low) / 2 < TIE_WIDTH else "unclear"

    def text(self) -> str:
        return (f"{self.map}: {self.x} {self.mean_x:.2f} vs {self.y} {self.mean_y:.2f}, "
                f"difference {self.difference:+.2f} [{self.low:+.2f}, {self.high:+.2f}]")


def mean_interval(values) -> tuple[float, float]:
    """95% t-interval of the mean of ``values`` (a point when fewer than 2 or none vary; NaN when empty)."""
    values = pd.Series(values, dtype=float).dropna()
    if len(values) < 2 or values.std(ddof=1) == 0:
        mean = float(values.mean()) if len(values) else math.nan
        return mean, mean
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def compare(final: pd.DataFrame, map_name: str, x: str, y: str) -> Comparison:
    """Welch 95% interval of mean(X) − mean(Y) over seeds (a zero-width one if neither varies)."""
    a = final[(final["map"] == map_name) & (final["method"] == x)]["final"].dropna().to_numpy()  # NaN: counted in
    b = final[(final["map"] == map_name) & (final["method"] == y)]["final"].dropna().to_numpy()  # summary_table
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"{map_name}: {x} has {len(a)} and {y} has {len(b)} runs; comparing needs 2 seeds each.")
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff, spread = a.mean() - b.mean(), math.sqrt(var_a + var_b)
    if spread == 0:
        return Comparison(map_name, x, y, a.mean(), b.mean(), diff, diff, diff, diff)
    dof = (var_a + var_b) ** 2 / (var_a ** 2 / (len(a) - 1) + var_b ** 2 / (len(b) - 1))
    half, half90 = stats.t.ppf(0.975, dof) * spread, stats.t.ppf(0.95, dof) * spread
    return Comparison(map_name, x, y, float(a.mean()), float(b.mean()), diff - half, diff + half,
                      diff - half90, diff + half90)


def summary_by_policy(runs: pd.DataFrame) -> pd.DataFrame:
    """``summary_table`` of the final win rates under each evaluation policy, one column block per policy."""
    blocks = {policy: summary_table(final_win_rates(runs, metric)) for policy, metric in POLICIES.items()}
    steps = blocks["greedy"]["steps"]
    table = pd.concat({policy: block.drop(columns="steps") for policy, block in blocks.items()}, axis=1)
    table.columns = [f"{stat} ({policy})" if stat != "seeds" else f"seeds ({policy})" for policy, stat in table.columns]
    table = table.drop(columns="seeds (stochastic)").rename(columns={"seeds (greedy)": "seeds"})
    return table.assign(steps=steps)


def markdown(table: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (pandas' own needs the optional tabulate package)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"
