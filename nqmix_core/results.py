"""Read a sweep's folder (``nqmix sweep``) into tables, and decide the paper's claims from them.

    runs = load_runs("data/reproduction")        # one row per (run, evaluation)
    final = final_win_rates(runs)                # one row per run
    claims_table(final)                          # C3, C4, C5: holds / does not hold / inconclusive

Used by notebook 05 and by ``nqmix plot``. Nothing here trains.

**Final win rate** of a run: the mean greedy test win rate over its last ``LAST_EVALUATIONS``
evaluations (2 x 32 episodes), which halves the noise of a single 32-episode evaluation.

**Comparing two methods X and Y** on a map uses the per-seed final win rates: the difference of
means with a 95% Welch t-interval. "X better" when the interval lies above 0, "Y better" when below,
otherwise tied within noise. A tie is *decisive* (X ≈ Y) only when the interval's half-width is
below ``TIE_WIDTH`` and at least one method learned something (mean final ≥ ``LEARNED``); otherwise
the comparison is inconclusive. A claim holds when every comparison it makes holds, does not hold
when one of them fails, and is inconclusive otherwise.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

LAST_EVALUATIONS = 2
TIE_WIDTH = 0.10
LEARNED = 0.05
LABELS = {"nqmix": "NQMIX", "nqmix-m": "NQMIX-M", "qmix": "QMIX", "coma": "COMA", "vdn": "VDN",
          "nqmix-eps": "NQMIX+ε", "nqmix-ent": "NQMIX+H", "nqmix-tau-batch": "NQMIX (τ per batch)"}


def load_runs(root: str | Path) -> pd.DataFrame:
    """Every evaluation row of every run under ``root/<env>/<algo>/seed<k>/``, with its run's labels.

    Adds ``map`` (e.g. "3m"), ``method`` (e.g. "NQMIX"), ``seed``, ``t_max``, ``status`` and
    ``t_eval``: the multiple of the test interval the evaluation belongs to, so that seeds line up.
    """
    frames = []
    for manifest_path in sorted(Path(root).glob("*/*/seed*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        progress = manifest_path.parent / "progress.csv"
        if not progress.exists():
            continue
        frame = pd.read_csv(progress)
        config = manifest["run_config"]
        interval = config["test_interval"]
        frame["t_eval"] = (frame["t_env"] // interval) * interval
        frame = frame.assign(env=config["env"], map=config["env"].partition(":")[2], algo=config["algo"],
                             method=LABELS.get(config["algo"], config["algo"]), seed=config["seed"],
                             t_max=config["t_max"], status=manifest.get("status"))
        frames.append(frame)
    if not frames:
        raise FileNotFoundError(f"No runs (manifest.json + progress.csv) under {root}; run `nqmix sweep` first.")
    return pd.concat(frames, ignore_index=True)


def final_win_rates(runs: pd.DataFrame, metric: str = "test_greedy_win_rate") -> pd.DataFrame:
    """One row per run: map, method, seed, steps reached and the mean ``metric`` of its last evaluations."""
    rows = []
    for (map_name, method, seed), run in runs.groupby(["map", "method", "seed"]):
        run = run.sort_values("t_env")
        rows.append({"map": map_name, "method": method, "seed": seed, "t_env": int(run["t_env"].iloc[-1]),
                     "final": float(run[metric].tail(LAST_EVALUATIONS).mean()), "status": run["status"].iloc[-1]})
    return pd.DataFrame(rows)


def summary_table(final: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of the final win rates over seeds, one row per (map, method)."""
    grouped = final.groupby(["map", "method"])["final"]
    return pd.DataFrame({"seeds": grouped.size(), "mean": grouped.mean(), "min": grouped.min(),
                         "max": grouped.max(), "steps": final.groupby(["map", "method"])["t_env"].min()})


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

    @property
    def difference(self) -> float:
        return self.mean_x - self.mean_y

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


def compare(final: pd.DataFrame, map_name: str, x: str, y: str) -> Comparison:
    """Welch 95% interval of mean(X) − mean(Y) over seeds (a zero-width one if neither varies)."""
    a = final[(final["map"] == map_name) & (final["method"] == x)]["final"].to_numpy()
    b = final[(final["map"] == map_name) & (final["method"] == y)]["final"].to_numpy()
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"{map_name}: {x} has {len(a)} and {y} has {len(b)} runs; comparing needs 2 seeds each.")
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff, spread = a.mean() - b.mean(), math.sqrt(var_a + var_b)
    if spread == 0:
        return Comparison(map_name, x, y, a.mean(), b.mean(), diff, diff)
    dof = (var_a + var_b) ** 2 / (var_a ** 2 / (len(a) - 1) + var_b ** 2 / (len(b) - 1))
    half = stats.t.ppf(0.975, dof) * spread
    return Comparison(map_name, x, y, float(a.mean()), float(b.mean()), diff - half, diff + half)


def _at_least(c: Comparison) -> str:  # X ≥ Y
    return {"X better": "holds", "tied": "holds", "Y better": "does not hold"}.get(c.outcome, "inconclusive")


def _greater(c: Comparison) -> str:  # X > Y
    return {"X better": "holds", "tied": "does not hold", "Y better": "does not hold"}.get(c.outcome, "inconclusive")


def _combine(verdicts: list[str]) -> str:
    if "does not hold" in verdicts:
        return "does not hold"
    return "holds" if all(v == "holds" for v in verdicts) else "inconclusive"


def claims_table(final: pd.DataFrame, simple: str = "3m", heterogeneous: tuple[str, ...] = ("2s3z", "3s5z"),
                 ablation: tuple[str, ...] = ("2s3z", "3s5z")) -> pd.DataFrame:
    """The paper's claims C3–C5 (Sec. 5.1–5.2), each decided from ``final`` with the numbers that decide it."""
    rows = []
    checks = [(m, [(_at_least, compare(final, m, "NQMIX", "QMIX")), (_greater, compare(final, m, "QMIX", "COMA"))])
              for m in heterogeneous]
    rows.append(("C3", "on heterogeneous maps NQMIX ≥ QMIX > COMA", [p for _, ps in checks for p in ps]))
    nq_q, nq_c = compare(final, simple, "NQMIX", "QMIX"), compare(final, simple, "NQMIX", "COMA")
    # "between": NQMIX ≥ the lower of QMIX and COMA and ≤ the higher one, whichever that is
    low_side, high_side = (nq_c, nq_q) if nq_q.mean_y >= nq_c.mean_y else (nq_q, nq_c)
    flipped = Comparison(high_side.map, high_side.y, high_side.x, high_side.mean_y, high_side.mean_x,
                         -high_side.high, -high_side.low)
    rows.append(("C4", f"on the simple map ({simple}) NQMIX lies between QMIX and COMA",
                 [(_at_least, low_side), (_at_least, flipped)]))
    rows.append(("C5", "the ablation NQMIX-M does no better than NQMIX",
                 [(_at_least, compare(final, m, "NQMIX", "NQMIX-M")) for m in ablation]))
    table = []
    for name, claim, parts in rows:
        verdicts = [rule(c) for rule, c in parts]
        table.append({"claim": name, "statement": claim, "verdict": _combine(verdicts),
                      "evidence": "; ".join(f"{c.text()} → {v}" for (_, c), v in zip(parts, verdicts))})
    return pd.DataFrame(table)


LOOP_SETTINGS = ("n_envs", "updates_per_episode", "overlap_collection")
"""RunConfig fields that change how a run learns (the others change logging, length or device)."""


def changed_settings(manifest: dict) -> str:
    """The settings a run changed from its algorithm's preset and from the training loop's defaults,
    e.g. "batch_size=8, tau=0.005" (empty for a run with the paper's settings)."""
    from nqmix_core.config import RunConfig, algo_config

    config, defaults = manifest["run_config"], asdict(RunConfig())
    preset = asdict(algo_config(config["algo"]))
    changed = [f"{k}={v}" for k, v in manifest["algo_config"].items() if preset.get(k) != v]
    changed += [f"{k}={config[k]}" for k in LOOP_SETTINGS if config.get(k, defaults[k]) != defaults[k]]
    return ", ".join(changed)


def time_to_win_rate(folders: list[str | Path], threshold: float = 0.8,
                     metric: str = "test_greedy_win_rate") -> pd.DataFrame:
    """How fast each run got there: one row per run folder (``nqmix train``'s output).

    Columns: method, seed, what it changed from the preset (``changed_settings``), steps and updates
    made, the first evaluation with ``metric`` ≥ ``threshold`` (its step and its wall-clock seconds
    since the command started, from ``timing.csv``; NaN if never), the best value, the mean of the
    last ``LAST_EVALUATIONS`` values and the run's whole wall time.
    """
    rows = []
    for folder in map(Path, folders):
        manifest = json.loads((folder / "manifest.json").read_text())
        progress = pd.read_csv(folder / "progress.csv").merge(pd.read_csv(folder / "timing.csv"), on="t_env")
        reached = progress[progress[metric] >= threshold]
        config = manifest["run_config"]
        rows.append({"method": LABELS.get(config["algo"], config["algo"]), "seed": config["seed"],
                     "changed": changed_settings(manifest) or "(paper)", "t_env": int(progress["t_env"].iloc[-1]),
                     "updates": int(progress["updates"].iloc[-1]),
                     "first_t_env": int(reached["t_env"].iloc[0]) if len(reached) else math.nan,
                     "first_seconds": float(reached["wall_seconds"].iloc[0]) if len(reached) else math.nan,
                     "best": float(progress[metric].max()),
                     "final": float(progress[metric].tail(LAST_EVALUATIONS).mean()),
                     "wall_seconds": float(progress["wall_seconds"].iloc[-1])})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (pandas' own needs the optional tabulate package)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_report(root: str | Path, out: str | Path | None = None) -> list[Path]:
    """``nqmix plot``: Figure 2 and 3 equivalents (PNG), the final table and the claims (CSV, Markdown)."""
    from nqmix_core.plotting import learning_curves

    root = Path(root)
    out = Path(out) if out else root / "figures"
    out.mkdir(parents=True, exist_ok=True)
    runs = load_runs(root)
    final = final_win_rates(runs)
    written = []
    for name, methods, maps in (("figure2", ["NQMIX", "QMIX", "COMA"], ["3m", "2s3z", "3s5z"]),
                                ("figure3", ["NQMIX", "NQMIX-M", "QMIX"], ["2s3z", "3s5z"])):
        fig = learning_curves(runs, maps, methods)
        fig.savefig(out / f"{name}.png", dpi=120)
        written.append(out / f"{name}.png")
    summary = summary_table(final).round(3)
    summary.to_csv(out / "final_win_rates.csv")
    claims = claims_table(final)
    claims.to_csv(out / "claims.csv", index=False)
    (out / "claims.md").write_text(markdown(claims) + "\n" + markdown(summary.reset_index()))
    return written + [out / "final_win_rates.csv", out / "claims.csv", out / "claims.md"]
