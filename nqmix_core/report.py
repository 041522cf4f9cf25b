"""``nqmix plot``: the figures, the tables and the claims table of a sweep, written to files.

    write_report("data/reproduction_cpu", matrix="data/matrix_qtran",
                 continuous="data/continuous_two_peak", readme="README.md")

writes into ``FOLDER/figures/``: figure2.png and figure3.png (win rate against steps, both evaluation
policies, 95% t-interval bands), final_win_rates.csv, cpu_hours.csv, claims.csv and claims.md (the
claims table C1–C8 with its evidence, the final win rates, the CPU time and the runs that stopped
short). With ``readme``, the table also replaces the part of that file between ``README_BEGIN`` and
``README_END``, so the README's results are never typed by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nqmix_core import claims, results
from nqmix_core.errors import UserError
from nqmix_core.experiment_io import make_folder
from nqmix_core.reference import strongest_scripts

README_BEGIN = "<!-- claims table: written by `nqmix plot`, do not edit by hand -->"
README_END = "<!-- end of claims table -->"
FIGURES = (("figure2", ["NQMIX", "QMIX", "COMA"], ["3m", "2s3z", "3s5z"]),
           ("figure3", ["NQMIX", "NQMIX-M", "QMIX"], ["2s3z", "3s5z"]))


def cpu_hours(root: Path) -> pd.DataFrame:
    """CPU-hours per map and method: the wall time every run's manifest records (one core per run)."""
    rows = []
    for path in sorted(root.glob("*/*/seed*/manifest.json")):
        manifest = json.loads(path.read_text())
        seconds = manifest.get("wall_seconds_all_segments", manifest.get("wall_seconds"))
        config = manifest["run_config"]
        rows.append({"map": config["env"].partition(":")[2], "method": results.LABELS.get(config["algo"], config["algo"]),
                     "hours": (seconds or 0) / 3600})
    table = pd.DataFrame(rows, columns=["map", "method", "hours"])
    per_map = table.groupby("map")["hours"].agg(runs="size", hours="sum")
    return per_map.assign(hours=per_map["hours"].round(2)).reset_index()


def _readme_block(table: pd.DataFrame, command: str, claims_md: Path) -> str:
    long = [c for c in table.columns if c.endswith("(long grid)")]
    short = table[["claim", "statement", "verdict", *long, "verdict (stochastic)", "budget", "leans", "data"]]
    return (f"{README_BEGIN}\n\n{results.markdown(short)}\nEvidence for every verdict (the numbers and intervals): "
            f"[{claims_md.as_posix()}]({claims_md.as_posix()}). Regenerate with:\n\n```bash\n{command}\n```\n\n"
            f"{README_END}")


def write_readme(readme: Path, block: str) -> None:
    """Replace the text between the two markers of ``readme`` with ``block`` (markers included)."""
    text = readme.read_text() if readme.exists() else ""
    if README_BEGIN not in text or README_END not in text:
        raise UserError(f"{readme} has no claims-table markers; put the two lines {README_BEGIN!r} and "
                        f"{README_END!r} where the table should go and rerun.")
    before, rest = text.split(README_BEGIN, 1)
    readme.write_text(before + block + rest.split(README_END, 1)[1])


def studies_markdown(root: Path, reward_check: str | Path | None, mechanism: str | Path | None,
                     long: str | Path | None = None) -> str:
    """The reward-scale check (scale-10 runs in ``reward_check`` against their twins in ``root``) and the
    NQMIX mechanism study (``mechanism``, its baseline the scale-10 NQMIX runs; its 1M-step runs against
    ``long``'s), each decided by the rule its module's docstring wrote down before the runs; "" when neither
    folder is given."""
    from nqmix_core import mechanism as study
    from nqmix_core import mechanism_repeat as repeat
    from nqmix_core import reward_check as check

    text = ""
    if reward_check:
        verdict = check.decide(reward_check, root)
        text += (f"\n## Reward scale check (`{Path(reward_check).as_posix()}`; rule: `nqmix_core/reward_check.py`)\n\n"
                 f"{verdict.text()}\n\n" + results.markdown(verdict.table.round(3)))
    if mechanism:
        roots = [*study.study_roots(mechanism), *([reward_check] if reward_check else [])]
        table = study.run_table(study.load_family(roots))
        text += (f"\n## Why NQMIX fails on 2s3z (`{Path(mechanism).as_posix()}`; rules: `nqmix_core/mechanism.py`)\n\n"
                 f"At reward scale {check.CANDIDATE:g}, 300k steps on 2s3z, seeds 0–2; the baseline is the paper's "
                 f"NQMIX at the same settings.\n\n" + results.markdown(study.decisions(table, check.CANDIDATE)))
        second = study.follow_up(table, check.CANDIDATE)
        if len(second):
            text += ("\nThe follow-up (a second look, written after the 3-seed verdicts; `mechanism.follow_up`): "
                     "seeds 0–4 of each variant that led by ≥ 0.2 and of NQMIX.\n\n" + results.markdown(second))
        fresh = study.confirmation(table, check.CANDIDATE)
        if len(fresh):
            text += ("\nThe confirmation (written before its runs; `mechanism.confirmation`): fresh seeds 5–9 of "
                     "each variant whose follow-up beat NQMIX, and of NQMIX, read alone.\n\n" + results.markdown(fresh))
        runs = study.long_runs(mechanism, long) if long else None
        if runs is not None:
            text += (f"\nThe 1M-step grid (written before its runs; `mechanism.long_reading`): the confirmed "
                     f"variant on 2s3z and 3s5z, seeds 0–4, against NQMIX and QMIX of `{Path(long).as_posix()}`."
                     "\n\n" + results.markdown(study.long_reading(runs)))
        again = repeat.repeat_runs(mechanism, long) if long else None
        if again is not None:
            text += ("\nThe 3s5z repeat (written before its runs; `mechanism_repeat.reading`): NQMIX+mono, NQMIX and "
                     "QMIX on fresh seeds 5–9, the record, then seeds 0–9 pooled, a second look.\n\n"
                     + results.markdown(repeat.reading(again)))
    return text


def long_grid(long: Path, out: Path, reference: str | Path | None, scripts: dict) -> tuple[pd.DataFrame, str]:
    """The long grid's claims at each budget (``claims_budgets``), its figure and its claims.md section."""
    from nqmix_core.claims_budgets import BUDGETS, budget_claims, budget_label
    from nqmix_core.plotting import learning_curves

    by_budget = budget_claims(long, reference)
    runs = results.load_runs(long) if any(long.glob("*/*/seed*/progress.csv")) else None
    reached = [b for b in BUDGETS if runs is not None and (~results.at_budget(runs, b)["partial"]).any()]
    if reached:  # the curves of the runs complete at the longest budget any run has reached
        cut = results.at_budget(runs, reached[-1])
        fig = learning_curves(cut, ["2s3z", "3s5z"], ["NQMIX", "QMIX", "COMA"], references=scripts,
                              marks=tuple(b for b in BUDGETS if b < reached[-1]))
        fig.savefig(out / "figure_budgets.png", dpi=120)
    by_budget.to_csv(out / "claims_by_budget.csv", index=False)
    text = (f"\n## The SMAX claims at two budgets (`{long.as_posix()}`; rules: `nqmix_core/claims_budgets.py`)\n\n"
            f"One set of runs read at {' and at '.join(budget_label(b) for b in BUDGETS)} steps"
            + (f" (figure: `figure_budgets.png`, up to {budget_label(reached[-1])})" if reached else "")
            + ".\n\n" + results.markdown(by_budget))
    return by_budget, text


def check_inputs(matrix, reference) -> None:
    """A folder given for C1 or for the reference lines must hold what its command writes: a mistyped path
    would otherwise leave C1 "not measured" or the figures without their reference lines, and say nothing."""
    for folder in [matrix] if isinstance(matrix, (str, Path)) else list(matrix or []):
        if not (Path(folder) / "matrix_runs.csv").is_file():
            raise UserError(f"The matrix-game folder {folder} holds no matrix_runs.csv; give a folder that "
                            f"`nqmix demo --out` wrote (e.g. data/matrix_qtran_converged).")
    if reference and not list(Path(reference).glob("smax-*/reference.csv")):
        raise UserError(f"The reference folder {reference} holds no smax-<map>/reference.csv; give the folder "
                        f"that `nqmix reference --out` wrote (e.g. data/reference).")


def write_report(root: str | Path, out: str | Path | None = None, matrix: str | Path | None = None,
                 continuous: str | Path | None = None, readme: str | Path | None = None,
                 command: str = "nqmix plot", reward_check: str | Path | None = None,
                 mechanism: str | Path | None = None, reference: str | Path | None = None,
                 long: str | Path | None = None) -> list[Path]:
    """Figures, tables and the claims table of the sweep in ``root``; returns the paths written. ``long``: a
    sweep folder of longer runs (``data/long_1m``) whose claims are read at each budget beside the table's."""
    from nqmix_core.plotting import learning_curves
    from nqmix_core.teaching.theory.off_policy import off_policy_claim  # C8, computed exactly (teaching code)

    root = Path(root)
    runs = results.load_runs(root)  # before creating anything: a wrong folder changes nothing
    if readme and not Path(readme).exists():
        raise UserError(f"The README {readme} does not exist; give the file whose claims table to rewrite.")
    check_inputs(matrix, reference)
    out = Path(out) if out else root / "figures"
    make_folder(out)
    written = []
    scripts = strongest_scripts(reference) if reference else {}
    for name, methods, maps in FIGURES:
        fig = learning_curves(runs, maps, methods, references=scripts)
        fig.savefig(out / f"{name}.png", dpi=120)
        written.append(out / f"{name}.png")
    summary = results.summary_by_policy(runs).round(3)
    summary.to_csv(out / "final_win_rates.csv")
    hours = cpu_hours(root)
    hours.to_csv(out / "cpu_hours.csv", index=False)
    try:
        table = claims.claims_table(root, matrix, continuous, reference, off_policy=off_policy_claim())
    except ValueError as error:  # a method with fewer than 2 seeds on a map a claim needs
        raise UserError(f"Figures and final_win_rates.csv are in {out}, but the claims table needs more runs "
                        f"({str(error).rstrip('.')}); sweep the paper's grid first.") from None
    long_text = ""
    if long:
        from nqmix_core.claims_budgets import with_budget_columns

        by_budget, long_text = long_grid(Path(long), out, reference, scripts)
        table = with_budget_columns(table, by_budget)
    table.to_csv(out / "claims.csv", index=False)
    short = results.partial_runs(runs)
    note = ("\nRuns that stopped short, left out of every mean and verdict:\n\n" + results.markdown(short)) if len(short) else ""
    (out / "claims.md").write_text(
        "# Claims table\n\nWritten by `" + command + "`; the rules are in `nqmix_core/claims.py` and "
        "`nqmix_core/results.py`.\n\n" + results.markdown(table) + "\n## Final win rates\n\n"
        + results.markdown(summary.reset_index()) + "\n## CPU time (one core per run)\n\n" + results.markdown(hours) + note
        + long_text + studies_markdown(root, reward_check, mechanism, long))
    written += [out / "final_win_rates.csv", out / "cpu_hours.csv", out / "claims.csv", out / "claims.md"]
    if readme:
        write_readme(Path(readme), _readme_block(table, command, out / "claims.md"))
        written.append(Path(readme))
    return written
